"""Resource exhaustion (usr/tests/exhaust): processes that use their whole
memory budget or the machine's whole RAM, arm timers without pause, and pass
a NIC queue pair from owner to owner, all at once. Every limit answers with
an errno (ENOMEM, EBUSY, EPERM) or a counter (events dropped by a full ring),
the kernel keeps working with its memory taken, and every page comes back."""
import os
import re

from harness import EXIT_PASS, ROOT, boot, free_port, iso

PAGE = 4096
RAM_MIB = 128
NET_OWNERS = 6
BUDGET_MIB = 8
STACK_PAGES = 64  # the default stack= (256K)


def _exhaust():
    return os.path.join(ROOT, "usr/tests/exhaust/build/exhaust.elf")


def test_limits_answer_with_errno():
    mods = [
        # Budgets above the machine's RAM: its memory runs out first.
        (_exhaust(), "mem=1G exhaust mem 400"),
        (_exhaust(), "mem=1G exhaust mem 401"),
        # A small budget: it runs out first.
        (_exhaust(), f"mem={BUDGET_MIB}M exhaust mem 250"),
        (_exhaust(), "exhaust timers 400"),
        (_exhaust(), "exhaust timers 401"),
    ] + [(_exhaust(), "net=eth0:0 exhaust net")] * NET_OWNERS
    b = boot(iso("", mods), "exhaust", mem=RAM_MIB, cpus=2, net="user", timeout=180,
             extra=["-p", f"{free_port()}:7"])
    log = b.log
    assert "KERNEL PANIC" not in log, f"the kernel crashed; log {b.logfile}"
    assert " killed" not in log, f"a process was killed; log {b.logfile}"
    fails = [l for l in log.splitlines() if "FAIL" in l]
    assert not fails, "\n".join(fails[:10])
    for mode, n in (("mem", 3), ("timers", 2), ("net", NET_OWNERS)):
        got = log.count(f"exhaust {mode}: PASS")
        assert got == n, f"{got} of {n} 'exhaust {mode}' passed; log {b.logfile}"
    b.expect_status(EXIT_PASS)

    # Nobody got more than its budget; the big budgets met the end of RAM instead.
    m = re.search(r"exhaust mem 250: (\d+) pages", log)
    assert m and int(m.group(1)) <= BUDGET_MIB * 256 - STACK_PAGES, f"mem={BUDGET_MIB}M: {m}"
    for hold in (400, 401):
        m = re.search(rf"exhaust mem {hold}: (\d+) pages", log)
        assert m and int(m.group(1)) < RAM_MIB * 256, f"mem=1G process {hold}: {m}"

    # Each owner in turn, never two at once.
    assert log.count("attached eth0 queue pair 0") == NET_OWNERS, f"log {b.logfile}"

    m = re.search(r"pages free: (\d+) before the first process, (\d+) now", log)
    assert m, f"no page accounting in the summary; log {b.logfile}"
    lost = int(m.group(1)) - int(m.group(2))
    pool = 2 * 1024 * 1024 // PAGE  # the queue pair's DMA pool, kept for its next owner
    assert lost in (0, pool), f"{lost} pages not given back; log {b.logfile}"


def test_whole_budget():
    # Alone, a process maps its mem= budget to the last page, less its image and stack.
    b = boot(iso("", [(_exhaust(), f"mem={BUDGET_MIB}M exhaust mem 0")]), "exhaust-budget")
    b.expect("exhaust mem: PASS")
    b.expect_status(EXIT_PASS)
    m = re.search(r"exhaust mem 0: (\d+) pages", b.log)
    budget = BUDGET_MIB * 256 - STACK_PAGES
    assert m and budget - 8 <= int(m.group(1)) < budget, f"{m and m.group(1)} of {budget} pages"
    m = re.search(r"pages free: (\d+) before the first process, (\d+) now", b.log)
    assert m and m.group(1) == m.group(2), f"pages not given back: {m and m.group(0)}"
