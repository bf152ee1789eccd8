/* The process's event ring (uapi/event.h): pop events, wait, read the clock. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <uapi/event.h>

/* The ring the kernel announced in AT_MC_EVENT_RING, or NULL if none. */
struct mc_event_ring *mc_event_ring(void);

/*
 * Take the oldest event into *out. Returns false if the ring is empty. Single
 * consumer: only one caller at a time may pop (processes are single-threaded).
 */
bool mc_event_pop(struct mc_event *out);

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
