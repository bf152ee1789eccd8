/* Power off, or leave QEMU with a status the test harness reads. */
#include <arch/cpu.h>
#include <kernel/power.h>
#include <kernel/printk.h>
#include <kernel/time.h>

#define PM1_SLP_EN	  (1 << 13) /* ACPI 6.4, 4.8.3.2.1 PM1 control */
#define PM1_SLP_TYP_SHIFT 10
/* A hypervisor may act on the sleep request after the write returns. */
#define POWER_OFF_GRACE_US 2000000

static bool debug_exit;
static struct {
	bool valid;
	uint16_t pm1a, pm1b, typa, typb;
} s5;

void power_enable_debug_exit(void)
{
	debug_exit = true;
}

void power_set_acpi_s5(uint16_t pm1a, uint16_t pm1b, uint16_t typa, uint16_t typb)
{
	s5.pm1a = pm1a;
	s5.pm1b = pm1b;
	s5.typa = typa;
	s5.typb = typb;
	s5.valid = pm1a != 0;
}

void cpu_halt_forever(void)
{
	for (;;) {
		irq_disable();
		cpu_halt();
	}
}

void power_off(void)
{
	if (s5.valid) {
		outw(s5.pm1a, (uint16_t)(s5.typa << PM1_SLP_TYP_SHIFT) | PM1_SLP_EN);
		if (s5.pm1b)
			outw(s5.pm1b, (uint16_t)(s5.typb << PM1_SLP_TYP_SHIFT) | PM1_SLP_EN);
		/*
		 * QEMU queues the shutdown for its main loop and lets this CPU
		 * run on meanwhile: give it time before saying it failed.
		 */
		if (time_tsc_hz())
			time_delay_us(POWER_OFF_GRACE_US);
	}
	printk("power: cannot power off; halted\n");
	cpu_halt_forever();
}

void power_exit(unsigned code)
{
	if (debug_exit)
		outl(DEBUG_EXIT_PORT, code);
	power_off();
}
