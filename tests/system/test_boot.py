"""System tests of the boot foundation: the kernel boots, reports the
machine, passes its self-tests and reports crashes with a full dump."""
import re

import os

from harness import EXIT_PANIC, EXIT_PASS, KERNEL, ROOT, boot, boot_direct, iso


def test_selftests():
    b = boot(iso("test=all"), "boot-selftests")
    b.expect_status(EXIT_PASS)
    b.expect("memory map:", "available", "acpi: 2 CPU(s) in the MADT",
             "APIC id 1", "PCIe ECAM base 0xb0000000", "time: TSC",
             "selftest timer: ok", "selftest: PASS")
    assert re.search(r"APIC timer \d+ kHz", b.log), "no calibrated timer rate"


def test_memory_sizes():
    # More CPUs and more memory than the default: the MADT and the page
    # allocator must follow what the machine has.
    b = boot(iso("test=pages"), "boot-4cpu-1g", mem=1024, cpus=4)
    b.expect_status(EXIT_PASS)
    b.expect("acpi: 4 CPU(s) in the MADT", "APIC id 3")
    m = re.search(r"memory: (\d+) MiB usable", b.log)
    assert m and 1000 <= int(m.group(1)) <= 1024, "usable memory not ~1 GiB"


def _expect_dump(b, vector_name):
    b.expect_status(EXIT_PANIC)
    b.expect("KERNEL PANIC", vector_name, "RIP ", "CR2 ", "RAX ", "R15 ",
             "backtrace:", "selftest_run+0x", "kmain+0x")


def test_page_fault_dump():
    b = boot(iso("test=fault"), "boot-fault")
    _expect_dump(b, "page fault (vector 14)")
    b.expect("CR2 000000000dead000", "selftest_fault+0x")


def test_invalid_opcode_dump():
    b = boot(iso("test=ud"), "boot-ud")
    _expect_dump(b, "invalid opcode (vector 6)")
    b.expect("selftest_ud+0x")


def test_panic_backtrace():
    b = boot(iso("test=panic"), "boot-panic")
    b.expect_status(EXIT_PANIC)
    b.expect("KERNEL PANIC: selftest: deliberate panic 42", "test_panic+0x",
             "selftest_run+0x")


def test_unknown_selftest_fails():
    b = boot(iso("test=no-such-test"), "boot-unknown-test")
    b.expect("no test named 'no-such-test'", "selftest: FAIL")
    assert b.status == 35, f"status {b.status}"


def test_direct_pvh_boot():
    # QEMU -kernel through the PVH note: no GRUB; the module's command line
    # is what follows " -- " on the kernel's.
    hello = os.path.join(ROOT, "usr/hello/build/hello.elf")
    b = boot_direct(hello, "nosmp -- hello --count 2 direct", "boot-pvh")
    b.expect_status(EXIT_PASS)
    b.expect("boot loader: PVH direct boot", "command line: debugexit nosmp",
             "memory map:", "hello from pid 1: hello --count 2 direct", "hello 2/2")


def test_acpi_power_off():
    # Without debugexit the kernel powers off through ACPI (\_S5_ from the
    # DSDT, SLP_TYP|SLP_EN to PM1a_CNT): QEMU ends by itself, status 0,
    # and the kernel never gets to say it could not.
    hello = os.path.join(ROOT, "usr/hello/build/hello.elf")
    b = boot(KERNEL, "boot-acpi-off", timeout=60,
             extra=["--append", "nosmp -- hello --count 1", "--module", hello])
    b.expect_status(0)
    b.expect("hello 1/1", "all processes have exited")
    assert "cannot power off" not in b.log, f"power-off reported failure: {b.logfile}"
