/* Multiprocessor support: stopping the other CPUs on panic. */
#include <arch/apic.h>
#include <arch/percpu.h>
#include <arch/trap.h>
#include <kernel/smp.h>

#define APIC_ICR_NMI (4 << 8)

void smp_stop_others(void)
{
	struct cpu *me = this_cpu();
	for (unsigned i = 0; i < cpu_count; i++) {
		if (&cpus[i] != me && cpus[i].online)
			apic_send_ipi(cpus[i].apic_id, APIC_ICR_NMI | APIC_ICR_ASSERT);
	}
}
