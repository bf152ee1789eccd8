/*
 * Frame helpers for the network fuzz targets: make an input's IPv4, ICMP,
 * UDP and TCP checksums right (so the fuzzer reaches what lies behind
 * them), and check that a frame the stack transmits is well formed.
 * Written from the RFCs (791, 792, 768, 793, 1071), independently of
 * usr/lib/net, so a bug there is not repeated here.
 */
#pragma once

#include "fuzz.h"

#define FN_ETH_HLEN	14
#define FN_TYPE_IPV4	0x0800
#define FN_TYPE_ARP	0x0806
#define FN_ARP_LEN	28
#define FN_IP_HLEN	20
#define FN_PROTO_ICMP	1
#define FN_PROTO_TCP	6
#define FN_PROTO_UDP	17
#define FN_ICMP_CSUM	2  /* offset of the checksum in the ICMP header */
#define FN_TCP_CSUM	16 /* ... in the TCP header */
#define FN_UDP_CSUM	6  /* ... in the UDP header */
#define FN_TCP_HLEN_MIN 20
#define FN_UDP_HLEN	8

static inline uint16_t fn_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t fn_get32(const uint8_t *p)
{
	return (uint32_t)fn_get16(p) << 16 | fn_get16(p + 2);
}

static inline void fn_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* RFC 1071: the one's complement sum of big-endian 16-bit words, folded. */
static inline uint32_t fn_sum(const uint8_t *p, size_t n, uint32_t acc)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		acc += fn_get16(p + i);
	if (n & 1)
		acc += (uint32_t)p[n - 1] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return acc;
}

/* The pseudo-header of UDP and TCP (RFC 768, RFC 793 §3.1) of the IPv4 header ip. */
static inline uint32_t fn_pseudo(const uint8_t *ip, uint8_t proto, size_t len)
{
	return fn_sum(ip + 12, 8, 0) + proto + (uint32_t)len;
}

/* Where the IPv4 datagram in frame[0, len) is, if its header fits: hlen and payload bytes. */
static inline bool fn_ipv4(const uint8_t *f, size_t len, size_t *hlen, size_t *plen)
{
	const uint8_t *ip = f + FN_ETH_HLEN;
	size_t tot;

	if (len < FN_ETH_HLEN + FN_IP_HLEN || fn_get16(f + 12) != FN_TYPE_IPV4)
		return false;
	*hlen = (size_t)(ip[0] & 0xf) * 4;
	if (*hlen < FN_IP_HLEN || FN_ETH_HLEN + *hlen > len)
		return false;
	tot = fn_get16(ip + 2);
	if (tot > len - FN_ETH_HLEN)
		tot = len - FN_ETH_HLEN;
	*plen = tot > *hlen ? tot - *hlen : 0;
	return true;
}

/* Store the checksum of n bytes at p (field at p + at) over acc. */
static inline void fn_fix(uint8_t *p, size_t n, size_t at, uint32_t acc, bool udp)
{
	uint16_t c;

	fn_put16(p + at, 0);
	c = (uint16_t)~fn_sum(p, n, acc);
	fn_put16(p + at, udp && c == 0 ? 0xffff : c); /* RFC 768: 0 means none */
}

/*
 * Make the checksums of an IPv4 frame right: the header's, and the
 * payload's for ICMP, TCP and UDP (a UDP checksum of 0, "none", stays).
 */
static inline void fn_fix_checksums(uint8_t *f, size_t len)
{
	uint8_t *ip = f + FN_ETH_HLEN, *l4;
	size_t hlen, plen, ulen;

	if (!fn_ipv4(f, len, &hlen, &plen))
		return;
	fn_fix(ip, hlen, 10, 0, false);
	l4 = ip + hlen;
	switch (ip[9]) {
	case FN_PROTO_ICMP:
		if (plen >= 4)
			fn_fix(l4, plen, FN_ICMP_CSUM, 0, false);
		break;
	case FN_PROTO_TCP:
		if (plen >= FN_TCP_HLEN_MIN)
			fn_fix(l4, plen, FN_TCP_CSUM, fn_pseudo(ip, FN_PROTO_TCP, plen), false);
		break;
	case FN_PROTO_UDP:
		if (plen < FN_UDP_HLEN || fn_get16(l4 + FN_UDP_CSUM) == 0)
			break;
		ulen = fn_get16(l4 + 4);
		if (ulen >= FN_UDP_HLEN && ulen <= plen)
			fn_fix(l4, ulen, FN_UDP_CSUM, fn_pseudo(ip, FN_PROTO_UDP, ulen), true);
		break;
	}
}

/*
 * A frame the stack built: from our MAC; an ARP one whole; an IPv4 one
 * with a plain header, a right checksum and a total length inside the
 * frame, and (when payload_csums) right ICMP/UDP/TCP checksums. Not
 * always padded to 60 bytes: a reply built in place of a shorter request
 * has only the request's room (usr/lib/net eth_pad), and NICs pad.
 */
static inline void fn_check_sent(const uint8_t *f, size_t len, const uint8_t *mac,
				 bool payload_csums)
{
	const uint8_t *ip = f + FN_ETH_HLEN, *l4 = ip + FN_IP_HLEN;
	size_t tot, plen;

	FUZZ_CHECK(len >= FN_ETH_HLEN + FN_IP_HLEN);
	FUZZ_CHECK(memcmp(f + 6, mac, 6) == 0);
	if (fn_get16(f + 12) == FN_TYPE_ARP) {
		FUZZ_CHECK(len >= FN_ETH_HLEN + FN_ARP_LEN);
		return;
	}
	FUZZ_CHECK(fn_get16(f + 12) == FN_TYPE_IPV4);
	FUZZ_CHECK(ip[0] == 0x45);
	FUZZ_CHECK(fn_sum(ip, FN_IP_HLEN, 0) == 0xffff);
	tot = fn_get16(ip + 2);
	FUZZ_CHECK(tot >= FN_IP_HLEN && FN_ETH_HLEN + tot <= len);
	plen = tot - FN_IP_HLEN;
	/* A fragment (MF or an offset, RFC 791): its UDP header, if any, covers the whole datagram. */
	if (!payload_csums || (fn_get16(ip + 6) & 0x3fff))
		return;
	switch (ip[9]) {
	case FN_PROTO_ICMP:
		FUZZ_CHECK(fn_sum(l4, plen, 0) == 0xffff);
		break;
	case FN_PROTO_TCP:
		FUZZ_CHECK(fn_sum(l4, plen, fn_pseudo(ip, FN_PROTO_TCP, plen)) == 0xffff);
		break;
	case FN_PROTO_UDP:
		FUZZ_CHECK(plen >= FN_UDP_HLEN && fn_get16(l4 + 4) == plen);
		if (fn_get16(l4 + FN_UDP_CSUM))
			FUZZ_CHECK(fn_sum(l4, plen, fn_pseudo(ip, FN_PROTO_UDP, plen)) == 0xffff);
		break;
	default:
		FUZZ_CHECK(!"an IPv4 protocol the stack does not send");
	}
}
