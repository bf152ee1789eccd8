/* The scheduler: per-CPU run queues of processes; no kernel threads. */
#pragma once

#include <arch/trap.h>

struct process;

/* A CPU exception raised by user code: terminate the process that did it. */
void sched_user_fault(struct trap_frame *tf, const char *note);
/* Last step before returning to user mode: maybe switch process. */
void sched_trap_exit(struct trap_frame *tf);
/* Enter the scheduler on this CPU for good (from boot code). */
void __noreturn sched_start(void);
void sched_init(void);
void sched_note_baseline(void);

/* Choose the process's CPU per its manifest; -EBUSY/-EINVAL with a reason. */
int sched_place(struct process *p, const char **why);
void sched_unplace(struct process *p);
/* Make a new process runnable. */
void sched_enqueue(struct process *p);
/* An event arrived for p: wake it if it waits. Any CPU, any context. */
void sched_wake(struct process *p);
/* p (on its own CPU) set a timer or wait deadline: the scheduler must look by then. */
void sched_note_deadline(struct process *p, uint64_t deadline);

/* Block the current process in wait() until an event or the deadline. */
long sched_wait(struct process *p, uint64_t timeout_ns);
/* Take p off its run queue for good (it is exiting). */
void sched_remove(struct process *p);
/* p is gone: if it was the last one, report and power off. */
void sched_process_gone(struct process *p);
/* Give up the rest of the time slice. */
void sched_yield(struct process *p);
