/* Unit tests for the network stack's checksums, builders, zero-copy UDP replies and ARP cache. */
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

/* Replies are checked byte by byte against the RFC layouts and a reference checksum. */

#define OUR_IP	  0x0a00020fu /* 10.0.2.15 */
#define PEER_IP	  0x0a000264u /* 10.0.2.100 */
#define GW_IP	  0x0a000202u /* 10.0.2.2 */
#define FAR_IP	  0x08080808u /* 8.8.8.8, off the subnet */
#define NETMASK	  0xffffff00u
#define OUR_PORT  7
#define PEER_PORT 40000
#define NOW	  1000000000ull

static const uint8_t our_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t peer_mac[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x64};
static const uint8_t gw_mac[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
static const uint8_t bcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static struct net_stack stack;

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void fill_payload(uint8_t *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 13 + seed * 7 + 3);
}

static int setup_mode(uint8_t mode, uint32_t gateway)
{
	struct net_config cfg = {
	    .ip = OUR_IP,
	    .netmask = NETMASK,
	    .gateway = gateway,
	    .udp_csum = mode,
	};

	memcpy(cfg.mac, our_mac, 6);
	net_init(&stack, &cfg);
	assert_int_equal(udp_bind(&stack, OUR_PORT), 0);
	return 0;
}

static int setup(void **state)
{
	(void)state;
	return setup_mode(NET_UDP_CSUM_FULL, GW_IP);
}

/* ---- checksums ---- */

static void test_csum_reference(void **state)
{
	static uint8_t buf[2100];

	(void)state;
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = round == 0   ? (uint8_t)rng()
				 : round == 1 ? 0xff
					      : (uint8_t)(i & 1 ? 0 : 0xff);
		for (size_t off = 0; off < 8; off++) {
			for (size_t n = 0; n <= 2048; n += n < 80 ? 1 : 37) {
				uint16_t want = (uint16_t)~ref_sum(buf + off, n, 0);
				uint16_t got =
				    net_ntohs(net_csum_fold(net_csum_partial(buf + off, n, 0)));
				size_t k = (n / 2) & ~(size_t)1;
				uint64_t chained = net_csum_partial(buf + off, k, 0);

				assert_int_equal(got, want);
				/* Chaining at an even split gives the same sum. */
				chained = net_csum_partial(buf + off + k, n - k, chained);
				assert_int_equal(net_ntohs(net_csum_fold(chained)), want);
			}
		}
	}
	/* Folding keeps the value mod 0xffff, and a non-zero sum never folds to +0. */
	for (int i = 0; i < 100000; i++) {
		uint64_t x = rng() >> (rng() % 64);
		uint16_t folded = (uint16_t)~net_csum_fold(x);

		assert_int_equal(folded % 0xffff, x % 0xffff);
		assert_int_equal(folded == 0, x == 0);
	}
	/* A large running sum carried in (the library sums byte-swapped words). */
	for (int i = 0; i < 1000; i++) {
		uint64_t start = rng();
		size_t n = rng() % 1600;
		uint16_t carried = net_ntohs((uint16_t)~net_csum_fold(start));

		assert_int_equal(net_ntohs(net_csum_fold(net_csum_partial(buf, n, start))),
				 (uint16_t)~ref_sum(buf, n, carried));
	}
	/* The largest IP datagram of all ones: carries everywhere. */
	{
		uint8_t *big = malloc(65535);

		assert_non_null(big);
		memset(big, 0xff, 65535);
		assert_int_equal(net_ntohs(net_csum_fold(net_csum_partial(big, 65535, 0))),
				 (uint16_t)~ref_sum(big, 65535, 0));
		free(big);
	}
}

static void test_csum_pseudo(void **state)
{
	(void)state;
	for (int i = 0; i < 1000; i++) {
		uint32_t src = (uint32_t)rng(), dst = (uint32_t)rng();
		uint16_t len = (uint16_t)rng();
		uint8_t proto = (uint8_t)rng();
		uint8_t hdr[12];

		/* RFC 768's pseudo-header as bytes. */
		put32(hdr, src);
		put32(hdr + 4, dst);
		hdr[8] = 0;
		hdr[9] = proto;
		put16(hdr + 10, len);
		assert_int_equal(net_ntohs(net_csum_fold(net_csum_pseudo(src, dst, proto, len))),
				 (uint16_t)~ref_sum(hdr, 12, 0));
		assert_int_equal((uint16_t)~ref_sum(hdr, 12, 0),
				 (uint16_t)~ref_sum(NULL, 0, ref_pseudo(src, dst, proto, len)));
	}
	assert_int_equal(net_htons(0x1234), 0x3412);
	assert_int_equal(net_ntohl(0x01020304), 0x04030201);
}

/* ---- building frames to feed in ---- */

static size_t mk_udp_req(uint8_t *f, size_t optlen, size_t plen, bool csum)
{
	uint8_t *ip = f + 14, *udp;
	size_t hlen = 20 + optlen;

	memcpy(f, our_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	put16(f + 12, 0x0800);
	ip[0] = (uint8_t)(0x40 | hlen / 4);
	ip[1] = 0x10;
	put16(ip + 2, (uint16_t)(hlen + 8 + plen));
	put16(ip + 4, 0x4242);
	put16(ip + 6, 0);
	ip[8] = 3;
	ip[9] = 17;
	put16(ip + 10, 0);
	put32(ip + 12, PEER_IP);
	put32(ip + 16, OUR_IP);
	for (size_t i = 0; i < optlen; i++)
		ip[20 + i] = i + 1 == optlen ? 0 : 1;
	put16(ip + 10, (uint16_t)~ref_sum(ip, hlen, 0));
	udp = ip + hlen;
	put16(udp, PEER_PORT);
	put16(udp + 2, OUR_PORT);
	put16(udp + 4, (uint16_t)(8 + plen));
	put16(udp + 6, 0);
	fill_payload(udp + 8, plen, (unsigned int)plen);
	if (csum) {
		uint16_t c =
		    (uint16_t)~ref_sum(udp, 8 + plen, ref_pseudo(PEER_IP, OUR_IP, 17, 8 + plen));

		put16(udp + 6, c ? c : 0xffff);
	}
	return 14 + hlen + 8 + plen;
}

static void receive_udp(uint8_t *f, size_t len, struct net_udp *u)
{
	struct net_rx_result out;

	assert_int_equal(net_rx(&stack, f, len, &out, NOW), NET_RX_UDP);
	*u = out.udp;
}

/*
 * Check a UDP frame of n bytes from us to dst_mac/dst_ip: headers, lengths,
 * payload, Ethernet padding and the checksum the configured mode calls for.
 */
static void check_udp_frame(const uint8_t *f, int n, const uint8_t *dst_mac, uint32_t dst_ip,
			    uint16_t sport, uint16_t dport, const uint8_t *payload, size_t plen,
			    size_t cap, uint8_t mode)
{
	const uint8_t *ip = f + 14, *udp = f + 34;
	size_t want_len = 42 + plen;
	uint16_t c = get16(udp + 6);

	/* Padded to the Ethernet minimum when the buffer has room for it. */
	if (want_len < 60 && cap >= 60)
		want_len = 60;
	assert_int_equal(n, want_len);
	assert_memory_equal(f, dst_mac, 6);
	assert_memory_equal(f + 6, our_mac, 6);
	assert_int_equal(get16(f + 12), 0x0800);

	assert_int_equal(ip[0], 0x45);
	assert_int_equal(get16(ip + 2), 28 + plen);
	assert_int_equal(get16(ip + 6), 0x4000);
	assert_int_equal(ip[8], 64);
	assert_int_equal(ip[9], 17);
	assert_int_equal(get32(ip + 12), OUR_IP);
	assert_int_equal(get32(ip + 16), dst_ip);
	assert_int_equal(ref_sum(ip, 20, 0), 0xffff);

	assert_int_equal(get16(udp), sport);
	assert_int_equal(get16(udp + 2), dport);
	assert_int_equal(get16(udp + 4), 8 + plen);
	assert_memory_equal(udp + 8, payload, plen);
	for (size_t i = 42 + plen; i < (size_t)n; i++)
		assert_int_equal(f[i], 0);

	switch (mode) {
	case NET_UDP_CSUM_NONE:
		assert_int_equal(c, 0);
		break;
	case NET_UDP_CSUM_OFFLOAD:
		/* The pseudo-header sum, which the device completes over the datagram. */
		assert_int_equal(c, ref_sum(NULL, 0, ref_pseudo(OUR_IP, dst_ip, 17, 8 + plen)));
		break;
	default:
		assert_int_not_equal(c, 0);
		assert_int_equal(ref_sum(udp, 8 + plen, ref_pseudo(OUR_IP, dst_ip, 17, 8 + plen)),
				 0xffff);
		break;
	}
}

/* ---- zero-copy replies ---- */

static void test_udp_echo(void **state)
{
	static const size_t sizes[] = {0, 1, 2, 17, 18, 19, 100, 1024, 1431, 1432, 1471, 1472};
	static const size_t opts[] = {0, 8, 40};

	(void)state;
	for (uint8_t mode = 0; mode < 3; mode++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			for (size_t o = 0; o < 3; o++) {
				for (int csum = 0; csum < 2; csum++) {
					static uint8_t f[2048];
					uint8_t want[1500];
					struct net_udp u;
					size_t len, plen = sizes[i];
					int n;

					if (plen + opts[o] > NET_UDP_MAX_PAYLOAD)
						continue;
					setup_mode(mode, GW_IP);
					len = mk_udp_req(f, opts[o], plen, csum);
					receive_udp(f, len, &u);
					n = udp_echo_inplace(&stack, f, sizeof(f), &u);
					fill_payload(want, plen, (unsigned int)plen);
					check_udp_frame(f, n, peer_mac, PEER_IP, OUR_PORT,
							PEER_PORT, want, plen, sizeof(f), mode);
					assert_int_equal(stack.stats.tx_frames, 1);
					assert_int_equal(stack.stats.tx_bytes, (uint64_t)n);
				}
			}
		}
	}
}

/* The app rewrites the payload (other length, e.g. sockperf's flag) before replying. */
static void test_udp_reply_modified(void **state)
{
	static const size_t opts[] = {0, 4, 40};
	static uint8_t f[2048];

	(void)state;
	for (size_t o = 0; o < 3; o++) {
		for (int iter = 0; iter < 300; iter++) {
			size_t plen = rng() % (NET_UDP_MAX_PAYLOAD - 40);
			size_t rlen = rng() % (NET_UDP_MAX_PAYLOAD + 1);
			uint8_t want[1500];
			struct net_udp u;
			size_t len;
			int n;

			setup(NULL);
			len = mk_udp_req(f, opts[o], plen, rng() % 2);
			receive_udp(f, len, &u);
			for (size_t i = 0; i < rlen; i++)
				want[i] = (uint8_t)rng();
			memcpy(u.payload, want, rlen);
			n = udp_reply_inplace(&stack, f, sizeof(f), &u, rlen);
			check_udp_frame(f, n, peer_mac, PEER_IP, OUR_PORT, PEER_PORT, want, rlen,
					sizeof(f), NET_UDP_CSUM_FULL);
		}
	}
	/* A cap too small to pad: no padding, no write past cap. */
	{
		uint8_t small[43];
		uint8_t want[1] = {0x5a};
		struct net_udp u;
		size_t len;
		int n;

		setup(NULL);
		len = mk_udp_req(small, 0, 1, true);
		assert_int_equal(len, 43);
		receive_udp(small, len, &u);
		u.payload[0] = 0x5a;
		n = udp_reply_inplace(&stack, small, sizeof(small), &u, 1);
		check_udp_frame(small, n, peer_mac, PEER_IP, OUR_PORT, PEER_PORT, want, 1,
				sizeof(small), NET_UDP_CSUM_FULL);
	}
}

static void test_udp_reply_errors(void **state)
{
	static uint8_t f[2048];
	struct net_udp u, bad;
	size_t len;

	(void)state;
	setup(NULL);
	len = mk_udp_req(f, 0, 100, true);
	receive_udp(f, len, &u);
	assert_int_equal(udp_reply_inplace(&stack, f, sizeof(f), &u, NET_UDP_MAX_PAYLOAD + 1),
			 -EMSGSIZE);
	assert_int_equal(udp_reply_inplace(&stack, f, 141, &u, 100), -EMSGSIZE);
	bad = u;
	bad.sport = 0;
	assert_int_equal(udp_reply_inplace(&stack, f, sizeof(f), &bad, 100), -EINVAL);
	assert_int_equal(udp_echo_inplace(&stack, f, sizeof(f), &bad), -EINVAL);
	bad = u;
	bad.payload = f + 10;
	assert_int_equal(udp_reply_inplace(&stack, f, sizeof(f), &bad, 100), -EINVAL);
	bad.payload = f + sizeof(f) - 50;
	assert_int_equal(udp_reply_inplace(&stack, f, sizeof(f), &bad, 100), -EINVAL);
	assert_int_equal(stack.stats.tx_frames, 0);
	assert_int_equal(udp_reply_inplace(&stack, f, 142, &u, 100), 142);
}

/* ---- ARP requests and fresh datagrams ---- */

static void check_arp_request(const uint8_t *f, int n, size_t cap, uint32_t target)
{
	assert_int_equal(n, cap < 60 ? 42 : 60);
	assert_memory_equal(f, bcast_mac, 6);
	assert_memory_equal(f + 6, our_mac, 6);
	assert_int_equal(get16(f + 12), 0x0806);
	assert_int_equal(get16(f + 14), 1);
	assert_int_equal(get16(f + 16), 0x0800);
	assert_int_equal(f[18], 6);
	assert_int_equal(f[19], 4);
	assert_int_equal(get16(f + 20), 1);
	assert_memory_equal(f + 22, our_mac, 6);
	assert_int_equal(get32(f + 28), OUR_IP);
	for (int i = 32; i < 38; i++)
		assert_int_equal(f[i], 0);
	assert_int_equal(get32(f + 38), target);
	for (int i = 42; i < n; i++)
		assert_int_equal(f[i], 0);
}

static void feed_arp_reply(const uint8_t *mac, uint32_t ip)
{
	uint8_t f[42];
	struct net_rx_result out;

	memcpy(f, our_mac, 6);
	memcpy(f + 6, mac, 6);
	put16(f + 12, 0x0806);
	put16(f + 14, 1);
	put16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	put16(f + 20, 2);
	memcpy(f + 22, mac, 6);
	put32(f + 28, ip);
	memcpy(f + 32, our_mac, 6);
	put32(f + 38, OUR_IP);
	assert_int_equal(net_rx(&stack, f, sizeof(f), &out, NOW), NET_RX_CONSUMED);
}

static void test_arp_build_request(void **state)
{
	uint8_t f[128];

	(void)state;
	setup(NULL);
	memset(f, 0xaa, sizeof(f));
	check_arp_request(f, arp_build_request(&stack, f, sizeof(f), PEER_IP), sizeof(f), PEER_IP);
	memset(f, 0xaa, sizeof(f));
	check_arp_request(f, arp_build_request(&stack, f, 42, PEER_IP), 42, PEER_IP);
	assert_int_equal(f[42], 0xaa);
	check_arp_request(f, arp_build_request(&stack, f, 59, PEER_IP), 59, PEER_IP);
	/* Off the subnet: ask for the gateway. */
	check_arp_request(f, arp_build_request(&stack, f, 60, FAR_IP), 60, GW_IP);
	assert_int_equal(arp_build_request(&stack, f, 41, PEER_IP), -EMSGSIZE);
	assert_int_equal(arp_build_request(&stack, f, 60, 0), -EINVAL);
	assert_int_equal(arp_build_request(&stack, f, 60, 0xffffffff), -EINVAL);
	assert_int_equal(arp_build_request(&stack, f, 60, 0x0a0002ff), -EINVAL);
	assert_int_equal(stack.stats.tx_frames, 4);
	setup_mode(NET_UDP_CSUM_FULL, 0);
	assert_int_equal(arp_build_request(&stack, f, 60, FAR_IP), -EINVAL);
}

static void test_udp_build(void **state)
{
	static uint8_t f[2048];
	uint8_t data[1500];
	int n;

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)rng();
	for (uint8_t mode = 0; mode < 3; mode++) {
		setup_mode(mode, GW_IP);
		assert_int_equal(
		    udp_build(&stack, f, sizeof(f), PEER_IP, 5000, 6000, data, 10, NOW), -EAGAIN);
		assert_int_equal(udp_build(&stack, f, sizeof(f), FAR_IP, 5000, 6000, data, 10, NOW),
				 -EAGAIN);
		assert_int_equal(stack.stats.tx_frames, 0);
		feed_arp_reply(peer_mac, PEER_IP);
		feed_arp_reply(gw_mac, GW_IP);
		for (size_t len = 0; len <= NET_UDP_MAX_PAYLOAD; len += len < 40 ? 1 : 97) {
			n = udp_build(&stack, f, sizeof(f), PEER_IP, 5000, 6000, data, len, NOW);
			check_udp_frame(f, n, peer_mac, PEER_IP, 5000, 6000, data, len, sizeof(f),
					mode);
			n = udp_build(&stack, f, sizeof(f), FAR_IP, 5000, 6000, data, len, NOW);
			check_udp_frame(f, n, gw_mac, FAR_IP, 5000, 6000, data, len, sizeof(f),
					mode);
		}
		n = udp_build(&stack, f, sizeof(f), PEER_IP, 1, 2, data, NET_UDP_MAX_PAYLOAD, NOW);
		check_udp_frame(f, n, peer_mac, PEER_IP, 1, 2, data, NET_UDP_MAX_PAYLOAD, sizeof(f),
				mode);
		/* Broadcasts need no ARP. */
		n = udp_build(&stack, f, sizeof(f), 0xffffffff, 68, 67, data, 300, NOW);
		check_udp_frame(f, n, bcast_mac, 0xffffffff, 68, 67, data, 300, sizeof(f), mode);
		n = udp_build(&stack, f, sizeof(f), 0x0a0002ff, 9, 9, data, 3, NOW);
		check_udp_frame(f, n, bcast_mac, 0x0a0002ff, 9, 9, data, 3, sizeof(f), mode);
	}
	/* The payload may already be in place: no copy. */
	setup(NULL);
	feed_arp_reply(peer_mac, PEER_IP);
	memcpy(f + NET_UDP_PAYLOAD_OFF, data, 200);
	n = udp_build(&stack, f, sizeof(f), PEER_IP, 5, 6, f + NET_UDP_PAYLOAD_OFF, 200, NOW);
	check_udp_frame(f, n, peer_mac, PEER_IP, 5, 6, data, 200, sizeof(f), NET_UDP_CSUM_FULL);
	/* The cache entry expires. */
	assert_int_equal(
	    udp_build(&stack, f, sizeof(f), PEER_IP, 5, 6, data, 1, NOW + NET_ARP_TTL_NS), -EAGAIN);
	/* Errors. */
	assert_int_equal(
	    udp_build(&stack, f, sizeof(f), PEER_IP, 5, 6, data, NET_UDP_MAX_PAYLOAD + 1, NOW),
	    -EMSGSIZE);
	assert_int_equal(udp_build(&stack, f, 141, PEER_IP, 5, 6, data, 100, NOW), -EMSGSIZE);
	assert_int_equal(udp_build(&stack, f, 142, PEER_IP, 5, 6, data, 100, NOW), 142);
	assert_int_equal(udp_build(&stack, f, sizeof(f), PEER_IP, 5, 0, data, 1, NOW), -EINVAL);
	assert_int_equal(udp_build(&stack, f, sizeof(f), 0, 5, 6, data, 1, NOW), -EINVAL);
	assert_int_equal(udp_build(&stack, f, sizeof(f), 0x7f000001, 5, 6, data, 1, NOW), -EINVAL);
	assert_int_equal(udp_build(&stack, f, sizeof(f), 0xe0000001, 5, 6, data, 1, NOW), -EINVAL);
	assert_int_equal(udp_build(&stack, f, sizeof(f), OUR_IP, 5, 6, data, 1, NOW), -EINVAL);
	assert_int_equal(udp_build(&stack, f, sizeof(f), PEER_IP, 5, 6, NULL, 0, NOW), 60);
	setup_mode(NET_UDP_CSUM_FULL, 0);
	assert_int_equal(udp_build(&stack, f, sizeof(f), FAR_IP, 5, 6, data, 1, NOW), -EINVAL);
}

/* RFC 768: a checksum that computes to 0 is sent as 0xffff (0 means "none"). */
static void test_udp_csum_zero_sent_as_ones(void **state)
{
	uint8_t f[128], data[2] = {0, 0}, hdr[8];
	uint16_t rest, word;
	int n;

	(void)state;
	setup(NULL);
	feed_arp_reply(peer_mac, PEER_IP);
	/* Choose the payload word that makes the whole sum 0xffff. */
	put16(hdr, 5);
	put16(hdr + 2, 6);
	put16(hdr + 4, 10);
	put16(hdr + 6, 0);
	rest = ref_sum(hdr, 8, ref_pseudo(OUR_IP, PEER_IP, 17, 10));
	word = (uint16_t)~rest;
	put16(data, word);
	n = udp_build(&stack, f, sizeof(f), PEER_IP, 5, 6, data, 2, NOW);
	assert_int_equal(n, 60);
	assert_int_equal(get16(f + 40), 0xffff);
	assert_int_equal(ref_sum(f + 34, 10, ref_pseudo(OUR_IP, PEER_IP, 17, 10)), 0xffff);
}

/* Successive datagrams carry successive IP identifications. */
static void test_ip_id(void **state)
{
	uint8_t f[128];
	uint16_t first;

	(void)state;
	setup(NULL);
	feed_arp_reply(peer_mac, PEER_IP);
	assert_true(udp_build(&stack, f, sizeof(f), PEER_IP, 5, 6, NULL, 0, NOW) > 0);
	first = get16(f + 18);
	assert_true(udp_build(&stack, f, sizeof(f), PEER_IP, 5, 6, NULL, 0, NOW) > 0);
	assert_int_equal(get16(f + 18), (uint16_t)(first + 1));
}

/* ---- the ARP cache, routing and the port table ---- */

static void test_arp_cache(void **state)
{
	uint8_t mac[6], m[6] = {0x02, 0, 0, 0, 0, 0};

	(void)state;
	setup(NULL);
	assert_false(arp_lookup(&stack, PEER_IP, mac, NOW));
	/* Fill every slot; entry i expires at NOW + i + TTL. */
	for (uint32_t i = 0; i < NET_ARP_SLOTS; i++) {
		m[5] = (uint8_t)i;
		arp_insert(&stack, 0x0a000100 + i, m, NOW + i);
	}
	for (uint32_t i = 0; i < NET_ARP_SLOTS; i++) {
		assert_true(arp_lookup(&stack, 0x0a000100 + i, mac, NOW + NET_ARP_SLOTS));
		assert_int_equal(mac[5], i);
	}
	/* Refreshing an entry does not take a second slot. */
	m[5] = 0x77;
	arp_insert(&stack, 0x0a000100, m, NOW + NET_ARP_SLOTS);
	for (uint32_t i = 0; i < NET_ARP_SLOTS; i++)
		assert_true(arp_lookup(&stack, 0x0a000100 + i, mac, NOW + NET_ARP_SLOTS));
	/* Full: the next one evicts the entry expiring first (now number 1). */
	arp_insert(&stack, PEER_IP, peer_mac, NOW + NET_ARP_SLOTS);
	assert_true(arp_lookup(&stack, PEER_IP, mac, NOW + NET_ARP_SLOTS));
	assert_memory_equal(mac, peer_mac, 6);
	assert_false(arp_lookup(&stack, 0x0a000101, mac, NOW + NET_ARP_SLOTS));
	assert_true(arp_lookup(&stack, 0x0a000100, mac, NOW + NET_ARP_SLOTS));
	assert_int_equal(mac[5], 0x77);
	/* An expired slot is reused before anything live is evicted. */
	arp_insert(&stack, GW_IP, gw_mac, NOW + 3 + NET_ARP_TTL_NS);
	assert_true(arp_lookup(&stack, GW_IP, mac, NOW + 3 + NET_ARP_TTL_NS));
	assert_true(arp_lookup(&stack, 0x0a00010f, mac, NOW + 3 + NET_ARP_TTL_NS));
	/* A clock at the end of time does not wrap the expiry. */
	arp_insert(&stack, PEER_IP, peer_mac, UINT64_MAX - 5);
	assert_true(arp_lookup(&stack, PEER_IP, mac, UINT64_MAX - 1));
}

static void test_next_hop_and_ports(void **state)
{
	uint32_t hop = 0;

	(void)state;
	setup(NULL);
	assert_true(net_next_hop(&stack, PEER_IP, &hop));
	assert_int_equal(hop, PEER_IP);
	assert_true(net_next_hop(&stack, FAR_IP, &hop));
	assert_int_equal(hop, GW_IP);
	assert_false(net_next_hop(&stack, 0, &hop));
	setup_mode(NET_UDP_CSUM_FULL, 0);
	assert_false(net_next_hop(&stack, FAR_IP, &hop));

	/* A /31 (RFC 3021) has no broadcast address: the other end is a plain host. */
	stack.cfg.netmask = 0xfffffffe;
	stack.cfg.ip = 0x0a00020e;
	{
		uint8_t f[64];

		assert_int_equal(udp_build(&stack, f, sizeof(f), OUR_IP, 5, 6, NULL, 0, NOW),
				 -EAGAIN);
		stack.cfg.netmask = 0xffffffff;
		assert_int_equal(udp_build(&stack, f, sizeof(f), 0x0a00020f, 5, 6, NULL, 0, NOW),
				 -EINVAL);
	}
	setup_mode(NET_UDP_CSUM_FULL, 0);

	assert_int_equal(udp_bind(&stack, 0), -EINVAL);
	assert_false(udp_is_bound(&stack, 0));
	for (uint32_t p = 1; p <= 65535; p += p < 200 ? 1 : 251) {
		assert_int_equal(udp_is_bound(&stack, (uint16_t)p), p == OUR_PORT);
		assert_int_equal(udp_bind(&stack, (uint16_t)p), 0);
		assert_true(udp_is_bound(&stack, (uint16_t)p));
		udp_unbind(&stack, (uint16_t)p);
		assert_false(udp_is_bound(&stack, (uint16_t)p));
	}
	assert_int_equal(udp_bind(&stack, 65535), 0);
	assert_true(udp_is_bound(&stack, 65535));
	assert_false(udp_is_bound(&stack, 65534));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_csum_reference),
	    cmocka_unit_test(test_csum_pseudo),
	    cmocka_unit_test_setup(test_udp_echo, setup),
	    cmocka_unit_test_setup(test_udp_reply_modified, setup),
	    cmocka_unit_test_setup(test_udp_reply_errors, setup),
	    cmocka_unit_test_setup(test_arp_build_request, setup),
	    cmocka_unit_test_setup(test_udp_build, setup),
	    cmocka_unit_test_setup(test_udp_csum_zero_sent_as_ones, setup),
	    cmocka_unit_test_setup(test_ip_id, setup),
	    cmocka_unit_test_setup(test_arp_cache, setup),
	    cmocka_unit_test_setup(test_next_hop_and_ports, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
