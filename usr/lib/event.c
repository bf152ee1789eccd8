/* Event-ring consumer, wait and the monotonic clock. */
#include <stdbool.h>
#include <stdint.h>

#include <mc/errno.h>
#include <mc/event.h>
#include <mc/runtime.h>
#include <mc/sys.h>

/*
 * head and tail are free-running counters; the slot is the counter modulo
 * EVENT_RING_ENTRIES. Acquire on head orders the kernel's writes of the
 * slot before our copy; release on tail tells the kernel the slot is free
 * only after the copy is done.
 */
bool mc_event_pop(struct mc_event *out)
{
	return mc_event_pop_from(mc_event_ring(), out);
}

bool mc_event_pop_from(struct mc_event_ring *r, struct mc_event *out)
{
	uint32_t head, tail;

	if (!r)
		return false;
	tail = r->tail; /* ours alone to write */
	head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
	if (head == tail)
		return false;
	*out = r->ev[tail & (EVENT_RING_ENTRIES - 1)];
	__atomic_store_n(&r->tail, tail + 1, __ATOMIC_RELEASE);
	return true;
}

uint32_t mc_event_dropped(void)
{
	struct mc_event_ring *r = mc_event_ring();

	return r ? __atomic_load_n(&r->dropped, __ATOMIC_RELAXED) : 0;
}

long mc_wait(uint64_t timeout_ns)
{
	return mc_syscall_ret(sys_wait(timeout_ns));
}

uint64_t mc_now_ns(void)
{
	struct mc_timespec ts;

	if (sys_clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return 0;
	return ts.sec * 1000000000ull + ts.nsec;
}
