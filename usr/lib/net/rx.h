/* The protocols' receive entry points: called by the dispatcher (net.c) alone. */
#pragma once

#include "net.h"

/* ARP (arp.c): a frame of len bytes with EtherType ARP. */
int arp_rx(struct net_stack *s, uint8_t *frame, size_t len, struct net_rx_result *out,
	   uint64_t now_ns);

/*
 * ICMP, after ipv4_rx_check validated the datagram's header (hlen bytes,
 * total tot_len) in a frame of len bytes.
 */
int icmp_rx(struct net_stack *s, uint8_t *frame, size_t len, size_t hlen, size_t tot_len,
	    struct net_rx_result *out);

/*
 * UDP: the datagram whose validated header is ip, with avail bytes of IP
 * payload at l4 (in the frame, or a reassembly buffer).
 */
int udp_rx(struct net_stack *s, const struct ip_hdr *ip, uint8_t *l4, size_t avail,
	   unsigned int flags, struct net_rx_result *out);

/*
 * TCP, after ipv4_rx_check validated the datagram's header (hlen bytes,
 * total tot_len) in a frame of len bytes in the owner's buffer buf.
 */
int tcp_rx(struct net_stack *s, uint8_t *frame, size_t len, uint32_t buf, size_t hlen,
	   size_t tot_len, unsigned int flags, struct net_rx_result *out, uint64_t now);
