/* Unit tests of IPv4 reassembly (bounds, overlaps, timeouts, bad fragments) and fragmentation. */
/* unit-sources: usr/lib/net/[a-z]*.c */
/* unit-cflags: -Iusr/lib */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net_test_util.h"

#include <net/net.h>
#include <uapi/errno.h>

/*
 * Fragments are built byte by byte from RFC 791's layout; the UDP checksum
 * of each datagram is the slow reference sum over the whole datagram.
 */

#define OUR_IP	  0x0a00020fu /* 10.0.2.15 */
#define PEER_IP	  0x0a000264u /* 10.0.2.100 */
#define GW_IP	  0x0a000202u
#define NETMASK	  0xffffff00u
#define OUR_PORT  7
#define PEER_PORT 40000
#define NOW	  1000000000ull
#define SEC	  1000000000ull

static const uint8_t our_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t peer_mac[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x64};

static struct net_stack stack;
static uint64_t now = NOW;

/* The datagram being cut up: UDP header + payload, as the IP payload. */
static uint8_t dgram[65536];
static size_t dgram_len;

static uint64_t rng_state;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)rng_state;
}

static void setup_stack(void)
{
	struct net_config cfg = {.ip = OUR_IP, .netmask = NETMASK, .gateway = GW_IP};

	memcpy(cfg.mac, our_mac, 6);
	net_fini(&stack);
	net_init(&stack, &cfg);
	udp_bind(&stack, OUR_PORT);
	now = NOW;
}

/* A UDP datagram of plen payload bytes (pattern from seed) with a correct checksum. */
static void make_dgram(size_t plen, unsigned int seed, uint32_t src, uint32_t dst)
{
	uint16_t c;

	dgram_len = 8 + plen;
	put16(dgram, PEER_PORT);
	put16(dgram + 2, OUR_PORT);
	put16(dgram + 4, (uint16_t)dgram_len);
	put16(dgram + 6, 0);
	for (size_t i = 0; i < plen; i++)
		dgram[8 + i] = (uint8_t)(i * 7 + seed * 31 + (i >> 8));
	c = (uint16_t)~ref_sum(dgram, dgram_len, ref_pseudo(src, dst, 17, dgram_len));
	put16(dgram + 6, c ? c : 0xffff);
}

/* The frame of the fragment holding bytes [off, off + len) of dgram. */
static size_t mk_frag(uint8_t *f, uint16_t id, size_t off, size_t len, bool mf, uint8_t proto)
{
	uint8_t *ip = f + 14;
	uint16_t frag = (uint16_t)((off / 8) | (mf ? 0x2000 : 0));

	memcpy(f, our_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	put16(f + 12, 0x0800);
	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, (uint16_t)(20 + len));
	put16(ip + 4, id);
	put16(ip + 6, frag);
	ip[8] = 64;
	ip[9] = proto;
	put16(ip + 10, 0);
	put32(ip + 12, PEER_IP);
	put32(ip + 16, OUR_IP);
	put16(ip + 10, (uint16_t)~ref_sum(ip, 20, 0));
	if (off < sizeof(dgram))
		memcpy(ip + 20, dgram + off,
		       off + len <= sizeof(dgram) ? len : sizeof(dgram) - off);
	return 14 + 20 + len;
}

/* Feed one fragment (from an exact-size heap copy, for ASan); returns the verdict. */
static int feed(uint16_t id, size_t off, size_t len, bool mf, struct net_rx_result *out)
{
	static uint8_t f[14 + 20 + 65536];
	size_t n = mk_frag(f, id, off, len, mf, 17);
	uint8_t *buf = malloc(n);
	int v;

	assert_non_null(buf);
	memcpy(buf, f, n);
	v = net_rx(&stack, buf, n, out, now);
	free(buf);
	return v;
}

/* Feed fragments of dgram, each of step bytes, in the order of idx[]; returns the last verdict. */
static int feed_order(uint16_t id, size_t step, const unsigned int *idx, unsigned int n,
		      struct net_rx_result *out)
{
	int v = NET_RX_DROP;

	for (unsigned int i = 0; i < n; i++) {
		size_t off = idx[i] * step;
		size_t len = dgram_len - off < step ? dgram_len - off : step;

		v = feed(id, off, len, off + len < dgram_len, out);
		if (i + 1 < n)
			assert_int_equal(v, NET_RX_CONSUMED);
	}
	return v;
}

static unsigned int nfrags_of(size_t step)
{
	return (unsigned int)((dgram_len + step - 1) / step);
}

/* The delivered datagram is dgram's payload, held in reassembly slot out->udp.reasm - 1. */
static void check_delivered(const struct net_rx_result *out)
{
	assert_int_not_equal(out->udp.reasm, 0);
	assert_int_equal(out->udp.len, dgram_len - 8);
	assert_memory_equal(out->udp.payload, dgram + 8, dgram_len - 8);
	assert_int_equal(out->udp.sport, PEER_PORT);
	assert_int_equal(out->udp.dport, OUR_PORT);
	assert_int_equal(out->udp.src_ip, PEER_IP);
	assert_int_equal(out->udp.csum, net_htons(get16(dgram + 6)));
	assert_memory_equal(net_reasm_mac(&stack, out->udp.reasm - 1u), peer_mac, 6);
	assert_true(stack.stats.reasm_bytes >= dgram_len);
}

static void check_idle(void)
{
	assert_int_equal(stack.stats.reasm_bytes, 0);
	for (int i = 0; i < NET_REASM_SLOTS; i++)
		assert_int_not_equal(stack.reasm[i].state, NET_REASM_BUILDING);
}

static void shuffle(unsigned int *idx, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		idx[i] = i;
	for (unsigned int i = n; i > 1; i--) {
		unsigned int j = rng() % i, t = idx[i - 1];

		idx[i - 1] = idx[j];
		idx[j] = t;
	}
}

/* An 8000-byte datagram in order, backwards and shuffled; with odd fragment sizes too. */
static void test_reassemble_orders(void **state)
{
	static const size_t steps[] = {1480, 1480 * 2, 8, 1000, 512};
	unsigned int idx[NET_REASM_FRAGS];
	struct net_rx_result out;

	(void)state;
	setup_stack();
	rng_state = 42;
	make_dgram(8000, 1, PEER_IP, OUR_IP);
	for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		size_t step = steps[k];
		unsigned int n = nfrags_of(step);

		if (n > NET_REASM_FRAGS)
			continue;
		for (int order = 0; order < 3; order++) {
			for (unsigned int i = 0; i < n; i++)
				idx[i] = order == 1 ? n - 1 - i : i;
			if (order == 2)
				shuffle(idx, n);
			assert_int_equal(feed_order((uint16_t)(k * 3 + order), step, idx, n, &out),
					 NET_RX_UDP);
			check_delivered(&out);
			net_reasm_release(&stack, out.udp.reasm - 1u);
			check_idle();
		}
	}
	assert_int_equal(stack.stats.rx_dropped, 0);
	assert_int_equal(stack.stats.rx_udp, stack.stats.reasm_ok);
	/* The largest datagram there is: 65507 bytes in 45 fragments. */
	make_dgram(NET_UDP_MAX_DGRAM, 2, PEER_IP, OUR_IP);
	shuffle(idx, nfrags_of(1480));
	assert_int_equal(feed_order(99, 1480, idx, nfrags_of(1480), &out), NET_RX_UDP);
	check_delivered(&out);
	net_reasm_release(&stack, out.udp.reasm - 1u);
	check_idle();
}

/* A copy of a fragment is dropped as a duplicate; the datagram completes. */
static void test_duplicates(void **state)
{
	struct net_rx_result out;

	(void)state;
	setup_stack();
	make_dgram(4000, 3, PEER_IP, OUR_IP);
	assert_int_equal(feed(7, 0, 1480, true, &out), NET_RX_CONSUMED);
	assert_int_equal(feed(7, 0, 1480, true, &out), NET_RX_DROP);
	assert_int_equal(stack.stats.rx_frag_dup, 1);
	assert_int_equal(feed(7, 2960, dgram_len - 2960, false, &out), NET_RX_CONSUMED);
	assert_int_equal(feed(7, 2960, dgram_len - 2960, false, &out), NET_RX_DROP);
	assert_int_equal(feed(7, 1480, 1480, true, &out), NET_RX_UDP);
	check_delivered(&out);
	assert_int_equal(stack.stats.rx_frag_dup, 2);
	assert_int_equal(stack.stats.rx_dropped, 2);
	net_reasm_release(&stack, out.udp.reasm - 1u);
	/* A late copy after completion starts a datagram of its own, which times out. */
	assert_int_equal(feed(7, 0, 1480, true, &out), NET_RX_CONSUMED);
	now += NET_REASM_TIMEOUT_NS;
	net_timers(&stack, now);
	assert_int_equal(stack.stats.reasm_timeout, 1);
	check_idle();
}

/*
 * RFC 5722: a fragment that overlaps another abandons the datagram, and
 * every later fragment of it is dropped; other datagrams go on.
 */
static void test_overlaps(void **state)
{
	/* {offset, length, more}: the second overlaps the first in each row. */
	static const struct {
		size_t off1, len1, off2, len2;
		bool mf2;
	} cases[] = {
	    {0, 1480, 8, 1480, true},	     /* starts inside */
	    {1480, 1480, 8, 1480, true},     /* ends inside */
	    {1480, 1480, 1480, 8, true},     /* same start, shorter */
	    {1480, 1480, 1488, 8, true},     /* inside */
	    {1480, 16, 1472, 32, true},	     /* covers it */
	    {1480, 1480, 1480, 2520, false}, /* same start, longer, the last */
	};
	struct net_rx_result out;

	(void)state;
	setup_stack();
	make_dgram(4000, 4, PEER_IP, OUR_IP);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint16_t id = (uint16_t)(100 + i);
		uint64_t killed = stack.stats.reasm_killed;

		assert_int_equal(feed(id, cases[i].off1, cases[i].len1, true, &out),
				 NET_RX_CONSUMED);
		assert_int_equal(feed(id, cases[i].off2, cases[i].len2, cases[i].mf2, &out),
				 NET_RX_DROP);
		assert_int_equal(stack.stats.rx_frag_overlap, i + 1);
		assert_int_equal(stack.stats.reasm_killed, killed + 1);
		/* The rest of it, even fragments that would complete it, is dropped. */
		for (size_t off = 0; off < dgram_len; off += 1480) {
			size_t len = dgram_len - off < 1480 ? dgram_len - off : 1480;

			assert_int_equal(feed(id, off, len, off + len < dgram_len, &out),
					 NET_RX_DROP);
		}
		assert_int_equal(stack.stats.rx_frag_abandoned, (i + 1) * 3);
		assert_int_equal(stack.stats.reasm_bytes, 0);
	}
	assert_int_equal(stack.stats.rx_udp, 0);
	/* A new identification is a new datagram. */
	assert_int_equal(feed(1, 1480, 1480, true, &out), NET_RX_CONSUMED);
	assert_int_equal(feed(1, 2960, dgram_len - 2960, false, &out), NET_RX_CONSUMED);
	assert_int_equal(feed(1, 0, 1480, true, &out), NET_RX_UDP);
	check_delivered(&out);
	net_reasm_release(&stack, out.udp.reasm - 1u);
	/* The abandoned ones expire with their timeout, uncounted as timeouts. */
	now += NET_REASM_TIMEOUT_NS;
	net_timers(&stack, now);
	assert_int_equal(stack.stats.reasm_timeout, 0);
	for (int i = 0; i < NET_REASM_SLOTS; i++)
		assert_int_equal(stack.reasm[i].state, NET_REASM_FREE);
	assert_int_equal(net_next_timer(&stack), 0);
}

/* More than NET_REASM_FRAGS fragments abandon the datagram. */
static void test_too_many(void **state)
{
	struct net_rx_result out;
	size_t off;

	(void)state;
	setup_stack();
	make_dgram(8 * (NET_REASM_FRAGS + 4), 5, PEER_IP, OUR_IP);
	for (off = 0; off < 8 * NET_REASM_FRAGS; off += 8)
		assert_int_equal(feed(9, off, 8, true, &out), NET_RX_CONSUMED);
	assert_int_equal(feed(9, off, 8, true, &out), NET_RX_DROP);
	assert_int_equal(stack.stats.rx_frag_too_many, 1);
	assert_int_equal(stack.stats.reasm_killed, 1);
	assert_int_equal(stack.stats.reasm_bytes, 0);
	assert_int_equal(feed(9, off + 8, 8, true, &out), NET_RX_DROP);
	assert_int_equal(stack.stats.rx_frag_abandoned, 1);
}

/* Offsets and lengths RFC 791 rules out, alone and against what is held. */
static void test_bad_fragments(void **state)
{
	struct net_rx_result out;
	uint64_t bad = 0;

	(void)state;
	setup_stack();
	make_dgram(4000, 6, PEER_IP, OUR_IP);
	/* Alone: nothing is held for them. */
	assert_int_equal(feed(20, 0, 0, true, &out), NET_RX_DROP);	     /* empty */
	assert_int_equal(feed(21, 0, 100, true, &out), NET_RX_DROP);	     /* MF, not 8n */
	assert_int_equal(feed(22, 0x1fff * 8, 8, false, &out), NET_RX_DROP); /* past 65515 */
	assert_int_equal(feed(23, 65512, 8, false, &out), NET_RX_DROP);	     /* ends at 65520 */
	assert_int_equal(feed(24, 64000, 1516, false, &out), NET_RX_DROP);   /* ends at 65516 */
	bad += 5;
	assert_int_equal(stack.stats.rx_frag_bad, bad);
	assert_int_equal(stack.stats.reasm_bytes, 0);
	assert_int_equal(net_next_timer(&stack), 0);
	/* The largest end there is: accepted. */
	assert_int_equal(feed(25, 64000, 1515, false, &out), NET_RX_CONSUMED);

	/* Against the datagram's known end: past it, or a second, other end. */
	assert_int_equal(feed(30, 2960, 1048, false, &out), NET_RX_CONSUMED);
	assert_int_equal(feed(30, 4000, 16, true, &out), NET_RX_DROP);
	bad++;
	assert_int_equal(feed(31, 2960, 1048, false, &out), NET_RX_CONSUMED);
	assert_int_equal(feed(31, 1480, 8, false, &out), NET_RX_DROP);
	bad++;
	/* A last fragment that ends before data already held. */
	assert_int_equal(feed(32, 2960, 1048, true, &out), NET_RX_CONSUMED);
	assert_int_equal(feed(32, 8, 1472, false, &out), NET_RX_DROP);
	bad++;
	/* A bad fragment abandons a datagram under way. */
	assert_int_equal(feed(33, 0, 1480, true, &out), NET_RX_CONSUMED);
	assert_int_equal(feed(33, 1480, 12, true, &out), NET_RX_DROP);
	bad++;
	assert_int_equal(stack.stats.rx_frag_bad, bad);
	assert_int_equal(stack.stats.reasm_killed, 4);
	assert_int_equal(feed(33, 1480, 1480, true, &out), NET_RX_DROP);
	assert_int_equal(stack.stats.rx_frag_abandoned, 1);
	assert_int_equal(stack.stats.rx_udp, 0);
}

/* Incomplete datagrams are freed after NET_REASM_TIMEOUT_NS, by the timer or the next fragment. */
static void test_timeout(void **state)
{
	struct net_rx_result out;

	(void)state;
	setup_stack();
	make_dgram(4000, 7, PEER_IP, OUR_IP);
	assert_int_equal(net_next_timer(&stack), 0);
	assert_int_equal(feed(40, 0, 1480, true, &out), NET_RX_CONSUMED);
	assert_int_equal(net_next_timer(&stack), NOW + NET_REASM_TIMEOUT_NS);
	now += SEC;
	assert_int_equal(feed(41, 1480, 1480, true, &out), NET_RX_CONSUMED);
	assert_true(stack.stats.reasm_bytes > 0);
	now = NOW + NET_REASM_TIMEOUT_NS - 1;
	net_timers(&stack, now);
	assert_int_equal(stack.stats.reasm_timeout, 0);
	now++;
	net_timers(&stack, now);
	assert_int_equal(stack.stats.reasm_timeout, 1);
	assert_int_equal(net_next_timer(&stack), NOW + SEC + NET_REASM_TIMEOUT_NS);
	/* The rest of 40 comes too late: a new datagram (the first part is gone). */
	assert_int_equal(feed(40, 1480, 1480, true, &out), NET_RX_CONSUMED);
	assert_int_equal(feed(40, 2960, dgram_len - 2960, false, &out), NET_RX_CONSUMED);
	/* Without net_timers: the next fragment's arrival expires what is due. */
	now += NET_REASM_TIMEOUT_NS;
	assert_int_equal(feed(42, 0, 8, true, &out), NET_RX_CONSUMED);
	assert_int_equal(stack.stats.reasm_timeout, 3);
	now += NET_REASM_TIMEOUT_NS;
	net_timers(&stack, now);
	assert_int_equal(stack.stats.reasm_timeout, 4);
	check_idle();
	assert_int_equal(net_next_timer(&stack), 0);
	assert_int_equal(stack.stats.rx_dropped, 0);
}

/*
 * Memory: big datagrams under way cannot take more than NET_REASM_MEM; a
 * new datagram evicts the oldest when every slot is busy; datagrams the
 * application holds are never evicted, and a fragment finding only those is
 * dropped.
 */
static void test_memory_bound(void **state)
{
	struct net_rx_result out, held[NET_REASM_SLOTS];
	uint64_t killed;
	int i;

	(void)state;
	setup_stack();
	make_dgram(NET_UDP_MAX_DGRAM, 8, PEER_IP, OUR_IP);
	/* Last fragments first: each claims its whole size at once. */
	for (i = 0; i < NET_REASM_SLOTS; i++) {
		int v = feed((uint16_t)(200 + i), 65000, dgram_len - 65000, false, &out);

		assert_true(stack.stats.reasm_bytes <= NET_REASM_MEM);
		assert_true(v == NET_RX_CONSUMED || v == NET_RX_DROP);
		now += 1000;
	}
	assert_true(stack.stats.rx_frag_no_mem >= 1);
	assert_int_equal(stack.stats.rx_frag_no_mem, stack.stats.reasm_killed);
	/* Growing by doubling is bounded too. */
	killed = stack.stats.reasm_killed;
	for (size_t off = 0; off < 40000; off += 1480) {
		feed(300, off, 1480, true, &out);
		assert_true(stack.stats.reasm_bytes <= NET_REASM_MEM);
	}
	assert_true(stack.stats.reasm_killed >= killed);
	now += NET_REASM_TIMEOUT_NS;
	net_timers(&stack, now);
	check_idle();

	/* Every slot busy building: a new datagram evicts the oldest. */
	stack.stats.reasm_evicted = 0;
	make_dgram(2000, 9, PEER_IP, OUR_IP);
	for (i = 0; i < NET_REASM_SLOTS; i++) {
		assert_int_equal(feed((uint16_t)(400 + i), 0, 8, true, &out), NET_RX_CONSUMED);
		now += 1000;
	}
	assert_int_equal(feed(500, 0, 8, true, &out), NET_RX_CONSUMED);
	assert_int_equal(stack.stats.reasm_evicted, 1);
	assert_int_equal(feed(400, 8, 8, true, &out), NET_RX_CONSUMED); /* 400 starts again */
	assert_int_equal(stack.stats.reasm_evicted, 2);
	now += NET_REASM_TIMEOUT_NS;
	net_timers(&stack, now);
	check_idle();

	/* Every slot held by the application: no room, nothing evicted. */
	for (i = 0; i < NET_REASM_SLOTS; i++) {
		assert_int_equal(feed((uint16_t)(600 + i), 1480, dgram_len - 1480, false, &out),
				 NET_RX_CONSUMED);
		assert_int_equal(feed((uint16_t)(600 + i), 0, 1480, true, &held[i]), NET_RX_UDP);
		check_delivered(&held[i]);
	}
	killed = stack.stats.rx_frag_no_mem;
	assert_int_equal(feed(700, 0, 1480, true, &out), NET_RX_DROP);
	assert_int_equal(stack.stats.rx_frag_no_mem, killed + 1);
	for (i = 0; i < NET_REASM_SLOTS; i++) {
		assert_memory_equal(held[i].udp.payload, dgram + 8, dgram_len - 8);
		net_reasm_release(&stack, held[i].udp.reasm - 1u);
	}
	/* Releasing twice, or a slot that is not held, does nothing. */
	net_reasm_release(&stack, 0);
	net_reasm_release(&stack, NET_REASM_SLOTS);
	check_idle();
}

/* A reassembled datagram is UDP-checked as a whole: bad checksum, no port; the buffer goes. */
static void test_reassembled_udp_checks(void **state)
{
	struct net_rx_result out;

	(void)state;
	setup_stack();
	make_dgram(3000, 10, PEER_IP, OUR_IP);
	dgram[100] ^= 1;
	assert_int_equal(feed(50, 1480, dgram_len - 1480, false, &out), NET_RX_CONSUMED);
	assert_int_equal(feed(50, 0, 1480, true, &out), NET_RX_DROP);
	assert_int_equal(stack.stats.rx_udp_bad_csum, 1);
	dgram[100] ^= 1;
	put16(dgram + 2, OUR_PORT + 1);
	put16(dgram + 6, 0); /* no checksum */
	assert_int_equal(feed(51, 1480, dgram_len - 1480, false, &out), NET_RX_CONSUMED);
	assert_int_equal(feed(51, 0, 1480, true, &out), NET_RX_DROP);
	assert_int_equal(stack.stats.rx_udp_no_port, 1);
	assert_int_equal(stack.stats.reasm_ok, 2);
	check_idle();
	for (int i = 0; i < NET_REASM_SLOTS; i++)
		assert_int_equal(stack.reasm[i].state, NET_REASM_FREE);
}

/* ---------------------------------------------------------------- output */

#define IO_MAX 64

static struct {
	uint8_t frame[IO_MAX][2048];
	size_t len[IO_MAX];
	unsigned int n, allocs, fail_after; /* fail_after: allocations allowed (0: any) */
	bool busy[IO_MAX];
} io_dev;

static uint8_t *t_alloc(void *ctx, uint32_t *buf, size_t *cap)
{
	(void)ctx;
	if (io_dev.fail_after && io_dev.allocs >= io_dev.fail_after)
		return NULL;
	for (uint32_t i = 0; i < IO_MAX; i++) {
		if (!io_dev.busy[i]) {
			io_dev.busy[i] = true;
			io_dev.allocs++;
			*buf = i;
			*cap = 2048 - 12;
			return io_dev.frame[i];
		}
	}
	return NULL;
}

static int t_xmit(void *ctx, uint32_t buf, size_t len)
{
	(void)ctx;
	assert_true(buf < IO_MAX && io_dev.busy[buf]);
	assert_true(len <= 1514);
	io_dev.len[buf] = len;
	io_dev.n++;
	return 0;
}

static void t_release(void *ctx, uint32_t buf)
{
	(void)ctx;
	assert_true(buf < IO_MAX && io_dev.busy[buf]);
	io_dev.busy[buf] = false;
}

static const struct net_io test_io = {.alloc = t_alloc, .xmit = t_xmit, .release = t_release};

static void io_reset(void)
{
	memset(&io_dev, 0, sizeof(io_dev));
}

/*
 * Check the frames sent (in buffers 0..n) as RFC 791 fragments of one
 * datagram to PEER_IP and reassemble their payload into out; returns its
 * length.
 */
static size_t collect_frags(uint8_t *out, const uint8_t *mac)
{
	size_t total = 0, end_seen = 0;
	uint16_t id = 0;

	assert_true(io_dev.n > 0);
	for (unsigned int i = 0; i < io_dev.n; i++) {
		const uint8_t *f = io_dev.frame[i], *ip = f + 14;
		size_t tot = get16(ip + 2), off = (size_t)(get16(ip + 6) & 0x1fff) * 8;
		bool mf = get16(ip + 6) & 0x2000;

		assert_memory_equal(f, mac, 6);
		assert_memory_equal(f + 6, our_mac, 6);
		assert_int_equal(get16(f + 12), 0x0800);
		assert_int_equal(ip[0], 0x45);
		assert_int_equal(ref_sum(ip, 20, 0), 0xffff);
		assert_int_equal(get32(ip + 12), OUR_IP);
		assert_int_equal(get32(ip + 16), PEER_IP);
		assert_int_equal(ip[9], 17);
		assert_true(tot <= 1500);
		assert_true(io_dev.len[i] >= 14 + tot);
		if (i == 0)
			id = get16(ip + 4);
		assert_int_equal(get16(ip + 4), id);
		if (io_dev.n == 1) {
			assert_int_equal(get16(ip + 6), 0x4000); /* whole: DF, no offset */
		} else {
			assert_int_equal(get16(ip + 6) & 0x4000, 0);
			assert_int_equal(mf, i + 1 < io_dev.n);
			if (mf)
				assert_int_equal((tot - 20) % 8, 0);
		}
		assert_int_equal(off, end_seen);
		memcpy(out + off, ip + 20, tot - 20);
		end_seen = off + tot - 20;
		total = end_seen;
	}
	return total;
}

/* udp_send: a big datagram goes out in RFC 791 fragments that reassemble with a good checksum. */
static void test_fragment_output(void **state)
{
	static const size_t sizes[] = {0, 1, 1472, 1473, 2952, 2953, 8000, NET_UDP_MAX_DGRAM};
	static uint8_t data[NET_UDP_MAX_DGRAM], back[65536];
	struct net_rx_result out;

	(void)state;
	setup_stack();
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 11 + 5);
	assert_int_equal(udp_send(&stack, PEER_IP, 5, 6, data, 10, NOW), -EAGAIN);
	arp_insert(&stack, PEER_IP, peer_mac, NOW);
	assert_int_equal(udp_send(&stack, PEER_IP, 5, 6, data, 10, NOW), -ENOSYS);
	net_set_io(&stack, &test_io);
	assert_int_equal(udp_send(&stack, PEER_IP, 5, 6, data, NET_UDP_MAX_DGRAM + 1, NOW),
			 -EMSGSIZE);
	assert_int_equal(udp_send(&stack, PEER_IP, 5, 0, data, 10, NOW), -EINVAL);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k], got;

		io_reset();
		assert_int_equal(udp_send(&stack, PEER_IP, 5, 6, data, n, NOW), 0);
		assert_int_equal(io_dev.n, (8 + n + 1479) / 1480);
		got = collect_frags(back, peer_mac);
		assert_int_equal(got, 8 + n);
		assert_int_equal(get16(back), 5);
		assert_int_equal(get16(back + 2), 6);
		assert_int_equal(get16(back + 4), 8 + n);
		assert_int_equal(ref_sum(back, got, ref_pseudo(OUR_IP, PEER_IP, 17, got)), 0xffff);
		assert_memory_equal(back + 8, data, n);
	}

	/* Buffers run out half way: -ENOSPC, counted; every buffer handed back or sent. */
	io_reset();
	io_dev.fail_after = 3;
	assert_int_equal(udp_send(&stack, PEER_IP, 5, 6, data, 8000, NOW), -ENOSPC);
	assert_int_equal(io_dev.n, 3);
	assert_int_equal(stack.stats.tx_frag_errors, 1);

	/* An echo of a reassembled datagram: fragments out, checksum reused and right. */
	udp_bind(&stack, OUR_PORT);
	make_dgram(8000, 11, PEER_IP, OUR_IP);
	for (size_t off = 0; off < dgram_len; off += 1480) {
		size_t len = dgram_len - off < 1480 ? dgram_len - off : 1480;

		feed(60, off, len, off + len < dgram_len, &out);
	}
	check_delivered(&out);
	io_reset();
	assert_int_equal(udp_reply_reasm(&stack, &out.udp, out.udp.len, true), 0);
	assert_int_equal(collect_frags(back, peer_mac), dgram_len);
	assert_int_equal(get16(back), OUR_PORT);
	assert_int_equal(get16(back + 2), PEER_PORT);
	assert_int_equal(get16(back + 6), get16(dgram + 6));
	assert_int_equal(ref_sum(back, dgram_len, ref_pseudo(OUR_IP, PEER_IP, 17, dgram_len)),
			 0xffff);
	assert_memory_equal(back + 8, dgram + 8, dgram_len - 8);
	/* A changed, shorter reply: the checksum is computed afresh. */
	out.udp.payload[0] ^= 0xff;
	io_reset();
	assert_int_equal(udp_reply_reasm(&stack, &out.udp, 3000, false), 0);
	assert_int_equal(collect_frags(back, peer_mac), 3008);
	assert_int_equal(ref_sum(back, 3008, ref_pseudo(OUR_IP, PEER_IP, 17, 3008)), 0xffff);
	assert_int_equal(back[8], (uint8_t)~dgram[8]);
	assert_int_equal(udp_reply_reasm(&stack, &out.udp, 65536, false), -EMSGSIZE);
	net_reasm_release(&stack, out.udp.reasm - 1u);
	assert_int_equal(udp_reply_reasm(&stack, &out.udp, 100, false), -EINVAL);
	check_idle();
}

/* Random fragments: never more memory than the bound, never a crash, all freed in the end. */
static void test_fuzz(void **state)
{
	struct net_rx_result out;

	(void)state;
	setup_stack();
	rng_state = 0x9e3779b97f4a7c15ull;
	make_dgram(20000, 12, PEER_IP, OUR_IP);
	for (int i = 0; i < 200000; i++) {
		uint16_t id = (uint16_t)(rng() % 12);
		size_t off = (rng() % 4 == 0) ? (size_t)(rng() % 8192) * 8 : (rng() % 16) * 1480;
		size_t len = rng() % 3 ? 1480 : rng() % 1481;
		bool mf = rng() % 4 != 0;
		int v = feed(id, off, len, mf, &out);

		if (v == NET_RX_UDP) {
			assert_true(out.udp.payload != NULL);
			net_reasm_release(&stack, out.udp.reasm - 1u);
		}
		assert_true(stack.stats.reasm_bytes <= NET_REASM_MEM);
		now += rng() % (SEC / 10);
	}
	now += NET_REASM_TIMEOUT_NS;
	net_timers(&stack, now);
	check_idle();
	net_fini(&stack);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reassemble_orders), cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_overlaps),	      cmocka_unit_test(test_too_many),
	    cmocka_unit_test(test_bad_fragments),     cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_memory_bound),      cmocka_unit_test(test_reassembled_udp_checks),
	    cmocka_unit_test(test_fragment_output),   cmocka_unit_test(test_fuzz),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
