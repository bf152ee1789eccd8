/*
 * Threads: one per core the process owns (cpus= in its manifest, the cores
 * in AT_MC_CPUS), all in the process's address space. A thread has its own
 * event ring, so the events of what it attached (a NIC queue pair, its
 * timer) wake it and nobody else; mc_event_pop and mc_wait use the calling
 * thread's ring. exit() ends every thread; mc_thread_exit ends one (the
 * last one's status is the process's). A fault in any thread ends them all.
 *
 *	static void worker(void *arg) { ... }
 *	for (unsigned cpu = 0; cpu < 64; cpu++)
 *		if (mc_cpus_owned() & (1ULL << cpu) && cpu != mc_cpu_now())
 *			mc_thread_start(cpu, worker, arg, 0);
 *
 * errno is per thread; stdout (printf) and malloc are safe to use from
 * every thread. Other runtime state is not locked: share it explicitly.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define MC_THREAD_STACK (256 * 1024) /* default stack size */

/*
 * Start fn(arg) on core `cpu` with a fresh stack of stack_size bytes (0:
 * MC_THREAD_STACK; unmapped guard gaps lie around it). Returns the thread's
 * id (> 0) or -1 with errno: EPERM (a core the process does not own), EBUSY
 * (one of its threads runs there already), ENOMEM.
 */
int mc_thread_start(unsigned cpu, void (*fn)(void *arg), void *arg, size_t stack_size);
/* End the calling thread; the process ends with the last one. */
__attribute__((noreturn)) void mc_thread_exit(int status);
/* Post EV_WAKE (value, the caller's id) to thread `tid`; -1/ESRCH if gone. */
int mc_thread_wake(int tid, uint64_t value);
/* The calling thread's id (0 for the first thread) and the cores owned. */
int mc_thread_id(void);
uint64_t mc_cpus_owned(void);
/* The core the caller runs on (RDTSCP's TSC_AUX, which the kernel sets). */
unsigned mc_cpu_now(void);
