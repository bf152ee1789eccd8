/* Split-virtqueue driver bookkeeping (virtio 1.2 §2.7), shared by the kernel and user space. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Everything the device sees is little-endian (virtio 1.2 §2.4); x86 is too,
 * so ring fields are accessed without conversion.
 */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "virtq: little-endian hosts only");

/* §2.7.5: the descriptor table. */
#define VIRTQ_DESC_F_NEXT     1 /* chained through next */
#define VIRTQ_DESC_F_WRITE    2 /* device-writable (otherwise device-readable) */
#define VIRTQ_DESC_F_INDIRECT 4 /* points to a table of descriptors (unused here) */

struct virtq_desc {
	uint64_t addr; /* device (bus) address of the buffer */
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
_Static_assert(sizeof(struct virtq_desc) == 16, "virtio 1.2 §2.7.5");

/* §2.7.6: the driver area. With EVENT_IDX, used_event follows ring[size]. */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

struct virtq_avail {
	uint16_t flags;
	uint16_t idx; /* where the driver puts the next entry, mod 2^16 */
	uint16_t ring[];
};

/* §2.7.8: the device area. With EVENT_IDX, avail_event follows ring[size]. */
#define VIRTQ_USED_F_NO_NOTIFY 1

struct virtq_used_elem {
	uint32_t id;  /* head of the returned descriptor chain */
	uint32_t len; /* bytes the device wrote into it */
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx; /* where the device puts the next entry, mod 2^16 */
	struct virtq_used_elem ring[];
};
_Static_assert(sizeof(struct virtq_used_elem) == 8, "virtio 1.2 §2.7.8");

/* §2.7: a split queue has at most 32768 entries, a power of two. */
#define VIRTQ_SIZE_MAX 32768

/* Alignments the device requires of each area (§2.7, table "Virtqueue Part Alignment"). */
#define VIRTQ_DESC_ALIGN  16
#define VIRTQ_AVAIL_ALIGN 2
#define VIRTQ_USED_ALIGN  4

/* Bytes each area takes for a queue of size entries, event fields included. */
static inline size_t virtq_desc_bytes(unsigned int size)
{
	return sizeof(struct virtq_desc) * size;
}

static inline size_t virtq_avail_bytes(unsigned int size)
{
	return sizeof(uint16_t) * (3 + size);
}

static inline size_t virtq_used_bytes(unsigned int size)
{
	return sizeof(uint16_t) * 3 + sizeof(struct virtq_used_elem) * size;
}

/*
 * A whole queue in one block of memory, the way the kernel allocates it:
 * the descriptor table, the driver area right after it, and the device
 * area from the next page boundary. The device only reads the first part
 * [0, used_off) and writes the second, so the two can be given different
 * rights (the IOMMU maps them apart). A page-aligned block meets every
 * alignment of §2.7.
 */
struct virtq_block {
	size_t desc_off;  /* 0 */
	size_t avail_off; /* right after the descriptor table */
	size_t used_off;  /* page aligned: the device-written part starts here */
	size_t bytes;	  /* the whole block, in whole pages */
};

static inline size_t virtq_round_up(size_t x, size_t page_size)
{
	return (x + page_size - 1) / page_size * page_size;
}

static inline struct virtq_block virtq_block_layout(unsigned int size, size_t page_size)
{
	struct virtq_block b;

	b.desc_off = 0;
	b.avail_off = virtq_desc_bytes(size);
	b.used_off = virtq_round_up(b.avail_off + virtq_avail_bytes(size), page_size);
	b.bytes = virtq_round_up(b.used_off + virtq_used_bytes(size), page_size);
	return b;
}

/*
 * §2.7.10: with EVENT_IDX, the side that moved its index from old_idx to
 * new_idx notifies the other iff event_idx lies in [old_idx, new_idx), all
 * modulo 2^16: the other side asked to hear when entry event_idx is written.
 */
static inline bool virtq_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old_idx);
}

/*
 * What the driver remembers of each descriptor, in memory the device
 * cannot reach: the descriptor table is shared with the device, so nothing
 * the driver relies on is read back from it (a device that writes there
 * could otherwise send the free list out of bounds or stretch a buffer).
 */
struct virtq_slot {
	void *cookie;  /* of an in-flight descriptor, NULL when free */
	uint32_t len;  /* the length the driver gave it */
	uint16_t next; /* free list link */
	uint16_t pad;
};

/*
 * The driver side of one split virtqueue. Every buffer is a single
 * descriptor (no chains, no indirect tables): single-buffer chains are all
 * that a virtio-net queue without merged buffers needs, and with them the
 * free list and out-of-order completion stay trivial.
 *
 * Not thread-safe: one owner drives a queue. The fields are private to
 * virtq.c; read them through the accessors below.
 */
struct virtq {
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	uint16_t *used_event;	 /* avail->ring[size]: interrupt me after this entry */
	uint16_t *avail_event;	 /* used->ring[size]: kick me after this entry */
	struct virtq_slot *slot; /* slot[id]: the driver's own record of descriptor id */
	uint16_t size;
	uint16_t mask; /* size - 1 */
	uint16_t num_free;
	uint16_t free_head;	/* free descriptors are chained through slot[].next */
	uint16_t avail_idx;	/* next avail slot to fill, published or not */
	uint16_t avail_pub;	/* the value last stored in avail->idx */
	uint16_t kick_idx;	/* avail->idx when the device was last considered for a kick */
	uint16_t last_used_idx; /* next used entry to consume */
	uint16_t used_shadow;	/* used->idx as last read */
	uint16_t avail_flags;	/* what we last wrote to avail->flags */
	bool event_idx;		/* VIRTIO_F_EVENT_IDX negotiated */
	bool irq_enabled;	/* the driver wants used-buffer notifications */
	uint64_t dev_errors;	/* used entries naming a descriptor not in flight, or too long */
};

/*
 * Take over a queue of size entries (a power of two up to VIRTQ_SIZE_MAX)
 * whose areas the device was given, before it has used any buffer: every
 * descriptor becomes free, avail->idx 0, and used-buffer notifications are
 * enabled (the device's default). slots is the caller's array of size
 * entries, private to the driver. The descriptor table and avail ring are
 * only written, the used area only read. Returns 0, or -EINVAL for a bad
 * size, a NULL or misaligned area.
 */
int virtq_init(struct virtq *vq, void *desc, void *avail, void *used, unsigned int size,
	       struct virtq_slot *slots, bool event_idx);

/*
 * Queue one buffer of len bytes at device address addr: device-writable
 * (the device fills it) or device-readable (the device consumes it).
 * cookie, not NULL, comes back from virtq_get_used when the device is done.
 * The device does not see the buffer until virtq_publish. Returns 0,
 * -ENOSPC when no descriptor is free, or -EINVAL (NULL cookie, len 0).
 */
int virtq_add(struct virtq *vq, uint64_t addr, uint32_t len, bool device_writable, void *cookie);

/* Make every buffer added so far visible to the device: one release store of avail->idx. */
void virtq_publish(struct virtq *vq);

/*
 * Whether the device must be notified of the buffers published since the
 * last call (§2.7.10: avail_event with EVENT_IDX, else VIRTQ_USED_F_NO_NOTIFY).
 * Call once after each virtq_publish and write the doorbell if true.
 */
bool virtq_kick_needed(struct virtq *vq);

/*
 * Take the next buffer the device returned: 1 and its cookie and the
 * number of bytes written (never more than the buffer's length), or 0 if
 * there is none. -EIO: the device returned a descriptor that is not in
 * flight; the entry is skipped and counted in dev_errors.
 */
int virtq_get_used(struct virtq *vq, void **cookie, uint32_t *len);

/* Whether the device has returned buffers not yet taken by virtq_get_used. */
static inline bool virtq_used_pending(struct virtq *vq)
{
	if (vq->used_shadow == vq->last_used_idx)
		vq->used_shadow = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
	return vq->used_shadow != vq->last_used_idx;
}

/*
 * Whether the device has used every buffer made available before avail
 * index idx (modulo 2^16, as the ring counts): a peek at used->idx that
 * takes nothing.
 */
static inline bool virtq_used_reached(const struct virtq *vq, uint16_t idx)
{
	uint16_t used = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);

	return (int16_t)(used - idx) >= 0;
}

/*
 * Whether the device asks, as of now, to be notified of new buffers (the
 * flag form; with EVENT_IDX the answer depends on the index: true). A peek
 * that takes nothing: virtq_kick_needed decides after publishing.
 */
static inline bool virtq_kick_wanted(const struct virtq *vq)
{
	return vq->event_idx ||
	       !(__atomic_load_n(&vq->used->flags, __ATOMIC_RELAXED) & VIRTQ_USED_F_NO_NOTIFY);
}

/*
 * Ask for a notification (interrupt) when the device next returns a buffer:
 * with EVENT_IDX, used_event = last_used_idx; else clear
 * VIRTQ_AVAIL_F_NO_INTERRUPT. Returns true if buffers were returned
 * meanwhile, whose notification may already have been suppressed: the
 * caller must poll again instead of sleeping.
 */
bool virtq_enable_irq(struct virtq *vq);

/*
 * Tell the device notifications are not needed (a hint: some may still
 * arrive). With EVENT_IDX this points used_event as far behind as it can
 * be; a poller that keeps irqs off for 65536 buffers calls it again so the
 * index does not come round.
 */
void virtq_disable_irq(struct virtq *vq);

static inline unsigned int virtq_size(const struct virtq *vq)
{
	return vq->size;
}

/* Descriptors available to virtq_add. */
static inline unsigned int virtq_free_count(const struct virtq *vq)
{
	return vq->num_free;
}

/* Buffers added and not yet returned by virtq_get_used. */
static inline unsigned int virtq_inflight(const struct virtq *vq)
{
	return (unsigned int)vq->size - vq->num_free;
}
