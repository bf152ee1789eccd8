/* UDP (RFC 768): zero-copy delivery, in-place replies and new datagrams. */
#include "ipv4.h"
#include "rx.h"

/*
 * The datagram's IPv4 header ip has been validated; its payload, avail
 * bytes at l4, is in the frame or a reassembly buffer. A UDP length shorter
 * than the IP payload is accepted (the rest is ignored); a checksum field of
 * 0 means the sender computed none.
 */
int udp_rx(struct net_stack *s, const struct ip_hdr *ip, uint8_t *l4, size_t avail,
	   unsigned int flags, struct net_rx_result *out)
{
	struct udp_hdr *udp = (struct udp_hdr *)l4;
	size_t ulen;
	uint16_t dport;

	if (avail < UDP_HLEN)
		return net_drop(s, &s->stats.rx_short);
	ulen = net_ntohs(udp->len);
	if (ulen < UDP_HLEN || ulen > avail)
		return net_drop(s, &s->stats.rx_udp_bad_len);
	if (udp->csum != 0 && !(flags & (NET_RX_F_CSUM_VALID | NET_RX_F_CSUM_PARTIAL))) {
		uint64_t sum = ip_pseudo_be(ip->src, ip->dst, IP_PROTO_UDP, (uint16_t)ulen);

		if (net_csum_fold(net_csum_partial(udp, ulen, sum)) != 0)
			return net_drop(s, &s->stats.rx_udp_bad_csum);
	}
	dport = net_ntohs(udp->dport);
	if (!udp_is_bound(s, dport))
		return net_drop(s, &s->stats.rx_udp_no_port);

	out->udp.payload = l4 + UDP_HLEN;
	out->udp.len = (uint16_t)(ulen - UDP_HLEN);
	out->udp.sport = net_ntohs(udp->sport);
	out->udp.dport = dport;
	out->udp.csum = udp->csum;
	out->udp.csum_partial = flags & NET_RX_F_CSUM_PARTIAL;
	out->udp.reasm = 0;
	out->udp.src_ip = net_ntohl(ip->src);
	out->udp.dst_ip = net_ntohl(ip->dst);
	s->stats.rx_udp++;
	return NET_RX_UDP;
}

/* The checksum field for the datagram at udp (its csum field 0) as configured. */
static uint16_t udp_csum(const struct net_stack *s, const struct udp_hdr *udp, uint32_t dst_be,
			 uint16_t ulen)
{
	uint64_t sum = ip_pseudo_be(net_htonl(s->cfg.ip), dst_be, IP_PROTO_UDP, ulen);
	uint16_t c;

	switch (s->cfg.udp_csum) {
	case NET_UDP_CSUM_NONE:
		return 0;
	case NET_UDP_CSUM_OFFLOAD:
		/* The device adds the data and stores the complement. */
		return (uint16_t)~net_csum_fold(sum);
	default:
		c = net_csum_fold(net_csum_partial(udp, ulen, sum));
		/* RFC 768: a computed 0 is sent as all ones; 0 means none. */
		return c ? c : 0xffff;
	}
}

/*
 * Write the Ethernet, IP and UDP headers in front of payload_len bytes already
 * at frame + NET_UDP_PAYLOAD_OFF.  reuse: csum is known to be the datagram's
 * checksum (when software checksums are configured), or with partial its
 * pseudo-header sum, for the device to complete (whatever is configured).
 */
static int udp_finish(struct net_stack *s, uint8_t *frame, size_t cap, const uint8_t *dst_mac,
		      uint32_t dst_be, uint16_t sport, uint16_t dport, size_t payload_len,
		      bool reuse, bool partial, uint16_t csum)
{
	struct eth_hdr *eth = (struct eth_hdr *)frame;
	struct ip_hdr *ip = (struct ip_hdr *)(frame + ETH_HLEN);
	struct udp_hdr *udp = (struct udp_hdr *)(frame + ETH_HLEN + IP_HLEN);
	uint16_t ulen = (uint16_t)(UDP_HLEN + payload_len);
	size_t len;

	udp->sport = net_htons(sport);
	udp->dport = net_htons(dport);
	udp->len = net_htons(ulen);
	if (reuse && (s->cfg.udp_csum == NET_UDP_CSUM_FULL || partial)) {
		udp->csum = csum;
	} else {
		udp->csum = 0;
		udp->csum = udp_csum(s, udp, dst_be, ulen);
	}
	ip_fill(s, ip, dst_be, IP_PROTO_UDP, (uint16_t)(IP_HLEN + ulen));
	eth_fill(eth, dst_mac, s->cfg.mac, ETH_TYPE_IPV4);

	len = eth_pad(frame, NET_UDP_PAYLOAD_OFF + payload_len, cap);
	net_tx_count(s, len);
	return (int)len;
}

static int udp_reply(struct net_stack *s, uint8_t *frame, size_t cap, const struct net_udp *u,
		     size_t payload_len, bool same)
{
	const struct eth_hdr *eth = (const struct eth_hdr *)frame;
	uintptr_t off = (uintptr_t)u->payload - (uintptr_t)frame;

	if (payload_len > NET_UDP_MAX_PAYLOAD || cap < NET_UDP_PAYLOAD_OFF + payload_len)
		return -EMSGSIZE;
	if (u->sport == 0 || off < NET_UDP_PAYLOAD_OFF || off > cap - payload_len)
		return -EINVAL;
	/* Past IP options: the reply has none. */
	if (off != NET_UDP_PAYLOAD_OFF)
		memmove(frame + NET_UDP_PAYLOAD_OFF, u->payload, payload_len);
	/*
	 * An unchanged payload with a checksum: the reply's pseudo-header and
	 * header are the request's words permuted, so the sum is the same. So
	 * is a partial one's, which covers the pseudo-header alone.
	 */
	return udp_finish(s, frame, cap, eth->src, net_htonl(u->src_ip), u->dport, u->sport,
			  payload_len, same && u->csum != 0, same && udp_echo_partial(s, u),
			  u->csum);
}

int udp_reply_inplace(struct net_stack *s, uint8_t *frame, size_t cap, const struct net_udp *u,
		      size_t payload_len)
{
	return udp_reply(s, frame, cap, u, payload_len, false);
}

int udp_echo_inplace(struct net_stack *s, uint8_t *frame, size_t cap, const struct net_udp *u)
{
	return udp_reply(s, frame, cap, u, u->len, true);
}

/* The MAC a datagram to dst_ip goes to: broadcast, or its next hop's. 0, -EINVAL, -EAGAIN (ARP). */
static int dst_mac(struct net_stack *s, uint32_t dst_ip, uint8_t *mac, uint64_t now_ns)
{
	uint32_t hop;

	if (ip_is_bcast(s, dst_ip)) {
		mac_copy(mac, net_bcast_mac);
		return 0;
	}
	if (ip_is_bad_src(s, dst_ip) || !net_next_hop(s, dst_ip, &hop))
		return -EINVAL;
	return arp_lookup(s, hop, mac, now_ns) ? 0 : -EAGAIN;
}

int udp_build(struct net_stack *s, uint8_t *frame, size_t cap, uint32_t dst_ip, uint16_t sport,
	      uint16_t dport, const void *payload, size_t len, uint64_t now_ns)
{
	uint8_t mac[ETH_ALEN];
	int err;

	if (len > NET_UDP_MAX_PAYLOAD || cap < NET_UDP_PAYLOAD_OFF + len)
		return -EMSGSIZE;
	if (dport == 0)
		return -EINVAL;
	err = dst_mac(s, dst_ip, mac, now_ns);
	if (err)
		return err;
	if (len && payload != frame + NET_UDP_PAYLOAD_OFF)
		memmove(frame + NET_UDP_PAYLOAD_OFF, payload, len);
	return udp_finish(s, frame, cap, mac, net_htonl(dst_ip), sport, dport, len, false, false,
			  0);
}

int udp_reply_reasm(struct net_stack *s, const struct net_udp *u, size_t payload_len, bool same)
{
	unsigned int slot = u->reasm - 1u;
	struct net_reasm *r = &s->reasm[slot];
	struct udp_hdr *udp;
	uint16_t ulen;

	if (u->reasm == 0 || slot >= NET_REASM_SLOTS || r->state != NET_REASM_HELD ||
	    u->payload != r->data + UDP_HLEN || u->sport == 0)
		return -EINVAL;
	if (payload_len > NET_UDP_MAX_DGRAM || payload_len > r->cap - UDP_HLEN)
		return -EMSGSIZE;
	/* The UDP header sits in front of the payload: the reply's goes there. */
	udp = (struct udp_hdr *)r->data;
	ulen = (uint16_t)(UDP_HLEN + payload_len);
	udp->sport = net_htons(u->dport);
	udp->dport = net_htons(u->sport);
	udp->len = net_htons(ulen);
	/* Fragments cannot leave their checksum to the device: always a full one. */
	if (s->cfg.udp_csum == NET_UDP_CSUM_NONE) {
		udp->csum = 0;
	} else if (same && u->csum != 0 && !u->csum_partial) {
		udp->csum = u->csum;
	} else {
		uint64_t sum =
		    ip_pseudo_be(net_htonl(s->cfg.ip), net_htonl(u->src_ip), IP_PROTO_UDP, ulen);
		uint16_t c;

		udp->csum = 0;
		c = net_csum_fold(net_csum_partial(udp, ulen, sum));
		udp->csum = c ? c : 0xffff;
	}
	return ipv4_send(s, r->mac, net_htonl(u->src_ip), IP_PROTO_UDP, NULL, 0, r->data, ulen);
}

int udp_send(struct net_stack *s, uint32_t dst_ip, uint16_t sport, uint16_t dport, const void *data,
	     size_t len, uint64_t now_ns)
{
	uint32_t dst_be = net_htonl(dst_ip);
	struct udp_hdr udp;
	uint8_t mac[ETH_ALEN];
	int err;
	uint16_t ulen;

	if (len > NET_UDP_MAX_DGRAM)
		return -EMSGSIZE;
	if (dport == 0)
		return -EINVAL;
	err = dst_mac(s, dst_ip, mac, now_ns);
	if (err)
		return err;
	ulen = (uint16_t)(UDP_HLEN + len);
	udp.sport = net_htons(sport);
	udp.dport = net_htons(dport);
	udp.len = net_htons(ulen);
	udp.csum = 0;
	if (s->cfg.udp_csum != NET_UDP_CSUM_NONE) {
		uint64_t sum = ip_pseudo_be(net_htonl(s->cfg.ip), dst_be, IP_PROTO_UDP, ulen);
		uint16_t c;

		/* The header is 8 bytes: the data's sum starts at an even offset. */
		sum = net_csum_partial(&udp, UDP_HLEN, sum);
		c = net_csum_fold(net_csum_partial(data, len, sum));
		udp.csum = c ? c : 0xffff;
	}
	return ipv4_send(s, mac, dst_be, IP_PROTO_UDP, &udp, UDP_HLEN, data, len);
}

unsigned int net_rx_partial(uint8_t *frame, size_t len, size_t csum_start, size_t csum_offset)
{
	const struct eth_hdr *eth = (const struct eth_hdr *)frame;
	const struct ip_hdr *ip = (const struct ip_hdr *)(frame + ETH_HLEN);

	if (len >= ETH_HLEN + IP_HLEN && eth->type == net_htons(ETH_TYPE_IPV4) &&
	    ip->proto == IP_PROTO_UDP && csum_offset == NET_UDP_CSUM_OFFSET &&
	    csum_start == ETH_HLEN + (size_t)(ip->ver_ihl & 0xf) * 4)
		return NET_RX_F_CSUM_PARTIAL;
	net_csum_complete(frame, len, csum_start, csum_offset);
	return 0;
}

void udp_csum_complete(uint8_t *frame, size_t len)
{
	struct udp_hdr *udp = (struct udp_hdr *)(frame + NET_UDP_CSUM_START);
	size_t ulen;

	if (len < NET_UDP_PAYLOAD_OFF)
		return;
	ulen = net_ntohs(udp->len);
	if (ulen < UDP_HLEN || ulen > len - NET_UDP_CSUM_START)
		return;
	net_csum_complete(frame, NET_UDP_CSUM_START + ulen, NET_UDP_CSUM_START,
			  NET_UDP_CSUM_OFFSET);
	if (udp->csum == 0)
		udp->csum = 0xffff; /* RFC 768: 0 means none */
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
