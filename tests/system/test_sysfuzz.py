"""The system-call fuzzer (usr/tests/sysfuzz) beside an honest process on the
same core: the kernel never crashes, the honest process finishes its work
unharmed, every result follows the ABI, and after both exit every page is back.

The seeds are fixed so that a failure reproduces: `sysfuzz --seed S` replays
the same calls, and `--trace FROM` prints each one from call FROM on. For a
longer hunt: `python3 tests/system/test_sysfuzz.py 1-200 [CALLS] [FLAGS]`.

Calls are also made with user-settable RFLAGS bits set (--flags): NT among
them used to freeze the CPU (SYSCALL kept it and the return IRETQ faulted in
ring 0); test_rflags_nt keeps that fixed.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import EXIT_PASS, ROOT, boot, iso  # noqa: E402

PAGE = 4096
POOL_BYTES = 2 << 20  # a queue pair's DMA pool (drivers/virtio/virtio_net.c)
CALLS = 25000
ALL_FLAGS = 0x244ED5  # AC ID NT OF DF SF ZF AF PF CF (sysfuzz.c USER_FLAGS)
NT = 0x4000


def _prog(name):
    return os.path.join(ROOT, "usr/tests", name, "build", name + ".elf")


def _fuzz(seed, calls=CALLS, flags=None, net=True):
    argv = f"mem=16M {'net=eth0:0 ' if net else ''}sysfuzz --seed {seed} --calls {calls} --quiet"
    return (_prog("sysfuzz"), argv + (f" --flags {flags:#x}" if flags is not None else ""))


def check_run(name, fuzzers, timeout=120):
    """Boot the fuzzers beside memtest on one CPU with a NIC; check everything."""
    mods = list(fuzzers) + [(_prog("memtest"), "memtest")]
    # A port of its own: tests run side by side and QEMU forwards one.
    b = boot(iso("", mods), name, cpus=1, net="user", timeout=timeout)
    log = b.log
    assert "KERNEL PANIC" not in log and "system halted" not in log, \
        f"the kernel crashed; log {b.logfile}"
    assert " killed" not in log, f"a process was killed; log {b.logfile}"
    bad = [l for l in log.splitlines() if "UNEXPECTED" in l]
    assert not bad, "results outside the ABI:\n" + "\n".join(bad[:10])
    for path, argv in fuzzers:
        calls = re.search(r"--calls (\d+)", argv).group(1)
        seed = re.search(r"--seed (\S+)", argv).group(1)
        assert re.search(rf"sysfuzz: seed {int(seed, 0):#x}, {calls} calls", log), \
            f"sysfuzz --seed {seed} did not start; log {b.logfile}"
    done = re.findall(r"sysfuzz: done, (\d+) calls, (\d+) unexpected", log)
    assert len(done) == len(fuzzers), f"a fuzzer did not finish; log {b.logfile}"
    b.expect("memtest: PASS")
    b.expect_status(EXIT_PASS)

    # The queue pair's DMA pool stays with the driver for the next owner.
    # The kernel's own line says whether anyone attached (the fuzzer prints
    # its line only when the layout landed somewhere it can read).
    pools = {int(n) for n in re.findall(r"attached queue pair \d+: pool 0x[0-9a-f]+ \((\d+) bytes", log)}
    if re.search(r"\(sysfuzz\) attached eth0 queue pair", log):
        pools.add(POOL_BYTES)
    m = re.search(r"pages free: (\d+) before the first process, (\d+) now", log)
    assert m, f"no page accounting in the summary; log {b.logfile}"
    lost = int(m.group(1)) - int(m.group(2))
    allowed = {0} | {n // PAGE for n in pools}
    assert lost in allowed, (f"{lost} pages not given back (allowed: {sorted(allowed)}, "
                             f"the kept DMA pool); log {b.logfile}")
    return b


def test_beside_memtest():
    # One fuzzer may attach the NIC's queue pair and aim at its mappings,
    # the other is refused; memtest shares their CPU.
    check_run("sysfuzz", [_fuzz(1), _fuzz(2, net=False)])


def test_user_flags():
    # Calls entered with AC, DF, ID, NT and the arithmetic flags set.
    check_run("sysfuzz-flags", [_fuzz(3, flags=ALL_FLAGS)])


def test_rflags_nt():
    # Seed 7 froze the CPU at its call 15 before SYSCALL cleared NT.
    check_run("sysfuzz-nt", [_fuzz(7, calls=2000, flags=NT)], timeout=60)


def main():
    """Seeds A-B one boot each: python3 tests/system/test_sysfuzz.py A-B [CALLS] [FLAGS]."""
    lo, _, hi = sys.argv[1].partition("-")
    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 50000
    flags = int(sys.argv[3], 0) if len(sys.argv) > 3 else None
    failed = []
    for seed in range(int(lo), int(hi or lo) + 1):
        try:
            check_run(f"sysfuzz-seed-{seed}", [_fuzz(seed, calls, flags)])
            print(f"seed {seed}: ok")
        except AssertionError as e:
            failed.append(seed)
            print(f"seed {seed}: FAIL {str(e).splitlines()[0]}")
        sys.stdout.flush()
    print(f"{len(failed)} failed: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
