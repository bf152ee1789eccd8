/*
 * sysfuzz: random system calls with hostile arguments, seeded and reproducible.
 *
 *   sysfuzz [--seed N] [--calls N] [--trace FROM] [--quiet] [--flags [MASK]]
 *
 * Each call's number and arguments come from a xorshift generator seeded
 * with N (printed first; from AT_RANDOM when not given), biased toward
 * edge values: 0, -1, huge sizes, kernel and non-canonical addresses,
 * pointers that straddle the end of a mapping or of user space, pointers
 * into the process's own event ring and (after a net_attach it is granted)
 * device mappings, random queue pairs and names. Nothing the generator
 * draws depends on a call's result, so a seed replays the same calls (up
 * to timing: events and wait results vary). --trace FROM prints every call
 * from number FROM on before making it, to pin down one that crashes.
 * --flags enters one call in eight with user-settable RFLAGS bits set
 * (NT, AC, DF, ID, arithmetic; MASK picks some), which the kernel must not
 * carry into its own code or its return to user mode.
 *
 * The process itself must survive its calls: it never frees what it did
 * not map itself, never lets the kernel write over its own stack or state
 * (output pointers go to its scratch mapping and regions, the event ring,
 * device memory, the argv strings atop its stack, or places the kernel
 * must refuse), never sleeps without a timer to end it,
 * and calls exit only at the end. Results are checked against the ABI
 * (HACKING.md); anything else is printed as UNEXPECTED and counted.
 * The last line is `sysfuzz: done, N calls, M unexpected`; exit 0 iff M is 0.
 */
#include <stdbool.h>
#include <stdint.h>

#include <lib/string.h>
#include <mc/errno.h>
#include <mc/event.h>
#include <mc/runtime.h>
#include <mc/stdio.h>
#include <mc/stdlib.h>
#include <mc/sys.h>

#define PAGE	      4096UL
#define USER_MIN      0x400000UL
#define USER_END      0x0000800000000000UL /* first non-canonical address */
#define STACK_TOP     0x00007ffffff00000UL
#define MAX_REGIONS   48
#define SCRATCH_BYTES (5 * PAGE)
#define MS	      1000000ull
#define PROGRESS      2000

/* ---------------------------------------------------------------- the generator */

static uint64_t rng_state;

/* xorshift64*: every draw is one step, so a seed replays the same calls. */
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* splitmix64's finaliser: nearby seeds (1, 2, 3) give unrelated streams. */
static uint64_t mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t below(uint64_t n)
{
	return rnd() % n;
}

/* ---------------------------------------------------------------- what the process owns */

struct region {
	uint64_t start, len; /* len page-rounded; 0: slot unused */
	int prot;
};

static struct region regions[MAX_REGIONS];
/*
 * Scratch the kernel may write, a mapping of its own between unmapped
 * guard pages (so a pointer near its ends really straddles), never freed.
 */
static uint8_t *scratch;
/* Read-only data to point calls at (what they print of it must not look like our reports). */
static const char rodata[64] = "sysfuzz read-only data .....................................";
static struct mc_event_ring *ring;
static struct mc_net_layout net; /* valid when attached */
static bool attached;
static long pid;

static uint64_t calls, unexpected, trace_from = UINT64_MAX;
static uint64_t ok_count[SYS_MAX + 1], err_count[SYS_MAX + 1];

/* ---------------------------------------------------------------- argument pools */

/* Sizes and counts: the edges of every range the kernel checks. */
static uint64_t pick_size(void)
{
	static const uint64_t sizes[] = {
	    0,
	    1,
	    7,
	    8,
	    15,
	    16,
	    17,
	    4095,
	    4096,
	    4097,
	    8192,
	    65536,
	    1UL << 20,
	    (1UL << 20) + 1,
	    64UL << 20,
	    1UL << 30,
	    1UL << 32,
	    1UL << 46,
	    1UL << 47,
	    (1UL << 47) + 1,
	    1UL << 63,
	    UINT64_MAX,
	    UINT64_MAX - 4095,
	    UINT64_MAX - 15,
	    USER_END - PAGE,
	    USER_END - USER_MIN,
	    (uint64_t)INT32_MAX,
	    (uint64_t)INT32_MAX + 1,
	};

	switch (below(4)) {
	case 0:
		return rnd();
	case 1:
		return below(3 * PAGE);
	default:
		return sizes[below(sizeof(sizes) / sizeof(sizes[0]))];
	}
}

/* Addresses no call may touch: null page, kernel half, non-canonical, top of user space. */
static uint64_t pick_hostile_addr(void)
{
	static const uint64_t addrs[] = {
	    0,
	    1,
	    0xfff,
	    0x1000,
	    USER_MIN - PAGE,
	    USER_MIN - 8,	  /* straddles the bottom of user space */
	    0xffffffff80000000UL, /* kernel image */
	    0xffffffff80200000UL,
	    0xffffffff80200000UL + 0x1000,
	    0xffff800000000000UL, /* direct map */
	    0xffff800000100000UL,
	    0xffff800007fff000UL,
	    0xffffc00000000000UL, /* device MMIO window */
	    0xfffffffffffff000UL,
	    0xfffffffffffffff0UL,
	    UINT64_MAX,
	    USER_END,	  /* non-canonical */
	    USER_END - 8, /* straddles the end of user space */
	    USER_END - 1,
	    USER_END - PAGE, /* the top user page */
	    0x8000000000000000UL,
	    0x0000ffffffffffffUL,
	    0xffff7fffffffffffUL,
	    0x00007ffffff00000UL, /* just above the stack */
	    0x0000100000000000UL, /* the anonymous area, unmapped */
	};

	if (below(8) == 0)
		return rnd();
	if (below(8) == 0)
		return USER_MIN + below(USER_END - USER_MIN); /* somewhere in user space */
	return addrs[below(sizeof(addrs) / sizeof(addrs[0]))];
}

static struct region *random_region(void)
{
	unsigned int i, start = (unsigned int)below(MAX_REGIONS);

	for (i = 0; i < MAX_REGIONS; i++) {
		struct region *r = &regions[(start + i) % MAX_REGIONS];

		if (r->len)
			return r;
	}
	return NULL;
}

/* Around a mapping [start, start + len): inside, at its end, straddling it, just past. */
static uint64_t near(uint64_t start, uint64_t len)
{
	switch (below(6)) {
	case 0:
		return start;
	case 1:
		return start + below(len);
	case 2:
		return start + len - 1 - below(16); /* the last bytes: objects straddle the end */
	case 3:
		return start + len; /* the guard page after it */
	case 4:
		return start - 1 - below(16); /* straddles the start */
	default:
		return start + len - 8;
	}
}

/* An address inside the device mappings (rings, pool, doorbells) when attached. */
static uint64_t device_addr(bool for_write)
{
	const struct mc_net_queue *q = below(2) ? &net.rx : &net.tx;

	/*
	 * The descriptor table and avail ring are what the device reads:
	 * garbage there would be a request to DMA anywhere (no IOMMU yet), so
	 * the kernel only reads from them on our behalf.
	 */
	switch (below(for_write ? 3 : 5)) {
	case 0:
		return near(net.pool, net.pool_size);
	case 1:
		return q->notify + below(4) * 2; /* a doorbell page: device memory, uncached */
	case 2:
		return q->used + below(64);
	case 3:
		return q->desc + below(64);
	default:
		return q->avail + below(8);
	}
}

/*
 * A pointer for the kernel to read from (for_write false) or write to.
 * Writable targets are places the process can lose: scratch, its event
 * ring (the kernel must survive a ring it did not write), device memory,
 * its own regions, or places the kernel must refuse.
 */
static uint64_t pick_ptr(bool for_write)
{
	struct region *r;

	switch (below(10)) {
	case 0:
	case 1:
		return pick_hostile_addr();
	case 8:
		return STACK_TOP - 1 -
		       below(16); /* straddles the top of the stack (argv strings) */
	case 2:
		r = random_region();
		return r ? near(r->start, r->len) : pick_hostile_addr();
	case 3:
		return near((uint64_t)(uintptr_t)scratch, SCRATCH_BYTES);
	case 4:
		return (uint64_t)(uintptr_t)scratch + below(SCRATCH_BYTES - 256);
	case 5:
		return near((uint64_t)(uintptr_t)ring, sizeof(*ring));
	case 6:
		return attached ? device_addr(for_write) : pick_hostile_addr();
	default:
		/* Own text and read-only data: readable, never writable. */
		return below(2) ? (uint64_t)(uintptr_t)&pick_ptr : (uint64_t)(uintptr_t)rodata;
	}
}

/* A device name: good ones, long ones, unterminated at the end of a mapping, bad pointers. */
static uint64_t pick_name(void)
{
	static const char *const names[] = {
	    "eth0", "eth1", "", "eth0 ", "eth00000", "e", "eth0eth0eth0eth0"};
	uint8_t *end = scratch + SCRATCH_BYTES;

	switch (below(5)) {
	case 0:
	case 1:
		return (uint64_t)(uintptr_t)names[below(sizeof(names) / sizeof(names[0]))];
	case 2:
		/* "eth0" whose NUL lies past the end of the mapping (or does not). */
		memcpy(end - 4, "eth0", 4);
		return (uint64_t)(uintptr_t)(end - 4 + below(3));
	default:
		return pick_ptr(false);
	}
}

/* ---------------------------------------------------------------- bookkeeping */

static struct region *region_at(uint64_t start)
{
	for (unsigned int i = 0; i < MAX_REGIONS; i++)
		if (regions[i].len && regions[i].start == start)
			return &regions[i];
	return NULL;
}

/* Whether a lies in (or at the edge of) a region the fuzzer mapped. */
static bool in_region(uint64_t a)
{
	for (unsigned int i = 0; i < MAX_REGIONS; i++)
		if (regions[i].len && a + PAGE >= regions[i].start &&
		    a < regions[i].start + regions[i].len + PAGE)
			return true;
	return false;
}

/* Pages a length covers, 0 for 0 and for lengths past user space (refused). */
static uint64_t pages_of(uint64_t len)
{
	return len > USER_END ? 0 : (len + PAGE - 1) / PAGE;
}

static bool in_user(uint64_t a, uint64_t len)
{
	return a >= USER_MIN && a < USER_END && len <= USER_END - a;
}

static void note_unexpected(uint64_t nr, const uint64_t *a, long rc, const char *why)
{
	unexpected++;
	printf("sysfuzz: UNEXPECTED call %lu: nr %lu (%#lx, %#lx, %#lx) = %ld: %s\n",
	       (unsigned long)calls, (unsigned long)nr, (unsigned long)a[0], (unsigned long)a[1],
	       (unsigned long)a[2], rc, why);
}

static void drain_events(void)
{
	struct mc_event ev;
	int n = 0;

	/* The ring may hold what our own calls wrote into it: take a bounded number. */
	while (n++ < 2 * EVENT_RING_ENTRIES && mc_event_pop(&ev))
		;
}

/* ---------------------------------------------------------------- one call */

/*
 * RFLAGS bits user code may set with popfq (SDM vol. 1 §3.4.3) and the
 * kernel must not trust: NT, AC, DF, ID and the arithmetic flags. Not TF:
 * a single-step trap would (rightly) kill this process.
 */
#define USER_FLAGS                                                                                 \
	(RFL_NT | RFL_AC | RFL_DF | RFL_ID | RFL_CF | RFL_PF | RFL_AF | RFL_ZF | RFL_SF | RFL_OF)
#define RFL_CF	  (1UL << 0)
#define RFL_PF	  (1UL << 2)
#define RFL_AF	  (1UL << 4)
#define RFL_ZF	  (1UL << 6)
#define RFL_SF	  (1UL << 7)
#define RFL_IF	  (1UL << 9)
#define RFL_DF	  (1UL << 10)
#define RFL_OF	  (1UL << 11)
#define RFL_NT	  (1UL << 14)
#define RFL_AC	  (1UL << 18)
#define RFL_ID	  (1UL << 21)
#define RFL_FIXED (1UL << 1)

static uint64_t fuzz_flags; /* --flags [MASK]: enter some calls with these RFLAGS bits */

/* SYSCALL entered with RFLAGS = flags; ours are back before any C code runs. */
static long syscall_flags(uint64_t nr, const uint64_t *a, uint64_t r10v, uint64_t r8v, uint64_t r9v,
			  uint64_t flags)
{
	register uint64_t r10 __asm__("r10") = r10v;
	register uint64_t r8 __asm__("r8") = r8v;
	register uint64_t r9 __asm__("r9") = r9v;
	long ret;

	/* Past the red zone first: the pushes must not land on the compiler's data. */
	__asm__ volatile("sub $128, %%rsp\n\t"
			 "pushfq\n\t"
			 "pushq %[fl]\n\t"
			 "popfq\n\t"
			 "syscall\n\t"
			 "popfq\n\t"
			 "add $128, %%rsp"
			 : "=a"(ret)
			 : "a"(nr), "D"(a[0]), "S"(a[1]), "d"(a[2]), "r"(r10), "r"(r8),
			   "r"(r9), [fl] "r"(flags | RFL_IF | RFL_FIXED)
			 : "rcx", "r11", "memory", "cc");
	return ret;
}

/*
 * Make the call. The three unused argument registers hold noise the kernel
 * must ignore; with --flags, one call in eight is made with odd RFLAGS.
 */
static long raw(uint64_t nr, const uint64_t *a, const uint64_t *noise, uint64_t flags)
{
	if (flags)
		return syscall_flags(nr, a, noise[0], noise[1], noise[2], flags);
	return mc_syscall6((long)nr, (long)a[0], (long)a[1], (long)a[2], (long)noise[0],
			   (long)noise[1], (long)noise[2]);
}

/* Choose a call and its arguments; returns the number. Draws do not depend on results. */
static uint64_t choose(uint64_t *a)
{
	static const uint64_t bad_nrs[] = {
	    SYS_MAX,   SYS_MAX + 1, 64, 255, 256, 1UL << 32, (1UL << 32) + SYS_getpid,
	    1UL << 63, UINT64_MAX};
	static const uint64_t prots[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 15, UINT64_MAX, 1UL << 32};
	static const uint64_t clocks[] = {1, 0, 2, 3, UINT64_MAX, 1UL << 32 | 1};
	static const uint64_t qps[] = {0, 1, 2, 255, 256, UINT64_MAX, 1UL << 32};
	uint64_t nr = 1 + below(SYS_MAX - 1); /* never SYS_exit: that is the last call */

	if (nr == SYS_thread_exit) /* nor thread_exit: it ends the only thread */
		nr = SYS_getpid;

	a[0] = a[1] = a[2] = 0;
	if (below(16) == 0) {
		nr = below(4) ? bad_nrs[below(sizeof(bad_nrs) / sizeof(bad_nrs[0]))] : rnd();
		if (nr == SYS_exit || nr == SYS_thread_exit)
			nr = SYS_MAX;
		a[0] = rnd();
		a[1] = rnd();
		a[2] = rnd();
		return nr;
	}
	switch (nr) {
	case SYS_console_write:
		a[0] = pick_ptr(false);
		a[1] = pick_size();
		break;
	case SYS_vmspace_alloc:
		a[0] = below(2) ? pick_size() : PAGE * (1 + below(64));
		a[1] = below(4) ? prots[below(4)] : prots[below(sizeof(prots) / sizeof(prots[0]))];
		break;
	case SYS_vmspace_free: {
		struct region *r = random_region();

		if (r && below(2)) {
			a[0] = below(4) ? r->start : near(r->start, r->len);
			a[1] = below(2) ? r->len : pick_size();
		} else {
			a[0] = pick_ptr(false);
			a[1] = pick_size();
		}
		break;
	}
	case SYS_clock_gettime:
		a[0] =
		    below(4) ? CLOCK_MONOTONIC : clocks[below(sizeof(clocks) / sizeof(clocks[0]))];
		a[1] = pick_ptr(true);
		break;
	case SYS_wait:
		a[0] = below(4) ? below(200000) : pick_size();
		break;
	case SYS_timer_set:
		a[0] = below(3) ? pick_size() : mc_now_ns() + below(2 * MS);
		a[1] = rnd();
		break;
	case SYS_net_attach:
		a[0] = pick_name();
		a[1] = below(4) ? qps[below(2)] : qps[below(sizeof(qps) / sizeof(qps[0]))];
		a[2] = pick_ptr(true);
		break;
	case SYS_net_info:
		a[0] = pick_name();
		a[1] = pick_ptr(true);
		break;
	case SYS_thread_start: /* this process owns no core: every start is refused */
		a[0] = below(2) ? below(4) : rnd();
		a[1] = pick_ptr(false);
		a[2] = rnd();
		break;
	case SYS_thread_wake:
		a[0] = below(2) ? below(3) : rnd();
		a[1] = rnd();
		break;
	default:
		break; /* getpid, yield, and calls added since: no arguments drawn */
	}
	return nr;
}

/* [a, a + len) inside a mapping the process knows to be readable. */
static bool known_readable(uint64_t a, uint64_t len)
{
	uint64_t s = (uint64_t)(uintptr_t)scratch, rg = (uint64_t)(uintptr_t)ring;

	if (a >= s && len <= SCRATCH_BYTES && a - s <= SCRATCH_BYTES - len)
		return true;
	if (a >= rg && len <= 2 * PAGE && a - rg <= 2 * PAGE - len)
		return true;
	if (attached && a >= net.pool && len <= net.pool_size &&
	    a - net.pool <= net.pool_size - len)
		return true;
	for (unsigned int i = 0; i < MAX_REGIONS; i++) {
		const struct region *r = &regions[i];

		if (r->len && (r->prot & PROT_READ) && a >= r->start && len <= r->len &&
		    a - r->start <= r->len - len)
			return true;
	}
	return false;
}

/*
 * Changes to a drawn call that keep the process alive and the log short:
 * the scratch mapping is never freed, and a console_write that would
 * succeed prints at most 64 bytes.
 */
static void tame(uint64_t nr, uint64_t *a)
{
	uint64_t len;

	if (nr == SYS_vmspace_free && a[0] == (uint64_t)(uintptr_t)scratch)
		a[0] += PAGE;
	if (nr != SYS_console_write || a[1] <= 64)
		return;
	len = a[1] < CONSOLE_WRITE_MAX ? a[1] : CONSOLE_WRITE_MAX;
	/* Whatever can be read would reach the console, escaped (4 bytes for
	 * each unprintable one) through a slow emulated UART: keep it short. */
	if (known_readable(a[0], len) || in_region(a[0]) || a[0] == (uint64_t)(uintptr_t)&pick_ptr ||
	    a[0] == (uint64_t)(uintptr_t)rodata || (attached && below(8)))
		a[1] = 64 - below(2) * 48; /* the NIC's rings and doorbells too, mostly */
}

/* wait() must end: a long timeout gets a timer 1 ms from now to cut it short. */
static void before_wait(uint64_t timeout)
{
	if (timeout > MS)
		sys_timer_set(mc_now_ns() + MS, 0x5f5f);
}

/* What the ABI allows each call to return (HACKING.md); learn from successes. */
static void check(uint64_t nr, const uint64_t *a, long rc)
{
	struct region *r;
	bool whole;

	if (nr > SYS_MAX)
		nr = SYS_MAX;
	if (rc >= 0)
		ok_count[nr]++;
	else
		err_count[nr]++;
	switch (nr) {
	case SYS_console_write:
		if (rc != -EFAULT &&
		    rc != (long)(a[1] < CONSOLE_WRITE_MAX ? a[1] : CONSOLE_WRITE_MAX))
			note_unexpected(nr, a, rc, "console_write");
		break;
	case SYS_vmspace_alloc:
		if (rc == -EINVAL || rc == -ENOMEM)
			break;
		if (rc < 0 || !in_user((uint64_t)rc, a[0]) || rc % PAGE) {
			note_unexpected(nr, a, rc, "vmspace_alloc");
			break;
		}
		if ((a[1] & 3) && *(volatile uint8_t *)rc != 0)
			note_unexpected(nr, a, rc, "fresh memory not zero");
		r = NULL;
		for (unsigned int i = 0; i < MAX_REGIONS && !r; i++)
			if (!regions[i].len)
				r = &regions[i];
		if (r)
			*r = (struct region){(uint64_t)rc, pages_of(a[0]) * PAGE, (int)a[1]};
		else
			sys_vmspace_free((void *)rc, a[0]); /* no room to remember it */
		break;
	case SYS_vmspace_free:
		r = region_at(a[0]);
		whole = r && pages_of(a[1]) == r->len / PAGE;
		if (rc == 0 && r)
			r->len = 0;
		if (rc == 0 && !whole)
			note_unexpected(nr, a, rc, "freed what was not one whole region");
		else if (rc != 0 && rc != -EINVAL)
			note_unexpected(nr, a, rc, "vmspace_free");
		else if (rc != 0 && whole)
			note_unexpected(nr, a, rc, "refused to free a whole region");
		break;
	case SYS_getpid:
		if (rc != pid)
			note_unexpected(nr, a, rc, "getpid changed");
		break;
	case SYS_clock_gettime:
		if (rc != 0 && rc != -EINVAL && rc != -EFAULT)
			note_unexpected(nr, a, rc, "clock_gettime");
		if (rc == 0 && a[0] != CLOCK_MONOTONIC)
			note_unexpected(nr, a, rc, "a clock other than CLOCK_MONOTONIC");
		break;
	case SYS_wait:
		if (rc < 0 || rc > EVENT_RING_ENTRIES)
			note_unexpected(nr, a, rc, "wait");
		break;
	case SYS_timer_set:
	case SYS_yield:
		if (rc != 0)
			note_unexpected(nr, a, rc, "timer_set/yield");
		break;
	case SYS_net_attach:
		if (rc == 0 && !attached && in_user(a[2], sizeof(net))) {
			memcpy(&net, (const void *)a[2], sizeof(net));
			attached = true;
			printf("sysfuzz: call %lu attached queue pair %lu: pool %#lx (%lu bytes), "
			       "rings %#lx %#lx\n",
			       (unsigned long)calls, (unsigned long)a[1], (unsigned long)net.pool,
			       (unsigned long)net.pool_size, (unsigned long)net.rx.desc,
			       (unsigned long)net.tx.desc);
		} else if (rc != 0 && rc != -EPERM && rc != -EBUSY && rc != -ENODEV &&
			   rc != -EINVAL && rc != -EFAULT && rc != -ENOSPC && rc != -ENOMEM) {
			note_unexpected(nr, a, rc, "net_attach");
		}
		break;
	case SYS_net_info:
		if (rc != 0 && rc != -ENODEV && rc != -EFAULT)
			note_unexpected(nr, a, rc, "net_info");
		break;
	case SYS_thread_start:
		if (rc != -EPERM)
			note_unexpected(nr, a, rc, "thread_start without owned cores");
		break;
	case SYS_thread_wake:
		if (rc != (a[0] == 0 ? 0 : -ESRCH))
			note_unexpected(nr, a, rc, "thread_wake");
		break;
	case SYS_MAX:
		if (rc != -ENOSYS)
			note_unexpected(nr, a, rc, "not ENOSYS");
		break;
	default:
		break; /* a call added since this was written: anything goes */
	}
}

static void one_call(void)
{
	uint64_t a[3], nr = choose(a), noise[3], flags;
	long rc;

	noise[0] = rnd();
	noise[1] = rnd();
	noise[2] = rnd();
	flags = rnd();
	flags = (flags & 7) == 0 ? flags & fuzz_flags : 0;
	tame(nr, a);
	if (calls >= trace_from)
		printf("sysfuzz: call %lu: nr %lu (%#lx, %#lx, %#lx) rflags %#lx\n",
		       (unsigned long)calls, (unsigned long)nr, (unsigned long)a[0],
		       (unsigned long)a[1], (unsigned long)a[2],
		       (unsigned long)(flags ? flags | RFL_IF | RFL_FIXED : 0));
	if (nr == SYS_wait)
		before_wait(a[0]);
	rc = raw(nr, a, noise, flags);
	check(nr, a, rc);
	if (nr == SYS_wait || below(32) == 0)
		drain_events();
	calls++;
}

/* ---------------------------------------------------------------- main */

static uint64_t arg_u64(const char *s)
{
	uint64_t v;

	if (str_to_u64(s, NULL, 0, &v)) {
		printf("sysfuzz: bad number %s\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const char *const names[SYS_MAX] = {
	    "exit", "console_write", "vmspace_alloc", "vmspace_free", "getpid",	 "clock_gettime",
	    "wait", "timer_set",     "yield",	      "net_attach",   "net_info",
	    "thread_start", "thread_exit", "thread_wake"};
	uint64_t ncalls = 10000, seed = 0;
	bool quiet = false;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = arg_u64(argv[++i]);
		else if (!strcmp(argv[i], "--calls") && i + 1 < argc)
			ncalls = arg_u64(argv[++i]);
		else if (!strcmp(argv[i], "--trace") && i + 1 < argc)
			trace_from = arg_u64(argv[++i]);
		else if (!strcmp(argv[i], "--quiet"))
			quiet = true;
		else if (!strcmp(argv[i], "--flags"))
			fuzz_flags = i + 1 < argc && argv[i + 1][0] != '-'
					 ? arg_u64(argv[++i]) & USER_FLAGS
					 : USER_FLAGS;
		else {
			printf("usage: sysfuzz [--seed N] [--calls N] [--trace FROM] [--quiet] "
			       "[--flags [MASK]]\n");
			return 2;
		}
	}
	if (!seed && mc_random_bytes())
		memcpy(&seed, mc_random_bytes(), sizeof(seed));
	rng_state = mix(seed) ? mix(seed) : 1; /* xorshift's state must not be 0 */
	ring = mc_event_ring();
	pid = sys_getpid();
	scratch = (uint8_t *)sys_vmspace_alloc(SCRATCH_BYTES, PROT_READ | PROT_WRITE);
	if ((long)scratch < 0) {
		printf("sysfuzz: no scratch memory (%ld)\n", (long)scratch);
		return 1;
	}
	memset(scratch, '.', SCRATCH_BYTES); /* what a console_write of it shows */
	printf("sysfuzz: seed %#lx, %lu calls, pid %ld\n", (unsigned long)seed,
	       (unsigned long)ncalls, pid);

	while (calls < ncalls) {
		one_call();
		if (!quiet && calls % PROGRESS == 0)
			printf("sysfuzz: %lu calls\n", (unsigned long)calls);
	}
	sys_timer_set(0, 0);
	for (i = 0; i < MAX_REGIONS; i++)
		if (regions[i].len)
			sys_vmspace_free((void *)regions[i].start, regions[i].len);
	for (i = 0; i <= SYS_MAX; i++)
		if (ok_count[i] + err_count[i])
			printf("sysfuzz: %-13s %6lu ok %6lu failed\n",
			       i < SYS_MAX ? names[i] : "other", (unsigned long)ok_count[i],
			       (unsigned long)err_count[i]);
	printf("sysfuzz: done, %lu calls, %lu unexpected\n", (unsigned long)calls,
	       (unsigned long)unexpected);
	return unexpected ? 1 : 0;
}
