/* Per-CPU bring-up, the same for every CPU (kernel/cpulocal.c). */
#pragma once

struct cpu;

/* Set up this CPU's own state; c->id, c->kstack_top and c->ist_stacks are set. */
void cpu_local_init(struct cpu *c);
/* An application processor's first C code after the trampoline: bring-up,
 * then the scheduler. */
void __attribute__((noreturn)) cpu_ap_main(struct cpu *c);
