/* What TCP's files (tcp.c, tcp_in.c, tcp_out.c) share: the structures and small helpers. */
#pragma once

#include "ipv4.h"
#include "tcp.h"

#define TCP_MSS_DEFAULT	   536				  /* RFC 9293 §3.7.1: no MSS option */
#define TCP_MSS_OURS	   (NET_MTU - IP_HLEN - TCP_HLEN) /* 1460 */
#define TCP_MSS_MIN	   64				  /* smaller advertised MSSs are raised */
#define TCP_WSCALE_MAX	   14				  /* RFC 7323 §2.3 */
#define TCP_OOO_MAX	   64				  /* out-of-order segments per connection */
#define TCP_SACK_SB	   6				  /* SACKed ranges the sender remembers */
#define TCP_CHUNK	   4048 /* send buffer chunk: a 4 KiB heap block */
#define TCP_WHEEL_SLOTS	   256
#define TCP_WHEEL_SHIFT	   20	      /* a tick is 2^20 ns, about 1 ms: the timer granularity */
#define TCP_DUPTHRESH	   3	      /* RFC 5681 §3.2 */
#define TCP_IW_SEGS	   10	      /* RFC 6928 */
#define TCP_TS_NS	   1000000ull /* timestamp clock: 1 ms (RFC 7323 §5.4) */
#define TCP_PAWS_IDLE_NS   (24ull * 86400 * 1000000000ull) /* RFC 7323 §5.5 */
#define TCP_COOKIE_SLOT_NS (64ull * 1000000000ull)	   /* RFC 4987: t counts 64 s */
#define TCP_OPT_MAX	   40
#define TCP_SYN_OPTLEN	   24 /* MSS, NOP WS, SACK-permitted NOP NOP, NOP NOP TS */
#define TCP_TS_OPTLEN	   12 /* NOP NOP TS */
#define NS_PER_SEC	   1000000000ull

/* struct tcp_conn.flags */
#define TCPF_APP	0x00001 /* the application holds the handle */
#define TCPF_ACCEPTQ	0x00002 /* in its listener's accept queue */
#define TCPF_HASHED	0x00004 /* in the lookup table */
#define TCPF_OUTPUT	0x00008 /* on the tcp_flush list */
#define TCPF_NODELAY	0x00010
#define TCPF_TS		0x00020 /* timestamps in use (RFC 7323 §3) */
#define TCPF_WS		0x00040 /* window scaling in use (RFC 7323 §2) */
#define TCPF_SHUT_WR	0x00080 /* no more sends: a FIN follows the queue */
#define TCPF_FIN_SENT	0x00100 /* our FIN has its sequence number */
#define TCPF_FIN_RCVD	0x00200 /* the peer's FIN is in (rcv_nxt is past it) */
#define TCPF_ACK_NOW	0x00400 /* send an ACK at the next flush */
#define TCPF_WANT_WRITE 0x00800 /* a send came up short: TCP_EV_WRITE when room opens */
#define TCPF_RECOVERY	0x01000 /* NewReno fast recovery (RFC 6582) */
#define TCPF_RTT	0x02000 /* timing rtt_seq (no timestamps) */
#define TCPF_PERSIST	0x04000 /* the retransmission timer probes a zero window */
#define TCPF_FIN_PEND	0x08000 /* an out-of-order FIN at fin_seq */
#define TCPF_PARTIAL	0x20000 /* the first partial ACK of this recovery was seen */
#define TCPF_SYN_OUT	0x40000 /* our SYN is outstanding (snd_una == iss) */
#define TCPF_SACK	0x80000 /* the peer takes SACK options (RFC 2018): we send them */

/* A node of the event list: connections and listeners both embed one. */
struct tcp_evnode {
	struct tcp_evnode *next;
	uint8_t ev;    /* TCP_EV_* waiting */
	bool queued;   /* on the list */
	bool listener; /* the container is a struct tcp_listener */
};

/*
 * A kept receive buffer: this overlays its frame's headers (at least 54
 * bytes, which are done with), 8-byte aligned; the payload stays where it
 * arrived.
 */
struct tcp_rxb {
	struct tcp_rxb *next;
	uint32_t buf;  /* the owner's buffer id */
	uint32_t seq;  /* sequence number of the first unread byte */
	uint16_t off;  /* of that byte, from this struct */
	uint16_t len;  /* unread bytes */
	uint16_t room; /* free bytes after them in the buffer */
};

/* A piece of a send buffer. */
struct tcp_chunk {
	struct tcp_chunk *next;
	uint32_t len; /* bytes in data */
	uint32_t pad;
	uint8_t data[TCP_CHUNK];
};

struct tcp_listener {
	struct tcp_evnode evn;
	struct tcp_stack *ts;
	struct tcp_listener *next;
	uint16_t port;
	uint16_t backlog;
	uint16_t nsyn; /* connections in SYN-RECEIVED */
	uint16_t nacc; /* established, waiting for tcp_accept */
	struct tcp_conn *acc_head, *acc_tail;
	void *user;
};

struct tcp_conn {
	struct tcp_evnode evn;
	struct tcp_stack *ts;
	struct tcp_conn *hnext; /* lookup chain */
	struct tcp_conn *anext; /* every connection of the stack */
	struct tcp_conn **aprev;
	struct tcp_conn *onext;	  /* tcp_flush list */
	struct tcp_conn *qnext;	  /* accept queue */
	struct tcp_conn *tnext;	  /* timer wheel slot list */
	struct tcp_conn **tprev;  /* ... the pointer to this one */
	struct tcp_listener *lis; /* passive, until accepted */
	void *user;
	uint32_t raddr; /* host order */
	uint16_t rport, lport;
	uint8_t state; /* enum tcp_state */
	uint8_t dupacks;
	uint8_t snd_wscale, rcv_wscale;
	uint32_t flags;	       /* TCPF_* */
	int err;	       /* 0 or -ECONNRESET, -ECONNREFUSED, -ETIMEDOUT */
	uint8_t mac[ETH_ALEN]; /* the next hop's, once known */
	bool mac_ok;
	uint8_t retries; /* retransmissions of the same data (back-off exponent) */
	uint8_t lt_segs; /* RFC 3042: segments past cwnd the dupacks allow */
	uint16_t mss;	 /* payload per segment we send (options excluded) */
	uint16_t peer_mss;

	/* timers: absolute ns, 0 off; filed in the wheel under t_filed */
	uint64_t t_rexmt, t_delack, t_misc, t_filed;

	/* send side (RFC 9293 §3.3.1) */
	uint32_t iss, snd_una, snd_nxt, snd_max, snd_wl1, snd_wl2;
	uint32_t snd_wnd, max_snd_wnd; /* bytes, scaled */
	uint32_t sq_len;	       /* data bytes queued from snd_una on */
	uint32_t sq_off;	       /* where snd_una's byte is in sq_head */
	struct tcp_chunk *sq_head, *sq_tail;
	uint32_t cwnd, ssthresh, recover, acked_ca; /* RFC 5681, 6582 */
	uint32_t prev_una;			    /* snd_una before its last advance */
	uint32_t rxt_next;	     /* in recovery: holes below this are already resent */
	uint32_t rxt_mark;	     /* snd_max when snd_una's segment was last resent */
	uint8_t nsb;		     /* ranges in sb */
	uint32_t sb[TCP_SACK_SB][2]; /* what the peer SACKed above snd_una, by sequence */
	uint64_t srtt, rttvar, rto;  /* RFC 6298, ns */
	uint32_t rtt_seq;
	uint64_t rtt_start;
	uint64_t last_progress; /* when snd_una last advanced (or the open began) */

	/* receive side */
	uint32_t irs, rcv_nxt, rcv_adv; /* rcv_adv: the right edge we advertised */
	uint32_t rq_len;		/* unread bytes */
	struct tcp_rxb *rq_head, *rq_tail;
	struct tcp_rxb *ooo; /* out of order, by sequence, disjoint */
	uint16_t ooo_n;
	uint16_t unacked;   /* full segments received since our last ACK */
	uint32_t fin_seq;   /* TCPF_FIN_PEND */
	uint32_t sack_last; /* sequence number of the latest out-of-order arrival */
	uint32_t held;	    /* receive buffers kept */

	/* timestamps (RFC 7323 §4.3) */
	uint32_t ts_off, ts_recent, last_ack_sent;
	uint64_t ts_recent_at;
};

struct tcp_stack {
	struct net_stack *s;
	struct tcp_config cfg;
	struct tcp_stats stats;
	struct tcp_conn **hash;
	struct tcp_conn *all; /* every connection, for tcp_fini and tcp_unlisten */
	uint64_t now;	      /* the clock as last seen (API calls take no time argument) */
	uint32_t hmask;
	uint64_t hkey[2];
	struct tcp_listener *listeners;
	struct tcp_evnode *ev_head, *ev_tail; /* the application's events, FIFO */
	struct tcp_conn *out_head;	      /* connections with output pending */
	uint8_t rcv_wscale;		      /* what we offer: fits cfg.rcvbuf */
	uint16_t port_hint;
	uint64_t chal_sec; /* challenge ACK budget: this second ... */
	uint32_t chal_used;
	uint64_t cookie_until; /* accept cookie ACKs until then (cookies sent lately) */
	uint64_t wheel_tick;   /* the last tick processed */
	uint64_t next_due;     /* when tcp_timers next has work: 0 none */
	uint64_t wheel_bits[TCP_WHEEL_SLOTS / 64];
	struct tcp_conn *wheel[TCP_WHEEL_SLOTS];
};

/* ---------------------------------------------------------------- sequence space */

static inline bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static inline bool seq_leq(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

static inline bool seq_gt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

static inline bool seq_geq(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) >= 0;
}

static inline uint32_t seq_max(uint32_t a, uint32_t b)
{
	return seq_gt(a, b) ? a : b;
}

static inline uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static inline uint32_t max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

static inline uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* The timestamp clock of c (RFC 7323 §5.4: a per-connection offset hides uptime). */
static inline uint32_t tcp_ts_now(const struct tcp_conn *c, uint64_t now_ns)
{
	return (uint32_t)(now_ns / TCP_TS_NS) + c->ts_off;
}

/* Bytes in flight: sent and not acknowledged (SYN and FIN count one each). */
static inline uint32_t tcp_flight(const struct tcp_conn *c)
{
	return c->snd_max - c->snd_una;
}

/* May our FIN go out in this state (the application shut down, and it is not acknowledged)? */
static inline bool fin_state(const struct tcp_conn *c)
{
	switch (c->state) {
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:
	case TCP_FIN_WAIT_1:
	case TCP_CLOSING:
	case TCP_LAST_ACK:
		return (c->flags & TCPF_SHUT_WR) != 0;
	default:
		return false;
	}
}

/* The options of a received segment that TCP uses. */
struct tcp_opts {
	bool mss_ok, ws_ok, ts_ok, sack_ok;
	uint16_t mss;
	uint8_t ws;
	uint8_t nsack; /* SACK blocks (RFC 2018 §3) */
	uint32_t tsval, tsecr;
	uint32_t sack[4][2];
};

/* A received segment, its headers validated. */
struct tcp_seg {
	uint8_t *frame;
	uint32_t buf;  /* the owner's buffer, or NET_BUF_NONE */
	uint8_t *data; /* payload */
	uint32_t len;  /* payload bytes */
	uint32_t seq, ack;
	uint32_t wnd; /* as sent, unscaled */
	uint8_t flags;
	uint32_t raddr; /* host order */
	uint16_t rport, lport;
	struct tcp_opts opt;
	uint64_t now;
	bool kept; /* the buffer went to a receive queue */
};

/* SipHash-2-4 (Aumasson and Bernstein, 2012) of len bytes: siphash.c. */
uint64_t net_siphash(const uint64_t key[2], const void *data, size_t len);

/* tcp.c: connections, listeners, events, timers. */
struct tcp_conn *tcp_lookup(struct tcp_stack *ts, uint32_t raddr, uint16_t rport, uint16_t lport);
struct tcp_listener *tcp_find_listener(struct tcp_stack *ts, uint16_t port);
struct tcp_conn *tcp_conn_new(struct tcp_stack *ts, uint32_t raddr, uint16_t rport, uint16_t lport,
			      uint64_t now);
void tcp_conn_destroy(struct tcp_conn *c);
void tcp_set_state(struct tcp_conn *c, enum tcp_state st);
void tcp_ev(struct tcp_conn *c, uint8_t ev);
void tcp_lis_ev(struct tcp_listener *l, uint8_t ev);
void tcp_timer_update(struct tcp_conn *c);
void tcp_want_output(struct tcp_conn *c);
void tcp_closed(struct tcp_conn *c, int err);
void tcp_established(struct tcp_conn *c);
uint32_t tcp_isn(struct tcp_stack *ts, uint32_t raddr, uint16_t rport, uint16_t lport,
		 uint64_t now);
uint32_t tcp_ts_offset(struct tcp_stack *ts, uint32_t raddr, uint16_t rport, uint16_t lport);
uint32_t tcp_cookie_make(struct tcp_stack *ts, const struct tcp_seg *sg, uint16_t mss,
			 uint64_t now);
bool tcp_cookie_check(struct tcp_stack *ts, const struct tcp_seg *sg, uint16_t *mss);
void tcp_rxb_free(struct tcp_conn *c, struct tcp_rxb *b);
/* Free b, unlinked from c's out-of-order queue already. */
void tcp_ooo_free(struct tcp_conn *c, struct tcp_rxb *b);
void tcp_timers(struct tcp_stack *ts, uint64_t now);

/* tcp_out.c: building and sending segments; the timers' actions. */
void tcp_output(struct tcp_conn *c, uint64_t now);
void tcp_send_ack(struct tcp_conn *c, uint64_t now);
void tcp_send_challenge_ack(struct tcp_conn *c, uint64_t now);
void tcp_send_rst(struct tcp_conn *c, uint64_t now);
void tcp_send_ctl(struct tcp_conn *c, uint32_t seq, uint8_t flags, uint64_t now);
int tcp_synack_cookie_reply(struct tcp_stack *ts, struct tcp_seg *sg, uint32_t isn,
			    struct net_rx_result *out, size_t frame_len);
int tcp_rst_reply(struct tcp_stack *ts, struct net_stack *s, struct tcp_seg *sg,
		  struct net_rx_result *out, size_t frame_len);
bool tcp_rto_expired(struct tcp_conn *c, uint64_t now); /* false: c is gone */
void tcp_arm_rexmt(struct tcp_conn *c, uint64_t now);
void tcp_rtt_sample(struct tcp_conn *c, uint64_t rtt_ns);
uint32_t tcp_rcv_window(struct tcp_conn *c);
void tcp_sq_drop(struct tcp_conn *c, uint32_t n);
void tcp_retransmit_head(struct tcp_conn *c, uint64_t now);
bool tcp_retransmit_hole(struct tcp_conn *c, uint64_t now);
void tcp_init_cc(struct tcp_conn *c);
