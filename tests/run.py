#!/usr/bin/env python3
"""Run every test: host unit tests (cmocka), fuzz targets and QEMU system tests.

Prints one line per test and ends with `N passed, N failed`; exits non-zero
on any failure. `--only SUBSTR` runs the tests whose names contain SUBSTR.
"""
import argparse
import concurrent.futures
import glob
import importlib.util
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "system"))

import harness  # noqa: E402

_spec = importlib.util.spec_from_file_location("fuzzrun", os.path.join(ROOT, "tests/fuzz/run.py"))
fuzzrun = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzzrun)

PASSED = re.compile(r"\[  PASSED  \] (\d+) test")
FAILED = re.compile(r"\[  FAILED  \] (\d+) test")


def run_unit(binary):
    """Run one cmocka binary; returns (passed, failed, output)."""
    try:
        p = subprocess.run([binary], cwd=ROOT, capture_output=True, text=True,
                           timeout=300)
        out = p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        return 0, 1, f"timed out\n{e.stdout or ''}"
    passed = sum(int(m) for m in PASSED.findall(out))
    failed = sum(int(m) for m in FAILED.findall(out))
    if p.returncode != 0 and failed == 0:
        failed = 1  # crashed or sanitizer abort before cmocka's summary
    return passed, failed, out


def load_system_tests():
    tests = []
    for path in sorted(glob.glob(os.path.join(ROOT, "tests/system/test_*.py"))):
        name = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        for attr in sorted(dir(mod)):
            fn = getattr(mod, attr)
            if attr.startswith("test_") and callable(fn):
                tests.append((f"{name[5:]}.{attr[5:]}", fn))
    return tests


def run_system(name, fn):
    start = time.monotonic()
    try:
        result = fn()
        if isinstance(result, harness.Skip):
            return "SKIP", str(result), time.monotonic() - start
        return "PASS", "", time.monotonic() - start
    except harness.Skip as e:
        return "SKIP", str(e), time.monotonic() - start
    except AssertionError as e:
        return "FAIL", str(e) or "assertion failed", time.monotonic() - start
    except Exception as e:  # a broken test is a failed test
        return "FAIL", f"{type(e).__name__}: {e}", time.monotonic() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()

    passed = failed = skipped = 0
    for binary in sorted(glob.glob(os.path.join(ROOT, "build/tests/test_*"))):
        name = "unit." + os.path.basename(binary)[5:]
        if args.only not in name or not os.access(binary, os.X_OK):
            continue
        p, f, out = run_unit(binary)
        passed += p
        failed += f
        print(f"{'PASS' if f == 0 else 'FAIL'} {name} ({p} passed, {f} failed)")
        if f:
            print("    " + out.strip().replace("\n", "\n    "))
        sys.stdout.flush()

    # Fuzz targets: the corpus plus a few seconds of fuzzing each (tests/fuzz/run.py).
    fuzz = [n for n in fuzzrun.targets() if args.only in "fuzz." + n]
    tests = [(n, fn) for n, fn in load_system_tests() if args.only in "system." + n]
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        fuzz_futures = [(n, pool.submit(fuzzrun.check_target, n)) for n in fuzz]
        futures = [(n, pool.submit(run_system, n, fn)) for n, fn in tests]
        for name, fut in fuzz_futures:
            ok, summary, excerpt = fut.result()
            print(f"{'PASS' if ok else 'FAIL'} fuzz.{name} ({summary})")
            if ok:
                passed += 1
            else:
                failed += 1
                print("    " + excerpt.replace("\n", "\n    "))
            sys.stdout.flush()
        for name, fut in futures:
            verdict, why, secs = fut.result()
            print(f"{verdict} system.{name} ({secs:.1f}s){': ' + why if why else ''}")
            sys.stdout.flush()
            if verdict == "PASS":
                passed += 1
            elif verdict == "SKIP":
                skipped += 1
            else:
                failed += 1

    tail = f", {skipped} skipped" if skipped else ""
    print(f"{passed} passed, {failed} failed{tail}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
