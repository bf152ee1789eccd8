/*
 * exhaust: run a resource out and check that the limit answers with an errno.
 *
 *   exhaust mem [HOLD_MS]   map pages until ENOMEM (the mem= budget or the
 *                           machine's RAM, whichever ends first), write them
 *                           all, hold them HOLD_MS (default 300), free them
 *   exhaust timers [MS]     arm timers without pause for MS (default 300):
 *                           past, present and future deadlines, a ring left
 *                           to overflow, then drained
 *   exhaust net             take queue pair eth0:0 as it changes hands: retry
 *                           net_attach while another process holds it (EBUSY)
 *                           or memory is short (ENOMEM), check the new owner
 *                           sees nothing of the last, then exit and pass it on
 *                           (there is no detach call: several of these, one
 *                           after another, are the attach/detach loop)
 *
 * Each mode prints `exhaust MODE: ...` lines and `exhaust MODE: PASS`, or
 * `exhaust MODE: FAIL why`, and exits 0 only on PASS.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include <lib/string.h>
#include <mc/errno.h>
#include <mc/event.h>
#include <mc/runtime.h>
#include <mc/stdio.h>
#include <mc/stdlib.h>
#include <mc/sys.h>

#define PAGE	    4096UL
#define MS	    1000000ULL
#define MAX_MAPS    256 /* halving requests, then single pages at the limit */
#define TIMER_TAG   0x7157000000000000ULL
#define NET_TRIES   2000
#define NET_BACKOFF (2 * MS)

static const char *mode = "?";
static int failures;

__attribute__((format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
	char buf[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("exhaust %s: FAIL %s\n", mode, buf);
	failures++;
}

/* Sleep about ns, whatever else the event ring holds. */
static void nap(uint64_t ns)
{
	uint64_t end = mc_now_ns() + ns, now;
	struct mc_event ev;

	while ((now = mc_now_ns()) < end) {
		sys_wait(end - now);
		while (mc_event_pop(&ev))
			;
	}
}

/* ---------------------------------------------------------------- mem */

struct map {
	uint8_t *p;
	size_t len;
};

static struct map maps[MAX_MAPS];

static int run_mem(uint64_t hold_ms)
{
	size_t chunk = 64UL << 20, pages = 0, n = 0, i, off;
	unsigned int enomem = 0;
	long rc;

	/* Halve the request on each ENOMEM: the last page the limit allows is taken too. */
	while (chunk >= PAGE && n < MAX_MAPS) {
		rc = sys_vmspace_alloc(chunk, PROT_READ | PROT_WRITE);
		if (rc == -ENOMEM) {
			enomem++;
			chunk /= 2;
			continue;
		}
		if (rc < 0) {
			fail("vmspace_alloc(%zu) = %ld, not a mapping or ENOMEM", chunk, rc);
			break;
		}
		maps[n].p = (uint8_t *)rc;
		maps[n].len = chunk;
		n++;
		pages += chunk / PAGE;
	}
	if (!enomem)
		fail("no ENOMEM after %zu pages", pages);
	/*
	 * At the limit a request is refused the same way, or (RAM shared
	 * with processes that free theirs meanwhile) granted: never more.
	 */
	for (i = 0; i < 64; i++) {
		rc = sys_vmspace_alloc(PAGE, PROT_READ | PROT_WRITE);
		if (rc == -ENOMEM)
			continue;
		if (rc < 0) {
			fail("vmspace_alloc(4096) at the limit = %ld", rc);
			continue;
		}
		if (n == MAX_MAPS) {
			/*
			 * Granted (others freed theirs) with no room left to
			 * keep it: the halving took many small grants as RAM
			 * came and went. Not the kernel's fault; give it back.
			 */
			sys_vmspace_free((void *)rc, PAGE);
			continue;
		}
		maps[n].p = (uint8_t *)rc;
		maps[n].len = PAGE;
		n++;
		pages++;
	}
	/* Every page is really there, zeroed, and ours. */
	for (i = 0; i < n; i++) {
		for (off = 0; off < maps[i].len; off += PAGE) {
			if (maps[i].p[off] != 0)
				fail("page %#lx not zeroed",
				     (unsigned long)(uintptr_t)(maps[i].p + off));
			maps[i].p[off] = (uint8_t)(i + off / PAGE);
		}
	}
	printf("exhaust mem %lu: %zu pages in %zu mappings, then ENOMEM\n", (unsigned long)hold_ms,
	       pages, n);
	nap(hold_ms * MS);
	for (i = 0; i < n; i++) {
		for (off = 0; off < maps[i].len; off += PAGE)
			if (maps[i].p[off] != (uint8_t)(i + off / PAGE))
				fail("page %#lx changed while held",
				     (unsigned long)(uintptr_t)(maps[i].p + off));
		rc = sys_vmspace_free(maps[i].p, maps[i].len);
		if (rc)
			fail("vmspace_free = %ld", rc);
	}
	/* What was freed can be had again (unless a neighbour took it meanwhile). */
	rc = sys_vmspace_alloc(PAGE, PROT_READ | PROT_WRITE);
	if (rc < 0 && rc != -ENOMEM)
		fail("vmspace_alloc after freeing = %ld", rc);
	return 0;
}

/* ---------------------------------------------------------------- timers */

static int run_timers(uint64_t ms)
{
	uint64_t start = mc_now_ns(), end = start + ms * MS, now, armed = 0, timers = 0;
	uint32_t dropped0 = mc_event_dropped();
	struct mc_event ev;
	long rc;

	/* Deadlines already past fire at once: the ring overflows, and says so. */
	for (int i = 0; i < 4 * EVENT_RING_ENTRIES; i++) {
		rc = sys_timer_set(1, TIMER_TAG | (uint64_t)i);
		if (rc)
			fail("timer_set(1) = %ld", rc);
		sys_yield();
	}
	rc = sys_wait(0);
	if (rc != EVENT_RING_ENTRIES)
		printf("exhaust timers: %ld events pending after the burst\n", rc);
	while (mc_event_pop(&ev)) {
		if (ev.type != EV_TIMER || (ev.data[0] & ~0xffffULL) != TIMER_TAG)
			fail("event type %u data %#lx", ev.type, (unsigned long)ev.data[0]);
		timers++;
	}
	printf("exhaust timers: burst gave %lu events, %u dropped\n", (unsigned long)timers,
	       mc_event_dropped() - dropped0);
	/* Then without pause: rearm before each wait, every kind of deadline. */
	while ((now = mc_now_ns()) < end) {
		uint64_t d;

		switch (armed++ % 4) {
		case 0:
			d = now; /* due */
			break;
		case 1:
			d = now + 20000; /* 20 us */
			break;
		case 2:
			d = UINT64_MAX; /* never */
			break;
		default:
			d = 0; /* disarm */
			break;
		}
		rc = sys_timer_set(d, TIMER_TAG | (armed & 0xffff));
		if (rc)
			fail("timer_set(%#lx) = %ld", (unsigned long)d, rc);
		rc = sys_wait(d == UINT64_MAX || d == 0 ? 10000 : 100 * MS);
		if (rc < 0)
			fail("wait = %ld", rc);
		while (mc_event_pop(&ev))
			timers++;
	}
	sys_timer_set(0, 0);
	printf("exhaust timers: %lu timers armed, %lu events in %lu ms\n", (unsigned long)armed,
	       (unsigned long)timers, (unsigned long)ms);
	if (timers < armed / 4)
		fail("only %lu events for %lu due timers", (unsigned long)timers,
		     (unsigned long)armed / 4);
	return 0;
}

/* ---------------------------------------------------------------- net */

static bool all_zero(const void *p, size_t len)
{
	const uint64_t *w = p;

	for (size_t i = 0; i < len / 8; i++)
		if (w[i])
			return false;
	return true;
}

static int run_net(void)
{
	struct mc_net_layout l;
	unsigned int busy = 0, nomem = 0, tries;
	long rc = -EBUSY;

	for (tries = 0; tries < NET_TRIES; tries++) {
		memset(&l, 0, sizeof(l));
		rc = sys_net_attach("eth0", 0, &l);
		if (rc != -EBUSY && rc != -ENOMEM)
			break;
		if (rc == -EBUSY)
			busy++;
		else
			nomem++;
		nap(NET_BACKOFF);
	}
	printf("exhaust net: net_attach = %ld after %u EBUSY, %u ENOMEM\n", rc, busy, nomem);
	if (rc) {
		fail("never got the queue pair");
		return 0;
	}
	if (l.version != MC_NET_LAYOUT_VERSION || !l.pool || l.pool_size < PAGE)
		fail("layout version %u pool %#lx size %lu", l.version, (unsigned long)l.pool,
		     (unsigned long)l.pool_size);
	/* Nothing of the previous owner: pool and rings wiped. */
	if (!all_zero((void *)l.pool, l.pool_size))
		fail("the pool holds the last owner's bytes");
	if (!all_zero((void *)l.rx.avail, 4) || !all_zero((void *)l.tx.avail, 4))
		fail("the avail rings are not fresh");
	/* One owner: asking again is refused, and so are queue pairs not granted. */
	rc = sys_net_attach("eth0", 0, &l);
	if (rc != -EBUSY && rc != -ENOSPC)
		fail("second net_attach = %ld", rc);
	rc = sys_net_attach("eth0", 1, &l);
	if (rc != -EPERM)
		fail("net_attach of a queue pair not granted = %ld", rc);
	/* Leave a mark for the next owner not to see. */
	memset((void *)l.pool, 0xa5, l.pool_size);
	nap(NET_BACKOFF);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t arg = argc > 2 ? strtoul(argv[2], NULL, 0) : 0;

	mode = argc > 1 ? argv[1] : "?";
	if (!strcmp(mode, "mem"))
		run_mem(argc > 2 ? arg : 300);
	else if (!strcmp(mode, "timers"))
		run_timers(argc > 2 ? arg : 300);
	else if (!strcmp(mode, "net"))
		run_net();
	else
		fail("usage: exhaust mem|timers|net [ARG]");
	if (!failures)
		printf("exhaust %s: PASS\n", mode);
	return failures ? 1 : 0;
}
