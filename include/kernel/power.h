/* Ending the machine: QEMU's isa-debug-exit for tests, ACPI S5 otherwise. */
#pragma once

#include <kernel/types.h>

/* Exit statuses the test harness reads: QEMU exits with (code << 1) | 1. */
#define EXIT_PASS  0x10 /* QEMU status 33 */
#define EXIT_FAIL  0x11 /* QEMU status 35 */
#define EXIT_PANIC 0x12 /* QEMU status 37 */

#define DEBUG_EXIT_PORT 0xf4

/* Enable exits through isa-debug-exit (the kernel command line asks for it). */
void power_enable_debug_exit(void);
/* Exit QEMU with `code` if enabled, else power off. */
void __noreturn power_exit(unsigned code);
/* ACPI soft-off (S5) with the FADT's PM1 control ports, else halt. */
void __noreturn power_off(void);
void power_set_acpi_s5(uint16_t pm1a, uint16_t pm1b, uint16_t slp_typa, uint16_t slp_typb);
