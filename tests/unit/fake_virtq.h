/*
 * The device's side of a split virtqueue (virtio 1.2 §2.7), simulated for
 * the tests of the drivers that use lib/virtq.c (test_vnet, test_netif).
 * The rings live in page-aligned heap memory; the doorbell is a variable
 * whose address stands in for the notify register.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lib/virtq.h>
#include <uapi/net.h>

#define FAKE_VQ_NO_BELL 0xffff /* the doorbell has not rung since the last look */

struct fake_vq {
	unsigned int size;
	bool event_idx; /* VIRTIO_F_EVENT_IDX negotiated */
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	uint16_t next_avail; /* next avail entry the device takes */
	uint16_t next_used;  /* next used entry it writes */
	uint16_t bell;	     /* the doorbell register */
	unsigned int kicks;  /* doorbell rings seen */
	unsigned int irqs;   /* interrupts the device raised */
};

static inline void *fake_zalloc(size_t len)
{
	void *p = aligned_alloc(4096, (len + 4095) / 4096 * 4096);

	assert_non_null(p);
	memset(p, 0, len);
	return p;
}

/* A queue of size entries, described to the driver in *mq as the kernel would. */
static inline void fvq_init(struct fake_vq *q, unsigned int size, bool event_idx,
			    struct mc_net_queue *mq, uint16_t index)
{
	memset(q, 0, sizeof(*q));
	q->size = size;
	q->event_idx = event_idx;
	q->desc = fake_zalloc(virtq_desc_bytes(size));
	q->avail = fake_zalloc(virtq_avail_bytes(size));
	q->used = fake_zalloc(virtq_used_bytes(size));
	q->bell = FAKE_VQ_NO_BELL;
	mq->desc = (uintptr_t)q->desc;
	mq->avail = (uintptr_t)q->avail;
	mq->used = (uintptr_t)q->used;
	mq->notify = (uintptr_t)&q->bell;
	mq->size = (uint16_t)size;
	mq->index = index;
}

static inline void fvq_free(struct fake_vq *q)
{
	free(q->desc);
	free(q->avail);
	free(q->used);
}

/* Count a doorbell ring since the last look; it must name this queue. */
static inline void fvq_bell(struct fake_vq *q, uint16_t index)
{
	if (q->bell == FAKE_VQ_NO_BELL)
		return;
	assert_int_equal(q->bell, index);
	q->kicks++;
	q->bell = FAKE_VQ_NO_BELL;
}

/* Buffers the driver has made available and the device not yet taken. */
static inline unsigned int fvq_pending(const struct fake_vq *q)
{
	return (uint16_t)(q->avail->idx - q->next_avail);
}

/* Ask for a kick when the driver next publishes, as a device that drained the queue does. */
static inline void fvq_want_kick(struct fake_vq *q)
{
	if (q->event_idx)
		*(volatile uint16_t *)&q->used->ring[q->size] = q->next_avail; /* avail_event */
}

/* Take the next available descriptor chain's head. */
static inline uint16_t fvq_take(struct fake_vq *q)
{
	uint16_t id;

	assert_true(fvq_pending(q) > 0);
	id = q->avail->ring[q->next_avail % q->size];
	q->next_avail++;
	assert_true(id < q->size);
	return id;
}

/* Return descriptor id with len bytes written; true if the driver asked for an interrupt. */
static inline bool fvq_put(struct fake_vq *q, uint32_t id, uint32_t len)
{
	uint16_t old = q->next_used;
	bool irq;

	q->used->ring[q->next_used % q->size] = (struct virtq_used_elem){id, len};
	q->next_used++;
	__atomic_store_n(&q->used->idx, q->next_used, __ATOMIC_RELEASE);
	if (q->event_idx)
		irq = virtq_need_event(q->avail->ring[q->size], q->next_used, old); /* used_event */
	else
		irq = !(q->avail->flags & VIRTQ_AVAIL_F_NO_INTERRUPT);
	q->irqs += irq;
	return irq;
}
