"""Attacks from user mode (usr/tests/hostile), each beside an honest process
on the same core: the kernel must stop the attack, report it clearly and go
on, and the honest process must finish. Modes that need the kernel to
misbehave on purpose boot with `testhooks` (kernel/testhook.c)."""
import os
import re

from harness import EXIT_FAIL, EXIT_PANIC, EXIT_PASS, ROOT, Skip, boot, iso

HOSTILE = os.path.join(ROOT, "usr/tests/hostile/build/hostile.elf")
SPIN = os.path.join(ROOT, "usr/tests/spin/build/spin.elf")
HONEST = (SPIN, "spin honest 30000000")


def _run(name, modes, cmdline="nosmp", net="none", honest=True):
    mods = [(HOSTILE, m) for m in modes]
    if honest:
        mods.append(HONEST)
    return boot(iso(cmdline, mods), name, net=net)


def _honest_finished(b):
    b.expect("spin honest done", "(spin) exited with status 0")


def _killed_line(b, pid):
    lines = [l for l in b.log.splitlines() if l.startswith(f"pid {pid} (hostile) killed:")]
    assert lines, f"pid {pid} was not killed; log {b.logfile}"
    return lines[0]


def test_nt_flag_cannot_freeze_a_core():
    # No test hooks: the plain attack. With NT set, SYSCALL used to return
    # through an IRETQ that faults in ring 0 and stopped the CPU silently.
    b = _run("sec-nt", ["hostile nt"])
    b.expect("1000 system calls with NT set, 0 wrong, NT still set after them")
    _honest_finished(b)
    b.expect_status(EXIT_PASS)


def test_bad_iret_kills_only_the_process():
    b = _run("sec-iret", ["hostile iret-nt", "hostile iret-ss"], cmdline="nosmp testhooks")
    for pid in (1, 2):
        line = _killed_line(b, pid)
        assert "general protection fault on return to user mode" in line, line
        assert re.search(r"RIP 0x[0-9a-f]+, instruction: ([0-9a-f]{2} ?)+", line), line
    assert "survived" not in b.log
    _honest_finished(b)
    b.expect_status(EXIT_FAIL)  # the killed processes' status


def test_kernel_fault_with_user_gs_still_reports():
    # The panic path must find its CPU without GS: a full report, not a
    # silent halt.
    b = _run("sec-user-gs", ["hostile user-gs"], cmdline="testhooks", honest=False)
    b.expect_status(EXIT_PANIC)
    b.expect("KERNEL PANIC: unhandled invalid opcode in kernel mode",
             "invalid opcode (vector 6)", "RIP ", "R15 ", "backtrace:",
             "fault_with_user_gs+0x", "syscall_dispatch+0x", "system halted")


def _need(b, feature):
    if f"{feature} on" not in b.log:
        raise Skip(f"this CPU has no {feature}")


def test_smap_holds_in_interrupts():
    # The process sets RFLAGS.AC, which interrupt gates keep; the kernel
    # must clear it on entry, so its probe of user memory from the interrupt
    # handler faults (and is recovered) instead of reading.
    b = _run("sec-smap-irq", ["hostile smap-irq"], cmdline="nosmp testhooks")
    _need(b, "SMAP")
    b.expect("hostile smap-irq: AC was set, probe blocked by SMAP",
             "SMAP: the kernel touched a user page outside the checked accessors; "
             "recovered by its fixup",
             "interrupt handler read of user address")
    assert "SMAP was off" not in b.log
    _honest_finished(b)
    b.expect_status(EXIT_PASS)


def test_smap_violation_is_named():
    b = _run("sec-smap", ["hostile smap"], cmdline="testhooks", honest=False)
    _need(b, "SMAP")
    b.expect_status(EXIT_PANIC)
    b.expect("KERNEL PANIC: unhandled page fault in kernel mode (SMAP: the kernel touched "
             "a user page outside the checked accessors)", "syscall_dispatch+0x")


def test_smep_violation_is_named():
    b = _run("sec-smep", ["hostile smep"], cmdline="testhooks", honest=False)
    _need(b, "SMEP")
    b.expect_status(EXIT_PANIC)
    b.expect("KERNEL PANIC: unhandled page fault in kernel mode (SMEP: the kernel tried to "
             "execute a user page)")


def test_queue_owner_jumping_into_its_queue():
    # The fault report used to read the instruction bytes of a doorbell
    # page through the direct map, which does not map device memory.
    for mode, want in (("jump-doorbell", "instruction: unavailable (not in the process's RAM)"),
                       ("jump-ring", "instruction: 00 00")):
        b = _run(f"sec-{mode}", [f"net=eth0:0 hostile {mode}"], net="user")
        b.expect(f"hostile {mode}: jumping to")
        line = _killed_line(b, 1)
        assert "page fault: execute of a no-execute page" in line, line
        assert want in line, f"{mode}: {line!r} lacks {want!r}"
        _honest_finished(b)
        b.expect_status(EXIT_FAIL)


def test_prot_none_is_not_accessible():
    b = _run("sec-protnone", ["hostile protnone"])
    m = re.search(r"hostile protnone: reserved (0x[0-9a-f]+), console_write from it (-?\d+)",
                  b.log)
    assert m, f"no reservation line in {b.logfile}"
    assert m.group(2) == "-14", "the kernel read a PROT_NONE page for console_write"
    line = _killed_line(b, 1)
    assert "page fault: read of a PROT_NONE page" in line, line
    assert "read 0x" not in b.log
    _honest_finished(b)
    b.expect_status(EXIT_FAIL)


def test_process_output_cannot_forge_kernel_lines():
    b = _run("sec-forge", ["hostile forge"])
    _honest_finished(b)
    b.expect_status(EXIT_PASS)
    with open(b.logfile, "rb") as f:
        raw = f.read()
    assert b"\x1b" not in raw and b"\x07" not in raw and b"\x08" not in raw, \
        "a control character reached the console"
    assert not re.search(rb"\r(?!\n)", raw), "a bare carriage return reached the console"
    lines = b.log.splitlines()
    for forged in ("pid 1 (honest)", "selftest: PASS", "KERNEL PANIC", "screen cleared"):
        assert not any(l.startswith(forged) for l in lines), f"forged line: {forged}"
    assert sum(l.startswith("all processes have exited:") for l in lines) == 1
    b.expect("hostile[1]: pid 1 (honest) exited with status 0",
             "hostile[1]: half a line, \\x0dKERNEL PANIC: forged",
             "hostile[1]: \\x1b[2J\\x1b[Hscreen cleared",
             "hostile[1]: no newline at the end: \\x07\\x08",
             "hostile[1]: all processes have exited:")
    # a 300-byte run of x is split into tagged lines, none longer than the buffer
    xs = [l for l in lines if l.startswith("hostile[1]: xxx")]
    assert len(xs) >= 2 and all(len(l) <= 256 + len("hostile[1]: ") for l in xs), xs


def test_umip_blocks_descriptor_table_reads():
    b = _run("sec-umip", ["hostile umip"])
    _need(b, "UMIP")
    line = _killed_line(b, 1)
    assert "general protection fault" in line, line
    assert "sgdt gave base" not in b.log
    _honest_finished(b)
    b.expect_status(EXIT_FAIL)


def test_kernel_text_alias_is_read_only():
    b = boot(iso("test=textalias"), "sec-textalias")
    b.expect_status(EXIT_PANIC)
    b.expect("writing kernel text through the direct map",
             "KERNEL PANIC: unhandled page fault in kernel mode", "test_text_alias+0x")


def test_kernel_stack_overflow_hits_its_guard_page():
    # A recursion runs the boot CPU's stack into the unmapped page below it:
    # the page fault cannot be pushed there, so it arrives as a double fault
    # on its own (guarded) IST stack, and the report names the overflow.
    b = boot(iso("test=stackoverflow"), "sec-stack-overflow")
    b.expect_status(EXIT_PANIC)
    b.expect("recursing until the stack overflows",
             "KERNEL PANIC: unhandled double fault in kernel mode (kernel stack overflow: ",
             "is in the guard page below CPU 0's kernel stack)", "double fault (vector 8)",
             "deeper+0x")


def test_stack_protector_catches_a_smashed_frame():
    b = boot(iso("test=canary"), "sec-canary")
    b.expect_status(EXIT_PANIC)
    b.expect("overwriting a stack protector guard",
             "KERNEL PANIC: stack protector: the guard in the frame of smashed_frame",
             "__stack_chk_fail+0x")


def test_protections_are_reported_at_boot():
    b = _run("sec-report", ["hostile nt"])
    assert re.search(r"cpu: SMEP on, SMAP on, UMIP on; stack protector guard from "
                     r"(RDRAND|the TSC), guard pages under every kernel stack", b.log), b.logfile
    _honest_finished(b)
