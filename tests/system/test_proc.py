"""User processes from the outside: preemption, bad system-call arguments,
faults that kill only their process, memory and timers, the manifest."""
import os
import re

from harness import EXIT_FAIL, EXIT_PASS, ROOT, boot, iso


def prog(name):
    if name in ("hello", "hello-pie"):
        return os.path.join(ROOT, "usr/hello/build", name + ".elf")
    if name == "pie-hello":
        return os.path.join(ROOT, "usr/tests/pie-hello/build/pie-hello-pie.elf")
    return os.path.join(ROOT, "usr/tests", name, "build", name + ".elf")


def _line_index(log, needle):
    for i, line in enumerate(log.splitlines()):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in log")


def test_preemption_side_by_side():
    # Two CPU-bound loops that never enter the kernel and a hello, all on
    # one CPU: only the timer can take the CPU away from a spinner.
    mods = [(prog("spin"), "spin a 300000000"), (prog("spin"), "spin b 300000000"),
            (prog("hello"), "hello --count 3 world")]
    b = boot(iso("nosmp", mods), "proc-preempt")
    b.expect_status(EXIT_PASS)
    b.expect("hello from pid 3: hello --count 3 world", "hello 3/3",
             "spin a done", "spin b done")
    hello_done = _line_index(b.log, "pid 3 (hello) exited with status 0")
    assert hello_done < _line_index(b.log, "spin a done"), "hello waited for spin a"
    assert hello_done < _line_index(b.log, "spin b done"), "hello waited for spin b"
    # both spinners were started before either finished: they shared the CPU
    assert _line_index(b.log, "spin b start") < _line_index(b.log, "spin a done")


def test_two_cpus_partitioned():
    mods = [(prog("spin"), "cpu=1 spin pinned 100000000"),
            (prog("hello"), "hello shared")]
    b = boot(iso("", mods), "proc-partition")
    b.expect_status(EXIT_PASS)
    b.expect("smp: 2 CPU(s) online", "started pid 1 (spin) on CPU 1",
             "started pid 2 (hello) on CPU 0", "spin pinned done")


def test_bad_syscall_arguments():
    b = boot(iso("", [(prog("badptr"), "badptr")]), "proc-badptr")
    m = re.search(r"badptr: (\d+) checks, (\d+) failed", b.log)
    assert m, f"no badptr summary in {b.logfile}"
    fails = [l for l in b.log.splitlines() if l.endswith("FAIL")]
    assert m.group(2) == "0", "failed checks:\n" + "\n".join(fails)
    assert int(m.group(1)) >= 40, "too few checks ran"
    b.expect_status(EXIT_PASS)


FAULTS = {
    "null": "page fault: read of an unmapped page at address 0x0,",
    "write-ro": "page fault: write to a read-only page",
    "kernel": "at address 0xffffffff80000000",
    "exec-data": "page fault: execute of a no-execute page",
    "ud": "invalid opcode",
    "div0": "divide error",
    "gp": "general protection fault",
    "int3": "breakpoint",
    "stack": "page fault: write to an unmapped page",
}


def test_faults_kill_only_the_process():
    mods = [(prog("fault"), f"fault {mode}") for mode in FAULTS]
    mods.append((prog("spin"), "spin survivor 200000000"))
    b = boot(iso("", mods), "proc-faults")
    b.expect_status(EXIT_FAIL)  # killed processes end with a non-zero status
    for pid, (mode, want) in enumerate(FAULTS.items(), start=1):
        b.expect(f"fault: about to {mode}")
        line = [l for l in b.log.splitlines() if l.startswith(f"pid {pid} (fault) killed:")]
        assert line, f"fault {mode}: no kill message"
        assert want in line[0], f"fault {mode}: {line[0]!r} lacks {want!r}"
        assert re.search(r"RIP 0x[0-9a-f]+, instruction: ([0-9a-f]{2} ?)+", line[0]), line[0]
    assert "survived" not in b.log
    b.expect("spin survivor done", "exited with status 0")
    m = re.search(r"pages free: (\d+) before the first process, (\d+) now", b.log)
    assert m, "no page accounting in the summary"
    assert abs(int(m.group(1)) - int(m.group(2))) <= 16, "killed processes leaked memory"


def test_wait_and_timers():
    b = boot(iso("", [(prog("waiter"), "waiter")]), "proc-waiter")
    assert "waiter: PASS" in b.log, "\n".join(
        l for l in b.log.splitlines() if l.startswith("waiter"))
    b.expect_status(EXIT_PASS)


def test_memory_and_malloc():
    b = boot(iso("", [(prog("memtest"), "memtest")]), "proc-memtest")
    assert "memtest: PASS" in b.log, "\n".join(
        l for l in b.log.splitlines() if "FAIL" in l)
    b.expect_status(EXIT_PASS)


def test_auxiliary_vector():
    b = boot(iso("nosmp", [(prog("hello"), "hello --aux")]), "proc-auxv")
    b.expect_status(EXIT_PASS)
    m = re.search(r"time: TSC (\d+)\.(\d+) MHz", b.log)
    assert m, "no TSC rate in the boot log"
    khz = int(m.group(1)) * 1000 + int(m.group(2))
    t = re.search(r"hello: AT_MC_TSC_HZ (\d+)", b.log)
    assert t, f"no AT_MC_TSC_HZ line in {b.logfile}"
    assert int(t.group(1)) // 1000 == khz, f"AT_MC_TSC_HZ {t.group(1)} vs boot log {khz} kHz"
    b.expect("hello: AT_PAGESZ 4096 AT_MC_CPU 0", "hello: AT_RANDOM")


def test_static_pie():
    mods = [(prog("pie-hello"), "pie-hello"), (prog("hello-pie"), "hello-pie x")]
    b = boot(iso("", mods), "proc-pie")
    b.expect("pie-hello: PASS", "hello from pid 2: hello-pie x")
    b.expect_status(EXIT_PASS)


def test_manifest_is_enforced():
    mods = [(prog("hello"), "colour=blue hello bad-key"),
            (prog("hello"), "cpu=7 hello no-such-cpu"),
            (prog("hello"), "mem=12 hello tiny-budget"),
            (prog("spin"), "cpu=1 spin owner 50000000"),
            (prog("hello"), "cpu=1 hello second-owner"),
            (prog("hello"), "hello fine")]
    b = boot(iso("", mods), "proc-manifest")
    b.expect("refused module 1 (colour=blue hello bad-key): manifest: unknown manifest key",
             "refused module 2 (cpu=7 hello no-such-cpu): cpu=/cpus= names a CPU this machine does not have",
             "refused module 3 (mem=12 hello tiny-budget): manifest: mem=",
             "refused module 5 (cpu=1 hello second-owner): cpu=/cpus= names a CPU that is already taken",
             "hello from pid 2: hello fine", "spin owner done")
    b.expect_status(EXIT_PASS)
