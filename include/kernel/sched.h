/* The scheduler's interface to trap and interrupt code. */
#pragma once

#include <arch/trap.h>

/* A CPU exception raised by user code: terminate the process that did it. */
void sched_user_fault(struct trap_frame *tf);
/* Last step before returning to user mode: maybe switch process. */
void sched_trap_exit(struct trap_frame *tf);
/* Called from the timer interrupt on each CPU. */
void sched_tick(struct trap_frame *tf);
