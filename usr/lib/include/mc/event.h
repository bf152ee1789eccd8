/* The process's event ring (uapi/event.h): pop events, wait, read the clock. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <uapi/event.h>

/* The calling thread's ring (the first thread's is AT_MC_EVENT_RING), or NULL. */
struct mc_event_ring *mc_event_ring(void);

/*
 * Take the oldest event of the calling thread's ring into *out. Returns
 * false if the ring is empty. Single consumer: only the thread that owns a
 * ring may pop from it.
 */
bool mc_event_pop(struct mc_event *out);
/* The same for a ring looked up once (mc_event_ring), to spare the lookup. */
bool mc_event_pop_from(struct mc_event_ring *r, struct mc_event *out);

/* Events lost because the ring was full (a counter the kernel only grows). */
uint32_t mc_event_dropped(void);

/*
 * Sleep until an event is pending or timeout_ns passes (WAIT_FOREVER never
 * expires; 0 only polls). Returns the number of pending events, 0 on
 * timeout, or -1 with errno set.
 */
long mc_wait(uint64_t timeout_ns);

/* CLOCK_MONOTONIC in nanoseconds (0 if the kernel refuses the call). */
uint64_t mc_now_ns(void);
