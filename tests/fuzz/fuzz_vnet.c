/*
 * Fuzz target: a hostile device under the user-space virtio-net driver
 * (usr/lib/vnet.c, lib/virtq.c). The device returns used entries naming
 * any descriptor with any length, moves used->idx anywhere, writes any
 * virtio-net header and frame, and may scribble over the rings it can
 * reach, while the driver receives, sends, reclaims, refills and frees.
 * Whatever the device does, the driver hands the application only its own
 * buffers, never one twice, with lengths inside them, and loses none.
 */
/* fuzz-sources: usr/lib/vnet.c lib/virtq.c */
/* fuzz-cflags: -Iusr/lib -Iusr/lib/include */
#include "fuzz_nic.h"

#define STEPS	 1024
#define BUFS_MAX 300

enum op {
	OP_DEV_RX,	 /* an honest receive into the next posted buffer, with any header */
	OP_DEV_TX,	 /* an honest transmit completion */
	OP_DEV_USED,	 /* a used entry with any id and length */
	OP_DEV_IDX,	 /* used->idx set anywhere */
	OP_DEV_FLAGS,	 /* used->flags and avail_event set to anything */
	OP_DEV_SCRIBBLE, /* bytes written into the descriptor table */
	OP_RX_BURST,
	OP_TX_BURST,
	OP_RECLAIM,
	OP_REFILL,
	OP_FREE,
	OP_ALLOC,
	OP_IRQ,
	OP_COUNT
};

static struct vnet vn;
static bool held[BUFS_MAX]; /* buffers the application holds */
static unsigned int nheld;
static bool honest;    /* the device has returned only buffers it took */
static bool scribbled; /* the device wrote the descriptor table: its reads are its problem */

static void hold(uint32_t id)
{
	FUZZ_CHECK(id < vn.nbufs && !held[id]);
	held[id] = true;
	nheld++;
}

static void unhold(uint32_t id)
{
	FUZZ_CHECK(held[id]);
	held[id] = false;
	nheld--;
}

static void check_state(void)
{
	FUZZ_CHECK(vn.nfree <= vn.nbufs);
	FUZZ_CHECK(virtq_free_count(&vn.rx) <= virtq_size(&vn.rx));
	FUZZ_CHECK(virtq_free_count(&vn.tx) <= virtq_size(&vn.tx));
	FUZZ_CHECK(vn.nfree + virtq_inflight(&vn.rx) + virtq_inflight(&vn.tx) + nheld == vn.nbufs);
}

static struct fake_vq *pick_queue(struct fz *f)
{
	return fz_bool(f) ? &nic->tx : &nic->rx;
}

/*
 * The device takes the next available descriptor: a buffer nobody else
 * holds. *buf is NULL when the device's own scribbles made it nonsense.
 */
static bool dev_take(struct fake_vq *q, uint16_t *di, uint8_t **buf)
{
	uint32_t id;

	if (!fvq_pending(q))
		return false;
	*di = fvq_take(q);
	if (scribbled) {
		*buf = nic_desc_buf_try(nic, &q->desc[*di], &id);
		return true;
	}
	*buf = nic_desc_buf(nic, &q->desc[*di], &id);
	if (honest)
		FUZZ_CHECK(!held[id]);
	return true;
}

static void op_dev_rx(struct fz *f)
{
	struct vnet_hdr h;
	uint8_t *b;
	uint16_t di;
	size_t len;
	const uint8_t *p;
	uint32_t used_len;

	h.flags = fz_u8(f);
	h.gso_type = fz_u8(f);
	h.hdr_len = fz_u16(f);
	h.gso_size = fz_u16(f);
	h.csum_start = fz_u16(f);
	h.csum_offset = fz_u16(f);
	h.num_buffers = fz_u16(f);
	used_len = fz_u16(f); /* may exceed the buffer: the driver must clamp it */
	p = fz_bytes(f, fz_u16(f) % 64, &len);
	fvq_bell(&nic->rx, NIC_RX_INDEX);
	if (!dev_take(&nic->rx, &di, &b))
		return;
	if (b && nic->rx.desc[di].len >= sizeof(h) + len) {
		memcpy(b, &h, sizeof(h));
		memcpy(b + sizeof(h), p, len);
	}
	nic_put(&nic->rx, di, used_len);
}

static void op_dev_tx(struct fz *f)
{
	uint8_t *b;
	uint16_t di;

	fvq_bell(&nic->tx, NIC_TX_INDEX);
	if (dev_take(&nic->tx, &di, &b))
		nic_put(&nic->tx, di, fz_u32(f));
}

/* A used entry of the device's choosing, as if it had taken whatever it names. */
static void op_dev_used(struct fz *f)
{
	struct fake_vq *q = pick_queue(f);
	uint32_t id = fz_bool(f) ? fz_u32(f) : fz_below(f, q->size + 1);

	honest = false;
	nic_put(q, id, fz_u32(f));
}

static void op_dev_idx(struct fz *f)
{
	struct fake_vq *q = pick_queue(f);

	honest = false;
	q->next_used = fz_u16(f);
	__atomic_store_n(&q->used->idx, q->next_used, __ATOMIC_RELEASE);
}

static void op_dev_flags(struct fz *f)
{
	struct fake_vq *q = pick_queue(f);

	q->used->flags = fz_u16(f);
	*(volatile uint16_t *)&q->used->ring[q->size] = fz_u16(f); /* avail_event */
}

static void op_dev_scribble(struct fz *f)
{
	struct fake_vq *q = pick_queue(f);
	size_t n = virtq_desc_bytes(q->size), at = fz_u16(f) % n;
	uint8_t v = fz_u8(f);

	((uint8_t *)q->desc)[at] = v;
	scribbled = true;
}

static void op_rx_burst(struct fz *f)
{
	struct vnet_pkt pkts[64];
	unsigned int max = fz_below(f, 65), n, i;
	uint8_t *buf;

	n = vnet_rx_burst(&vn, pkts, max);
	FUZZ_CHECK(n <= max);
	for (i = 0; i < n; i++) {
		struct vnet_pkt *p = &pkts[i];

		FUZZ_CHECK(p->buf < vn.nbufs);
		buf = vn.pool + (size_t)p->buf * vn.buf_size;
		FUZZ_CHECK(p->data == buf + vn.hdr_len);
		FUZZ_CHECK(p->len <= vnet_frame_cap(&vn));
		if (p->flags & VNET_PKT_F_CSUM_PARTIAL)
			FUZZ_CHECK((uint32_t)p->csum_start + p->csum_offset + 2 <= p->len);
		FUZZ_CHECK(!(p->flags & ~(VNET_PKT_F_CSUM_VALID | VNET_PKT_F_CSUM_PARTIAL)));
		fuzz_touch(p->data, p->len);
		hold(p->buf);
	}
}

/* The n-th held buffer, or -1. */
static int nth_held(unsigned int k)
{
	uint32_t id;

	for (id = 0; id < vn.nbufs; id++)
		if (held[id] && k-- == 0)
			return (int)id;
	return -1;
}

static void op_tx_burst(struct fz *f)
{
	struct vnet_pkt pkts[16];
	unsigned int n = 0, want = fz_below(f, 17), i, sent;
	int id;

	while (n < want && nheld > n) {
		id = nth_held(n);
		if (id < 0)
			break;
		/* One read after another: initialisers are not evaluated in order. */
		pkts[n].buf = fz_below(f, 8) ? (uint32_t)id : fz_u32(f); /* sometimes not ours */
		pkts[n].len = fz_below(f, 4) ? 14 + fz_below(f, 1501) : fz_u32(f);
		pkts[n].flags = fz_below(f, 4) ? 0 : fz_u16(f);
		pkts[n].csum_start = fz_u16(f);
		pkts[n].csum_offset = fz_u16(f);
		pkts[n].data = NULL;
		n++;
	}
	sent = vnet_tx_burst(&vn, pkts, n);
	FUZZ_CHECK(sent <= n);
	for (i = 0; i < sent; i++)
		unhold(pkts[i].buf); /* only buffers it held can have been taken */
}

static void op_free(struct fz *f)
{
	int id = nheld ? nth_held(fz_below(f, nheld)) : -1;
	uint32_t bad = fz_u32(f);

	if (fz_bool(f) && id >= 0) {
		FUZZ_CHECK(vnet_buf_free(&vn, (uint32_t)id) == 0);
		unhold((uint32_t)id);
	} else if (bad >= vn.nbufs || !held[bad]) {
		FUZZ_CHECK(vnet_buf_free(&vn, bad) == -EINVAL);
	}
}

static void op_alloc(void)
{
	struct vnet_pkt p;

	if (vnet_alloc_tx_buf(&vn, &p) != 0)
		return;
	FUZZ_CHECK(p.buf < vn.nbufs && p.data == vnet_frame(&vn, p.buf));
	FUZZ_CHECK(p.len == vnet_frame_cap(&vn));
	hold(p.buf);
}

static void step(struct fz *f)
{
	switch (fz_u8(f) % OP_COUNT) {
	case OP_DEV_RX:
		op_dev_rx(f);
		break;
	case OP_DEV_TX:
		op_dev_tx(f);
		break;
	case OP_DEV_USED:
		op_dev_used(f);
		break;
	case OP_DEV_IDX:
		op_dev_idx(f);
		break;
	case OP_DEV_FLAGS:
		op_dev_flags(f);
		break;
	case OP_DEV_SCRIBBLE:
		op_dev_scribble(f);
		break;
	case OP_RX_BURST:
		op_rx_burst(f);
		break;
	case OP_TX_BURST:
		op_tx_burst(f);
		break;
	case OP_RECLAIM:
		vnet_tx_reclaim(&vn);
		break;
	case OP_REFILL:
		vnet_rx_refill(&vn);
		break;
	case OP_FREE:
		op_free(f);
		break;
	case OP_ALLOC:
		op_alloc();
		break;
	default:
		if (fz_bool(f))
			vnet_irq_enable(&vn, fz_bool(f));
		else
			vnet_irq_disable(&vn);
		break;
	}
	check_state();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = fz_init(data, size);
	unsigned int rx_size = 1u << fz_below(&f, 9), tx_size = 1u << fz_below(&f, 9);
	unsigned int nbufs = 2 + fz_below(&f, BUFS_MAX - 1), n;
	uint32_t buf_size = fz_bool(&f) ? 2048 : sizeof(struct vnet_hdr) + 1514;
	uint64_t features = fz_u8(&f) & (MC_NET_F_CSUM | MC_NET_F_GUEST_CSUM);

	if (fz_bool(&f))
		features |= MC_NET_F_EVENT_IDX;
	nic_new(rx_size, tx_size, nbufs, buf_size, features);
	FUZZ_CHECK(vnet_setup(&vn, &nic->layout) == 0);
	memset(held, 0, sizeof(held));
	nheld = 0;
	honest = true;
	scribbled = false;
	check_state();
	for (n = 0; n < STEPS && fz_left(&f); n++)
		step(&f);
	FUZZ_SAY("vnet: %lu received, %lu sent, %lu dev errors, %lu short, %lu bad hdr, %u held\n",
		 (unsigned long)vn.stats.rx_packets, (unsigned long)vn.stats.tx_packets,
		 (unsigned long)vn.stats.dev_errors, (unsigned long)vn.stats.rx_short,
		 (unsigned long)vn.stats.rx_bad_hdr, nheld);
	vnet_close(&vn);
	nic_free(nic);
	return 0;
}
