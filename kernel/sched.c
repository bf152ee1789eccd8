/*
 * Scheduling without kernel threads. Every CPU has one kernel stack for
 * interrupts and system calls and a queue of the processes placed on it. A
 * process that is not running is nothing but its saved user registers
 * (struct trap_frame), FPU state and address space; switching is copying a
 * frame into the one the CPU is about to return to user mode with. The timer
 * is one-shot and armed only when needed: a core with a single process and
 * no deadline takes no interrupts at all.
 */
#include <arch/apic.h>
#include <arch/cpu.h>
#include <arch/memlayout.h>
#include <arch/percpu.h>
#include <kernel/kmem.h>
#include <kernel/page.h>
#include <kernel/power.h>
#include <kernel/printk.h>
#include <kernel/proc.h>
#include <kernel/sched.h>
#include <kernel/time.h>
#include <kernel/vm.h>
#include <lib/string.h>
#include <uapi/errno.h>

#define SLICE_NS (10 * NSEC_PER_MSEC)

/* arch/x86_64/syscall.S: switch to stack_top and return to user mode. */
void __noreturn sched_enter_first(uint64_t stack_top);

struct runqueue {
	struct spinlock lock;
	struct process *head, *tail;
	struct process *owner; /* exclusive owner from the manifest, if any */
	unsigned placed;       /* live processes placed here */
	bool idle;
	/*
	 * No deadline of a process here is earlier than this (0: none), so
	 * run_deadlines scans the process table only once it has passed.
	 * Setting a deadline lowers it; a scan recomputes it.
	 */
	uint64_t next_deadline;
};

static struct runqueue rqs[MAX_CPUS];
static unsigned live_procs;
static bool any_failed;

static void resched_ipi(struct trap_frame *tf, void *ctx)
{
	(void)tf;
	(void)ctx; /* the interrupt itself ended hlt; sched_trap_exit does the rest */
}

static void timer_irq(struct trap_frame *tf, void *ctx)
{
	(void)tf;
	(void)ctx;
	this_cpu()->ticks++;
}

void sched_init(void)
{
	for (unsigned i = 0; i < MAX_CPUS; i++)
		rqs[i].lock = (struct spinlock)SPINLOCK_INIT;
	irq_register(VEC_TIMER, timer_irq, NULL);
	irq_register(VEC_IPI_RESCHED, resched_ipi, NULL);
}

int sched_place(struct process *p, const char **why)
{
	int cpu = p->mf.cpu;
	if (cpu >= 0) {
		if ((unsigned)cpu >= cpu_count || !cpus[cpu].online) {
			*why = "cpu= names a CPU this machine does not have";
			return -EINVAL;
		}
		if (rqs[cpu].owner || rqs[cpu].placed) {
			*why = "cpu= names a CPU that is already taken";
			return -EBUSY;
		}
		rqs[cpu].owner = p;
	} else {
		/* The least loaded core that nobody owns exclusively. */
		for (unsigned i = 0; i < cpu_count; i++) {
			if (!cpus[i].online || rqs[i].owner)
				continue;
			if (cpu < 0 || rqs[i].placed < rqs[cpu].placed)
				cpu = (int)i;
		}
		if (cpu < 0) {
			*why = "every CPU is owned exclusively by another process";
			return -EBUSY;
		}
	}
	p->cpu = (unsigned)cpu;
	p->placed = true;
	rqs[cpu].placed++;
	__atomic_add_fetch(&live_procs, 1, __ATOMIC_SEQ_CST);
	return 0;
}

/* Returns how many placed processes remain. */
static unsigned unplace(struct process *p)
{
	struct runqueue *rq = &rqs[p->cpu];
	if (!p->placed)
		return __atomic_load_n(&live_procs, __ATOMIC_SEQ_CST);
	p->placed = false;
	if (rq->owner == p)
		rq->owner = NULL;
	rq->placed--;
	return __atomic_sub_fetch(&live_procs, 1, __ATOMIC_SEQ_CST);
}

void sched_unplace(struct process *p)
{
	unplace(p);
}

static void rq_push(struct runqueue *rq, struct process *p)
{
	p->rq_next = NULL;
	if (rq->tail)
		rq->tail->rq_next = p;
	else
		rq->head = p;
	rq->tail = p;
}

static struct process *rq_pop(struct runqueue *rq)
{
	struct process *p = rq->head;
	if (p) {
		rq->head = p->rq_next;
		if (!rq->head)
			rq->tail = NULL;
		p->rq_next = NULL;
	}
	return p;
}

static void rq_unlink(struct runqueue *rq, struct process *p)
{
	struct process **pp = &rq->head, *prev = NULL;
	while (*pp && *pp != p) {
		prev = *pp;
		pp = &(*pp)->rq_next;
	}
	if (!*pp)
		return;
	*pp = p->rq_next;
	if (rq->tail == p)
		rq->tail = prev;
	p->rq_next = NULL;
}

/* Another CPU may be halted in its idle loop: interrupt it. */
static void kick(unsigned cpu)
{
	if (cpu != this_cpu()->id && rqs[cpu].idle)
		apic_send_ipi(cpus[cpu].apic_id, APIC_ICR_FIXED | VEC_IPI_RESCHED);
}

void sched_enqueue(struct process *p)
{
	struct runqueue *rq = &rqs[p->cpu];
	unsigned long f = spin_lock_irqsave(&rq->lock);
	p->state = PROC_RUNNABLE;
	rq_push(rq, p);
	spin_unlock_irqrestore(&rq->lock, f);
	kick(p->cpu);
}

void sched_wake(struct process *p)
{
	struct runqueue *rq = &rqs[p->cpu];
	unsigned long f = spin_lock_irqsave(&rq->lock);
	bool woke = p->state == PROC_WAITING;
	if (woke) {
		p->state = PROC_RUNNABLE;
		rq_push(rq, p);
	}
	spin_unlock_irqrestore(&rq->lock, f);
	if (woke)
		kick(p->cpu);
}

long sched_wait(struct process *p, uint64_t timeout_ns)
{
	struct runqueue *rq = &rqs[p->cpu];
	unsigned long f = spin_lock_irqsave(&rq->lock);
	uint32_t pending = proc_pending_events(p);
	if (pending || timeout_ns == 0) {
		spin_unlock_irqrestore(&rq->lock, f);
		return pending;
	}
	uint64_t now = time_ns();
	p->wait_deadline = timeout_ns >= UINT64_MAX - now ? 0 : now + timeout_ns;
	sched_note_deadline(p, p->wait_deadline);
	p->in_wait = true;
	p->state = PROC_WAITING;
	spin_unlock_irqrestore(&rq->lock, f);
	return 0; /* replaced by the pending count when it resumes */
}

void sched_yield(struct process *p)
{
	p->slice_end = 0;
}

void sched_remove(struct process *p)
{
	struct runqueue *rq = &rqs[p->cpu];
	if (this_cpu()->current == p)
		p->cpu_ns += time_ns() - p->last_run_ns;
	unsigned long f = spin_lock_irqsave(&rq->lock);
	rq_unlink(rq, p);
	p->state = PROC_DEAD;
	spin_unlock_irqrestore(&rq->lock, f);
}

static size_t pages_at_start;

/*
 * Remember the free page count before the first process, for the summary.
 * Both counts are taken with the heap's cached empty slabs given back, so
 * they are equal exactly when nothing leaked.
 */
void sched_note_baseline(void)
{
	kmem_trim();
	pages_at_start = page_free_count();
}

static void print_summary(void)
{
	printk("all processes have exited:\n");
	for (int i = 0; i < PROC_MAX; i++) {
		struct process *p = &procs[i];
		if (p->state != PROC_DEAD)
			continue;
		printk("  pid %-3d %-16s %s %d, CPU %u, %lu ms CPU time\n", p->pid, p->name,
		       p->killed ? "killed " : "status ", p->exit_status, p->cpu,
		       p->cpu_ns / NSEC_PER_MSEC);
	}
	kmem_trim();
	printk("pages free: %zu before the first process, %zu now\n", pages_at_start,
	       page_free_count());
}

void sched_process_gone(struct process *p)
{
	if (p->exit_status != 0)
		any_failed = true;
	if (unplace(p) == 0) { /* exactly one CPU sees the count reach zero */
		print_summary();
		power_exit(any_failed ? EXIT_FAIL : EXIT_PASS);
	}
}

void sched_note_deadline(struct process *p, uint64_t deadline)
{
	struct runqueue *rq = &rqs[p->cpu];
	/* Only p's own CPU sets its deadlines: no other writer races this. */
	if (deadline && (!rq->next_deadline || deadline < rq->next_deadline))
		rq->next_deadline = deadline;
}

/* Fire due timers and time out due waits of the processes on this CPU;
 * returns the earliest future deadline (0 if none). */
static uint64_t run_deadlines(unsigned cpu, uint64_t now)
{
	uint64_t next = 0;
	if (!rqs[cpu].next_deadline || now < rqs[cpu].next_deadline)
		return rqs[cpu].next_deadline; /* nothing due: no scan */
	for (int i = 0; i < PROC_MAX; i++) {
		struct process *p = &procs[i];
		if (p->cpu != cpu || p->state == PROC_FREE || p->state == PROC_DEAD)
			continue;
		if (p->timer_deadline && p->timer_deadline <= now) {
			uint64_t d = p->timer_deadline;
			p->timer_deadline = 0;
			proc_post_event(p, EV_TIMER, p->timer_cookie, d, now);
		}
		if (p->state == PROC_WAITING && p->wait_deadline && p->wait_deadline <= now)
			sched_wake(p);
		uint64_t d1 = p->timer_deadline;
		uint64_t d2 = p->state == PROC_WAITING ? p->wait_deadline : 0;
		if (d1 && (!next || d1 < next))
			next = d1;
		if (d2 && (!next || d2 < next))
			next = d2;
	}
	rqs[cpu].next_deadline = next;
	return next;
}

/* One-shot timer for the earliest of: the deadlines, the end of the current
 * slice if someone else is runnable. Nothing due: no interrupt at all. */
static void arm_timer(struct cpu *c, uint64_t now, uint64_t deadline)
{
	struct process *cur = c->current;
	if (cur && rqs[c->id].head && (!deadline || cur->slice_end < deadline))
		deadline = cur->slice_end;
	if (!deadline) {
		apic_timer_stop();
		return;
	}
	apic_timer_oneshot(deadline > now ? deadline - now : 1);
}

static void save_current(struct process *p, const struct trap_frame *tf, uint64_t now)
{
	p->frame = *tf;
	__asm__ volatile("fxsave64 %0" : "=m"(*(uint8_t(*)[512])p->fpu));
	p->cpu_ns += now - p->last_run_ns;
}

static void resume(struct cpu *c, struct process *p, struct trap_frame *tf, uint64_t now)
{
	if (p->in_wait) {
		p->in_wait = false;
		p->wait_deadline = 0;
		p->frame.rax = proc_pending_events(p);
	}
	*tf = p->frame;
	__asm__ volatile("fxrstor64 %0" : : "m"(*(uint8_t(*)[512])p->fpu));
	vmspace_activate(&p->vs);
	p->state = PROC_RUNNING;
	p->slice_end = now + SLICE_NS;
	p->last_run_ns = now;
	c->current = p;
}

/* Next runnable process of this CPU; halts until there is one. */
static struct process *pick_next(struct cpu *c)
{
	struct runqueue *rq = &rqs[c->id];
	for (;;) {
		uint64_t now = time_ns();
		uint64_t deadline = run_deadlines(c->id, now);
		spin_lock(&rq->lock);
		struct process *p = rq_pop(rq);
		rq->idle = !p;
		spin_unlock(&rq->lock);
		if (p)
			return p;
		arm_timer(c, now, deadline);
		/* sti takes effect after hlt starts: no wake-up is lost. */
		__asm__ volatile("sti; hlt; cli" : : : "memory");
		c->idle_ns += time_ns() - now;
	}
}

void sched_trap_exit(struct trap_frame *tf)
{
	struct cpu *c = this_cpu();
	struct process *cur = c->current;
	uint64_t now = time_ns();
	uint64_t deadline = run_deadlines(c->id, now);

	if (cur && cur->state == PROC_RUNNING) {
		if (now < cur->slice_end || !rqs[c->id].head) {
			if (now >= cur->slice_end)
				cur->slice_end = now + SLICE_NS;
			arm_timer(c, now, deadline);
			return;
		}
		save_current(cur, tf, now);
		sched_enqueue(cur);
	} else if (cur && cur->state != PROC_DEAD) {
		save_current(cur, tf, now); /* waiting, or woken already */
	}
	c->current = NULL;
	struct process *next = pick_next(c);
	now = time_ns();
	resume(c, next, tf, now);
	arm_timer(c, now, run_deadlines(c->id, now));
}

void sched_user_fault(struct trap_frame *tf)
{
	struct process *p = this_cpu()->current;
	if (!p) {
		trap_dump(tf);
		panic("user-mode exception with no current process");
	}
	proc_report_fault(p, tf);
	p->killed = true;
	proc_exit(p, 128 + (int)tf->vector);
}

/* Leave the boot path for good: this CPU's stack (the one its boot code ran
 * on) becomes its kernel stack for interrupts and system calls. */
void sched_start(void)
{
	struct cpu *c = this_cpu();
	c->tss.rsp[0] = c->kstack_top;
	sched_enter_first(c->kstack_top);
}

/* Called by sched_enter_first on the CPU's own stack with a blank frame. */
void sched_first(struct trap_frame *tf);
void sched_first(struct trap_frame *tf)
{
	struct cpu *c = this_cpu();
	struct process *next = pick_next(c);
	uint64_t now = time_ns();
	resume(c, next, tf, now);
	arm_timer(c, now, run_deadlines(c->id, now));
}
