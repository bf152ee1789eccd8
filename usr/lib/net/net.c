/* The dispatcher: each frame to its protocol (ARP; IPv4's ICMP, UDP, TCP), and the stack's timers.
 */
#include "ipv4.h"
#include "rx.h"
#include "tcp.h"

void net_init(struct net_stack *s, const struct net_config *cfg)
{
	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
}

void net_fini(struct net_stack *s)
{
	ipv4_reasm_fini(s);
	tcp_fini(s);
}

void net_timers(struct net_stack *s, uint64_t now_ns)
{
	if (s->reasm_next_ns && now_ns >= s->reasm_next_ns)
		ipv4_reasm_timers(s, now_ns);
	if (s->tcp)
		tcp_run_timers(s, now_ns);
}

/*
 * A fragment: into its reassembly. The one that completes a datagram hands
 * it to UDP (the only protocol reassembled), which verifies the checksum
 * itself (a device's verdict is about single frames).
 */
static __attribute__((noinline)) int ip_rx_frag(struct net_stack *s, uint8_t *frame, size_t hlen,
						size_t tot_len, struct net_rx_result *out,
						uint64_t now_ns)
{
	const struct ip_hdr *ip = (const struct ip_hdr *)(frame + ETH_HLEN);
	struct net_reasm *r;
	int v;

	r = ipv4_reasm(s, frame, hlen, tot_len, now_ns, &v);
	if (!r)
		return v;
	v = udp_rx(s, ip, r->data, r->total, 0, out);
	if (v != NET_RX_UDP) {
		ipv4_reasm_free(s, r);
		return v;
	}
	r->state = NET_REASM_HELD;
	out->udp.reasm = (uint8_t)(r - s->reasm + 1);
	return v;
}

/* After the Ethernet header: the IPv4 header checked, the datagram to its protocol. */
static int ip_rx(struct net_stack *s, uint8_t *frame, size_t len, uint32_t buf, unsigned int flags,
		 struct net_rx_result *out, uint64_t now_ns)
{
	const struct ip_hdr *ip = (const struct ip_hdr *)(frame + ETH_HLEN);
	size_t hlen, tot_len;

	if (ipv4_rx_check(s, frame, len, &hlen, &tot_len))
		return NET_RX_DROP;
	if (ip_is_fragment(ip))
		return ip_rx_frag(s, frame, hlen, tot_len, out, now_ns);
	switch (ip->proto) {
	case IP_PROTO_UDP:
		return udp_rx(s, ip, frame + ETH_HLEN + hlen, tot_len - hlen, flags, out);
	case IP_PROTO_TCP:
		return tcp_rx(s, frame, len, buf, hlen, tot_len, flags, out, now_ns);
	case IP_PROTO_ICMP:
		return icmp_rx(s, frame, len, hlen, tot_len, out);
	default:
		return net_drop(s, &s->stats.rx_ip_bad_proto);
	}
}

int net_rx_buf(struct net_stack *s, uint8_t *frame, size_t len, uint32_t buf, unsigned int flags,
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
		return ip_rx(s, frame, len, buf, flags, out, now_ns);
	if (eth->type == net_htons(ETH_TYPE_ARP))
		return arp_rx(s, frame, len, out, now_ns);
	return net_drop(s, &s->stats.rx_bad_ethertype);
}
