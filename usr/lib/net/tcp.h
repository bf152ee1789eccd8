/* TCP (RFC 9293) in the user-space stack: connections, listeners, events, counters. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net.h"

/*
 * The TCP side of one struct net_stack (one queue pair, one core): every
 * connection, listener, timer and counter hangs off it; nothing is global,
 * so each core's stack runs alone. Addresses and ports are in host order.
 *
 * Data path, for the owner (netif):
 *   - received segments come through net_rx_buf; a data segment's buffer is
 *     kept (NET_RX_KEPT) on its connection's receive queue until the
 *     application consumes the bytes (zero copy: tcp_peek); small segments
 *     are copied into the tail buffer's free room instead;
 *   - everything the stack sends goes through its net_io; sends and ACKs
 *     are queued per connection and built at tcp_flush, which the owner
 *     calls before publishing its TX queue (one segment per connection per
 *     flush where possible);
 *   - timers (retransmission, delayed ACK, persist, TIME-WAIT) run from
 *     net_timers, which the owner calls when net_next_timer says so.
 */

/* Connection states, RFC 9293 §3.3.2. */
enum tcp_state {
	TCP_CLOSED = 0,
	TCP_LISTEN,
	TCP_SYN_SENT,
	TCP_SYN_RECEIVED,
	TCP_ESTABLISHED,
	TCP_FIN_WAIT_1,
	TCP_FIN_WAIT_2,
	TCP_CLOSE_WAIT,
	TCP_CLOSING,
	TCP_LAST_ACK,
	TCP_TIME_WAIT,
};

/* Events for the application (tcp_next_event), ORed while they wait. */
#define TCP_EV_ACCEPT	 0x01 /* listener: a connection waits in its accept queue */
#define TCP_EV_CONNECTED 0x02 /* tcp_connect's connection is established */
#define TCP_EV_READ	 0x04 /* data arrived, or the peer's FIN (then tcp_eof) */
#define TCP_EV_WRITE	 0x08 /* send space opened after a short tcp_send */
#define TCP_EV_CLOSED	 0x10 /* the connection ended: tcp_error says how (0: gracefully) */

struct tcp_config {
	uint32_t max_conns;	  /* connections in any state at once (default 4096) */
	uint32_t rcvbuf;	  /* receive window per connection, bytes (65536) */
	uint32_t sndbuf;	  /* send buffer per connection, bytes (65536) */
	uint32_t hash_buckets;	  /* lookup table size, a power of two (4096) */
	uint32_t syn_retries;	  /* SYN retransmissions before an active open fails (6) */
	uint32_t synack_retries;  /* SYN-ACK retransmissions of a passive one (5) */
	uint32_t challenge_acks;  /* RFC 5961 §7: challenge ACKs per second, all (1000) */
	uint64_t time_wait_ns;	  /* TIME-WAIT, 2 MSL (60 s, Linux's) */
	uint64_t fin_wait_ns;	  /* FIN-WAIT-2 of a closed handle, at most (60 s) */
	uint64_t rto_init_ns;	  /* RFC 6298 §2.1: 1 s */
	uint64_t rto_min_ns;	  /* 200 ms (Linux's; RFC 6298 §2.4 allows lower than 1 s) */
	uint64_t rto_max_ns;	  /* 60 s */
	uint64_t delack_ns;	  /* delayed ACK (RFC 1122 §4.2.3.2: < 500 ms): 40 ms */
	uint64_t user_timeout_ns; /* give up on an unacknowledged peer after (120 s) */
	uint8_t secret[16];	  /* key of ISNs (RFC 6528), SYN cookies, hashes */
};

/* Counters of the TCP layer; the per-segment drop reasons are in net_stats (rx_tcp_*). */
struct tcp_stats {
	uint64_t conns;		   /* gauge: connections allocated, any state */
	uint64_t established;	   /* gauge: in ESTABLISHED or CLOSE-WAIT */
	uint64_t time_wait;	   /* gauge: in TIME-WAIT */
	uint64_t rx_held;	   /* gauge: receive buffers held (queued data) */
	uint64_t ooo_held;	   /* gauge: ... of them out of order, above a hole */
	uint64_t snd_bytes;	   /* gauge: bytes in send buffers */
	uint64_t snd_chunks;	   /* gauge: send buffer chunks allocated */
	uint64_t active_opens;	   /* tcp_connect */
	uint64_t passive_opens;	   /* SYNs taken by a listener (TCB or cookie) */
	uint64_t accepted;	   /* connections handed out by tcp_accept */
	uint64_t resets_rx;	   /* connections reset by the peer */
	uint64_t resets_tx;	   /* RSTs sent (closed ports, aborts, bad ACKs) */
	uint64_t timeouts;	   /* connections given up: retransmissions unanswered */
	uint64_t refused;	   /* active opens answered by RST */
	uint64_t segs_rx;	   /* segments accepted by a connection or listener */
	uint64_t segs_tx;	   /* segments sent */
	uint64_t bytes_rx;	   /* payload bytes queued in order */
	uint64_t bytes_tx;	   /* payload bytes sent (retransmissions included) */
	uint64_t retransmits;	   /* segments sent again */
	uint64_t rto_expiries;	   /* retransmission timeouts */
	uint64_t fast_retransmits; /* RFC 5681 §3.2 */
	uint64_t partial_acks;	   /* RFC 6582: NewReno partial acknowledgements */
	uint64_t sack_retransmits; /* holes resent in recovery because SACK blocks showed them */
	uint64_t lost_retransmits; /* resends found lost by SACK blocks, resent again */
	uint64_t dupacks_rx;
	uint64_t ooo_segs;	    /* out-of-order segments queued */
	uint64_t ooo_reneged;	    /* ... given up to make room for in-order data (RFC 2018 §8) */
	uint64_t coalesced;	    /* small segments copied into the previous buffer */
	uint64_t delayed_acks;	    /* ACKs sent by the delayed-ACK timer */
	uint64_t window_probes;	    /* zero-window probes sent */
	uint64_t challenge_acks;    /* RFC 5961 challenge ACKs sent */
	uint64_t challenge_limited; /* ... not sent: over config.challenge_acks a second */
	uint64_t syncookies_tx;	    /* SYN-ACKs carrying a cookie (the backlog was full) */
	uint64_t syncookies_ok;	    /* connections made from a valid cookie */
	uint64_t syncookies_bad;    /* ACKs to a listener while cookies were out, no valid one
				     * among them (dropped: rx_tcp_bad_cookie) */
	uint64_t syn_backlog_drops; /* SYN-RECEIVED connections given up (SYN-ACKs unanswered) */
	uint64_t wscale_clamped;    /* RFC 7323 §2.3: a window scale over 14 used as 14 */
	uint64_t tw_reused;	    /* TIME-WAIT connections replaced by a new SYN */
	uint64_t no_conn_mem;	    /* SYNs or connects refused: max_conns or no memory */
};

struct tcp_stack;
struct tcp_conn;
struct tcp_listener;

/* One application event: conn (or lis for TCP_EV_ACCEPT), its user pointer, the bits. */
struct tcp_event {
	struct tcp_conn *conn;
	struct tcp_listener *lis;
	void *user;
	unsigned int events; /* TCP_EV_* */
};

/* Defaults for any field left 0 (the secret too: pass entropy in it). */
void tcp_config_defaults(struct tcp_config *cfg);

/* Give s a TCP layer (cfg may be NULL: defaults). 0, -EEXIST or -ENOMEM. */
int tcp_init(struct net_stack *s, const struct tcp_config *cfg);

/* Free every connection, listener and buffer (RSTs are not sent). */
void tcp_fini(struct net_stack *s);

/* The TCP counters of s (NULL before tcp_init). */
const struct tcp_stats *tcp_stats(const struct net_stack *s);

/*
 * Listen on port with at most backlog connections half open (more get SYN
 * cookies, RFC 4987 §3.6) and backlog waiting for tcp_accept (more are
 * refused until it drains). 0, -EINVAL (port 0, backlog 0), -EADDRINUSE,
 * -ENOMEM, -ENODEV (no tcp_init).
 */
int tcp_listen(struct net_stack *s, uint16_t port, unsigned int backlog, struct tcp_listener **out);

/* Stop listening: connections not yet accepted are reset. */
void tcp_unlisten(struct tcp_listener *l);

/* Take the oldest established connection from l's accept queue: 1 with *c, or 0. */
int tcp_accept(struct tcp_listener *l, struct tcp_conn **c);

/*
 * Open a connection to ip:port from an ephemeral port (RFC 6056 §3.3.3):
 * the SYN goes out at the next tcp_flush; TCP_EV_CONNECTED or
 * TCP_EV_CLOSED follows. 0, -EINVAL (bad address), -ENOMEM, -EADDRNOTAVAIL
 * (no free port), -ENODEV.
 */
int tcp_connect(struct net_stack *s, uint32_t ip, uint16_t port, uint64_t now_ns,
		struct tcp_conn **out);

/*
 * The unread bytes at the head of c's receive queue that sit in one buffer:
 * *data points at them (valid until tcp_consume or tcp_recv). Returns their
 * count, 0 when nothing is queued.
 */
size_t tcp_peek(struct tcp_conn *c, const uint8_t **data);

/* A piece of the receive queue: len bytes at base, inside a receive buffer. */
struct tcp_iov {
	const uint8_t *base;
	size_t len;
};

/*
 * The unread bytes in order as up to max pieces (one per receive buffer),
 * without consuming them: a parser can look across buffer boundaries
 * without copying. Valid until tcp_consume or tcp_recv. Returns the pieces
 * filled.
 */
unsigned int tcp_peekv(struct tcp_conn *c, struct tcp_iov *iov, unsigned int max);

/* Drop n (<= tcp_readable) bytes from the head; frees buffers, may open the window. */
void tcp_consume(struct tcp_conn *c, size_t n);

/* Copy up to len bytes out and consume them: bytes, 0 if none, or tcp_error when failed. */
long tcp_recv(struct tcp_conn *c, void *buf, size_t len);

/* Bytes queued to read. */
size_t tcp_readable(const struct tcp_conn *c);

/* The peer has closed its side and every byte before its FIN has been consumed. */
bool tcp_eof(const struct tcp_conn *c);

/*
 * Copy up to len bytes into c's send buffer: the bytes taken, fewer (0 when
 * it is full) if there is no room: TCP_EV_WRITE follows once a quarter of
 * the buffer is free again. -EPIPE after shutdown, -ENOTCONN (no longer
 * open), -ENOMEM (no heap for the buffer), or tcp_error. Allowed from
 * SYN-SENT on: the data waits for the connection. The segments go out at
 * the next tcp_flush, so several sends between flushes make one segment.
 */
long tcp_send(struct tcp_conn *c, const void *data, size_t len);

/* Room in the send buffer. */
size_t tcp_sendable(const struct tcp_conn *c);

/* Send a FIN after the queued data (half-close); receiving goes on. 0 or -ENOTCONN. */
int tcp_shutdown(struct tcp_conn *c);

/*
 * Give up the handle: the stack finishes the close (FIN after the queued
 * data, TIME-WAIT) and frees the connection. With unread data, or data
 * arriving later, it resets instead (RFC 9293 §3.10.4, RFC 2525 §2.17).
 */
void tcp_close(struct tcp_conn *c);

/* Reset (RST) now and give up the handle. */
void tcp_abort(struct tcp_conn *c);

/* Nagle's algorithm (RFC 9293 §3.7.4) is on by default; nodelay turns it off. */
void tcp_set_nodelay(struct tcp_conn *c, bool nodelay);

void tcp_set_user(struct tcp_conn *c, void *user);
void *tcp_user(const struct tcp_conn *c);
void tcp_listener_set_user(struct tcp_listener *l, void *user);

/* 0, or the reason the connection failed: -ECONNRESET, -ECONNREFUSED, -ETIMEDOUT. */
int tcp_error(const struct tcp_conn *c);

enum tcp_state tcp_state(const struct tcp_conn *c);

/* The peer's address and port, and our port. */
void tcp_endpoints(const struct tcp_conn *c, uint32_t *ip, uint16_t *port, uint16_t *lport);

/*
 * The next event: 1 with *ev, or 0. Bits of one connection come together
 * (TCP_EV_READ with TCP_EV_CLOSED when the peer's FIN ends it): read before
 * acting on CLOSED. A handle closed or aborted gets no more events.
 */
int tcp_next_event(struct net_stack *s, struct tcp_event *ev);

/* Events are waiting. */
bool tcp_has_events(const struct net_stack *s);

/* Build what connections have queued (data, FIN, ACKs, window updates). */
void tcp_flush(struct net_stack *s, uint64_t now_ns);

/* Something waits for tcp_flush. */
bool tcp_flush_pending(const struct net_stack *s);

/*
 * The clock as the stack last saw it, for API calls that take no time
 * (they ask net_io.now first when the owner gave one, as netif does).
 */
void tcp_set_clock(struct net_stack *s, uint64_t now_ns);

/* net_timers for TCP (net_next_timer reads net_stack.tcp_next_ns). */
void tcp_run_timers(struct net_stack *s, uint64_t now_ns);
