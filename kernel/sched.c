/*
 * Scheduling without kernel threads. Every CPU has one kernel stack for
 * interrupts and system calls and a queue of the threads placed on it. A
 * thread that is not running is nothing but its saved user registers
 * (struct trap_frame), FPU state and its process's address space; switching
 * is copying a frame into the one the CPU is about to return to user mode
 * with. The timer is one-shot and armed only when needed: a core with a
 * single thread and no deadline takes no interrupts at all.
 *
 * A thread lives on one CPU for its whole life. Its state, `on_cpu` and
 * `stop` change under that CPU's run-queue lock, whichever CPU changes them.
 */
#include <arch/apic.h>
#include <arch/cpu.h>
#include <arch/fpu.h>
#include <arch/memlayout.h>
#include <arch/percpu.h>
#include <kernel/power.h>
#include <kernel/printk.h>
#include <kernel/proc.h>
#include <kernel/sched.h>
#include <kernel/time.h>
#include <lib/string.h>
#include <mm/kmem.h>
#include <mm/page.h>
#include <mm/vm.h>
#include <uapi/errno.h>

#define SLICE_NS (10 * NSEC_PER_MSEC)

/* arch/x86_64/syscall.S: switch to stack_top and return to user mode. */
void __noreturn sched_enter_first(uint64_t stack_top);

struct runqueue {
	struct spinlock lock;
	struct thread *head, *tail; /* runnable threads, under lock */
	struct process *owner;	    /* exclusive owner from the manifest, if any */
	unsigned placed;	    /* live threads placed here, under place_lock */
	bool idle;		    /* halted with nothing to run, under lock */
	/*
	 * No deadline of a thread here is earlier than this (0: none), so
	 * run_deadlines scans the thread table only once it has passed.
	 * Setting a deadline lowers it; a scan recomputes it. This CPU only.
	 */
	uint64_t next_deadline;
};

static struct runqueue rqs[MAX_CPUS];
static struct spinlock place_lock = SPINLOCK_INIT; /* owner, placed */
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

static bool cpu_usable(unsigned cpu)
{
	return cpu < cpu_count && cpus[cpu].online;
}

/* Reserve every core of the process's cpus= set, all or nothing. */
static int place_owned(struct process *p, const char **why)
{
	uint64_t want = p->mf.cpus;
	for (unsigned c = 0; c < MAX_CPUS; c++) {
		if (!(want & (1ULL << c)))
			continue;
		if (!cpu_usable(c)) {
			*why = "cpu=/cpus= names a CPU this machine does not have";
			return -EINVAL;
		}
		if (rqs[c].owner || rqs[c].placed) {
			*why = "cpu=/cpus= names a CPU that is already taken";
			return -EBUSY;
		}
	}
	for (unsigned c = 0; c < MAX_CPUS; c++)
		if (want & (1ULL << c))
			rqs[c].owner = p;
	return __builtin_ctzll(want); /* the first thread runs on the lowest */
}

/* The least loaded core that nobody owns exclusively. */
static int place_shared(const char **why)
{
	int cpu = -1;
	for (unsigned i = 0; i < cpu_count; i++) {
		if (!cpus[i].online || rqs[i].owner)
			continue;
		if (cpu < 0 || rqs[i].placed < rqs[cpu].placed)
			cpu = (int)i;
	}
	if (cpu < 0)
		*why = "every CPU is owned exclusively by another process";
	return cpu < 0 ? -EBUSY : cpu;
}

int sched_place(struct process *p, const char **why)
{
	spin_lock(&place_lock);
	int cpu = p->mf.cpus ? place_owned(p, why) : place_shared(why);
	if (cpu >= 0) {
		p->placed = true;
		__atomic_add_fetch(&live_procs, 1, __ATOMIC_SEQ_CST);
	}
	spin_unlock(&place_lock);
	return cpu;
}

void sched_thread_placed(struct thread *t)
{
	spin_lock(&place_lock);
	rqs[t->cpu].placed++;
	spin_unlock(&place_lock);
}

/* Returns how many placed processes remain. */
static unsigned unplace(struct process *p)
{
	spin_lock(&place_lock);
	if (!p->placed) {
		spin_unlock(&place_lock);
		return __atomic_load_n(&live_procs, __ATOMIC_SEQ_CST);
	}
	p->placed = false;
	for (unsigned c = 0; c < MAX_CPUS; c++)
		if (rqs[c].owner == p)
			rqs[c].owner = NULL;
	for (unsigned i = 0; i < p->nthreads; i++)
		if (p->threads[i])
			rqs[p->threads[i]->cpu].placed--;
	spin_unlock(&place_lock);
	return __atomic_sub_fetch(&live_procs, 1, __ATOMIC_SEQ_CST);
}

void sched_unplace(struct process *p)
{
	unplace(p);
}

static void rq_push(struct runqueue *rq, struct thread *t)
{
	t->rq_next = NULL;
	if (rq->tail)
		rq->tail->rq_next = t;
	else
		rq->head = t;
	rq->tail = t;
}

static struct thread *rq_pop(struct runqueue *rq)
{
	struct thread *t = rq->head;
	if (t) {
		rq->head = t->rq_next;
		if (!rq->head)
			rq->tail = NULL;
		t->rq_next = NULL;
	}
	return t;
}

static void rq_unlink(struct runqueue *rq, struct thread *t)
{
	struct thread **pp = &rq->head, *prev = NULL;
	while (*pp && *pp != t) {
		prev = *pp;
		pp = &(*pp)->rq_next;
	}
	if (!*pp)
		return;
	*pp = t->rq_next;
	if (rq->tail == t)
		rq->tail = prev;
	t->rq_next = NULL;
}

/* Another CPU may be halted in its idle loop: interrupt it. */
static void kick(unsigned cpu)
{
	if (cpu != this_cpu()->id && rqs[cpu].idle)
		apic_send_ipi(cpus[cpu].apic_id, APIC_ICR_FIXED | VEC_IPI_RESCHED);
}

void sched_enqueue(struct thread *t)
{
	struct runqueue *rq = &rqs[t->cpu];
	unsigned long f = spin_lock_irqsave(&rq->lock);
	t->state = THREAD_RUNNABLE;
	rq_push(rq, t);
	spin_unlock_irqrestore(&rq->lock, f);
	kick(t->cpu);
}

void sched_wake(struct thread *t)
{
	struct runqueue *rq = &rqs[t->cpu];
	unsigned long f = spin_lock_irqsave(&rq->lock);
	bool woke = t->state == THREAD_WAITING;
	if (woke) {
		t->state = THREAD_RUNNABLE;
		rq_push(rq, t);
	}
	spin_unlock_irqrestore(&rq->lock, f);
	if (woke)
		kick(t->cpu);
}

long sched_wait(struct thread *t, uint64_t timeout_ns)
{
	struct runqueue *rq = &rqs[t->cpu];
	unsigned long f = spin_lock_irqsave(&rq->lock);
	uint32_t pending = thread_pending_events(t);
	if (pending || timeout_ns == 0 || t->stop) {
		spin_unlock_irqrestore(&rq->lock, f);
		return pending;
	}
	uint64_t now = time_ns();
	t->wait_deadline = timeout_ns >= UINT64_MAX - now ? 0 : now + timeout_ns;
	sched_note_deadline(t, t->wait_deadline);
	t->in_wait = true;
	t->state = THREAD_WAITING;
	spin_unlock_irqrestore(&rq->lock, f);
	return 0; /* replaced by the pending count when it resumes */
}

void sched_yield(struct thread *t)
{
	t->slice_end = 0;
}

bool sched_stop(struct thread *t)
{
	struct runqueue *rq = &rqs[t->cpu];
	unsigned long f = spin_lock_irqsave(&rq->lock);
	if (t->state == THREAD_DEAD || t->stop) {
		spin_unlock_irqrestore(&rq->lock, f);
		return false; /* stopped already, or being stopped by its CPU */
	}
	t->stop = true;
	if (t->on_cpu) {
		spin_unlock_irqrestore(&rq->lock, f);
		if (t->cpu != this_cpu()->id)
			apic_send_ipi(cpus[t->cpu].apic_id, APIC_ICR_FIXED | VEC_IPI_RESCHED);
		return false;
	}
	rq_unlink(rq, t);
	t->state = THREAD_DEAD;
	spin_unlock_irqrestore(&rq->lock, f);
	return true;
}

void sched_stop_current(struct thread *t)
{
	struct runqueue *rq = &rqs[t->cpu];
	uint64_t now = time_ns();
	t->cpu_ns += now - t->last_run_ns;
	t->last_run_ns = now;
	unsigned long f = spin_lock_irqsave(&rq->lock);
	rq_unlink(rq, t);
	t->stop = true;
	t->state = THREAD_DEAD;
	t->on_cpu = false;
	spin_unlock_irqrestore(&rq->lock, f);
	this_cpu()->current = NULL;
	vmspace_activate_kernel(); /* its address space may be freed now */
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
		printk("  pid %-3d %-16s %s %d, %u thread%s, %lu ms CPU time\n", p->pid, p->name,
		       p->killed ? "killed " : "status ", p->exit_status, p->nthreads,
		       p->nthreads == 1 ? "" : "s", p->cpu_ns / NSEC_PER_MSEC);
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

void sched_note_deadline(struct thread *t, uint64_t deadline)
{
	struct runqueue *rq = &rqs[t->cpu];
	/* Only t's own CPU sets its deadlines: no other writer races this. */
	if (deadline && (!rq->next_deadline || deadline < rq->next_deadline))
		rq->next_deadline = deadline;
}

/* Fire due timers and time out due waits of the threads on this CPU;
 * returns the earliest future deadline (0 if none). */
static uint64_t run_deadlines(unsigned cpu, uint64_t now)
{
	uint64_t next = 0;
	if (!rqs[cpu].next_deadline || now < rqs[cpu].next_deadline)
		return rqs[cpu].next_deadline; /* nothing due: no scan */
	for (int i = 0; i < THREAD_MAX; i++) {
		struct thread *t = &threads[i];
		if (!t->proc || t->cpu != cpu || t->state == THREAD_FREE || t->state == THREAD_DEAD)
			continue;
		if (t->timer_deadline && t->timer_deadline <= now) {
			uint64_t d = t->timer_deadline;
			t->timer_deadline = 0;
			thread_post_event(t, EV_TIMER, t->timer_cookie, d, now);
		}
		if (t->state == THREAD_WAITING && t->wait_deadline && t->wait_deadline <= now)
			sched_wake(t);
		uint64_t d1 = t->timer_deadline;
		uint64_t d2 = t->state == THREAD_WAITING ? t->wait_deadline : 0;
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
	struct thread *cur = c->current;
	if (cur && rqs[c->id].head && (!deadline || cur->slice_end < deadline))
		deadline = cur->slice_end;
	if (!deadline) {
		apic_timer_stop();
		return;
	}
	apic_timer_oneshot(deadline > now ? deadline - now : 1);
}

static void save_current(struct thread *t, const struct trap_frame *tf, uint64_t now)
{
	t->frame = *tf;
	fpu_save(t->fpu);
	t->cpu_ns += now - t->last_run_ns;
}

static void resume(struct cpu *c, struct thread *t, struct trap_frame *tf, uint64_t now)
{
	if (t->in_wait) {
		t->in_wait = false;
		t->wait_deadline = 0;
		t->frame.rax = thread_pending_events(t);
	}
	*tf = t->frame;
	fpu_restore(t->fpu);
	vmspace_activate(&t->proc->vs);
	t->slice_end = now + SLICE_NS;
	t->last_run_ns = now;
	c->current = t;
}

/* Next runnable thread of this CPU, marked on_cpu; halts until there is one. */
static struct thread *pick_next(struct cpu *c)
{
	struct runqueue *rq = &rqs[c->id];
	for (;;) {
		uint64_t now = time_ns();
		uint64_t deadline = run_deadlines(c->id, now);
		spin_lock(&rq->lock);
		struct thread *t = rq_pop(rq);
		rq->idle = !t;
		if (t) {
			t->on_cpu = true;
			t->state = THREAD_RUNNING;
		}
		spin_unlock(&rq->lock);
		if (t)
			return t;
		arm_timer(c, now, deadline);
		cpu_idle_wait(); /* no wake-up is lost between the check and the halt */
		c->idle_ns += time_ns() - now;
	}
}

/*
 * The current thread leaves the CPU (it waits, its slice ended, or it was
 * woken already). Its frame is saved first; on_cpu drops under the lock,
 * where a stop request from another CPU is either seen here or sees that
 * the thread is off the CPU and stops it itself.
 */
static void switch_out(struct cpu *c, struct thread *cur, const struct trap_frame *tf, uint64_t now)
{
	struct runqueue *rq = &rqs[c->id];
	save_current(cur, tf, now);
	spin_lock(&rq->lock);
	cur->on_cpu = false;
	bool stopped = cur->stop && cur->state != THREAD_DEAD;
	if (stopped) {
		rq_unlink(rq, cur);
		cur->state = THREAD_DEAD;
	} else if (cur->state == THREAD_RUNNING) {
		cur->state = THREAD_RUNNABLE;
		rq_push(rq, cur);
	}
	spin_unlock(&rq->lock);
	if (stopped)
		proc_thread_gone(cur);
}

void sched_trap_exit(struct trap_frame *tf)
{
	struct cpu *c = this_cpu();
	struct thread *cur = c->current;
	uint64_t now = time_ns();
	uint64_t deadline = run_deadlines(c->id, now);

	if (cur && cur->stop && cur->state != THREAD_DEAD) {
		sched_stop_current(cur); /* its process is ending */
		proc_thread_gone(cur);
		cur = NULL;
	}
	if (cur && cur->state == THREAD_RUNNING) {
		if (now < cur->slice_end || !rqs[c->id].head) {
			if (now >= cur->slice_end)
				cur->slice_end = now + SLICE_NS;
			arm_timer(c, now, deadline);
			return;
		}
		switch_out(c, cur, tf, now);
	} else if (cur && cur->state != THREAD_DEAD) {
		switch_out(c, cur, tf, now); /* waiting, or woken already */
	}
	c->current = NULL;
	struct thread *next = pick_next(c);
	now = time_ns();
	resume(c, next, tf, now);
	arm_timer(c, now, run_deadlines(c->id, now));
}

void sched_user_fault(struct trap_frame *tf, const char *note)
{
	struct thread *t = this_cpu()->current;
	if (!t) {
		trap_dump(tf);
		panic("user-mode exception with no current thread");
	}
	proc_report_fault(t, tf, note);
	t->proc->killed = true;
	proc_exit(t->proc, 128 + (int)tf->vector);
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
	struct thread *next = pick_next(c);
	uint64_t now = time_ns();
	resume(c, next, tf, now);
	arm_timer(c, now, run_deadlines(c->id, now));
}
