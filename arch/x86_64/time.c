/*
 * Time: the TSC and the local APIC timer are both measured against PIT
 * channel 2 (8254 datasheet) over a fixed window; time_ns() scales the TSC.
 */
#include <arch/apic.h>
#include <arch/cpu.h>
#include <kernel/printk.h>
#include <kernel/time.h>

#define PIT_HZ		   1193182UL
#define PIT_CH2_DATA	   0x42
#define PIT_MODE	   0x43
#define PIT_CH2_MODE0_LOHI 0xb0 /* channel 2, lo/hi byte, mode 0 */
#define PORT_B		   0x61 /* NMI status and control */
#define PORT_B_GATE2	   0x01
#define PORT_B_SPEAKER	   0x02
#define PORT_B_OUT2	   0x20
#define CALIBRATE_MS	   10
#define PIT_MAX_SPINS	   (1UL << 32)

static uint64_t tsc_hz;
static uint64_t tsc_boot;
static uint64_t ns_mult; /* ns per TSC tick, 32.32 fixed point */

/* Start channel 2 counting down `ms` milliseconds; OUT2 rises at zero. */
static void pit_start(unsigned ms)
{
	uint16_t count = PIT_HZ * ms / 1000;
	uint8_t b = inb(PORT_B);
	outb(PORT_B, (b & ~PORT_B_SPEAKER) & ~PORT_B_GATE2);
	outb(PIT_MODE, PIT_CH2_MODE0_LOHI);
	outb(PIT_CH2_DATA, count & 0xff);
	outb(PIT_CH2_DATA, count >> 8);
	outb(PORT_B, (b & ~PORT_B_SPEAKER) | PORT_B_GATE2);
}

static bool pit_done(void)
{
	return inb(PORT_B) & PORT_B_OUT2;
}

void time_init(void)
{
	apic_timer_calibrate_begin();
	pit_start(CALIBRATE_MS);
	uint64_t t0 = rdtsc();
	uint32_t a0 = apic_timer_count();
	for (unsigned long spins = 0; !pit_done(); spins++) {
		if (spins > PIT_MAX_SPINS)
			panic("time: the PIT never counted down; no clock to calibrate against");
		cpu_relax();
	}
	uint64_t t1 = rdtsc();
	uint32_t a1 = apic_timer_count();

	tsc_hz = (t1 - t0) * 1000 / CALIBRATE_MS;
	apic_timer_calibrate_end((uint64_t)(a0 - a1) * 1000 / CALIBRATE_MS);
	ns_mult = (NSEC_PER_SEC << 32) / tsc_hz;
	tsc_boot = t0;
}

uint64_t time_ns(void)
{
	uint64_t d = rdtsc() - tsc_boot;
	return (uint64_t)(((unsigned __int128)d * ns_mult) >> 32);
}

uint64_t time_tsc_hz(void)
{
	return tsc_hz;
}

void time_delay_us(uint64_t us)
{
	uint64_t end = time_ns() + us * NSEC_PER_USEC;
	while (time_ns() < end)
		cpu_relax();
}
