/* The protocols' receive entry points: called by the dispatcher (net.c) alone. */
#pragma once

#include "net.h"

/* ARP (arp.c): a frame of len bytes with EtherType ARP. */
int arp_rx(struct net_stack *s, uint8_t *frame, size_t len, struct net_rx_result *out,
	   uint64_t now_ns);

/*
 * The IPv4 protocols, after ipv4_rx_check validated the datagram's header
 * (hlen bytes, total tot_len) in a frame of len bytes.
 */
int icmp_rx(struct net_stack *s, uint8_t *frame, size_t len, size_t hlen, size_t tot_len,
	    struct net_rx_result *out);
int udp_rx(struct net_stack *s, uint8_t *frame, size_t hlen, size_t tot_len, unsigned int flags,
	   struct net_rx_result *out);
