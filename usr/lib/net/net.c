/* The receive dispatcher: each frame to its protocol (ARP; IPv4's ICMP and UDP). */
#include "ipv4.h"
#include "rx.h"

void net_init(struct net_stack *s, const struct net_config *cfg)
{
	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
}

/* After the Ethernet header: the IPv4 header checked, the datagram to its protocol. */
static int ip_rx(struct net_stack *s, uint8_t *frame, size_t len, unsigned int flags,
		 struct net_rx_result *out)
{
	const struct ip_hdr *ip = (const struct ip_hdr *)(frame + ETH_HLEN);
	size_t hlen, tot_len;

	if (ipv4_rx_check(s, frame, len, &hlen, &tot_len))
		return NET_RX_DROP;
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
