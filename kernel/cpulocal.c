/*
 * Per-CPU bring-up: the one sequence by which every CPU, the boot CPU and
 * each application processor alike, sets up its own state. The mechanism
 * of each step is in arch/; the order is policy and lives here.
 */
#include <arch/apic.h>
#include <arch/cpu.h>
#include <arch/fpu.h>
#include <arch/percpu.h>
#include <arch/trap.h>
#include <kernel/cpulocal.h>
#include <kernel/sched.h>

void cpu_local_init(struct cpu *c)
{
	percpu_init(c);	 /* GDT, TSS (kernel and IST stacks), GS base */
	idt_load();	 /* the shared IDT */
	apic_init_cpu(); /* this CPU's local APIC: enabled, LINTs and timer masked */
	c->apic_id = apic_id();
	fpu_enable();		/* x87/SSE for user code */
	cpu_protect_init();	/* SMEP, SMAP, UMIP */
	cpu_syscall_init();	/* SYSCALL entry and its RFLAGS mask */
	cpu_set_tsc_aux(c->id); /* RDTSCP tells user code its CPU */
	__atomic_store_n(&c->online, true, __ATOMIC_RELEASE);
}

void cpu_ap_main(struct cpu *c)
{
	cpu_local_init(c);
	sched_start();
}
