/* waiter: wait() sleeps as long as asked, timer_set posts EV_TIMER, wait(0) polls. */
#include <stdbool.h>
#include <stdint.h>

#include <mc/errno.h>
#include <mc/event.h>
#include <mc/stdio.h>
#include <mc/stdlib.h>
#include <mc/sys.h>

#define NS_PER_MS      1000000ULL
#define EARLY_SLACK_NS (1 * NS_PER_MS)	 /* clock granularity */
#define LATE_SLACK_NS  (200 * NS_PER_MS) /* a loaded emulator */
#define TIMER_COOKIE   77
#define TIMER_DELAY_MS 30
#define POLL_MAX_NS    (50 * NS_PER_MS)

static bool failed;

static void fail(const char *why)
{
	printf("waiter: FAIL %s\n", why);
	failed = true;
}

/* Elapsed time as "M.mmm" milliseconds into buf. */
static const char *ms(uint64_t ns, char *buf, size_t size)
{
	snprintf(buf, size, "%lu.%03lu", (unsigned long)(ns / NS_PER_MS),
		 (unsigned long)(ns % NS_PER_MS / 1000));
	return buf;
}

static void check_timeout(uint64_t timeout_ms)
{
	uint64_t timeout = timeout_ms * NS_PER_MS, t0, dt;
	char buf[32], why[96];
	long r;

	t0 = mc_now_ns();
	r = sys_wait(timeout);
	dt = mc_now_ns() - t0;
	printf("waiter: wait(%lu ms) returned %ld after %s ms\n", (unsigned long)timeout_ms, r,
	       ms(dt, buf, sizeof(buf)));
	if (r != 0) {
		snprintf(why, sizeof(why), "wait(%lu ms) returned %ld, want 0",
			 (unsigned long)timeout_ms, r);
		fail(why);
	} else if (dt + EARLY_SLACK_NS < timeout) {
		snprintf(why, sizeof(why), "wait(%lu ms) returned early",
			 (unsigned long)timeout_ms);
		fail(why);
	} else if (dt > timeout + LATE_SLACK_NS) {
		snprintf(why, sizeof(why), "wait(%lu ms) returned late", (unsigned long)timeout_ms);
		fail(why);
	}
}

static void check_timer(void)
{
	uint64_t t0 = mc_now_ns(), deadline = t0 + TIMER_DELAY_MS * NS_PER_MS, dt;
	struct mc_event ev;
	char buf[32], why[128];
	long r;

	r = sys_timer_set(deadline, TIMER_COOKIE);
	if (r != 0) {
		snprintf(why, sizeof(why), "timer_set returned %ld (%s)", r, strerror((int)r));
		fail(why);
		return;
	}
	r = sys_wait(WAIT_FOREVER);
	dt = mc_now_ns() - t0;
	printf("waiter: wait(forever) with a timer at +%d ms returned %ld after %s ms\n",
	       TIMER_DELAY_MS, r, ms(dt, buf, sizeof(buf)));
	if (r <= 0) {
		snprintf(why, sizeof(why), "wait(forever) returned %ld, want > 0", r);
		fail(why);
		return;
	}
	if (dt + EARLY_SLACK_NS < TIMER_DELAY_MS * NS_PER_MS)
		fail("timer event came before its deadline");
	if (!mc_event_pop(&ev)) {
		fail("wait said events are pending but the ring is empty");
		return;
	}
	printf("waiter: event type %u data %lu %lu\n", ev.type, (unsigned long)ev.data[0],
	       (unsigned long)ev.data[1]);
	if (ev.type != EV_TIMER || ev.data[0] != TIMER_COOKIE) {
		snprintf(why, sizeof(why),
			 "got event type %u cookie %lu, want EV_TIMER (%d) cookie %d", ev.type,
			 (unsigned long)ev.data[0], EV_TIMER, TIMER_COOKIE);
		fail(why);
	}
	if (mc_event_pop(&ev)) {
		snprintf(why, sizeof(why), "unexpected second event type %u", ev.type);
		fail(why);
	}
}

static void check_poll(void)
{
	uint64_t t0 = mc_now_ns(), dt;
	char buf[32], why[64];
	long r = sys_wait(0);

	dt = mc_now_ns() - t0;
	printf("waiter: wait(0) returned %ld after %s ms\n", r, ms(dt, buf, sizeof(buf)));
	if (r != 0) {
		snprintf(why, sizeof(why), "wait(0) returned %ld, want 0", r);
		fail(why);
	} else if (dt > POLL_MAX_NS) {
		fail("wait(0) did not return at once");
	}
}

int main(void)
{
	static const uint64_t timeouts_ms[] = {10, 50, 100};

	if (!mc_event_ring())
		fail("no AT_MC_EVENT_RING in the auxiliary vector");
	if (mc_now_ns() == 0)
		fail("clock_gettime(CLOCK_MONOTONIC) failed");
	for (size_t i = 0; i < sizeof(timeouts_ms) / sizeof(timeouts_ms[0]); i++)
		check_timeout(timeouts_ms[i]);
	check_timer();
	check_poll();
	if (mc_event_dropped())
		fail("events were dropped");
	if (failed)
		return 1;
	printf("waiter: PASS\n");
	return 0;
}
