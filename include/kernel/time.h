/* Monotonic time since boot, from the calibrated TSC. */
#pragma once

#include <kernel/types.h>

#define NSEC_PER_SEC  1000000000UL
#define NSEC_PER_MSEC 1000000UL
#define NSEC_PER_USEC 1000UL

/* Calibrate the TSC (and the local APIC timer) against the PIT. */
void time_init(void);
uint64_t time_ns(void);
uint64_t time_tsc_hz(void);
/* Busy-wait; only for boot-time device handshakes. */
void time_delay_us(uint64_t us);
