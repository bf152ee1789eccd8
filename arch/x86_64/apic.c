/* Local APIC driver: x2APIC through MSRs when the CPU has it, else xAPIC MMIO. */
#include <arch/apic.h>
#include <arch/cpu.h>
#include <arch/trap.h>
#include <kernel/printk.h>
#include <kernel/time.h>
#include <mm/phys.h>
#include <mm/vm.h>

#define CPUID_1_ECX_X2APIC (1U << 21)
#define X2APIC_MSR(off)	   (0x800 + ((off) >> 4))
#define X2APIC_ICR	   0x830
#define PIC1_DATA	   0x21
#define PIC2_DATA	   0xa1
#define ONESHOT_MAX_NS	   (60 * NSEC_PER_SEC)

static volatile uint8_t *xapic;
static bool x2apic;
static uint64_t timer_hz; /* at divide-by-16 */

static uint32_t apic_read(uint32_t off)
{
	if (x2apic)
		return (uint32_t)rdmsr(X2APIC_MSR(off));
	return mmio_read32(xapic + off);
}

static void apic_write(uint32_t off, uint32_t v)
{
	if (x2apic)
		wrmsr(X2APIC_MSR(off), v);
	else
		mmio_write32(xapic + off, v);
}

static bool cpu_has_x2apic(void)
{
	uint32_t a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	return c & CPUID_1_ECX_X2APIC;
}

/* Program this CPU's APIC: enable, spurious vector, mask LINTs, clear TPR. */
static void apic_setup_local(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);
	base |= APIC_BASE_ENABLE;
	if (x2apic)
		base |= APIC_BASE_X2APIC;
	wrmsr(MSR_APIC_BASE, base);

	apic_write(APIC_TPR, 0);
	apic_write(APIC_LVT_LINT0, APIC_LVT_MASKED);
	apic_write(APIC_LVT_LINT1, APIC_LVT_MASKED);
	apic_write(APIC_LVT_ERROR, APIC_LVT_MASKED);
	apic_write(APIC_LVT_TIMER, APIC_LVT_MASKED);
	apic_write(APIC_SVR, APIC_SVR_ENABLE | VEC_SPURIOUS);
	apic_write(APIC_TIMER_DIVIDE, APIC_DIVIDE_BY_16);
}

void apic_init(paddr_t lapic_pa)
{
	/* The legacy 8259 PICs stay masked: all interrupts come through APICs. */
	outb(PIC1_DATA, 0xff);
	outb(PIC2_DATA, 0xff);

	x2apic = cpu_has_x2apic();
	if (!x2apic) {
		xapic = vm_map_mmio(lapic_pa ? lapic_pa : APIC_DEFAULT_PHYS, PAGE_SIZE);
		if (!xapic)
			panic("apic: cannot map the local APIC at %#lx", lapic_pa);
	}
}

void apic_init_cpu(void)
{
	apic_setup_local();
}

bool apic_ready(void)
{
	return x2apic || xapic;
}

/*
 * Whether the local APIC has an interrupt of this vector in service (ISR,
 * SDM vol. 3, 10.8.4). An exception never sets it: for vectors 0-31 it
 * tells an exception from an interrupt message that names the same vector.
 * Uses no per-CPU data (callers may run with a user's GS base).
 */
bool apic_in_service(unsigned vector)
{
	if (!apic_ready() || vector > 255)
		return false;
	return apic_read(APIC_ISR + 0x10 * (vector / 32)) >> (vector % 32) & 1;
}

bool apic_x2apic(void)
{
	return x2apic;
}

uint32_t apic_id(void)
{
	uint32_t id = apic_read(APIC_ID);
	return x2apic ? id : id >> 24;
}

void apic_eoi(void)
{
	apic_write(APIC_EOI, 0);
}

void apic_send_ipi(uint32_t dest, uint32_t icr_lo)
{
	if (x2apic) {
		wrmsr(X2APIC_ICR, ((uint64_t)dest << 32) | icr_lo);
		return;
	}
	apic_write(APIC_ICR_HI, dest << 24);
	apic_write(APIC_ICR_LO, icr_lo);
	while (apic_read(APIC_ICR_LO) & APIC_ICR_PENDING)
		cpu_relax();
}

void apic_timer_calibrate_begin(void)
{
	apic_write(APIC_TIMER_DIVIDE, APIC_DIVIDE_BY_16);
	apic_write(APIC_LVT_TIMER, APIC_LVT_MASKED);
	apic_write(APIC_TIMER_INIT, 0xffffffff);
}

uint32_t apic_timer_count(void)
{
	return apic_read(APIC_TIMER_CURRENT);
}

void apic_timer_calibrate_end(uint64_t hz)
{
	timer_hz = hz;
	apic_write(APIC_TIMER_INIT, 0);
}

uint64_t apic_timer_hz(void)
{
	return timer_hz;
}

void apic_timer_periodic(unsigned hz)
{
	uint64_t count = timer_hz / hz;
	apic_write(APIC_TIMER_DIVIDE, APIC_DIVIDE_BY_16);
	apic_write(APIC_LVT_TIMER, APIC_TIMER_PERIODIC | VEC_TIMER);
	apic_write(APIC_TIMER_INIT, count ? (uint32_t)MIN(count, 0xffffffffUL) : 1);
}

void apic_timer_oneshot(uint64_t ns)
{
	/* Microsecond steps keep the product in 64 bits for up to a minute. */
	uint64_t us = MIN(ns, ONESHOT_MAX_NS) / NSEC_PER_USEC;
	uint64_t count = us * timer_hz / 1000000;
	apic_write(APIC_TIMER_DIVIDE, APIC_DIVIDE_BY_16);
	apic_write(APIC_LVT_TIMER, VEC_TIMER);
	apic_write(APIC_TIMER_INIT, (uint32_t)MIN(MAX(count, 1UL), 0xffffffffUL));
}

void apic_timer_stop(void)
{
	apic_write(APIC_LVT_TIMER, APIC_LVT_MASKED);
	apic_write(APIC_TIMER_INIT, 0);
}
