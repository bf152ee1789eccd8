/* Wire formats of Ethernet, ARP (RFC 826), IPv4 (RFC 791), ICMP (RFC 792), UDP (RFC 768), TCP (RFC
 * 9293). */
#pragma once

#include <stdint.h>

/*
 * Every multi-byte field is in network byte order, exactly as on the wire.
 * The structs are packed (headers sit at any alignment inside a frame) and
 * may_alias (they overlay byte buffers without breaking strict aliasing).
 */
#define NET_WIRE __attribute__((packed, may_alias))

#define ETH_ALEN      6
#define ETH_HLEN      14
#define ETH_ZLEN      60 /* minimum frame length without the FCS */
#define ETH_TYPE_IPV4 0x0800
#define ETH_TYPE_ARP  0x0806

struct NET_WIRE eth_hdr {
	uint8_t dst[ETH_ALEN];
	uint8_t src[ETH_ALEN];
	uint16_t type;
};

/* RFC 826: the Ethernet/IPv4 form of an ARP packet. */
#define ARP_HTYPE_ETHER 1
#define ARP_OP_REQUEST	1
#define ARP_OP_REPLY	2
#define ARP_LEN		28

struct NET_WIRE arp_pkt {
	uint16_t htype; /* hardware address space */
	uint16_t ptype; /* protocol address space (an EtherType) */
	uint8_t hlen;	/* hardware address length */
	uint8_t plen;	/* protocol address length */
	uint16_t op;
	uint8_t sha[ETH_ALEN]; /* sender hardware address */
	uint32_t spa;	       /* sender protocol address */
	uint8_t tha[ETH_ALEN]; /* target hardware address */
	uint32_t tpa;	       /* target protocol address */
};

/* RFC 791 section 3.1. */
#define IP_VERSION     4
#define IP_HLEN	       20     /* header without options (IHL 5) */
#define IP_FLAG_RF     0x8000 /* reserved, must be zero */
#define IP_FLAG_DF     0x4000
#define IP_FLAG_MF     0x2000
#define IP_OFFSET_MASK 0x1fff
#define IP_PROTO_ICMP  1
#define IP_PROTO_TCP   6
#define IP_PROTO_UDP   17
#define IP_TTL_DEFAULT 64

struct NET_WIRE ip_hdr {
	uint8_t ver_ihl; /* version in the high nibble, IHL (32-bit words) low */
	uint8_t tos;
	uint16_t tot_len;
	uint16_t id;
	uint16_t frag; /* flags in the top 3 bits, fragment offset below */
	uint8_t ttl;
	uint8_t proto;
	uint16_t csum;
	uint32_t src;
	uint32_t dst;
};

/* RFC 792: the header shared by echo and echo reply. */
#define ICMP_HLEN	  8
#define ICMP_ECHO_REPLY	  0
#define ICMP_ECHO_REQUEST 8

struct NET_WIRE icmp_hdr {
	uint8_t type;
	uint8_t code;
	uint16_t csum;
	uint16_t id;
	uint16_t seq;
};

/* RFC 768. */
#define UDP_HLEN 8

struct NET_WIRE udp_hdr {
	uint16_t sport;
	uint16_t dport;
	uint16_t len;  /* header plus data */
	uint16_t csum; /* 0: the sender computed none */
};

/* RFC 9293 §3.1. */
#define TCP_HLEN	20 /* header without options */
#define TCP_FIN		0x01
#define TCP_SYN		0x02
#define TCP_RST		0x04
#define TCP_PSH		0x08
#define TCP_ACK		0x10
#define TCP_URG		0x20
#define TCP_ECE		0x40
#define TCP_CWR		0x80
#define TCP_CSUM_OFFSET 16 /* offsetof(struct tcp_hdr, csum) */

/* Options: RFC 9293 §3.2 (EOL, NOP, MSS), RFC 7323 (window scale, timestamps), RFC 2018. */
#define TCPOPT_EOL	 0
#define TCPOPT_NOP	 1
#define TCPOPT_MSS	 2
#define TCPOPT_WSCALE	 3
#define TCPOPT_SACK_PERM 4
#define TCPOPT_SACK	 5
#define TCPOPT_TS	 8
#define TCPOLEN_MSS	 4
#define TCPOLEN_WSCALE	 3
#define TCPOLEN_TS	 10

struct NET_WIRE tcp_hdr {
	uint16_t sport;
	uint16_t dport;
	uint32_t seq;
	uint32_t ack;
	uint8_t off;   /* data offset (32-bit words) in the high nibble */
	uint8_t flags; /* CWR ECE URG ACK PSH RST SYN FIN */
	uint16_t win;
	uint16_t csum;
	uint16_t urg;
};

_Static_assert(sizeof(struct eth_hdr) == ETH_HLEN, "Ethernet header size");
_Static_assert(sizeof(struct arp_pkt) == ARP_LEN, "ARP packet size");
_Static_assert(sizeof(struct ip_hdr) == IP_HLEN, "IPv4 header size");
_Static_assert(sizeof(struct icmp_hdr) == ICMP_HLEN, "ICMP header size");
_Static_assert(sizeof(struct udp_hdr) == UDP_HLEN, "UDP header size");
_Static_assert(sizeof(struct tcp_hdr) == TCP_HLEN, "TCP header size");
