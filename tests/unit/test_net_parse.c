/* Unit tests for the network receive path: good frames, in-place replies, bad frames, fuzzing. */
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
 * Frames are built here byte by byte from the RFCs' layouts, and checksums
 * are checked with a plain 16-bit big-endian reference sum, so nothing below
 * trusts the library's own header structs or checksum code.
 */

#define OUR_IP	  0x0a00020fu /* 10.0.2.15 */
#define PEER_IP	  0x0a000264u /* 10.0.2.100 */
#define GW_IP	  0x0a000202u /* 10.0.2.2 */
#define NETMASK	  0xffffff00u
#define OUR_PORT  7
#define PEER_PORT 40000
#define NOW	  1000000000ull

static const uint8_t our_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t peer_mac[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x64};
static const uint8_t other_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x99};
static const uint8_t bcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

#define ST(field) offsetof(struct net_stats, field)
#define NSTATS	  (sizeof(struct net_stats) / sizeof(uint64_t))

static struct net_stack stack;

/* ---- frame builders ---- */

static size_t mk_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put16(f + 12, type);
	return 14;
}

/* Recompute the IPv4 header checksum of the header at ip. */
static void fix_ip_csum(uint8_t *ip)
{
	size_t hlen = (size_t)(ip[0] & 0xf) * 4;

	put16(ip + 10, 0);
	put16(ip + 10, (uint16_t)~ref_sum(ip, hlen, 0));
}

static size_t mk_ip(uint8_t *p, size_t optlen, size_t payload, uint8_t proto, uint32_t src,
		    uint32_t dst)
{
	size_t hlen = 20 + optlen;

	p[0] = (uint8_t)(0x40 | hlen / 4);
	p[1] = 0;
	put16(p + 2, (uint16_t)(hlen + payload));
	put16(p + 4, 0x1234);
	put16(p + 6, 0x4000); /* DF */
	p[8] = 64;
	p[9] = proto;
	put32(p + 12, src);
	put32(p + 16, dst);
	/* Options: NOPs and a closing End of Option List (RFC 791). */
	for (size_t i = 0; i < optlen; i++)
		p[20 + i] = i + 1 == optlen ? 0 : 1;
	fix_ip_csum(p);
	return hlen;
}

static void fill_payload(uint8_t *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 13 + seed * 7 + 3);
}

/* Fill up to pad_to with a non-zero pattern, so that padding must be handled. */
static size_t pad(uint8_t *f, size_t len, size_t pad_to)
{
	for (; len < pad_to; len++)
		f[len] = 0xee;
	return len;
}

static void fix_udp_csum(uint8_t *f)
{
	uint8_t *ip = f + 14;
	size_t hlen = (size_t)(ip[0] & 0xf) * 4;
	uint8_t *udp = ip + hlen;
	size_t ulen = get16(udp + 4);
	uint16_t c;

	put16(udp + 6, 0);
	c = (uint16_t)~ref_sum(udp, ulen, ref_pseudo(get32(ip + 12), get32(ip + 16), 17, ulen));
	put16(udp + 6, c ? c : 0xffff);
}

static size_t mk_udp(uint8_t *f, size_t optlen, size_t plen, bool csum, uint16_t dport,
		     size_t pad_to)
{
	size_t off = mk_eth(f, our_mac, peer_mac, 0x0800);
	uint8_t *udp;

	off += mk_ip(f + off, optlen, 8 + plen, 17, PEER_IP, OUR_IP);
	udp = f + off;
	put16(udp, PEER_PORT);
	put16(udp + 2, dport);
	put16(udp + 4, (uint16_t)(8 + plen));
	put16(udp + 6, 0);
	fill_payload(udp + 8, plen, (unsigned int)plen);
	if (csum)
		fix_udp_csum(f);
	return pad(f, off + 8 + plen, pad_to);
}

static void fix_icmp_csum(uint8_t *f)
{
	uint8_t *ip = f + 14;
	size_t hlen = (size_t)(ip[0] & 0xf) * 4;
	uint8_t *icmp = ip + hlen;
	size_t mlen = get16(ip + 2) - hlen;

	put16(icmp + 2, 0);
	put16(icmp + 2, (uint16_t)~ref_sum(icmp, mlen, 0));
}

static size_t mk_icmp(uint8_t *f, size_t optlen, size_t plen, uint8_t type, uint8_t code,
		      size_t pad_to)
{
	size_t off = mk_eth(f, our_mac, peer_mac, 0x0800);
	uint8_t *icmp;

	off += mk_ip(f + off, optlen, 8 + plen, 1, PEER_IP, OUR_IP);
	icmp = f + off;
	icmp[0] = type;
	icmp[1] = code;
	put16(icmp + 4, 0xbeef); /* identifier */
	put16(icmp + 6, 0x0102); /* sequence number */
	fill_payload(icmp + 8, plen, 5);
	fix_icmp_csum(f);
	return pad(f, off + 8 + plen, pad_to);
}

static size_t mk_arp(uint8_t *f, const uint8_t *eth_dst, uint16_t op, const uint8_t *sha,
		     uint32_t spa, uint32_t tpa, size_t pad_to)
{
	uint8_t *a = f + mk_eth(f, eth_dst, sha, 0x0806);

	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, sha, 6);
	put32(a + 14, spa);
	memset(a + 18, op == 2 ? 0x11 : 0, 6);
	put32(a + 24, tpa);
	return pad(f, 42, pad_to);
}

/* ---- running frames through the stack with exact counter checks ---- */

static void stats_words(const struct net_stats *st, uint64_t w[NSTATS])
{
	memcpy(w, st, sizeof(*st));
}

static bool is_reason(size_t off)
{
	return off >= ST(rx_short) && off <= ST(rx_arp_bad);
}

/*
 * Feed len bytes of f (copied into an exact-size heap buffer, so ASan sees
 * any over-read) and check the verdict and that exactly the expected drop
 * counter moved.  The (possibly rewritten) frame is copied back to f, and a
 * delivered payload pointer is moved to point into f.
 */
static int rx_expect(uint8_t *f, size_t len, unsigned int flags, struct net_rx_result *out,
		     int want, size_t reason)
{
	uint64_t before[NSTATS], after[NSTATS];
	uint8_t *buf = malloc(len ? len : 1);
	int v;

	assert_non_null(buf);
	memcpy(buf, f, len);
	stats_words(&stack.stats, before);
	v = net_rx_flags(&stack, buf, len, flags, out, NOW);
	stats_words(&stack.stats, after);
	memcpy(f, buf, len);
	if (v == NET_RX_UDP) {
		/* Point into f rather than into the buffer about to be freed. */
		assert_true(out->udp.payload >= buf &&
			    out->udp.payload + out->udp.len <= buf + len);
		out->udp.payload = f + (out->udp.payload - buf);
	}
	free(buf);

	assert_int_equal(v, want);
	assert_int_equal(after[ST(rx_frames) / 8] - before[ST(rx_frames) / 8], 1);
	assert_int_equal(after[ST(rx_bytes) / 8] - before[ST(rx_bytes) / 8], len);
	assert_int_equal(after[ST(rx_dropped) / 8] - before[ST(rx_dropped) / 8],
			 want == NET_RX_DROP);
	for (size_t i = 0; i < NSTATS; i++) {
		if (!is_reason(i * 8))
			continue;
		assert_int_equal(after[i] - before[i], want == NET_RX_DROP && i * 8 == reason);
	}
	return v;
}

static void expect_drop(uint8_t *f, size_t len, size_t reason)
{
	struct net_rx_result out;

	rx_expect(f, len, 0, &out, NET_RX_DROP, reason);
}

static int setup(void **state)
{
	struct net_config cfg = {
	    .ip = OUR_IP,
	    .netmask = NETMASK,
	    .gateway = GW_IP,
	};

	(void)state;
	memcpy(cfg.mac, our_mac, 6);
	net_init(&stack, &cfg);
	assert_int_equal(udp_bind(&stack, OUR_PORT), 0);
	return 0;
}

/* ---- checks of replies ---- */

static void check_ip(const uint8_t *ip, size_t tot_len, uint8_t proto, uint32_t dst)
{
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(get16(ip + 2), tot_len);
	assert_int_equal(get16(ip + 6) & 0x3fff, 0); /* not a fragment */
	assert_int_equal(ip[8], 64);
	assert_int_equal(ip[9], proto);
	assert_int_equal(get32(ip + 12), OUR_IP);
	assert_int_equal(get32(ip + 16), dst);
	assert_int_equal(ref_sum(ip, 20, 0), 0xffff);
}

static void check_eth(const uint8_t *f, const uint8_t *dst, uint16_t type)
{
	assert_memory_equal(f, dst, 6);
	assert_memory_equal(f + 6, our_mac, 6);
	assert_int_equal(get16(f + 12), type);
}

static void check_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(p[i], 0);
}

/* ---- good frames ---- */

static void test_arp_request_answered(void **state)
{
	static const size_t pads[] = {0, 60, 64};

	(void)state;
	for (size_t k = 0; k < 3; k++) {
		uint8_t f[128];
		struct net_rx_result out;
		size_t len = mk_arp(f, bcast_mac, 1, peer_mac, PEER_IP, OUR_IP, pads[k]);
		uint8_t mac[6];

		setup(NULL);
		rx_expect(f, len, 0, &out, NET_RX_REPLY, 0);
		/* Padded to 60 when the received frame had room for it. */
		assert_int_equal(out.len, len < 60 ? 42 : 60);
		check_eth(f, peer_mac, 0x0806);
		assert_int_equal(get16(f + 14), 1);
		assert_int_equal(get16(f + 16), 0x0800);
		assert_int_equal(f[18], 6);
		assert_int_equal(f[19], 4);
		assert_int_equal(get16(f + 20), 2);
		assert_memory_equal(f + 22, our_mac, 6);
		assert_int_equal(get32(f + 28), OUR_IP);
		assert_memory_equal(f + 32, peer_mac, 6);
		assert_int_equal(get32(f + 38), PEER_IP);
		check_zero(f + 42, out.len - 42);
		assert_int_equal(stack.stats.arp_requests_answered, 1);
		assert_int_equal(stack.stats.tx_frames, 1);
		assert_int_equal(stack.stats.tx_bytes, out.len);
		/* The requester targeted us: it is learned (RFC 826). */
		assert_true(arp_lookup(&stack, PEER_IP, mac, NOW));
		assert_memory_equal(mac, peer_mac, 6);
	}
}

static void test_arp_request_unicast_and_probe(void **state)
{
	uint8_t f[64];
	struct net_rx_result out;
	size_t len;
	uint8_t mac[6];

	(void)state;
	setup(NULL);
	/* Unicast to our MAC (a cache refresh) is answered too. */
	len = mk_arp(f, our_mac, 1, peer_mac, PEER_IP, OUR_IP, 0);
	rx_expect(f, len, 0, &out, NET_RX_REPLY, 0);
	/* An RFC 5227 probe (sender 0.0.0.0) is answered but not learned. */
	setup(NULL);
	len = mk_arp(f, bcast_mac, 1, peer_mac, 0, OUR_IP, 0);
	rx_expect(f, len, 0, &out, NET_RX_REPLY, 0);
	assert_int_equal(get32(f + 38), 0);
	assert_false(arp_lookup(&stack, 0, mac, NOW));
}

static void test_arp_request_for_others(void **state)
{
	uint8_t f[64];
	struct net_rx_result out;
	size_t len;
	uint8_t mac[6];

	(void)state;
	setup(NULL);
	len = mk_arp(f, bcast_mac, 1, peer_mac, PEER_IP, GW_IP, 0);
	rx_expect(f, len, 0, &out, NET_RX_CONSUMED, 0);
	/* Not the target and not cached: not learned (RFC 826 merge rule). */
	assert_false(arp_lookup(&stack, PEER_IP, mac, NOW));
	/* Cached: refreshed with the new address. */
	arp_insert(&stack, PEER_IP, other_mac, NOW - 1);
	len = mk_arp(f, bcast_mac, 1, peer_mac, PEER_IP, GW_IP, 0);
	rx_expect(f, len, 0, &out, NET_RX_CONSUMED, 0);
	assert_true(arp_lookup(&stack, PEER_IP, mac, NOW));
	assert_memory_equal(mac, peer_mac, 6);
	assert_int_equal(stack.stats.tx_frames, 0);
}

static void test_arp_reply_learned(void **state)
{
	uint8_t f[64];
	struct net_rx_result out;
	size_t len;
	uint8_t mac[6];

	(void)state;
	setup(NULL);
	len = mk_arp(f, our_mac, 2, peer_mac, GW_IP, OUR_IP, 60);
	rx_expect(f, len, 0, &out, NET_RX_CONSUMED, 0);
	assert_int_equal(stack.stats.arp_replies_learned, 1);
	assert_true(arp_lookup(&stack, GW_IP, mac, NOW));
	assert_memory_equal(mac, peer_mac, 6);
	assert_true(arp_lookup(&stack, GW_IP, mac, NOW + NET_ARP_TTL_NS - 1));
	assert_false(arp_lookup(&stack, GW_IP, mac, NOW + NET_ARP_TTL_NS));
	/* A broadcast reply for someone else about an unknown host: ignored. */
	len = mk_arp(f, bcast_mac, 2, other_mac, PEER_IP, PEER_IP, 0);
	rx_expect(f, len, 0, &out, NET_RX_CONSUMED, 0);
	assert_false(arp_lookup(&stack, PEER_IP, mac, NOW));
	assert_int_equal(stack.stats.arp_replies_learned, 1);
}

/* The reply to a request of req_len bytes: padded to 60 if the request had that room. */
static void check_echo_reply(const uint8_t *f, size_t out_len, size_t req_len, size_t plen)
{
	uint8_t want[1500];
	size_t mlen = 8 + plen;
	size_t room = req_len < 60 ? 0 : 60;

	assert_int_equal(out_len, 14 + 20 + mlen < room ? room : 14 + 20 + mlen);
	check_eth(f, peer_mac, 0x0800);
	check_ip(f + 14, 20 + mlen, 1, PEER_IP);
	assert_int_equal(f[34], 0);
	assert_int_equal(f[35], 0);
	assert_int_equal(ref_sum(f + 34, mlen, 0), 0xffff);
	assert_int_equal(get16(f + 38), 0xbeef);
	assert_int_equal(get16(f + 40), 0x0102);
	fill_payload(want, plen, 5);
	assert_memory_equal(f + 42, want, plen);
	if (14 + 20 + mlen < out_len)
		check_zero(f + 14 + 20 + mlen, out_len - (14 + 20 + mlen));
}

static void test_icmp_echo(void **state)
{
	static const size_t sizes[] = {0, 1, 2, 17, 18, 56, 1000, 1471, 1472};
	static const size_t opts[] = {0, 4, 40};

	(void)state;
	setup(NULL);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (size_t o = 0; o < 3; o++) {
			for (size_t padded = 0; padded < 2; padded++) {
				uint8_t f[1600];
				struct net_rx_result out;
				size_t len = mk_icmp(f, opts[o], sizes[i], 8, 0, padded ? 80 : 0);
				uint64_t answered = stack.stats.icmp_echo_answered;

				if (sizes[i] + opts[o] > 1472)
					continue;
				rx_expect(f, len, 0, &out, NET_RX_REPLY, 0);
				check_echo_reply(f, out.len, len, sizes[i]);
				assert_true(out.len <= len);
				assert_int_equal(stack.stats.icmp_echo_answered, answered + 1);
			}
		}
	}
	assert_true(stack.stats.rx_ip_options > 0);
}

/* An echo request whose reply is all zeros must carry checksum 0xffff, not 0. */
static void test_icmp_echo_zero_reply(void **state)
{
	uint8_t f[64];
	struct net_rx_result out;
	size_t len = mk_icmp(f, 0, 0, 8, 0, 0);

	(void)state;
	setup(NULL);
	put16(f + 38, 0);
	put16(f + 40, 0);
	fix_icmp_csum(f);
	rx_expect(f, len, 0, &out, NET_RX_REPLY, 0);
	assert_int_equal(get16(f + 36), 0xffff);
}

static void check_udp_payload(const struct net_udp *u, const uint8_t *frame, size_t off,
			      size_t plen)
{
	uint8_t want[1500];

	assert_ptr_equal(u->payload, frame + off);
	assert_int_equal(u->len, plen);
	assert_int_equal(u->sport, PEER_PORT);
	assert_int_equal(u->dport, OUR_PORT);
	assert_int_equal(u->src_ip, PEER_IP);
	assert_int_equal(u->dst_ip, OUR_IP);
	fill_payload(want, plen, (unsigned int)plen);
	assert_memory_equal(u->payload, want, plen);
}

/* Every size, with and without checksum, plain, padded and with options. */
static void test_udp_delivered(void **state)
{
	(void)state;
	setup(NULL);
	for (size_t plen = 0; plen <= NET_UDP_MAX_PAYLOAD; plen++) {
		for (int variant = 0; variant < 4; variant++) {
			static uint8_t f[1600];
			struct net_rx_result out;
			bool csum = variant & 1;
			size_t optlen = variant & 2 ? 8 : 0;
			size_t pad_to = plen % 3 == 0 ? 60 + plen % 7 : 0;
			size_t len;

			if (plen + optlen > NET_UDP_MAX_PAYLOAD)
				continue;
			len = mk_udp(f, optlen, plen, csum, OUR_PORT, pad_to);
			/* A checksum that folds to 0 is sent as 0xffff; either way non-zero. */
			rx_expect(f, len, 0, &out, NET_RX_UDP, 0);
			check_udp_payload(&out.udp, f, 42 + optlen, plen);
			assert_int_equal(out.udp.csum != 0, csum);
		}
	}
}

/* UDP length below the IP payload: the rest is ignored, as is Ethernet padding. */
static void test_udp_short_ulen(void **state)
{
	uint8_t f[128];
	struct net_rx_result out;
	size_t len = mk_udp(f, 0, 20, false, OUR_PORT, 0);

	(void)state;
	setup(NULL);
	put16(f + 38, 8 + 10);
	fix_udp_csum(f);
	rx_expect(f, len, 0, &out, NET_RX_UDP, 0);
	assert_int_equal(out.udp.len, 10);
}

static void test_udp_csum_valid_flag(void **state)
{
	uint8_t f[128];
	struct net_rx_result out;
	size_t len = mk_udp(f, 0, 32, true, OUR_PORT, 0);

	(void)state;
	setup(NULL);
	f[50] ^= 0x40;
	expect_drop(f, len, ST(rx_udp_bad_csum));
	/* The device vouched for it: no software check. */
	rx_expect(f, len, NET_RX_F_CSUM_VALID, &out, NET_RX_UDP, 0);
	/* No checksum at all is accepted (RFC 768). */
	len = mk_udp(f, 0, 32, false, OUR_PORT, 0);
	f[50] ^= 0x40;
	rx_expect(f, len, 0, &out, NET_RX_UDP, 0);
}

/*
 * A partial UDP checksum (virtio NEEDS_CSUM: the field holds the folded
 * pseudo-header sum): recognised with and without IP options, accepted
 * without verification, and echoed partial; the echo completed as a device
 * does is correct for the reply. Anything else partial is completed in
 * software and then checked as usual.
 */
static void test_udp_csum_partial(void **state)
{
	static const size_t sizes[] = {0, 1, 14, 63, 64, 1000, 1463};
	static const size_t opts[] = {0, 8};

	(void)state;
	setup(NULL);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (size_t o = 0; o < 2; o++) {
			uint8_t f[1600], copy[1600];
			struct net_rx_result out;
			size_t start = 14 + 20 + opts[o], ulen = 8 + sizes[i];
			size_t len = mk_udp(f, opts[o], sizes[i], false, OUR_PORT, 60);
			uint8_t *udp;
			int rlen;

			put16(f + start + 6, ref_sum(f, 0, ref_pseudo(PEER_IP, OUR_IP, 17, ulen)));
			memcpy(copy, f, len);
			assert_int_equal(net_rx_partial(f, len, start, 6), NET_RX_F_CSUM_PARTIAL);
			assert_memory_equal(f, copy, len); /* nothing to complete */
			/* Without the flag the partial field is a bad checksum. */
			expect_drop(f, len, ST(rx_udp_bad_csum));
			rx_expect(f, len, NET_RX_F_CSUM_PARTIAL, &out, NET_RX_UDP, 0);
			assert_true(out.udp.csum_partial);
			assert_true(udp_echo_partial(&stack, &out.udp));
			out.udp.payload[0] ^= 0xff; /* the app may change it: no patch needed */
			rlen = udp_echo_inplace(&stack, f, sizeof(f), &out.udp);
			assert_true(rlen >= 60);
			udp = f + 34; /* the reply has no options */
			assert_int_equal(get16(udp + 4), ulen);
			udp_csum_complete(f, (size_t)rlen);
			assert_int_equal(ref_sum(udp, ulen, ref_pseudo(OUR_IP, PEER_IP, 17, ulen)),
					 0xffff);
		}
	}

	/* Partial at another place (here: an ICMP checksum) is completed in software. */
	for (size_t o = 0; o < 2; o++) {
		uint8_t f[1600];
		struct net_rx_result out;
		size_t start = 14 + 20 + opts[o];
		size_t len = mk_icmp(f, opts[o], 56, 8, 0, 0);

		put16(f + start + 2, 0);
		assert_int_equal(net_rx_partial(f, len, start, 2), 0);
		rx_expect(f, len, 0, &out, NET_RX_REPLY, 0);
	}
	/* A UDP datagram whose partial field is not the checksum's: completed there, then dropped.
	 */
	{
		uint8_t f[128];
		size_t len = mk_udp(f, 0, 20, true, OUR_PORT, 0);

		assert_int_equal(net_rx_partial(f, len, 34, 4), 0);
		expect_drop(f, len, ST(rx_udp_bad_len));
	}
}

/* ---- bad frames ---- */

static void test_eth_bad(void **state)
{
	uint8_t f[128];
	size_t len;
	static const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};

	(void)state;
	setup(NULL);
	len = mk_udp(f, 0, 10, true, OUR_PORT, 0);
	put16(f + 12, 0x86dd);
	expect_drop(f, len, ST(rx_bad_ethertype));
	put16(f + 12, 0x8100);
	expect_drop(f, len, ST(rx_bad_ethertype));
	put16(f + 12, 0);
	expect_drop(f, len, ST(rx_bad_ethertype));

	len = mk_udp(f, 0, 10, true, OUR_PORT, 0);
	memcpy(f, other_mac, 6);
	expect_drop(f, len, ST(rx_not_for_us));
	memcpy(f, mcast, 6);
	expect_drop(f, len, ST(rx_not_for_us));
	/* IPv4 in a link broadcast (RFC 1122 3.3.6). */
	memcpy(f, bcast_mac, 6);
	expect_drop(f, len, ST(rx_not_for_us));

	len = mk_udp(f, 0, 10, true, OUR_PORT, 0);
	memcpy(f + 6, mcast, 6);
	expect_drop(f, len, ST(rx_bad_src));
	memcpy(f + 6, bcast_mac, 6);
	expect_drop(f, len, ST(rx_bad_src));
	len = mk_arp(f, bcast_mac, 1, peer_mac, PEER_IP, OUR_IP, 0);
	memcpy(f + 6, mcast, 6);
	expect_drop(f, len, ST(rx_bad_src));
}

/* Build a good UDP frame, let mutate() spoil it, fix the IP checksum, expect reason. */
static void ip_case(void (*mutate)(uint8_t *ip, size_t *len), size_t reason)
{
	uint8_t f[256];
	size_t len = mk_udp(f, 0, 20, true, OUR_PORT, 0);

	mutate(f + 14, &len);
	fix_ip_csum(f + 14);
	expect_drop(f, len, reason);
}

static void m_version6(uint8_t *ip, size_t *len)
{
	(void)len;
	ip[0] = 0x65;
}

static void m_version0(uint8_t *ip, size_t *len)
{
	(void)len;
	ip[0] = 0x05;
}

static void m_ihl4(uint8_t *ip, size_t *len)
{
	(void)len;
	ip[0] = 0x44;
}

static void m_ihl0(uint8_t *ip, size_t *len)
{
	(void)len;
	ip[0] = 0x40;
}

static void m_tot_big(uint8_t *ip, size_t *len)
{
	put16(ip + 2, (uint16_t)(*len - 14 + 1));
}

static void m_tot_max(uint8_t *ip, size_t *len)
{
	(void)len;
	put16(ip + 2, 0xffff);
}

static void m_tot_below_hlen(uint8_t *ip, size_t *len)
{
	(void)len;
	put16(ip + 2, 19);
}

static void m_tot_zero(uint8_t *ip, size_t *len)
{
	(void)len;
	put16(ip + 2, 0);
}

/* IHL 15 (60 bytes) on a 48-byte datagram: the header is longer than the total. */
static void m_ihl_over_total(uint8_t *ip, size_t *len)
{
	(void)len;
	ip[0] = 0x4f;
}

static void m_mf(uint8_t *ip, size_t *len)
{
	(void)len;
	put16(ip + 6, 0x2000);
}

/* Only UDP is reassembled: other protocols' fragments are dropped. */
static void m_offset_icmp(uint8_t *ip, size_t *len)
{
	(void)len;
	put16(ip + 6, 0x0001);
	ip[9] = 1;
}

static void m_offset_df(uint8_t *ip, size_t *len)
{
	(void)len;
	put16(ip + 6, 0x4000 | 0x1fff);
}

static void m_dst_other(uint8_t *ip, size_t *len)
{
	(void)len;
	put32(ip + 16, GW_IP);
}

static void m_dst_bcast(uint8_t *ip, size_t *len)
{
	(void)len;
	put32(ip + 16, 0xffffffff);
}

/* A protocol the stack does not speak (TCP has its own tests: test_tcp). */
static void m_proto_other(uint8_t *ip, size_t *len)
{
	(void)len;
	ip[9] = 99;
}

static void m_proto_zero(uint8_t *ip, size_t *len)
{
	(void)len;
	ip[9] = 0;
}

static uint32_t bad_src_value;

static void m_src(uint8_t *ip, size_t *len)
{
	(void)len;
	put32(ip + 12, bad_src_value);
}

static void test_ip_bad(void **state)
{
	static const uint32_t bad_srcs[] = {
	    0,		0x00000001, 0x7f000001, 0xe0000001, 0xefffffff,
	    0xf0000000, 0xffffffff, OUR_IP,	0x0a0002ff,
	};
	uint8_t f[128];
	size_t len;

	(void)state;
	setup(NULL);
	ip_case(m_version6, ST(rx_ip_bad_version));
	ip_case(m_version0, ST(rx_ip_bad_version));
	ip_case(m_ihl4, ST(rx_ip_bad_hlen));
	ip_case(m_ihl0, ST(rx_ip_bad_hlen));
	ip_case(m_tot_big, ST(rx_ip_bad_len));
	ip_case(m_tot_max, ST(rx_ip_bad_len));
	ip_case(m_tot_below_hlen, ST(rx_ip_bad_len));
	ip_case(m_tot_zero, ST(rx_ip_bad_len));
	ip_case(m_ihl_over_total, ST(rx_ip_bad_len));
	/* Fragments (reassembly is test_net_frag's): 28 bytes with MF, past 65535. */
	ip_case(m_mf, ST(rx_frag_bad));
	ip_case(m_offset_icmp, ST(rx_ip_fragment));
	ip_case(m_offset_df, ST(rx_frag_bad));
	ip_case(m_dst_other, ST(rx_not_for_us));
	ip_case(m_dst_bcast, ST(rx_not_for_us));
	ip_case(m_proto_other, ST(rx_ip_bad_proto));
	ip_case(m_proto_zero, ST(rx_ip_bad_proto));
	for (size_t i = 0; i < sizeof(bad_srcs) / sizeof(bad_srcs[0]); i++) {
		bad_src_value = bad_srcs[i];
		ip_case(m_src, ST(rx_bad_src));
	}

	/* Bad header checksum: every single-bit error in the checksum field. */
	for (int bit = 0; bit < 16; bit++) {
		len = mk_udp(f, 0, 40, true, OUR_PORT, 0);
		f[24 + bit / 8] ^= (uint8_t)(1 << bit % 8);
		expect_drop(f, len, ST(rx_ip_bad_csum));
	}
	/* ... and a corrupted header byte with the old checksum. */
	len = mk_udp(f, 8, 40, true, OUR_PORT, 0);
	f[14 + 22] ^= 0x10;
	expect_drop(f, len, ST(rx_ip_bad_csum));
}

static void test_udp_bad(void **state)
{
	uint8_t f[256];
	size_t len;

	(void)state;
	setup(NULL);
	/* UDP length below its header. */
	for (uint16_t ulen = 0; ulen < 8; ulen++) {
		len = mk_udp(f, 0, 40, false, OUR_PORT, 0);
		put16(f + 38, ulen);
		expect_drop(f, len, ST(rx_udp_bad_len));
	}
	/* UDP length beyond the IP payload (Ethernet padding does not count). */
	len = mk_udp(f, 0, 4, false, OUR_PORT, 60);
	put16(f + 38, 13);
	expect_drop(f, len, ST(rx_udp_bad_len));
	put16(f + 38, 0xffff);
	expect_drop(f, len, ST(rx_udp_bad_len));
	/* An IP payload too short for a UDP header. */
	len = mk_udp(f, 0, 0, false, OUR_PORT, 60);
	put16(f + 16, 20 + 7);
	fix_ip_csum(f + 14);
	expect_drop(f, len, ST(rx_short));
	put16(f + 16, 20);
	fix_ip_csum(f + 14);
	expect_drop(f, len, ST(rx_short));
	/* Bad checksums: a flipped payload bit, a wrong field, the "none" value's complement. */
	len = mk_udp(f, 0, 40, true, OUR_PORT, 0);
	f[60] ^= 1;
	expect_drop(f, len, ST(rx_udp_bad_csum));
	len = mk_udp(f, 0, 40, true, OUR_PORT, 0);
	put16(f + 40, (uint16_t)(get16(f + 40) + 1));
	expect_drop(f, len, ST(rx_udp_bad_csum));
	len = mk_udp(f, 0, 0, true, OUR_PORT, 0);
	/* Checksum over the pseudo-header uses the IP addresses. */
	put32(f + 26, GW_IP);
	fix_ip_csum(f + 14);
	expect_drop(f, len, ST(rx_udp_bad_csum));
	/* Nobody bound. */
	len = mk_udp(f, 0, 40, true, 9, 0);
	expect_drop(f, len, ST(rx_udp_no_port));
	len = mk_udp(f, 0, 40, false, 0, 0);
	expect_drop(f, len, ST(rx_udp_no_port));
	udp_unbind(&stack, OUR_PORT);
	len = mk_udp(f, 0, 40, true, OUR_PORT, 0);
	expect_drop(f, len, ST(rx_udp_no_port));
}

static void test_icmp_bad(void **state)
{
	uint8_t f[256];
	size_t len;

	(void)state;
	setup(NULL);
	len = mk_icmp(f, 0, 32, 8, 0, 0);
	f[50] ^= 0x80;
	expect_drop(f, len, ST(rx_icmp_bad_csum));
	len = mk_icmp(f, 0, 0, 8, 0, 0);
	put16(f + 36, (uint16_t)(get16(f + 36) ^ 0x100));
	expect_drop(f, len, ST(rx_icmp_bad_csum));
	len = mk_icmp(f, 0, 32, 0, 0, 0); /* an echo reply */
	expect_drop(f, len, ST(rx_icmp_other));
	len = mk_icmp(f, 0, 32, 8, 1, 0); /* echo with a non-zero code */
	expect_drop(f, len, ST(rx_icmp_other));
	len = mk_icmp(f, 0, 28, 3, 3, 0); /* port unreachable */
	expect_drop(f, len, ST(rx_icmp_other));
	len = mk_icmp(f, 0, 0, 13, 0, 0); /* timestamp */
	expect_drop(f, len, ST(rx_icmp_other));
	/* An IP payload shorter than the ICMP header. */
	len = mk_icmp(f, 0, 0, 8, 0, 60);
	put16(f + 16, 20 + 4);
	fix_ip_csum(f + 14);
	expect_drop(f, len, ST(rx_short));
	assert_int_equal(stack.stats.icmp_echo_answered, 0);
	assert_int_equal(stack.stats.tx_frames, 0);
}

static void test_arp_bad(void **state)
{
	uint8_t f[128];
	size_t len;

	(void)state;
	setup(NULL);
	len = mk_arp(f, bcast_mac, 1, peer_mac, PEER_IP, OUR_IP, 0);
	put16(f + 14, 6); /* htype IEEE 802 */
	expect_drop(f, len, ST(rx_arp_bad));
	len = mk_arp(f, bcast_mac, 1, peer_mac, PEER_IP, OUR_IP, 0);
	put16(f + 16, 0x86dd);
	expect_drop(f, len, ST(rx_arp_bad));
	len = mk_arp(f, bcast_mac, 1, peer_mac, PEER_IP, OUR_IP, 0);
	f[18] = 8;
	expect_drop(f, len, ST(rx_arp_bad));
	len = mk_arp(f, bcast_mac, 1, peer_mac, PEER_IP, OUR_IP, 0);
	f[19] = 16;
	expect_drop(f, len, ST(rx_arp_bad));
	f[19] = 0;
	expect_drop(f, len, ST(rx_arp_bad));
	f[19] = 4;
	f[18] = 0;
	expect_drop(f, len, ST(rx_arp_bad));
	for (uint16_t op = 0; op < 10; op++) {
		if (op == 1 || op == 2)
			continue;
		len = mk_arp(f, bcast_mac, op, peer_mac, PEER_IP, OUR_IP, 0);
		expect_drop(f, len, ST(rx_arp_bad));
	}
	/* A group sender hardware address; someone claiming our address. */
	len = mk_arp(f, bcast_mac, 1, peer_mac, PEER_IP, OUR_IP, 0);
	f[22] |= 1;
	expect_drop(f, len, ST(rx_bad_src));
	len = mk_arp(f, bcast_mac, 2, peer_mac, OUR_IP, OUR_IP, 0);
	expect_drop(f, len, ST(rx_bad_src));
	len = mk_arp(f, other_mac, 1, peer_mac, PEER_IP, OUR_IP, 0);
	expect_drop(f, len, ST(rx_not_for_us));
	assert_int_equal(stack.stats.arp_requests_answered, 0);
}

/*
 * Every truncation of a good frame is dropped as short (cut inside the
 * Ethernet, ARP or fixed IP header) or as a bad IP length (cut after it);
 * cuts inside Ethernet padding still work.
 */
static void truncate_all(const uint8_t *good, size_t len, bool arp, int verdict)
{
	uint8_t f[1600];
	size_t tot = arp ? 28 : get16(good + 16);

	for (size_t cut = 0; cut <= len; cut++) {
		struct net_rx_result out;
		size_t reason;

		setup(NULL);
		memcpy(f, good, len);
		if (cut >= 14 + tot) {
			rx_expect(f, cut, 0, &out, verdict, 0);
			continue;
		}
		if (cut < 14 + (arp ? 28 : 20))
			reason = ST(rx_short);
		else
			reason = ST(rx_ip_bad_len);
		expect_drop(f, cut, reason);
	}
}

static void test_truncations(void **state)
{
	uint8_t f[1600];
	size_t len;

	(void)state;
	len = mk_arp(f, bcast_mac, 1, peer_mac, PEER_IP, OUR_IP, 60);
	truncate_all(f, len, true, NET_RX_REPLY);
	len = mk_arp(f, our_mac, 2, peer_mac, PEER_IP, OUR_IP, 0);
	truncate_all(f, len, true, NET_RX_CONSUMED);
	len = mk_icmp(f, 0, 56, 8, 0, 0);
	truncate_all(f, len, false, NET_RX_REPLY);
	len = mk_icmp(f, 12, 3, 8, 0, 64);
	truncate_all(f, len, false, NET_RX_REPLY);
	len = mk_udp(f, 0, 100, true, OUR_PORT, 0);
	truncate_all(f, len, false, NET_RX_UDP);
	len = mk_udp(f, 40, 1, false, OUR_PORT, 0);
	truncate_all(f, len, false, NET_RX_UDP);
	len = mk_udp(f, 0, 2, true, OUR_PORT, 60);
	truncate_all(f, len, false, NET_RX_UDP);
	len = mk_udp(f, 0, 1472, true, OUR_PORT, 0);
	truncate_all(f, len, false, NET_RX_UDP);
}

/* ---- fuzzing: must never crash, and the books must balance ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint64_t drops_sum(const struct net_stats *st)
{
	uint64_t w[NSTATS], sum = 0;

	stats_words(st, w);
	for (size_t i = 0; i < NSTATS; i++) {
		if (is_reason(i * 8))
			sum += w[i];
	}
	return sum;
}

/* Check a verdict on a fuzzed frame of len bytes at buf (its exact size). */
static void fuzz_check(uint8_t *buf, size_t len, unsigned int flags, int v,
		       const struct net_rx_result *out)
{
	assert_true(v >= NET_RX_DROP && v <= NET_RX_UDP);
	if (v == NET_RX_REPLY) {
		assert_true(out->len >= 42 && out->len <= len);
		if (get16(buf + 12) == 0x0800)
			assert_int_equal(ref_sum(buf + 14, 20, 0), 0xffff);
	}
	if (v == NET_RX_UDP) {
		const struct net_udp *u = &out->udp;
		struct net_udp copy = *u;
		int n;

		assert_true(u->payload >= buf + 42 && u->payload + u->len <= buf + len);
		/* Echo it back: must fit the same buffer and be well formed. */
		n = udp_echo_inplace(&stack, buf, len, &copy);
		if (u->len > NET_UDP_MAX_PAYLOAD) {
			assert_int_equal(n, -EMSGSIZE);
			return;
		}
		if (u->sport == 0) {
			assert_int_equal(n, -EINVAL);
			return;
		}
		assert_true(n >= 42 && (size_t)n <= len);
		assert_int_equal(ref_sum(buf + 14, 20, 0), 0xffff);
		/* The request's checksum is reused: unverified under CSUM_VALID. */
		if (get16(buf + 40) != 0 && !(flags & NET_RX_F_CSUM_VALID))
			assert_int_equal(ref_sum(buf + 34, 8 + copy.len,
						 ref_pseudo(OUR_IP, copy.src_ip, 17, 8 + copy.len)),
					 0xffff);
	}
}

static void fuzz_one(const uint8_t *src, size_t len)
{
	uint8_t *buf = malloc(len ? len : 1);
	unsigned int flags = rng() % 8 == 0 ? NET_RX_F_CSUM_VALID : 0;
	struct net_rx_result out;
	int v;

	assert_non_null(buf);
	memcpy(buf, src, len);
	v = net_rx_flags(&stack, buf, len, flags, &out, NOW + rng() % (4 * NET_ARP_TTL_NS));
	fuzz_check(buf, len, flags, v, &out);
	free(buf);
}

static void test_fuzz_random(void **state)
{
	uint8_t f[1600];

	(void)state;
	setup(NULL);
	for (int iter = 0; iter < 200000; iter++) {
		size_t len = rng() % 4 == 0 ? rng() % 1600 : rng() % 100;

		for (size_t i = 0; i < len; i++)
			f[i] = (uint8_t)rng();
		/* Steer half of them past the Ethernet checks. */
		if (len >= 14 && rng() % 2) {
			memcpy(f, rng() % 4 ? our_mac : bcast_mac, 6);
			f[6] &= 0xfe;
			put16(f + 12, rng() % 2 ? 0x0800 : 0x0806);
		}
		fuzz_one(f, len);
	}
	assert_int_equal(drops_sum(&stack.stats), stack.stats.rx_dropped);
}

static void test_fuzz_flips(void **state)
{
	uint8_t good[1600], f[1600];
	uint64_t verdicts[4] = {0};

	(void)state;
	setup(NULL);
	for (int iter = 0; iter < 200000; iter++) {
		size_t len, flips;
		struct net_rx_result out;
		uint8_t *buf;
		int v;

		switch (rng() % 5) {
		case 0:
			len = mk_arp(good, rng() % 2 ? bcast_mac : our_mac, 1 + rng() % 2, peer_mac,
				     PEER_IP, OUR_IP, rng() % 2 ? 60 : 0);
			break;
		case 1:
			len = mk_icmp(good, (rng() % 11) * 4, rng() % 200, 8, 0, rng() % 100);
			break;
		default:
			len = mk_udp(good, (rng() % 4) * 4, rng() % 300, rng() % 2, OUR_PORT,
				     rng() % 100);
			break;
		}
		memcpy(f, good, len);
		flips = rng() % 4;
		for (size_t i = 0; i < flips; i++) {
			size_t at = rng() % len;

			if (rng() % 2)
				f[at] ^= (uint8_t)(1 << rng() % 8);
			else
				f[at] = (uint8_t)rng();
		}
		if (rng() % 8 == 0)
			len = rng() % (len + 1);
		buf = malloc(len ? len : 1);
		assert_non_null(buf);
		memcpy(buf, f, len);
		v = net_rx(&stack, buf, len, &out, NOW);
		fuzz_check(buf, len, 0, v, &out);
		verdicts[v]++;
		free(buf);
	}
	assert_int_equal(drops_sum(&stack.stats), stack.stats.rx_dropped);
	assert_int_equal(verdicts[0], stack.stats.rx_dropped);
	assert_int_equal(verdicts[3], stack.stats.rx_udp);
	/* The flips left plenty of frames good: all verdicts were reached. */
	for (int i = 0; i < 4; i++)
		assert_true(verdicts[i] > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_arp_request_answered, setup),
	    cmocka_unit_test_setup(test_arp_request_unicast_and_probe, setup),
	    cmocka_unit_test_setup(test_arp_request_for_others, setup),
	    cmocka_unit_test_setup(test_arp_reply_learned, setup),
	    cmocka_unit_test_setup(test_icmp_echo, setup),
	    cmocka_unit_test_setup(test_icmp_echo_zero_reply, setup),
	    cmocka_unit_test_setup(test_udp_delivered, setup),
	    cmocka_unit_test_setup(test_udp_short_ulen, setup),
	    cmocka_unit_test_setup(test_udp_csum_valid_flag, setup),
	    cmocka_unit_test_setup(test_udp_csum_partial, setup),
	    cmocka_unit_test_setup(test_eth_bad, setup),
	    cmocka_unit_test_setup(test_ip_bad, setup),
	    cmocka_unit_test_setup(test_udp_bad, setup),
	    cmocka_unit_test_setup(test_icmp_bad, setup),
	    cmocka_unit_test_setup(test_arp_bad, setup),
	    cmocka_unit_test_setup(test_truncations, setup),
	    cmocka_unit_test_setup(test_fuzz_random, setup),
	    cmocka_unit_test_setup(test_fuzz_flips, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
