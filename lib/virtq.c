/* Split-virtqueue driver bookkeeping: free list, avail/used indices, notification suppression. */
#include <lib/virtq.h>
#include <uapi/errno.h>

/*
 * Memory ordering (virtio 1.2 §2.7.13). Descriptor and ring-slot writes must
 * be visible before the avail->idx that exposes them (release store), and
 * used-ring entries read only after the used->idx that covers them (acquire
 * load). On x86 both are plain moves plus a compiler barrier. Where the
 * driver writes one location and must then read one the device writes
 * (avail->idx then avail_event or the NO_NOTIFY flag; used_event then
 * used->idx), a store-load barrier is needed even on x86: full_barrier().
 */
static inline void full_barrier(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static inline uint16_t load_dev16(const uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void store_drv16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static bool is_aligned(const void *p, uintptr_t align)
{
	return ((uintptr_t)p & (align - 1)) == 0;
}

int virtq_init(struct virtq *vq, void *desc, void *avail, void *used, unsigned int size,
	       struct virtq_slot *slots, bool event_idx)
{
	unsigned int i;

	if (size == 0 || size > VIRTQ_SIZE_MAX || (size & (size - 1)))
		return -EINVAL;
	if (!desc || !avail || !used || !slots)
		return -EINVAL;
	if (!is_aligned(desc, VIRTQ_DESC_ALIGN) || !is_aligned(avail, VIRTQ_AVAIL_ALIGN) ||
	    !is_aligned(used, VIRTQ_USED_ALIGN))
		return -EINVAL;

	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->used_event = &vq->avail->ring[size];
	vq->avail_event = (uint16_t *)&vq->used->ring[size];
	vq->slot = slots;
	vq->size = (uint16_t)size;
	vq->mask = (uint16_t)(size - 1);
	vq->event_idx = event_idx;

	/* Free list 0 -> 1 -> ... -> size-1; next of the last is never followed. */
	for (i = 0; i < size; i++) {
		vq->desc[i] = (struct virtq_desc){0};
		vq->slot[i] = (struct virtq_slot){.next = (uint16_t)(i + 1)};
	}
	vq->num_free = (uint16_t)size;
	vq->free_head = 0;

	/* A freshly enabled queue starts at index 0 on both sides (§2.7). */
	vq->avail_idx = 0;
	vq->avail_pub = 0;
	vq->kick_idx = 0;
	vq->last_used_idx = 0;
	vq->used_shadow = 0;
	vq->avail_flags = 0;
	vq->irq_enabled = true;
	vq->dev_errors = 0;
	store_drv16(&vq->avail->flags, 0);
	store_drv16(vq->used_event, 0);
	__atomic_store_n(&vq->avail->idx, 0, __ATOMIC_RELEASE);
	return 0;
}

int virtq_add(struct virtq *vq, uint64_t addr, uint32_t len, bool device_writable, void *cookie)
{
	struct virtq_desc *d;
	uint16_t id;

	if (!cookie || len == 0)
		return -EINVAL;
	if (vq->num_free == 0)
		return -ENOSPC;

	id = vq->free_head;
	vq->free_head = vq->slot[id].next;
	vq->num_free--;

	d = &vq->desc[id];
	d->addr = addr;
	d->len = len;
	d->flags = device_writable ? VIRTQ_DESC_F_WRITE : 0;
	d->next = 0;
	vq->slot[id].cookie = cookie;
	vq->slot[id].len = len;

	/*
	 * Fewer than size buffers are in flight, and the device reads the
	 * ring in order, so it is done with the slot size entries back.
	 */
	vq->avail->ring[vq->avail_idx & vq->mask] = id;
	vq->avail_idx++;
	return 0;
}

void virtq_publish(struct virtq *vq)
{
	__atomic_store_n(&vq->avail->idx, vq->avail_idx, __ATOMIC_RELEASE);
	vq->avail_pub = vq->avail_idx;
}

bool virtq_kick_needed(struct virtq *vq)
{
	uint16_t old_idx = vq->kick_idx, new_idx = vq->avail_pub;

	vq->kick_idx = new_idx;
	/* The device must see the new avail->idx before we read its wishes. */
	full_barrier();
	if (vq->event_idx)
		return virtq_need_event(load_dev16(vq->avail_event), new_idx, old_idx);
	return new_idx != old_idx && !(load_dev16(&vq->used->flags) & VIRTQ_USED_F_NO_NOTIFY);
}

static void desc_free(struct virtq *vq, uint16_t id)
{
	vq->slot[id].cookie = NULL;
	vq->slot[id].next = vq->free_head;
	vq->free_head = id;
	vq->num_free++;
}

/* Refresh the shadow of used->idx; acquire orders the entries' reads after it. */

int virtq_get_used(struct virtq *vq, void **cookie, uint32_t *len)
{
	const struct virtq_used_elem *e;
	uint32_t id, n;

	if (!virtq_used_pending(vq))
		return 0;
	e = &vq->used->ring[vq->last_used_idx & vq->mask];
	id = __atomic_load_n(&e->id, __ATOMIC_RELAXED);
	n = __atomic_load_n(&e->len, __ATOMIC_RELAXED);
	vq->last_used_idx++;
	/*
	 * Keep asking for the entry after this one while notifications are
	 * on (§2.7.10), so a consumer that stays armed is not left unheard.
	 */
	if (vq->event_idx && vq->irq_enabled)
		store_drv16(vq->used_event, vq->last_used_idx);

	/*
	 * The device's word is not trusted: the id must name a buffer in
	 * flight, and the length is bounded by what the driver gave it (its
	 * own record: the device can write the descriptor table).
	 */
	if (id >= vq->size || !vq->slot[id].cookie) {
		vq->dev_errors++;
		return -EIO;
	}
	if (n > vq->slot[id].len) {
		vq->dev_errors++;
		n = vq->slot[id].len;
	}
	*cookie = vq->slot[id].cookie;
	*len = n;
	desc_free(vq, (uint16_t)id);
	return 1;
}


bool virtq_enable_irq(struct virtq *vq)
{
	vq->irq_enabled = true;
	if (vq->event_idx) {
		store_drv16(vq->used_event, vq->last_used_idx);
	} else if (vq->avail_flags & VIRTQ_AVAIL_F_NO_INTERRUPT) {
		vq->avail_flags &= (uint16_t)~VIRTQ_AVAIL_F_NO_INTERRUPT;
		store_drv16(&vq->avail->flags, vq->avail_flags);
	}
	/* Our request must be visible before we look for entries it missed. */
	full_barrier();
	vq->used_shadow = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
	return vq->used_shadow != vq->last_used_idx;
}

void virtq_disable_irq(struct virtq *vq)
{
	vq->irq_enabled = false;
	if (vq->event_idx) {
		/*
		 * §2.7.10: with EVENT_IDX flags must stay 0. The device has
		 * written entry last_used_idx - 1 already and will not write
		 * an entry of that index again for another 65536 entries.
		 */
		store_drv16(vq->used_event, (uint16_t)(vq->last_used_idx - 1));
	} else if (!(vq->avail_flags & VIRTQ_AVAIL_F_NO_INTERRUPT)) {
		vq->avail_flags |= VIRTQ_AVAIL_F_NO_INTERRUPT;
		store_drv16(&vq->avail->flags, vq->avail_flags);
	}
}
