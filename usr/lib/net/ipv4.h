/* IPv4 helpers of the network stack (RFC 791, RFC 1122): addresses, headers, validation. */
#pragma once

#include "eth.h"
#include "net_priv.h"

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
 * Fill a 20-byte IPv4 header from us to dst_be (network order) with
 * identification id_be and flags/offset frag_be (wire order), and its
 * checksum, summed from the values rather than re-read from memory.
 */
static inline void ip_fill_frag(struct net_stack *s, struct ip_hdr *ip, uint32_t dst_be,
				uint8_t proto, uint16_t tot_len, uint16_t id_be, uint16_t frag_be)
{
	uint32_t src_be = net_htonl(s->cfg.ip);
	uint16_t len_be = net_htons(tot_len);
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

/* A whole datagram (Don't Fragment: RFC 1191 path MTU discovery) with the next identification. */
static inline void ip_fill(struct net_stack *s, struct ip_hdr *ip, uint32_t dst_be, uint8_t proto,
			   uint16_t tot_len)
{
	ip_fill_frag(s, ip, dst_be, proto, tot_len, net_htons(s->ip_id++), net_htons(IP_FLAG_DF));
}

/* The pseudo-header sum from wire-order addresses. */
static inline uint64_t ip_pseudo_be(uint32_t src_be, uint32_t dst_be, uint8_t proto, uint16_t len)
{
	return (uint64_t)src_be + dst_be + net_htons(proto) + net_htons(len);
}

/* Count a dropped datagram under its reason; returns -1. */
static inline int ip_drop(struct net_stack *s, uint64_t *reason)
{
	net_drop(s, reason);
	return -1;
}

/* The sum of an option-less header's five 32-bit words: net_csum_partial's, without the loop. */
static inline uint64_t ip_hdr_sum(const struct ip_hdr *ip)
{
	uint32_t w[IP_HLEN / 4];

	__builtin_memcpy(w, ip, sizeof(w));
	return (uint64_t)w[0] + w[1] + w[2] + w[3] + w[4];
}

/*
 * RFC 791 3.1 and RFC 1122 3.2.1: validate the header of the datagram after
 * the Ethernet header of a frame of len bytes. Options are accepted (and
 * counted); fragments pass (see ipv4_reasm). Returns 0 with the
 * header length in *hlen and the datagram's in *tot_len (anything past it
 * is Ethernet padding), or -1 when it is dropped (counted under its reason).
 */
static inline int ipv4_rx_check(struct net_stack *s, const uint8_t *frame, size_t len, size_t *hlen,
				size_t *tot_len)
{
	const struct eth_hdr *eth = (const struct eth_hdr *)frame;
	const struct ip_hdr *ip = (const struct ip_hdr *)(frame + ETH_HLEN);
	size_t avail = len - ETH_HLEN;

	/* RFC 1122 3.3.6: a unicast datagram in a link broadcast is discarded. */
	if (!mac_eq(eth->dst, s->cfg.mac))
		return ip_drop(s, &s->stats.rx_not_for_us);
	if (avail < IP_HLEN)
		return ip_drop(s, &s->stats.rx_short);
	if (ip->ver_ihl >> 4 != IP_VERSION)
		return ip_drop(s, &s->stats.rx_ip_bad_version);
	*hlen = (size_t)(ip->ver_ihl & 0xf) * 4;
	if (*hlen < IP_HLEN)
		return ip_drop(s, &s->stats.rx_ip_bad_hlen);
	*tot_len = net_ntohs(ip->tot_len);
	if (*tot_len < *hlen || *tot_len > avail)
		return ip_drop(s, &s->stats.rx_ip_bad_len);
	if (net_csum_fold(*hlen == IP_HLEN ? ip_hdr_sum(ip) : net_csum_partial(ip, *hlen, 0)) != 0)
		return ip_drop(s, &s->stats.rx_ip_bad_csum);
	if (net_ntohl(ip->dst) != s->cfg.ip)
		return ip_drop(s, &s->stats.rx_not_for_us);
	if (ip_is_bad_src(s, net_ntohl(ip->src)))
		return ip_drop(s, &s->stats.rx_bad_src);
	if (*hlen > IP_HLEN)
		s->stats.rx_ip_options++;
	return 0;
}

/* A fragment: More Fragments set or a non-zero offset. */
static inline bool ip_is_fragment(const struct ip_hdr *ip)
{
	return ip->frag & net_htons(IP_FLAG_MF | IP_OFFSET_MASK);
}

/*
 * Take a fragment (its header validated by ipv4_rx_check) into its
 * datagram's reassembly. Returns the slot when the fragment completes it
 * (slot->data holds slot->total bytes of IP payload; the caller makes it
 * NET_REASM_HELD or gives it back with ipv4_reasm_free), else NULL with
 * *verdict NET_RX_CONSUMED (held) or NET_RX_DROP (counted).
 */
struct net_reasm *ipv4_reasm(struct net_stack *s, const uint8_t *frame, size_t hlen, size_t tot_len,
			     uint64_t now_ns, int *verdict);

/* Free a slot's buffer and the slot. */
void ipv4_reasm_free(struct net_stack *s, struct net_reasm *r);

/* Give up the reassemblies whose time is up (net_timers). */
void ipv4_reasm_timers(struct net_stack *s, uint64_t now_ns);

/* Free every reassembly slot (net_fini). */
void ipv4_reasm_fini(struct net_stack *s);

/*
 * Send an IPv4 datagram to dst_be (wire order) via the Ethernet address mac
 * whose payload is hdr[0..hlen) then data[0..len), through s->io, fragmented
 * to the MTU when it does not fit one frame (RFC 791 §3.2, "An Example
 * Fragmentation Procedure"); hdr may be NULL with hlen 0. 0, -EMSGSIZE
 * (over NET_IP_MAX_PAYLOAD), -ENOSYS (no net_io) or -ENOSPC (a buffer or
 * transmit room ran out: the datagram is lost, counted in tx_frag_errors).
 */
int ipv4_send(struct net_stack *s, const uint8_t *mac, uint32_t dst_be, uint8_t proto,
	      const void *hdr, size_t hlen, const void *data, size_t len);
