/*
 * Fuzz target: TCP input (usr/lib/net/tcp*.c) through netif. Unlike the
 * `net` target's raw frames, segments here come from peers that track the
 * connection (the sequence number the stack acknowledged last, the end of
 * what it sent), so the input reaches every state: handshakes passive and
 * active, data both ways, FINs, RSTs and SYNs in and out of the window,
 * options of every shape, bad checksums, strangers' ports. The application
 * accepts, reads (zero copy or copying), writes, shuts down, closes and
 * aborts; time jumps. Whatever comes: every frame sent is well formed,
 * events name live handles, and once everything is closed and the timers
 * have run, every connection, buffer and byte the stack held is back
 * (tcp_stats' gauges at zero, every pool buffer home).
 */
/* fuzz-sources: usr/lib/netif.c usr/lib/vnet.c lib/virtq.c usr/lib/net/[a-z]*.c */
/* fuzz-cflags: -Iusr/lib -Iusr/lib/include */
#include <netif.h>

#include "fuzz_nic.h"
#include "fuzz_net.h"

#define OUR_IP	  0x0a00020fu /* 10.0.2.15 */
#define NETMASK	  0xffffff00u
#define GW_IP	  0x0a000202u
#define PEER_IP	  0x0a000264u /* 10.0.2.100 */
#define PORT	  80	      /* listening */
#define PORT_SHUT 81	      /* nobody listens: RSTs */
#define SRV_PORT  9000	      /* the peer's server, for active opens */
#define PEERS	  5	      /* 0-3 connect to PORT; 4 is SRV_PORT's side of active opens */
#define APP_CONNS 16
#define BUF_SIZE  2048
#define STEPS	  384
#define SEG_MAX	  1460

static const uint8_t peer_mac[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x64};

/* TCP flags, RFC 9293 §3.1. */
#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

enum op {
	OP_SEG,
	OP_SEG2, /* segments twice as likely as anything else */
	OP_TRANSMIT,
	OP_APP,
	OP_CALL,
	OP_TIME,
	OP_WAIT,
	OP_ARP,
	OP_COUNT
};

/* What a peer knows of its connection: seq is what the stack acknowledged last. */
struct peer {
	uint16_t port, lport; /* its port, the stack's */
	uint32_t seq, ack;    /* next to send, next expected from the stack */
	bool synced;	      /* it has seen the stack's SYN */
};

static struct netif nif;
static struct tcp_listener *lis;
static struct tcp_conn *app[APP_CONNS];
static unsigned int napp;
static struct peer peers[PEERS];
static uint8_t pattern[SEG_MAX];
static bool trust_payload_csums;

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* A sequence number near what the peer would use, or anything at all. */
static uint32_t pick_seq(struct fz *f, uint32_t expect)
{
	switch (fz_u8(f) % 4) {
	case 0:
	case 1:
		return expect;
	case 2:
		return expect + (uint32_t)(int32_t)(int16_t)fz_u16(f);
	default:
		return fz_u32(f);
	}
}

/* Put a frame on the wire to the stack: one RX buffer, if the driver gave one. */
static void deliver(const uint8_t *frame, size_t len, bool data_valid)
{
	struct vnet_hdr h = {.num_buffers = 1};
	struct virtq_desc *d;
	uint32_t id;
	uint16_t di;
	uint8_t *b;

	if (data_valid)
		h.flags |= VNET_HDR_F_DATA_VALID;
	fvq_bell(&nic->rx, NIC_RX_INDEX);
	if (!fvq_pending(&nic->rx)) {
		fvq_want_kick(&nic->rx);
		return; /* nowhere to put it: a NIC drops it */
	}
	di = fvq_take(&nic->rx);
	d = &nic->rx.desc[di];
	b = nic_desc_buf(nic, d, &id);
	FUZZ_CHECK(d->flags == VIRTQ_DESC_F_WRITE && d->len >= sizeof(h) + len);
	memcpy(b, &h, sizeof(h));
	memcpy(b + sizeof(h), frame, len);
	nic_put(&nic->rx, di, (uint32_t)(sizeof(h) + len));
}

/*
 * One segment from a peer: flags, sequence and acknowledgement numbers,
 * window, options and payload all chosen by the input, mostly close to
 * what the connection expects.
 */
static void op_seg(struct fz *f)
{
	uint8_t frame[14 + 20 + 60 + SEG_MAX] = {0}, *ip = frame + 14, *tcp = ip + 20;
	struct peer *p = &peers[fz_below(f, PEERS)];
	uint8_t how = fz_u8(f), flags = fz_u8(f);
	size_t olen = (fz_u8(f) % 11) * 4, plen = fz_u16(f) % (SEG_MAX + 1), n, tot;
	const uint8_t *o = fz_bytes(f, olen, &n);
	uint32_t ack;

	switch (how & 3) { /* flags: mostly what a peer would send */
	case 0:
		flags = F_ACK | (flags & (F_PSH | F_FIN));
		break;
	case 1:
		flags = p->synced ? F_ACK : F_SYN;
		break;
	case 2:
		flags &= F_FIN | F_SYN | F_RST | F_PSH | F_ACK;
		break;
	default:
		break; /* any bits, URG, ECE, CWR and reserved included */
	}
	memcpy(tcp + 20, o, n);
	memset(tcp + 20 + n, 0, olen - n); /* end-of-option-list padding */
	if (!(flags & (F_SYN | F_RST)) || (how & 0x40))
		memcpy(tcp + 20 + olen, pattern, plen);
	else
		plen = 0;
	tot = 20 + 20 + olen + plen;
	memcpy(frame, nic_mac, 6);
	memcpy(frame + 6, peer_mac, 6);
	put16(frame + 12, FN_TYPE_IPV4);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)tot);
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = FN_PROTO_TCP;
	put32(ip + 12, PEER_IP);
	put32(ip + 16, OUR_IP);
	put16(tcp, (how & 0x80) ? (uint16_t)(40000 + fz_u8(f)) : p->port);
	put16(tcp + 2, (how & 0x20) ? PORT_SHUT : p->lport);
	put32(tcp + 4, pick_seq(f, p->seq));
	ack = pick_seq(f, p->ack); /* read either way: inputs keep their layout */
	put32(tcp + 8, (flags & F_ACK) ? ack : 0);
	tcp[12] = (uint8_t)((20 + olen) / 4) << 4;
	tcp[13] = flags;
	put16(tcp + 14, (how & 0x10) ? fz_u16(f) : 65535);
	fn_fix_checksums(frame, 14 + tot);
	if ((how & 0x0c) == 0x0c)
		tcp[16] ^= 0x01; /* a bad checksum */
	FUZZ_SAY("in  %u>%u flags %02x seq %u ack %u len %zu\n", fn_get16(tcp), fn_get16(tcp + 2),
		 flags, fn_get32(tcp + 4), fn_get32(tcp + 8), plen);
	deliver(frame, 14 + tot, false);
	if (flags & F_SYN && !(flags & F_ACK) && (how & 3) == 1)
		p->seq++; /* its ISN is used up; the stack's ACK will say so too */
}

/* The peers read what the stack sent: each must be well formed. */
static void op_transmit(unsigned int max)
{
	struct virtq_desc *d;
	struct vnet_hdr h;
	uint32_t id, len;
	uint8_t *b, *fr, *ip, *tcp;
	uint16_t di;

	fvq_bell(&nic->tx, NIC_TX_INDEX);
	while (max-- && fvq_pending(&nic->tx)) {
		di = fvq_take(&nic->tx);
		d = &nic->tx.desc[di];
		b = nic_desc_buf(nic, d, &id);
		FUZZ_CHECK(d->flags == 0 && d->len >= sizeof(h) + FN_ETH_HLEN);
		memcpy(&h, b, sizeof(h));
		fr = b + sizeof(h);
		len = d->len - (uint32_t)sizeof(h);
		if (h.flags & VNET_HDR_F_NEEDS_CSUM) {
			FUZZ_CHECK(nic->layout.features & MC_NET_F_CSUM);
			FUZZ_CHECK((uint32_t)h.csum_start + h.csum_offset + 2 <= len);
			fn_fix(fr + h.csum_start, len - h.csum_start, h.csum_offset,
			       fn_get16(fr + h.csum_start + h.csum_offset), false);
		} else {
			FUZZ_CHECK(h.flags == 0);
		}
		fn_check_sent(fr, len, nic_mac, trust_payload_csums);
		ip = fr + FN_ETH_HLEN;
		tcp = ip + FN_IP_HLEN;
		if (fn_get16(fr + 12) == FN_TYPE_IPV4 && ip[9] == FN_PROTO_TCP &&
		    fn_get32(ip + 16) == PEER_IP) {
			size_t plen = fn_get16(ip + 2) - FN_IP_HLEN, hl;
			uint16_t sport = fn_get16(tcp), dport = fn_get16(tcp + 2);
			uint8_t fl;

			FUZZ_CHECK(plen >= FN_TCP_HLEN_MIN);
			hl = (size_t)(tcp[12] >> 4) * 4;
			FUZZ_CHECK(hl >= FN_TCP_HLEN_MIN && hl <= plen);
			fl = tcp[13];
			FUZZ_SAY("out %u>%u flags %02x seq %u ack %u len %zu\n", sport, dport, fl,
				 fn_get32(tcp + 4), fn_get32(tcp + 8), plen - hl);
			FUZZ_CHECK(!((fl & F_SYN) && (fl & (F_FIN | F_RST))));
			for (int i = 0; i < PEERS; i++) {
				struct peer *p = &peers[i];
				uint32_t end = fn_get32(tcp + 4) + (uint32_t)(plen - hl) +
					       !!(fl & F_SYN) + !!(fl & F_FIN);

				if (i == PEERS - 1 && dport == SRV_PORT && (fl & F_SYN) &&
				    !(fl & F_ACK))
					p->lport = sport; /* an active open: learn its port */
				if (dport != p->port || sport != p->lport || (fl & F_RST))
					continue;
				if (fl & F_SYN) {
					p->ack = end;
					p->synced = true;
				} else if ((int32_t)(end - p->ack) > 0) {
					p->ack = end;
				}
				if (fl & F_ACK)
					p->seq = fn_get32(tcp + 8);
			}
		}
		nic_put(&nic->tx, di, 0);
	}
	if (!fvq_pending(&nic->tx))
		fvq_want_kick(&nic->tx);
}

static void arp_reply(void)
{
	uint8_t f[60] = {0}, *a = f + 14;

	memcpy(f, nic_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	put16(f + 12, FN_TYPE_ARP);
	put16(a, 1);
	put16(a + 2, FN_TYPE_IPV4);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 2); /* RFC 826: reply */
	memcpy(a + 8, peer_mac, 6);
	put32(a + 14, PEER_IP);
	memcpy(a + 18, nic_mac, 6);
	put32(a + 24, OUR_IP);
	deliver(f, sizeof(f), false);
}

static int app_find(const struct tcp_conn *c)
{
	for (unsigned int i = 0; i < napp; i++)
		if (app[i] == c)
			return (int)i;
	return -1;
}

static void app_drop(unsigned int i, bool abort)
{
	if (abort)
		tcp_abort(app[i]);
	else
		tcp_close(app[i]);
	app[i] = app[--napp];
}

static void app_add(struct tcp_conn *c)
{
	if (napp == APP_CONNS) {
		tcp_abort(c);
		return;
	}
	tcp_set_user(c, c);
	app[napp++] = c;
}

/*
 * Read some of what waits, as policy says (one input byte, so an input
 * keeps its layout whatever events come): bits 0-1 how (peek, peekv, recv),
 * bits 2-3 how much (all, half, one byte, none), bit 4 close a connection
 * that ended.
 */
static void app_read(uint8_t policy, struct tcp_conn *c)
{
	static const size_t share[4] = {SIZE_MAX, 2, 1, 0};
	size_t n, sum = 0, want, ready = tcp_readable(c);
	struct tcp_iov iov[8];
	const uint8_t *p;
	unsigned int k;
	char buf[3000];
	long m;

	want = share[policy >> 2 & 3] == 2 ? ready / 2 : share[policy >> 2 & 3];
	switch (policy & 3) {
	case 0:
		n = tcp_peek(c, &p);
		FUZZ_CHECK(n <= ready && (n > 0 || ready == 0));
		fuzz_touch(p, n);
		tcp_consume(c, n < want ? n : want);
		break;
	case 1:
		k = tcp_peekv(c, iov, 8);
		for (unsigned int i = 0; i < k; i++) {
			fuzz_touch(iov[i].base, iov[i].len);
			sum += iov[i].len;
		}
		FUZZ_CHECK(sum <= ready && (k == 8 || sum == ready));
		tcp_consume(c, sum < want ? sum : want);
		break;
	default:
		n = want < sizeof(buf) ? want : sizeof(buf);
		m = tcp_recv(c, buf, n);
		/* tcp.h: a failed connection has nothing to read, and says why */
		FUZZ_CHECK(m == (long)(n < ready ? n : ready) ||
			   (m < 0 && m == tcp_error(c) && ready == 0));
		break;
	}
	FUZZ_CHECK(tcp_readable(c) <= ready);
}

/* Take the application's events: accept, read, close what ended. */
static void op_app(struct fz *f)
{
	uint8_t policy = fz_u8(f);
	struct tcp_event ev;
	struct tcp_conn *c;

	for (int n = 0; n < 64 && netif_tcp_next(&nif, &ev); n++) {
		if (ev.lis) {
			FUZZ_CHECK(ev.lis == lis && (ev.events & TCP_EV_ACCEPT));
			while (tcp_accept(lis, &c))
				app_add(c);
			continue;
		}
		FUZZ_CHECK(ev.conn && ev.user == ev.conn && app_find(ev.conn) >= 0);
		if (ev.events & TCP_EV_READ)
			app_read(policy, ev.conn);
		if ((ev.events & TCP_EV_CLOSED) && (policy & 0x10))
			app_drop((unsigned int)app_find(ev.conn), false);
	}
}

/* One call on a connection, a listener or the stack. */
static void op_call(struct fz *f)
{
	uint8_t what = fz_u8(f), pick = fz_u8(f);
	unsigned int i = napp ? pick % napp : 0;
	struct tcp_conn *c = napp ? app[i] : NULL;
	long m;
	int rc;

	switch (what % 8) {
	case 0: {
		size_t len = fz_u16(f) % 20000;
		static uint8_t big[20000];

		if (c) {
			m = tcp_send(c, big, len);
			/* tcp.h: the bytes taken, or why none can be */
			FUZZ_CHECK((m >= 0 && (size_t)m <= len) || m == -EPIPE || m == -ENOTCONN ||
				   m == -ENOMEM || (m < 0 && m == tcp_error(c)));
		}
		break;
	}
	case 1:
		if (c)
			tcp_shutdown(c);
		break;
	case 2:
		if (c)
			app_drop(i, false);
		break;
	case 3:
		if (c)
			app_drop(i, true);
		break;
	case 4:
		if (c)
			app_read(fz_u8(f), c);
		break;
	case 5:
		if (c)
			tcp_set_nodelay(c, fz_bool(f));
		break;
	case 6:
		if (napp < APP_CONNS) {
			rc = netif_tcp_connect(&nif, (what & 0x80) ? PEER_IP : fz_u32(f), SRV_PORT,
					       &c);
			FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM ||
				   rc == -EADDRNOTAVAIL);
			if (rc == 0)
				app_add(c);
		}
		break;
	default:
		if (lis) {
			tcp_unlisten(lis);
			lis = NULL;
		} else {
			rc = netif_tcp_listen(&nif, PORT, 1 + fz_below(f, 8), &lis);
			FUZZ_CHECK(rc == 0);
		}
		break;
	}
}

static void step(struct fz *f)
{
	int rc;

	switch (fz_u8(f) % OP_COUNT) {
	case OP_SEG:
	case OP_SEG2:
		op_seg(f);
		break;
	case OP_TRANSMIT:
		netif_poll(&nif); /* takes what arrived, flushes what it answers */
		netif_flush(&nif);
		op_transmit(1 + fz_below(f, 64));
		break;
	case OP_APP:
		netif_poll(&nif);
		op_app(f);
		break;
	case OP_CALL:
		op_call(f);
		break;
	case OP_TIME:
		nic_ns += (uint64_t)fz_u16(f) * 1000000; /* up to a minute */
		break;
	case OP_WAIT:
		rc = netif_wait(&nif, fz_u16(f) * 1000ull);
		FUZZ_CHECK(rc >= 0);
		break;
	default:
		arp_reply();
		break;
	}
}

/* Close everything and let the timers run out: nothing may be left. */
static void finish(void)
{
	const struct tcp_stats *t = tcp_stats(&nif.stack);
	const struct vnet *vn = &nif.vn;

	while (napp)
		app_drop(napp - 1, true);
	if (lis)
		tcp_unlisten(lis);
	for (int round = 0; round < 40 && (t->conns || nif.ntx || virtq_inflight(&vn->tx));
	     round++) {
		nic_ns += 30ull * 1000000000; /* past TIME-WAIT, FIN-WAIT-2, retries */
		netif_wait(&nif, 1000);
		op_transmit(1024);
		vnet_tx_reclaim(&nif.vn);
		netif_flush(&nif);
	}
	FUZZ_CHECK(t->conns == 0 && t->established == 0 && t->time_wait == 0);
	FUZZ_CHECK(t->rx_held == 0 && t->snd_bytes == 0 && t->snd_chunks == 0);
	FUZZ_CHECK(nif.ntx == 0 && virtq_inflight(&vn->tx) == 0);
	FUZZ_CHECK(vn->nfree + virtq_inflight(&vn->rx) == vn->nbufs);
	FUZZ_CHECK(vn->stats.buf_errors == 0 && vn->stats.tx_invalid == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t feats[] = {0, MC_NET_F_CSUM | MC_NET_F_GUEST_CSUM, MC_NET_F_EVENT_IDX,
					 MC_NET_F_CSUM | MC_NET_F_EVENT_IDX};
	static const unsigned int nbufs[] = {256, 64, 24, 512};
	struct fz f = fz_init(data, size);
	uint8_t setup = fz_u8(&f);
	struct net_config cfg = {.ip = OUR_IP, .netmask = NETMASK, .gateway = GW_IP};
	struct tcp_config tc = {
	    .max_conns = (setup & 0x10) ? 4 : 64,
	    .rcvbuf = (setup & 0x20) ? 4096 : 65536,
	    .sndbuf = (setup & 0x40) ? 3000 : 65536,
	    .hash_buckets = 16,
	    .synack_retries = 2,
	    .syn_retries = 2,
	    .time_wait_ns = 1000000000ull,
	    .fin_wait_ns = 2000000000ull,
	    .user_timeout_ns = 10000000000ull,
	    .secret = {1, 2, 3},
	};

	nic_new(64, 64, nbufs[(setup >> 2) & 3], BUF_SIZE, feats[setup & 3]);
	FUZZ_CHECK(netif_open(&nif, "eth0", NIC_QP, &cfg) == 0);
	netif_set_poll_ns(&nif, 2000);
	FUZZ_CHECK(netif_tcp_init(&nif, &tc) == 0);
	FUZZ_CHECK(netif_tcp_listen(&nif, PORT, (setup & 0x80) ? 2 : 16, &lis) == 0);
	for (int i = 0; i < PEERS; i++)
		peers[i] = (struct peer){.port = (uint16_t)(i < PEERS - 1 ? 50000 + i : SRV_PORT),
					 .lport = PORT,
					 .seq = 1000u * (uint32_t)i + 0x10000000u};
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + 1);
	napp = 0;
	trust_payload_csums = true; /* TCP sums what it sends (or leaves it to the NIC) */
	for (unsigned int n = 0; n < STEPS && fz_left(&f); n++)
		step(&f);
	finish();
	FUZZ_SAY("tcp: %lu segs in, %lu out, %lu accepted, %lu resets out, %lu dropped frames\n",
		 (unsigned long)tcp_stats(&nif.stack)->segs_rx,
		 (unsigned long)tcp_stats(&nif.stack)->segs_tx,
		 (unsigned long)tcp_stats(&nif.stack)->accepted,
		 (unsigned long)tcp_stats(&nif.stack)->resets_tx,
		 (unsigned long)nif.stack.stats.rx_dropped);
	netif_close(&nif);
	nic_free(nic);
	return 0;
}
