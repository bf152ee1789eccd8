/* ARP (RFC 826) for IPv4 over Ethernet: the neighbour cache, answering requests, requesting. */
#include "ipv4.h"
#include "rx.h"

/* The index of ip's unexpired entry, or -1. */
static int arp_index(const struct net_stack *s, uint32_t ip, uint64_t now_ns)
{
	for (int i = 0; i < NET_ARP_SLOTS; i++) {
		if (s->arp[i].ip == ip && s->arp[i].expires_ns > now_ns)
			return i;
	}
	return -1;
}

bool arp_lookup(const struct net_stack *s, uint32_t ip, uint8_t mac[ETH_ALEN], uint64_t now_ns)
{
	int i = arp_index(s, ip, now_ns);

	if (i < 0)
		return false;
	mac_copy(mac, s->arp[i].mac);
	return true;
}

/* The slot for ip: its own, else a free or expired one, else the one expiring first. */
static struct net_arp_entry *arp_victim(struct net_stack *s, uint32_t ip, uint64_t now_ns)
{
	struct net_arp_entry *oldest = &s->arp[0];
	int own = arp_index(s, ip, now_ns);

	if (own >= 0)
		return &s->arp[own];
	for (int i = 0; i < NET_ARP_SLOTS; i++) {
		struct net_arp_entry *e = &s->arp[i];

		if (e->expires_ns <= now_ns)
			return e;
		if (e->expires_ns < oldest->expires_ns)
			oldest = e;
	}
	return oldest;
}

void arp_insert(struct net_stack *s, uint32_t ip, const uint8_t mac[ETH_ALEN], uint64_t now_ns)
{
	struct net_arp_entry *e = arp_victim(s, ip, now_ns);
	uint64_t expires = now_ns + NET_ARP_TTL_NS;

	e->ip = ip;
	mac_copy(e->mac, mac);
	e->expires_ns = expires > now_ns ? expires : UINT64_MAX;
}

/*
 * RFC 826 "Packet Reception": check the hardware and protocol spaces, update
 * the sender's entry if we have one, add it if we are the target, and answer
 * a request for our address in place.  Senders with unusable addresses are
 * never learned; an ARP probe (sender address 0) is still answered.
 */
int arp_rx(struct net_stack *s, uint8_t *frame, size_t len, struct net_rx_result *out,
	   uint64_t now_ns)
{
	struct eth_hdr *eth = (struct eth_hdr *)frame;
	struct arp_pkt *arp = (struct arp_pkt *)(frame + ETH_HLEN);
	uint32_t spa, tpa;
	uint16_t op;
	bool for_us, learned = false;

	if (len < ETH_HLEN + ARP_LEN)
		return net_drop(s, &s->stats.rx_short);
	if (arp->htype != net_htons(ARP_HTYPE_ETHER) || arp->ptype != net_htons(ETH_TYPE_IPV4) ||
	    arp->hlen != ETH_ALEN || arp->plen != 4)
		return net_drop(s, &s->stats.rx_arp_bad);
	op = net_ntohs(arp->op);
	if (op != ARP_OP_REQUEST && op != ARP_OP_REPLY)
		return net_drop(s, &s->stats.rx_arp_bad);
	spa = net_ntohl(arp->spa);
	tpa = net_ntohl(arp->tpa);
	/* A group sender address, or someone else claiming our IP address. */
	if (mac_is_group(arp->sha) || (spa == s->cfg.ip && spa != 0))
		return net_drop(s, &s->stats.rx_bad_src);

	for_us = tpa == s->cfg.ip && tpa != 0;
	if (!ip_is_bad_src(s, spa) && (for_us || arp_index(s, spa, now_ns) >= 0)) {
		arp_insert(s, spa, arp->sha, now_ns);
		learned = true;
	}
	if (op == ARP_OP_REPLY) {
		if (learned)
			s->stats.arp_replies_learned++;
		return NET_RX_CONSUMED;
	}
	if (!for_us)
		return NET_RX_CONSUMED;

	mac_copy(arp->tha, arp->sha);
	arp->tpa = arp->spa;
	mac_copy(arp->sha, s->cfg.mac);
	arp->spa = net_htonl(s->cfg.ip);
	arp->op = net_htons(ARP_OP_REPLY);
	eth_fill(eth, arp->tha, s->cfg.mac, ETH_TYPE_ARP);

	out->len = eth_pad(frame, ETH_HLEN + ARP_LEN, len);
	s->stats.arp_requests_answered++;
	net_tx_count(s, out->len);
	return NET_RX_REPLY;
}

int arp_build_request(struct net_stack *s, uint8_t *frame, size_t cap, uint32_t dst_ip)
{
	struct eth_hdr *eth = (struct eth_hdr *)frame;
	struct arp_pkt *arp = (struct arp_pkt *)(frame + ETH_HLEN);
	uint32_t hop;
	size_t len;

	if (cap < ETH_HLEN + ARP_LEN)
		return -EMSGSIZE;
	if (ip_is_bcast(s, dst_ip) || !net_next_hop(s, dst_ip, &hop))
		return -EINVAL;

	eth_fill(eth, net_bcast_mac, s->cfg.mac, ETH_TYPE_ARP);
	arp->htype = net_htons(ARP_HTYPE_ETHER);
	arp->ptype = net_htons(ETH_TYPE_IPV4);
	arp->hlen = ETH_ALEN;
	arp->plen = 4;
	arp->op = net_htons(ARP_OP_REQUEST);
	mac_copy(arp->sha, s->cfg.mac);
	arp->spa = net_htonl(s->cfg.ip);
	memset(arp->tha, 0, ETH_ALEN);
	arp->tpa = net_htonl(hop);

	len = eth_pad(frame, ETH_HLEN + ARP_LEN, cap);
	net_tx_count(s, len);
	return (int)len;
}
