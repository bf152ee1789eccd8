"""Threads on owned cores (usr/tests/threads): one per core, exit and faults
across them, TLB shootdown, cross-core wake-ups, and the manifest's and the
system calls' refusals. Each boot has an honest process on a shared core
that must finish."""
import os
import re

from harness import EXIT_FAIL, EXIT_PASS, ROOT, boot, iso

THREADS = os.path.join(ROOT, "usr/tests/threads/build/threads.elf")
HELLO = os.path.join(ROOT, "usr/hello/build/hello.elf")


def _boot(name, manifests, cpus, honest=True):
    mods = [(THREADS, m) for m in manifests]
    if honest:
        mods.append((HELLO, "hello --count 2 honest"))
    b = boot(iso("", mods), name, cpus=cpus)
    if honest:
        b.expect("hello 2/2")
    return b


def test_a_thread_on_each_owned_core_2_cpus():
    b = _boot("thr-cores-2", ["cpus=0-1 threads cores"], cpus=2, honest=False)
    b.expect("threads: first thread on CPU 0, owns 0x3",
             "threads: thread 1 on CPU 1 (started for CPU 1)",
             "threads: 2 threads reported, CPUs 0x3 PASS", "2 threads")
    b.expect_status(EXIT_PASS)


def test_a_thread_on_each_owned_core_4_cpus():
    # TCG emulates more vCPUs than the host has cores.
    b = _boot("thr-cores-4", ["cpus=1-3 threads cores"], cpus=4)
    b.expect("threads: first thread on CPU 1, owns 0xe",
             "threads: thread 1 on CPU 2 (started for CPU 2)",
             "threads: thread 2 on CPU 3 (started for CPU 3)",
             "threads: 3 threads reported, CPUs 0xe PASS")
    b.expect_status(EXIT_PASS)


def test_thread_calls_are_refused_with_errno():
    b = _boot("thr-errors", ["cpus=1-2 threads errors"], cpus=3)
    m = re.search(r"threads: errors: (\d+) checks, (\d+) failed", b.log)
    assert m, f"no summary in {b.logfile}"
    fails = [l for l in b.log.splitlines() if l.endswith("FAIL")]
    assert m.group(2) == "0", "\n".join(fails)
    assert int(m.group(1)) >= 15
    b.expect_status(EXIT_PASS)


def test_exit_from_a_thread_ends_them_all():
    b = _boot("thr-exit", ["cpus=1-3 threads exit"], cpus=4)
    b.expect("calls exit(7)", "pid 1 (threads) exited with status 7", "3 threads")
    assert "was not stopped" not in b.log
    b.expect_status(EXIT_FAIL)  # status 7


def test_fault_in_a_thread_kills_the_process():
    b = _boot("thr-fault", ["cpus=1-3 threads fault"], cpus=4)
    b.expect("pid 1 (threads) killed in thread 2 on CPU 2: page fault: read of an unmapped "
             "page at address 0x0,", "pid 1 (threads) killed, status 142")
    assert "was not stopped" not in b.log
    b.expect_status(EXIT_FAIL)


def test_freed_page_is_unreachable_on_other_cores():
    # One thread reads a page in a loop on CPU 2 while the first frees it on
    # CPU 1: the reader must fault at once (TLB shootdown), never read on.
    b = _boot("thr-tlb", ["cpus=1-2 threads tlb"], cpus=3)
    m = re.search(r"threads: tlb: freeing 0x0*([0-9a-f]+) while CPU 2 reads it", b.log)
    assert m, f"no free in {b.logfile}"
    b.expect(f"pid 1 (threads) killed in thread 1 on CPU 2: page fault: read of an unmapped "
             f"page at address 0x{m.group(1)},")
    assert "STALE" not in b.log and "not stopped" not in b.log
    b.expect_status(EXIT_FAIL)


def test_cross_core_wakeups_are_never_lost():
    b = _boot("thr-wake", ["cpus=1-2 threads wake 5000"], cpus=3)
    b.expect("threads: wake: 5000 ping-pongs between CPU 1 and CPU 2")
    m = re.search(r"burst of 5000: (\d+) received \+ (\d+) dropped = (\d+) sent PASS", b.log)
    assert m, f"burst not accounted for in {b.logfile}"
    b.expect_status(EXIT_PASS)


def test_manifest_cores_are_checked():
    mods = [(THREADS, "cpus=1-2 threads cores"),
            (HELLO, "cpus=2-3 hello overlaps"),
            (HELLO, "cpus=5 hello no-such-core"),
            (HELLO, "cpus=2-1 hello backwards"),
            (HELLO, "cpus=3,3 hello twice"),
            (HELLO, "cpus= hello empty"),
            (HELLO, "cpu=1 cpus=2 hello both"),
            (HELLO, "cpus=3 hello fine")]
    b = boot(iso("", mods), "thr-manifest", cpus=4)
    b.expect("refused module 2 (cpus=2-3 hello overlaps): cpu=/cpus= names a CPU that is "
             "already taken",
             "refused module 3 (cpus=5 hello no-such-core): cpu=/cpus= names a CPU this "
             "machine does not have",
             "refused module 4 (cpus=2-1 hello backwards): manifest: cpus= wants",
             "refused module 5 (cpus=3,3 hello twice): manifest: cpus= wants",
             "refused module 6 (cpus= hello empty): manifest: cpus= wants",
             "refused module 7 (cpu=1 cpus=2 hello both): manifest: cpus= wants",
             "started pid 2 (hello) on CPU 3: hello fine",
             "threads: 2 threads reported, CPUs 0x6 PASS")
    b.expect_status(EXIT_PASS)
