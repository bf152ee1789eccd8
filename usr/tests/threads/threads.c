/*
 * threads MODE: the kernel's threads seen from a process that owns several
 * cores (cpus= in its manifest). tests/system/test_threads.py runs each mode.
 *   cores      a thread on every owned core; each reports where it runs
 *   errors     thread_start and thread_wake refused with the right errno
 *   exit       a thread calls exit(7) while the others spin: all end
 *   fault      a thread faults: the whole process is killed
 *   tlb        a page freed on one core is unreachable on another at once
 *   wake N     N ping-pongs and a burst of wake-ups between two cores
 */
#include <stdbool.h>
#include <stdint.h>

#include <lib/string.h>
#include <mc/errno.h>
#include <mc/event.h>
#include <mc/stdio.h>
#include <mc/stdlib.h>
#include <mc/sys.h>
#include <mc/thread.h>
#include <uapi/errno.h>

#define PAGE 4096UL

static unsigned first_cpu(uint64_t mask, unsigned after)
{
	for (unsigned c = after; c < 64; c++)
		if (mask & (1ULL << c))
			return c;
	return 64;
}

/* Wait for an EV_WAKE and return its value (other events are skipped). */
static uint64_t wait_wake(uint64_t *from)
{
	struct mc_event ev;
	for (;;) {
		while (mc_event_pop(&ev)) {
			if (ev.type == EV_WAKE) {
				if (from)
					*from = ev.data[1];
				return ev.data[0];
			}
		}
		sys_wait(WAIT_FOREVER);
	}
}

/* ------------------------------------------------------------ cores */

static void report(void *arg)
{
	unsigned want = (unsigned)(uintptr_t)arg;
	printf("threads: thread %d on CPU %u (started for CPU %u)\n", mc_thread_id(), mc_cpu_now(),
	       want);
	mc_thread_wake(0, mc_cpu_now());
	wait_wake(NULL); /* until the first thread says stop */
}

static int cores(void)
{
	uint64_t owned = mc_cpus_owned();
	unsigned me = mc_cpu_now(), started = 0;
	printf("threads: first thread on CPU %u, owns %#lx\n", me, (unsigned long)owned);
	int tids[64];
	for (unsigned c = first_cpu(owned, 0); c < 64; c = first_cpu(owned, c + 1)) {
		if (c == me)
			continue;
		int tid = mc_thread_start(c, report, (void *)(uintptr_t)c, 0);
		if (tid < 0) {
			printf("threads: start on CPU %u: %s FAIL\n", c, strerror(errno));
			return 1;
		}
		tids[started++] = tid;
	}
	uint64_t seen = 1ULL << me;
	for (unsigned i = 0; i < started; i++)
		seen |= 1ULL << wait_wake(NULL);
	printf("threads: %u threads reported, CPUs %#lx %s\n", started + 1, (unsigned long)seen,
	       seen == owned ? "PASS" : "FAIL");
	for (unsigned i = 0; i < started; i++)
		mc_thread_wake(tids[i], 0);
	return seen == owned ? 0 : 1;
}

/* ------------------------------------------------------------ errors */

static int checks, failed;

static void expect(const char *what, long got, long want)
{
	checks++;
	if (got != want)
		failed++;
	printf("threads: %s: %ld (want %ld)%s\n", what, got, want, got == want ? "" : " FAIL");
}

static void idle(void *arg)
{
	(void)arg;
	wait_wake(NULL);
}

static char small_stack[4096] __attribute__((aligned(16)));

static int errors(void)
{
	uint64_t owned = mc_cpus_owned();
	unsigned me = mc_cpu_now();
	unsigned other = first_cpu(owned & ~(1ULL << me), 0);
	unsigned notmine = first_cpu(~owned, 0);
	long entry = (long)(uintptr_t)idle, stack = (long)(uintptr_t)(small_stack + 4096);

	expect("thread_start on a core not owned",
	       mc_syscall6(SYS_thread_start, notmine, entry, 0, stack, 0, 0), -EPERM);
	expect("thread_start on core 64", mc_syscall6(SYS_thread_start, 64, entry, 0, stack, 0, 0),
	       -EPERM);
	expect("thread_start on core -1", mc_syscall6(SYS_thread_start, -1, entry, 0, stack, 0, 0),
	       -EPERM);
	expect("thread_start on its own core",
	       mc_syscall6(SYS_thread_start, me, entry, 0, stack, 0, 0), -EBUSY);
	expect("thread_start, kernel entry",
	       mc_syscall6(SYS_thread_start, other, (long)0xffffffff80200000UL, 0, stack, 0, 0),
	       -EINVAL);
	expect("thread_start, entry 0", mc_syscall6(SYS_thread_start, other, 0, 0, stack, 0, 0),
	       -EINVAL);
	expect("thread_start, unaligned stack",
	       mc_syscall6(SYS_thread_start, other, entry, 0, stack - 8, 0, 0), -EINVAL);
	expect("thread_start, unmapped stack",
	       mc_syscall6(SYS_thread_start, other, entry, 0, 0x500000000000L, 0, 0), -EFAULT);
	expect("thread_start, kernel stack",
	       mc_syscall6(SYS_thread_start, other, entry, 0, (long)0xffff800000100000UL, 0, 0),
	       -EINVAL);
	expect("thread_wake(5), no such thread", mc_syscall2(SYS_thread_wake, 5, 0), -ESRCH);
	expect("thread_wake(-1)", mc_syscall2(SYS_thread_wake, -1, 0), -ESRCH);
	int tid = mc_thread_start(other, idle, NULL, 0);
	expect("mc_thread_start on another owned core", tid > 0, 1);
	expect("a second thread on that core", mc_thread_start(other, idle, NULL, 0), -1);
	expect("... errno", errno, EBUSY);
	expect("thread_wake(new thread)", mc_thread_wake(tid, 1), 0);
	printf("threads: errors: %d checks, %d failed\n", checks, failed);
	return failed != 0;
}

/* ------------------------------------------------------------ exit, fault */

static void spin_forever(void *arg)
{
	(void)arg;
	mc_thread_wake(0, 1);
	for (volatile uint64_t i = 0;; i++)
		;
}

static void exit_seven(void *arg)
{
	(void)arg;
	printf("threads: thread %d calls exit(7)\n", mc_thread_id());
	exit(7);
}

static void fault_null(void *arg)
{
	(void)arg;
	printf("threads: thread %d reads address 0\n", mc_thread_id());
	(void)*(volatile uint64_t *)0;
}

static int end_from_thread(void (*fn)(void *))
{
	uint64_t owned = mc_cpus_owned();
	unsigned me = mc_cpu_now();
	unsigned a = first_cpu(owned & ~(1ULL << me), 0);
	unsigned b = first_cpu(owned & ~(1ULL << me), a + 1);
	if (b < 64) { /* a third core spins too */
		mc_thread_start(b, spin_forever, NULL, 0);
		wait_wake(NULL);
	}
	mc_thread_start(a, fn, NULL, 0);
	for (volatile uint64_t i = 0; i < 4000000000UL; i++)
		;
	printf("threads: the first thread was not stopped FAIL\n");
	return 1;
}

/* ------------------------------------------------------------ tlb */

struct tlb_share {
	volatile uint64_t *page;
	volatile uint64_t reads;
};

/* Read the page forever, keeping its translation hot; a changed value
 * means a stale translation led to a reused page. */
static void tlb_reader(void *arg)
{
	struct tlb_share *s = arg;
	uint64_t want = s->page[0];
	mc_thread_wake(0, 1);
	for (;;) {
		uint64_t v = s->page[0];
		s->reads++;
		if (v != want) {
			printf("threads: tlb: STALE read %#lx through a freed page FAIL\n",
			       (unsigned long)v);
			exit(1);
		}
	}
}

static int tlb(void)
{
	static struct tlb_share s;
	uint64_t owned = mc_cpus_owned();
	unsigned me = mc_cpu_now();
	unsigned other = first_cpu(owned & ~(1ULL << me), 0);
	/* The page sits between two others, so once it is freed its hole (with
	 * the guard gaps) is too small for the 2-page regions taken below: they
	 * may reuse its frame, never its address. */
	vmspace_alloc(PAGE, PROT_READ | PROT_WRITE);
	s.page = vmspace_alloc(PAGE, PROT_READ | PROT_WRITE);
	vmspace_alloc(PAGE, PROT_READ | PROT_WRITE);
	s.page[0] = 0x1111;
	mc_thread_start(other, tlb_reader, &s, 0);
	wait_wake(NULL);
	while (s.reads < 1000)
		;
	printf("threads: tlb: freeing %p while CPU %u reads it\n", (void *)s.page, other);
	vmspace_free((void *)s.page, PAGE);
	/* Take pages until one of them is likely the freed frame, and mark them. */
	for (int i = 0; i < 64; i++) {
		volatile uint64_t *q = vmspace_alloc(2 * PAGE, PROT_READ | PROT_WRITE);
		if (q == s.page) {
			printf("threads: tlb: the freed address came back FAIL\n");
			return 1;
		}
		if (q) {
			q[0] = 0x2222;
			q[PAGE / 8] = 0x2222;
		}
	}
	for (volatile uint64_t i = 0; i < 50000000; i++)
		;
	printf("threads: tlb: the reader was not stopped FAIL\n");
	return 1;
}

/* ------------------------------------------------------------ wake */

static volatile uint64_t burst_done;

static void ponger(void *arg)
{
	unsigned long n = (unsigned long)(uintptr_t)arg;
	for (unsigned long i = 0; i < n; i++) {
		uint64_t v = wait_wake(NULL);
		if (v != i) {
			printf("threads: wake: got %lu, wanted %lu FAIL\n", (unsigned long)v, i);
			exit(1);
		}
		mc_thread_wake(0, v);
	}
	/* Then a burst: count what arrives until the sender's end marker. */
	uint64_t got = 0;
	struct mc_event ev;
	for (;;) {
		while (mc_event_pop(&ev)) {
			if (ev.type != EV_WAKE)
				continue;
			if (ev.data[0] == UINT64_MAX) { /* the end marker (maybe resent) */
				uint32_t dropped = mc_event_dropped();
				mc_thread_wake(0, got << 32 | dropped);
				printf(
				    "threads: wake: burst: %lu received, %u dropped (ring full)\n",
				    (unsigned long)got, dropped);
				wait_wake(NULL);
				return;
			}
			got++;
		}
		sys_wait(WAIT_FOREVER);
	}
}

static int wake(unsigned long n)
{
	uint64_t owned = mc_cpus_owned();
	unsigned me = mc_cpu_now();
	unsigned other = first_cpu(owned & ~(1ULL << me), 0);
	int tid = mc_thread_start(other, ponger, (void *)(uintptr_t)n, 0);
	for (unsigned long i = 0; i < n; i++) {
		mc_thread_wake(tid, i);
		if (wait_wake(NULL) != i) {
			printf("threads: wake: reply %lu wrong FAIL\n", i);
			return 1;
		}
	}
	printf("threads: wake: %lu ping-pongs between CPU %u and CPU %u\n", n, me, other);
	const uint64_t burst = 5000;
	for (uint64_t i = 0; i < burst; i++)
		mc_thread_wake(tid, i);
	/* The end marker can find the ring full too: resend until answered. */
	uint64_t markers = 0, answer = 0;
	struct mc_event ev;
	for (bool done = false; !done;) {
		mc_thread_wake(tid, UINT64_MAX);
		markers++;
		sys_wait(20000000);
		while (mc_event_pop(&ev))
			if (ev.type == EV_WAKE) {
				answer = ev.data[0];
				done = true;
			}
	}
	uint64_t got = answer >> 32, dropped = answer & 0xffffffff;
	bool ok = got + dropped == burst + markers - 1;
	printf("threads: wake: burst of %lu: %lu received + %lu dropped = %lu sent %s\n",
	       (unsigned long)burst, (unsigned long)got, (unsigned long)dropped,
	       (unsigned long)(burst + markers - 1), ok ? "PASS" : "FAIL");
	mc_thread_wake(tid, 0);
	return !ok;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		goto usage;
	if (!strcmp(argv[1], "cores"))
		return cores();
	if (!strcmp(argv[1], "errors"))
		return errors();
	if (!strcmp(argv[1], "exit"))
		return end_from_thread(exit_seven);
	if (!strcmp(argv[1], "fault"))
		return end_from_thread(fault_null);
	if (!strcmp(argv[1], "tlb"))
		return tlb();
	if (!strcmp(argv[1], "wake"))
		return wake(argc > 2 ? strtoul(argv[2], NULL, 0) : 10000);
usage:
	printf("usage: threads cores|errors|exit|fault|tlb|wake [N]\n");
	return 2;
}
