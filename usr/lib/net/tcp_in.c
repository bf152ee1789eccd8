/* TCP input: segment checks and options, "SEGMENT ARRIVES" (RFC 9293 §3.10.7), RFC 5961 defences.
 */
#include "rx.h"
#include "tcp_priv.h"

/*
 * RFC 9293 §3.2 and §3.7.1, RFC 7323: parse the options the header carries.
 * Unknown options are skipped by their length; an option whose length is
 * below 2 or runs past the header makes the segment malformed (RFC 1122
 * §4.2.2.5 asks to be ready for "an illegal option length (e.g., zero)"):
 * false. A window scale over 14 is used as 14 (RFC 7323 §2.3).
 */
static bool parse_options(struct tcp_stack *ts, const uint8_t *o, size_t n, bool syn,
			  struct tcp_opts *opt)
{
	size_t i = 0;

	while (i < n) {
		uint8_t kind = o[i], len;

		if (kind == TCPOPT_EOL)
			break;
		if (kind == TCPOPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= n)
			return false;
		len = o[i + 1];
		if (len < 2 || i + len > n)
			return false;
		switch (kind) {
		case TCPOPT_MSS:
			if (len != TCPOLEN_MSS)
				return false;
			if (syn) {
				opt->mss_ok = true;
				opt->mss = (uint16_t)(o[i + 2] << 8 | o[i + 3]);
			}
			break;
		case TCPOPT_WSCALE:
			if (len != TCPOLEN_WSCALE)
				return false;
			if (syn) {
				opt->ws_ok = true;
				opt->ws = o[i + 2];
				if (opt->ws > TCP_WSCALE_MAX) {
					opt->ws = TCP_WSCALE_MAX;
					if (ts)
						ts->stats.wscale_clamped++;
				}
			}
			break;
		case TCPOPT_SACK_PERM:
			if (len != 2)
				return false;
			opt->sack_ok = syn;
			break;
		case TCPOPT_SACK:
			if ((len - 2) % 8 || len > 2 + 8 * 4)
				return false;
			for (int k = 2; k < len; k += 8) {
				const uint8_t *b = o + i + k;

				opt->sack[opt->nsack][0] = (uint32_t)b[0] << 24 |
							   (uint32_t)b[1] << 16 |
							   (uint32_t)b[2] << 8 | b[3];
				opt->sack[opt->nsack][1] = (uint32_t)b[4] << 24 |
							   (uint32_t)b[5] << 16 |
							   (uint32_t)b[6] << 8 | b[7];
				opt->nsack++;
			}
			break;
		case TCPOPT_TS:
			if (len != TCPOLEN_TS)
				return false;
			opt->ts_ok = true;
			opt->tsval = (uint32_t)o[i + 2] << 24 | (uint32_t)o[i + 3] << 16 |
				     (uint32_t)o[i + 4] << 8 | o[i + 5];
			opt->tsecr = (uint32_t)o[i + 6] << 24 | (uint32_t)o[i + 7] << 16 |
				     (uint32_t)o[i + 8] << 8 | o[i + 9];
			break;
		default:
			break;
		}
		i += len;
	}
	return true;
}

/* ---------------------------------------------------------------- receive queue */

/* The address of a kept buffer's record: in its frame's headers, 8-byte aligned. */
static inline struct tcp_rxb *rxb_at(uint8_t *frame)
{
	return (struct tcp_rxb *)(((uintptr_t)frame + 7) & ~(uintptr_t)7);
}

/* Keep sg's buffer for len bytes at data (sequence seq): the record, or NULL (no room). */
static struct tcp_rxb *rxb_keep(struct tcp_conn *c, struct tcp_seg *sg, uint8_t *data, uint32_t len,
				uint32_t seq)
{
	struct tcp_stack *ts = c->ts;
	const struct net_io *io = ts->s->io;
	struct tcp_rxb *b;
	size_t end;

	if (sg->buf == NET_BUF_NONE || !io || ts->stats.rx_held >= io->hold_max)
		return NULL;
	b = rxb_at(sg->frame);
	end = (size_t)(data - sg->frame) + len;
	b->next = NULL;
	b->buf = sg->buf;
	b->seq = seq;
	b->off = (uint16_t)(data - (uint8_t *)b);
	b->len = (uint16_t)len;
	b->room = (uint16_t)(io->frame_cap > end ? io->frame_cap - end : 0);
	sg->buf = NET_BUF_NONE; /* kept: once */
	sg->kept = true;
	c->held++;
	ts->stats.rx_held++;
	return b;
}

/* Copy len bytes to the end of kept buffer t (which ends where they start) if they fit. */
static bool rxb_coalesce(struct tcp_conn *c, struct tcp_rxb *t, const uint8_t *data, uint32_t len)
{
	if (!t || t->room < len)
		return false;
	memcpy((uint8_t *)t + t->off + t->len, data, len);
	t->len = (uint16_t)(t->len + len);
	t->room = (uint16_t)(t->room - len);
	c->ts->stats.coalesced++;
	return true;
}

/* Copy len bytes to the end of the queue's last buffer if they fit there. */
static bool rq_coalesce(struct tcp_conn *c, const uint8_t *data, uint32_t len)
{
	return rxb_coalesce(c, c->rq_tail, data, len);
}

static void rq_append(struct tcp_conn *c, struct tcp_rxb *b)
{
	b->next = NULL;
	if (c->rq_tail)
		c->rq_tail->next = b;
	else
		c->rq_head = b;
	c->rq_tail = b;
}

/*
 * Data above a hole may take at most half of the receive buffers TCP may
 * hold (io.hold_max); the other half stays for data at rcv_nxt, which the
 * application can read and so give back. Without that bound, holes in
 * enough connections at once (losses under load, or a peer that leaves
 * them on purpose) fill every buffer with data nobody can read yet, the
 * resends that would fill the holes find no room, and no connection of
 * the stack ever moves again.
 */
static bool ooo_room(const struct tcp_stack *ts)
{
	const struct net_io *io = ts->s->io;

	return io && ts->stats.ooo_held < io->hold_max / 2;
}

/* The connection holding the most data out of order, or NULL if none holds any. */
static struct tcp_conn *ooo_biggest(struct tcp_stack *ts)
{
	struct tcp_conn *v = NULL;

	for (struct tcp_conn *o = ts->all; ts->stats.ooo_held && o; o = o->anext) {
		if (o->ooo && (!v || o->ooo_n > v->ooo_n))
			v = o;
	}
	return v;
}

/*
 * Give up v's highest buffer held out of order (the furthest above its
 * hole). RFC 2018 §8 lets a receiver that runs out of buffers discard data
 * it has reported in SACK blocks ("reneging"): the sender keeps everything
 * until it is cumulatively acknowledged, and sends it again.
 */
static void ooo_renege(struct tcp_conn *v)
{
	struct tcp_rxb **p = &v->ooo, *b;

	while ((*p)->next)
		p = &(*p)->next;
	b = *p;
	*p = NULL;
	tcp_ooo_free(v, b);
	v->ts->stats.ooo_reneged++;
}

/*
 * No buffer left for data at rcv_nxt, which comes before data that waits
 * for a hole: give up one of c's held out of order, else one of the
 * connection that holds the most. False if nothing is held out of order.
 */
static bool ooo_make_room(struct tcp_conn *c)
{
	struct tcp_conn *v = c->ooo ? c : ooo_biggest(c->ts);

	if (!v)
		return false;
	ooo_renege(v);
	return true;
}

/*
 * The share for out-of-order data is full: make room for c's if another
 * connection holds more than c would with it, so that a few connections
 * (a peer leaving holes on purpose and going quiet) cannot keep the share
 * from everyone else. False: c's segment is dropped.
 */
static bool ooo_make_fair_room(struct tcp_conn *c)
{
	struct tcp_conn *v = ooo_biggest(c->ts);

	if (!v || v->ooo_n <= c->ooo_n + 1)
		return false;
	ooo_renege(v);
	return true;
}

/* In-order data at rcv_nxt: onto the receive queue. False: no room to hold it. */
static bool rq_add(struct tcp_conn *c, struct tcp_seg *sg, uint8_t *data, uint32_t len)
{
	struct tcp_rxb *b;

	if (!rq_coalesce(c, data, len)) {
		b = rxb_keep(c, sg, data, len, c->rcv_nxt);
		if (!b && sg->buf != NET_BUF_NONE && ooo_make_room(c))
			b = rxb_keep(c, sg, data, len, c->rcv_nxt);
		if (!b)
			return false;
		rq_append(c, b);
	}
	c->rcv_nxt += len;
	c->rq_len += len;
	c->ts->stats.bytes_rx += len;
	return true;
}

/* After rcv_nxt moved: what waited out of order and is now in order joins the queue. */
static void ooo_drain(struct tcp_conn *c)
{
	struct tcp_rxb *b;

	while ((b = c->ooo) && seq_leq(b->seq, c->rcv_nxt)) {
		uint32_t d = c->rcv_nxt - b->seq;

		c->ooo = b->next;
		c->ooo_n--;
		c->ts->stats.ooo_held--;
		if (d >= b->len) {
			tcp_rxb_free(c, b);
			continue;
		}
		b->off = (uint16_t)(b->off + d);
		b->len = (uint16_t)(b->len - d);
		b->seq += d;
		c->rcv_nxt += b->len;
		c->rq_len += b->len;
		c->ts->stats.bytes_rx += b->len;
		if (rq_coalesce(c, (uint8_t *)b + b->off, b->len))
			tcp_rxb_free(c, b);
		else
			rq_append(c, b);
	}
}

/*
 * Data past rcv_nxt (inside the window): kept in sequence order with no
 * overlap; the first copy of a byte wins. Returns the frame's verdict.
 */
static int ooo_add(struct tcp_conn *c, struct tcp_seg *sg, uint8_t *data, uint32_t len,
		   uint32_t seq)
{
	struct net_stack *s = c->ts->s;
	struct tcp_rxb **p = &c->ooo, *b, *prev = NULL;
	uint32_t end;

	while (*p && seq_leq((*p)->seq + (*p)->len, seq)) {
		prev = *p;
		p = &(*p)->next;
	}
	if (*p && seq_leq((*p)->seq, seq)) {
		uint32_t d = (*p)->seq + (*p)->len - seq;

		if (d >= len)
			return net_drop(s, &s->stats.rx_tcp_dup_data);
		data += d;
		len -= d;
		seq += d;
		prev = *p;
		p = &(*p)->next;
	}
	end = seq + len;
	while (*p && seq_leq((*p)->seq + (*p)->len, end)) {
		b = *p;
		*p = b->next;
		tcp_ooo_free(c, b);
	}
	if (*p && seq_lt((*p)->seq, end))
		len = (*p)->seq - seq;
	/*
	 * Right behind the piece before it, and small enough for its room:
	 * copied there, as in order. Small requests that follow one loss
	 * then share buffers instead of taking one each.
	 */
	if (prev && prev->seq + prev->len == seq && rxb_coalesce(c, prev, data, len)) {
		c->sack_last = seq;
		c->ts->stats.ooo_segs++;
		return NET_RX_CONSUMED;
	}
	if (c->ooo_n >= TCP_OOO_MAX || (!ooo_room(c->ts) && !ooo_make_fair_room(c)))
		return net_drop(s, &s->stats.rx_tcp_ooo_full);
	b = rxb_keep(c, sg, data, len, seq);
	if (!b)
		return net_drop(s, &s->stats.rx_tcp_no_mem);
	b->next = *p;
	*p = b;
	c->ooo_n++;
	c->ts->stats.ooo_held++;
	c->sack_last = seq;
	c->ts->stats.ooo_segs++;
	return NET_RX_KEPT;
}

/* ---------------------------------------------------------------- connection set-up */

/* MSS and options of the peer's SYN (RFC 9293 §3.7.1, RFC 7323 §2.2, §3.2). */
static void take_syn_options(struct tcp_conn *c, const struct tcp_opts *o, bool we_offered)
{
	c->peer_mss = o->mss_ok ? (o->mss < TCP_MSS_MIN ? TCP_MSS_MIN : o->mss) : TCP_MSS_DEFAULT;
	if (o->ws_ok && we_offered) {
		c->flags |= TCPF_WS;
		c->snd_wscale = o->ws;
		c->rcv_wscale = c->ts->rcv_wscale;
	} else {
		c->snd_wscale = 0;
		c->rcv_wscale = 0;
	}
	if (o->sack_ok && we_offered)
		c->flags |= TCPF_SACK;
	if (o->ts_ok && we_offered) {
		c->flags |= TCPF_TS;
		c->ts_recent = o->tsval;
		c->ts_recent_at = c->ts->now;
	}
	/* RFC 6691: the MSS counts no options; ours take room in every segment. */
	c->mss = (uint16_t)(min_u32(c->peer_mss, TCP_MSS_OURS) -
			    ((c->flags & TCPF_TS) ? TCP_TS_OPTLEN : 0));
}

/* LISTEN, a SYN: a connection in SYN-RECEIVED, or a cookie when the backlog is full. */
static int listen_syn(struct tcp_stack *ts, struct tcp_listener *l, struct tcp_seg *sg,
		      struct net_rx_result *out, size_t frame_len)
{
	struct net_stack *s = ts->s;
	struct tcp_conn *c = NULL;

	if (l->nacc >= l->backlog)
		return net_drop(s, &s->stats.rx_tcp_listen_full);
	ts->stats.passive_opens++;
	if (l->nsyn < l->backlog)
		c = tcp_conn_new(ts, sg->raddr, sg->rport, sg->lport, sg->now);
	if (!c) {
		/* RFC 4987 §3.6: the backlog (or memory) is full; the state goes in the ISN. */
		uint16_t mss = sg->opt.mss_ok ? sg->opt.mss : TCP_MSS_DEFAULT;

		return tcp_synack_cookie_reply(ts, sg, tcp_cookie_make(ts, sg, mss, sg->now), out,
					       frame_len);
	}
	c->lis = l;
	mac_copy(c->mac, ((const struct eth_hdr *)sg->frame)->src);
	c->mac_ok = true;
	c->irs = sg->seq;
	c->rcv_nxt = sg->seq + 1;
	c->rcv_adv = c->rcv_nxt;
	take_syn_options(c, &sg->opt, true);
	c->iss = tcp_isn(ts, sg->raddr, sg->rport, sg->lport, sg->now);
	c->snd_una = c->snd_nxt = c->snd_max = c->iss;
	c->recover = c->iss;
	c->flags |= TCPF_SYN_OUT;
	/* RFC 7323 §2.2: the SYN's window is not scaled. */
	c->snd_wnd = sg->wnd;
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = sg->seq;
	c->snd_wl2 = c->iss;
	tcp_init_cc(c);
	tcp_set_state(c, TCP_SYN_RECEIVED);
	tcp_want_output(c);
	return NET_RX_CONSUMED;
}

/* LISTEN, an ACK: the end of a cookie handshake, or a RST. */
static int listen_ack(struct tcp_stack *ts, struct tcp_listener *l, struct tcp_seg *sg,
		      struct net_rx_result *out, size_t frame_len, struct tcp_conn **made)
{
	struct net_stack *s = ts->s;
	struct tcp_conn *c;
	uint16_t mss;

	if (!tcp_cookie_check(ts, sg, &mss)) {
		/*
		 * While cookies are out, a segment that fails the check may be a
		 * real peer's later segment overtaking its first (the cookie is
		 * checked against SEG.SEQ - 1): dropped, so the peer's resend
		 * still completes the handshake. Otherwise a RST (RFC 9293
		 * §3.10.7.2: an ACK in LISTEN).
		 */
		if (sg->now <= ts->cookie_until) {
			ts->stats.syncookies_bad++;
			return net_drop(s, &s->stats.rx_tcp_bad_cookie);
		}
		return tcp_rst_reply(ts, s, sg, out, frame_len);
	}
	if (l->nacc >= l->backlog)
		return net_drop(s, &s->stats.rx_tcp_listen_full);
	c = tcp_conn_new(ts, sg->raddr, sg->rport, sg->lport, sg->now);
	if (!c)
		return net_drop(s, &s->stats.rx_tcp_no_mem);
	c->lis = l;
	mac_copy(c->mac, ((const struct eth_hdr *)sg->frame)->src);
	c->mac_ok = true;
	c->peer_mss = mss;
	/* Timestamps echo our TSval: its low bits carry the peer's window scale. */
	if (sg->opt.ts_ok) {
		uint32_t v = sg->opt.tsecr & 0xf;

		c->flags |= TCPF_TS;
		c->ts_recent = sg->opt.tsval;
		c->ts_recent_at = sg->now;
		if (sg->opt.tsecr & 0x10)
			c->flags |= TCPF_SACK;
		if (v) {
			c->flags |= TCPF_WS;
			c->snd_wscale = (uint8_t)(v - 1);
			c->rcv_wscale = ts->rcv_wscale;
		}
	}
	c->mss =
	    (uint16_t)(min_u32(mss, TCP_MSS_OURS) - ((c->flags & TCPF_TS) ? TCP_TS_OPTLEN : 0));
	c->irs = sg->seq - 1;
	c->rcv_nxt = sg->seq;
	c->rcv_adv = c->rcv_nxt + min_u32(ts->cfg.rcvbuf, 65535);
	c->iss = sg->ack - 1;
	c->snd_una = c->snd_nxt = c->snd_max = sg->ack;
	c->recover = c->iss;
	c->snd_wnd = sg->wnd << c->snd_wscale;
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = sg->seq;
	c->snd_wl2 = sg->ack;
	c->last_ack_sent = c->rcv_nxt;
	tcp_init_cc(c);
	ts->stats.syncookies_ok++;
	tcp_established(c);
	*made = c;
	return NET_RX_CONSUMED;
}

/* ---------------------------------------------------------------- acknowledgements */

/* RFC 9293 §3.10.7.4, fifth step: the send window from an acceptable segment. */
static void update_window(struct tcp_conn *c, const struct tcp_seg *sg)
{
	if (seq_lt(c->snd_wl1, sg->seq) ||
	    (c->snd_wl1 == sg->seq && seq_leq(c->snd_wl2, sg->ack))) {
		uint32_t old = c->snd_wnd;

		c->snd_wnd = sg->wnd << c->snd_wscale;
		c->snd_wl1 = sg->seq;
		c->snd_wl2 = sg->ack;
		if (c->snd_wnd > c->max_snd_wnd)
			c->max_snd_wnd = c->snd_wnd;
		if (c->snd_wnd > old) {
			if ((c->flags & TCPF_PERSIST) && c->snd_wnd) {
				c->flags &= ~TCPF_PERSIST;
				c->t_rexmt = 0;
				c->retries = 0;
			}
			if (c->sq_len)
				tcp_want_output(c);
		}
	}
}

/* Our FIN is acknowledged: where that leads (RFC 9293 §3.10.7.4). False if c is gone. */
static bool fin_acked(struct tcp_conn *c, uint64_t now)
{
	const struct tcp_config *cfg = &c->ts->cfg;

	switch (c->state) {
	case TCP_FIN_WAIT_1:
		tcp_set_state(c, TCP_FIN_WAIT_2);
		if (!(c->flags & TCPF_APP)) {
			c->t_misc = now + cfg->fin_wait_ns;
			tcp_timer_update(c);
		}
		return true;
	case TCP_CLOSING:
		tcp_set_state(c, TCP_TIME_WAIT);
		c->t_rexmt = c->t_delack = 0;
		c->t_misc = now + cfg->time_wait_ns;
		tcp_timer_update(c);
		return true;
	case TCP_LAST_ACK: {
		bool keep = c->flags & TCPF_APP;

		tcp_closed(c, 0);
		return keep;
	}
	default:
		return true;
	}
}

/*
 * New data acknowledged: the queue, RTT (RFC 6298, RFC 7323 §4), the
 * congestion window (RFC 5681 §3.1, RFC 6582 §3.2) and the timer. False if
 * c is gone.
 */
static bool new_ack(struct tcp_conn *c, const struct tcp_seg *sg)
{
	uint64_t now = sg->now;
	uint32_t acked = sg->ack - c->snd_una, data = acked;
	bool fin = (c->flags & TCPF_FIN_SENT) && seq_gt(sg->ack, c->snd_una + c->sq_len);

	if (c->flags & TCPF_SYN_OUT) {
		c->flags &= ~TCPF_SYN_OUT;
		data--;
	}
	if (fin)
		data--;
	tcp_sq_drop(c, data);
	if ((c->flags & TCPF_TS) && sg->opt.ts_ok && sg->opt.tsecr) {
		uint32_t ms = tcp_ts_now(c, now) - sg->opt.tsecr;

		if ((int32_t)ms >= 0 && ms < 60000)
			tcp_rtt_sample(c, (uint64_t)ms * TCP_TS_NS + TCP_TS_NS / 2);
	} else if ((c->flags & TCPF_RTT) && seq_gt(sg->ack, c->rtt_seq)) {
		c->flags &= ~TCPF_RTT;
		tcp_rtt_sample(c, now - c->rtt_start);
	}
	c->prev_una = c->snd_una;
	c->snd_una = sg->ack;
	if (seq_lt(c->snd_nxt, c->snd_una))
		c->snd_nxt = c->snd_una;
	c->retries = 0;
	c->lt_segs = 0;
	c->last_progress = now;

	if (c->flags & TCPF_RECOVERY) {
		if (seq_geq(sg->ack, c->recover)) {
			/* Full acknowledgement: leave recovery (RFC 6582 §3.2 step 3, option 1). */
			c->cwnd = min_u32(c->ssthresh, max_u32(tcp_flight(c), c->mss) + c->mss);
			c->flags &= ~(TCPF_RECOVERY | TCPF_PARTIAL);
			c->dupacks = 0;
		} else {
			/* Partial: resend the next hole, deflate by what left, add one back. */
			c->ts->stats.partial_acks++;
			tcp_retransmit_head(c, now);
			c->rxt_next = seq_max(c->rxt_next, c->snd_una + min_u32(c->mss, c->sq_len));
			c->cwnd = c->cwnd > data ? c->cwnd - data : 0;
			if (data >= c->mss)
				c->cwnd += c->mss;
			if (c->cwnd < c->mss)
				c->cwnd = c->mss;
			/* "Impatient": the timer restarts for the first partial ACK only. */
			if (!(c->flags & TCPF_PARTIAL)) {
				c->flags |= TCPF_PARTIAL;
				tcp_arm_rexmt(c, now);
			}
		}
	} else {
		c->dupacks = 0;
		if (c->cwnd < c->ssthresh) {
			/* Slow start, counting bytes up to 2 segments per ACK (RFC 3465 L=2). */
			c->cwnd += min_u32(data, 2u * c->mss);
		} else {
			c->acked_ca += data;
			if (c->acked_ca >= c->cwnd) {
				c->acked_ca -= c->cwnd;
				c->cwnd += c->mss;
			}
		}
		if (c->cwnd > (1u << 30))
			c->cwnd = 1u << 30;
	}
	/* RFC 6298 §5.2-5.3: stop when all is acknowledged, else restart. */
	if (c->snd_una == c->snd_max) {
		if (!(c->flags & TCPF_PERSIST))
			c->t_rexmt = 0;
	} else if (!(c->flags & TCPF_RECOVERY) || !(c->flags & TCPF_PARTIAL)) {
		tcp_arm_rexmt(c, now);
	}
	if (fin && !fin_acked(c, now))
		return false;
	if (c->sq_len > c->snd_nxt - c->snd_una || fin_state(c))
		tcp_want_output(c);
	return true;
}

/*
 * RFC 2018 §4: remember what the peer says it holds above snd_una (ranges
 * merged, in order; the highest dropped when there is no room). Blocks
 * below snd_una (D-SACK, RFC 2883) or past what we sent are ignored.
 */
static void sack_update(struct tcp_conn *c, const struct tcp_seg *sg)
{
	unsigned int i, j;

	/* What snd_una has passed goes. */
	for (i = j = 0; i < c->nsb; i++) {
		if (seq_leq(c->sb[i][1], c->snd_una))
			continue;
		if (seq_lt(c->sb[i][0], c->snd_una))
			c->sb[i][0] = c->snd_una;
		c->sb[j][0] = c->sb[i][0];
		c->sb[j][1] = c->sb[i][1];
		j++;
	}
	c->nsb = (uint8_t)j;
	if (!(c->flags & TCPF_SACK))
		return;
	for (unsigned int k = 0; k < sg->opt.nsack; k++) {
		uint32_t l = sg->opt.sack[k][0], r = sg->opt.sack[k][1];

		if (!seq_lt(l, r) || seq_leq(r, c->snd_una) || seq_gt(r, c->snd_max) ||
		    r - l > c->snd_max - c->snd_una)
			continue;
		if (seq_lt(l, c->snd_una))
			l = c->snd_una;
		/* Insert in order, then merge what touches. */
		for (i = 0; i < c->nsb && seq_lt(c->sb[i][0], l); i++)
			;
		if (c->nsb == TCP_SACK_SB) {
			if (i == TCP_SACK_SB)
				continue;
			c->nsb--;
		}
		memmove(c->sb[i + 1], c->sb[i], (c->nsb - i) * sizeof(c->sb[0]));
		c->sb[i][0] = l;
		c->sb[i][1] = r;
		c->nsb++;
		for (i = 0; i + 1 < c->nsb;) {
			if (seq_geq(c->sb[i][1], c->sb[i + 1][0])) {
				c->sb[i][1] = seq_max(c->sb[i][1], c->sb[i + 1][1]);
				memmove(c->sb[i + 1], c->sb[i + 2],
					(c->nsb - i - 2) * sizeof(c->sb[0]));
				c->nsb--;
			} else {
				i++;
			}
		}
	}
}

/* RFC 5681 §2 "duplicate acknowledgment" and §3.2 fast retransmit, RFC 6582 §3.2 step 2. */
static void dup_ack(struct tcp_conn *c, const struct tcp_seg *sg)
{
	/*
	 * With SACK on, a receiver's window moves while it holds data out of
	 * order (Linux grows it as it goes): the window test then loses the
	 * duplicates, so it is left out, as FreeBSD does.
	 */
	if (sg->len || (sg->flags & (TCP_SYN | TCP_FIN)) || c->snd_max == c->snd_una ||
	    ((sg->wnd << c->snd_wscale) != c->snd_wnd && !(c->flags & TCPF_SACK)))
		return;
	c->ts->stats.dupacks_rx++;
	/*
	 * RFC 3042 limited transmit: the first two duplicate ACKs may each
	 * send a new segment past cwnd, so a small window still makes three.
	 */
	if (c->dupacks < 2 && !(c->flags & TCPF_RECOVERY)) {
		c->lt_segs = (uint8_t)(c->dupacks + 1);
		tcp_want_output(c);
	}
	/*
	 * RFC 6582 §3.2 step 2: not again for losses of the window already
	 * recovered (the ACK does not pass recover) — unless §4.1's ACK
	 * heuristic says these duplicates are for a new loss: cwnd over one
	 * segment, and the last ACK before them advanced by at most four.
	 */
	if (++c->dupacks == TCP_DUPTHRESH && !(c->flags & TCPF_RECOVERY) &&
	    (seq_gt(sg->ack, c->recover) ||
	     (c->cwnd > c->mss && c->snd_una - c->prev_una <= 4u * c->mss))) {
		c->ssthresh = max_u32(tcp_flight(c) / 2, 2u * c->mss);
		c->recover = c->snd_max;
		c->ts->stats.fast_retransmits++;
		tcp_retransmit_head(c, sg->now);
		c->rxt_next = c->snd_una + min_u32(c->mss, c->sq_len);
		c->cwnd = c->ssthresh + TCP_DUPTHRESH * c->mss;
		c->flags |= TCPF_RECOVERY;
		c->lt_segs = 0;
		c->flags &= ~TCPF_PARTIAL;
	} else if ((c->flags & TCPF_RECOVERY) && c->nsb &&
		   seq_geq(c->sb[c->nsb - 1][1], c->rxt_mark + TCP_DUPTHRESH * c->mss)) {
		/*
		 * Data sent after our last resend of snd_una's segment is
		 * SACKed three segments deep while that hole stays: the resend
		 * was lost too. Again now, not at the timeout (the idea of RACK,
		 * RFC 8985, by sequence rather than time).
		 */
		c->ts->stats.lost_retransmits++;
		tcp_retransmit_head(c, sg->now);
	} else if (c->dupacks > TCP_DUPTHRESH && (c->flags & TCPF_RECOVERY)) {
		/*
		 * Each dupack: a segment has left the network, and one may
		 * enter: the next hole the SACK blocks show (much as RFC 6675's
		 * NextSeg), else new data as NewReno sends.
		 */
		if (!tcp_retransmit_hole(c, sg->now)) {
			c->cwnd += c->mss;
			tcp_want_output(c);
		}
	}
	if (c->dupacks == 0xff)
		c->dupacks = TCP_DUPTHRESH + 1;
}

/* ---------------------------------------------------------------- data and FIN */

/* The peer's FIN is next in sequence: consume it (RFC 9293 §3.10.7.4, eighth step). */
static void take_fin(struct tcp_conn *c, uint64_t now)
{
	const struct tcp_config *cfg = &c->ts->cfg;

	c->rcv_nxt++;
	c->flags |= TCPF_FIN_RCVD | TCPF_ACK_NOW;
	c->flags &= ~TCPF_FIN_PEND;
	tcp_want_output(c);
	tcp_ev(c, TCP_EV_READ);
	switch (c->state) {
	case TCP_SYN_RECEIVED:
	case TCP_ESTABLISHED:
		tcp_set_state(c, TCP_CLOSE_WAIT);
		break;
	case TCP_FIN_WAIT_1:
		/* Our FIN is not acknowledged yet, or this ACK would have made FIN-WAIT-2. */
		tcp_set_state(c, TCP_CLOSING);
		break;
	case TCP_FIN_WAIT_2:
		tcp_set_state(c, TCP_TIME_WAIT);
		c->t_rexmt = c->t_delack = 0;
		c->t_misc = now + cfg->time_wait_ns;
		tcp_timer_update(c);
		if (c->flags & TCPF_APP)
			tcp_ev(c, TCP_EV_CLOSED);
		break;
	default:
		break;
	}
}

/* The ACK policy for in-order data: every second full segment at once, else delayed. */
static void ack_data(struct tcp_conn *c, uint64_t now, bool filled_hole)
{
	if (filled_hole || ++c->unacked >= 2) {
		c->flags |= TCPF_ACK_NOW;
		tcp_want_output(c);
	} else if (!c->t_delack) {
		c->t_delack = now + c->ts->cfg.delack_ns;
		tcp_timer_update(c);
	}
}

/* The segment's text, trimmed to the window, at seq (RFC 9293 §3.10.7.4, seventh step). */
static int take_data(struct tcp_conn *c, struct tcp_seg *sg, uint8_t *data, uint32_t len,
		     uint32_t seq)
{
	struct net_stack *s = c->ts->s;
	bool had_ooo = c->ooo != NULL;
	int v;

	if (seq != c->rcv_nxt) {
		v = ooo_add(c, sg, data, len, seq);
		/*
		 * RFC 5681 §4.2: each out-of-order segment is acknowledged at
		 * once, not at the flush with its burst: the sender counts
		 * these duplicate ACKs to find the loss.
		 */
		tcp_send_ack(c, sg->now);
		return v;
	}
	if (!rq_add(c, sg, data, len)) {
		c->flags |= TCPF_ACK_NOW;
		tcp_want_output(c);
		return net_drop(s, &s->stats.rx_tcp_no_mem);
	}
	ooo_drain(c);
	if ((c->flags & TCPF_FIN_PEND) && c->rcv_nxt == c->fin_seq)
		take_fin(c, sg->now);
	ack_data(c, sg->now, had_ooo);
	tcp_ev(c, TCP_EV_READ);
	return sg->kept ? NET_RX_KEPT : NET_RX_CONSUMED;
}

/* ---------------------------------------------------------------- states */

/* SYN-SENT (RFC 9293 §3.10.7.3). */
static int syn_sent_input(struct tcp_conn *c, struct tcp_seg *sg)
{
	struct net_stack *s = c->ts->s;
	bool ack_ok =
	    (sg->flags & TCP_ACK) && seq_gt(sg->ack, c->iss) && seq_leq(sg->ack, c->snd_max);

	if ((sg->flags & TCP_ACK) && !ack_ok) {
		if (!(sg->flags & TCP_RST))
			tcp_send_ctl(c, sg->ack, TCP_RST, sg->now);
		return net_drop(s, &s->stats.rx_tcp_bad_ack);
	}
	if (sg->flags & TCP_RST) {
		if (!ack_ok)
			return net_drop(s, &s->stats.rx_tcp_rst_ignored);
		c->ts->stats.refused++;
		tcp_closed(c, -ECONNREFUSED);
		return NET_RX_CONSUMED;
	}
	if (!(sg->flags & TCP_SYN))
		return net_drop(s, &s->stats.rx_tcp_bad_flags);
	c->irs = sg->seq;
	c->rcv_nxt = sg->seq + 1;
	c->rcv_adv = c->rcv_nxt;
	c->last_ack_sent = c->rcv_nxt;
	take_syn_options(c, &sg->opt, true);
	tcp_init_cc(c);
	if (!ack_ok) {
		/* Simultaneous open: our SYN again, now with the ACK of theirs. */
		tcp_set_state(c, TCP_SYN_RECEIVED);
		c->snd_nxt = c->iss;
		c->snd_wnd = sg->wnd;
		c->snd_wl1 = sg->seq;
		tcp_want_output(c);
		return NET_RX_CONSUMED;
	}
	new_ack(c, sg);
	c->snd_wnd = sg->wnd; /* RFC 7323 §2.2: unscaled in a SYN */
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = sg->seq;
	c->snd_wl2 = sg->ack;
	c->flags |= TCPF_ACK_NOW;
	tcp_established(c);
	tcp_want_output(c);
	return NET_RX_CONSUMED;
}

/* Is the segment acceptable (RFC 9293 §3.10.7.4, the table of the first step)? */
static bool acceptable(const struct tcp_conn *c, const struct tcp_seg *sg, uint32_t seglen)
{
	uint32_t wnd = c->rcv_adv - c->rcv_nxt;

	if (seq_lt(c->rcv_adv, c->rcv_nxt))
		wnd = 0;
	/*
	 * An empty segment may sit at the right edge: a sender that filled
	 * the window has its SND.NXT there, and its ACKs must count (RFC 9293:
	 * "special allowance should be made to accept valid ACKs"; 4.4BSD and
	 * Linux accept them).
	 */
	if (!seglen)
		return seq_leq(c->rcv_nxt, sg->seq) && seq_leq(sg->seq, c->rcv_nxt + wnd);
	if (!wnd)
		return false;
	return (seq_leq(c->rcv_nxt, sg->seq) && seq_lt(sg->seq, c->rcv_nxt + wnd)) ||
	       (seq_leq(c->rcv_nxt, sg->seq + seglen - 1) &&
		seq_lt(sg->seq + seglen - 1, c->rcv_nxt + wnd));
}

/* A RST in a synchronized state, its sequence number exactly rcv_nxt (RFC 5961 §3.2). */
static int reset_by_peer(struct tcp_conn *c)
{
	c->ts->stats.resets_rx++;
	switch (c->state) {
	case TCP_SYN_RECEIVED:
		/* RFC 9293 §3.10.7.4: back to LISTEN, which for us means forgetting it. */
		if (!(c->flags & TCPF_APP)) {
			tcp_conn_destroy(c);
			return NET_RX_CONSUMED;
		}
		tcp_closed(c, -ECONNREFUSED);
		return NET_RX_CONSUMED;
	case TCP_CLOSING:
	case TCP_LAST_ACK:
		tcp_closed(c, 0);
		return NET_RX_CONSUMED;
	default:
		tcp_closed(c, -ECONNRESET);
		return NET_RX_CONSUMED;
	}
}

/* Every state from SYN-RECEIVED on (RFC 9293 §3.10.7.4). */
static int conn_input(struct tcp_conn *c, struct tcp_seg *sg)
{
	struct tcp_stack *ts = c->ts;
	struct net_stack *s = ts->s;
	uint64_t now = sg->now;
	uint8_t *data = sg->data;
	uint32_t len = sg->len, seq = sg->seq;
	uint32_t seglen = len + !!(sg->flags & TCP_SYN) + !!(sg->flags & TCP_FIN);
	bool fin = sg->flags & TCP_FIN, old = false;
	int v = NET_RX_CONSUMED;

	/* A retransmitted SYN while our SYN-ACK is out: answer it again. */
	if (c->state == TCP_SYN_RECEIVED && (sg->flags & TCP_SYN) && !(sg->flags & TCP_ACK) &&
	    sg->seq == c->irs) {
		tcp_send_ack(c, now);
		return NET_RX_CONSUMED;
	}
	/* RFC 7323 §5.3: PAWS. */
	if ((c->flags & TCPF_TS) && sg->opt.ts_ok && !(sg->flags & TCP_RST) &&
	    seq_lt(sg->opt.tsval, c->ts_recent) && now - c->ts_recent_at < TCP_PAWS_IDLE_NS) {
		tcp_send_challenge_ack(c, now);
		return net_drop(s, &s->stats.rx_tcp_paws);
	}
	if (!acceptable(c, sg, seglen)) {
		if (sg->flags & TCP_RST)
			return net_drop(s, &s->stats.rx_tcp_rst_ignored);
		/* TIME-WAIT: the peer's FIN again (our last ACK was lost): ACK, restart 2 MSL. */
		if (c->state == TCP_TIME_WAIT && fin && seq + len + 1 == c->rcv_nxt) {
			c->t_misc = now + ts->cfg.time_wait_ns;
			tcp_send_ack(c, now);
			tcp_timer_update(c);
			return NET_RX_CONSUMED;
		}
		/*
		 * All of it is old (a retransmission, a FIN again: BSD stacks
		 * repeat an unacknowledged FIN on every segment): its text goes,
		 * an ACK resynchronizes, but its ACK field still counts, as in
		 * 4.4BSD; what lies right of the window is dropped whole.
		 */
		if (!(sg->flags & TCP_SYN) && (sg->flags & TCP_ACK) &&
		    seq_leq(seq + seglen, c->rcv_nxt) && c->state != TCP_TIME_WAIT) {
			c->flags |= TCPF_ACK_NOW;
			tcp_want_output(c);
			if (len)
				v = net_drop(s, &s->stats.rx_tcp_dup_data);
			seq = c->rcv_nxt;
			len = 0;
			fin = false;
			old = true;
		} else {
			tcp_send_challenge_ack(c, now);
			if (len && seq_leq(seq + len, c->rcv_nxt))
				return net_drop(s, &s->stats.rx_tcp_dup_data);
			return net_drop(s, &s->stats.rx_tcp_out_of_window);
		}
	}
	if (sg->flags & TCP_RST) {
		/* RFC 1337: no TIME-WAIT assassination. */
		if (c->state == TCP_TIME_WAIT)
			return net_drop(s, &s->stats.rx_tcp_rst_ignored);
		if (seq == c->rcv_nxt)
			return reset_by_peer(c);
		tcp_send_challenge_ack(c, now);
		return net_drop(s, &s->stats.rx_tcp_rst_challenged);
	}
	if (sg->flags & TCP_SYN) {
		/* RFC 5961 §4.2: whatever its sequence number. */
		tcp_send_challenge_ack(c, now);
		return net_drop(s, &s->stats.rx_tcp_syn_challenged);
	}
	if (!(sg->flags & TCP_ACK))
		return net_drop(s, &s->stats.rx_tcp_bad_flags);
	/* RFC 7323 §4.3: the timestamp to echo. */
	if (sg->opt.ts_ok && (c->flags & TCPF_TS) && seq_leq(seq, c->last_ack_sent) &&
	    seq_geq(sg->opt.tsval, c->ts_recent)) {
		c->ts_recent = sg->opt.tsval;
		c->ts_recent_at = now;
	}
	ts->stats.segs_rx++;

	/* Fifth step: the ACK. */
	if (c->state == TCP_SYN_RECEIVED) {
		if (!seq_gt(sg->ack, c->snd_una) || seq_gt(sg->ack, c->snd_max)) {
			tcp_send_ctl(c, sg->ack, TCP_RST, now);
			return net_drop(s, &s->stats.rx_tcp_bad_ack);
		}
		c->snd_wnd = sg->wnd << c->snd_wscale;
		c->max_snd_wnd = c->snd_wnd;
		c->snd_wl1 = seq;
		c->snd_wl2 = sg->ack;
		tcp_established(c);
	}
	if (seq_gt(sg->ack, c->snd_max)) {
		tcp_send_challenge_ack(c, now);
		return net_drop(s, &s->stats.rx_tcp_bad_ack);
	}
	/* RFC 5961 §5.2: an ACK older than the peer could have seen is blind. */
	if (seq_lt(sg->ack, c->snd_una - c->max_snd_wnd)) {
		tcp_send_challenge_ack(c, now);
		return net_drop(s, &s->stats.rx_tcp_bad_ack);
	}
	if (seq_gt(sg->ack, c->snd_una)) {
		update_window(c, sg);
		if (!new_ack(c, sg))
			return v;
		sack_update(c, sg);
	} else {
		sack_update(c, sg);
		if (sg->ack == c->snd_una)
			dup_ack(c, sg);
		update_window(c, sg);
	}
	if (c->state == TCP_CLOSED)
		return v;

	/* Trim to the window: the front already had, the end past it (and its FIN). */
	if (seq_lt(seq, c->rcv_nxt)) {
		uint32_t d = c->rcv_nxt - seq;

		if (d > len) {
			/* Old data and the FIN we took already. */
			len = 0;
			fin = false;
		} else {
			data += d;
			len -= d;
		}
		seq = c->rcv_nxt;
	}
	if (len && seq_gt(seq + len, c->rcv_adv)) {
		len = seq_gt(c->rcv_adv, seq) ? c->rcv_adv - seq : 0;
		fin = false;
	}
	if (len) {
		switch (c->state) {
		case TCP_ESTABLISHED:
		case TCP_FIN_WAIT_1:
		case TCP_FIN_WAIT_2:
			if (!(c->flags & (TCPF_APP | TCPF_ACCEPTQ)) && !c->lis) {
				/* Nobody will read it: the handle is closed (RFC 2525 §2.17). */
				tcp_send_rst(c, now);
				tcp_conn_destroy(c);
				return net_drop(s, &s->stats.rx_tcp_closing);
			}
			v = take_data(c, sg, data, len, seq);
			break;
		default:
			v = net_drop(s, &s->stats.rx_tcp_closing);
			break;
		}
	} else if (sg->len && !fin && !old) {
		/* All of it was had before: ACK it so the peer learns (RFC 9293). */
		c->flags |= TCPF_ACK_NOW;
		tcp_want_output(c);
	}
	if (fin) {
		if (seq + len == c->rcv_nxt && !(c->flags & TCPF_FIN_RCVD)) {
			take_fin(c, now);
		} else if (seq_gt(seq + len, c->rcv_nxt)) {
			c->flags |= TCPF_FIN_PEND;
			c->fin_seq = seq + len;
		}
	}
	return v;
}

/* ---------------------------------------------------------------- entry */

int tcp_rx(struct net_stack *s, uint8_t *frame, size_t len, uint32_t buf, size_t hlen,
	   size_t tot_len, unsigned int flags, struct net_rx_result *out, uint64_t now)
{
	struct tcp_stack *ts = s->tcp;
	const struct ip_hdr *ip = (const struct ip_hdr *)(frame + ETH_HLEN);
	const struct tcp_hdr *th = (const struct tcp_hdr *)(frame + ETH_HLEN + hlen);
	size_t seglen = tot_len - hlen, doff;
	struct tcp_seg sg;
	struct tcp_conn *c;
	struct tcp_listener *l;

	if (seglen < TCP_HLEN)
		return net_drop(s, &s->stats.rx_tcp_bad_len);
	doff = (size_t)(th->off >> 4) * 4;
	if (doff < TCP_HLEN || doff > seglen)
		return net_drop(s, &s->stats.rx_tcp_bad_len);
	if (!(flags & (NET_RX_F_CSUM_VALID | NET_RX_F_CSUM_PARTIAL))) {
		uint64_t sum = ip_pseudo_be(ip->src, ip->dst, IP_PROTO_TCP, (uint16_t)seglen);

		if (net_csum_fold(net_csum_partial(th, seglen, sum)) != 0)
			return net_drop(s, &s->stats.rx_tcp_bad_csum);
	}
	memset(&sg, 0, sizeof(sg));
	sg.flags = th->flags;
	if (!parse_options(ts, (const uint8_t *)th + TCP_HLEN, doff - TCP_HLEN, sg.flags & TCP_SYN,
			   &sg.opt))
		return net_drop(s, &s->stats.rx_tcp_bad_opt);
	/* SYN with FIN or RST is no segment any TCP sends. */
	if ((sg.flags & TCP_SYN) && (sg.flags & (TCP_FIN | TCP_RST)))
		return net_drop(s, &s->stats.rx_tcp_bad_flags);
	sg.frame = frame;
	sg.buf = buf;
	sg.data = (uint8_t *)th + doff;
	sg.len = (uint32_t)(seglen - doff);
	sg.seq = net_ntohl(th->seq);
	sg.ack = net_ntohl(th->ack);
	sg.wnd = net_ntohs(th->win);
	sg.raddr = net_ntohl(ip->src);
	sg.rport = net_ntohs(th->sport);
	sg.lport = net_ntohs(th->dport);
	sg.now = now;
	if (!sg.rport || !sg.lport)
		return net_drop(s, &s->stats.rx_tcp_no_port);
	if (!ts)
		return tcp_rst_reply(NULL, s, &sg, out, len);
	ts->now = now;

	c = tcp_lookup(ts, sg.raddr, sg.rport, sg.lport);
	if (c && c->state == TCP_TIME_WAIT && (sg.flags & TCP_SYN) && !(sg.flags & TCP_ACK) &&
	    tcp_find_listener(ts, sg.lport) &&
	    ((sg.opt.ts_ok && (c->flags & TCPF_TS)) ? seq_gt(sg.opt.tsval, c->ts_recent)
						    : seq_gt(sg.seq, c->rcv_nxt))) {
		/* RFC 9293 §3.10.7.4 (and RFC 6191): a new incarnation ends TIME-WAIT. */
		ts->stats.tw_reused++;
		if (c->flags & TCPF_APP)
			tcp_closed(c, 0);
		else
			tcp_conn_destroy(c);
		c = NULL;
	}
	if (c) {
		int v = c->state == TCP_SYN_SENT ? syn_sent_input(c, &sg) : conn_input(c, &sg);

		return v;
	}
	l = tcp_find_listener(ts, sg.lport);
	if (!l)
		return tcp_rst_reply(ts, s, &sg, out, len);
	/* LISTEN (RFC 9293 §3.10.7.2): RSTs are ignored, ACKs answered, SYNs taken. */
	if (sg.flags & TCP_RST)
		return net_drop(s, &s->stats.rx_tcp_no_port);
	if (sg.flags & TCP_ACK) {
		int v = listen_ack(ts, l, &sg, out, len, &c);

		/* A cookie connection: the rest of the ACK (its data) as in ESTABLISHED. */
		if (c && v == NET_RX_CONSUMED)
			return conn_input(c, &sg);
		return v;
	}
	if (sg.flags & TCP_SYN) {
		ts->stats.segs_rx++;
		return listen_syn(ts, l, &sg, out, len);
	}
	return net_drop(s, &s->stats.rx_tcp_bad_flags);
}
