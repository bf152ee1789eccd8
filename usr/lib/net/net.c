/* Receive path (Ethernet, IPv4, ICMP echo), routing and the UDP port table. */
#include "net_priv.h"

void net_init(struct net_stack *s, const struct net_config *cfg)
{
	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
}

size_t eth_pad(uint8_t *frame, size_t len, size_t room)
{
	if (len < ETH_ZLEN && room >= ETH_ZLEN) {
		memset(frame + len, 0, ETH_ZLEN - len);
		len = ETH_ZLEN;
	}
	return len;
}

/*
 * ICMP (RFC 792), after ip_rx validated the IPv4 header (hlen bytes, total
 * tot_len).  An echo request becomes the reply in the same buffer: Ethernet
 * and IP addresses swapped, type 0, data returned unchanged ("Echo or Echo
 * Reply Message").  Request options are not echoed: the message moves down
 * behind a plain 20-byte header.
 */
static int icmp_rx(struct net_stack *s, uint8_t *frame, size_t len, size_t hlen, size_t tot_len,
		   struct net_rx_result *out)
{
	struct eth_hdr *eth = (struct eth_hdr *)frame;
	struct ip_hdr *ip = (struct ip_hdr *)(frame + ETH_HLEN);
	uint8_t *msg = frame + ETH_HLEN + hlen;
	size_t mlen = tot_len - hlen;
	struct icmp_hdr *icmp = (struct icmp_hdr *)msg;
	uint32_t peer_be;

	if (mlen < ICMP_HLEN)
		return net_drop(s, &s->stats.rx_short);
	if (net_csum_fold(net_csum_partial(msg, mlen, 0)) != 0)
		return net_drop(s, &s->stats.rx_icmp_bad_csum);
	if (icmp->type != ICMP_ECHO_REQUEST || icmp->code != 0)
		return net_drop(s, &s->stats.rx_icmp_other);

	peer_be = ip->src;
	if (hlen > IP_HLEN) {
		memmove(frame + ETH_HLEN + IP_HLEN, msg, mlen);
		icmp = (struct icmp_hdr *)(frame + ETH_HLEN + IP_HLEN);
	}
	/*
	 * Recomputed rather than updated incrementally (RFC 1624): the update
	 * would yield 0x0000 instead of 0xffff for an all-zero reply.
	 */
	icmp->type = ICMP_ECHO_REPLY;
	icmp->csum = 0;
	icmp->csum = net_csum_fold(net_csum_partial(icmp, mlen, 0));
	ip_fill(s, ip, peer_be, IP_PROTO_ICMP, (uint16_t)(IP_HLEN + mlen));
	eth_fill(eth, eth->src, s->cfg.mac, ETH_TYPE_IPV4);

	out->len = eth_pad(frame, ETH_HLEN + IP_HLEN + mlen, len);
	s->stats.icmp_echo_answered++;
	net_tx_count(s, out->len);
	return NET_RX_REPLY;
}

/*
 * RFC 791 3.1 and RFC 1122 3.2.1: validate the header of the datagram after
 * the Ethernet header, then hand it to its protocol.  Options are accepted
 * and skipped; fragments are dropped (no reassembly).
 */
static int ip_rx(struct net_stack *s, uint8_t *frame, size_t len, unsigned int flags,
		 struct net_rx_result *out)
{
	const struct eth_hdr *eth = (const struct eth_hdr *)frame;
	const struct ip_hdr *ip = (const struct ip_hdr *)(frame + ETH_HLEN);
	size_t avail = len - ETH_HLEN;
	size_t hlen, tot_len;

	/* RFC 1122 3.3.6: a unicast datagram in a link broadcast is discarded. */
	if (!mac_eq(eth->dst, s->cfg.mac))
		return net_drop(s, &s->stats.rx_not_for_us);
	if (avail < IP_HLEN)
		return net_drop(s, &s->stats.rx_short);
	if (ip->ver_ihl >> 4 != IP_VERSION)
		return net_drop(s, &s->stats.rx_ip_bad_version);
	hlen = (size_t)(ip->ver_ihl & 0xf) * 4;
	if (hlen < IP_HLEN)
		return net_drop(s, &s->stats.rx_ip_bad_hlen);
	tot_len = net_ntohs(ip->tot_len);
	/* Anything past tot_len is Ethernet padding. */
	if (tot_len < hlen || tot_len > avail)
		return net_drop(s, &s->stats.rx_ip_bad_len);
	if (net_csum_fold(net_csum_partial(ip, hlen, 0)) != 0)
		return net_drop(s, &s->stats.rx_ip_bad_csum);
	if (net_ntohl(ip->dst) != s->cfg.ip)
		return net_drop(s, &s->stats.rx_not_for_us);
	if (ip_is_bad_src(s, net_ntohl(ip->src)))
		return net_drop(s, &s->stats.rx_bad_src);
	if (ip->frag & net_htons(IP_FLAG_MF | IP_OFFSET_MASK))
		return net_drop(s, &s->stats.rx_ip_fragment);
	if (hlen > IP_HLEN)
		s->stats.rx_ip_options++;

	switch (ip->proto) {
	case IP_PROTO_UDP:
		return udp_rx(s, frame, hlen, tot_len, flags, out);
	case IP_PROTO_ICMP:
		return icmp_rx(s, frame, len, hlen, tot_len, out);
	default:
		return net_drop(s, &s->stats.rx_ip_bad_proto);
	}
}

int net_rx_flags(struct net_stack *s, uint8_t *frame, size_t len, unsigned int flags,
		 struct net_rx_result *out, uint64_t now_ns)
{
	const struct eth_hdr *eth = (const struct eth_hdr *)frame;

	s->stats.rx_frames++;
	s->stats.rx_bytes += len;
	if (len < ETH_HLEN)
		return net_drop(s, &s->stats.rx_short);
	if (!mac_eq(eth->dst, s->cfg.mac) && !mac_eq(eth->dst, net_bcast_mac))
		return net_drop(s, &s->stats.rx_not_for_us);
	/* A group address never sends; replying to it would multicast. */
	if (mac_is_group(eth->src))
		return net_drop(s, &s->stats.rx_bad_src);

	if (eth->type == net_htons(ETH_TYPE_IPV4))
		return ip_rx(s, frame, len, flags, out);
	if (eth->type == net_htons(ETH_TYPE_ARP))
		return arp_rx(s, frame, len, out, now_ns);
	return net_drop(s, &s->stats.rx_bad_ethertype);
}

bool net_next_hop(const struct net_stack *s, uint32_t dst, uint32_t *hop)
{
	uint32_t mask = s->cfg.netmask;

	if (dst == 0 || s->cfg.ip == 0)
		return false;
	if ((dst & mask) == (s->cfg.ip & mask)) {
		*hop = dst;
		return true;
	}
	if (s->cfg.gateway == 0)
		return false;
	*hop = s->cfg.gateway;
	return true;
}

int udp_bind(struct net_stack *s, uint16_t port)
{
	if (port == 0)
		return -EINVAL;
	s->udp_ports[port / 64] |= 1ull << (port % 64);
	return 0;
}

void udp_unbind(struct net_stack *s, uint16_t port)
{
	s->udp_ports[port / 64] &= ~(1ull << (port % 64));
}

bool udp_is_bound(const struct net_stack *s, uint16_t port)
{
	return s->udp_ports[port / 64] >> (port % 64) & 1;
}
