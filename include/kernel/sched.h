/* The scheduler: per-CPU run queues of threads; no kernel threads. */
#pragma once

#include <arch/trap.h>

struct process;
struct thread;

/* A CPU exception raised by user code: terminate the process that did it. */
void sched_user_fault(struct trap_frame *tf, const char *note);
/* Last step before returning to user mode: maybe switch thread. */
void sched_trap_exit(struct trap_frame *tf);
/* Enter the scheduler on this CPU for good (from boot code). */
void __noreturn sched_start(void);
void sched_init(void);
void sched_note_baseline(void);

/* Reserve the process's cores per its manifest (cpus=), or choose a shared
 * core; returns the core of its first thread, or -EBUSY/-EINVAL with a
 * reason. */
int sched_place(struct process *p, const char **why);
void sched_unplace(struct process *p);
/* Count a new thread on its core (the process's placement stays valid). */
void sched_thread_placed(struct thread *t);
/* Make a new thread runnable on t->cpu. */
void sched_enqueue(struct thread *t);
/* An event arrived for t: wake it if it waits. Any CPU, any context. */
void sched_wake(struct thread *t);
/* t (on its own CPU) set a timer or wait deadline: the scheduler must look by then. */
void sched_note_deadline(struct thread *t, uint64_t deadline);

/* Block the current thread in wait() until an event or the deadline. */
long sched_wait(struct thread *t, uint64_t timeout_ns);
/* Give up the rest of the time slice. */
void sched_yield(struct thread *t);
/*
 * Stop thread t of an ending process, from any CPU. Returns true if t was
 * not on a CPU and is now stopped: the caller counts it out
 * (proc_thread_gone). Otherwise its CPU is interrupted and counts it out
 * itself at its next return to user mode.
 */
bool sched_stop(struct thread *t);
/* The current thread stops for good (exit, thread_exit, a fatal fault); the
 * CPU has no current thread and leaves its address space. The caller then
 * counts it out. */
void sched_stop_current(struct thread *t);
/* p is gone: if it was the last process, report and power off. */
void sched_process_gone(struct process *p);
