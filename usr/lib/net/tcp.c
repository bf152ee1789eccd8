/* TCP: the layer's state, connection lookup and lifetime, listeners, events, timers, the API. */
#include "tcp_priv.h"

/* Nonces of the keyed hashes, so no two uses of the secret collide. */
#define HASH_ISN    0x49534e00u /* "ISN" */
#define HASH_TSOFF  0x54534f00u
#define HASH_COOKIE 0x434f4f4bu
#define HASH_PORT   0x504f5254u

#define EPHEMERAL_LO 49152 /* RFC 6335 §6: the dynamic ports */
#define EPHEMERAL_N  16384

/* MSS values a SYN cookie can name (RFC 4987 §3.6: 3 bits). */
static const uint16_t cookie_mss[8] = {216, 536, 1024, 1200, 1360, 1400, 1440, 1460};

void tcp_config_defaults(struct tcp_config *c)
{
	if (!c->max_conns)
		c->max_conns = 4096;
	if (!c->rcvbuf)
		c->rcvbuf = 65536;
	if (!c->sndbuf)
		c->sndbuf = 65536;
	if (!c->hash_buckets)
		c->hash_buckets = 4096;
	if (!c->syn_retries)
		c->syn_retries = 6;
	if (!c->synack_retries)
		c->synack_retries = 5;
	if (!c->challenge_acks)
		c->challenge_acks = 1000;
	if (!c->time_wait_ns)
		c->time_wait_ns = 60 * NS_PER_SEC;
	if (!c->fin_wait_ns)
		c->fin_wait_ns = 60 * NS_PER_SEC;
	if (!c->rto_init_ns)
		c->rto_init_ns = NS_PER_SEC;
	if (!c->rto_min_ns)
		c->rto_min_ns = 200 * 1000000ull;
	if (!c->rto_max_ns)
		c->rto_max_ns = 60 * NS_PER_SEC;
	if (!c->delack_ns)
		c->delack_ns = 40 * 1000000ull;
	if (!c->user_timeout_ns)
		c->user_timeout_ns = 120 * NS_PER_SEC;
}

int tcp_init(struct net_stack *s, const struct tcp_config *cfg)
{
	struct tcp_stack *ts;
	uint32_t n = 1;

	if (s->tcp)
		return -EEXIST;
	ts = calloc(1, sizeof(*ts));
	if (!ts)
		return -ENOMEM;
	if (cfg)
		ts->cfg = *cfg;
	tcp_config_defaults(&ts->cfg);
	/* Bounds that keep the arithmetic below in range. */
	if (ts->cfg.rcvbuf > (1u << 30))
		ts->cfg.rcvbuf = 1u << 30;
	if (ts->cfg.sndbuf > (1u << 30))
		ts->cfg.sndbuf = 1u << 30;
	while (n < ts->cfg.hash_buckets && n < (1u << 24))
		n <<= 1;
	ts->hash = calloc(n, sizeof(*ts->hash));
	if (!ts->hash) {
		free(ts);
		return -ENOMEM;
	}
	ts->hmask = n - 1;
	__builtin_memcpy(ts->hkey, ts->cfg.secret, sizeof(ts->hkey));
	/* RFC 7323 §2.2: the smallest shift that lets the window cover the buffer. */
	while (ts->rcv_wscale < TCP_WSCALE_MAX && (ts->cfg.rcvbuf >> ts->rcv_wscale) > 65535)
		ts->rcv_wscale++;
	ts->s = s;
	s->tcp = ts;
	return 0;
}

void tcp_fini(struct net_stack *s)
{
	struct tcp_stack *ts = s->tcp;
	struct tcp_listener *l;

	if (!ts)
		return;
	while (ts->all)
		tcp_conn_destroy(ts->all);
	while ((l = ts->listeners)) {
		ts->listeners = l->next;
		free(l);
	}
	free(ts->hash);
	free(ts);
	s->tcp = NULL;
	s->tcp_next_ns = 0;
}

const struct tcp_stats *tcp_stats(const struct net_stack *s)
{
	return s->tcp ? &s->tcp->stats : NULL;
}

/* ---------------------------------------------------------------- lookup */

/* A keyed hash of the 4-tuple (our address is fixed): chains stay short under attack. */
static inline uint32_t conn_hash(const struct tcp_stack *ts, uint32_t raddr, uint16_t rport,
				 uint16_t lport)
{
	uint64_t x = ((uint64_t)raddr << 32 | (uint32_t)rport << 16 | lport) ^ ts->hkey[0];

	x *= 0x9e3779b97f4a7c15ull;
	x ^= x >> 29;
	x *= ts->hkey[1] | 1;
	x ^= x >> 32;
	return (uint32_t)x & ts->hmask;
}

struct tcp_conn *tcp_lookup(struct tcp_stack *ts, uint32_t raddr, uint16_t rport, uint16_t lport)
{
	struct tcp_conn *c = ts->hash[conn_hash(ts, raddr, rport, lport)];

	while (c && (c->raddr != raddr || c->rport != rport || c->lport != lport))
		c = c->hnext;
	return c;
}

static void hash_insert(struct tcp_conn *c)
{
	struct tcp_stack *ts = c->ts;
	uint32_t h = conn_hash(ts, c->raddr, c->rport, c->lport);

	c->hnext = ts->hash[h];
	ts->hash[h] = c;
	c->flags |= TCPF_HASHED;
}

static void hash_remove(struct tcp_conn *c)
{
	struct tcp_stack *ts = c->ts;
	struct tcp_conn **p = &ts->hash[conn_hash(ts, c->raddr, c->rport, c->lport)];

	if (!(c->flags & TCPF_HASHED))
		return;
	while (*p && *p != c)
		p = &(*p)->hnext;
	if (*p)
		*p = c->hnext;
	c->flags &= ~TCPF_HASHED;
}

struct tcp_listener *tcp_find_listener(struct tcp_stack *ts, uint16_t port)
{
	struct tcp_listener *l = ts->listeners;

	while (l && l->port != port)
		l = l->next;
	return l;
}

/* The time now: the owner's clock, else the last the stack saw. */
static uint64_t clock_now(struct tcp_stack *ts)
{
	const struct net_io *io = ts->s->io;

	if (io && io->now)
		ts->now = io->now(io->ctx);
	return ts->now;
}

/* ---------------------------------------------------------------- keyed values */

struct tuple {
	uint32_t laddr, raddr;
	uint16_t lport, rport;
	uint32_t nonce;
	uint32_t extra[2];
};

static uint64_t tuple_hash(const struct tcp_stack *ts, uint32_t raddr, uint16_t rport,
			   uint16_t lport, uint32_t nonce, uint32_t e0, uint32_t e1)
{
	struct tuple t = {
	    .laddr = ts->s->cfg.ip,
	    .raddr = raddr,
	    .lport = lport,
	    .rport = rport,
	    .nonce = nonce,
	    .extra = {e0, e1},
	};

	return net_siphash(ts->hkey, &t, sizeof(t));
}

/*
 * RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport,
 * secretkey), M a 4-microsecond timer, F a keyed hash (here SipHash).
 */
uint32_t tcp_isn(struct tcp_stack *ts, uint32_t raddr, uint16_t rport, uint16_t lport, uint64_t now)
{
	return (uint32_t)(now / 4000) +
	       (uint32_t)tuple_hash(ts, raddr, rport, lport, HASH_ISN, 0, 0);
}

/* The timestamp offset of a connection: a function of its 4-tuple, so SYN cookies know it. */
uint32_t tcp_ts_offset(struct tcp_stack *ts, uint32_t raddr, uint16_t rport, uint16_t lport)
{
	return (uint32_t)tuple_hash(ts, raddr, rport, lport, HASH_TSOFF, 0, 0);
}

/*
 * A SYN cookie (RFC 4987 §3.6, after Bernstein): 5 bits of a 64-second
 * counter, 3 bits naming the MSS, 24 bits of a keyed hash of the 4-tuple,
 * the counter and the peer's ISN. It is our ISN for the SYN-ACK.
 */
static uint32_t cookie_of(struct tcp_stack *ts, const struct tcp_seg *sg, uint32_t t,
			  unsigned int mss_idx, uint32_t peer_isn)
{
	uint32_t h =
	    (uint32_t)tuple_hash(ts, sg->raddr, sg->rport, sg->lport, HASH_COOKIE, t, peer_isn);

	return (t & 31) << 27 | (uint32_t)mss_idx << 24 | (h & 0xffffff);
}

uint32_t tcp_cookie_make(struct tcp_stack *ts, const struct tcp_seg *sg, uint16_t mss, uint64_t now)
{
	uint32_t t = (uint32_t)(now / TCP_COOKIE_SLOT_NS);
	unsigned int i = 0;

	while (i < 7 && cookie_mss[i + 1] <= mss)
		i++;
	ts->cookie_until = now + 2 * TCP_COOKIE_SLOT_NS;
	return cookie_of(ts, sg, t, i, sg->seq);
}

/* The ACK sg completes a cookie handshake: its cookie (ack - 1) is ours and recent. */
bool tcp_cookie_check(struct tcp_stack *ts, const struct tcp_seg *sg, uint16_t *mss)
{
	uint32_t cookie = sg->ack - 1, t = (uint32_t)(sg->now / TCP_COOKIE_SLOT_NS);
	unsigned int idx = (cookie >> 24) & 7;

	if (sg->now > ts->cookie_until)
		return false;
	/* Made in this 64 s period or the one before. */
	for (uint32_t age = 0; age < 2; age++) {
		if (((t - age) & 31) == cookie >> 27 &&
		    cookie_of(ts, sg, t - age, idx, sg->seq - 1) == cookie) {
			*mss = cookie_mss[idx];
			return true;
		}
	}
	return false;
}

/* ---------------------------------------------------------------- events */

static void ev_queue(struct tcp_stack *ts, struct tcp_evnode *e, uint8_t ev)
{
	e->ev |= ev;
	if (e->queued)
		return;
	e->queued = true;
	e->next = NULL;
	if (ts->ev_tail)
		ts->ev_tail->next = e;
	else
		ts->ev_head = e;
	ts->ev_tail = e;
}

static void ev_remove(struct tcp_stack *ts, struct tcp_evnode *e)
{
	struct tcp_evnode **p = &ts->ev_head, *prev = NULL;

	if (!e->queued)
		return;
	while (*p && *p != e) {
		prev = *p;
		p = &(*p)->next;
	}
	if (*p) {
		*p = e->next;
		if (ts->ev_tail == e)
			ts->ev_tail = prev;
	}
	e->queued = false;
	e->ev = 0;
}

/* Only a handle the application holds gets events. */
void tcp_ev(struct tcp_conn *c, uint8_t ev)
{
	if (c->flags & TCPF_APP)
		ev_queue(c->ts, &c->evn, ev);
}

void tcp_lis_ev(struct tcp_listener *l, uint8_t ev)
{
	ev_queue(l->ts, &l->evn, ev);
}

int tcp_next_event(struct net_stack *s, struct tcp_event *ev)
{
	struct tcp_stack *ts = s->tcp;
	struct tcp_evnode *e;

	if (!ts || !ts->ev_head)
		return 0;
	e = ts->ev_head;
	ts->ev_head = e->next;
	if (!ts->ev_head)
		ts->ev_tail = NULL;
	e->queued = false;
	ev->events = e->ev;
	e->ev = 0;
	if (e->listener) {
		struct tcp_listener *l = (struct tcp_listener *)e;

		ev->lis = l;
		ev->conn = NULL;
		ev->user = l->user;
	} else {
		struct tcp_conn *c = (struct tcp_conn *)e;

		ev->lis = NULL;
		ev->conn = c;
		ev->user = c->user;
	}
	return 1;
}

bool tcp_has_events(const struct net_stack *s)
{
	return s->tcp && s->tcp->ev_head;
}

/* ---------------------------------------------------------------- timers */

static inline uint64_t conn_deadline(const struct tcp_conn *c)
{
	uint64_t d = 0;

	if (c->t_rexmt)
		d = c->t_rexmt;
	if (c->t_delack && (!d || c->t_delack < d))
		d = c->t_delack;
	if (c->t_misc && (!d || c->t_misc < d))
		d = c->t_misc;
	return d;
}

static inline unsigned int slot_of(uint64_t tick)
{
	return (unsigned int)(tick & (TCP_WHEEL_SLOTS - 1));
}

static void wheel_unlink(struct tcp_conn *c)
{
	struct tcp_stack *ts = c->ts;
	unsigned int slot;

	if (!c->tprev)
		return;
	*c->tprev = c->tnext;
	if (c->tnext)
		c->tnext->tprev = c->tprev;
	slot = slot_of(c->t_filed >> TCP_WHEEL_SHIFT);
	if (!ts->wheel[slot])
		ts->wheel_bits[slot / 64] &= ~(1ull << (slot % 64));
	c->tprev = NULL;
	c->tnext = NULL;
}

/* File c under deadline d: in the slot of d's tick, or the next one to run if that has passed. */
static void wheel_file(struct tcp_conn *c, uint64_t d)
{
	struct tcp_stack *ts = c->ts;
	uint64_t tick = d >> TCP_WHEEL_SHIFT;
	unsigned int slot;

	if (tick <= ts->wheel_tick)
		tick = ts->wheel_tick + 1;
	slot = slot_of(tick);
	c->t_filed = tick << TCP_WHEEL_SHIFT;
	c->tnext = ts->wheel[slot];
	if (c->tnext)
		c->tnext->tprev = &c->tnext;
	ts->wheel[slot] = c;
	c->tprev = &ts->wheel[slot];
	ts->wheel_bits[slot / 64] |= 1ull << (slot % 64);
	if (!ts->next_due || c->t_filed < ts->next_due) {
		ts->next_due = c->t_filed;
		ts->s->tcp_next_ns = ts->next_due;
	}
}

/*
 * After any of c's timers changed: file it under its earliest deadline.
 * A deadline that moved later leaves it where it is; it is filed again
 * when that slot comes up.
 */
void tcp_timer_update(struct tcp_conn *c)
{
	uint64_t d = conn_deadline(c);

	if (!d) {
		wheel_unlink(c);
		return;
	}
	if (c->tprev && c->t_filed <= d)
		return;
	wheel_unlink(c);
	wheel_file(c, d);
}

/* The first tick after the one processed whose slot holds anything, as a time; 0 if none. */
static uint64_t wheel_next(const struct tcp_stack *ts)
{
	for (unsigned int k = 1; k <= TCP_WHEEL_SLOTS; k++) {
		unsigned int slot = slot_of(ts->wheel_tick + k);

		if (!(ts->wheel_bits[slot / 64] >> (slot % 64) & 1))
			continue;
		return (ts->wheel_tick + k) << TCP_WHEEL_SHIFT;
	}
	return 0;
}

/* c's due timers; false if c is gone. */
static bool conn_fire(struct tcp_conn *c, uint64_t now)
{
	if (c->t_misc && c->t_misc <= now) {
		/* TIME-WAIT over (2 MSL), or an abandoned FIN-WAIT-2: the end. */
		bool keep = c->flags & TCPF_APP;

		c->t_misc = 0;
		tcp_closed(c, 0);
		return keep;
	}
	if (c->t_delack && c->t_delack <= now) {
		c->t_delack = 0;
		c->ts->stats.delayed_acks++;
		/* Owed now: without a buffer it goes at the next flush, not never. */
		if (c->state >= TCP_ESTABLISHED)
			c->flags |= TCPF_ACK_NOW;
		tcp_send_ack(c, now);
		if (c->flags & TCPF_ACK_NOW)
			tcp_want_output(c);
	}
	if (c->t_rexmt && c->t_rexmt <= now) {
		c->t_rexmt = 0;
		return tcp_rto_expired(c, now);
	}
	return true;
}

void tcp_timers(struct tcp_stack *ts, uint64_t now)
{
	uint64_t now_tick = now >> TCP_WHEEL_SHIFT, n;

	if (!ts->next_due || now < ts->next_due)
		return;
	n = now_tick - ts->wheel_tick;
	if (n > TCP_WHEEL_SLOTS) /* a long gap: every slot once is enough */
		ts->wheel_tick = now_tick - TCP_WHEEL_SLOTS;
	while (ts->wheel_tick < now_tick) {
		unsigned int slot = slot_of(++ts->wheel_tick);
		struct tcp_conn *c = ts->wheel[slot];

		/* Take the whole list: firing files connections again, maybe here. */
		ts->wheel[slot] = NULL;
		ts->wheel_bits[slot / 64] &= ~(1ull << (slot % 64));
		if (c)
			c->tprev = &c;
		while (c) {
			struct tcp_conn *next = c->tnext;
			uint64_t d = conn_deadline(c);

			if (next)
				next->tprev = &next;
			c->tprev = NULL;
			c->tnext = NULL;
			if (d && d <= now) {
				if (conn_fire(c, now))
					tcp_timer_update(c);
			} else if (d) {
				wheel_file(c, d);
			}
			c = next;
		}
	}
	ts->next_due = wheel_next(ts);
	ts->s->tcp_next_ns = ts->next_due;
}

void tcp_run_timers(struct net_stack *s, uint64_t now_ns)
{
	s->tcp->now = now_ns;
	tcp_timers(s->tcp, now_ns);
}

/* ---------------------------------------------------------------- connections */

struct tcp_conn *tcp_conn_new(struct tcp_stack *ts, uint32_t raddr, uint16_t rport, uint16_t lport,
			      uint64_t now)
{
	struct tcp_conn *c;

	if (ts->stats.conns >= ts->cfg.max_conns) {
		ts->stats.no_conn_mem++;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		ts->stats.no_conn_mem++;
		return NULL;
	}
	c->ts = ts;
	c->raddr = raddr;
	c->rport = rport;
	c->lport = lport;
	c->state = TCP_CLOSED;
	c->mss = TCP_MSS_DEFAULT;
	c->peer_mss = TCP_MSS_DEFAULT;
	c->rto = ts->cfg.rto_init_ns;
	c->ts_off = tcp_ts_offset(ts, raddr, rport, lport);
	c->last_progress = now;
	hash_insert(c);
	c->anext = ts->all;
	if (c->anext)
		c->anext->aprev = &c->anext;
	c->aprev = &ts->all;
	ts->all = c;
	ts->stats.conns++;
	return c;
}

static void free_rx(struct tcp_conn *c)
{
	struct tcp_rxb *b;

	while ((b = c->rq_head)) {
		c->rq_head = b->next;
		tcp_rxb_free(c, b);
	}
	c->rq_tail = NULL;
	c->rq_len = 0;
	while ((b = c->ooo)) {
		c->ooo = b->next;
		tcp_ooo_free(c, b);
	}
}

static void free_tx(struct tcp_conn *c)
{
	struct tcp_chunk *k;

	while ((k = c->sq_head)) {
		c->sq_head = k->next;
		free(k);
		c->ts->stats.snd_chunks--;
	}
	c->sq_tail = NULL;
	c->ts->stats.snd_bytes -= c->sq_len;
	c->sq_len = 0;
	c->sq_off = 0;
}

void tcp_rxb_free(struct tcp_conn *c, struct tcp_rxb *b)
{
	const struct net_io *io = c->ts->s->io;

	c->held--;
	c->ts->stats.rx_held--;
	io->release(io->ctx, b->buf);
}

void tcp_ooo_free(struct tcp_conn *c, struct tcp_rxb *b)
{
	c->ooo_n--;
	c->ts->stats.ooo_held--;
	tcp_rxb_free(c, b);
}

static void out_remove(struct tcp_conn *c)
{
	struct tcp_conn **p = &c->ts->out_head;

	if (!(c->flags & TCPF_OUTPUT))
		return;
	while (*p && *p != c)
		p = &(*p)->onext;
	if (*p)
		*p = c->onext;
	c->flags &= ~TCPF_OUTPUT;
}

static void acceptq_remove(struct tcp_conn *c)
{
	struct tcp_listener *l = c->lis;
	struct tcp_conn **p, *prev = NULL;

	if (!l || !(c->flags & TCPF_ACCEPTQ))
		return;
	for (p = &l->acc_head; *p && *p != c; p = &(*p)->qnext)
		prev = *p;
	if (*p) {
		*p = c->qnext;
		if (l->acc_tail == c)
			l->acc_tail = prev;
		l->nacc--;
	}
	c->flags &= ~TCPF_ACCEPTQ;
}

/* Gauges follow the state. */
void tcp_set_state(struct tcp_conn *c, enum tcp_state st)
{
	struct tcp_stats *ss = &c->ts->stats;
	bool was_est = c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT;
	bool is_est = st == TCP_ESTABLISHED || st == TCP_CLOSE_WAIT;

	if (c->state == TCP_SYN_RECEIVED && st != TCP_SYN_RECEIVED && c->lis)
		c->lis->nsyn--;
	if (st == TCP_SYN_RECEIVED && c->state != TCP_SYN_RECEIVED && c->lis)
		c->lis->nsyn++;
	ss->established += (uint64_t)is_est - (uint64_t)was_est;
	if (c->state == TCP_TIME_WAIT)
		ss->time_wait--;
	if (st == TCP_TIME_WAIT)
		ss->time_wait++;
	c->state = (uint8_t)st;
}

void tcp_conn_destroy(struct tcp_conn *c)
{
	struct tcp_stack *ts = c->ts;

	tcp_set_state(c, TCP_CLOSED);
	acceptq_remove(c);
	hash_remove(c);
	wheel_unlink(c);
	out_remove(c);
	ev_remove(ts, &c->evn);
	free_rx(c);
	free_tx(c);
	*c->aprev = c->anext;
	if (c->anext)
		c->anext->aprev = c->aprev;
	ts->stats.conns--;
	free(c);
}

/*
 * The connection is over (RFC 9293 "delete the TCB"): a handle the
 * application holds stays, CLOSED, until it lets go (with the data it has
 * not read, unless the end was a reset); anything else goes now.
 */
void tcp_closed(struct tcp_conn *c, int err)
{
	if (!(c->flags & TCPF_APP)) {
		tcp_conn_destroy(c);
		return;
	}
	if (err) {
		c->err = err;
		free_rx(c);
	}
	tcp_set_state(c, TCP_CLOSED);
	hash_remove(c);
	c->t_rexmt = c->t_delack = c->t_misc = 0;
	wheel_unlink(c);
	out_remove(c);
	free_tx(c);
	while (c->ooo) {
		struct tcp_rxb *b = c->ooo;

		c->ooo = b->next;
		tcp_ooo_free(c, b);
	}
	tcp_ev(c, TCP_EV_CLOSED);
}

/* SYN-RECEIVED (or SYN-SENT) to ESTABLISHED: into the accept queue, or tell the application. */
void tcp_established(struct tcp_conn *c)
{
	struct tcp_listener *l = c->lis;

	tcp_set_state(c, TCP_ESTABLISHED);
	c->last_progress = c->ts->now;
	if (l && !(c->flags & TCPF_APP)) {
		c->qnext = NULL;
		if (l->acc_tail)
			l->acc_tail->qnext = c;
		else
			l->acc_head = c;
		l->acc_tail = c;
		l->nacc++;
		c->flags |= TCPF_ACCEPTQ;
		tcp_lis_ev(l, TCP_EV_ACCEPT);
		return;
	}
	tcp_ev(c, TCP_EV_CONNECTED | TCP_EV_WRITE);
}

void tcp_want_output(struct tcp_conn *c)
{
	if (c->flags & TCPF_OUTPUT)
		return;
	c->flags |= TCPF_OUTPUT;
	c->onext = c->ts->out_head;
	c->ts->out_head = c;
}

void tcp_flush(struct net_stack *s, uint64_t now_ns)
{
	struct tcp_stack *ts = s->tcp;
	struct tcp_conn *c, *list;

	if (!ts)
		return;
	ts->now = now_ns;
	/* Take the list: a connection that could not send all (no buffer) queues itself again. */
	list = ts->out_head;
	ts->out_head = NULL;
	while ((c = list)) {
		list = c->onext;
		c->flags &= ~TCPF_OUTPUT;
		tcp_output(c, now_ns);
	}
}

bool tcp_flush_pending(const struct net_stack *s)
{
	return s->tcp && s->tcp->out_head;
}

void tcp_set_clock(struct net_stack *s, uint64_t now_ns)
{
	if (s->tcp)
		s->tcp->now = now_ns;
}

/* ---------------------------------------------------------------- listeners */

int tcp_listen(struct net_stack *s, uint16_t port, unsigned int backlog, struct tcp_listener **out)
{
	struct tcp_stack *ts = s->tcp;
	struct tcp_listener *l;

	if (!ts)
		return -ENODEV;
	if (port == 0 || backlog == 0)
		return -EINVAL;
	if (tcp_find_listener(ts, port))
		return -EADDRINUSE;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->evn.listener = true;
	l->ts = ts;
	l->port = port;
	l->backlog = (uint16_t)(backlog > 65535 ? 65535 : backlog);
	l->next = ts->listeners;
	ts->listeners = l;
	*out = l;
	return 0;
}

void tcp_unlisten(struct tcp_listener *l)
{
	struct tcp_stack *ts = l->ts;
	struct tcp_listener **p = &ts->listeners;

	/* Its half-open and unaccepted connections: reset (RFC 9293 §3.10.4 ABORT). */
	clock_now(ts);
	for (struct tcp_conn *c = ts->all, *next; c; c = next) {
		next = c->anext;
		if (c->lis == l && !(c->flags & TCPF_APP)) {
			tcp_send_rst(c, ts->now);
			tcp_conn_destroy(c);
		}
	}
	while (*p && *p != l)
		p = &(*p)->next;
	if (*p)
		*p = l->next;
	ev_remove(ts, &l->evn);
	free(l);
}

int tcp_accept(struct tcp_listener *l, struct tcp_conn **out)
{
	struct tcp_conn *c = l->acc_head;

	if (!c)
		return 0;
	l->acc_head = c->qnext;
	if (!l->acc_head)
		l->acc_tail = NULL;
	l->nacc--;
	c->qnext = NULL;
	c->flags &= ~TCPF_ACCEPTQ;
	c->flags |= TCPF_APP;
	c->lis = NULL;
	l->ts->stats.accepted++;
	/* What arrived before the application took it. */
	if (c->rq_len || (c->flags & TCPF_FIN_RCVD))
		tcp_ev(c, TCP_EV_READ);
	*out = c;
	return 1;
}

void tcp_listener_set_user(struct tcp_listener *l, void *user)
{
	l->user = user;
}

/* ---------------------------------------------------------------- active open */

/* RFC 6056 §3.3.3 (algorithm 3): a keyed offset per destination, then the first free port. */
static int pick_port(struct tcp_stack *ts, uint32_t ip, uint16_t port, uint16_t *out)
{
	uint32_t off = (uint32_t)tuple_hash(ts, ip, port, 0, HASH_PORT, 0, 0);

	for (uint32_t i = 0; i < EPHEMERAL_N; i++) {
		uint16_t p = (uint16_t)(EPHEMERAL_LO + (off + ts->port_hint + i) % EPHEMERAL_N);

		if (tcp_lookup(ts, ip, port, p) || tcp_find_listener(ts, p))
			continue;
		ts->port_hint += (uint16_t)(i + 1);
		*out = p;
		return 0;
	}
	return -EADDRNOTAVAIL;
}

int tcp_connect(struct net_stack *s, uint32_t ip, uint16_t port, uint64_t now_ns,
		struct tcp_conn **out)
{
	struct tcp_stack *ts = s->tcp;
	struct tcp_conn *c;
	uint16_t lport;
	uint32_t hop;
	int err;

	if (!ts)
		return -ENODEV;
	if (port == 0 || ip_is_bad_src(s, ip) || ip_is_bcast(s, ip) || !net_next_hop(s, ip, &hop))
		return -EINVAL;
	ts->now = now_ns;
	err = pick_port(ts, ip, port, &lport);
	if (err)
		return err;
	c = tcp_conn_new(ts, ip, port, lport, now_ns);
	if (!c)
		return -ENOMEM;
	c->flags |= TCPF_APP | TCPF_SYN_OUT;
	c->iss = tcp_isn(ts, ip, port, lport, now_ns);
	c->snd_una = c->snd_nxt = c->snd_max = c->iss;
	c->recover = c->iss;
	c->rcv_wscale = ts->rcv_wscale;
	tcp_init_cc(c);
	tcp_set_state(c, TCP_SYN_SENT);
	ts->stats.active_opens++;
	tcp_want_output(c);
	*out = c;
	return 0;
}

/* ---------------------------------------------------------------- data */

size_t tcp_peek(struct tcp_conn *c, const uint8_t **data)
{
	struct tcp_rxb *b = c->rq_head;

	if (!b)
		return 0;
	*data = (const uint8_t *)b + b->off;
	return b->len;
}

unsigned int tcp_peekv(struct tcp_conn *c, struct tcp_iov *iov, unsigned int max)
{
	const struct tcp_rxb *b;
	unsigned int n = 0;

	for (b = c->rq_head; b && n < max; b = b->next) {
		iov[n].base = (const uint8_t *)b + b->off;
		iov[n].len = b->len;
		n++;
	}
	return n;
}

void tcp_consume(struct tcp_conn *c, size_t n)
{
	uint32_t before = tcp_rcv_window(c);

	if (n > c->rq_len)
		n = c->rq_len;
	while (n) {
		struct tcp_rxb *b = c->rq_head;
		uint32_t k = (uint32_t)(n < b->len ? n : b->len);

		b->off = (uint16_t)(b->off + k);
		b->len = (uint16_t)(b->len - k);
		b->seq += k;
		c->rq_len -= k;
		n -= k;
		if (!b->len) {
			c->rq_head = b->next;
			if (!c->rq_head)
				c->rq_tail = NULL;
			tcp_rxb_free(c, b);
		}
	}
	/*
	 * A window update when reading opened it by enough to matter (RFC
	 * 9293 §3.8.6.2.2): the next tcp_rcv_window moves the edge only then.
	 */
	if (c->state >= TCP_ESTABLISHED && !(c->flags & TCPF_FIN_RCVD)) {
		uint32_t space = c->ts->cfg.rcvbuf - c->rq_len;
		uint32_t right = c->rcv_nxt + space;

		uint32_t step = min_u32(c->ts->cfg.rcvbuf / 2, (before ? 2u : 1u) * c->mss);

		if (seq_gt(right, c->rcv_adv) && right - c->rcv_adv >= step) {
			c->flags |= TCPF_ACK_NOW;
			tcp_want_output(c);
		}
	}
}

long tcp_recv(struct tcp_conn *c, void *buf, size_t len)
{
	uint8_t *dst = buf;
	size_t done = 0;

	if (c->err)
		return c->err;
	while (done < len) {
		const uint8_t *p;
		size_t n = tcp_peek(c, &p);

		if (!n)
			break;
		if (n > len - done)
			n = len - done;
		memcpy(dst + done, p, n);
		tcp_consume(c, n);
		done += n;
	}
	return (long)done;
}

size_t tcp_readable(const struct tcp_conn *c)
{
	return c->rq_len;
}

bool tcp_eof(const struct tcp_conn *c)
{
	return (c->flags & TCPF_FIN_RCVD) && !c->rq_len;
}

static bool can_send(const struct tcp_conn *c)
{
	switch (c->state) {
	case TCP_SYN_SENT:
	case TCP_SYN_RECEIVED:
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:
		return true;
	default:
		return false;
	}
}

size_t tcp_sendable(const struct tcp_conn *c)
{
	if (!can_send(c) || (c->flags & TCPF_SHUT_WR))
		return 0;
	return c->sq_len < c->ts->cfg.sndbuf ? c->ts->cfg.sndbuf - c->sq_len : 0;
}

long tcp_send(struct tcp_conn *c, const void *data, size_t len)
{
	struct tcp_stack *ts = c->ts;
	const uint8_t *src = data;
	size_t room, done = 0;

	if (c->err)
		return c->err;
	if (c->flags & TCPF_SHUT_WR)
		return -EPIPE;
	if (!can_send(c))
		return -ENOTCONN;
	room = tcp_sendable(c);
	if (len > room) {
		len = room;
		c->flags |= TCPF_WANT_WRITE;
	}
	while (done < len) {
		struct tcp_chunk *k = c->sq_tail;
		size_t n;

		if (!k || k->len == TCP_CHUNK) {
			k = malloc(sizeof(*k));
			if (!k) {
				c->flags |= TCPF_WANT_WRITE;
				break;
			}
			k->next = NULL;
			k->len = 0;
			if (c->sq_tail)
				c->sq_tail->next = k;
			else
				c->sq_head = k;
			c->sq_tail = k;
			ts->stats.snd_chunks++;
		}
		n = TCP_CHUNK - k->len;
		if (n > len - done)
			n = len - done;
		memcpy(k->data + k->len, src + done, n);
		k->len += (uint32_t)n;
		done += n;
	}
	c->sq_len += (uint32_t)done;
	ts->stats.snd_bytes += done;
	if (done)
		tcp_want_output(c);
	if (!done && len)
		return -ENOMEM;
	return (long)done;
}

int tcp_shutdown(struct tcp_conn *c)
{
	if (c->flags & TCPF_SHUT_WR)
		return 0;
	if (!can_send(c))
		return -ENOTCONN;
	c->flags |= TCPF_SHUT_WR;
	tcp_want_output(c);
	return 0;
}

void tcp_close(struct tcp_conn *c)
{
	struct tcp_stack *ts = c->ts;
	uint64_t now = clock_now(ts);

	c->flags &= ~(TCPF_APP | TCPF_WANT_WRITE);
	ev_remove(ts, &c->evn);
	switch (c->state) {
	case TCP_CLOSED:
	case TCP_SYN_SENT:
		tcp_conn_destroy(c);
		return;
	default:
		break;
	}
	/* Unread data would be lost without the peer knowing: reset (RFC 2525 §2.17). */
	if (c->rq_len) {
		tcp_send_rst(c, now);
		tcp_conn_destroy(c);
		return;
	}
	if (can_send(c) && !(c->flags & TCPF_SHUT_WR)) {
		c->flags |= TCPF_SHUT_WR;
		tcp_want_output(c);
	}
	/* Nobody will read what comes: FIN-WAIT-2 may not last forever. */
	if (c->state == TCP_FIN_WAIT_2) {
		c->t_misc = now + ts->cfg.fin_wait_ns;
		tcp_timer_update(c);
	}
}

void tcp_abort(struct tcp_conn *c)
{
	c->flags &= ~TCPF_APP;
	switch (c->state) {
	case TCP_SYN_RECEIVED:
	case TCP_ESTABLISHED:
	case TCP_FIN_WAIT_1:
	case TCP_FIN_WAIT_2:
	case TCP_CLOSE_WAIT:
		tcp_send_rst(c, clock_now(c->ts));
		break;
	default:
		break;
	}
	tcp_conn_destroy(c);
}

void tcp_set_nodelay(struct tcp_conn *c, bool nodelay)
{
	if (nodelay) {
		c->flags |= TCPF_NODELAY;
		if (c->sq_len)
			tcp_want_output(c);
	} else {
		c->flags &= ~TCPF_NODELAY;
	}
}

void tcp_set_user(struct tcp_conn *c, void *user)
{
	c->user = user;
}

void *tcp_user(const struct tcp_conn *c)
{
	return c->user;
}

int tcp_error(const struct tcp_conn *c)
{
	return c->err;
}

enum tcp_state tcp_state(const struct tcp_conn *c)
{
	return (enum tcp_state)c->state;
}

void tcp_endpoints(const struct tcp_conn *c, uint32_t *ip, uint16_t *port, uint16_t *lport)
{
	*ip = c->raddr;
	*port = c->rport;
	*lport = c->lport;
}
