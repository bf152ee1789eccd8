/*
 * A scripted TCP peer for test_tcp.c: it builds segments byte by byte from
 * RFC 9293's layout and feeds them to a real net_stack with a fake owner
 * (a buffer pool, a wire, a clock), and parses what the stack sends back,
 * checking every IPv4 and TCP checksum with the slow reference sum.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net_test_util.h"

#include <net/net.h>
#include <net/tcp.h>
#include <uapi/errno.h>

#define OUR_IP	 0x0a00020fu /* 10.0.2.15 */
#define PEER_IP	 0x0a000264u /* 10.0.2.100 */
#define GW_IP	 0x0a000202u
#define NETMASK	 0xffffff00u
#define T0	 1000000000000ull /* the fake clock starts at 1000 s */
#define MS	 1000000ull
#define SEC	 1000000000ull
#define POOL_N	 1024
#define BUF_SZ	 2048
#define WIRE_MAX 4096

static const uint8_t our_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t peer_mac[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x64};

/* ---------------------------------------------------------------- the owner */

static struct net_stack stack;
static uint64_t now_ns = T0;
static uint8_t *pool;
static bool busy[POOL_N];
static unsigned int nbusy, fail_allocs; /* fail_allocs: refuse this many allocations */

/* One frame the stack sent. */
struct wire_frame {
	uint8_t data[BUF_SZ];
	size_t len;
};

static struct wire_frame *wire; /* the frames sent, oldest first */
static unsigned int wire_head, wire_tail;

static inline uint8_t *t_alloc(void *ctx, uint32_t *buf, size_t *cap)
{
	(void)ctx;
	if (fail_allocs) {
		fail_allocs--;
		return NULL;
	}
	for (uint32_t i = 0; i < POOL_N; i++) {
		if (!busy[i]) {
			busy[i] = true;
			nbusy++;
			*buf = i;
			*cap = BUF_SZ - 12;
			return pool + (size_t)i * BUF_SZ + 12;
		}
	}
	return NULL;
}

static inline void t_release(void *ctx, uint32_t buf)
{
	(void)ctx;
	assert_true(buf < POOL_N && busy[buf]);
	busy[buf] = false;
	nbusy--;
}

static inline void wire_put(const uint8_t *f, size_t len)
{
	assert_true(wire_tail - wire_head < WIRE_MAX);
	assert_true(len <= BUF_SZ);
	memcpy(wire[wire_tail % WIRE_MAX].data, f, len);
	wire[wire_tail % WIRE_MAX].len = len;
	wire_tail++;
}

static inline int t_xmit(void *ctx, uint32_t buf, size_t len)
{
	(void)ctx;
	assert_true(buf < POOL_N && busy[buf]);
	wire_put(pool + (size_t)buf * BUF_SZ + 12, len);
	t_release(ctx, buf);
	return 0;
}

static inline uint64_t t_now(void *ctx)
{
	(void)ctx;
	return now_ns;
}

static struct net_io io = {
    .alloc = t_alloc,
    .xmit = t_xmit,
    .release = t_release,
    .now = t_now,
    .frame_cap = BUF_SZ - 12,
    .hold_max = POOL_N / 2,
};

/* A fresh stack with TCP (cfg may be NULL: defaults, a fixed secret). */
static inline void stack_new(const struct tcp_config *cfg)
{
	struct net_config nc = {.ip = OUR_IP, .netmask = NETMASK, .gateway = GW_IP};
	struct tcp_config tc;

	if (!pool) {
		pool = aligned_alloc(4096, (size_t)POOL_N * BUF_SZ);
		wire = calloc(WIRE_MAX, sizeof(*wire));
		assert_non_null(pool);
		assert_non_null(wire);
	}
	memset(busy, 0, sizeof(busy));
	nbusy = 0;
	fail_allocs = 0;
	wire_head = wire_tail = 0;
	now_ns = T0;
	memcpy(nc.mac, our_mac, 6);
	net_init(&stack, &nc);
	net_set_io(&stack, &io);
	if (cfg)
		tc = *cfg;
	else
		memset(&tc, 0, sizeof(tc));
	for (int i = 0; i < 16; i++)
		tc.secret[i] = (uint8_t)(i * 17 + 3);
	assert_int_equal(tcp_init(&stack, &tc), 0);
	arp_insert(&stack, PEER_IP, peer_mac, now_ns);
}

static inline const struct tcp_stats *tstats(void)
{
	return tcp_stats(&stack);
}

/* Everything freed: no connection, no buffer, no byte held. */
static inline void check_all_free(void)
{
	const struct tcp_stats *t = tstats();

	assert_int_equal(t->conns, 0);
	assert_int_equal(t->established, 0);
	assert_int_equal(t->time_wait, 0);
	assert_int_equal(t->rx_held, 0);
	assert_int_equal(t->ooo_held, 0);
	assert_int_equal(t->snd_bytes, 0);
	assert_int_equal(t->snd_chunks, 0);
	assert_int_equal(nbusy, 0);
}

static inline void stack_free(void)
{
	net_fini(&stack);
	assert_int_equal(nbusy, 0);
}

/* Send what connections queued (netif_flush does this). */
static inline void pump(void)
{
	tcp_flush(&stack, now_ns);
}

/* Let time pass, running the timers as they fall due (netif_wait and netif_poll do this). */
static inline void advance(uint64_t ns)
{
	uint64_t end = now_ns + ns;

	for (;;) {
		uint64_t due = net_next_timer(&stack);

		if (!due || due > end)
			break;
		if (due > now_ns)
			now_ns = due;
		net_timers(&stack, now_ns);
		pump();
		if (net_next_timer(&stack) == due && due <= now_ns)
			now_ns++; /* a slot filed for the same tick: step on */
	}
	now_ns = end;
	net_timers(&stack, now_ns);
	pump();
}

/* ---------------------------------------------------------------- the peer */

struct peer {
	uint32_t ip;
	uint16_t port, lport; /* its port, ours */
	uint32_t seq;	      /* its next sequence number */
	uint32_t ack;	      /* what it acknowledges: our next byte */
	uint16_t win;	      /* its window field */
	uint8_t ws;	      /* the scale it offers in a SYN (0xff: none) */
	bool ts;	      /* timestamps */
	uint32_t tsval, tsecr;
	uint16_t mss;	    /* in its SYN; 0: none */
	bool sack;	    /* SACK-permitted in its SYN */
	unsigned int nsack; /* SACK blocks it sends with its next segments */
	uint32_t sackb[4][2];
};

static inline void peer_init(struct peer *p, uint16_t port, uint16_t lport)
{
	memset(p, 0, sizeof(*p));
	p->ip = PEER_IP;
	p->port = port;
	p->lport = lport;
	p->seq = 0x10000000u;
	p->win = 65535;
	p->ws = 7;
	p->ts = true;
	p->tsval = 5000;
	p->mss = 1460;
}

/* A parsed segment the stack sent. */
struct seg {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	bool mss_ok, ws_ok, ts_ok, sack_ok;
	uint16_t mss;
	unsigned int nsack; /* SACK blocks */
	uint32_t sack[4][2];
	uint8_t ws;
	uint32_t tsval, tsecr;
	size_t len;
	uint8_t data[BUF_SZ];
	uint8_t mac[6];
};

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

/* Build the peer's segment into f; opts (optlen bytes, padded by the caller) are raw. */
static inline size_t build_seg(uint8_t *f, const struct peer *p, uint8_t flags, uint32_t seq,
			       uint32_t ack, const void *data, size_t len, const uint8_t *opts,
			       size_t optlen)
{
	uint8_t *ip = f + 14, *th = ip + 20;
	size_t hl = 20 + optlen, tot = 20 + hl + len;
	uint16_t c;

	memcpy(f, our_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	put16(f + 12, 0x0800);
	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, (uint16_t)tot);
	put16(ip + 4, 0x4321);
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = 6;
	put16(ip + 10, 0);
	put32(ip + 12, p->ip);
	put32(ip + 16, OUR_IP);
	put16(ip + 10, (uint16_t)~ref_sum(ip, 20, 0));
	put16(th, p->port);
	put16(th + 2, p->lport);
	put32(th + 4, seq);
	put32(th + 8, ack);
	th[12] = (uint8_t)(hl / 4 << 4);
	th[13] = flags;
	put16(th + 14, p->win);
	put16(th + 16, 0);
	put16(th + 18, 0);
	if (optlen)
		memcpy(th + 20, opts, optlen);
	if (len)
		memcpy(th + hl, data, len);
	c = (uint16_t)~ref_sum(th, hl + len, ref_pseudo(p->ip, OUR_IP, 6, hl + len));
	put16(th + 16, c);
	return 14 + tot < 60 ? 60 : 14 + tot;
}

/* The peer's usual options: MSS, WS, TS in a SYN; TS otherwise. */
static inline size_t peer_opts(const struct peer *p, uint8_t flags, uint8_t *o)
{
	size_t n = 0;

	if (flags & F_SYN) {
		if (p->mss) {
			o[n++] = 2;
			o[n++] = 4;
			put16(o + n, p->mss);
			n += 2;
		}
		if (p->ws != 0xff) {
			o[n++] = 1;
			o[n++] = 3;
			o[n++] = 3;
			o[n++] = p->ws;
		}
		if (p->sack) {
			o[n++] = 1;
			o[n++] = 1;
			o[n++] = 4;
			o[n++] = 2;
		}
	}
	if (p->ts) {
		o[n++] = 1;
		o[n++] = 1;
		o[n++] = 8;
		o[n++] = 10;
		put32(o + n, p->tsval);
		put32(o + n + 4, p->tsecr);
		n += 8;
	}
	if (p->nsack && !(flags & F_SYN)) {
		o[n++] = 1;
		o[n++] = 1;
		o[n++] = 5;
		o[n++] = (uint8_t)(2 + 8 * p->nsack);
		for (unsigned int i = 0; i < p->nsack; i++) {
			put32(o + n, p->sackb[i][0]);
			put32(o + n + 4, p->sackb[i][1]);
			n += 8;
		}
	}
	return n;
}

static int last_verdict;
static struct net_rx_result last_out;

/* Deliver a raw frame to the stack in a pool buffer; returns the verdict. */
static inline int deliver_raw(const uint8_t *f, size_t len)
{
	uint32_t buf;
	size_t cap;
	uint8_t *b = t_alloc(NULL, &buf, &cap);
	int v;

	assert_non_null(b);
	memcpy(b, f, len);
	v = net_rx_buf(&stack, b, len, buf, 0, &last_out, now_ns);
	last_verdict = v;
	if (v == NET_RX_REPLY) {
		wire_put(b, last_out.len);
		t_release(NULL, buf);
	} else if (v != NET_RX_KEPT) {
		t_release(NULL, buf);
	}
	return v;
}

/* The peer sends flags with seq/ack as given; data and its usual options. */
static inline int peer_send_at(struct peer *p, uint8_t flags, uint32_t seq, uint32_t ack,
			       const void *data, size_t len)
{
	uint8_t f[BUF_SZ], o[64];
	size_t ol;

	p->tsval++;
	ol = peer_opts(p, flags, o);
	return deliver_raw(f, build_seg(f, p, flags, seq, ack, data, len, o, ol));
}

/* The peer sends the next segment in its sequence (data, flags) and moves on. */
static inline int peer_send(struct peer *p, uint8_t flags, const void *data, size_t len)
{
	int v = peer_send_at(p, flags, p->seq, (flags & F_ACK) ? p->ack : 0, data, len);

	p->seq += (uint32_t)len + !!(flags & F_SYN) + !!(flags & F_FIN);
	return v;
}

/* Frames waiting on the wire. */
static inline unsigned int wire_count(void)
{
	return wire_tail - wire_head;
}

/* Parse the oldest frame on the wire as a TCP segment (checksums verified); false if none. */
static inline bool wire_get(struct seg *s)
{
	const struct wire_frame *w;
	const uint8_t *ip, *th;
	size_t tot, hl;

	if (wire_head == wire_tail)
		return false;
	w = &wire[wire_head++ % WIRE_MAX];
	memset(s, 0, sizeof(*s));
	memcpy(s->mac, w->data, 6);
	assert_memory_equal(w->data + 6, our_mac, 6);
	assert_int_equal(get16(w->data + 12), 0x0800);
	ip = w->data + 14;
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(ref_sum(ip, 20, 0), 0xffff);
	assert_int_equal(ip[9], 6);
	tot = get16(ip + 2);
	assert_true(14 + tot <= w->len);
	s->src = get32(ip + 12);
	s->dst = get32(ip + 16);
	assert_int_equal(s->src, OUR_IP);
	th = ip + 20;
	hl = (size_t)(th[12] >> 4) * 4;
	assert_true(hl >= 20 && hl <= tot - 20);
	assert_int_equal(ref_sum(th, tot - 20, ref_pseudo(s->src, s->dst, 6, tot - 20)), 0xffff);
	s->sport = get16(th);
	s->dport = get16(th + 2);
	s->seq = get32(th + 4);
	s->ack = get32(th + 8);
	s->flags = th[13];
	s->win = get16(th + 14);
	for (size_t i = 20; i < hl;) {
		uint8_t k = th[i];

		if (k == 0)
			break;
		if (k == 1) {
			i++;
			continue;
		}
		assert_true(i + 1 < hl && th[i + 1] >= 2 && i + th[i + 1] <= hl);
		if (k == 2) {
			s->mss_ok = true;
			s->mss = get16(th + i + 2);
		} else if (k == 3) {
			s->ws_ok = true;
			s->ws = th[i + 2];
		} else if (k == 4) {
			s->sack_ok = true;
		} else if (k == 5) {
			assert_int_equal((th[i + 1] - 2) % 8, 0);
			for (size_t j = i + 2; j < i + th[i + 1] && s->nsack < 4; j += 8) {
				s->sack[s->nsack][0] = get32(th + j);
				s->sack[s->nsack][1] = get32(th + j + 4);
				s->nsack++;
			}
		} else if (k == 8) {
			s->ts_ok = true;
			s->tsval = get32(th + i + 2);
			s->tsecr = get32(th + i + 6);
		}
		i += th[i + 1];
	}
	s->len = tot - 20 - hl;
	memcpy(s->data, th + hl, s->len);
	return true;
}

/* The next segment must be there: parse it, and let the peer note what it acknowledges. */
static inline void expect_seg(struct peer *p, struct seg *s, uint8_t flags)
{
	pump(); /* what netif_flush would send by now */
	assert_true(wire_get(s));
	assert_int_equal(s->flags, flags);
	assert_int_equal(s->dport, p->port);
	if (p->lport)
		assert_int_equal(s->sport, p->lport);
	if (s->ts_ok)
		p->tsecr = s->tsval;
}

static inline void expect_none(void)
{
	struct seg s;

	pump();
	if (wire_get(&s))
		fail_msg("unexpected segment flags 0x%x seq %u ack %u len %zu", s.flags, s.seq,
			 s.ack, s.len);
}

/* A full passive open with p: SYN, SYN-ACK, ACK, accepted. Returns the connection. */
static inline struct tcp_conn *open_passive(struct peer *p, struct tcp_listener *l)
{
	struct tcp_conn *c = NULL;
	struct tcp_event ev;
	struct seg s;

	assert_int_equal(peer_send(p, F_SYN, NULL, 0), NET_RX_CONSUMED);
	pump();
	expect_seg(p, &s, F_SYN | F_ACK);
	assert_int_equal(s.ack, p->seq);
	p->ack = s.seq + 1;
	assert_int_equal(peer_send(p, F_ACK, NULL, 0), NET_RX_CONSUMED);
	pump();
	expect_none();
	/* Other connections' events may come first. */
	do
		assert_int_equal(tcp_next_event(&stack, &ev), 1);
	while (ev.lis != l);
	assert_true(ev.events & TCP_EV_ACCEPT);
	assert_int_equal(tcp_accept(l, &c), 1);
	assert_int_equal(tcp_state(c), TCP_ESTABLISHED);
	return c;
}

/* A full active open to p: SYN, SYN-ACK, ACK, CONNECTED. */
static inline struct tcp_conn *open_active(struct peer *p)
{
	struct tcp_conn *c;
	struct tcp_event ev;
	struct seg s;

	assert_int_equal(tcp_connect(&stack, p->ip, p->port, now_ns, &c), 0);
	pump();
	expect_seg(p, &s, F_SYN);
	p->lport = s.sport;
	/* The peer's reply, fitted to our port. */
	p->ack = s.seq + 1;
	assert_int_equal(peer_send(p, F_SYN | F_ACK, NULL, 0), NET_RX_CONSUMED);
	pump();
	expect_seg(p, &s, F_ACK);
	assert_int_equal(s.ack, p->seq);
	assert_int_equal(tcp_next_event(&stack, &ev), 1);
	assert_ptr_equal(ev.conn, c);
	assert_true(ev.events & TCP_EV_CONNECTED);
	assert_int_equal(tcp_state(c), TCP_ESTABLISHED);
	return c;
}

/* The next event must be for c and include bits. */
static inline void expect_event(struct tcp_conn *c, unsigned int bits)
{
	struct tcp_event ev;

	assert_int_equal(tcp_next_event(&stack, &ev), 1);
	assert_ptr_equal(ev.conn, c);
	if ((ev.events & bits) != bits)
		fail_msg("events 0x%x, wanted 0x%x", ev.events, bits);
}

static inline void drain_events(void)
{
	struct tcp_event ev;

	while (tcp_next_event(&stack, &ev))
		;
}

/* Read everything queued on c into buf; returns the count. */
static inline size_t read_all(struct tcp_conn *c, uint8_t *buf, size_t cap)
{
	long n = tcp_recv(c, buf, cap);

	assert_true(n >= 0);
	return (size_t)n;
}
