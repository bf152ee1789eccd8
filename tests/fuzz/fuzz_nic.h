/*
 * A simulated virtio-net queue pair and the kernel around it, for the fuzz
 * targets that drive usr/lib/vnet.c and usr/lib/netif.c (and, later, the
 * protocols above them). The device side is tests/unit/fake_virtq.h; its
 * checks report through FUZZ_CHECK here. Unlike the unit tests' rings,
 * every ring is a heap block of exactly its size and the pool ends where
 * its block ends, so AddressSanitizer sees a driver that indexes past one.
 */
#pragma once

#include <lib/virtq.h>
#include <mc/event.h>
#include <uapi/auxv.h>
#include <uapi/errno.h>
#include <uapi/net.h>
#include <uapi/syscall.h>
#include <vnet.h>

#include "fuzz.h"

#define assert_non_null(p)     FUZZ_CHECK((p) != NULL)
#define assert_true(c)	       FUZZ_CHECK(c)
#define assert_int_equal(a, b) FUZZ_CHECK((a) == (b))
#include "../unit/fake_virtq.h"

#define NIC_POOL_DMA 0x80000000ull /* the device's address of pool byte 0 */
#define NIC_RX_INDEX 0
#define NIC_TX_INDEX 1
#define NIC_QP	     0
#define NIC_TICK_NS  100 /* the fake TSC: each read is 100 ns later */

static const uint8_t nic_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

struct nic {
	struct mc_net_layout layout;
	struct fake_vq rx, tx;
	uint8_t *pool;
	size_t pool_size;
	uint32_t buf_size;
	unsigned int nbufs;
};

/* The one NIC sys_net_attach hands out. */
static struct nic *nic;

/* The fake kernel's clock and event ring. */
static uint64_t nic_ns = 1000000000ull;
static struct mc_event nic_events[EVENT_RING_ENTRIES];
static unsigned int nic_ev_head, nic_ev_tail;

static void *nic_alloc(size_t len, size_t align)
{
	void *p = NULL;

	if (align < sizeof(void *))
		align = sizeof(void *); /* posix_memalign's least */
	FUZZ_CHECK(posix_memalign(&p, align, len ? len : 1) == 0);
	memset(p, 0, len);
	return p;
}

#define NIC_POOL_MAX (1UL << 20)

/*
 * The pool: the last bytes of one block kept from input to input (a fresh
 * megabyte each time would cost more than the test), 16-byte aligned and
 * ending less than 16 bytes before the block does, so a driver that
 * reads or writes past the pool is still caught.
 */
static uint8_t *nic_pool(size_t len)
{
	static uint8_t *block;
	size_t at = (NIC_POOL_MAX - len) & ~(size_t)15;

	FUZZ_CHECK(len <= NIC_POOL_MAX);
	if (!block)
		block = nic_alloc(NIC_POOL_MAX, 64);
	memset(block + at, 0, len);
	return block + at;
}

static void nic_queue(struct fake_vq *q, unsigned int size, bool event_idx, struct mc_net_queue *mq,
		      uint16_t index)
{
	memset(q, 0, sizeof(*q));
	q->size = size;
	q->event_idx = event_idx;
	q->desc = nic_alloc(virtq_desc_bytes(size), VIRTQ_DESC_ALIGN);
	q->avail = nic_alloc(virtq_avail_bytes(size), VIRTQ_AVAIL_ALIGN);
	q->used = nic_alloc(virtq_used_bytes(size), VIRTQ_USED_ALIGN);
	q->bell = FAKE_VQ_NO_BELL;
	mq->desc = (uintptr_t)q->desc;
	mq->avail = (uintptr_t)q->avail;
	mq->used = (uintptr_t)q->used;
	mq->notify = (uintptr_t)&q->bell;
	mq->size = (uint16_t)size;
	mq->index = index;
}

/* A NIC as net_attach would describe it: queue sizes powers of two. */
static struct nic *nic_new(unsigned int rx_size, unsigned int tx_size, unsigned int nbufs,
			   uint32_t buf_size, uint64_t features)
{
	struct nic *n = calloc(1, sizeof(*n));

	FUZZ_CHECK(n);
	n->buf_size = buf_size;
	n->nbufs = nbufs;
	n->pool_size = (size_t)nbufs * buf_size;
	n->pool = nic_pool(n->pool_size);
	n->layout.version = MC_NET_LAYOUT_VERSION;
	n->layout.qp = NIC_QP;
	nic_queue(&n->rx, rx_size, features & MC_NET_F_EVENT_IDX, &n->layout.rx, NIC_RX_INDEX);
	nic_queue(&n->tx, tx_size, features & MC_NET_F_EVENT_IDX, &n->layout.tx, NIC_TX_INDEX);
	n->layout.pool = (uintptr_t)n->pool;
	n->layout.pool_size = n->pool_size;
	n->layout.pool_dma = NIC_POOL_DMA;
	n->layout.features = features | MC_NET_F_VERSION_1 | MC_NET_F_MAC;
	n->layout.hdr_len = sizeof(struct vnet_hdr);
	n->layout.buf_size = buf_size;
	memcpy(n->layout.mac, nic_mac, 6);
	nic = n;
	nic_ev_head = nic_ev_tail = 0;
	return n;
}

static void nic_free(struct nic *n)
{
	fvq_free(&n->rx);
	fvq_free(&n->tx);
	free(n);
	nic = NULL;
}

/* The pool buffer a descriptor names, or NULL unless it is a whole one; sets *id. */
static uint8_t *nic_desc_buf_try(const struct nic *n, const struct virtq_desc *d, uint32_t *id)
{
	uint64_t off = d->addr - NIC_POOL_DMA;

	if (d->addr < NIC_POOL_DMA || off >= n->pool_size || off % n->buf_size != 0 ||
	    d->len == 0 || d->len > n->buf_size)
		return NULL;
	*id = (uint32_t)(off / n->buf_size);
	return n->pool + off;
}

/*
 * The buffer a descriptor names: the driver promises whole pool buffers
 * (pool_dma + id * buf_size, at most buf_size long). Sets *id.
 */
static uint8_t *nic_desc_buf(const struct nic *n, const struct virtq_desc *d, uint32_t *id)
{
	uint8_t *b = nic_desc_buf_try(n, d, id);

	FUZZ_CHECK(b != NULL);
	return b;
}

/* The kernel posting an event; a full ring loses it, as the real one does. */
static void nic_post_event(uint32_t type, uint64_t d0)
{
	if (nic_ev_head - nic_ev_tail == EVENT_RING_ENTRIES)
		return;
	nic_events[nic_ev_head++ % EVENT_RING_ENTRIES] =
	    (struct mc_event){.type = type, .data = {d0, 0, 0}};
}

/* Return a used entry; the queue pair's interrupt becomes EV_NET if the driver asked. */
static void nic_put(struct fake_vq *q, uint32_t id, uint32_t len)
{
	if (fvq_put(q, id, len))
		nic_post_event(EV_NET, NIC_QP);
}

/* ---------------------------------------------------------------- the fake kernel */

long sys_net_attach(const char *name, unsigned int qp, struct mc_net_layout *layout);
long sys_net_attach(const char *name, unsigned int qp, struct mc_net_layout *layout)
{
	FUZZ_CHECK(nic && strcmp(name, "eth0") == 0 && qp == NIC_QP);
	*layout = nic->layout;
	return 0;
}

uint64_t netif_host_tsc(void);
uint64_t netif_host_tsc(void)
{
	nic_ns += NIC_TICK_NS;
	return nic_ns;
}

uint64_t mc_now_ns(void)
{
	return nic_ns;
}

/* AT_MC_TSC_HZ: one fake TSC tick per nanosecond, so netif need not calibrate. */
uint64_t mc_getauxval(uint64_t type)
{
	return type == AT_MC_TSC_HZ ? 1000000000ull : 0;
}

bool mc_event_pop(struct mc_event *out)
{
	if (nic_ev_head == nic_ev_tail)
		return false;
	*out = nic_events[nic_ev_tail++ % EVENT_RING_ENTRIES];
	return true;
}

/* Sleeping: time passes; nothing arrives while the process sleeps. */
long sys_wait(uint64_t timeout_ns);
long sys_wait(uint64_t timeout_ns)
{
	if (nic_ev_head != nic_ev_tail)
		return nic_ev_head - nic_ev_tail;
	FUZZ_CHECK(timeout_ns != WAIT_FOREVER); /* it would never return */
	nic_ns += timeout_ns;
	return 0;
}
