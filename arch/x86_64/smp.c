/*
 * Multiprocessor start-up (Intel SDM vol. 3, 8.4.4: INIT-SIPI-SIPI) and
 * stopping the other CPUs on panic. Each AP comes up through the trampoline
 * onto the kernel page tables, sets up its own GDT/TSS/GS, IDT, APIC and
 * system-call MSRs, and enters the scheduler with nothing to run.
 */
#include <arch/acpi.h>
#include <arch/apic.h>
#include <arch/cpu.h>
#include <arch/memlayout.h>
#include <arch/paging.h>
#include <arch/percpu.h>
#include <arch/smp.h>
#include <arch/trap.h>
#include <kernel/cpulocal.h>
#include <kernel/printk.h>
#include <kernel/smp.h>
#include <kernel/time.h>
#include <lib/string.h>
#include <mm/phys.h>
#include <mm/vm.h>

#define APIC_ICR_NMI	   (4 << 8)
#define STARTUP_TIMEOUT_US 200000

extern const char ap_trampoline[], ap_trampoline_end[], ap_params[];

static volatile unsigned ap_booting;

static void __noreturn ap_main(void)
{
	cpu_ap_main(&cpus[ap_booting]);
}

static bool start_ap(unsigned id, uint32_t apic)
{
	struct cpu *c = &cpus[id];
	uint64_t top = vm_stack_alloc(KSTACK_SIZE); /* above a guard page */
	if (!top)
		return false;
	c->id = id;
	c->apic_id = apic;
	c->kstack_top = top;
	c->online = false;
	ap_booting = id;

	uint64_t *params =
	    (uint64_t *)((uint8_t *)phys_to_virt(AP_TRAMPOLINE_PHYS) + (ap_params - ap_trampoline));
	params[AP_PARAM_CR3 / 8] = vm_kernel_pml4_phys();
	params[AP_PARAM_STACK / 8] = top;
	params[AP_PARAM_ENTRY / 8] = (uint64_t)ap_main;

	apic_send_ipi(apic, APIC_ICR_INIT | APIC_ICR_ASSERT);
	time_delay_us(10000);
	for (int tries = 0; tries < 2; tries++) {
		apic_send_ipi(apic, APIC_ICR_STARTUP | (AP_TRAMPOLINE_PHYS >> 12));
		uint64_t end = time_ns() + STARTUP_TIMEOUT_US * 1000UL;
		while (time_ns() < end) {
			if (__atomic_load_n(&c->online, __ATOMIC_ACQUIRE))
				return true;
			cpu_relax();
		}
	}
	return false; /* its stack stays allocated: it may still come up late */
}

void smp_init(const struct acpi_info *acpi)
{
	size_t len = (size_t)(ap_trampoline_end - ap_trampoline);
	uint32_t me = cpus[0].apic_id;

	if (vm_kernel_pml4_phys() >= (1UL << 32)) {
		printk("smp: kernel page tables above 4 GiB; running on one CPU\n");
		return;
	}
	memcpy(phys_to_virt(AP_TRAMPOLINE_PHYS), ap_trampoline, len);
	/* The trampoline turns paging on while running at its physical address. */
	vm_identity_map_low(AP_TRAMPOLINE_PHYS, true);
	for (uint32_t i = 0; i < acpi->cpu_count && cpu_count < MAX_CPUS; i++) {
		uint32_t apic = acpi->cpus[i].apic_id;
		if (apic == me)
			continue;
		if (start_ap(cpu_count, apic))
			cpu_count++;
		else
			printk("smp: CPU with APIC id %u did not start\n", apic);
	}
	vm_identity_map_low(AP_TRAMPOLINE_PHYS, false);
	printk("smp: %u CPU(s) online\n", cpu_count);
}

void smp_stop_others(void)
{
	struct cpu *me = this_cpu();
	for (unsigned i = 0; i < cpu_count; i++) {
		if (&cpus[i] != me && cpus[i].online)
			apic_send_ipi(cpus[i].apic_id, APIC_ICR_NMI | APIC_ICR_ASSERT);
	}
}
