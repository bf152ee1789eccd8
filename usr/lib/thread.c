/* Threads (mc/thread.h): stacks, the start trampoline's C half, per-thread state. */
#include <stdbool.h>
#include <stdint.h>

#include <mc/errno.h>
#include <mc/event.h>
#include <mc/runtime.h>
#include <mc/stdio.h>
#include <mc/sys.h>
#include <mc/thread.h>

#define MAX_CPUS 64

/* Per-core state, indexed by the core a thread runs on (one thread each). */
static struct mc_event_ring *rings[MAX_CPUS];
static int tids[MAX_CPUS];
static int errnos[MAX_CPUS];

struct start {
	void (*fn)(void *arg);
	void *arg;
};

/* arch: thread_entry.S, entered by the kernel with rdi = start block. */
void mc_thread_entry(void);
__attribute__((noreturn)) void __mc_thread_main(struct start *s, struct mc_event_ring *ring,
						unsigned cpu, int tid);

static int rdtscp_ok = -1;

static bool have_rdtscp(void)
{
	if (rdtscp_ok < 0) {
		uint32_t a, b, c, d;
		__asm__ volatile("cpuid"
				 : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
				 : "a"(0x80000000), "c"(0));
		rdtscp_ok = 0;
		if (a >= 0x80000001) {
			__asm__ volatile("cpuid"
					 : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
					 : "a"(0x80000001), "c"(0));
			rdtscp_ok = (d >> 27) & 1;
		}
	}
	return rdtscp_ok;
}

unsigned mc_cpu_now(void)
{
	if (!have_rdtscp())
		return mc_cpu(); /* without RDTSCP only the first thread exists */
	uint32_t lo, hi, aux;
	__asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
	(void)lo;
	(void)hi;
	return aux % MAX_CPUS;
}

int *mc_errno_location(void)
{
	return &errnos[mc_cpu_now()];
}

struct mc_event_ring *mc_event_ring(void)
{
	unsigned cpu = mc_cpu_now();
	if (!rings[cpu] && cpu == mc_cpu())
		rings[cpu] = (struct mc_event_ring *)(uintptr_t)mc_getauxval(AT_MC_EVENT_RING);
	return rings[cpu];
}

int mc_thread_id(void)
{
	return tids[mc_cpu_now()];
}

uint64_t mc_cpus_owned(void)
{
	return mc_getauxval(AT_MC_CPUS);
}

void __mc_thread_main(struct start *s, struct mc_event_ring *ring, unsigned cpu, int tid)
{
	rings[cpu % MAX_CPUS] = ring;
	tids[cpu % MAX_CPUS] = tid;
	s->fn(s->arg);
	mc_thread_exit(0);
}

int mc_thread_start(unsigned cpu, void (*fn)(void *arg), void *arg, size_t stack_size)
{
	if (!have_rdtscp()) {
		errno = ENOTSUP;
		return -1;
	}
	if (!stack_size)
		stack_size = MC_THREAD_STACK;
	stack_size = (stack_size + 4095) & ~(size_t)4095;
	char *stack = vmspace_alloc(stack_size, PROT_READ | PROT_WRITE);
	if (!stack)
		return -1;
	/* The start block sits at the top of the new stack, below it the frames. */
	struct start *s = (struct start *)(stack + stack_size) - 1;
	s->fn = fn;
	s->arg = arg;
	uintptr_t top = (uintptr_t)s & ~(uintptr_t)15;
	long tid = mc_syscall6(SYS_thread_start, cpu, (long)(uintptr_t)mc_thread_entry,
			       (long)(uintptr_t)s, (long)top, 0, 0);
	if (tid < 0) {
		vmspace_free(stack, stack_size);
		return (int)mc_syscall_ret(tid);
	}
	return (int)tid;
}

void mc_thread_exit(int status)
{
	mc_flush();
	mc_syscall1(SYS_thread_exit, status);
	__builtin_trap();
}

int mc_thread_wake(int tid, uint64_t value)
{
	return (int)mc_syscall_ret(mc_syscall2(SYS_thread_wake, tid, (long)value));
}
