/* ICMP (RFC 792): echo requests answered in place. */
#include "ipv4.h"
#include "rx.h"

/*
 * An echo request becomes the reply in the same buffer: Ethernet and IP
 * addresses swapped, type 0, data returned unchanged ("Echo or Echo Reply
 * Message"). Request options are not echoed: the message moves down behind
 * a plain 20-byte header.
 */
int icmp_rx(struct net_stack *s, uint8_t *frame, size_t len, size_t hlen, size_t tot_len,
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
