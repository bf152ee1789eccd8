/*
 * Fuzz target: a hostile network. Frames of the input arrive through a
 * well-behaved simulated NIC into netif (usr/lib/netif.c) and the stack
 * (usr/lib/net/: Ethernet, ARP, IPv4, ICMP, UDP and whatever else lives
 * there), while an application echoes, replies, holds, releases and sends.
 * Whatever arrives, every buffer stays in exactly one place, every frame
 * sent is well formed, and every drop is counted under one reason.
 */
/* fuzz-sources: usr/lib/netif.c usr/lib/vnet.c lib/virtq.c usr/lib/net/[a-z]*.c */
/* fuzz-cflags: -Iusr/lib -Iusr/lib/include */
#include <netif.h>

#include "fuzz_nic.h"
#include "fuzz_net.h"

#define OUR_IP	 0x0a00020fu /* 10.0.2.15, as the seeds (tests/fuzz/gen-seeds.py) */
#define NETMASK	 0xffffff00u
#define GW_IP	 0x0a000202u
#define PEER_IP	 0x0a000264u
#define BUF_SIZE 2048
#define HELD_MAX 64
#define STEPS	 512 /* operations per input, at most */

/* Frame flags (the first byte of a frame operation). */
#define FR_FIX_SUMS   0x01 /* make the IPv4/ICMP/UDP/TCP checksums right */
#define FR_DATA_VALID 0x02 /* the device says it checked the checksum */
#define FR_NEEDS_CSUM 0x04 /* the sender left it partial (offsets follow) */

enum op {
	OP_FRAME,
	OP_FRAME2, /* frames twice as likely as anything else */
	OP_POLL,
	OP_APP,
	OP_SEND,
	OP_TRANSMIT,
	OP_TIME,
	OP_WAIT,
	OP_PORT,
	OP_HELD,
	OP_COUNT
};

static struct netif nif;
static struct netif_dgram held[HELD_MAX];
static unsigned int nheld;
static bool trust_payload_csums; /* no frame came with DATA_VALID or NEEDS_CSUM */

/* Every buffer is in exactly one place: driver, rings, TX queue, endpoints, application. */
static void check_conservation(void)
{
	const struct vnet *vn = &nif.vn;

	FUZZ_CHECK(vn->nfree + virtq_inflight(&vn->rx) + virtq_inflight(&vn->tx) + nif.ntx +
		       nif.queued + nheld ==
		   vn->nbufs);
	FUZZ_CHECK(vn->stats.buf_errors == 0 && vn->stats.tx_invalid == 0);
	FUZZ_CHECK(vn->stats.dev_errors == 0);
}

/*
 * net.h: every frame the driver delivered reached the stack once, and each
 * drop counts in rx_dropped and under one reason. Reasons a protocol adds
 * later are not listed here, so the listed ones sum to at most rx_dropped.
 */
static void check_drop_reasons(const struct net_stats *s)
{
	uint64_t sum = s->rx_short + s->rx_bad_ethertype + s->rx_not_for_us + s->rx_bad_src +
		       s->rx_ip_bad_version + s->rx_ip_bad_hlen + s->rx_ip_bad_len +
		       s->rx_ip_bad_csum + s->rx_ip_fragment + s->rx_ip_bad_proto +
		       s->rx_udp_bad_len + s->rx_udp_bad_csum + s->rx_udp_no_port +
		       s->rx_icmp_bad_csum + s->rx_icmp_other + s->rx_arp_bad;

	FUZZ_CHECK(s->rx_frames == nif.vn.stats.rx_packets);
	FUZZ_CHECK(s->rx_dropped <= s->rx_frames);
	FUZZ_CHECK(sum <= s->rx_dropped);
}

static void op_frame(struct fz *f)
{
	struct vnet_hdr h = {.num_buffers = 1};
	uint8_t fl = fz_u8(f), *b;
	size_t want = fz_u16(f) % (BUF_SIZE - sizeof(h) + 1), len;
	const uint8_t *p;
	struct virtq_desc *d;
	uint32_t id;
	uint16_t di;

	if (fl & FR_DATA_VALID)
		h.flags |= VNET_HDR_F_DATA_VALID;
	if (fl & FR_NEEDS_CSUM) {
		h.flags |= VNET_HDR_F_NEEDS_CSUM;
		h.csum_start = fz_u16(f) % 128;
		h.csum_offset = fz_u16(f) % 32;
	}
	p = fz_bytes(f, want, &len);
	fvq_bell(&nic->rx, NIC_RX_INDEX);
	if (!fvq_pending(&nic->rx)) {
		fvq_want_kick(&nic->rx);
		return; /* nowhere to put it: a NIC holds it back or drops it */
	}
	if (h.flags)
		trust_payload_csums = false;
	di = fvq_take(&nic->rx);
	d = &nic->rx.desc[di];
	b = nic_desc_buf(nic, d, &id);
	FUZZ_CHECK(d->flags == VIRTQ_DESC_F_WRITE && d->len >= sizeof(h) + len);
	memcpy(b, &h, sizeof(h));
	memcpy(b + sizeof(h), p, len);
	if (fl & FR_FIX_SUMS)
		fn_fix_checksums(b + sizeof(h), len);
	nic_put(&nic->rx, di, (uint32_t)(sizeof(h) + len));
}

/* The device sends up to max frames: each must be well formed. */
static void op_transmit(unsigned int max)
{
	struct virtq_desc *d;
	struct vnet_hdr h;
	uint32_t id, len;
	uint8_t *b;
	uint16_t di;

	fvq_bell(&nic->tx, NIC_TX_INDEX);
	while (max-- && fvq_pending(&nic->tx)) {
		di = fvq_take(&nic->tx);
		d = &nic->tx.desc[di];
		b = nic_desc_buf(nic, d, &id);
		FUZZ_CHECK(d->flags == 0 && d->len >= sizeof(h) + FN_ETH_HLEN);
		memcpy(&h, b, sizeof(h));
		len = d->len - (uint32_t)sizeof(h);
		FUZZ_CHECK(h.gso_type == VNET_HDR_GSO_NONE && h.num_buffers == 0);
		if (h.flags & VNET_HDR_F_NEEDS_CSUM) {
			/* virtio 1.2 §5.1.6.2: only when negotiated, inside the frame. */
			FUZZ_CHECK(nic->layout.features & MC_NET_F_CSUM);
			FUZZ_CHECK((uint32_t)h.csum_start + h.csum_offset + 2 <= len);
			fn_fix(b + sizeof(h) + h.csum_start, len - h.csum_start, h.csum_offset,
			       fn_get16(b + sizeof(h) + h.csum_start + h.csum_offset), false);
		} else {
			FUZZ_CHECK(h.flags == 0);
		}
		fn_check_sent(b + sizeof(h), len, nic_mac, trust_payload_csums);
		nic_put(&nic->tx, di, 0);
	}
	if (!fvq_pending(&nic->tx))
		fvq_want_kick(&nic->tx);
}

/* What the application does with one datagram it received (may_hold: keep it for later). */
static void answer(struct fz *f, struct netif_dgram *d, bool may_hold)
{
	size_t len;
	int rc;

	switch (fz_u8(f) % 4) {
	case 0:
		rc = netif_echo(d->ep, d);
		break;
	case 1:
		len = fz_u16(f) % 1600;
		if (len <= d->len)
			memset(d->payload, 'r', len); /* the app writes its answer in place */
		rc = netif_reply(d->ep, d, len);
		FUZZ_CHECK(rc == 0 || rc == -EMSGSIZE || rc == -EINVAL || rc == -ENOSPC);
		return;
	case 2:
		rc = netif_release(d);
		break;
	default:
		if (may_hold && nheld < HELD_MAX) {
			held[nheld++] = *d;
			return;
		}
		rc = netif_release(d);
		break;
	}
	FUZZ_CHECK(rc == 0 || rc == -ENOSPC || rc == -EINVAL);
}

/* A datagram the application received from ep: its own, inside its receive buffer. */
static void check_dgram(struct netif_ep *ep, struct netif_dgram *d)
{
	uint8_t *frame = vnet_frame(&nif.vn, d->buf);

	FUZZ_CHECK(d->ep == ep && d->dst_port == ep->port);
	FUZZ_CHECK(d->buf < nif.vn.nbufs);
	FUZZ_CHECK(d->payload >= frame && d->payload + d->len <= frame + vnet_frame_cap(&nif.vn));
	fuzz_touch(d->payload, d->len);
}

/*
 * Port 7's handler in the run-to-completion setups (netif_udp_set_handler):
 * the answers of answer(), except that a datagram is left alone rather than
 * held (netif releases it when the handler returns).
 */
static void handler(struct netif_ep *ep, struct netif_dgram *d, void *arg)
{
	struct fz *f = arg;

	FUZZ_CHECK(ep->port == 7);
	check_dgram(ep, d);
	if (fz_u8(f) % 4 == 3)
		return;
	answer(f, d, false);
}

static void op_app(struct fz *f)
{
	struct netif_dgram d[16];
	unsigned int i, k, n;

	for (i = 0; i < NETIF_EPS; i++) {
		struct netif_ep *ep = &nif.eps[i];

		if (!ep->port)
			continue;
		n = netif_recv_batch(ep, d, 1 + fz_below(f, 16));
		for (k = 0; k < n; k++)
			check_dgram(ep, &d[k]);
		for (k = 0; k < n; k++)
			answer(f, &d[k], true);
	}
}

static void op_held(struct fz *f)
{
	unsigned int k = fz_below(f, nheld + 1);
	struct netif_dgram d;

	while (k-- && nheld) {
		d = held[--nheld];
		answer(f, &d, true);
	}
}

static void op_send(struct fz *f)
{
	static const uint32_t dsts[] = {PEER_IP, GW_IP, 0x08080808u, 0xffffffffu, 0x0a0002ffu,
					OUR_IP,	 0,	0x7f000001u, 0xe0000001u, 0x0a000201u};
	uint8_t payload[NETIF_DGRAM_MAX + 1] = {0};
	unsigned int pick = fz_below(f, sizeof(dsts) / sizeof(dsts[0]) + 1);
	uint32_t dst = pick < sizeof(dsts) / sizeof(dsts[0]) ? dsts[pick] : fz_u32(f);
	struct netif_ep *ep = &nif.eps[fz_below(f, NETIF_EPS)];
	uint16_t port = fz_u16(f);
	size_t len = fz_u16(f) % (sizeof(payload) + 1);
	int rc;

	if (!ep->port)
		return;
	rc = netif_send(ep, dst, port, payload, len);
	FUZZ_CHECK(rc == 0 || rc == -EAGAIN || rc == -EINVAL || rc == -ENOSPC || rc == -EMSGSIZE);
}

static void op_port(struct fz *f)
{
	static const uint16_t ports[] = {7, 5555, 9, 0};
	unsigned int pick = fz_below(f, 5);
	uint16_t port = pick < 4 ? ports[pick] : fz_u16(f);
	struct netif_ep *ep;
	int i, rc;

	for (i = 0; i < NETIF_EPS; i++) {
		if (port && nif.eps[i].port == port) {
			/* Held datagrams of the port go back first: closing frees only what is
			 * queued. */
			for (unsigned int k = 0; k < nheld;) {
				if (held[k].ep == &nif.eps[i]) {
					netif_release(&held[k]);
					held[k] = held[--nheld];
				} else {
					k++;
				}
			}
			netif_udp_close(&nif.eps[i]);
			return;
		}
	}
	rc = netif_udp_open(&nif, port, &ep);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOSPC);
}

static void step(struct fz *f)
{
	int rc;

	switch (fz_u8(f) % OP_COUNT) {
	case OP_FRAME:
	case OP_FRAME2:
		op_frame(f);
		break;
	case OP_POLL:
		netif_poll(&nif);
		break;
	case OP_APP:
		op_app(f);
		break;
	case OP_SEND:
		op_send(f);
		break;
	case OP_TRANSMIT:
		op_transmit(1 + fz_below(f, 64));
		break;
	case OP_TIME:
		nic_ns += (uint64_t)fz_u32(f) * 1000;
		break;
	case OP_WAIT:
		rc = netif_wait(&nif, fz_u16(f) * 100ull);
		FUZZ_CHECK(rc >= 0);
		break;
	case OP_PORT:
		op_port(f);
		break;
	default:
		op_held(f);
		break;
	}
	check_conservation();
}

/* Give everything back and let the device finish: nothing may be left over. */
static void finish(void)
{
	int i, rounds;

	while (nheld)
		FUZZ_CHECK(netif_release(&held[--nheld]) == 0);
	for (i = 0; i < NETIF_EPS; i++)
		if (nif.eps[i].port)
			netif_udp_close(&nif.eps[i]);
	FUZZ_CHECK(nif.queued == 0);
	for (rounds = 0; rounds < 8 && (nif.ntx || virtq_inflight(&nif.vn.tx)); rounds++) {
		op_transmit(1024);
		vnet_tx_reclaim(&nif.vn);
		netif_flush(&nif);
	}
	FUZZ_CHECK(nif.ntx == 0 && virtq_inflight(&nif.vn.tx) == 0);
	check_conservation();
	check_drop_reasons(&nif.stack.stats);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t feats[] = {0, MC_NET_F_CSUM | MC_NET_F_GUEST_CSUM, MC_NET_F_EVENT_IDX,
					 MC_NET_F_CSUM | MC_NET_F_GUEST_CSUM | MC_NET_F_EVENT_IDX};
	static const unsigned int nbufs[] = {256, 24, 8, 130};
	struct fz f = fz_init(data, size);
	uint8_t setup = fz_u8(&f);
	struct net_config cfg = {
	    .ip = OUR_IP,
	    .netmask = NETMASK,
	    .gateway = GW_IP,
	    .udp_csum = (setup >> 4) % 3,
	};
	struct netif_ep *ep;
	unsigned int n;

	nic_new(64, 64, nbufs[(setup >> 2) & 3], BUF_SIZE, feats[setup & 3]);
	FUZZ_CHECK(netif_open(&nif, "eth0", NIC_QP, &cfg) == 0);
	netif_set_poll_ns(&nif, 2000);
	FUZZ_CHECK(netif_udp_open(&nif, 7, &ep) == 0);
	if (setup & 0x40)
		netif_udp_set_handler(ep, handler, &f);
	FUZZ_CHECK(netif_udp_open(&nif, 5555, &ep) == 0);
	nheld = 0;
	trust_payload_csums = true;
	for (n = 0; n < STEPS && fz_left(&f); n++)
		step(&f);
	finish();
	FUZZ_SAY("net: %lu frames, %lu udp, %lu dropped, %lu sent, %lu arp answered, %lu echo "
		 "answered\n",
		 (unsigned long)nif.stack.stats.rx_frames, (unsigned long)nif.stack.stats.rx_udp,
		 (unsigned long)nif.stack.stats.rx_dropped, (unsigned long)nif.vn.stats.tx_packets,
		 (unsigned long)nif.stack.stats.arp_requests_answered,
		 (unsigned long)nif.stack.stats.icmp_echo_answered);
	netif_close(&nif);
	nic_free(nic);
	return 0;
}
