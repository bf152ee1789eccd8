/*
 * The event ring: one per thread, in memory shared with its process. The kernel is
 * the only producer (it advances `head`), the process the only consumer (it
 * advances `tail`). The kernel treats `tail` as untrusted: a process that
 * corrupts it loses only its own events. Events that find the ring full are
 * counted in `dropped`. The first thread's ring address comes in the
 * auxiliary vector (AT_MC_EVENT_RING, include/uapi/auxv.h); a thread started
 * with thread_start gets its own in rsi.
 */
#pragma once

#include <stdint.h>

#define EV_NONE	 0
#define EV_TIMER 1 /* data[0] = cookie from timer_set, data[1] = deadline */
#define EV_NET	 2 /* data[0] = queue pair, data[1] = interrupt count */
#define EV_CHILD 3 /* reserved: data[0] = pid, data[1] = status */
#define EV_WAKE	 4 /* thread_wake: data[0] = value, data[1] = the sender's thread id */
/*
 * data[0] = queue pair: the NIC was reset under it (another owner of the
 * device made it fail). Its rings are off and will be wiped: buffers posted
 * and frames not yet sent are gone. net_attach the same pair again to have
 * it back, with the same layout, and start over from empty rings.
 */
#define EV_NET_RESET 5

struct mc_event {
	uint32_t type;
	uint32_t flags;
	uint64_t data[3];
};
_Static_assert(sizeof(struct mc_event) == 32, "ABI");

#define EVENT_RING_ENTRIES 128

struct mc_event_ring {
	volatile uint32_t head; /* next slot the kernel fills */
	uint32_t pad0[15];
	volatile uint32_t tail; /* next slot the process reads */
	uint32_t pad1[15];
	volatile uint32_t dropped; /* events lost to a full ring */
	uint32_t entries;	   /* EVENT_RING_ENTRIES, a power of two */
	uint32_t pad2[30];
	struct mc_event ev[EVENT_RING_ENTRIES];
};
_Static_assert(sizeof(struct mc_event_ring) == 256 + 32 * EVENT_RING_ENTRIES, "ABI");
