/* Per-CPU data, reached through GS in the kernel. */
#pragma once

#include <arch/gdt.h>

#define MAX_CPUS	 64
#define CPU_OFF_KSTACK	 8
#define CPU_OFF_USER_RSP 16

#ifndef __ASSEMBLER__
#include <kernel/types.h>

struct thread;
struct vmspace;

/* Fields without a note are written only by their own CPU. */
struct cpu {
	struct cpu *self;    /* 0: for %gs:0 */
	uint64_t kstack_top; /* 8: loaded by syscall entry */
	uint64_t user_rsp;   /* 16: scratch for syscall entry */
	uint32_t id;	     /* index in cpus[] */
	uint32_t apic_id;
	struct thread *current;
	const struct vmspace *vs_loaded; /* whose page tables CR3 holds; NULL: the kernel's */
	/* mm/tlb.c: a request from another CPU (which holds the shootdown
	 * lock while it waits for the answer: tlb_req back to 0) */
	const struct vmspace *tlb_req_vs;
	volatile uint32_t tlb_req;
	bool online;
	uint64_t ticks;
	uint64_t idle_ns; /* time spent halted */
	struct tss tss __attribute__((aligned(16)));
	uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16)));
	uint64_t ist_top[3]; /* tops of the IST stacks (IST_DF, IST_NMI, IST_MC) */
};

STATIC_ASSERT(offsetof(struct cpu, kstack_top) == CPU_OFF_KSTACK, "asm offset");
STATIC_ASSERT(offsetof(struct cpu, user_rsp) == CPU_OFF_USER_RSP, "asm offset");

extern struct cpu cpus[MAX_CPUS];
extern unsigned cpu_count;

static inline struct cpu *this_cpu(void)
{
	struct cpu *c;
	__asm__ volatile("movq %%gs:0, %0" : "=r"(c));
	return c;
}

/* This CPU's GDT, TSS and GS base (c->kstack_top set); its IST stacks are
 * allocated here, each above a guard page (mm/vm.c). */
void percpu_init(struct cpu *c);
/* Just GS's base, for the boot CPU before the heap exists. */
void percpu_early_init(struct cpu *c);
/* Find this CPU without trusting GS and reload GS's base (fatal paths). */
struct cpu *percpu_recover(void);
#endif
