/* netif: UDP endpoints and TCP connections over one kernel-bypass queue pair, for event-driven
 * servers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <net/net.h>
#include <net/tcp.h>
#include <uapi/event.h>
#include <vnet.h>

/*
 * A struct netif owns one queue pair (struct vnet) and one protocol stack
 * (struct net_stack). Endpoints are UDP ports opened on it. The data path
 * (poll, receive, reply, send, flush) makes no system call; only
 * netif_open, netif_wait and netif_drain enter the kernel.
 *
 *	netif_open(&nif, "eth0", 0, &cfg);
 *	netif_udp_open(&nif, 7, &ep);
 *	for (;;) {
 *		while ((n = netif_recv_batch(ep, d, 32)) > 0)
 *			netif_echo_batch(ep, d, n);
 *		netif_wait(&nif, WAIT_FOREVER);
 *	}
 *
 * or, run to completion, netif_udp_set_handler(ep, fn, arg) and a loop of
 * netif_wait alone: fn answers each datagram inside the poll.
 *
 * Every received datagram holds its receive buffer (zero copy) until exactly
 * one of netif_reply, netif_echo (or their batch forms) or netif_release
 * gives it back. A datagram that arrived in IPv4 fragments holds its
 * reassembly buffer in the stack instead (buf has NETIF_BUF_REASM; the
 * stack bounds them: NET_REASM_* in net/net.h), and its reply goes out in
 * fragments. Replies and sends are queued and go out together, with one
 * publish and at most one doorbell, at netif_flush, which netif_poll and
 * netif_wait call.
 */

#define NETIF_EPS	   8	      /* endpoints per interface */
#define NETIF_EP_QUEUE	   64	      /* datagrams an endpoint holds; more are dropped (2^n) */
#define NETIF_BURST	   32	      /* frames taken from the RX ring per poll */
#define NETIF_TX_QUEUE	   64	      /* frames waiting for netif_flush */
#define NETIF_POLL_NS	   1000000ull /* default poll window before sleeping: 1 ms */
#define NETIF_SPINS	   64	      /* looks at the RX ring between full polls while waiting */
#define NETIF_DGRAM_MAX	   NET_UDP_MAX_PAYLOAD /* largest payload in one frame: 1472 */
#define NETIF_SEND_MAX	   NET_UDP_MAX_DGRAM   /* largest sent, fragmented past 1472: 65507 */
#define NETIF_BUF_REASM	   0x80000000u /* netif_dgram.buf: reassembly slot, not a vnet buffer */
#define NETIF_ARP_RETRY_NS (100 * 1000000ull) /* netif_send asks a next hop at most this often */

_Static_assert((NETIF_EP_QUEUE & (NETIF_EP_QUEUE - 1)) == 0, "a power of two");
_Static_assert(NETIF_TX_QUEUE >= NETIF_BURST, "a burst of ARP/ICMP replies must fit");

struct netif;
struct netif_ep;

/*
 * A received datagram. Addresses and ports are in host byte order. The
 * payload is writable in place: a reply is built in the same buffer.
 */
struct netif_dgram {
	uint8_t *payload;  /* inside the receive buffer */
	uint16_t len;	   /* payload bytes; netif_reply_batch sends this many */
	uint16_t src_port; /* the sender's: replies go there */
	uint32_t src_ip;
	uint32_t dst_ip;     /* ours, or a broadcast address */
	uint16_t dst_port;   /* the endpoint's port */
	uint16_t csum;	     /* UDP checksum as received (wire order), 0: none; see netif_echo */
	bool csum_partial;   /* csum is the pseudo-header sum only (the sender left the
			      * checksum to the NIC): payload changes need no csum patch */
	uint32_t buf;	     /* the vnet buffer it holds, or NETIF_BUF_REASM | reassembly slot */
	struct netif_ep *ep; /* NULL once answered or released */
};

/* A datagram for netif_send_batch. */
struct netif_msg {
	uint32_t dst_ip; /* host byte order */
	uint16_t dst_port;
	const void *data;
	size_t len;
};

struct netif_ep_stats {
	uint64_t rx;	     /* datagrams queued on the endpoint */
	uint64_t rx_dropped; /* ... dropped: its queue was full */
	uint64_t tx;	     /* replies and sends queued for transmission */
};

/*
 * A datagram handler (netif_udp_set_handler): called inside the poll that
 * received d, which it answers (netif_echo, netif_reply) or releases.
 */
typedef void (*netif_udp_fn)(struct netif_ep *ep, struct netif_dgram *d, void *arg);

struct netif_ep {
	struct netif *nif;
	uint16_t port;	 /* 0: slot unused */
	netif_udp_fn fn; /* NULL: datagrams are queued for netif_recv */
	void *fn_arg;
	uint32_t head; /* free-running: next slot delivery fills */
	uint32_t tail; /* free-running: next slot netif_recv takes */
	struct netif_ep_stats stats;
	struct netif_dgram queue[NETIF_EP_QUEUE];
};

/*
 * Interface counters; vnet.stats counts the driver, stack.stats the
 * protocols (datagrams for ports no endpoint has: stack.stats.rx_udp_no_port).
 */
struct netif_stats {
	uint64_t rx_queue_full;	 /* datagrams dropped: their endpoint's queue was full */
	uint64_t rx_no_endpoint; /* NET_RX_UDP for a port bound in the stack but not here */
	uint64_t rx_deferred;	 /* polls that left RX alone: the TX ring was full */
	uint64_t tx_dropped;	 /* frames with no room in the TX ring or the TX queue */
	uint64_t reply_errors;	 /* replies the stack refused (bad length, source port 0) */
	uint64_t arp_requests;	 /* ARP requests netif_send sent for unknown next hops */
	uint64_t wakeups;	 /* returns from the wait system call */
	uint64_t net_events;	 /* EV_NET events for this queue pair */
	uint64_t other_events;	 /* other events netif_wait took off the ring */
	uint64_t restart_fails;	 /* EV_NET_RESET, and the pair could not be had back */
	uint64_t
	    busy_cycles; /* TSC cycles from a poll that found frames to the next poll or wait */
};

/*
 * When an answer rings the doorbell (netif.c, "When to ring"): at least
 * `delay` TSC cycles after its request was noticed, learnt by giving the
 * answers rung for a step less and a step more in turn, and moving toward
 * the side whose answers were sent sooner.
 */
#define NETIF_KICK_STEP	 256u	    /* cycles between a wait tried and the learnt one */
#define NETIF_KICK_MAX	 16384u	    /* the longest wait learnt */
#define NETIF_KICK_ROUND 256u	    /* answers timed on each side before a move */
#define NETIF_KICK_CLIP	 (1u << 17) /* a sample counts at most this many cycles */
struct netif_kick {
	int64_t fixed;	 /* >= 0: always wait this long; < 0: learn */
	uint32_t delay;	 /* learnt: the wait between the two tried */
	uint8_t side;	 /* the last answer given a wait tried delay - STEP (0) or + STEP (1) */
	uint32_t n[2];	 /* answers timed on each side this round */
	uint64_t sum[2]; /* ... their request-to-sent cycles */
	uint64_t timed;	 /* answers learnt from in all */
	/* The answer rung for last, until the device is seen to have sent it: */
	bool pending;	   /* an answer is being watched */
	uint16_t idx;	   /* ... the TX avail index that covers it */
	uint64_t t0;	   /* ... TSC when its request was noticed */
	uint64_t sent_n;   /* answers seen sent */
	uint64_t sent_sum; /* ... request noticed to sent, cycles (each clipped) */
};

/* Called by netif_wait for each event that is not this queue pair's EV_NET. */
typedef void (*netif_event_fn)(struct netif *nif, const struct mc_event *ev, void *arg);

struct netif {
	struct vnet vn;
	struct net_stack stack;
	struct net_io io; /* how the stack sends frames of its own (fragments) */
	unsigned int qp;
	uint64_t poll_ns;	  /* netif_wait polls this long after the last activity */
	unsigned int pause_burst; /* ... with PAUSE after a burst this big (0: never) */
	struct netif_kick kick;	  /* when an answer rings the doorbell */
	uint64_t last_active_ns;  /* a frame received, or a TX backlog drained */
	unsigned int last_burst;  /* frames the last productive poll received */
	uint64_t busy_t0;	  /* TSC when the frames being handled were found; 0: none */
	netif_event_fn on_event;  /* NULL: other events are counted and dropped */
	void *event_arg;
	uint32_t queued;   /* datagrams waiting on endpoints */
	unsigned int ntx;  /* frames in tx */
	bool tx_blocked;   /* the last flush left frames behind: the ring was full */
	bool tcp_flushing; /* inside tcp_flush (whose buffers may flush the queue) */
	struct vnet_pkt tx[NETIF_TX_QUEUE];
	struct {
		uint64_t tsc0, ns0;
		uint64_t mult; /* nanoseconds per TSC tick, 32.32 fixed point; 0: no clock */
	} clock;
	struct {
		uint32_t hop; /* the next hop netif_send last asked for */
		uint64_t sent_ns;
	} arp;
	struct netif_stats stats;
	struct netif_ep eps[NETIF_EPS];
};

/*
 * Attach queue pair qp of NIC dev (vnet_open: the net_attach system call),
 * initialise the stack from cfg and calibrate the clock (a ~10 ms sleep).
 * cfg->mac is ignored (the device's MAC is used); NET_UDP_CSUM_OFFLOAD falls
 * back to software checksums on a device without checksum offload.
 * 0 or a negative errno from vnet_open.
 */
int netif_open(struct netif *nif, const char *dev, unsigned int qp, const struct net_config *cfg);

/* Free the driver's memory; the queue pair stays the process's until it exits. */
void netif_close(struct netif *nif);

/* Monotonic nanoseconds from the TSC: no system call. */
uint64_t netif_now_ns(const struct netif *nif);

/* How long netif_wait keeps polling after the last activity before it sleeps. */
static inline void netif_set_poll_ns(struct netif *nif, uint64_t ns)
{
	nif->poll_ns = ns;
}

/*
 * The answers of a poll (handlers, ARP, ICMP), and what the application
 * answered before it polls or waits again (TCP output, datagrams it
 * queued), ring the doorbell no sooner than cycles TSC cycles after their
 * request was noticed; -1 (the default) learns the wait that gets answers
 * sent soonest (netif.c, "When to ring"), 0 rings at once.
 */
void netif_set_kick_wait(struct netif *nif, int64_t cycles);

/* The wait answers keep now (the fixed one, or the one learnt so far). */
uint64_t netif_kick_wait(const struct netif_kick *k);

/* The wait for an answer about to ring: the fixed one, or a side's in turn. */
uint64_t netif_kick_next(struct netif_kick *k);

/* Learn from the answer last given a wait: sent cycles after its request was noticed. */
void netif_kick_learn(struct netif_kick *k, uint64_t cycles);

/*
 * While polling, PAUSE between polls once a burst of at least n frames came
 * (default 0: never). Under TCG a PAUSE takes QEMU's big lock: that helps
 * when the vCPU shares its host core with QEMU's I/O thread (n =
 * NETIF_BURST: while a backlog stands) and hinders when it has a core of
 * its own (bench/README.md).
 */
static inline void netif_set_pause_burst(struct netif *nif, unsigned int n)
{
	nif->pause_burst = n;
}

/* Pass events other than this queue pair's to fn (netif_wait takes them off the ring). */
static inline void netif_set_event_handler(struct netif *nif, netif_event_fn fn, void *arg)
{
	nif->on_event = fn;
	nif->event_arg = arg;
}

/*
 * Receive on UDP port (not 0): *ep is the endpoint. 0, -EINVAL (port 0),
 * -EEXIST (already open) or -ENOSPC (all NETIF_EPS endpoints in use).
 */
int netif_udp_open(struct netif *nif, uint16_t port, struct netif_ep **ep);

/*
 * Run to completion: each datagram that arrives on ep goes to fn(ep, d,
 * arg) inside the poll that received it, instead of onto ep's queue. fn
 * answers d (netif_echo, netif_reply) or releases it; a datagram it leaves
 * alone is released when it returns. The answers of one poll go out
 * together at its end (one flush, at most one doorbell), and that poll
 * first takes the requests already waiting in the RX ring, up to
 * NETIF_BURST. Nothing lies between a request noticed and its answer but
 * the stack and fn: no endpoint queue, no return to the caller's loop
 * (echod; bench/README.md, "Where echod's time goes"). fn must not call
 * netif_poll, netif_wait or netif_flush. NULL goes back to queuing.
 */
void netif_udp_set_handler(struct netif_ep *ep, netif_udp_fn fn, void *arg);

/*
 * Stop receiving on ep's port; datagrams still queued are released. Those
 * the application holds must be answered or released before.
 */
void netif_udp_close(struct netif_ep *ep);

/*
 * Flush, then take up to NETIF_BURST frames: ARP and ICMP echo requests are
 * answered in place (their replies are flushed before returning), garbage
 * is dropped and counted, each UDP datagram is queued on its endpoint or
 * handed to its handler.
 * Nothing is received while the TX ring is full (frames wait in the RX
 * ring). Returns the frames received.
 */
unsigned int netif_poll(struct netif *nif);

/* Queue everything replied or sent so far: one publish, at most one doorbell. Returns how many. */
unsigned int netif_flush(struct netif *nif);

/*
 * Receive the frames already waiting in the RX ring without flushing what
 * the caller has queued: for a server that answers a backlog in bigger
 * batches. Under a load of many requests in flight, fewer and bigger
 * batches mean fewer passes of QEMU's I/O thread, which moves every frame
 * on the host (echod --batch, bench/README.md). 0 when nothing waits, when
 * the TX queue has no room for another burst of answers, or when the TX
 * ring is full (netif_flush must drain it first). The caller flushes.
 */
unsigned int netif_rx_more(struct netif *nif);

/*
 * Flush, and return as soon as datagrams are queued on an endpoint, TCP
 * events wait (netif_tcp_next), or a poll brings frames. Otherwise keep
 * polling until poll_ns have passed since the last activity, then arm the
 * interrupt and sleep until a frame arrives, another event does, or
 * timeout_ns (WAIT_FOREVER: never) has passed since the call. Returns the
 * frames received (or datagrams waiting, or 1 for TCP events), 0 (timeout,
 * or woken with nothing to receive) or a negative errno from the wait
 * system call.
 */
int netif_wait(struct netif *nif, uint64_t timeout_ns);

/*
 * Send everything queued and wait, up to timeout_ns, for the device to
 * finish transmitting (before exiting: the device is reset then).
 * 0 or -ETIMEDOUT.
 */
int netif_drain(struct netif *nif, uint64_t timeout_ns);

/* Take the oldest datagram queued on ep into *d: 1, or 0 if there is none. */
int netif_recv(struct netif_ep *ep, struct netif_dgram *d);

/* Take up to n queued datagrams into d[]; returns how many. */
unsigned int netif_recv_batch(struct netif_ep *ep, struct netif_dgram *d, unsigned int n);

/*
 * Answer d with the first len bytes at d->payload (rewritten in place as the
 * application likes; len <= NETIF_DGRAM_MAX, or for a reassembled datagram
 * up to what its buffer holds, d->len at least), from its own buffer, to its
 * sender. The checksum is computed over the new payload. d is consumed
 * whatever the result: 0, or -EMSGSIZE / -EINVAL when the stack refuses
 * (counted in reply_errors) or -ENOSPC when the TX ring and queue are full
 * (tx_dropped). -EINVAL without consuming it if d is not ep's.
 */
int netif_reply(struct netif_ep *ep, struct netif_dgram *d, size_t len);

/*
 * netif_reply of d->len bytes with the received checksum reused: no pass
 * over the payload. The payload must be unchanged, or d->csum patched to
 * match it (RFC 1624 incremental update; leave it 0 if it was 0).
 */
int netif_echo(struct netif_ep *ep, struct netif_dgram *d);

/* netif_reply of each d[i] with d[i].len bytes; returns how many were queued. */
unsigned int netif_reply_batch(struct netif_ep *ep, struct netif_dgram *d, unsigned int n);

/* netif_echo of each d[i]; returns how many were queued. */
unsigned int netif_echo_batch(struct netif_ep *ep, struct netif_dgram *d, unsigned int n);

/* Give d's buffer back unanswered. 0, or -EINVAL if d holds none. */
int netif_release(struct netif_dgram *d);

/*
 * Copy len bytes of data into a new datagram from ep's port to
 * dst_ip:dst_port. 0; -EAGAIN if the next hop's MAC is unknown (an ARP
 * request goes out, at most one per hop every NETIF_ARP_RETRY_NS: poll and
 * retry); -ENOSPC if no buffer is free or the TX ring and queue are full
 * (flush or poll and retry); -EINVAL (no route, bad address, port 0);
 * -EMSGSIZE (len > NETIF_SEND_MAX). Past NETIF_DGRAM_MAX the datagram goes
 * out in IPv4 fragments (all of them or, on -ENOSPC, none usable).
 */
int netif_send(struct netif_ep *ep, uint32_t dst_ip, uint16_t dst_port, const void *data,
	       size_t len);

/*
 * netif_send of m[0..n) in order, stopping at the first failure. Returns
 * how many were queued, or the first one's error if none was.
 */
int netif_send_batch(struct netif_ep *ep, const struct netif_msg *m, unsigned int n);

/*
 * TCP over the same queue pair (RFC 9293; net/tcp.h has every call and its
 * semantics). Event-driven and non-blocking like the UDP side: nothing
 * here blocks or makes a system call; segments go out at netif_flush
 * (which netif_poll and netif_wait call), timers run inside netif_poll and
 * netif_wait wakes for them. A sketch of a server:
 *
 *	struct tcp_listener *l;
 *	struct tcp_event ev;
 *	struct tcp_conn *c;
 *
 *	netif_tcp_listen(&nif, 11211, 128, &l);
 *	for (;;) {
 *		while (netif_tcp_next(&nif, &ev)) {
 *			if (ev.events & TCP_EV_ACCEPT)
 *				while (tcp_accept(ev.lis, &c))
 *					tcp_set_user(c, new_session(c));
 *			if (ev.conn && (ev.events & TCP_EV_READ))
 *				serve(ev.conn);	// tcp_peek, tcp_consume, tcp_send
 *			if (ev.conn && (ev.events & TCP_EV_CLOSED))
 *				tcp_close(ev.conn);
 *		}
 *		netif_wait(&nif, WAIT_FOREVER);
 *	}
 *
 * Buffers: received data stays in the receive buffers it arrived in (zero
 * copy); tcp_peek gives the bytes at the head of the stream that sit in one
 * buffer, valid until tcp_consume/tcp_recv; consuming gives the buffers
 * back. TCP keeps at most half the pool this way (io.hold_max); past that,
 * in-window data is dropped and the peer resends it. Data that waits above
 * a hole in the stream (out of order) gets at most half of that, shared
 * between connections, and is given up for data the application can read
 * when nothing else is left (tcp_stats: ooo_held, ooo_reneged), so holes
 * never keep the resends that fill them out. The application must consume
 * what it reads (copy a partial message if it wants to wait for the rest):
 * data it leaves unread keeps its buffers. tcp_send copies into
 * the connection's send buffer (struct tcp_config.sndbuf), which holds the
 * bytes until acknowledged. A connection handle is the application's from
 * tcp_accept or netif_tcp_connect until tcp_close or tcp_abort; after a
 * TCP_EV_CLOSED (reset, timeout) it stays valid, in CLOSED, until then. The
 * stack finishes a close on its own (FIN, TIME-WAIT) and frees the
 * connection: every counter in tcp_stats(&nif->stack) that is a gauge
 * returns to zero when all connections are gone.
 */

/*
 * Give the interface TCP with cfg (NULL: the defaults of
 * tcp_config_defaults; a zero secret is replaced by random bytes). Optional:
 * the first listen or connect does it with the defaults. 0, -EEXIST,
 * -ENOMEM.
 */
int netif_tcp_init(struct netif *nif, const struct tcp_config *cfg);

/* tcp_listen on nif's stack (TCP started if need be). */
int netif_tcp_listen(struct netif *nif, uint16_t port, unsigned int backlog,
		     struct tcp_listener **l);

/* tcp_connect from nif's address: ip and port in host order. */
int netif_tcp_connect(struct netif *nif, uint32_t ip, uint16_t port, struct tcp_conn **c);

/* The next TCP event (struct tcp_event): 1, or 0 if none waits. */
int netif_tcp_next(struct netif *nif, struct tcp_event *ev);
