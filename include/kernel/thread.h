/* Thread slots, event rings and creation (kernel/thread.c). */
#pragma once

#include <kernel/types.h>

struct process;
struct thread;

/* A new thread of p on `cpu` with its event ring and FPU state, registered
 * in p->threads (the caller holds p->lock or p is not yet running) and
 * counted on its core; not yet runnable. -EAGAIN (no slot) or -ENOMEM. */
int thread_create(struct process *p, unsigned cpu, struct thread **out);
/* Free a stopped thread's ring and FPU area and its slot. */
void thread_free(struct thread *t);
