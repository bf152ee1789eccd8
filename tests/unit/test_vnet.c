/* Unit tests of the user-space virtio-net driver against a simulated device and kernel. */
/* unit-sources: usr/lib/vnet.c lib/virtq.c */
/* unit-cflags: -Iusr/lib */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <uapi/errno.h>
#include <vnet.h>

#include "fake_virtq.h"

#define BUF_SIZE 2048
#define POOL_DMA 0x40000000ull /* the device's view of pool byte 0 */
#define RX_INDEX 0
#define TX_INDEX 1

/* The simulated NIC and the kernel's grant. */
struct sim {
	struct mc_net_layout layout;
	struct fake_vq rx, tx;
	uint8_t *pool;
	size_t pool_size;
	long attach_result;
	/* Last frame the device transmitted. */
	uint8_t sent[BUF_SIZE];
	uint32_t sent_len;
	struct vnet_hdr sent_hdr;
	unsigned int sent_count;
};

static struct sim *cur;

long sys_net_attach(const char *name, unsigned int qp, struct mc_net_layout *layout)
{
	assert_string_equal(name, "eth0");
	assert_int_equal(qp, 0);
	if (cur->attach_result < 0)
		return cur->attach_result;
	*layout = cur->layout;
	return 0;
}

static struct sim *sim_new(unsigned int rx_size, unsigned int tx_size, unsigned int nbufs,
			   bool event_idx)
{
	struct sim *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->pool_size = (size_t)nbufs * BUF_SIZE;
	s->pool = fake_zalloc(s->pool_size);
	s->layout.version = MC_NET_LAYOUT_VERSION;
	fvq_init(&s->rx, rx_size, event_idx, &s->layout.rx, RX_INDEX);
	fvq_init(&s->tx, tx_size, event_idx, &s->layout.tx, TX_INDEX);
	s->layout.pool = (uintptr_t)s->pool;
	s->layout.pool_size = s->pool_size;
	s->layout.pool_dma = POOL_DMA;
	s->layout.features =
	    MC_NET_F_VERSION_1 | MC_NET_F_MAC | (event_idx ? MC_NET_F_EVENT_IDX : 0);
	s->layout.hdr_len = sizeof(struct vnet_hdr);
	s->layout.buf_size = BUF_SIZE;
	memcpy(s->layout.mac, "\x52\x54\x00\x12\x34\x56", 6);
	cur = s;
	return s;
}

static void sim_free(struct sim *s)
{
	fvq_free(&s->rx);
	fvq_free(&s->tx);
	free(s->pool);
	free(s);
}

static uint8_t *dev_buf(struct sim *s, const struct virtq_desc *d)
{
	assert_true(d->addr >= POOL_DMA);
	assert_true(d->addr - POOL_DMA + d->len <= s->pool_size);
	return s->pool + (d->addr - POOL_DMA);
}

/* A frame arrives: 1 if a buffer took it, 0 if the RX ring was empty. */
static int dev_receive(struct sim *s, const uint8_t *frame, uint32_t len, uint8_t hdr_flags)
{
	struct vnet_hdr h = {.flags = hdr_flags, .num_buffers = 1};
	struct virtq_desc *d;
	uint8_t *b;
	uint16_t id;

	fvq_bell(&s->rx, RX_INDEX);
	if (!fvq_pending(&s->rx)) {
		fvq_want_kick(&s->rx);
		return 0;
	}
	id = fvq_take(&s->rx);
	d = &s->rx.desc[id];
	assert_int_equal(d->flags, VIRTQ_DESC_F_WRITE);
	assert_true(d->len >= VNET_RX_BUF_MIN);
	b = dev_buf(s, d);
	memcpy(b, &h, sizeof(h));
	memcpy(b + sizeof(h), frame, len);
	fvq_put(&s->rx, id, (uint32_t)sizeof(h) + len);
	return 1;
}

/* Transmit everything queued; returns the number of frames. */
static unsigned int dev_transmit(struct sim *s)
{
	unsigned int n = 0;

	fvq_bell(&s->tx, TX_INDEX);
	while (fvq_pending(&s->tx)) {
		uint16_t id = fvq_take(&s->tx);
		struct virtq_desc *d = &s->tx.desc[id];
		uint8_t *b = dev_buf(s, d);

		assert_int_equal(d->flags, 0);
		assert_true(d->len >= sizeof(struct vnet_hdr) + 14);
		memcpy(&s->sent_hdr, b, sizeof(s->sent_hdr));
		s->sent_len = d->len - (uint32_t)sizeof(struct vnet_hdr);
		memcpy(s->sent, b + sizeof(struct vnet_hdr), s->sent_len);
		s->sent_count++;
		fvq_put(&s->tx, id, 0);
		n++;
	}
	fvq_want_kick(&s->tx);
	return n;
}

static void make_frame(uint8_t *f, uint32_t len, uint32_t tag)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		f[i] = (uint8_t)(tag * 7 + i);
	memcpy(f, &tag, sizeof(tag));
}

/* Every buffer is somewhere, and only once. */
static void check_conservation(struct vnet *vn, unsigned int held)
{
	assert_int_equal(vn->nfree + virtq_inflight(&vn->rx) + virtq_inflight(&vn->tx) + held,
			 vn->nbufs);
}

static void test_layout_rejects(void **state)
{
	struct sim *s = sim_new(256, 256, 64, true);
	struct mc_net_layout l;
	struct vnet vn;

	(void)state;
	l = s->layout;
	l.version = 2;
	assert_int_equal(vnet_setup(&vn, &l), -EINVAL);
	l = s->layout;
	l.features &= ~MC_NET_F_VERSION_1;
	assert_int_equal(vnet_setup(&vn, &l), -EINVAL);
	l = s->layout;
	l.hdr_len = 10;
	assert_int_equal(vnet_setup(&vn, &l), -EINVAL);
	l = s->layout;
	l.buf_size = 1500;
	assert_int_equal(vnet_setup(&vn, &l), -EINVAL);
	l = s->layout;
	l.mtu = 9000;
	assert_int_equal(vnet_setup(&vn, &l), -EINVAL);
	l = s->layout;
	l.pool_size = BUF_SIZE;
	assert_int_equal(vnet_setup(&vn, &l), -EINVAL);
	l = s->layout;
	l.rx.size = 100;
	assert_int_equal(vnet_setup(&vn, &l), -EINVAL);
	l = s->layout;
	l.tx.notify = 0;
	assert_int_equal(vnet_setup(&vn, &l), -EINVAL);
	s->attach_result = -EPERM;
	assert_int_equal(vnet_open(&vn, "eth0", 0), -EPERM);
	sim_free(s);
}

/* The pool the kernel gives (1024 buffers) fills the whole RX ring at once. */
static void test_open_fills_rx(void **state)
{
	struct sim *s = sim_new(256, 256, 1024, true);
	struct vnet vn;
	unsigned int i;

	(void)state;
	assert_int_equal(vnet_open(&vn, "eth0", 0), 0);
	assert_int_equal(vn.nbufs, 1024);
	assert_int_equal(fvq_pending(&s->rx), 256);
	assert_int_equal(virtq_inflight(&vn.rx), 256);
	assert_int_equal(vn.nfree, 1024 - 256);
	assert_int_equal(vn.stats.rx_kicks, 1);
	fvq_bell(&s->rx, RX_INDEX);
	assert_int_equal(s->rx.kicks, 1);
	assert_int_equal(s->tx.bell, 0xffff);
	assert_memory_equal(vnet_mac(&vn), "\x52\x54\x00\x12\x34\x56", 6);
	/* Every descriptor, each a distinct buffer. */
	for (i = 0; i < 256; i++) {
		const struct virtq_desc *d = &s->rx.desc[s->rx.avail->ring[i]];

		assert_int_equal(d->len, BUF_SIZE);
		assert_int_equal((d->addr - POOL_DMA) % BUF_SIZE, 0);
	}
	check_conservation(&vn, 0);
	vnet_close(&vn);
	sim_free(s);
}

/* A small pool: RX takes what it can and leaves a reserve for transmission. */
static void test_small_pool(void **state)
{
	struct sim *s = sim_new(16, 8, 16, false);
	struct vnet_pkt p[16];
	struct vnet vn;
	unsigned int n = 0;

	(void)state;
	assert_int_equal(vnet_open(&vn, "eth0", 0), 0);
	assert_int_equal(virtq_inflight(&vn.rx), 8);
	assert_int_equal(vn.nfree, 8);
	while (vnet_alloc_tx_buf(&vn, &p[n]) == 0)
		n++;
	assert_int_equal(n, 8);
	assert_int_equal(vn.stats.no_buffers, 1);
	assert_int_equal(p[0].len, BUF_SIZE - 12);
	check_conservation(&vn, 8);
	while (n)
		assert_int_equal(vnet_buf_free(&vn, p[--n].buf), 0);
	check_conservation(&vn, 0);
	vnet_close(&vn);
	sim_free(s);
}

/* Zero-copy echo: received buffers go out on TX and come back to RX. */
static void run_echo(bool event_idx, unsigned int rx_size, unsigned int tx_size, unsigned int nbufs,
		     unsigned int frames)
{
	struct sim *s = sim_new(rx_size, tx_size, nbufs, event_idx);
	struct vnet_pkt pkts[32];
	struct vnet vn;
	uint8_t frame[1514];
	unsigned int delivered = 0, echoed = 0, round = 0;
	uint32_t x = 1;

	assert_int_equal(vnet_open(&vn, "eth0", 0), 0);
	while (echoed < frames) {
		unsigned int want, i, n, sent;

		/* The device gets a random number of frames in. */
		x = x * 1103515245u + 12345u;
		want = (x >> 16) % 40;
		for (i = 0; i < want && delivered < frames; i++) {
			uint32_t len = 60 + (delivered * 37) % (1514 - 60 + 1);

			make_frame(frame, len, delivered);
			if (!dev_receive(s, frame, len, 0))
				break;
			delivered++;
		}
		/* The application: receive, reply in place, transmit. */
		n = vnet_rx_burst(&vn, pkts, 32);
		for (i = 0; i < n; i++) {
			uint32_t tag, want_len;

			memcpy(&tag, pkts[i].data, sizeof(tag));
			want_len = 60 + (tag * 37) % (1514 - 60 + 1);
			assert_int_equal(pkts[i].len, want_len);
			assert_int_equal(tag, echoed + i);
			pkts[i].data[4] ^= 0xff; /* "build the reply" */
		}
		sent = vnet_tx_burst(&vn, pkts, n);
		for (i = sent; i < n; i++)
			assert_int_equal(vnet_buf_free(&vn, pkts[i].buf), 0);
		echoed += n;
		/* The device sends some of the time. */
		if (round++ % 3 != 1) {
			unsigned int before = s->sent_count;

			dev_transmit(s);
			if (s->sent_count > before) {
				struct vnet_hdr zero = {0};

				assert_memory_equal(&s->sent_hdr, &zero, sizeof(zero));
			}
		}
		vnet_tx_reclaim(&vn);
		vnet_rx_refill(&vn);
		check_conservation(&vn, 0);
	}
	dev_transmit(s);
	vnet_tx_reclaim(&vn);
	vnet_rx_refill(&vn);
	assert_int_equal(vn.stats.rx_packets, frames);
	assert_int_equal(vn.stats.tx_packets, s->sent_count);
	assert_int_equal(virtq_inflight(&vn.tx), 0);
	assert_int_equal(vn.stats.dev_errors, 0);
	assert_int_equal(vn.stats.tx_invalid, 0);
	check_conservation(&vn, 0);
	/* Kicks only when the device asked: far fewer than frames. */
	assert_true(vn.stats.tx_kicks <= vn.stats.tx_packets);
	if (event_idx)
		assert_true(vn.stats.tx_kicks < vn.stats.tx_packets);
	vnet_close(&vn);
	sim_free(s);
}

static void test_echo(void **state)
{
	(void)state;
	run_echo(true, 256, 256, 1024, 20000);
	run_echo(false, 256, 256, 1024, 5000);
	run_echo(true, 16, 8, 24, 5000);    /* TX ring and pool tight */
	run_echo(true, 8, 256, 1024, 3000); /* RX ring tiny: the device waits */
}

/* The last frame sent is exactly what the application wrote, after a zero header. */
static void test_tx_contents(void **state)
{
	struct sim *s = sim_new(64, 64, 256, true);
	struct vnet_pkt p;
	struct vnet vn;
	uint8_t frame[100];

	(void)state;
	s->layout.features |= MC_NET_F_CSUM;
	assert_int_equal(vnet_open(&vn, "eth0", 0), 0);
	assert_int_equal(vnet_alloc_tx_buf(&vn, &p), 0);
	make_frame(frame, sizeof(frame), 42);
	memcpy(p.data, frame, sizeof(frame));
	p.len = sizeof(frame);
	assert_int_equal(vnet_tx_burst(&vn, &p, 1), 1);
	assert_int_equal(dev_transmit(s), 1);
	assert_int_equal(s->sent_len, sizeof(frame));
	assert_memory_equal(s->sent, frame, sizeof(frame));
	assert_int_equal(s->sent_hdr.flags, 0);
	assert_int_equal(s->sent_hdr.num_buffers, 0);

	/* Checksum offload when negotiated and asked for. */
	assert_int_equal(vnet_alloc_tx_buf(&vn, &p), 0);
	memcpy(p.data, frame, sizeof(frame));
	p.len = sizeof(frame);
	p.flags = VNET_PKT_F_TX_CSUM;
	p.csum_start = 34;
	p.csum_offset = 6;
	assert_int_equal(vnet_tx_burst(&vn, &p, 1), 1);
	assert_int_equal(dev_transmit(s), 1);
	assert_int_equal(s->sent_hdr.flags, VNET_HDR_F_NEEDS_CSUM);
	assert_int_equal(s->sent_hdr.csum_start, 34);
	assert_int_equal(s->sent_hdr.csum_offset, 6);
	assert_int_equal(s->sent_hdr.gso_type, VNET_HDR_GSO_NONE);
	assert_int_equal(vnet_tx_reclaim(&vn), 2);
	check_conservation(&vn, 0);
	vnet_close(&vn);
	sim_free(s);
}

static void test_tx_invalid(void **state)
{
	struct sim *s = sim_new(64, 64, 256, false);
	struct vnet_pkt p, q;
	struct vnet vn;

	(void)state;
	assert_int_equal(vnet_open(&vn, "eth0", 0), 0);
	assert_int_equal(vnet_alloc_tx_buf(&vn, &p), 0);

	/* Not the caller's buffer: a free one, one posted for RX, out of range. */
	q = p;
	q.buf = p.buf + 1;
	q.len = 60;
	assert_int_equal(vnet_tx_burst(&vn, &q, 1), 0);
	q.buf = 0;
	assert_int_equal(vnet_tx_burst(&vn, &q, 1), 0);
	q.buf = vn.nbufs;
	assert_int_equal(vnet_tx_burst(&vn, &q, 1), 0);
	/* Bad lengths and flags. */
	q = p;
	q.len = 13;
	assert_int_equal(vnet_tx_burst(&vn, &q, 1), 0);
	q.len = BUF_SIZE - 11;
	assert_int_equal(vnet_tx_burst(&vn, &q, 1), 0);
	q.len = 60;
	q.flags = VNET_PKT_F_TX_CSUM; /* CSUM not negotiated */
	q.csum_start = 34;
	q.csum_offset = 6;
	assert_int_equal(vnet_tx_burst(&vn, &q, 1), 0);
	q.flags = 0x80;
	assert_int_equal(vnet_tx_burst(&vn, &q, 1), 0);
	assert_int_equal(vn.stats.tx_invalid, 7);
	assert_int_equal(fvq_pending(&s->tx), 0);

	/* A valid one goes; the same buffer twice does not. */
	q = p;
	q.len = BUF_SIZE - 12;
	assert_int_equal(vnet_tx_burst(&vn, &q, 1), 1);
	assert_int_equal(vnet_tx_burst(&vn, &q, 1), 0);
	assert_int_equal(vnet_buf_free(&vn, q.buf), -EINVAL);
	assert_int_equal(vnet_buf_free(&vn, 100000), -EINVAL);
	assert_int_equal(vn.stats.buf_errors, 2);
	dev_transmit(s);
	assert_int_equal(vnet_tx_reclaim(&vn), 1);
	check_conservation(&vn, 0);
	vnet_close(&vn);
	sim_free(s);
}

/* A full TX ring takes a prefix of the burst; the rest stays the caller's. */
static void test_tx_ring_full(void **state)
{
	struct sim *s = sim_new(64, 8, 256, true);
	struct vnet_pkt p[12];
	struct vnet vn;
	unsigned int i;

	(void)state;
	assert_int_equal(vnet_open(&vn, "eth0", 0), 0);
	for (i = 0; i < 12; i++) {
		assert_int_equal(vnet_alloc_tx_buf(&vn, &p[i]), 0);
		p[i].len = 60;
	}
	assert_int_equal(vnet_tx_burst(&vn, p, 12), 8);
	assert_int_equal(vn.stats.tx_ring_full, 1);
	/* Nothing completed yet: still full. */
	assert_int_equal(vnet_tx_burst(&vn, p + 8, 4), 0);
	dev_transmit(s);
	/* Completions are reclaimed by the burst itself. */
	assert_int_equal(vnet_tx_burst(&vn, p + 8, 4), 4);
	dev_transmit(s);
	assert_int_equal(vnet_tx_reclaim(&vn), 4);
	assert_int_equal(s->sent_count, 12);
	check_conservation(&vn, 0);
	vnet_close(&vn);
	sim_free(s);
}

static void test_rx_flags_and_bad_device(void **state)
{
	struct sim *s = sim_new(16, 16, 64, true);
	struct vnet_pkt p[4];
	struct vnet vn;
	uint8_t frame[60] = {0};
	uint16_t id;

	(void)state;
	assert_int_equal(vnet_open(&vn, "eth0", 0), 0);
	assert_int_equal(dev_receive(s, frame, sizeof(frame), VNET_HDR_F_DATA_VALID), 1);
	assert_int_equal(vnet_rx_burst(&vn, p, 4), 1);
	assert_int_equal(p[0].flags, VNET_PKT_F_CSUM_VALID);
	assert_int_equal(p[0].len, 60);
	assert_int_equal(vnet_buf_free(&vn, p[0].buf), 0);

	/* Shorter than the header: recycled, counted, not delivered. */
	id = fvq_take(&s->rx);
	fvq_put(&s->rx, id, 5);
	/* Ids the device does not hold: descriptor 0 came back above. */
	fvq_put(&s->rx, 0, 100);
	fvq_put(&s->rx, 1000, 100);
	assert_int_equal(dev_receive(s, frame, sizeof(frame), 0), 1);
	assert_int_equal(vnet_rx_burst(&vn, p, 4), 1);
	assert_int_equal(p[0].flags, 0);
	assert_int_equal(vn.stats.rx_short, 1);
	assert_true(vn.stats.dev_errors >= 2);
	assert_int_equal(vnet_buf_free(&vn, p[0].buf), 0);
	vnet_rx_refill(&vn);
	check_conservation(&vn, 0);
	vnet_close(&vn);
	sim_free(s);
}

static void test_irq(void **state)
{
	struct sim *s = sim_new(16, 16, 64, true);
	struct vnet_pkt p[16];
	struct vnet vn;
	uint8_t frame[60] = {0};
	unsigned int n, i;

	(void)state;
	assert_int_equal(vnet_open(&vn, "eth0", 0), 0);
	/* Polling: frames arrive without interrupts. */
	assert_int_equal(dev_receive(s, frame, 60, 0), 1);
	assert_int_equal(s->rx.irqs, 0);
	/* Arming finds the frame that slipped in: do not sleep. */
	assert_true(vnet_irq_enable(&vn, false));
	assert_int_equal(vn.stats.irq_races, 1);
	vnet_irq_disable(&vn);
	assert_int_equal(vnet_rx_burst(&vn, p, 16), 1);
	assert_int_equal(vnet_buf_free(&vn, p[0].buf), 0);
	/* Armed on an idle queue: the next frame interrupts. */
	assert_false(vnet_irq_enable(&vn, false));
	assert_int_equal(dev_receive(s, frame, 60, 0), 1);
	assert_int_equal(s->rx.irqs, 1);
	vnet_irq_disable(&vn);
	assert_int_equal(dev_receive(s, frame, 60, 0), 1);
	assert_int_equal(s->rx.irqs, 1);
	assert_int_equal(vnet_rx_burst(&vn, p, 16), 2);
	for (i = 0; i < 2; i++)
		assert_int_equal(vnet_tx_burst(&vn, &p[i], 1), 1);
	assert_int_equal(vn.stats.irq_arms, 2);

	/* Drain the RX ring into TX: with RX dry, TX completions must wake us. */
	vnet_rx_refill(&vn);
	while (dev_receive(s, frame, 60, 0))
		;
	n = vnet_rx_burst(&vn, p, 16);
	assert_int_equal(n, 16);
	assert_int_equal(vnet_tx_burst(&vn, p, n), 14); /* 2 already queued */
	for (i = 14; i < n; i++)
		assert_int_equal(vnet_buf_free(&vn, p[i].buf), 0);
	assert_int_equal(virtq_inflight(&vn.rx), 0);
	assert_false(vnet_irq_enable(&vn, false));
	assert_true(vn.tx_irq_on);
	dev_transmit(s);
	assert_int_equal(s->tx.irqs, 1);
	vnet_irq_disable(&vn);
	assert_int_equal(vnet_tx_reclaim(&vn), 16);
	assert_int_equal(vnet_rx_refill(&vn), 16);
	assert_int_equal(vn.stats.rx_ring_empty, 1);
	check_conservation(&vn, 0);
	vnet_close(&vn);
	sim_free(s);
}

/* A full TX ring with replies waiting: completions must wake the sleeper. */
static void test_irq_tx_full(void **state)
{
	struct sim *s = sim_new(16, 8, 64, true);
	struct vnet_pkt p[8];
	struct vnet vn;
	unsigned int i;

	(void)state;
	assert_int_equal(vnet_open(&vn, "eth0", 0), 0);
	/* Some TX in flight, ring not full: RX alone is armed. */
	assert_int_equal(vnet_alloc_tx_buf(&vn, &p[0]), 0);
	p[0].len = 60;
	assert_int_equal(vnet_tx_burst(&vn, p, 1), 1);
	assert_false(vnet_irq_enable(&vn, false));
	assert_false(vn.tx_irq_on);
	vnet_irq_disable(&vn);
	/* ... unless the caller waits for completions (output waiting for buffers). */
	assert_false(vnet_irq_enable(&vn, true));
	assert_true(vn.tx_irq_on);
	vnet_irq_disable(&vn);
	assert_false(vn.tx_irq_on);
	for (i = 1; i < 8; i++) {
		assert_int_equal(vnet_alloc_tx_buf(&vn, &p[i]), 0);
		p[i].len = 60;
	}
	assert_int_equal(vnet_tx_burst(&vn, p + 1, 7), 7);
	assert_int_equal(virtq_free_count(&vn.tx), 0);
	assert_false(vnet_irq_enable(&vn, false));
	assert_true(vn.tx_irq_on);
	assert_int_equal(dev_transmit(s), 8);
	assert_int_equal(s->tx.irqs, 1);
	vnet_irq_disable(&vn);
	assert_int_equal(vnet_tx_reclaim(&vn), 8);
	check_conservation(&vn, 0);
	vnet_close(&vn);
	sim_free(s);
}

/* A device that moves used->idx far ahead gets one ring's worth of entries looked at per call. */
static void test_used_idx_jump(void **state)
{
	struct sim *s = sim_new(64, 64, 256, true);
	struct vnet_pkt pkts[64];
	struct vnet vn;
	uint8_t f[60];
	unsigned int calls = 0;

	(void)state;
	assert_int_equal(vnet_open(&vn, "eth0", 0), 0);
	make_frame(f, sizeof(f), 1);
	assert_int_equal(dev_receive(s, f, sizeof(f), 0), 1);
	s->rx.next_used += 60000; /* entries it never wrote */
	__atomic_store_n(&s->rx.used->idx, s->rx.next_used, __ATOMIC_RELEASE);
	assert_int_equal(vnet_rx_burst(&vn, pkts, 64), 1); /* the real one, then 63 bogus */
	assert_int_equal(vn.stats.dev_errors, 63);
	while (vnet_rx_burst(&vn, pkts, 64) == 0 && vn.stats.dev_errors < 60000)
		calls++;
	assert_int_equal(vn.stats.dev_errors, 60000);
	assert_true(calls >= 60000 / 64 - 1);
	vnet_buf_free(&vn, pkts[0].buf);
	vnet_close(&vn);
	sim_free(s);
}

/* What the kernel does to a parked pair: the device forgets it, the rings are wiped. */
static void sim_reset_queue(struct fake_vq *q)
{
	memset(q->desc, 0, virtq_desc_bytes(q->size));
	memset(q->avail, 0, virtq_avail_bytes(q->size));
	memset(q->used, 0, virtq_used_bytes(q->size));
	q->next_avail = q->next_used = 0;
	q->bell = FAKE_VQ_NO_BELL;
}

/*
 * EV_NET_RESET: the driver attaches again and starts over on wiped rings.
 * Frames queued for TX are lost and counted, buffers the application holds
 * stay its own, every other buffer is posted or free again, and traffic
 * flows as before.
 */
static void test_restart_after_reset(void **state)
{
	struct sim *s = sim_new(64, 64, 256, true);
	struct vnet_pkt p[8], held;
	struct vnet vn;
	uint8_t frame[60];

	(void)state;
	assert_int_equal(vnet_open(&vn, "eth0", 0), 0);
	make_frame(frame, sizeof(frame), 1);
	assert_int_equal(dev_receive(s, frame, sizeof(frame), 0), 1);
	assert_int_equal(vnet_rx_burst(&vn, &held, 1), 1); /* the application keeps it */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(vnet_alloc_tx_buf(&vn, &p[i]), 0);
		make_frame(p[i].data, 60, 10 + i);
		p[i].len = 60;
	}
	assert_int_equal(vnet_tx_burst(&vn, p, 3), 3); /* queued, never sent */
	check_conservation(&vn, 1);

	sim_reset_queue(&s->rx);
	sim_reset_queue(&s->tx);
	assert_int_equal(vnet_restart(&vn), 0);
	assert_int_equal(vn.stats.resets, 1);
	assert_int_equal(vn.stats.reset_lost, 3);
	assert_int_equal(virtq_inflight(&vn.tx), 0);
	assert_int_equal(fvq_pending(&s->rx), 64);
	check_conservation(&vn, 1);
	assert_int_equal(vnet_buf_free(&vn, held.buf), 0);
	check_conservation(&vn, 0);

	/* Traffic again, from index 0 on both sides. */
	make_frame(frame, sizeof(frame), 2);
	assert_int_equal(dev_receive(s, frame, sizeof(frame), 0), 1);
	assert_int_equal(vnet_rx_burst(&vn, p, 8), 1);
	assert_memory_equal(p[0].data, frame, sizeof(frame));
	assert_int_equal(vnet_tx_burst(&vn, p, 1), 1);
	assert_int_equal(dev_transmit(s), 1);
	assert_memory_equal(s->sent, frame, sizeof(frame));
	assert_int_equal(vnet_tx_reclaim(&vn), 1);
	check_conservation(&vn, 0);

	/* The kernel refuses, or hands back another layout: nothing changes. */
	s->attach_result = -EBUSY;
	assert_int_equal(vnet_restart(&vn), -EBUSY);
	s->attach_result = 0;
	s->layout.pool_dma += 4096;
	assert_int_equal(vnet_restart(&vn), -EINVAL);
	assert_int_equal(vn.stats.resets, 1);
	check_conservation(&vn, 0);
	vnet_close(&vn);
	sim_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layout_rejects),
	    cmocka_unit_test(test_open_fills_rx),
	    cmocka_unit_test(test_small_pool),
	    cmocka_unit_test(test_echo),
	    cmocka_unit_test(test_tx_contents),
	    cmocka_unit_test(test_tx_invalid),
	    cmocka_unit_test(test_tx_ring_full),
	    cmocka_unit_test(test_rx_flags_and_bad_device),
	    cmocka_unit_test(test_irq),
	    cmocka_unit_test(test_irq_tx_full),
	    cmocka_unit_test(test_used_idx_jump),
	    cmocka_unit_test(test_restart_after_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
