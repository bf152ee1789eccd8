/* Local APIC (xAPIC MMIO or x2APIC MSRs) and its timer (Intel SDM vol. 3, ch. 10). */
#pragma once

#include <kernel/types.h>

/* Register offsets in the xAPIC page; x2APIC MSR = 0x800 + offset / 16. */
#define APIC_ID		    0x020
#define APIC_VERSION	    0x030
#define APIC_TPR	    0x080
#define APIC_EOI	    0x0b0
#define APIC_SVR	    0x0f0
#define APIC_SVR_ENABLE	    (1 << 8)
#define APIC_ISR	    0x100 /* eight registers, 0x10 apart */
#define APIC_ESR	    0x280
#define APIC_ICR_LO	    0x300
#define APIC_ICR_HI	    0x310
#define APIC_ICR_INIT	    (5 << 8)
#define APIC_ICR_STARTUP    (6 << 8)
#define APIC_ICR_FIXED	    (0 << 8)
#define APIC_ICR_PENDING    (1 << 12)
#define APIC_ICR_ASSERT	    (1 << 14)
#define APIC_ICR_LEVEL	    (1 << 15)
#define APIC_LVT_TIMER	    0x320
#define APIC_TIMER_PERIODIC (1 << 17)
#define APIC_LVT_LINT0	    0x350
#define APIC_LVT_LINT1	    0x360
#define APIC_LVT_ERROR	    0x370
#define APIC_LVT_MASKED	    (1 << 16)
#define APIC_TIMER_INIT	    0x380
#define APIC_TIMER_CURRENT  0x390
#define APIC_TIMER_DIVIDE   0x3e0
#define APIC_DIVIDE_BY_16   0x3

#define APIC_BASE_X2APIC  (1UL << 10)
#define APIC_BASE_ENABLE  (1UL << 11)
#define APIC_DEFAULT_PHYS 0xfee00000UL

/* Set up this CPU's local APIC; lapic_pa comes from the MADT. */
void apic_init(paddr_t lapic_pa);
void apic_init_cpu(void);
uint32_t apic_id(void);
bool apic_x2apic(void);
/* Whether apic_id() can be used yet (the local APIC is set up). */
bool apic_ready(void);
/* An interrupt of this vector is in service here (no per-CPU data used). */
bool apic_in_service(unsigned vector);
void apic_eoi(void);
void apic_send_ipi(uint32_t apic_id, uint32_t icr_lo);
/* Calibration (driven by arch/x86_64/time.c): free-run the masked timer,
 * read its count, then record its rate in ticks per second. */
void apic_timer_calibrate_begin(void);
uint32_t apic_timer_count(void);
void apic_timer_calibrate_end(uint64_t hz);
uint64_t apic_timer_hz(void);
/* Periodic interrupts at `hz` on vector VEC_TIMER. */
void apic_timer_periodic(unsigned hz);
/* One interrupt on VEC_TIMER after `ns` nanoseconds. */
void apic_timer_oneshot(uint64_t ns);
void apic_timer_stop(void);
