#!/usr/bin/env python3
"""Run the libFuzzer targets (build/fuzz/fuzz_*): `make fuzz` and `make check`.

A target starts from its committed seed corpus, tests/fuzz/corpus/<name>/,
plus any directories its source names on a `/* fuzz-seeds: DIR ... */` line.
`make fuzz` (this file's main) fuzzes each for --seconds, keeping what it
learns in build/fuzz/work/<name>/; `make check` (tests/run.py, check_target)
replays the corpus and fuzzes a few seconds more in a scratch directory. A
crash is saved in build/fuzz/crashes/<name>/ and fails the run.
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC = os.path.join(ROOT, "tests", "fuzz")
BUILD = os.path.join(ROOT, "build", "fuzz")
CHECK_SECONDS = float(os.environ.get("FUZZ_CHECK_S", "2"))

DONE = re.compile(r"Done (\d+) runs in (\d+) second")
INITED = re.compile(r"INITED cov: (\d+) ft: \d+ corp: (\d+)/")
SEEDS_LINE = re.compile(r"^/\* fuzz-seeds: (.*) \*/$", re.M)


def targets(only=""):
    """Names of the built targets (fuzz_elf -> elf) whose names contain only."""
    names = []
    for path in sorted(glob.glob(os.path.join(BUILD, "fuzz_*"))):
        name = os.path.basename(path)[len("fuzz_"):]
        if os.access(path, os.X_OK) and only in name and os.path.isfile(path):
            names.append(name)
    return names


def seed_dirs(name):
    """The committed corpus and the extra seed directories the source names."""
    dirs = [os.path.join(SRC, "corpus", name)]
    src = os.path.join(SRC, f"fuzz_{name}.c")
    with open(src) as f:
        m = SEEDS_LINE.search(f.read())
    if m:
        dirs += [os.path.join(ROOT, d) for d in m.group(1).split()]
    return [d for d in dirs if os.path.isdir(d)]


def corpus_size(name):
    return sum(len(os.listdir(d)) for d in seed_dirs(name))


def run_target(name, seconds, workdir, extra=()):
    """Fuzz one target; returns (ok, runs, output)."""
    crashes = os.path.join(BUILD, "crashes", name)
    os.makedirs(crashes, exist_ok=True)
    os.makedirs(workdir, exist_ok=True)
    args = [os.path.join(BUILD, f"fuzz_{name}"), f"-max_total_time={int(seconds)}",
            "-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1",
            f"-artifact_prefix={crashes}/", *extra, workdir, *seed_dirs(name)]
    try:
        p = subprocess.run(args, cwd=ROOT, capture_output=True, text=True,
                           timeout=seconds + 120)
        out = p.stdout + p.stderr
        ok = p.returncode == 0
    except subprocess.TimeoutExpired as e:
        out = f"timed out\n{e.stdout or ''}{e.stderr or ''}"
        ok = False
    m = DONE.search(out)
    return ok, int(m.group(1)) if m else 0, out


def failure_excerpt(out):
    """The sanitizer or invariant report and where the input was saved."""
    lines = out.splitlines()
    keep = [i for i, l in enumerate(lines)
            if "ERROR:" in l or "invariant failed" in l or "runtime error" in l]
    start = max(0, keep[0] - 2) if keep else max(0, len(lines) - 30)
    tail = lines[start:start + 40]
    saved = [l for l in lines if "Test unit written to" in l or "Base64:" in l]
    return "\n".join(tail + [l for l in saved if l not in tail])


def check_target(name, seconds=CHECK_SECONDS):
    """make check: the corpus, then `seconds` of fuzzing; (ok, summary, output)."""
    os.makedirs(BUILD, exist_ok=True)
    work = tempfile.mkdtemp(prefix=f"check-{name}-", dir=BUILD)
    try:
        start = time.monotonic()
        ok, runs, out = run_target(name, seconds, work)
        secs = time.monotonic() - start
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = f"{corpus_size(name)} seeds, {runs} runs, {secs:.1f}s"
    return ok, summary, "" if ok else failure_excerpt(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=60, help="per target")
    ap.add_argument("--only", default="", help="targets whose names contain this")
    args, extra = ap.parse_known_args()
    names = targets(args.only)
    if not names:
        print("fuzz: no targets built (make fuzz-targets)")
        return 1
    failed = []
    for name in names:
        work = os.path.join(BUILD, "work", name)
        start = time.monotonic()
        ok, runs, out = run_target(name, args.seconds, work, extra)
        m = INITED.search(out)
        cov = f", coverage {m.group(1)} at start" if m else ""
        print(f"{'PASS' if ok else 'FAIL'} fuzz.{name} ({runs} runs in "
              f"{time.monotonic() - start:.0f}s, {len(os.listdir(work))} inputs in "
              f"build/fuzz/work/{name}{cov})")
        if not ok:
            failed.append(name)
            print("    " + failure_excerpt(out).replace("\n", "\n    "))
        sys.stdout.flush()
    if failed:
        print(f"crashes are in build/fuzz/crashes/; minimise one with "
              f"build/fuzz/fuzz_NAME -minimize_crash=1 -runs=10000 FILE, add it to "
              f"tests/fuzz/corpus/NAME/ and fix the code")
    print(f"{len(names) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
