/* The protocol core of the user-space network stack: Ethernet, ARP, IPv4 (fragments too), ICMP,
 * UDP. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/*
 * Conventions
 * - Every IPv4 address and port in this API (struct net_config, struct
 *   net_udp, function arguments) is in HOST byte order.  Wire structs in
 *   proto.h are in network order.
 * - Frames are Ethernet frames without FCS and without the virtio-net header.
 *   The receive path and the single-frame builders allocate nothing, copy no
 *   payload (except udp_build's one copy of the caller's data, skipped when it
 *   is already in place) and keep no pointer to a frame after returning.
 *   Reassembly copies fragments into heap buffers (bounded by NET_REASM_MEM);
 *   frames the stack sends on its own (fragments, TCP) come from the owner's
 *   struct net_io, and TCP keeps received buffers (NET_RX_KEPT) until the
 *   application has read them (tcp.h).
 * - One struct net_stack per queue pair / core: no locking, no atomics.
 * - Builders return the frame length to transmit (> 0) or a negative errno.
 */

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "net: little-endian hosts only");

static inline uint16_t net_htons(uint16_t x)
{
	return __builtin_bswap16(x);
}

static inline uint16_t net_ntohs(uint16_t x)
{
	return __builtin_bswap16(x);
}

static inline uint32_t net_htonl(uint32_t x)
{
	return __builtin_bswap32(x);
}

static inline uint32_t net_ntohl(uint32_t x)
{
	return __builtin_bswap32(x);
}

#define NET_MTU		    1500
#define NET_FRAME_MAX	    (ETH_HLEN + NET_MTU)	    /* 1514 */
#define NET_UDP_PAYLOAD_OFF (ETH_HLEN + IP_HLEN + UDP_HLEN) /* 42: where built payloads go */
#define NET_UDP_MAX_PAYLOAD (NET_MTU - IP_HLEN - UDP_HLEN)  /* 1472: in one frame */
#define NET_IP_MAX_PAYLOAD  (65535 - IP_HLEN)		    /* 65515: any datagram, fragmented */
#define NET_UDP_MAX_DGRAM   (NET_IP_MAX_PAYLOAD - UDP_HLEN) /* 65507 */
#define NET_FRAG_PAYLOAD    ((NET_MTU - IP_HLEN) & ~7u)	    /* 1480: data per fragment sent */
/* Where a device completes the UDP checksum of a datagram we send (no IP options). */
#define NET_UDP_CSUM_START  (ETH_HLEN + IP_HLEN) /* 34 */
#define NET_UDP_CSUM_OFFSET 6			 /* offsetof(struct udp_hdr, csum) */

#define NET_ARP_SLOTS  16
#define NET_ARP_TTL_NS (60ull * 1000000000ull)

/*
 * IPv4 reassembly (RFC 791 §3.2, RFC 815), UDP only. Bounds: datagrams under
 * reassembly or held by the application at once, fragments per datagram,
 * bytes of reassembly buffers in all, and the time a datagram may take to
 * complete (RFC 1122 §3.3.2 asks for a fixed value; Linux uses 30 s).
 */
#define NET_REASM_SLOTS	     8
#define NET_REASM_FRAGS	     64
#define NET_REASM_MEM	     (256 * 1024)
#define NET_REASM_TIMEOUT_NS (30ull * 1000000000ull)

/* How transmitted UDP checksums are produced (struct net_config.udp_csum). */
enum net_udp_csum {
	NET_UDP_CSUM_FULL = 0, /* computed in software (the default) */
	NET_UDP_CSUM_NONE,     /* sent as 0, "no checksum" (RFC 768) */
	NET_UDP_CSUM_OFFLOAD,  /* field holds the pseudo-header sum: the driver sets
				* VIRTIO_NET_HDR_F_NEEDS_CSUM, csum_start 34, csum_offset 6 */
};

struct net_config {
	uint8_t mac[ETH_ALEN];
	uint32_t ip;	  /* host byte order */
	uint32_t netmask; /* host byte order, e.g. 0xffffff00 */
	uint32_t gateway; /* host byte order; 0: only the local subnet is reachable */
	uint8_t udp_csum; /* enum net_udp_csum */
};

/*
 * Counters.  Every frame given to net_rx counts in rx_frames/rx_bytes and ends
 * in exactly one way: a reply, consumed, a UDP delivery (rx_udp), or a drop,
 * which increments exactly one rx_* reason below and rx_dropped.
 */
struct net_stats {
	uint64_t rx_frames;
	uint64_t rx_bytes;
	uint64_t tx_frames; /* frames built for transmission (replies included) */
	uint64_t tx_bytes;
	uint64_t rx_udp;	/* datagrams delivered as NET_RX_UDP */
	uint64_t rx_ip_options; /* valid IP headers with options (skipped; not a drop) */
	uint64_t arp_requests_answered;
	uint64_t arp_replies_learned;
	uint64_t icmp_echo_answered;
	uint64_t rx_frags;	 /* fragments taken into a reassembly (consumed) */
	uint64_t reasm_ok;	 /* datagrams reassembled (then checked as UDP) */
	uint64_t reasm_timeout;	 /* datagrams given up incomplete after NET_REASM_TIMEOUT_NS */
	uint64_t reasm_evicted;	 /* ... to make room for a newer one */
	uint64_t reasm_killed;	 /* ... for a bad fragment (overlap, length, count, memory) */
	uint64_t reasm_bytes;	 /* gauge: bytes of reassembly buffers now (0 when idle) */
	uint64_t tx_frags;	 /* fragments built for transmission */
	uint64_t tx_frag_errors; /* datagrams whose fragments could not all be queued */

	uint64_t rx_dropped; /* sum of the reasons below */
	uint64_t rx_short;   /* shorter than its headers */
	uint64_t rx_bad_ethertype;
	uint64_t rx_not_for_us; /* destination MAC or IP not ours (IPv4 needs our unicast MAC) */
	uint64_t rx_bad_src;	/* group source MAC; source IP ours/broadcast/0/127/224+ */
	uint64_t rx_ip_bad_version;
	uint64_t rx_ip_bad_hlen; /* IHL < 5 */
	uint64_t rx_ip_bad_len;	 /* total length > frame, or < IHL * 4 */
	uint64_t rx_ip_bad_csum;
	uint64_t rx_ip_fragment;    /* a fragment of a protocol other than UDP: no reassembly */
	uint64_t rx_frag_bad;	    /* offset + length past 65535, a non-final one not a multiple
				     * of 8 bytes or empty, past the end or a second, other end */
	uint64_t rx_frag_overlap;   /* overlaps another fragment (RFC 5722): datagram abandoned */
	uint64_t rx_frag_dup;	    /* an exact copy of a fragment already held */
	uint64_t rx_frag_too_many;  /* more than NET_REASM_FRAGS: datagram abandoned */
	uint64_t rx_frag_no_mem;    /* no slot or over NET_REASM_MEM: datagram abandoned */
	uint64_t rx_frag_abandoned; /* a later fragment of a datagram abandoned for one of these */
	/* TCP segments (tcp.h); a RST answering one for a closed port is not a drop. */
	uint64_t rx_tcp_bad_len; /* data offset < 5 or past the segment */
	uint64_t rx_tcp_bad_csum;
	uint64_t rx_tcp_bad_opt;	/* an option of length < 2 or running past the header */
	uint64_t rx_tcp_bad_flags;	/* SYN with FIN or RST; no ACK where one is due */
	uint64_t rx_tcp_no_port;	/* a RST (never answered) or garbage for no connection */
	uint64_t rx_tcp_out_of_window;	/* RFC 9293 §3.10.7.4 acceptability test failed (ACKed) */
	uint64_t rx_tcp_paws;		/* RFC 7323 §5: an old timestamp (ACKed) */
	uint64_t rx_tcp_bad_ack;	/* acknowledges what was never sent, or long ago */
	uint64_t rx_tcp_rst_ignored;	/* a RST outside the window (RFC 5961 §3.2) */
	uint64_t rx_tcp_rst_challenged; /* a RST in the window, not exactly next: challenged */
	uint64_t rx_tcp_syn_challenged; /* a SYN on a synchronized connection: challenged */
	uint64_t rx_tcp_dup_data;	/* data all received before (re-ACKed) */
	uint64_t rx_tcp_no_mem;		/* no buffer to hold the data, or no connection */
	uint64_t rx_tcp_ooo_full;	/* out of order, and the connection's queue (TCP_OOO_MAX)
					 * or the stack's share for such data is full */
	uint64_t rx_tcp_listen_full;	/* the listener's accept queue is full */
	uint64_t rx_tcp_bad_cookie;	/* an ACK for a listener, cookies out, none valid */
	uint64_t rx_tcp_closing;	/* data after the peer's FIN or a closed handle */
	uint64_t rx_ip_bad_proto;
	uint64_t rx_udp_bad_len; /* UDP length < 8 or > IP payload */
	uint64_t rx_udp_bad_csum;
	uint64_t rx_udp_no_port;
	uint64_t rx_icmp_bad_csum;
	uint64_t rx_icmp_other; /* anything but echo request code 0 */
	uint64_t rx_arp_bad;	/* htype, ptype, hlen, plen or op wrong */
};

struct net_arp_entry {
	uint64_t expires_ns; /* 0: empty */
	uint32_t ip;	     /* host byte order */
	uint8_t mac[ETH_ALEN];
};

/*
 * What the stack asks of its owner (netif) for the frames it sends on its
 * own, beyond the replies it builds in a received buffer: IPv4 fragments.
 * Buffers are the owner's ids.
 */
struct net_io {
	void *ctx;
	/* A free buffer for a frame: the frame (*cap bytes of room), or NULL if none. */
	uint8_t *(*alloc)(void *ctx, uint32_t *buf, size_t *cap);
	/*
	 * Transmit the first len bytes of buf's frame; the owner takes the
	 * buffer back whatever happens. 0, or -ENOSPC (no room: dropped).
	 */
	int (*xmit)(void *ctx, uint32_t buf, size_t len);
	/*
	 * Optional (NULL: none): xmit of a frame whose L4 checksum, at
	 * csum_offset from the L4 header behind a 20-byte IPv4 header, holds
	 * only the pseudo-header sum, for the device to complete (virtio
	 * NEEDS_CSUM). TCP uses it when given.
	 */
	int (*xmit_csum)(void *ctx, uint32_t buf, size_t len, uint16_t csum_offset);
	/* Give back a buffer: from alloc and not transmitted, or a kept receive buffer. */
	void (*release)(void *ctx, uint32_t buf);
	/* The monotonic clock, for API calls that start timers (tcp_close ...). */
	uint64_t (*now)(void *ctx);
	uint32_t frame_cap; /* bytes every buffer holds from the frame's start */
	uint32_t hold_max;  /* receive buffers TCP may keep at once */
};

#define NET_BUF_NONE 0xffffffffu /* net_rx_buf: the frame is in no buffer TCP could keep */

enum net_reasm_state {
	NET_REASM_FREE = 0,
	NET_REASM_BUILDING, /* fragments arriving */
	NET_REASM_DEAD,	    /* abandoned: later fragments are dropped until it expires */
	NET_REASM_HELD,	    /* complete and delivered: the application holds it */
};

/* One datagram under reassembly; fragment data goes to data at its offset. */
struct net_reasm {
	uint8_t state;	       /* enum net_reasm_state */
	uint8_t proto;	       /* the key: (src, dst, proto, id), RFC 791 §3.2 */
	uint16_t id;	       /* wire order */
	uint32_t src_be;       /* wire order */
	uint32_t dst_be;       /* wire order */
	uint8_t mac[ETH_ALEN]; /* the sender's Ethernet address: replies go there */
	uint16_t nfrags;
	uint32_t total; /* bytes of IP payload, once the last fragment came; else 0 */
	uint32_t have;	/* bytes held */
	uint32_t cap;	/* bytes allocated at data */
	uint64_t expires_ns;
	uint8_t *data;
	struct {
		uint16_t start, end; /* payload bytes [start, end) */
	} frags[NET_REASM_FRAGS];
};

struct net_stack {
	struct net_config cfg;
	struct net_stats stats;
	uint16_t ip_id; /* identification of the next datagram sent */
	struct net_arp_entry arp[NET_ARP_SLOTS];
	uint64_t udp_ports[65536 / 64]; /* bitmap of bound UDP ports */
	const struct net_io *io;	/* NULL: nothing but in-place replies and built frames */
	struct tcp_stack *tcp;		/* NULL until tcp_init */
	uint64_t reasm_next_ns;		/* earliest expiry of a reassembly; 0: none */
	uint64_t tcp_next_ns;		/* when TCP's timer wheel next has work; 0: none */
	struct net_reasm reasm[NET_REASM_SLOTS];
};

/* Verdicts of net_rx. */
enum net_rx_verdict {
	NET_RX_DROP = 0, /* counted; recycle the buffer */
	NET_RX_CONSUMED, /* handled (e.g. ARP learned); recycle the buffer */
	NET_RX_REPLY,	 /* frame rewritten in place: transmit out->len bytes of it */
	NET_RX_UDP,	 /* a datagram for a bound port: see out->udp */
	NET_RX_KEPT,	 /* the stack keeps the buffer (TCP data) and gives it back via net_io */
};

/* net_rx_flags flags. */
#define NET_RX_F_CSUM_VALID 0x1u /* device verified the UDP checksum (virtio DATA_VALID) */
/* The UDP checksum is partial, the data known good: from net_rx_partial only. */
#define NET_RX_F_CSUM_PARTIAL 0x2u

/*
 * A received datagram; the payload stays in the frame, or for a datagram
 * reassembled from fragments (reasm != 0) in reassembly slot reasm - 1,
 * until net_reasm_release.
 */
struct net_udp {
	uint8_t *payload; /* inside the frame */
	uint16_t len;	  /* payload bytes (UDP length - 8; Ethernet padding excluded) */
	uint16_t sport;	  /* host byte order */
	uint16_t dport;
	uint16_t csum;	   /* checksum field as received (wire order), 0 if none */
	bool csum_partial; /* csum is the pseudo-header sum only (NET_RX_F_CSUM_PARTIAL) */
	uint8_t reasm;	   /* 0: in the frame; else reassembly slot + 1 */
	uint32_t src_ip;   /* host byte order */
	uint32_t dst_ip;
};

struct net_rx_result {
	size_t len;	    /* NET_RX_REPLY: reply length, in the same buffer */
	struct net_udp udp; /* NET_RX_UDP */
};

/*
 * A frame whose sender left its L4 checksum partial (virtio NEEDS_CSUM,
 * §5.1.6.4): the 16 bits at csum_start + csum_offset hold the pseudo-header
 * sum, and the checksum is what the sum from csum_start to the end makes of
 * it. The caller has checked that the field lies inside len. When it is the
 * UDP checksum of an IPv4 datagram, returns NET_RX_F_CSUM_PARTIAL for
 * net_rx_flags: nothing to verify, and an unchanged echo can leave the
 * checksum to the device (net_udp.csum_partial). Otherwise completes the
 * checksum in software, as the device would have, and returns 0.
 */
unsigned int net_rx_partial(uint8_t *frame, size_t len, size_t csum_start, size_t csum_offset);

/* Complete a partial checksum in place (see net_rx_partial). */
void net_csum_complete(uint8_t *frame, size_t len, size_t csum_start, size_t csum_offset);

/*
 * Complete the partial UDP checksum of a datagram we built (at
 * NET_UDP_CSUM_START, over the UDP length), for a device that cannot.
 */
void udp_csum_complete(uint8_t *frame, size_t len);

/* Reset s (stats, ARP cache, bound ports) and take the configuration. */
void net_init(struct net_stack *s, const struct net_config *cfg);

/* Free what the stack holds (reassembly buffers, held datagrams, TCP included). */
void net_fini(struct net_stack *s);

/* Let the stack send frames of its own (fragments) through io (kept by pointer). */
static inline void net_set_io(struct net_stack *s, const struct net_io *io)
{
	s->io = io;
}

/*
 * Run the stack's timers (reassembly expiry, TCP) due at now_ns. Cheap when
 * none is: callers may run it on every poll.
 */
void net_timers(struct net_stack *s, uint64_t now_ns);

/* When net_timers next has work to do; 0: never (nothing pending). Inline: every poll asks. */
static inline uint64_t net_next_timer(const struct net_stack *s)
{
	uint64_t a = s->reasm_next_ns, b = s->tcp_next_ns;

	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}

/* Give back a reassembled datagram (struct net_udp.reasm - 1) the application held. */
void net_reasm_release(struct net_stack *s, unsigned int slot);

/* The sender's Ethernet address of held reassembly slot (for replies). */
static inline const uint8_t *net_reasm_mac(const struct net_stack *s, unsigned int slot)
{
	return s->reasm[slot].mac;
}

/*
 * Classify one received frame of len bytes in the owner's buffer buf (the
 * buffer is writable: replies are built in place; NET_BUF_NONE: TCP cannot
 * keep it). Returns an enum net_rx_verdict. flags is a set of NET_RX_F_*;
 * now_ns is a monotonic clock (ARP cache, TCP).
 */
int net_rx_buf(struct net_stack *s, uint8_t *frame, size_t len, uint32_t buf, unsigned int flags,
	       struct net_rx_result *out, uint64_t now_ns);

static inline int net_rx_flags(struct net_stack *s, uint8_t *frame, size_t len, unsigned int flags,
			       struct net_rx_result *out, uint64_t now_ns)
{
	return net_rx_buf(s, frame, len, NET_BUF_NONE, flags, out, now_ns);
}

static inline int net_rx(struct net_stack *s, uint8_t *frame, size_t len, struct net_rx_result *out,
			 uint64_t now_ns)
{
	return net_rx_flags(s, frame, len, 0, out, now_ns);
}

/*
 * The neighbour a datagram to dst must be sent to: dst itself on our subnet,
 * the gateway otherwise.  False if there is none (no gateway, dst 0 ...).
 */
bool net_next_hop(const struct net_stack *s, uint32_t dst, uint32_t *hop);

/* Accept datagrams for port (not 0): 0 or -EINVAL. */
int udp_bind(struct net_stack *s, uint16_t port);
void udp_unbind(struct net_stack *s, uint16_t port);
bool udp_is_bound(const struct net_stack *s, uint16_t port);

/*
 * Turn the received frame holding u (from net_rx on this same buffer) into a
 * datagram back to its sender: MACs, IPs and ports swapped, payload_len bytes
 * of payload taken from u->payload (the app may have rewritten them there).
 * IP options of the request are dropped (the payload moves down when there
 * were some).  cap is the buffer size.  Returns the length to transmit, or
 * -EMSGSIZE (does not fit cap or the MTU) or -EINVAL (source port 0, payload
 * outside the buffer).
 */
int udp_reply_inplace(struct net_stack *s, uint8_t *frame, size_t cap, const struct net_udp *u,
		      size_t payload_len);

/*
 * udp_reply_inplace for an unmodified payload: the reply's UDP checksum is
 * the request's (the pseudo-header and header words are only permuted), so
 * no pass over the payload is needed.
 */
int udp_echo_inplace(struct net_stack *s, uint8_t *frame, size_t cap, const struct net_udp *u);

/*
 * Answer u, which the stack holds reassembled (u->reasm != 0), with
 * payload_len bytes at u->payload (same: unchanged, so its checksum is
 * reused), sent through the stack's net_io in fragments as needed; the
 * datagram stays held (release it after). 0, -EMSGSIZE (over
 * NET_UDP_MAX_DGRAM or past the buffer), -EINVAL (source port 0, not a
 * held datagram), -ENOSPC (buffers or transmit room ran out; counted in
 * tx_frag_errors) or -ENOSYS (no net_io).
 */
int udp_reply_reasm(struct net_stack *s, const struct net_udp *u, size_t payload_len, bool same);

/*
 * Send len bytes of data (up to NET_UDP_MAX_DGRAM) from sport to
 * dst_ip:dport through the stack's net_io, in fragments when it does not fit
 * one frame. Errors as udp_build's, plus -ENOSPC and -ENOSYS as
 * udp_reply_reasm's.
 */
int udp_send(struct net_stack *s, uint32_t dst_ip, uint16_t sport, uint16_t dport, const void *data,
	     size_t len, uint64_t now_ns);

/*
 * udp_echo_inplace of u leaves the reply's checksum partial (u came partial:
 * the pseudo-header sum is the same both ways): it must go out with the
 * device completing it (VNET_PKT_F_TX_CSUM at NET_UDP_CSUM_START,
 * NET_UDP_CSUM_OFFSET), or through net_csum_complete.
 */
static inline bool udp_echo_partial(const struct net_stack *s, const struct net_udp *u)
{
	return u->csum_partial && u->csum != 0 && s->cfg.udp_csum != NET_UDP_CSUM_NONE;
}

/*
 * Build a datagram to dst_ip:dport into frame[cap].  The payload is copied to
 * frame + NET_UDP_PAYLOAD_OFF unless it is already there.  Returns the frame
 * length, -EAGAIN if the next hop's MAC is not in the ARP cache (send
 * arp_build_request and retry), -EINVAL (no route, bad address or dport 0)
 * or -EMSGSIZE.  Limited and subnet broadcasts go to ff:ff:ff:ff:ff:ff.
 */
int udp_build(struct net_stack *s, uint8_t *frame, size_t cap, uint32_t dst_ip, uint16_t sport,
	      uint16_t dport, const void *payload, size_t len, uint64_t now_ns);

/*
 * Build a broadcast ARP request for the next hop towards dst_ip.  Returns the
 * frame length, -EINVAL (no route) or -EMSGSIZE (cap < 42).
 */
int arp_build_request(struct net_stack *s, uint8_t *frame, size_t cap, uint32_t dst_ip);

/* Copy ip's MAC to mac and return true if the cache holds an unexpired entry. */
bool arp_lookup(const struct net_stack *s, uint32_t ip, uint8_t mac[ETH_ALEN], uint64_t now_ns);

/* Insert or refresh ip -> mac for NET_ARP_TTL_NS (evicts the oldest when full). */
void arp_insert(struct net_stack *s, uint32_t ip, const uint8_t mac[ETH_ALEN], uint64_t now_ns);

/*
 * RFC 1071 checksums.  net_csum_partial adds len bytes at buf (from an even
 * offset of the checksummed region) to a running 64-bit one's complement sum;
 * net_csum_fold folds it to 16 bits and complements it: the value to store in
 * a checksum field (wire order), and 0 when a region holding a correct
 * checksum is verified.
 */
uint64_t net_csum_partial(const void *buf, size_t len, uint64_t sum);

static inline uint16_t net_csum_fold(uint64_t sum)
{
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The UDP/TCP pseudo-header (RFC 768) as a partial sum; addresses in host order. */
static inline uint64_t net_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
	return (uint64_t)net_htonl(src) + net_htonl(dst) + net_htons(proto) + net_htons(len);
}
