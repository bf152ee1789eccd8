/* Unit tests of netif (UDP endpoints over the driver and the stack) against a simulated NIC. */
/* clang-format off */
/* unit-sources: usr/lib/netif.c usr/lib/vnet.c lib/virtq.c usr/lib/net/[a-z]*.c */
/* unit-cflags: -Iusr/lib -Iusr/lib/include */
/* clang-format on */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <uapi/errno.h>
#include <uapi/syscall.h>
#include <netif.h>

#include "fake_virtq.h"

#define BUF_SIZE 2048
#define POOL_DMA 0x80000000ull /* the device's address of pool byte 0 */
#define RX_INDEX 0
#define TX_INDEX 1
#define QP	 0
#define SENT_MAX 256 /* frames the device remembers */
#define TICK_NS	 100 /* the fake TSC: one read is 100 ns later */

#define OUR_IP	  0x0a00020fu /* 10.0.2.15 */
#define NETMASK	  0xffffff00u
#define GW_IP	  0x0a000202u /* 10.0.2.2 */
#define PEER_IP	  0x0a000264u /* 10.0.2.100 */
#define PEER2_IP  0x0a000265u /* 10.0.2.101 */
#define FAR_IP	  0x08080808u /* off the subnet: via the gateway */
#define PEER_PORT 40000

static const uint8_t our_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t peer_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x64};
static const uint8_t gw_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* ---------------------------------------------------------------- the simulated NIC */

struct sent_frame {
	uint8_t data[BUF_SIZE];
	uint32_t len;
	uint64_t addr; /* where the device read it from */
	struct vnet_hdr hdr;
};

struct dev {
	struct mc_net_layout layout;
	struct fake_vq rx, tx;
	uint8_t *pool;
	size_t pool_size;
	bool check_frames; /* validate every transmitted IPv4 frame's checksums */
	uint8_t rx_flags;  /* virtio-net header flags of received frames */
	uint16_t rx_csum_start, rx_csum_offset; /* ... and their checksum offsets */
	unsigned long received, nsent;
	struct sent_frame sent[SENT_MAX]; /* sent[i % SENT_MAX] */
};

static struct dev *dev;

/* ---------------------------------------------------------------- the fake kernel */

static uint64_t fake_ns = 1000000000ull;
static struct mc_event events[64];
static unsigned int ev_head, ev_tail;
static unsigned int waits; /* sys_wait calls after setup */
static uint64_t last_wait_timeout;
static void (*wait_hook)(uint64_t timeout_ns); /* what happens while the process sleeps */
static uint64_t trigger_ns;		       /* run trigger_fn when the TSC passes this */
static void (*trigger_fn)(void);
static bool counting_waits;

long sys_net_attach(const char *name, unsigned int qp, struct mc_net_layout *layout)
{
	assert_string_equal(name, "eth0");
	assert_int_equal(qp, QP);
	*layout = dev->layout;
	return 0;
}

uint64_t netif_host_tsc(void)
{
	fake_ns += TICK_NS;
	if (trigger_fn && fake_ns >= trigger_ns) {
		void (*fn)(void) = trigger_fn;

		trigger_fn = NULL;
		fn();
	}
	return fake_ns;
}

uint64_t mc_now_ns(void)
{
	return fake_ns;
}

/* No AT_MC_TSC_HZ: netif calibrates its clock against mc_now_ns. */
uint64_t mc_getauxval(uint64_t type)
{
	(void)type;
	return 0;
}

/* The kernel posting an event; a full ring loses it, as the real one does. */
static void post_event(uint32_t type, uint64_t d0)
{
	struct mc_event ev = {.type = type, .data = {d0, 0, 0}};

	if (ev_head - ev_tail == 64)
		return;
	events[ev_head++ % 64] = ev;
}

bool mc_event_pop(struct mc_event *out)
{
	if (ev_head == ev_tail)
		return false;
	*out = events[ev_tail++ % 64];
	return true;
}

long sys_wait(uint64_t timeout_ns)
{
	if (counting_waits) {
		waits++;
		last_wait_timeout = timeout_ns;
		if (wait_hook)
			wait_hook(timeout_ns);
	}
	if (ev_head != ev_tail)
		return ev_head - ev_tail;
	/* Nothing woke us: sleeping forever would hang the test. */
	assert_true(timeout_ns != WAIT_FOREVER);
	fake_ns += timeout_ns;
	return 0;
}

/* ---------------------------------------------------------------- device side */

static void dev_new(unsigned int rx_size, unsigned int tx_size, unsigned int nbufs, bool event_idx)
{
	struct dev *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	d->pool_size = (size_t)nbufs * BUF_SIZE;
	d->pool = fake_zalloc(d->pool_size);
	d->check_frames = true;
	d->layout.version = MC_NET_LAYOUT_VERSION;
	d->layout.qp = QP;
	fvq_init(&d->rx, rx_size, event_idx, &d->layout.rx, RX_INDEX);
	fvq_init(&d->tx, tx_size, event_idx, &d->layout.tx, TX_INDEX);
	d->layout.pool = (uintptr_t)d->pool;
	d->layout.pool_size = d->pool_size;
	d->layout.pool_dma = POOL_DMA;
	d->layout.features =
	    MC_NET_F_VERSION_1 | MC_NET_F_MAC | (event_idx ? MC_NET_F_EVENT_IDX : 0);
	d->layout.hdr_len = sizeof(struct vnet_hdr);
	d->layout.buf_size = BUF_SIZE;
	memcpy(d->layout.mac, our_mac, 6);
	dev = d;
	ev_head = ev_tail = 0;
	waits = 0;
	wait_hook = NULL;
	trigger_fn = NULL;
	counting_waits = false;
}

static void dev_free(void)
{
	fvq_free(&dev->rx);
	fvq_free(&dev->tx);
	free(dev->pool);
	free(dev);
	dev = NULL;
}

static uint8_t *dq_buf(const struct virtq_desc *d)
{
	assert_true(d->addr >= POOL_DMA);
	assert_true(d->addr - POOL_DMA + d->len <= dev->pool_size);
	assert_int_equal((d->addr - POOL_DMA) % BUF_SIZE, 0);
	return dev->pool + (d->addr - POOL_DMA);
}

/* Return descriptor id; raise the queue pair's interrupt (an EV_NET event) if asked for. */
static void dq_put(struct fake_vq *q, uint16_t id, uint32_t len)
{
	if (fvq_put(q, id, len))
		post_event(EV_NET, QP);
}

/* A frame arrives from the wire: 1 if an RX buffer took it, 0 if none was posted. */
static int dev_receive(const uint8_t *frame, size_t len)
{
	struct vnet_hdr h = {.flags = dev->rx_flags,
			     .csum_start = dev->rx_csum_start,
			     .csum_offset = dev->rx_csum_offset,
			     .num_buffers = 1};
	struct virtq_desc *d;
	uint8_t *b;
	uint16_t id;

	fvq_bell(&dev->rx, RX_INDEX);
	if (!fvq_pending(&dev->rx)) {
		fvq_want_kick(&dev->rx);
		return 0;
	}
	id = fvq_take(&dev->rx);
	d = &dev->rx.desc[id];
	assert_int_equal(d->flags, VIRTQ_DESC_F_WRITE);
	assert_true(d->len >= sizeof(h) + len);
	b = dq_buf(d);
	memcpy(b, &h, sizeof(h));
	memcpy(b + sizeof(h), frame, len);
	dq_put(&dev->rx, id, (uint32_t)(sizeof(h) + len));
	dev->received++;
	return 1;
}

static void check_sent_frame(const struct sent_frame *s);

/* Transmit up to max queued frames; returns how many. */
static unsigned int dev_transmit(unsigned int max)
{
	unsigned int n = 0;

	fvq_bell(&dev->tx, TX_INDEX);
	while (n < max && fvq_pending(&dev->tx)) {
		uint16_t id = fvq_take(&dev->tx);
		struct virtq_desc *d = &dev->tx.desc[id];
		struct sent_frame *s = &dev->sent[dev->nsent++ % SENT_MAX];
		uint8_t *b = dq_buf(d);

		assert_int_equal(d->flags, 0);
		assert_true(d->len >= sizeof(struct vnet_hdr) + ETH_HLEN);
		assert_true(d->len <= sizeof(struct vnet_hdr) + NET_FRAME_MAX);
		memcpy(&s->hdr, b, sizeof(s->hdr));
		s->len = d->len - (uint32_t)sizeof(struct vnet_hdr);
		s->addr = d->addr;
		memcpy(s->data, b + sizeof(struct vnet_hdr), s->len);
		if (dev->check_frames)
			check_sent_frame(s);
		dq_put(&dev->tx, id, 0);
		n++;
	}
	if (!fvq_pending(&dev->tx))
		fvq_want_kick(&dev->tx);
	return n;
}

/* The k-th frame from the end (0: the last) the device transmitted. */
static const struct sent_frame *sent_last(unsigned int k)
{
	assert_true(k < dev->nsent && k < SENT_MAX);
	return &dev->sent[(dev->nsent - 1 - k) % SENT_MAX];
}

/* ---------------------------------------------------------------- frames */

static void w16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void w32(uint8_t *p, uint32_t v)
{
	w16(p, (uint16_t)(v >> 16));
	w16(p + 2, (uint16_t)v);
}

static uint16_t r16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t r32(const uint8_t *p)
{
	return (uint32_t)r16(p) << 16 | r16(p + 2);
}

/* The one's complement sum of big-endian words, not yet complemented (RFC 1071, slowly). */
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t acc)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		acc += r16(p + i);
	if (n & 1)
		acc += (uint32_t)p[n - 1] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return acc;
}

static uint32_t pseudo(uint32_t src, uint32_t dst, uint8_t proto, size_t len)
{
	return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + (uint32_t)len;
}

static void eth_hdr_put(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	w16(f + 12, type);
}

static void ip_hdr_put(uint8_t *ip, uint32_t src, uint32_t dst, uint8_t proto, size_t payload)
{
	memset(ip, 0, IP_HLEN);
	ip[0] = 0x45;
	w16(ip + 2, (uint16_t)(IP_HLEN + payload));
	w16(ip + 4, 0x1234);
	ip[8] = 64;
	ip[9] = proto;
	w32(ip + 12, src);
	w32(ip + 16, dst);
	w16(ip + 10, (uint16_t)~sum16(ip, IP_HLEN, 0));
}

/* A datagram from src to us; returns the frame length. */
static size_t mk_udp(uint8_t *f, const uint8_t *src_mac, uint32_t src_ip, uint16_t sport,
		     uint16_t dport, const void *payload, size_t len)
{
	uint8_t *ip = f + ETH_HLEN, *udp = ip + IP_HLEN;
	size_t ulen = UDP_HLEN + len;
	uint16_t c;

	eth_hdr_put(f, our_mac, src_mac, ETH_TYPE_IPV4);
	ip_hdr_put(ip, src_ip, OUR_IP, IP_PROTO_UDP, ulen);
	w16(udp, sport);
	w16(udp + 2, dport);
	w16(udp + 4, (uint16_t)ulen);
	w16(udp + 6, 0);
	memcpy(udp + UDP_HLEN, payload, len);
	if (ETH_HLEN + IP_HLEN + ulen < ETH_ZLEN) /* padding of short frames */
		memset(udp + ulen, 0, ETH_ZLEN - ETH_HLEN - IP_HLEN - ulen);
	c = (uint16_t)~sum16(udp, ulen, pseudo(src_ip, OUR_IP, IP_PROTO_UDP, ulen));
	w16(udp + 6, c ? c : 0xffff);
	return ETH_HLEN + IP_HLEN + ulen < ETH_ZLEN ? ETH_ZLEN : ETH_HLEN + IP_HLEN + ulen;
}

static size_t mk_arp(uint8_t *f, uint16_t op, const uint8_t *sha, uint32_t spa, const uint8_t *tha,
		     uint32_t tpa)
{
	uint8_t *a = f + ETH_HLEN;

	memset(f, 0, ETH_ZLEN);
	eth_hdr_put(f, op == ARP_OP_REQUEST ? bcast : our_mac, sha, ETH_TYPE_ARP);
	w16(a, ARP_HTYPE_ETHER);
	w16(a + 2, ETH_TYPE_IPV4);
	a[4] = 6;
	a[5] = 4;
	w16(a + 6, op);
	memcpy(a + 8, sha, 6);
	w32(a + 14, spa);
	memcpy(a + 18, tha, 6);
	w32(a + 24, tpa);
	return ETH_ZLEN;
}

static size_t mk_ping(uint8_t *f, uint16_t seq, size_t data_len)
{
	uint8_t *ip = f + ETH_HLEN, *icmp = ip + IP_HLEN;
	size_t mlen = ICMP_HLEN + data_len;

	eth_hdr_put(f, our_mac, peer_mac, ETH_TYPE_IPV4);
	ip_hdr_put(ip, PEER_IP, OUR_IP, IP_PROTO_ICMP, mlen);
	memset(icmp, 0, mlen);
	icmp[0] = ICMP_ECHO_REQUEST;
	w16(icmp + 4, 0x77);
	w16(icmp + 6, seq);
	for (size_t i = 0; i < data_len; i++)
		icmp[ICMP_HLEN + i] = (uint8_t)(i + seq);
	w16(icmp + 2, (uint16_t)~sum16(icmp, mlen, 0));
	return ETH_HLEN + IP_HLEN + mlen < ETH_ZLEN ? ETH_ZLEN : ETH_HLEN + IP_HLEN + mlen;
}

/* Everything the device sends must be well formed: IPv4, ICMP and UDP checksums verify. */
static void check_sent_frame(const struct sent_frame *s)
{
	const uint8_t *f = s->data, *ip = f + ETH_HLEN, *l4 = ip + IP_HLEN;
	uint32_t len = s->len;
	size_t tot;

	assert_true(len >= ETH_ZLEN);
	assert_memory_equal(f + 6, our_mac, 6);
	if (r16(f + 12) != ETH_TYPE_IPV4)
		return;
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(sum16(ip, IP_HLEN, 0), 0xffff);
	assert_int_equal(r32(ip + 12), OUR_IP);
	tot = r16(ip + 2);
	assert_true(ETH_HLEN + tot <= len);
	if (r16(ip + 6) & 0x3fff) /* a fragment: test_echo_fragments checks the whole */
		return;
	if (ip[9] == IP_PROTO_ICMP) {
		assert_int_equal(sum16(l4, tot - IP_HLEN, 0), 0xffff);
	} else if (ip[9] == IP_PROTO_TCP) {
		uint8_t seg[NET_FRAME_MAX];

		memcpy(seg, l4, tot - IP_HLEN);
		if (s->hdr.flags & VNET_HDR_F_NEEDS_CSUM) {
			/* What the device does: the field holds the pseudo-header sum. */
			assert_int_equal(s->hdr.csum_start, ETH_HLEN + IP_HLEN);
			assert_int_equal(s->hdr.csum_offset, 16);
			w16(seg + 16, (uint16_t)~sum16(seg, tot - IP_HLEN, 0));
		}
		assert_int_equal(sum16(seg, tot - IP_HLEN,
				       pseudo(OUR_IP, r32(ip + 16), IP_PROTO_TCP, tot - IP_HLEN)),
				 0xffff);
	} else {
		assert_int_equal(ip[9], IP_PROTO_UDP);
		assert_int_equal(r16(l4 + 4), tot - IP_HLEN);
		if (r16(l4 + 6) != 0 && !s->hdr.flags)
			assert_int_equal(
			    sum16(l4, tot - IP_HLEN,
				  pseudo(OUR_IP, r32(ip + 16), IP_PROTO_UDP, tot - IP_HLEN)),
			    0xffff);
	}
}

/* The UDP datagram in sent frame s: its destination, ports and payload. */
static void check_udp_to(const struct sent_frame *s, const uint8_t *mac, uint32_t ip,
			 uint16_t sport, uint16_t dport, const void *payload, size_t len)
{
	const uint8_t *udp = s->data + ETH_HLEN + IP_HLEN;

	assert_memory_equal(s->data, mac, 6);
	assert_int_equal(r16(s->data + 12), ETH_TYPE_IPV4);
	assert_int_equal(s->data[ETH_HLEN + 9], IP_PROTO_UDP);
	assert_int_equal(r32(s->data + ETH_HLEN + 16), ip);
	assert_int_equal(r16(udp), sport);
	assert_int_equal(r16(udp + 2), dport);
	assert_int_equal(r16(udp + 4), UDP_HLEN + len);
	assert_memory_equal(udp + UDP_HLEN, payload, len);
}

/* ---------------------------------------------------------------- netif helpers */

static struct netif *nif_new(void)
{
	struct net_config cfg = {
	    .ip = OUR_IP,
	    .netmask = NETMASK,
	    .gateway = GW_IP,
	    .udp_csum = NET_UDP_CSUM_FULL,
	};
	struct netif *nif = malloc(sizeof(*nif));

	assert_non_null(nif);
	assert_int_equal(netif_open(nif, "eth0", QP, &cfg), 0);
	assert_int_equal(nif->clock.mult, 1ull << 32); /* one fake tick per fake ns */
	counting_waits = true;
	return nif;
}

static void nif_free(struct netif *nif)
{
	netif_close(nif);
	free(nif);
	dev_free();
}

static struct netif_ep *ep_open(struct netif *nif, uint16_t port)
{
	struct netif_ep *ep;

	assert_int_equal(netif_udp_open(nif, port, &ep), 0);
	assert_int_equal(ep->port, port);
	return ep;
}

/* Every buffer is in exactly one place: driver, rings, TX queue, endpoint queues or the app. */
static void check_conservation(const struct netif *nif, unsigned int held)
{
	const struct vnet *vn = &nif->vn;

	assert_int_equal(vn->nfree + virtq_inflight(&vn->rx) + virtq_inflight(&vn->tx) + nif->ntx +
			     nif->queued + held,
			 vn->nbufs);
	assert_int_equal(vn->stats.buf_errors, 0);
	assert_int_equal(vn->stats.tx_invalid, 0);
	assert_int_equal(vn->stats.dev_errors, 0);
}

static void deliver_udp(uint16_t dport, const void *payload, size_t len)
{
	uint8_t f[NET_FRAME_MAX];

	assert_int_equal(
	    dev_receive(f, mk_udp(f, peer_mac, PEER_IP, PEER_PORT, dport, payload, len)), 1);
}

/* ---------------------------------------------------------------- tests */

/* Datagrams reach the endpoint of their port; unknown ports count as the stack's rx_udp_no_port. */
static void test_demux(void **state)
{
	struct netif_dgram d[4];
	struct netif_ep *e7, *e9;
	struct netif *nif;

	(void)state;
	dev_new(64, 64, 256, true);
	nif = nif_new();
	e7 = ep_open(nif, 7);
	e9 = ep_open(nif, 9);
	deliver_udp(7, "seven-a", 7);
	deliver_udp(9, "nine", 4);
	deliver_udp(11, "eleven", 6);
	deliver_udp(7, "seven-b", 7);
	assert_int_equal(netif_poll(nif), 4);
	assert_int_equal(nif->queued, 3);
	assert_int_equal(nif->stack.stats.rx_udp_no_port, 1);

	assert_int_equal(netif_recv_batch(e7, d, 4), 2);
	assert_int_equal(d[0].len, 7);
	assert_memory_equal(d[0].payload, "seven-a", 7);
	assert_memory_equal(d[1].payload, "seven-b", 7);
	assert_int_equal(d[0].src_ip, PEER_IP);
	assert_int_equal(d[0].src_port, PEER_PORT);
	assert_int_equal(d[0].dst_ip, OUR_IP);
	assert_int_equal(d[0].dst_port, 7);
	assert_ptr_equal(d[0].ep, e7);
	assert_int_equal(netif_recv(e7, &d[2]), 0);
	assert_int_equal(netif_recv(e9, &d[2]), 1);
	assert_memory_equal(d[2].payload, "nine", 4);
	assert_int_equal(d[2].dst_port, 9);
	assert_int_equal(e7->stats.rx, 2);
	assert_int_equal(e9->stats.rx, 1);
	check_conservation(nif, 3);
	assert_int_equal(netif_release(&d[0]), 0);
	assert_int_equal(netif_release(&d[1]), 0);
	assert_int_equal(netif_release(&d[2]), 0);
	assert_int_equal(netif_release(&d[2]), -EINVAL); /* already given back */
	check_conservation(nif, 0);
	nif_free(nif);
}

static void test_udp_open_close(void **state)
{
	struct netif_ep *ep[NETIF_EPS], *x;
	struct netif_dgram d;
	struct netif *nif;
	unsigned int i;

	(void)state;
	dev_new(64, 64, 256, true);
	nif = nif_new();
	assert_int_equal(netif_udp_open(nif, 0, &x), -EINVAL);
	for (i = 0; i < NETIF_EPS; i++)
		ep[i] = ep_open(nif, (uint16_t)(1000 + i));
	assert_int_equal(netif_udp_open(nif, 1000, &x), -EEXIST);
	assert_int_equal(netif_udp_open(nif, 2000, &x), -ENOSPC);

	/* Closing releases what is queued and stops delivery to the port. */
	deliver_udp(1003, "a", 1);
	deliver_udp(1003, "b", 1);
	assert_int_equal(netif_poll(nif), 2);
	assert_int_equal(nif->queued, 2);
	netif_udp_close(ep[3]);
	assert_int_equal(nif->queued, 0);
	check_conservation(nif, 0);
	deliver_udp(1003, "c", 1);
	assert_int_equal(netif_poll(nif), 1);
	assert_int_equal(nif->stack.stats.rx_udp_no_port, 1);
	assert_int_equal(netif_udp_open(nif, 2000, &x), 0);
	assert_ptr_equal(x, ep[3]);
	deliver_udp(2000, "d", 1);
	assert_int_equal(netif_poll(nif), 1);
	assert_int_equal(netif_recv(x, &d), 1);
	assert_memory_equal(d.payload, "d", 1);
	assert_int_equal(netif_release(&d), 0);
	check_conservation(nif, 0);
	nif_free(nif);
}

/* A full endpoint queue drops (and counts) what does not fit; the rest arrives in order. */
static void test_queue_full(void **state)
{
	struct netif_dgram d[NETIF_EP_QUEUE];
	unsigned int i, sent = 0, got;
	struct netif_ep *ep;
	struct netif *nif;
	char msg[16];

	(void)state;
	dev_new(256, 64, 512, true);
	nif = nif_new();
	ep = ep_open(nif, 7);
	while (sent < NETIF_EP_QUEUE + 10) {
		for (i = 0; i < 20 && sent < NETIF_EP_QUEUE + 10; i++, sent++) {
			snprintf(msg, sizeof(msg), "m%03u", sent);
			deliver_udp(7, msg, 4);
		}
		netif_poll(nif);
	}
	assert_int_equal(ep->stats.rx, NETIF_EP_QUEUE);
	assert_int_equal(ep->stats.rx_dropped, 10);
	assert_int_equal(nif->stats.rx_queue_full, 10);
	assert_int_equal(nif->queued, NETIF_EP_QUEUE);
	check_conservation(nif, 0);
	got = netif_recv_batch(ep, d, NETIF_EP_QUEUE);
	assert_int_equal(got, NETIF_EP_QUEUE);
	for (i = 0; i < got; i++) {
		snprintf(msg, sizeof(msg), "m%03u", i);
		assert_memory_equal(d[i].payload, msg, 4);
		assert_int_equal(netif_release(&d[i]), 0);
	}
	/* Room again. */
	deliver_udp(7, "late", 4);
	assert_int_equal(netif_poll(nif), 1);
	assert_int_equal(netif_recv(ep, d), 1);
	assert_int_equal(netif_release(d), 0);
	check_conservation(nif, 0);
	nif_free(nif);
}

/* A reply leaves from the very buffer the request came in, rewritten in place. */
static void test_zero_copy_reply(void **state)
{
	static const char up[] = "HELLO NETIF, AND A LONGER ANSWER";
	struct netif_dgram d;
	struct netif_ep *ep;
	struct netif *nif;
	const struct sent_frame *s;
	uint8_t *buf_start;
	uint64_t kicks;

	(void)state;
	dev_new(64, 64, 256, true);
	nif = nif_new();
	ep = ep_open(nif, 7);
	deliver_udp(7, "hello netif", 11);
	assert_int_equal(netif_poll(nif), 1);
	assert_int_equal(netif_recv(ep, &d), 1);
	buf_start = dev->pool + (size_t)d.buf * BUF_SIZE;
	assert_ptr_equal(d.payload, buf_start + sizeof(struct vnet_hdr) + NET_UDP_PAYLOAD_OFF);

	/* Rewritten in place, and longer than the request. */
	memcpy(d.payload, up, sizeof(up) - 1);
	assert_int_equal(netif_reply(ep, &d, sizeof(up) - 1), 0);
	assert_null(d.ep);
	assert_int_equal(netif_reply(ep, &d, 4), -EINVAL); /* consumed */
	assert_int_equal(fvq_pending(&dev->tx), 0);	   /* batched until the flush */
	kicks = nif->vn.stats.tx_kicks;
	assert_int_equal(netif_flush(nif), 1);
	assert_true(nif->vn.stats.tx_kicks - kicks <= 1);
	assert_int_equal(dev_transmit(~0u), 1);
	s = sent_last(0);
	assert_int_equal(s->addr, POOL_DMA + (buf_start - dev->pool));
	check_udp_to(s, peer_mac, PEER_IP, 7, PEER_PORT, up, sizeof(up) - 1);
	assert_int_equal(ep->stats.tx, 1);
	check_conservation(nif, 0);
	nif_free(nif);
}

/* Echo reuses the checksum: unchanged, or patched by the caller (RFC 1624). */
static void test_echo_checksum(void **state)
{
	uint8_t payload[24], f[NET_FRAME_MAX];
	struct netif_dgram d;
	size_t flen;
	struct netif_ep *ep;
	struct netif *nif;
	const struct sent_frame *s;
	uint16_t old_w, new_w;
	uint32_t sum;

	(void)state;
	memcpy(payload, "sockperf-like header....", sizeof(payload));
	dev_new(64, 64, 256, true);
	nif = nif_new();
	ep = ep_open(nif, 7);
	deliver_udp(7, payload, sizeof(payload));
	deliver_udp(7, payload, sizeof(payload));
	assert_int_equal(netif_poll(nif), 2);

	assert_int_equal(netif_recv(ep, &d), 1);
	assert_int_not_equal(d.csum, 0);
	assert_int_equal(netif_echo(ep, &d), 0);
	netif_flush(nif);
	assert_int_equal(dev_transmit(~0u), 1); /* check_sent_frame verifies the checksum */
	check_udp_to(sent_last(0), peer_mac, PEER_IP, 7, PEER_PORT, payload, sizeof(payload));

	/* Change one word and patch the checksum as echod --sockperf does. */
	assert_int_equal(netif_recv(ep, &d), 1);
	memcpy(&old_w, d.payload + 8, 2);
	d.payload[9] ^= 0x01;
	memcpy(&new_w, d.payload + 8, 2);
	sum = (uint16_t)~d.csum + (uint16_t)~old_w + new_w;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	d.csum = (uint16_t)~sum;
	payload[9] ^= 0x01;
	assert_int_equal(netif_echo_batch(ep, &d, 1), 1);
	netif_flush(nif);
	assert_int_equal(dev_transmit(~0u), 1);
	s = sent_last(0);
	check_udp_to(s, peer_mac, PEER_IP, 7, PEER_PORT, payload, sizeof(payload));

	/*
	 * Reused, not recomputed: a checksum the device vouched for (DATA_VALID)
	 * comes back as it was, even one that does not match the data.
	 */
	dev->rx_flags = VNET_HDR_F_DATA_VALID;
	dev->check_frames = false;
	flen = mk_udp(f, peer_mac, PEER_IP, PEER_PORT, 7, payload, sizeof(payload));
	w16(f + ETH_HLEN + IP_HLEN + 6, 0x1234);
	assert_int_equal(dev_receive(f, flen), 1);
	assert_int_equal(netif_poll(nif), 1);
	assert_int_equal(netif_recv(ep, &d), 1);
	assert_int_equal(netif_echo(ep, &d), 0);
	netif_flush(nif);
	assert_int_equal(dev_transmit(~0u), 1);
	assert_int_equal(r16(sent_last(0)->data + ETH_HLEN + IP_HLEN + 6), 0x1234);
	check_conservation(nif, 0);
	nif_free(nif);
}

/* Batches: receive in slices, answer in one go, one publish and at most one kick per flush. */
static void test_batch(void **state)
{
	struct netif_dgram d[48];
	unsigned int i, n = 0, k;
	struct netif_ep *ep;
	struct netif *nif;
	uint64_t kicks;
	char msg[8];

	(void)state;
	dev_new(64, 64, 256, true);
	nif = nif_new();
	ep = ep_open(nif, 7);
	for (i = 0; i < 40; i++) {
		snprintf(msg, sizeof(msg), "b%02u", i);
		deliver_udp(7, msg, 3);
	}
	assert_int_equal(netif_poll(nif), NETIF_BURST);
	assert_int_equal(netif_poll(nif), 40 - NETIF_BURST);
	while ((k = netif_recv_batch(ep, d + n, 16)) > 0) {
		assert_true(k == 16 || k == 40 - n);
		n += k;
	}
	assert_int_equal(n, 40);
	/* Half echoed, half answered with a new length. */
	for (i = 20; i < 40; i++) {
		d[i].payload[0] = 'B';
		d[i].len = 2;
	}
	assert_int_equal(netif_echo_batch(ep, d, 20), 20);
	assert_int_equal(netif_reply_batch(ep, d + 20, 20), 20);
	assert_int_equal(nif->ntx, 40);
	assert_int_equal(fvq_pending(&dev->tx), 0);
	kicks = nif->vn.stats.tx_kicks;
	assert_int_equal(netif_flush(nif), 40);
	assert_int_equal(fvq_pending(&dev->tx), 40);
	assert_true(nif->vn.stats.tx_kicks - kicks <= 1);
	assert_int_equal(dev_transmit(~0u), 40);
	for (i = 0; i < 40; i++) {
		const struct sent_frame *s = sent_last(39 - i);

		snprintf(msg, sizeof(msg), i < 20 ? "b%02u" : "B%02u", i);
		check_udp_to(s, peer_mac, PEER_IP, 7, PEER_PORT, msg, i < 20 ? 3 : 2);
	}
	check_conservation(nif, 0);
	nif_free(nif);
}

/* netif_rx_more takes what waits without flushing the answers held, and stops when they could not
 * fit. */
static void test_rx_more(void **state)
{
	struct netif_dgram d[48];
	unsigned int i, n;
	struct netif_ep *ep;
	struct netif *nif;
	char msg[8];

	(void)state;
	dev_new(64, 64, 256, true);
	nif = nif_new();
	ep = ep_open(nif, 7);
	assert_int_equal(netif_rx_more(nif), 0); /* nothing waits */
	deliver_udp(7, "m00", 3);
	assert_int_equal(netif_poll(nif), 1);
	assert_int_equal(netif_recv_batch(ep, d, 48), 1);
	assert_int_equal(netif_echo_batch(ep, d, 1), 1);
	assert_int_equal(nif->ntx, 1);
	for (i = 1; i < 4; i++) {
		snprintf(msg, sizeof(msg), "m%02u", i);
		deliver_udp(7, msg, 3);
	}
	/* Received with an answer queued, and that answer not sent yet. */
	assert_int_equal(netif_rx_more(nif), 3);
	assert_int_equal(fvq_pending(&dev->tx), 0);
	assert_int_equal(netif_recv_batch(ep, d, 48), 3);
	assert_int_equal(netif_echo_batch(ep, d, 3), 3);
	assert_int_equal(netif_rx_more(nif), 0);
	assert_int_equal(netif_flush(nif), 4);
	assert_int_equal(dev_transmit(~0u), 4);
	for (i = 0; i < 4; i++) {
		snprintf(msg, sizeof(msg), "m%02u", i);
		check_udp_to(sent_last(3 - i), peer_mac, PEER_IP, 7, PEER_PORT, msg, 3);
	}

	/* 40 answers held: another burst of them would not fit the TX queue. */
	for (i = 0; i < 41; i++)
		deliver_udp(7, "x", 1);
	assert_int_equal(netif_poll(nif), NETIF_BURST);
	n = netif_recv_batch(ep, d, 48);
	assert_int_equal(netif_echo_batch(ep, d, n), NETIF_BURST);
	assert_int_equal(netif_rx_more(nif), 41 - NETIF_BURST);
	n = netif_recv_batch(ep, d, 48);
	assert_int_equal(netif_echo_batch(ep, d, n), 41 - NETIF_BURST);
	assert_true(nif->ntx + NETIF_BURST > NETIF_TX_QUEUE);
	deliver_udp(7, "y", 1);
	assert_int_equal(netif_rx_more(nif), 0);
	assert_int_equal(netif_flush(nif), 41);
	assert_int_equal(dev_transmit(~0u), 41);
	assert_int_equal(netif_poll(nif), 1);
	n = netif_recv_batch(ep, d, 48);
	assert_int_equal(netif_echo_batch(ep, d, n), 1);
	assert_int_equal(netif_flush(nif), 1);
	assert_int_equal(dev_transmit(~0u), 1);
	check_conservation(nif, 0);
	nif_free(nif);
}

/* What the run-to-completion handler of test_handler saw and does. */
struct handler_log {
	unsigned int calls;
	unsigned int more; /* datagrams to deliver from inside the first call */
	unsigned int sent; /* frames on the TX ring when the poll began */
	char seen[64][8];
};

/* Echo "e..", answer "r.." with one byte, release "d..", leave "l.." alone. */
static void handler(struct netif_ep *ep, struct netif_dgram *d, void *arg)
{
	struct handler_log *log = arg;
	unsigned int i;

	assert_ptr_equal(d->ep, ep);
	assert_true(d->len < 8);
	memcpy(log->seen[log->calls % 64], d->payload, d->len);
	log->seen[log->calls++ % 64][d->len] = 0;
	/* Requests that land while the poll runs are taken by that poll. */
	for (i = 0; i < log->more; i++)
		deliver_udp(7, "e-more", 6);
	log->more = 0;
	/* Nothing goes out before the poll's one flush. */
	assert_int_equal(fvq_pending(&dev->tx), log->sent);
	switch (d->payload[0]) {
	case 'e':
		assert_int_equal(netif_echo(ep, d), 0);
		break;
	case 'r':
		assert_int_equal(netif_reply(ep, d, 1), 0);
		break;
	case 'd':
		assert_int_equal(netif_release(d), 0);
		break;
	default:
		break;
	}
}

/*
 * A handler answers each datagram inside the poll that took it: replies go
 * out in one flush at its end, requests that arrive meanwhile are answered
 * by the same poll up to a burst, datagrams it leaves alone are released,
 * and other endpoints still queue.
 */
static void test_handler(void **state)
{
	struct handler_log log = {0};
	struct netif_dgram d[4];
	struct netif_ep *e7, *e9;
	struct netif *nif;
	uint64_t kicks;
	char msg[8];
	unsigned int i;

	(void)state;
	dev_new(64, 64, 256, true);
	nif = nif_new();
	e7 = ep_open(nif, 7);
	e9 = ep_open(nif, 9);
	netif_udp_set_handler(e7, handler, &log);
	deliver_udp(7, "e1", 2);
	deliver_udp(9, "nine", 4);
	deliver_udp(7, "r2", 2);
	deliver_udp(7, "d3", 2);
	deliver_udp(7, "l4", 2);
	log.more = 2;
	kicks = nif->vn.stats.tx_kicks;
	assert_int_equal(netif_poll(nif), 7);
	assert_int_equal(log.calls, 6);
	assert_string_equal(log.seen[0], "e1");
	assert_string_equal(log.seen[3], "l4");
	assert_string_equal(log.seen[4], "e-more");
	assert_int_equal(e7->stats.rx, 6);
	assert_int_equal(e7->stats.tx, 4);
	assert_int_equal(nif->queued, 1); /* port 9's, queued as before */
	assert_int_equal(nif->ntx, 0);
	assert_int_equal(fvq_pending(&dev->tx), 4);
	assert_true(nif->vn.stats.tx_kicks - kicks <= 1);
	assert_int_equal(dev_transmit(~0u), 4);
	check_udp_to(sent_last(3), peer_mac, PEER_IP, 7, PEER_PORT, "e1", 2);
	check_udp_to(sent_last(2), peer_mac, PEER_IP, 7, PEER_PORT, "r", 1);
	check_udp_to(sent_last(1), peer_mac, PEER_IP, 7, PEER_PORT, "e-more", 6);
	check_udp_to(sent_last(0), peer_mac, PEER_IP, 7, PEER_PORT, "e-more", 6);
	assert_int_equal(netif_recv(e7, d), 0);
	assert_int_equal(netif_recv(e9, d), 1);
	assert_memory_equal(d[0].payload, "nine", 4);
	assert_int_equal(netif_release(d), 0);
	check_conservation(nif, 0);

	/* A backlog: a burst per poll, each answered by one flush. */
	for (i = 0; i < NETIF_BURST + 8; i++) {
		snprintf(msg, sizeof(msg), "e%02u", i);
		deliver_udp(7, msg, 3);
	}
	log.calls = 0;
	assert_int_equal(netif_poll(nif), NETIF_BURST);
	assert_int_equal(fvq_pending(&dev->tx), NETIF_BURST);
	log.sent = NETIF_BURST;
	assert_int_equal(netif_poll(nif), 8);
	assert_int_equal(log.calls, NETIF_BURST + 8);
	assert_int_equal(dev_transmit(~0u), NETIF_BURST + 8);
	for (i = 0; i < NETIF_BURST + 8; i++) {
		snprintf(msg, sizeof(msg), "e%02u", i);
		check_udp_to(sent_last(NETIF_BURST + 7 - i), peer_mac, PEER_IP, 7, PEER_PORT, msg,
			     3);
	}

	/* Without the handler, port 7 queues again. */
	netif_udp_set_handler(e7, NULL, NULL);
	deliver_udp(7, "e5", 2);
	assert_int_equal(netif_poll(nif), 1);
	assert_int_equal(log.calls, NETIF_BURST + 8);
	assert_int_equal(netif_recv(e7, d), 1);
	assert_int_equal(netif_release(d), 0);
	check_conservation(nif, 0);
	nif_free(nif);
}

/*
 * The doorbell's wait, learnt. A model of the time from request noticed to
 * answer sent under TCG: the answer's own `work` first (a shorter wait
 * costs nothing); then a doorbell rung before QEMU's big lock is released
 * stalls on it (two wake-ups), one rung after the I/O thread went to sleep
 * has to wake it (one), and one in between is sent at once. The lock is
 * released up to 2,000 cycles before `lock_until` and the thread sleeps up
 * to 2,000 after `awake_until`, as the host jitters. awake_until 0: the
 * thread is always asleep by then (only the stall matters); lock_until 0:
 * no lock (KVM).
 */
struct kick_host {
	uint64_t work, lock_until, awake_until;
};

static uint64_t kick_model(const struct kick_host *h, uint64_t wait, uint64_t *rng)
{
	uint64_t t = wait > h->work ? wait : h->work, r;

	*rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
	r = *rng >> 16;
	if (t + r % 2000 < h->lock_until)
		return t + 60000 + (r >> 24) % 6000;
	if (!h->awake_until || t >= h->awake_until + (r >> 11) % 2000)
		return t + 40000 + (r >> 24) % 6000;
	return t + 8000 + (r >> 24) % 6000;
}

/* n answers under host h, each learnt from; the waits tried stay a step from the learnt one. */
static void kick_run(struct netif_kick *k, const struct kick_host *h, unsigned int n,
		     uint64_t *rng)
{
	for (unsigned int i = 0; i < n; i++) {
		uint64_t w = netif_kick_next(k), d = netif_kick_wait(k);

		assert_true(w == d + NETIF_KICK_STEP || w + NETIF_KICK_STEP == d || (!w && !d));
		netif_kick_learn(k, kick_model(h, w, rng));
	}
}

#define KICK_ROUNDS(r) ((r) * 2 * NETIF_KICK_ROUND)

static void test_kick_wait_learnt(void **state)
{
	const struct kick_host tcg = {1200, 3000, 5000}, tcg_asleep = {1200, 3000, 0},
			       kvm = {1200, 0, 0};
	struct netif_kick k = {.fixed = -1};
	uint64_t rng = 1;

	(void)state;
	/* Between the lock's release and the thread's sleep: the wait finds it. */
	kick_run(&k, &tcg, KICK_ROUNDS(60), &rng);
	assert_true(netif_kick_wait(&k) >= 3000 - NETIF_KICK_STEP);
	assert_true(netif_kick_wait(&k) <= 5000 + NETIF_KICK_STEP);
	assert_int_equal(k.timed, KICK_ROUNDS(60));
	/* ... and stays there. */
	for (int r = 0; r < 40; r++) {
		kick_run(&k, &tcg, KICK_ROUNDS(1), &rng);
		assert_true(netif_kick_wait(&k) >= 3000 - 2 * NETIF_KICK_STEP);
		assert_true(netif_kick_wait(&k) <= 5000 + 2 * NETIF_KICK_STEP);
	}

	/* The host changes: the thread always asleep by then. Just past the stall. */
	kick_run(&k, &tcg_asleep, KICK_ROUNDS(60), &rng);
	assert_true(netif_kick_wait(&k) >= 3000 - 2 * NETIF_KICK_STEP);
	assert_true(netif_kick_wait(&k) <= 3000 + 4 * NETIF_KICK_STEP);

	/* No lock (KVM): back down to the answer's own work or under it. */
	kick_run(&k, &kvm, KICK_ROUNDS(60), &rng);
	assert_true(netif_kick_wait(&k) <= 1200 + 2 * NETIF_KICK_STEP);

	/* Never a stall from the start: it never climbs past the work. */
	k = (struct netif_kick){.fixed = -1};
	for (int r = 0; r < 40; r++) {
		kick_run(&k, &kvm, KICK_ROUNDS(1), &rng);
		assert_true(netif_kick_wait(&k) <= 1200 + 2 * NETIF_KICK_STEP);
	}

	/* A fixed wait is what it says; a learnt one never passes the cap. */
	k = (struct netif_kick){.fixed = 777};
	assert_int_equal(netif_kick_next(&k), 777);
	assert_int_equal(netif_kick_wait(&k), 777);
	k = (struct netif_kick){.fixed = -1};
	for (unsigned int i = 0; i < KICK_ROUNDS(100); i++) { /* the longer, the better */
		uint64_t w = netif_kick_next(&k);

		assert_true(w <= NETIF_KICK_MAX + NETIF_KICK_STEP);
		netif_kick_learn(&k, 100000 - w);
	}
	assert_int_equal(netif_kick_wait(&k), NETIF_KICK_MAX);
	/* A sample past the clip counts as the clip. */
	k = (struct netif_kick){.fixed = -1};
	netif_kick_next(&k);
	netif_kick_learn(&k, 1ull << 40);
	assert_int_equal(k.sum[k.side], NETIF_KICK_CLIP);
}

/* An answer's doorbell waits the kick wait after its request was noticed, no longer. */
static void test_kick_wait_in_poll(void **state)
{
	struct netif_ep *ep;
	struct netif *nif;
	uint64_t t0;

	(void)state;
	dev_new(64, 64, 256, true);
	nif = nif_new();
	ep = ep_open(nif, 7);
	netif_udp_set_handler(ep, handler, &(struct handler_log){0});
	netif_set_kick_wait(nif, 50000);
	deliver_udp(7, "e1", 2);
	t0 = fake_ns;
	assert_int_equal(netif_poll(nif), 1);
	assert_true(fake_ns - t0 >= 50000);
	assert_true(fake_ns - t0 < 50000 + 5000);
	assert_int_equal(fvq_pending(&dev->tx), 1);
	assert_true(nif->kick.pending);
	assert_int_equal(dev_transmit(~0u), 1);
	check_udp_to(sent_last(0), peer_mac, PEER_IP, 7, PEER_PORT, "e1", 2);
	/* The next poll sees it sent and times it; a fixed wait learns nothing. */
	fake_ns += 7000;
	assert_int_equal(netif_poll(nif), 0);
	assert_false(nif->kick.pending);
	assert_int_equal(nif->kick.sent_n, 1);
	assert_true(nif->kick.sent_sum >= 57000);
	assert_int_equal(nif->kick.timed, 0);

	/* Learning: an answer is timed once sent, not before. */
	netif_set_kick_wait(nif, -1);
	deliver_udp(7, "e2", 2);
	assert_int_equal(netif_poll(nif), 1);
	assert_int_equal(netif_poll(nif), 0);
	assert_int_equal(nif->kick.timed, 0);
	assert_int_equal(dev_transmit(~0u), 1);
	assert_int_equal(netif_poll(nif), 0);
	assert_int_equal(nif->kick.timed, 1);
	assert_int_equal(nif->kick.sent_n, 1);
	assert_int_equal(nif->kick.n[nif->kick.side], 1);

	/*
	 * What the application answers from an endpoint's queue goes out when
	 * it polls again, with the same wait counted from the request noticed.
	 */
	{
		struct netif_ep *q = ep_open(nif, 9);
		struct netif_dgram d;

		netif_set_kick_wait(nif, 50000);
		deliver_udp(9, "q1", 2);
		t0 = fake_ns;
		assert_int_equal(netif_poll(nif), 1);
		assert_int_equal(netif_recv(q, &d), 1);
		assert_int_equal(netif_echo_batch(q, &d, 1), 1);
		assert_int_equal(fvq_pending(&dev->tx), 0);
		netif_poll(nif);
		assert_true(fake_ns - t0 >= 50000);
		assert_int_equal(fvq_pending(&dev->tx), 1);
		assert_true(nif->kick.pending);
		assert_int_equal(dev_transmit(~0u), 1);
		check_udp_to(sent_last(0), peer_mac, PEER_IP, 9, PEER_PORT, "q1", 2);
		netif_poll(nif);
		assert_false(nif->kick.pending);
	}

	/* A TSC that does not count (no clock): no wait at all, however long it is set. */
	nif->clock.mult = 0;
	netif_set_kick_wait(nif, 1000000000000ll);
	deliver_udp(7, "e3", 2);
	t0 = fake_ns;
	assert_int_equal(netif_poll(nif), 1);
	assert_true(fake_ns - t0 < 5000);
	assert_int_equal(dev_transmit(~0u), 1);
	check_udp_to(sent_last(0), peer_mac, PEER_IP, 7, PEER_PORT, "e3", 2);
	nif->clock.mult = 1ull << 32;
	check_conservation(nif, 0);
	nif_free(nif);
}

/* Replies the stack refuses are counted and their buffers freed; foreign datagrams are refused. */
static void test_reply_errors(void **state)
{
	struct netif_ep *e7, *e9;
	struct netif_dgram d[2];
	struct netif *nif;

	(void)state;
	dev_new(64, 64, 256, true);
	nif = nif_new();
	e7 = ep_open(nif, 7);
	e9 = ep_open(nif, 9);
	deliver_udp(7, "x", 1);
	deliver_udp(7, "y", 1);
	assert_int_equal(netif_poll(nif), 2);
	assert_int_equal(netif_recv_batch(e7, d, 2), 2);
	assert_int_equal(netif_reply(e7, &d[0], NETIF_DGRAM_MAX + 1), -EMSGSIZE);
	assert_int_equal(nif->stats.reply_errors, 1);
	assert_int_equal(netif_release(&d[0]), -EINVAL);
	assert_int_equal(netif_reply(e9, &d[1], 1), -EINVAL); /* not e9's: untouched */
	assert_ptr_equal(d[1].ep, e7);
	check_conservation(nif, 1);
	assert_int_equal(netif_reply(e7, &d[1], NETIF_DGRAM_MAX), 0);
	netif_flush(nif);
	assert_int_equal(dev_transmit(~0u), 1);
	assert_int_equal(sent_last(0)->len, NET_FRAME_MAX);
	check_conservation(nif, 0);
	nif_free(nif);
}

/* Fragment off bytes [off, off + len) of the IP payload dg into frame f. */
static size_t mk_frag(uint8_t *f, const uint8_t *dg, size_t off, size_t len, bool mf)
{
	uint8_t *ip = f + ETH_HLEN;

	eth_hdr_put(f, our_mac, peer_mac, ETH_TYPE_IPV4);
	ip_hdr_put(ip, PEER_IP, OUR_IP, IP_PROTO_UDP, len);
	w16(ip + 4, 0x4242);
	w16(ip + 6, (uint16_t)(off / 8 | (mf ? 0x2000 : 0)));
	w16(ip + 10, 0);
	w16(ip + 10, (uint16_t)~sum16(ip, IP_HLEN, 0));
	memcpy(ip + IP_HLEN, dg + off, len);
	return ETH_HLEN + IP_HLEN + len;
}

/* Reassemble the last n frames sent (fragments of one datagram to the peer) into out. */
static size_t sent_reassemble(unsigned int n, uint8_t *out)
{
	size_t end = 0;

	for (unsigned int k = n; k-- > 0;) {
		const struct sent_frame *s = sent_last(k);
		const uint8_t *ip = s->data + ETH_HLEN;
		size_t off = (size_t)(r16(ip + 6) & 0x1fff) * 8, len = r16(ip + 2) - IP_HLEN;

		assert_memory_equal(s->data, peer_mac, 6);
		assert_int_equal(r32(ip + 16), PEER_IP);
		assert_int_equal(off, end);
		assert_int_equal(!!(r16(ip + 6) & 0x2000), k > 0);
		memcpy(out + off, ip + IP_HLEN, len);
		end = off + len;
	}
	return end;
}

/*
 * An 8000-byte datagram arrives in six fragments, out of order: one
 * datagram on the endpoint (no receive buffer held), echoed in fragments
 * that reassemble to the request with ports swapped and a good checksum.
 * netif_send fragments the same way.
 */
static void test_echo_fragments(void **state)
{
	static uint8_t dg[8008], back[8008];
	static const unsigned int order[] = {2, 0, 5, 1, 4, 3};
	uint8_t f[NET_FRAME_MAX];
	struct netif_dgram d;
	struct netif_ep *ep;
	struct netif *nif;
	uint16_t c;

	(void)state;
	dev_new(64, 64, 256, true);
	nif = nif_new();
	ep = ep_open(nif, 7);
	w16(dg, PEER_PORT);
	w16(dg + 2, 7);
	w16(dg + 4, sizeof(dg));
	w16(dg + 6, 0);
	for (size_t i = 8; i < sizeof(dg); i++)
		dg[i] = (uint8_t)(i * 3 + (i >> 9));
	c = (uint16_t)~sum16(dg, sizeof(dg), pseudo(PEER_IP, OUR_IP, IP_PROTO_UDP, sizeof(dg)));
	w16(dg + 6, c ? c : 0xffff);
	for (unsigned int i = 0; i < 6; i++) {
		size_t off = order[i] * 1480,
		       len = sizeof(dg) - off < 1480 ? sizeof(dg) - off : 1480;

		assert_int_equal(dev_receive(f, mk_frag(f, dg, off, len, off + len < sizeof(dg))),
				 1);
	}
	assert_int_equal(netif_poll(nif), 6);
	assert_int_equal(nif->stack.stats.reasm_ok, 1);
	assert_int_equal(netif_recv(ep, &d), 1);
	assert_true(d.buf & NETIF_BUF_REASM);
	assert_int_equal(d.len, 8000);
	assert_memory_equal(d.payload, dg + 8, 8000);
	check_conservation(nif, 0); /* the datagram holds no vnet buffer */
	assert_int_equal(netif_echo(ep, &d), 0);
	assert_int_equal(nif->stack.stats.reasm_bytes, 0);
	netif_flush(nif);
	assert_int_equal(dev_transmit(~0u), 6);
	assert_int_equal(sent_reassemble(6, back), sizeof(dg));
	assert_int_equal(r16(back), 7);
	assert_int_equal(r16(back + 2), PEER_PORT);
	assert_int_equal(r16(back + 6), r16(dg + 6));
	assert_int_equal(
	    sum16(back, sizeof(back), pseudo(OUR_IP, PEER_IP, IP_PROTO_UDP, sizeof(back))), 0xffff);
	assert_memory_equal(back + 8, dg + 8, 8000);
	check_conservation(nif, 0);

	/* A reassembled datagram released unanswered, or left queued at close. */
	for (int k = 0; k < 2; k++) {
		for (unsigned int i = 0; i < 6; i++) {
			size_t off = i * 1480,
			       len = sizeof(dg) - off < 1480 ? sizeof(dg) - off : 1480;

			dev_receive(f, mk_frag(f, dg, off, len, off + len < sizeof(dg)));
		}
		assert_int_equal(netif_poll(nif), 6);
		assert_int_equal(nif->queued, 1);
		assert_true(nif->stack.stats.reasm_bytes > 0);
		if (k == 0) {
			assert_int_equal(netif_recv(ep, &d), 1);
			assert_int_equal(netif_release(&d), 0);
			assert_int_equal(netif_release(&d), -EINVAL);
		} else {
			netif_udp_close(ep);
			ep = ep_open(nif, 7);
		}
		assert_int_equal(nif->queued, 0);
		assert_int_equal(nif->stack.stats.reasm_bytes, 0);
	}
	check_conservation(nif, 0);

	/* netif_send: 8000 bytes in six fragments. */
	memset(f, 0, sizeof(f));
	assert_int_equal(
	    dev_receive(f, mk_arp(f, ARP_OP_REPLY, peer_mac, PEER_IP, our_mac, OUR_IP)), 1);
	assert_int_equal(netif_poll(nif), 1);
	assert_int_equal(netif_send(ep, PEER_IP, PEER_PORT, dg + 8, 8000), 0);
	netif_flush(nif);
	assert_int_equal(dev_transmit(~0u), 6);
	assert_int_equal(sent_reassemble(6, back), sizeof(dg));
	assert_int_equal(r16(back), 7);
	assert_int_equal(
	    sum16(back, sizeof(back), pseudo(OUR_IP, PEER_IP, IP_PROTO_UDP, sizeof(back))), 0xffff);
	assert_memory_equal(back + 8, dg + 8, 8000);
	check_conservation(nif, 0);
	nif_free(nif);
}

/* A datagram left incomplete: netif_wait sleeps no longer than its timeout, which frees it. */
static void test_frag_timeout_wakes(void **state)
{
	uint8_t f[NET_FRAME_MAX], dg[3000] = {0};
	struct netif *nif;
	uint64_t t0;

	(void)state;
	dev_new(64, 64, 256, true);
	nif = nif_new();
	ep_open(nif, 7);
	assert_int_equal(dev_receive(f, mk_frag(f, dg, 0, 1480, true)), 1);
	assert_int_equal(netif_poll(nif), 1);
	assert_true(nif->stack.stats.reasm_bytes > 0);
	t0 = fake_ns;
	assert_int_equal(netif_wait(nif, WAIT_FOREVER), 0);
	assert_int_equal(waits, 1);
	assert_true(last_wait_timeout <= NET_REASM_TIMEOUT_NS);
	assert_true(fake_ns - t0 >= NET_REASM_TIMEOUT_NS - nif->poll_ns);
	assert_int_equal(nif->stack.stats.reasm_timeout, 1);
	assert_int_equal(nif->stack.stats.reasm_bytes, 0);
	assert_int_equal(net_next_timer(&nif->stack), 0);
	check_conservation(nif, 0);
	nif_free(nif);
}

/* A TCP segment from the peer to dport, no options. */
static size_t mk_tcp(uint8_t *f, uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack,
		     const void *data, size_t len)
{
	uint8_t *ip = f + ETH_HLEN, *th = ip + IP_HLEN;
	size_t seglen = TCP_HLEN + len;

	eth_hdr_put(f, our_mac, peer_mac, ETH_TYPE_IPV4);
	ip_hdr_put(ip, PEER_IP, OUR_IP, IP_PROTO_TCP, seglen);
	memset(th, 0, TCP_HLEN);
	w16(th, PEER_PORT);
	w16(th + 2, dport);
	w32(th + 4, seq);
	w32(th + 8, ack);
	th[12] = 5 << 4;
	th[13] = flags;
	w16(th + 14, 65535);
	if (len)
		memcpy(th + TCP_HLEN, data, len);
	w16(th + 16, (uint16_t)~sum16(th, seglen, pseudo(PEER_IP, OUR_IP, IP_PROTO_TCP, seglen)));
	return ETH_HLEN + IP_HLEN + seglen < ETH_ZLEN ? ETH_ZLEN : ETH_HLEN + IP_HLEN + seglen;
}

/*
 * TCP through netif: the handshake, data kept zero copy in its receive
 * buffer (counted in the buffer conservation), events waking netif_wait at
 * once, an echo sent at the flush, and every buffer back after the close.
 */
static void tcp_through_netif(bool offload)
{
	static const char msg[] = "tcp through netif";
	const struct sent_frame *s;
	struct tcp_listener *l;
	struct tcp_event ev;
	struct tcp_conn *c;
	struct netif *nif;
	const uint8_t *p;
	uint8_t f[NET_FRAME_MAX];
	uint32_t iss, seq = 1000;
	size_t n;

	dev_new(64, 64, 256, true);
	if (offload)
		dev->layout.features |= MC_NET_F_CSUM;
	nif = nif_new();
	assert_int_equal(netif_tcp_listen(nif, 80, 8, &l), 0);
	assert_int_equal(dev_receive(f, mk_tcp(f, 80, TCP_SYN, seq, 0, NULL, 0)), 1);
	assert_int_equal(netif_poll(nif), 1);
	netif_flush(nif);
	assert_int_equal(dev_transmit(~0u), 1);
	s = sent_last(0);
	assert_int_equal(s->data[ETH_HLEN + IP_HLEN + 13], TCP_SYN | TCP_ACK);
	/* With checksum offload the device completes TCP's checksums (check_sent_frame). */
	assert_int_equal(s->hdr.flags, offload ? VNET_HDR_F_NEEDS_CSUM : 0);
	iss = r32(s->data + ETH_HLEN + IP_HLEN + 4);
	assert_int_equal(r32(s->data + ETH_HLEN + IP_HLEN + 8), seq + 1);
	seq++;
	assert_int_equal(
	    dev_receive(f, mk_tcp(f, 80, TCP_ACK | TCP_PSH, seq, iss + 1, msg, sizeof(msg))), 1);
	assert_int_equal(netif_poll(nif), 1);
	seq += sizeof(msg);
	/* Events waiting: netif_wait returns at once, no system call. */
	assert_int_equal(netif_wait(nif, WAIT_FOREVER), 1);
	assert_int_equal(waits, 0);
	assert_int_equal(netif_tcp_next(nif, &ev), 1);
	assert_ptr_equal(ev.lis, l);
	assert_int_equal(tcp_accept(l, &c), 1);
	n = tcp_peek(c, &p);
	assert_int_equal(n, sizeof(msg));
	assert_memory_equal(p, msg, n);
	assert_true(p >= dev->pool && p < dev->pool + dev->pool_size); /* in its receive buffer */
	check_conservation(nif, (unsigned int)tcp_stats(&nif->stack)->rx_held);
	assert_int_equal(tcp_stats(&nif->stack)->rx_held, 1);
	/* The echo goes out at the flush, carrying the ACK. */
	assert_int_equal(tcp_send(c, p, n), (long)n);
	tcp_consume(c, n);
	netif_flush(nif);
	assert_int_equal(dev_transmit(~0u), 1);
	s = sent_last(0);
	assert_int_equal(r32(s->data + ETH_HLEN + IP_HLEN + 8), seq);
	assert_memory_equal(s->data + ETH_HLEN + IP_HLEN + TCP_HLEN, msg,
			    sizeof(msg)); /* no options */
	check_conservation(nif, 0);
	/* The peer acknowledges and closes; we close: FIN, the last ACK, nothing left. */
	assert_int_equal(
	    dev_receive(f, mk_tcp(f, 80, TCP_ACK | TCP_FIN, seq, iss + 1 + sizeof(msg), NULL, 0)),
	    1);
	assert_int_equal(netif_poll(nif), 1);
	seq++;
	tcp_close(c);
	netif_flush(nif);
	assert_int_equal(dev_transmit(~0u), 1);
	s = sent_last(0);
	assert_true(s->data[ETH_HLEN + IP_HLEN + 13] & TCP_FIN);
	assert_int_equal(
	    dev_receive(f, mk_tcp(f, 80, TCP_ACK, seq, iss + 2 + sizeof(msg), NULL, 0)), 1);
	assert_int_equal(netif_poll(nif), 1);
	assert_int_equal(tcp_stats(&nif->stack)->conns, 0);
	check_conservation(nif, 0);
	nif_free(nif);
}

static void test_tcp_through_netif(void **state)
{
	(void)state;
	tcp_through_netif(false);
	tcp_through_netif(true);
}

/*
 * An event that a timer raises while netif_wait polls before sleeping (here
 * a connect that times out) ends the wait: sleeping on it would leave the
 * application unaware until some later wake-up, or forever.
 */
static void test_timer_event_ends_wait(void **state)
{
	struct tcp_config cfg = {.syn_retries = 1, .rto_init_ns = 100000, .rto_min_ns = 100000};
	struct tcp_event ev;
	struct tcp_conn *c;
	struct netif *nif;

	(void)state;
	dev_new(64, 64, 256, true);
	nif = nif_new();
	netif_set_poll_ns(nif, 20000000); /* the SYN's timeouts fall inside the poll window */
	assert_int_equal(netif_tcp_init(nif, &cfg), 0);
	arp_insert(&nif->stack, PEER_IP, peer_mac, netif_now_ns(nif));
	assert_int_equal(netif_tcp_connect(nif, PEER_IP, 80, &c), 0);
	assert_int_equal(netif_wait(nif, WAIT_FOREVER), 1);
	assert_int_equal(waits, 0);
	assert_int_equal(netif_tcp_next(nif, &ev), 1);
	assert_ptr_equal(ev.conn, c);
	assert_true(ev.events & TCP_EV_CLOSED);
	assert_int_equal(tcp_error(c), -ETIMEDOUT);
	tcp_close(c);
	dev_transmit(~0u);
	netif_poll(nif);
	check_conservation(nif, 0);
	nif_free(nif);
}

static void transmit_all(uint64_t timeout_ns);

/* A passive connection on port 80 from the peer, accepted; *seq, *iss: the next numbers. */
static struct tcp_conn *tcp_accept_one(struct netif *nif, uint32_t *seq, uint32_t *iss)
{
	struct tcp_listener *l;
	struct tcp_event ev;
	struct tcp_conn *c;
	uint8_t f[NET_FRAME_MAX];

	assert_int_equal(netif_tcp_listen(nif, 80, 8, &l), 0);
	assert_int_equal(dev_receive(f, mk_tcp(f, 80, TCP_SYN, *seq, 0, NULL, 0)), 1);
	assert_int_equal(netif_poll(nif), 1);
	netif_flush(nif);
	assert_int_equal(dev_transmit(~0u), 1);
	*iss = r32(sent_last(0)->data + ETH_HLEN + IP_HLEN + 4) + 1;
	(*seq)++;
	assert_int_equal(dev_receive(f, mk_tcp(f, 80, TCP_ACK, *seq, *iss, NULL, 0)), 1);
	assert_int_equal(netif_poll(nif), 1);
	assert_int_equal(netif_tcp_next(nif, &ev), 1);
	assert_int_equal(tcp_accept(l, &c), 1);
	tcp_set_nodelay(c, true);
	return c;
}

/* Every free buffer into frames the device holds (UDP to the peer), the TX ring not full. */
static unsigned int use_up_buffers(struct netif *nif, struct netif_ep *ep)
{
	unsigned int n = 0;

	while (netif_send(ep, PEER_IP, PEER_PORT, "x", 1) == 0)
		n++;
	netif_flush(nif);
	assert_int_equal(nif->vn.nfree, 0);
	assert_int_equal(nif->ntx, 0);
	assert_true(virtq_free_count(&nif->vn.tx) > 0);
	assert_true(virtq_inflight(&nif->vn.rx) > 0);
	return n;
}

/*
 * TCP's own work must not wait on a sleep it could end. With every buffer
 * in frames the device holds (the TX ring not full, RX buffers posted), a
 * delayed ACK that comes due goes out at the next flush once buffers are
 * back (it was lost before), and data a connection could not send makes
 * netif_wait arm transmit completions: the device giving buffers back wakes
 * it (it slept for NETIF_RETRY_NS before), and the data goes out.
 */
static void test_tcp_waits_for_buffers(void **state)
{
	const struct sent_frame *s;
	struct tcp_event ev;
	struct netif_ep *ep;
	struct tcp_conn *c;
	struct netif *nif;
	uint8_t f[NET_FRAME_MAX];
	uint32_t seq = 5000, iss;
	unsigned long sent;
	unsigned int n;

	(void)state;
	dev_new(16, 64, 48, true);
	nif = nif_new();
	arp_insert(&nif->stack, PEER_IP, peer_mac, netif_now_ns(nif));
	ep = ep_open(nif, 7);
	c = tcp_accept_one(nif, &seq, &iss);

	/* One segment of data: its ACK is delayed (every second segment at once). */
	assert_int_equal(dev_receive(f, mk_tcp(f, 80, TCP_ACK | TCP_PSH, seq, iss, "req", 3)), 1);
	assert_int_equal(netif_poll(nif), 1);
	seq += 3;
	while (netif_tcp_next(nif, &ev))
		;
	assert_int_equal(tcp_recv(c, f, sizeof(f)), 3);
	netif_flush(nif);
	assert_int_equal(dev_transmit(~0u), 0); /* nothing sent: the ACK waits */
	n = use_up_buffers(nif, ep);
	fake_ns += 100000000; /* past the delayed ACK's 40 ms */
	netif_poll(nif);
	assert_int_equal(tcp_stats(&nif->stack)->delayed_acks, 1);
	assert_true(tcp_flush_pending(&nif->stack));
	assert_int_equal(dev_transmit(~0u), n);
	netif_poll(nif); /* buffers back: the ACK goes out */
	assert_int_equal(dev_transmit(~0u), 1);
	s = sent_last(0);
	assert_int_equal(s->data[ETH_HLEN + IP_HLEN + 13], TCP_ACK);
	assert_int_equal(r32(s->data + ETH_HLEN + IP_HLEN + 8), seq);

	/* Data with no buffer to go in: the device's completions end the sleep. */
	sent = dev->nsent;
	n = use_up_buffers(nif, ep);
	assert_int_equal(tcp_send(c, "reply", 5), 5);
	wait_hook = transmit_all;
	assert_int_equal(netif_wait(nif, WAIT_FOREVER), 0);
	wait_hook = NULL;
	assert_int_equal(waits, 1);
	assert_int_equal(nif->stats.net_events, 1); /* a TX interrupt, not the timeout */
	assert_int_equal(dev->nsent, sent + n);
	assert_int_equal(dev_transmit(~0u), 1);
	s = sent_last(0);
	assert_memory_equal(s->data + ETH_HLEN + IP_HLEN + TCP_HLEN, "reply", 5);
	assert_false(tcp_flush_pending(&nif->stack));
	netif_poll(nif);
	check_conservation(nif, 0);
	tcp_abort(c);
	netif_flush(nif);
	dev_transmit(~0u);
	netif_poll(nif);
	nif_free(nif);
}

/* ARP requests and pings are answered inside netif_poll, without a flush by the caller. */
static void test_arp_icmp_in_poll(void **state)
{
	const struct sent_frame *s;
	struct netif *nif;
	uint8_t f[NET_FRAME_MAX];
	const uint8_t *a, *icmp;

	(void)state;
	dev_new(64, 64, 256, true);
	nif = nif_new();
	assert_int_equal(
	    dev_receive(f, mk_arp(f, ARP_OP_REQUEST, peer_mac, PEER_IP, bcast, OUR_IP)), 1);
	assert_int_equal(dev_receive(f, mk_ping(f, 5, 56)), 1);
	assert_int_equal(netif_poll(nif), 2);
	assert_int_equal(nif->ntx, 0);
	assert_int_equal(dev_transmit(~0u), 2);

	s = sent_last(1);
	a = s->data + ETH_HLEN;
	assert_memory_equal(s->data, peer_mac, 6);
	assert_int_equal(r16(s->data + 12), ETH_TYPE_ARP);
	assert_int_equal(r16(a + 6), ARP_OP_REPLY);
	assert_memory_equal(a + 8, our_mac, 6);
	assert_int_equal(r32(a + 14), OUR_IP);
	assert_int_equal(r32(a + 24), PEER_IP);

	s = sent_last(0);
	icmp = s->data + ETH_HLEN + IP_HLEN;
	assert_memory_equal(s->data, peer_mac, 6);
	assert_int_equal(s->data[ETH_HLEN + 9], IP_PROTO_ICMP);
	assert_int_equal(icmp[0], ICMP_ECHO_REPLY);
	assert_int_equal(r16(icmp + 6), 5);
	assert_int_equal(nif->stack.stats.arp_requests_answered, 1);
	assert_int_equal(nif->stack.stats.icmp_echo_answered, 1);
	/* The request taught us the peer's MAC: sending needs no ARP now. */
	assert_true(arp_lookup(&nif->stack, PEER_IP, f, netif_now_ns(nif)));
	assert_memory_equal(f, peer_mac, 6);
	check_conservation(nif, 0);
	nif_free(nif);
}

/* udp_send: an unknown next hop costs an ARP request (rate limited) and -EAGAIN. */
static void test_send_arp(void **state)
{
	static const char hello[] = "hello from netif";
	const struct sent_frame *s;
	struct netif_ep *ep;
	struct netif *nif;
	uint8_t f[NET_FRAME_MAX];
	const uint8_t *a;

	(void)state;
	dev_new(64, 64, 256, true);
	nif = nif_new();
	ep = ep_open(nif, 5000);
	assert_int_equal(netif_send(ep, PEER_IP, 6000, hello, sizeof(hello)), -EAGAIN);
	assert_int_equal(netif_send(ep, PEER_IP, 6000, hello, sizeof(hello)), -EAGAIN);
	assert_int_equal(nif->stats.arp_requests, 1);
	netif_flush(nif);
	assert_int_equal(dev_transmit(~0u), 1);
	s = sent_last(0);
	a = s->data + ETH_HLEN;
	assert_memory_equal(s->data, bcast, 6);
	assert_int_equal(r16(s->data + 12), ETH_TYPE_ARP);
	assert_int_equal(r16(a + 6), ARP_OP_REQUEST);
	assert_int_equal(r32(a + 24), PEER_IP);
	check_conservation(nif, 0);

	/* No answer: asked again once the retry interval has passed. */
	fake_ns += NETIF_ARP_RETRY_NS;
	assert_int_equal(netif_send(ep, PEER_IP, 6000, hello, sizeof(hello)), -EAGAIN);
	assert_int_equal(nif->stats.arp_requests, 2);

	/* The answer arrives: the next send goes out with the learned MAC. */
	assert_int_equal(
	    dev_receive(f, mk_arp(f, ARP_OP_REPLY, peer_mac, PEER_IP, our_mac, OUR_IP)), 1);
	assert_int_equal(netif_poll(nif), 1);
	assert_int_equal(nif->stack.stats.arp_replies_learned, 1);
	assert_int_equal(netif_send(ep, PEER_IP, 6000, hello, sizeof(hello)), 0);
	netif_flush(nif);
	assert_int_equal(dev_transmit(~0u), 2);
	check_udp_to(sent_last(0), peer_mac, PEER_IP, 5000, 6000, hello, sizeof(hello));

	/* Off the subnet: the gateway's MAC, asked for first. */
	assert_int_equal(netif_send(ep, FAR_IP, 53, "q", 1), -EAGAIN);
	netif_flush(nif);
	assert_int_equal(dev_transmit(~0u), 1);
	assert_int_equal(r32(sent_last(0)->data + ETH_HLEN + 24), GW_IP);
	assert_int_equal(dev_receive(f, mk_arp(f, ARP_OP_REPLY, gw_mac, GW_IP, our_mac, OUR_IP)),
			 1);
	netif_poll(nif);
	assert_int_equal(netif_send(ep, FAR_IP, 53, "q", 1), 0);
	netif_flush(nif);
	assert_int_equal(dev_transmit(~0u), 1);
	check_udp_to(sent_last(0), gw_mac, FAR_IP, 5000, 53, "q", 1);

	/* Bad requests cost nothing. */
	assert_int_equal(netif_send(ep, PEER_IP, 0, "x", 1), -EINVAL);
	assert_int_equal(netif_send(ep, PEER_IP, 6000, f, NETIF_SEND_MAX + 1), -EMSGSIZE);
	assert_int_equal(netif_send(ep, 0, 6000, "x", 1), -EINVAL);
	check_conservation(nif, 0);
	nif_free(nif);
}

/* udp_send with the ARP entry in place, one at a time and in batches. */
static void test_send_batch(void **state)
{
	struct netif_msg m[6];
	struct netif_ep *ep;
	struct netif *nif;
	char text[6][8];
	unsigned int i;
	uint64_t kicks;

	(void)state;
	dev_new(64, 64, 256, true);
	nif = nif_new();
	ep = ep_open(nif, 5000);
	arp_insert(&nif->stack, PEER_IP, peer_mac, netif_now_ns(nif));
	assert_int_equal(netif_send(ep, PEER_IP, 6000, "one", 3), 0);
	for (i = 0; i < 6; i++) {
		snprintf(text[i], sizeof(text[i]), "msg %u", i);
		m[i] = (struct netif_msg){PEER_IP, (uint16_t)(6000 + i), text[i], 5};
	}
	assert_int_equal(netif_send_batch(ep, m, 6), 6);
	assert_int_equal(fvq_pending(&dev->tx), 0);
	kicks = nif->vn.stats.tx_kicks;
	assert_int_equal(netif_flush(nif), 7);
	assert_true(nif->vn.stats.tx_kicks - kicks <= 1);
	assert_int_equal(dev_transmit(~0u), 7);
	check_udp_to(sent_last(6), peer_mac, PEER_IP, 5000, 6000, "one", 3);
	for (i = 0; i < 6; i++)
		check_udp_to(sent_last(5 - i), peer_mac, PEER_IP, 5000, (uint16_t)(6000 + i),
			     text[i], 5);

	/* A batch stops at its first failure: unknown next hop for the third. */
	m[2].dst_ip = PEER2_IP;
	assert_int_equal(netif_send_batch(ep, m, 6), 2);
	assert_int_equal(netif_send_batch(ep, m + 2, 4), -EAGAIN);
	assert_int_equal(ep->stats.tx, 9);
	netif_flush(nif);
	dev_transmit(~0u);
	check_conservation(nif, 0);
	nif_free(nif);
}

/* Checksum offload when the device has it; software checksums when it does not. */
static void test_send_offload(void **state)
{
	struct net_config cfg = {
	    .ip = OUR_IP,
	    .netmask = NETMASK,
	    .gateway = GW_IP,
	    .udp_csum = NET_UDP_CSUM_OFFLOAD,
	};
	struct netif_ep *ep;
	struct netif nif;

	(void)state;
	for (int has = 0; has < 2; has++) {
		dev_new(64, 64, 256, true);
		if (has)
			dev->layout.features |= MC_NET_F_CSUM;
		assert_int_equal(netif_open(&nif, "eth0", QP, &cfg), 0);
		assert_int_equal(nif.stack.cfg.udp_csum,
				 has ? NET_UDP_CSUM_OFFLOAD : NET_UDP_CSUM_FULL);
		ep = ep_open(&nif, 5000);
		arp_insert(&nif.stack, PEER_IP, peer_mac, netif_now_ns(&nif));
		assert_int_equal(netif_send(ep, PEER_IP, 6000, "off", 3), 0);
		netif_flush(&nif);
		assert_int_equal(dev_transmit(~0u), 1);
		if (has) {
			assert_int_equal(sent_last(0)->hdr.flags, VNET_HDR_F_NEEDS_CSUM);
			assert_int_equal(sent_last(0)->hdr.csum_start, ETH_HLEN + IP_HLEN);
			assert_int_equal(sent_last(0)->hdr.csum_offset, 6);
		} else {
			assert_int_equal(sent_last(0)->hdr.flags, 0);
		}
		netif_close(&nif);
		dev_free();
	}
}

/*
 * GUEST_CSUM: the host leaves the UDP checksum partial (NEEDS_CSUM, field =
 * pseudo-header sum). Nothing is verified, a payload changed in place needs
 * no patch, and the echo goes out partial for a device that completes it, or
 * completed in software for one that cannot. Offsets outside the frame drop it.
 */
static void test_echo_partial_csum(void **state)
{
	uint8_t payload[40], want[40], f[NET_FRAME_MAX], *udp;
	const struct sent_frame *s;
	struct netif_dgram d;
	struct netif_ep *ep;
	struct netif *nif;
	size_t flen, ulen = UDP_HLEN + sizeof(payload);
	uint16_t c;

	(void)state;
	for (unsigned int i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 1);
	memcpy(want, payload, sizeof(want));
	want[9] ^= 0x01;
	for (int has_csum = 0; has_csum < 2; has_csum++) {
		dev_new(64, 64, 256, true);
		dev->layout.features |= MC_NET_F_GUEST_CSUM | (has_csum ? MC_NET_F_CSUM : 0);
		nif = nif_new();
		ep = ep_open(nif, 7);
		dev->rx_flags = VNET_HDR_F_NEEDS_CSUM;
		dev->rx_csum_start = ETH_HLEN + IP_HLEN;
		dev->rx_csum_offset = 6;
		flen = mk_udp(f, peer_mac, PEER_IP, PEER_PORT, 7, payload, sizeof(payload));
		udp = f + ETH_HLEN + IP_HLEN;
		w16(udp + 6, (uint16_t)sum16(NULL, 0, pseudo(PEER_IP, OUR_IP, IP_PROTO_UDP, ulen)));
		assert_int_equal(dev_receive(f, flen), 1);
		assert_int_equal(netif_poll(nif), 1);
		assert_int_equal(nif->stack.stats.rx_udp_bad_csum, 0);
		assert_int_equal(netif_recv(ep, &d), 1);
		assert_true(d.csum_partial);
		d.payload[9] ^= 0x01; /* as echod --sockperf does, without a patch */
		assert_int_equal(netif_echo(ep, &d), 0);
		netif_flush(nif);
		assert_int_equal(dev_transmit(~0u), 1);
		s = sent_last(0);
		check_udp_to(s, peer_mac, PEER_IP, 7, PEER_PORT, want, sizeof(want));
		udp = (uint8_t *)s->data + ETH_HLEN + IP_HLEN;
		if (has_csum) {
			assert_int_equal(s->hdr.flags, VNET_HDR_F_NEEDS_CSUM);
			assert_int_equal(s->hdr.csum_start, ETH_HLEN + IP_HLEN);
			assert_int_equal(s->hdr.csum_offset, 6);
			/* What the device does: sum from csum_start on, store the complement. */
			c = (uint16_t)~sum16(udp, s->len - ETH_HLEN - IP_HLEN, 0);
			w16(udp + 6, c);
		} else {
			assert_int_equal(s->hdr.flags, 0);
		}
		assert_int_equal(sum16(udp, ulen, pseudo(OUR_IP, PEER_IP, IP_PROTO_UDP, ulen)),
				 0xffff);

		/* A partial checksum past the frame's end: dropped and counted. */
		dev->rx_csum_start = (uint16_t)(flen - 1);
		assert_int_equal(dev_receive(f, flen), 1);
		assert_int_equal(netif_poll(nif), 0);
		assert_int_equal(nif->vn.stats.rx_bad_hdr, 1);
		check_conservation(nif, 0);
		nif_free(nif);
	}
}

/* A frame that arrives during the sleep: the interrupt's event wakes netif_wait. */
static void wake_with_frame(uint64_t timeout_ns)
{
	(void)timeout_ns;
	deliver_udp(7, "wake", 4);
}

static void deliver_late(void)
{
	deliver_udp(7, "race", 4);
}

static void timer_event(uint64_t timeout_ns)
{
	(void)timeout_ns;
	post_event(EV_TIMER, 42);
}

static unsigned int handled_events;

static void on_event(struct netif *nif, const struct mc_event *ev, void *arg)
{
	(void)nif;
	assert_int_equal(ev->type, EV_TIMER);
	assert_int_equal(ev->data[0], 42);
	assert_ptr_equal(arg, &handled_events);
	handled_events++;
}

static void test_wait(void **state)
{
	struct netif_dgram d;
	struct netif_ep *ep;
	struct netif *nif;
	uint64_t t0;

	(void)state;
	dev_new(64, 64, 256, true);
	nif = nif_new();
	ep = ep_open(nif, 7);

	/* Datagrams already queued: back at once, no system call. */
	deliver_udp(7, "q", 1);
	assert_int_equal(netif_poll(nif), 1);
	assert_int_equal(netif_wait(nif, WAIT_FOREVER), 1);
	assert_int_equal(waits, 0);
	assert_int_equal(netif_recv(ep, &d), 1);
	assert_int_equal(netif_echo(ep, &d), 0);
	assert_int_equal(nif->ntx, 1);

	/* Idle: the reply is flushed, the window polled, then sleep until the frame's interrupt. */
	wait_hook = wake_with_frame;
	t0 = fake_ns;
	assert_int_equal(netif_wait(nif, WAIT_FOREVER), 1);
	assert_true(fake_ns - t0 >= nif->poll_ns);
	assert_int_equal(nif->ntx, 0);
	assert_int_equal(waits, 1);
	assert_int_equal(last_wait_timeout, WAIT_FOREVER);
	assert_int_equal(nif->stats.wakeups, 1);
	assert_int_equal(nif->stats.net_events, 1);
	assert_false(nif->vn.irq_on); /* disarmed again */
	assert_int_equal(netif_recv(ep, &d), 1);
	assert_memory_equal(d.payload, "wake", 4);
	assert_int_equal(netif_release(&d), 0);

	/* A frame slips in after the last poll, before the arming: no sleep. */
	wait_hook = NULL;
	/* The TSC read that ends the poll window (netif_now_ns runs one tick behind it). */
	trigger_ns = nif->last_active_ns + nif->poll_ns + TICK_NS;
	trigger_fn = deliver_late;
	assert_int_equal(netif_wait(nif, WAIT_FOREVER), 1);
	assert_int_equal(waits, 1);
	assert_int_equal(nif->vn.stats.irq_races, 1);
	assert_false(nif->vn.irq_on);
	assert_int_equal(netif_recv(ep, &d), 1);
	assert_memory_equal(d.payload, "race", 4);
	assert_int_equal(netif_release(&d), 0);

	/* A timeout inside the poll window: 0, no sleep. */
	assert_int_equal(netif_wait(nif, 0), 0);
	assert_int_equal(netif_wait(nif, nif->poll_ns / 4), 0);
	assert_int_equal(waits, 1);

	/* A timeout past it: sleeps for the rest. */
	nif->last_active_ns = fake_ns;
	assert_int_equal(netif_wait(nif, 20 * nif->poll_ns), 0);
	assert_int_equal(waits, 2);
	assert_true(last_wait_timeout < 20 * nif->poll_ns &&
		    last_wait_timeout >= 19 * nif->poll_ns - 10000);

	/* Other events go to the handler. */
	netif_set_event_handler(nif, on_event, &handled_events);
	wait_hook = timer_event;
	assert_int_equal(netif_wait(nif, WAIT_FOREVER), 0);
	assert_int_equal(handled_events, 1);
	assert_int_equal(nif->stats.other_events, 1);

	/* A zero poll window sleeps at once. */
	netif_set_poll_ns(nif, 0);
	wait_hook = wake_with_frame;
	assert_int_equal(netif_wait(nif, WAIT_FOREVER), 1);
	assert_int_equal(netif_recv(ep, &d), 1);
	assert_int_equal(netif_release(&d), 0);
	check_conservation(nif, 0);
	nif_free(nif);
}

/* The device sends while we sleep. */
static void transmit_all(uint64_t timeout_ns)
{
	(void)timeout_ns;
	dev_transmit(~0u);
}

/* netif_drain waits for the device to take everything; gives up when it does not. */
static void test_drain(void **state)
{
	struct netif_dgram d[8];
	struct netif_ep *ep;
	struct netif *nif;
	unsigned int i;

	(void)state;
	dev_new(64, 64, 256, true);
	nif = nif_new();
	ep = ep_open(nif, 7);
	for (i = 0; i < 8; i++)
		deliver_udp(7, "drain me", 8);
	netif_poll(nif);
	assert_int_equal(netif_recv_batch(ep, d, 8), 8);
	assert_int_equal(netif_echo_batch(ep, d, 8), 8);
	assert_int_equal(netif_drain(nif, 5000000), -ETIMEDOUT);
	assert_int_equal(nif->ntx, 0);
	assert_int_equal(virtq_inflight(&nif->vn.tx), 8);
	wait_hook = transmit_all;
	assert_int_equal(netif_drain(nif, 5000000), 0);
	assert_int_equal(virtq_inflight(&nif->vn.tx), 0);
	assert_int_equal(dev->nsent, 8);
	check_conservation(nif, 0);
	nif_free(nif);
}

/* A TX ring the device does not empty: replies back up, RX waits, nothing is lost or leaked. */
static void test_tx_backpressure(void **state)
{
	struct netif_dgram d[NETIF_BURST];
	unsigned int i, n, echoed = 0;
	struct netif_ep *ep;
	struct netif *nif;

	(void)state;
	dev_new(128, 16, 512, true);
	nif = nif_new();
	ep = ep_open(nif, 7);
	for (i = 0; i < 100; i++)
		deliver_udp(7, "bp", 2);
	for (i = 0; i < 10; i++) {
		netif_poll(nif);
		while ((n = netif_recv_batch(ep, d, NETIF_BURST)) > 0)
			echoed += netif_echo_batch(ep, d, n);
	}
	/* 16 in the ring, the next burst's worth queued behind it, the rest still in RX. */
	assert_int_equal(virtq_inflight(&nif->vn.tx), 16);
	assert_true(nif->ntx > 0);
	assert_true(nif->stats.rx_deferred > 0);
	assert_int_equal(nif->stats.tx_dropped, 0);
	check_conservation(nif, 0);
	while (echoed < 100) {
		dev_transmit(~0u);
		netif_poll(nif);
		while ((n = netif_recv_batch(ep, d, NETIF_BURST)) > 0)
			echoed += netif_echo_batch(ep, d, n);
	}
	assert_int_equal(netif_drain(nif, 0), -ETIMEDOUT);
	wait_hook = transmit_all;
	assert_int_equal(netif_drain(nif, 10000000), 0);
	assert_int_equal(dev->nsent, 100);
	assert_int_equal(nif->stats.tx_dropped, 0);
	check_conservation(nif, 0);
	nif_free(nif);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 33) % n;
}

/*
 * One random frame from the wire: datagrams for open and closed ports, ARP,
 * pings, garbage; and a random virtio-net header: none, DATA_VALID, a
 * genuine partial UDP checksum, or NEEDS_CSUM with offsets anywhere (inside
 * the frame they get "completed" over whatever is there; outside, dropped).
 */
static void deliver_random(unsigned int seq)
{
	uint8_t f[NET_FRAME_MAX], payload[NETIF_DGRAM_MAX];
	uint32_t kind = rnd(100), hdr = rnd(100);
	size_t len = 1 + rnd(kind < 50 ? 64 : NETIF_DGRAM_MAX), flen;

	for (size_t i = 0; i < len; i++)
		payload[i] = (uint8_t)(seq + i);
	if (kind < 60)
		flen = mk_udp(f, peer_mac, PEER_IP, (uint16_t)(1024 + seq % 1000), 7, payload, len);
	else if (kind < 75)
		flen = mk_udp(f, peer_mac, PEER_IP, PEER_PORT, 9, payload, len);
	else if (kind < 80)
		flen = mk_udp(f, peer_mac, PEER_IP, PEER_PORT, 11, payload, len);
	else if (kind < 85)
		flen = mk_arp(f, ARP_OP_REQUEST, peer_mac, PEER_IP, bcast, OUR_IP);
	else if (kind < 90)
		flen = mk_ping(f, (uint16_t)seq, len % 200);
	else {
		flen = mk_udp(f, peer_mac, PEER_IP, PEER_PORT, 7, payload, len);
		f[ETH_HLEN + 10] ^= 0x5a; /* bad IP checksum */
	}
	dev->rx_flags = 0;
	dev->rx_csum_start = dev->rx_csum_offset = 0;
	if (hdr < 20 && f[ETH_HLEN + 9] == IP_PROTO_UDP) {
		size_t ulen = r16(f + ETH_HLEN + IP_HLEN + 4);

		w16(f + ETH_HLEN + IP_HLEN + 6,
		    (uint16_t)sum16(NULL, 0, pseudo(PEER_IP, OUR_IP, IP_PROTO_UDP, ulen)));
		dev->rx_flags = VNET_HDR_F_NEEDS_CSUM;
		dev->rx_csum_start = ETH_HLEN + IP_HLEN;
		dev->rx_csum_offset = 6;
	} else if (hdr < 30) {
		dev->rx_flags = VNET_HDR_F_NEEDS_CSUM;
		dev->rx_csum_start = (uint16_t)rnd(2000);
		dev->rx_csum_offset = (uint16_t)rnd(2000);
		if (dev->rx_csum_start == ETH_HLEN + IP_HLEN && dev->rx_csum_offset == 6)
			dev->rx_csum_offset = 2; /* not the genuine case: that one is above */
	} else if (hdr < 40 && kind < 90) {
		dev->rx_flags = VNET_HDR_F_DATA_VALID; /* true: the checksums are good */
	}
	dev_receive(f, flen);
}

/* What the application does with one datagram; some are held for later. */
static void app_handle(struct netif_ep *ep, struct netif_dgram *d, struct netif_dgram *held,
		       unsigned int *nheld)
{
	uint32_t act = rnd(100);

	int err;

	if (act < 35) {
		err = netif_echo(ep, d);
		assert_true(err == 0 || err == -ENOSPC); /* -ENOSPC: TX ring and queue full */
	} else if (act < 65) {
		size_t len = rnd(NETIF_DGRAM_MAX + 1);

		memset(d->payload, 'r', len < d->len ? len : d->len);
		err = netif_reply(ep, d, len);
		assert_true(err == 0 || err == -ENOSPC);
	} else if (act < 85 || *nheld == 64) {
		assert_int_equal(netif_release(d), 0);
	} else {
		held[(*nheld)++] = *d;
	}
}

/* Many rounds of random traffic, answers and device behaviour: every buffer comes back. */
static void run_soak(unsigned int rx_size, unsigned int tx_size, unsigned int nbufs, bool event_idx,
		     unsigned int rounds)
{
	struct netif_dgram d[NETIF_BURST], held[64];
	unsigned int nheld = 0, round, i, n, k, seq = 0;
	struct netif_ep *e7, *e9;
	struct netif *nif;
	struct netif_msg m = {PEER_IP, 7777, "soak", 4};

	dev_new(rx_size, tx_size, nbufs, event_idx);
	nif = nif_new();
	e7 = ep_open(nif, 7);
	e9 = ep_open(nif, 9);
	for (round = 0; round < rounds; round++) {
		k = rnd(48);
		for (i = 0; i < k; i++)
			deliver_random(seq++);
		if (rnd(4))
			netif_poll(nif);
		else
			netif_wait(nif, 0);
		while ((n = netif_recv_batch(e7, d, 1 + rnd(NETIF_BURST))) > 0) {
			for (i = 0; i < n; i++)
				app_handle(e7, &d[i], held, &nheld);
		}
		/* e9 lags: its queue fills up now and then. */
		if (rnd(20) == 0) {
			n = netif_recv_batch(e9, d, NETIF_BURST);
			for (i = 0; i < n; i++)
				assert_int_equal(netif_release(&d[i]), 0);
		}
		if (nheld && rnd(5) == 0) {
			for (i = 0; i < nheld; i++) {
				int err = netif_reply(e7, &held[i], 3);

				assert_true(err == 0 || err == -ENOSPC);
			}
			nheld = 0;
		}
		if (rnd(10) == 0)
			netif_send_batch(e7, &m, 1);
		if (rnd(3))
			netif_flush(nif);
		/* The device sends some, all or nothing. */
		if (rnd(4))
			dev_transmit(rnd(2) ? ~0u : rnd(16));
		check_conservation(nif, nheld);
	}
	for (i = 0; i < nheld; i++)
		assert_int_equal(netif_release(&held[i]), 0);
	/* Take in whatever the device still has for us. */
	for (;;) {
		dev_transmit(~0u);
		k = netif_poll(nif);
		while ((n = netif_recv_batch(e7, d, NETIF_BURST)) > 0)
			for (i = 0; i < n; i++)
				assert_int_equal(netif_release(&d[i]), 0);
		if (!k && !nif->ntx && !virtq_used_pending(&nif->vn.rx))
			break;
	}
	netif_udp_close(e7);
	netif_udp_close(e9);
	wait_hook = transmit_all;
	assert_int_equal(netif_drain(nif, 100000000), 0);
	vnet_rx_refill(&nif->vn);
	check_conservation(nif, 0);
	assert_int_equal(nif->ntx, 0);
	assert_int_equal(nif->queued, 0);
	assert_int_equal(virtq_inflight(&nif->vn.tx), 0);
	assert_int_equal(nif->vn.nfree + virtq_inflight(&nif->vn.rx), nif->vn.nbufs);
	/* Every frame the device delivered was classified once; every frame queued was sent. */
	assert_int_equal(nif->stack.stats.rx_frames + nif->vn.stats.rx_bad_hdr, dev->received);
	assert_true(nif->vn.stats.rx_bad_hdr > 0);
	assert_int_equal(nif->vn.stats.tx_packets, dev->nsent);
	if (tx_size > 16)
		assert_true(nif->stats.rx_queue_full > 0); /* e9 fell behind */
	else
		assert_true(nif->stats.rx_deferred > 0); /* the TX ring was full */
	nif_free(nif);
}

static void test_soak(void **state)
{
	(void)state;
	run_soak(256, 256, 1024, true, 5000);
	run_soak(64, 16, 160, true, 5000); /* TX ring tight: backlog and deferred RX */
	run_soak(32, 64, 256, false, 3000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_demux),
	    cmocka_unit_test(test_udp_open_close),
	    cmocka_unit_test(test_queue_full),
	    cmocka_unit_test(test_zero_copy_reply),
	    cmocka_unit_test(test_echo_checksum),
	    cmocka_unit_test(test_batch),
	    cmocka_unit_test(test_rx_more),
	    cmocka_unit_test(test_handler),
	    cmocka_unit_test(test_kick_wait_learnt),
	    cmocka_unit_test(test_kick_wait_in_poll),
	    cmocka_unit_test(test_reply_errors),
	    cmocka_unit_test(test_arp_icmp_in_poll),
	    cmocka_unit_test(test_echo_fragments),
	    cmocka_unit_test(test_frag_timeout_wakes),
	    cmocka_unit_test(test_tcp_through_netif),
	    cmocka_unit_test(test_timer_event_ends_wait),
	    cmocka_unit_test(test_tcp_waits_for_buffers),
	    cmocka_unit_test(test_send_arp),
	    cmocka_unit_test(test_send_batch),
	    cmocka_unit_test(test_send_offload),
	    cmocka_unit_test(test_echo_partial_csum),
	    cmocka_unit_test(test_wait),
	    cmocka_unit_test(test_drain),
	    cmocka_unit_test(test_tx_backpressure),
	    cmocka_unit_test(test_soak),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
