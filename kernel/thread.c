/*
 * Threads: one register set on one core, in its process's address space,
 * with its own event ring (so a NIC queue's interrupt wakes the thread that
 * owns the queue, and nothing else). A process starts with one thread; it
 * may start one more on each core the manifest gave it (cpus=).
 */
#include <arch/cpu.h>
#include <arch/fpu.h>
#include <arch/gdt.h>
#include <arch/memlayout.h>
#include <kernel/printk.h>
#include <kernel/proc.h>
#include <kernel/sched.h>
#include <kernel/thread.h>
#include <lib/string.h>
#include <mm/kmem.h>
#include <mm/page.h>
#include <mm/phys.h>
#include <mm/vmspace.h>
#include <uapi/errno.h>
#include <uapi/syscall.h>

#define RING_PAGES (ALIGN_UP(sizeof(struct mc_event_ring), PAGE_SIZE) / PAGE_SIZE)

struct thread threads[THREAD_MAX];
static struct spinlock threads_lock = SPINLOCK_INIT;
static uint8_t fpu_initial[FPU_AREA_SIZE] __attribute__((aligned(FPU_AREA_ALIGN)));

/* Capture the clean FPU state every new thread starts with. */
void proc_fpu_init(void)
{
	fpu_init_state(fpu_initial);
}

static struct thread *slot_alloc(struct process *p)
{
	unsigned long f = spin_lock_irqsave(&threads_lock);
	struct thread *t = NULL;
	for (int i = 0; i < THREAD_MAX; i++) {
		if (!threads[i].proc) {
			t = &threads[i];
			memset(t, 0, sizeof(*t));
			t->proc = p;
			break;
		}
	}
	spin_unlock_irqrestore(&threads_lock, f);
	return t;
}

/* Two shared pages the kernel fills and the thread drains (uapi/event.h). */
static int setup_ring(struct thread *t)
{
	t->ring_pa = page_alloc_zeroed(RING_PAGES);
	if (!t->ring_pa)
		return -ENOMEM;
	struct mc_event_ring *r = phys_to_virt(t->ring_pa);
	r->entries = EVENT_RING_ENTRIES;
	long va = vmspace_map_phys(&t->proc->vs, 0, t->ring_pa, RING_PAGES * PAGE_SIZE,
				   PROT_READ | PROT_WRITE, false, VMR_SHARED);
	if (va < 0)
		return (int)va;
	t->ring_uva = (uintptr_t)va;
	t->ring = r;
	return 0;
}

void thread_free(struct thread *t)
{
	/* An interrupt on another CPU may be posting right now: take the ring
	 * away under the lock thread_post_event holds while it writes. */
	unsigned long f = spin_lock_irqsave(&t->ev_lock);
	t->ring = NULL;
	spin_unlock_irqrestore(&t->ev_lock, f);
	if (t->ring_pa)
		page_free(t->ring_pa, RING_PAGES);
	t->ring_pa = 0;
	kfree(t->fpu);
	t->fpu = NULL;
	__atomic_store_n(&t->proc, NULL, __ATOMIC_RELEASE); /* the slot is free */
}

int thread_create(struct process *p, unsigned cpu, struct thread **out)
{
	struct thread *t = slot_alloc(p);
	if (!t)
		return -EAGAIN;
	t->cpu = cpu;
	t->state = THREAD_DEAD; /* not schedulable until set up */
	t->fpu = kmalloc(FPU_AREA_SIZE);
	int err = t->fpu ? setup_ring(t) : -ENOMEM;
	if (err) {
		thread_free(t);
		return err;
	}
	memcpy(t->fpu, fpu_initial, FPU_AREA_SIZE);
	t->tid = (int)p->nthreads;
	p->threads[p->nthreads++] = t;
	sched_thread_placed(t);
	*out = t;
	return 0;
}

uint32_t thread_pending_events(struct thread *t)
{
	uint32_t head = __atomic_load_n(&t->ring->head, __ATOMIC_ACQUIRE);
	uint32_t tail = __atomic_load_n(&t->ring->tail, __ATOMIC_ACQUIRE);
	uint32_t n = head - tail;
	return n > EVENT_RING_ENTRIES ? EVENT_RING_ENTRIES : n;
}

void thread_post_event(struct thread *t, uint32_t type, uint64_t d0, uint64_t d1, uint64_t d2)
{
	unsigned long f = spin_lock_irqsave(&t->ev_lock);
	struct mc_event_ring *r = t->ring;
	if (!r || t->state == THREAD_DEAD || t->state == THREAD_FREE) {
		spin_unlock_irqrestore(&t->ev_lock, f);
		return;
	}
	uint32_t head = r->head;
	/* tail is the process's to write: trust it only to decide "full". */
	if (head - __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) >= EVENT_RING_ENTRIES) {
		r->dropped++;
	} else {
		struct mc_event *e = &r->ev[head & (EVENT_RING_ENTRIES - 1)];
		e->type = type;
		e->flags = 0;
		e->data[0] = d0;
		e->data[1] = d1;
		e->data[2] = d2;
		__atomic_store_n(&r->head, head + 1, __ATOMIC_RELEASE);
	}
	spin_unlock_irqrestore(&t->ev_lock, f);
	sched_wake(t);
}

static bool user_addr(uint64_t a)
{
	return a >= USER_MIN && a < USER_MAX;
}

/* The live thread of p on `cpu`, if any. Under p->lock. */
static struct thread *thread_on(struct process *p, unsigned cpu)
{
	for (unsigned i = 0; i < p->nthreads; i++) {
		struct thread *t = p->threads[i];
		if (t && t->cpu == cpu && t->state != THREAD_DEAD)
			return t;
	}
	return NULL;
}

/*
 * thread_start(cpu, entry, arg, stack): a new thread of the caller's
 * process on `cpu`, which the process must own. It starts at `entry` with
 * rdi = arg, rsi = its event ring, rdx = cpu, rcx = its id, rsp = stack
 * (16-aligned, the top of memory the process provides). Returns its id.
 */
long sys_thread_start(struct thread *cur, uint64_t cpu, uint64_t entry, uint64_t arg,
		      uint64_t stack)
{
	struct process *p = cur->proc;
	if (cpu >= MAX_CPUS || !(p->mf.cpus & (1ULL << cpu)))
		return -EPERM;
	if (!user_addr(entry) || !user_addr(stack) || stack & 15)
		return -EINVAL;
	if (!vmspace_check(&p->vs, stack - 16, 16, true))
		return -EFAULT;
	/* Under p->lock throughout: two starts on one core cannot both pass the
	 * check, and an exit either sees the new thread runnable or refuses it. */
	struct thread *t;
	unsigned long f = spin_lock_irqsave(&p->lock);
	int err = p->exiting			? -ESRCH
		  : thread_on(p, (unsigned)cpu) ? -EBUSY
		  : p->nthreads == PROC_THREADS ? -EAGAIN
						: thread_create(p, (unsigned)cpu, &t);
	if (err) {
		spin_unlock_irqrestore(&p->lock, f);
		return err;
	}
	t->frame = (struct trap_frame){
	    .rip = entry,
	    .cs = SEL_UCODE,
	    .rflags = RFLAGS_IF | 0x2, /* bit 1 is always set */
	    .rsp = stack,
	    .ss = SEL_UDATA,
	    .rdi = arg,
	    .rsi = t->ring_uva,
	    .rdx = cpu,
	    .rcx = (uint64_t)p->nthreads - 1, /* its id */
	};
	p->live_threads++;
	sched_enqueue(t);
	spin_unlock_irqrestore(&p->lock, f);
	return t->tid;
}

/* thread_wake(tid, value): post EV_WAKE (value, sender's tid) to another
 * thread of the same process. */
long sys_thread_wake(struct thread *cur, uint64_t tid, uint64_t value)
{
	struct process *p = cur->proc;
	unsigned long f = spin_lock_irqsave(&p->lock);
	struct thread *t = tid < p->nthreads ? p->threads[tid] : NULL;
	bool live = t && t->state != THREAD_DEAD && !t->stop;
	spin_unlock_irqrestore(&p->lock, f);
	if (!live)
		return -ESRCH;
	thread_post_event(t, EV_WAKE, value, (uint64_t)cur->tid, 0);
	return 0;
}
