/* Helpers shared by the network stack's source files; not part of its API. */
#pragma once

#ifdef HOST_TEST
#include <string.h>
#else
#include <lib/string.h>
#endif
#include <uapi/errno.h>

#include "net.h"

static const uint8_t net_bcast_mac[ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* Count a dropped frame under its reason. */
static inline int net_drop(struct net_stack *s, uint64_t *reason)
{
	(*reason)++;
	s->stats.rx_dropped++;
	return NET_RX_DROP;
}

static inline void net_tx_count(struct net_stack *s, size_t len)
{
	s->stats.tx_frames++;
	s->stats.tx_bytes += len;
}

/*
 * MAC helpers with fixed-size builtins: gcc expands these inline even when
 * freestanding, where memcpy/memcmp would be calls.
 */
static inline uint64_t mac_load(const uint8_t *m)
{
	uint32_t hi;
	uint16_t lo;

	__builtin_memcpy(&hi, m, sizeof(hi));
	__builtin_memcpy(&lo, m + 4, sizeof(lo));
	return (uint64_t)lo << 32 | hi;
}

static inline void mac_store(uint8_t *m, uint64_t v)
{
	uint32_t hi = (uint32_t)v;
	uint16_t lo = (uint16_t)(v >> 32);

	__builtin_memcpy(m, &hi, sizeof(hi));
	__builtin_memcpy(m + 4, &lo, sizeof(lo));
}

static inline void mac_copy(uint8_t *dst, const uint8_t *src)
{
	mac_store(dst, mac_load(src));
}

static inline bool mac_eq(const uint8_t *a, const uint8_t *b)
{
	return mac_load(a) == mac_load(b);
}

/* Group bit (I/G) of the first octet: multicast or broadcast. */
static inline bool mac_is_group(const uint8_t *m)
{
	return m[0] & 1;
}

static inline void eth_fill(struct eth_hdr *eth, const uint8_t *dst, const uint8_t *src,
			    uint16_t type)
{
	uint64_t d = mac_load(dst); /* dst may be eth->src */

	mac_copy(eth->src, src);
	mac_store(eth->dst, d);
	eth->type = net_htons(type);
}

/* Our subnet's directed broadcast (only when the subnet has one: mask below /31). */
static inline bool ip_is_subnet_bcast(const struct net_stack *s, uint32_t a)
{
	uint32_t mask = s->cfg.netmask;

	return mask < 0xfffffffeu && (a & ~mask) == ~mask && (a & mask) == (s->cfg.ip & mask);
}

static inline bool ip_is_bcast(const struct net_stack *s, uint32_t a)
{
	return a == 0xffffffffu || ip_is_subnet_bcast(s, a);
}

/*
 * A source address nobody may send from (RFC 1122 3.2.1.3 and 3.3.6), or that
 * would make our reply a broadcast: 0/8, 127/8, multicast, class E (which
 * includes 255.255.255.255), our own address and our subnet's broadcast.
 */
static inline bool ip_is_bad_src(const struct net_stack *s, uint32_t a)
{
	uint32_t top = a >> 24;

	return top == 0 || top == 127 || top >= 224 || a == s->cfg.ip || ip_is_subnet_bcast(s, a);
}

/*
 * Fill a 20-byte IPv4 header from us to dst_be (network order) and its
 * checksum, summed from the values rather than re-read from memory.
 */
static inline void ip_fill(struct net_stack *s, struct ip_hdr *ip, uint32_t dst_be, uint8_t proto,
			   uint16_t tot_len)
{
	uint32_t src_be = net_htonl(s->cfg.ip);
	uint16_t len_be = net_htons(tot_len);
	uint16_t id_be = net_htons(s->ip_id++);
	uint16_t frag_be = net_htons(IP_FLAG_DF);
	/* Byte pairs as loaded little-endian: (ver_ihl, tos) and (ttl, proto). */
	uint16_t w0 = (IP_VERSION << 4) | (IP_HLEN / 4);
	uint16_t w4 = IP_TTL_DEFAULT | (uint16_t)proto << 8;
	uint64_t sum = (uint64_t)w0 + len_be + id_be + frag_be + w4 + src_be + dst_be;

	ip->ver_ihl = (uint8_t)w0;
	ip->tos = 0;
	ip->tot_len = len_be;
	ip->id = id_be;
	ip->frag = frag_be;
	ip->ttl = IP_TTL_DEFAULT;
	ip->proto = proto;
	ip->csum = net_csum_fold(sum);
	ip->src = src_be;
	ip->dst = dst_be;
}

/* The pseudo-header sum from wire-order addresses. */
static inline uint64_t ip_pseudo_be(uint32_t src_be, uint32_t dst_be, uint8_t proto, uint16_t len)
{
	return (uint64_t)src_be + dst_be + net_htons(proto) + net_htons(len);
}

/* Zero-pad a short frame to ETH_ZLEN if room allows (else leave it); returns its length. */
size_t eth_pad(uint8_t *frame, size_t len, size_t room);

/* Per-protocol receive handlers, called by net_rx with validated outer headers. */
int arp_rx(struct net_stack *s, uint8_t *frame, size_t len, struct net_rx_result *out,
	   uint64_t now_ns);
int udp_rx(struct net_stack *s, uint8_t *frame, size_t hlen, size_t tot_len, unsigned int flags,
	   struct net_rx_result *out);
