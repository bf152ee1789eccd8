/* TCP output: segments and their options, the send queue, retransmission (RFC 6298, 5681, 6582). */
#include "tcp_priv.h"

#define OUTPUT_BURST 64 /* segments one tcp_output call sends at most */

/* What a segment carries besides its payload. */
struct tcp_tx {
	const uint8_t *mac;
	uint32_t raddr; /* host order */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	const uint8_t *opt;
	size_t optlen;
	size_t plen; /* payload bytes, already at frame + ETH + IP + TCP + optlen */
};

/*
 * Write the Ethernet, IPv4 and TCP headers (options copied, checksum over
 * the pseudo-header, header and payload: RFC 9293 §3.1; or with partial
 * the pseudo-header sum alone, for the device) in front of t's payload.
 * Returns the frame length.
 */
static size_t tcp_build(struct net_stack *s, uint8_t *frame, size_t cap, const struct tcp_tx *t,
			bool partial)
{
	struct ip_hdr *ip = (struct ip_hdr *)(frame + ETH_HLEN);
	struct tcp_hdr *th = (struct tcp_hdr *)(frame + ETH_HLEN + IP_HLEN);
	size_t hlen = TCP_HLEN + t->optlen, seglen = hlen + t->plen;
	uint32_t dst_be = net_htonl(t->raddr);
	uint64_t sum;

	th->sport = net_htons(t->sport);
	th->dport = net_htons(t->dport);
	th->seq = net_htonl(t->seq);
	th->ack = net_htonl(t->ack);
	th->off = (uint8_t)(hlen / 4 << 4);
	th->flags = t->flags;
	th->win = net_htons(t->win);
	th->csum = 0;
	th->urg = 0;
	if (t->optlen)
		memcpy((uint8_t *)th + TCP_HLEN, t->opt, t->optlen);
	sum = ip_pseudo_be(net_htonl(s->cfg.ip), dst_be, IP_PROTO_TCP, (uint16_t)seglen);
	/* partial: the device adds the segment to the pseudo-header sum and stores it. */
	if (partial)
		th->csum = (uint16_t)~net_csum_fold(sum);
	else
		th->csum = net_csum_fold(net_csum_partial(th, seglen, sum));
	ip_fill(s, ip, dst_be, IP_PROTO_TCP, (uint16_t)(IP_HLEN + seglen));
	eth_fill((struct eth_hdr *)frame, t->mac, s->cfg.mac, ETH_TYPE_IPV4);
	return eth_pad(frame, ETH_HLEN + IP_HLEN + seglen, cap);
}

/*
 * Options of a SYN or SYN-ACK (RFC 9293 §3.7.1, RFC 7323 §2.2 and §3.2,
 * RFC 2018 §2), 4-byte aligned.
 */
static size_t syn_options(uint8_t *o, uint16_t mss, bool ws, uint8_t shift, bool sack, bool ts,
			  uint32_t tsval, uint32_t tsecr)
{
	size_t n = 0;

	o[n++] = TCPOPT_MSS;
	o[n++] = TCPOLEN_MSS;
	o[n++] = (uint8_t)(mss >> 8);
	o[n++] = (uint8_t)mss;
	if (ws) {
		o[n++] = TCPOPT_NOP;
		o[n++] = TCPOPT_WSCALE;
		o[n++] = TCPOLEN_WSCALE;
		o[n++] = shift;
	}
	if (sack) {
		o[n++] = TCPOPT_SACK_PERM;
		o[n++] = 2;
		o[n++] = TCPOPT_NOP;
		o[n++] = TCPOPT_NOP;
	}
	if (ts) {
		uint32_t v = net_htonl(tsval), e = net_htonl(tsecr);

		o[n++] = TCPOPT_NOP;
		o[n++] = TCPOPT_NOP;
		o[n++] = TCPOPT_TS;
		o[n++] = TCPOLEN_TS;
		memcpy(o + n, &v, 4);
		memcpy(o + n + 4, &e, 4);
		n += 8;
	}
	return n;
}

/*
 * RFC 2018 §3-4: SACK blocks for what is held out of order, the block
 * holding the latest arrival first, then the others from the highest down;
 * as many as fit in room bytes. Returns the option's length (0: none).
 */
static size_t sack_option(const struct tcp_conn *c, uint8_t *o, size_t room)
{
	uint32_t start[8], end[8];
	unsigned int nb = 0, first = 0, maxb, k;
	const struct tcp_rxb *b;
	size_t n;

	if (!(c->flags & TCPF_SACK) || !c->ooo || room < 12)
		return 0;
	maxb = (unsigned int)((room - 4) / 8);
	/* The held segments merged into blocks, lowest first; the highest 8 kept. */
	for (b = c->ooo; b; b = b->next) {
		if (nb && b->seq == end[nb - 1]) {
			end[nb - 1] += b->len;
			continue;
		}
		if (nb == 8) {
			memmove(start, start + 1, 7 * sizeof(start[0]));
			memmove(end, end + 1, 7 * sizeof(end[0]));
			nb--;
		}
		start[nb] = b->seq;
		end[nb] = b->seq + b->len;
		nb++;
	}
	for (k = 0; k < nb; k++) {
		if (seq_leq(start[k], c->sack_last) && seq_lt(c->sack_last, end[k]))
			first = k;
	}
	o[0] = TCPOPT_NOP;
	o[1] = TCPOPT_NOP;
	o[2] = TCPOPT_SACK;
	n = 4;
	for (k = 0; k < nb && k < maxb; k++) {
		/* The latest first, then the rest from the top down. */
		unsigned int i = k == 0 ? first : nb - k - (nb - k <= first ? 1 : 0);
		uint32_t l = net_htonl(start[i]), r = net_htonl(end[i]);

		memcpy(o + n, &l, 4);
		memcpy(o + n + 4, &r, 4);
		n += 8;
	}
	o[3] = (uint8_t)(n - 2);
	return n;
}

static size_t ts_option(uint8_t *o, uint32_t tsval, uint32_t tsecr)
{
	uint32_t v = net_htonl(tsval), e = net_htonl(tsecr);

	o[0] = TCPOPT_NOP;
	o[1] = TCPOPT_NOP;
	o[2] = TCPOPT_TS;
	o[3] = TCPOLEN_TS;
	memcpy(o + 4, &v, 4);
	memcpy(o + 8, &e, 4);
	return TCP_TS_OPTLEN;
}

/* ---------------------------------------------------------------- windows */

void tcp_init_cc(struct tcp_conn *c)
{
	/* RFC 6928: IW = min(10 * MSS, max(2 * MSS, 14600)); ssthresh arbitrarily high. */
	c->cwnd = min_u32(TCP_IW_SEGS * c->mss, max_u32(2u * c->mss, 14600));
	c->ssthresh = 0x7fffffff;
	c->acked_ca = 0;
}

/*
 * The window to advertise, in bytes, and rcv_adv its right edge. The edge
 * never moves left (RFC 9293 §3.8.6.2.2 "shrinking the window") and moves
 * right only by at least min(half the buffer, one MSS) (receiver-side silly
 * window avoidance), or to the full buffer.
 */
uint32_t tcp_rcv_window(struct tcp_conn *c)
{
	uint32_t buf = c->ts->cfg.rcvbuf;
	uint32_t space = buf > c->rq_len ? buf - c->rq_len : 0;
	uint32_t right = c->rcv_nxt + space, shift = c->rcv_wscale, win;

	if (seq_lt(right, c->rcv_adv)) {
		right = c->rcv_adv;
	} else if (seq_gt(right, c->rcv_adv) &&
		   ((right - c->rcv_adv < min_u32(buf / 2, c->mss) && space != buf) || c->ooo)) {
		/*
		 * Small steps wait; and while a hole is open the edge stays put,
		 * so our ACKs stay duplicates by RFC 5681 §2's definition (an
		 * unchanged window) and the sender can count them.
		 */
		right = c->rcv_adv;
	}
	win = right - c->rcv_nxt;
	/* Scaled, rounded up so the edge cannot fall short of one advertised before. */
	if (win > (65535u << shift))
		win = 65535u << shift;
	win = ((win + (1u << shift) - 1) >> shift) << shift;
	c->rcv_adv = c->rcv_nxt + win;
	return win;
}

/* ---------------------------------------------------------------- the send queue */

/* Copy len bytes from data offset off (from snd_una) of the send queue to dst. */
static void sq_copy(const struct tcp_conn *c, uint32_t off, uint8_t *dst, uint32_t len)
{
	const struct tcp_chunk *k = c->sq_head;

	off += c->sq_off;
	while (off >= k->len) {
		off -= k->len;
		k = k->next;
	}
	while (len) {
		uint32_t n = min_u32(k->len - off, len);

		memcpy(dst, k->data + off, n);
		dst += n;
		len -= n;
		off = 0;
		k = k->next;
	}
}

/* n acknowledged data bytes leave the queue; room may wake a writer. */
void tcp_sq_drop(struct tcp_conn *c, uint32_t n)
{
	struct tcp_stack *ts = c->ts;

	if (n > c->sq_len)
		n = c->sq_len;
	c->sq_len -= n;
	ts->stats.snd_bytes -= n;
	c->sq_off += n;
	while (c->sq_head && (c->sq_off >= c->sq_head->len)) {
		struct tcp_chunk *k = c->sq_head;

		/* The tail chunk stays while it has room for more, unless it is all sent. */
		if (k == c->sq_tail && c->sq_off < k->len)
			break;
		c->sq_off -= k->len;
		c->sq_head = k->next;
		if (!c->sq_head)
			c->sq_tail = NULL;
		free(k);
		ts->stats.snd_chunks--;
	}
	if (!c->sq_head)
		c->sq_off = 0;
	if ((c->flags & TCPF_WANT_WRITE) && tcp_sendable(c) >= ts->cfg.sndbuf / 4) {
		c->flags &= ~TCPF_WANT_WRITE;
		tcp_ev(c, TCP_EV_WRITE);
	}
}

/* ---------------------------------------------------------------- segments of a connection */

/* The next hop's MAC for c; false (and an ARP request out) when unknown yet. */
static bool conn_mac(struct tcp_conn *c, uint64_t now)
{
	struct net_stack *s = c->ts->s;
	const struct net_io *io = s->io;
	uint32_t hop, buf;
	size_t cap;
	uint8_t *f;
	int n;

	if (c->mac_ok)
		return true;
	if (!net_next_hop(s, c->raddr, &hop))
		return false;
	if (arp_lookup(s, hop, c->mac, now)) {
		c->mac_ok = true;
		return true;
	}
	f = io->alloc(io->ctx, &buf, &cap);
	if (!f)
		return false;
	n = arp_build_request(s, f, cap, c->raddr);
	if (n < 0 || io->xmit(io->ctx, buf, (size_t)n))
		return false;
	return false;
}

/*
 * Send one segment of c: sequence seq, flags, len payload bytes from data
 * offset doff of the send queue. Every segment but a SYN carries the ACK
 * of rcv_nxt and our window. 0, or -ENOSPC (no buffer, no room) or
 * -EHOSTUNREACH (waiting for ARP).
 */
static int emit(struct tcp_conn *c, uint32_t seq, uint8_t flags, uint32_t doff, uint32_t len,
		uint64_t now)
{
	struct tcp_stack *ts = c->ts;
	struct net_stack *s = ts->s;
	const struct net_io *io = s->io;
	uint8_t opt[TCP_OPT_MAX];
	struct tcp_tx t = {
	    .mac = c->mac,
	    .raddr = c->raddr,
	    .sport = c->lport,
	    .dport = c->rport,
	    .seq = seq,
	    .flags = flags,
	    .opt = opt,
	    .plen = len,
	};
	uint32_t buf, win;
	size_t cap, n;
	uint8_t *f;

	if (!io)
		return -ENOSPC;
	if (!conn_mac(c, now))
		return -EHOSTUNREACH;
	if (flags & TCP_SYN) {
		/* RFC 7323 §2.2: a SYN's window is never scaled. */
		bool ws = c->state == TCP_SYN_SENT || (c->flags & TCPF_WS);
		bool tsopt = c->state == TCP_SYN_SENT || (c->flags & TCPF_TS);

		t.optlen = syn_options(opt, TCP_MSS_OURS, ws, c->rcv_wscale,
				       c->state == TCP_SYN_SENT || (c->flags & TCPF_SACK), tsopt,
				       tcp_ts_now(c, now), c->ts_recent);
		win = min_u32(ts->cfg.rcvbuf, 65535);
		if (flags & TCP_ACK)
			c->rcv_adv = c->rcv_nxt + win;
		t.win = (uint16_t)win;
	} else {
		if (c->flags & TCPF_TS)
			t.optlen = ts_option(opt, tcp_ts_now(c, now), c->ts_recent);
		/* SACK blocks ride on pure ACKs only: data segments keep their full size. */
		if (!len && (flags & TCP_ACK) && !(flags & (TCP_RST | TCP_FIN)))
			t.optlen += sack_option(c, opt + t.optlen, TCP_OPT_MAX - t.optlen);
		t.win = (uint16_t)(tcp_rcv_window(c) >> c->rcv_wscale);
	}
	if (flags & TCP_ACK)
		t.ack = c->rcv_nxt;
	f = io->alloc(io->ctx, &buf, &cap);
	if (!f)
		return -ENOSPC;
	if (cap < ETH_HLEN + IP_HLEN + TCP_HLEN + t.optlen + len) {
		io->release(io->ctx, buf);
		return -ENOSPC;
	}
	if (len)
		sq_copy(c, doff, f + ETH_HLEN + IP_HLEN + TCP_HLEN + t.optlen, len);
	n = tcp_build(s, f, cap, &t, io->xmit_csum != NULL);
	net_tx_count(s, n);
	if (io->xmit_csum ? io->xmit_csum(io->ctx, buf, n, TCP_CSUM_OFFSET)
			  : io->xmit(io->ctx, buf, n))
		return -ENOSPC;
	ts->stats.segs_tx++;
	ts->stats.bytes_tx += len;
	if (flags & TCP_ACK) {
		/* This ACK covers what was pending (RFC 1122 §4.2.3.2). */
		c->flags &= ~TCPF_ACK_NOW;
		c->t_delack = 0;
		c->unacked = 0;
		c->last_ack_sent = c->rcv_nxt;
	}
	return 0;
}

void tcp_arm_rexmt(struct tcp_conn *c, uint64_t now)
{
	c->t_rexmt = now + c->rto;
	c->flags &= ~TCPF_PERSIST;
}

/* Our FIN got its sequence number: the state moves on (RFC 9293 §3.10.4 CLOSE). */
static void fin_sent(struct tcp_conn *c)
{
	c->flags |= TCPF_FIN_SENT;
	if (c->state == TCP_ESTABLISHED)
		tcp_set_state(c, TCP_FIN_WAIT_1);
	else if (c->state == TCP_CLOSE_WAIT)
		tcp_set_state(c, TCP_LAST_ACK);
}

/* The SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED), first or again. */
static void send_syn(struct tcp_conn *c, uint64_t now)
{
	uint8_t flags = c->state == TCP_SYN_SENT ? TCP_SYN : TCP_SYN | TCP_ACK;

	if (c->snd_nxt != c->iss)
		return;
	if (emit(c, c->iss, flags, 0, 0, now)) {
		/* No buffer or no ARP answer yet: try again soon, not a back-off later. */
		if (!c->t_rexmt)
			c->t_rexmt =
			    now + (c->ts->cfg.rto_min_ns < 100000000ull ? c->ts->cfg.rto_min_ns
									: 100000000ull);
		return;
	}
	if (c->snd_max == c->iss && !(c->flags & TCPF_RTT)) {
		c->flags |= TCPF_RTT;
		c->rtt_seq = c->iss;
		c->rtt_start = now;
	}
	c->snd_nxt = c->iss + 1;
	c->snd_max = seq_max(c->snd_max, c->snd_nxt);
	if (!c->t_rexmt)
		tcp_arm_rexmt(c, now);
}

/*
 * Send what c may: new or retransmitted data from snd_nxt within the
 * congestion and peer's windows, with the sender's silly window avoidance
 * and Nagle's algorithm (RFC 9293 §3.8.6.2.1, §3.7.4), then the FIN, then a
 * pure ACK if one is due and nothing carried it. force: send one segment
 * even if the windows are closed (a retransmission after a timeout).
 */
static void output(struct tcp_conn *c, uint64_t now, bool force)
{
	bool sent = false;
	int n, err;

	if (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RECEIVED) {
		send_syn(c, now);
		if (!(c->flags & TCPF_ACK_NOW) || c->state == TCP_SYN_SENT) {
			tcp_timer_update(c);
			return;
		}
	}
	for (n = 0; n < OUTPUT_BURST && c->state >= TCP_ESTABLISHED; n++) {
		uint32_t off = c->snd_nxt - c->snd_una, unsent, len, win, usable;
		bool fin;

		if (off > c->sq_len)
			break; /* the FIN is out too */
		unsent = c->sq_len - off;
		win = min_u32(c->snd_wnd, c->cwnd + c->lt_segs * (uint32_t)c->mss);
		usable = seq_gt(c->snd_una + win, c->snd_nxt) ? c->snd_una + win - c->snd_nxt : 0;
		if (force && !usable)
			usable = c->mss;
		len = min_u32(min_u32(unsent, c->mss), usable);
		fin = fin_state(c) && len == unsent;
		if (!len && !fin)
			break;
		if (len < c->mss && !fin && !force) {
			if (len < unsent) {
				/* Window-limited: only a large enough piece (SWS avoidance). */
				if (len < c->max_snd_wnd / 2)
					break;
			} else if (!(c->flags & TCPF_NODELAY) && c->snd_nxt != c->snd_una) {
				break; /* Nagle: small data waits while data is unacknowledged */
			}
		}
		err = emit(c, c->snd_nxt,
			   TCP_ACK | (len && len == unsent ? TCP_PSH : 0) | (fin ? TCP_FIN : 0),
			   off, len, now);
		if (err) {
			/* No buffer or transmit room now: again at the next flush. */
			if (err == -ENOSPC)
				tcp_want_output(c);
			break;
		}
		if (seq_lt(c->snd_nxt, c->snd_max))
			c->ts->stats.retransmits++;
		else if (len && !(c->flags & (TCPF_TS | TCPF_RTT))) {
			/* Time one segment at a time (no timestamps; Karn's rule on
			 * retransmission). */
			c->flags |= TCPF_RTT;
			c->rtt_seq = c->snd_nxt;
			c->rtt_start = now;
		}
		c->snd_nxt += len + fin;
		c->snd_max = seq_max(c->snd_max, c->snd_nxt);
		if (fin && !(c->flags & TCPF_FIN_SENT))
			fin_sent(c);
		if (!c->t_rexmt || (c->flags & TCPF_PERSIST))
			tcp_arm_rexmt(c, now);
		sent = true;
		force = false;
		if (fin)
			break;
	}
	/*
	 * Data waits behind a zero window with nothing in flight: probe it
	 * (RFC 9293 §3.8.6.1) when the persist timer runs out.
	 */
	if (c->state >= TCP_ESTABLISHED && c->snd_wnd == 0 && c->snd_max == c->snd_una &&
	    c->sq_len > 0 && !c->t_rexmt) {
		c->flags |= TCPF_PERSIST;
		c->t_rexmt = now + c->rto;
	}
	if ((c->flags & TCPF_ACK_NOW) && !sent) {
		tcp_send_ack(c, now);
		if (c->flags & TCPF_ACK_NOW)
			tcp_want_output(c); /* no buffer: the next flush */
	}
	tcp_timer_update(c);
}

void tcp_output(struct tcp_conn *c, uint64_t now)
{
	output(c, now, false);
}

void tcp_send_ack(struct tcp_conn *c, uint64_t now)
{
	switch (c->state) {
	case TCP_SYN_SENT:
	case TCP_CLOSED:
	case TCP_LISTEN:
		return;
	case TCP_SYN_RECEIVED:
		/* Its ACK is the SYN-ACK. */
		emit(c, c->iss, TCP_SYN | TCP_ACK, 0, 0, now);
		return;
	default:
		emit(c, c->snd_nxt, TCP_ACK, 0, 0, now);
	}
}

/*
 * RFC 5961 §7: challenge ACKs, and ACKs answering unacceptable segments,
 * are limited per second for the whole stack, so spoofed segments cannot
 * turn it into an ACK cannon.
 */
void tcp_send_challenge_ack(struct tcp_conn *c, uint64_t now)
{
	struct tcp_stack *ts = c->ts;
	uint64_t sec = now / NS_PER_SEC;

	if (sec != ts->chal_sec) {
		ts->chal_sec = sec;
		ts->chal_used = 0;
	}
	if (ts->chal_used >= ts->cfg.challenge_acks) {
		ts->stats.challenge_limited++;
		return;
	}
	ts->chal_used++;
	ts->stats.challenge_acks++;
	tcp_send_ack(c, now);
}

/* ABORT (RFC 9293 §3.10.5): <SEQ=SND.NXT><CTL=RST>, with the ACK of what we have. */
void tcp_send_rst(struct tcp_conn *c, uint64_t now)
{
	if (!c->mac_ok)
		return;
	if (!emit(c, c->snd_nxt, TCP_RST | TCP_ACK, 0, 0, now))
		c->ts->stats.resets_tx++;
}

/* A bare control segment (a RST answering a bad ACK: <SEQ=SEG.ACK><CTL=RST>). */
void tcp_send_ctl(struct tcp_conn *c, uint32_t seq, uint8_t flags, uint64_t now)
{
	if (!emit(c, seq, flags, 0, 0, now) && (flags & TCP_RST))
		c->ts->stats.resets_tx++;
}

/* Retransmit the first unacknowledged segment (fast retransmit, partial ACK). */
void tcp_retransmit_head(struct tcp_conn *c, uint64_t now)
{
	uint32_t len = min_u32(c->sq_len, c->mss);
	bool fin = (c->flags & TCPF_FIN_SENT) && len == c->sq_len;

	if (!len && !fin)
		return;
	if (emit(c, c->snd_una, TCP_ACK | (fin ? TCP_FIN : 0), 0, len, now))
		return;
	c->rxt_mark = c->snd_max;
	c->ts->stats.retransmits++;
	/* Karn's rule: no RTT sample from a retransmitted segment. */
	c->flags &= ~TCPF_RTT;
}

/*
 * In recovery, with SACK: resend one segment of the lowest hole at or past
 * rxt_next below the highest SACKed byte. False if there is none.
 */
bool tcp_retransmit_hole(struct tcp_conn *c, uint64_t now)
{
	uint32_t hole = seq_max(c->rxt_next, c->snd_una), len;
	unsigned int i;

	if (!(c->flags & TCPF_RECOVERY) || !c->nsb)
		return false;
	for (i = 0; i < c->nsb; i++) {
		if (seq_lt(hole, c->sb[i][0]))
			break;
		if (seq_lt(hole, c->sb[i][1]))
			hole = c->sb[i][1];
	}
	if (i == c->nsb)
		return false; /* nothing SACKed above it: not known lost */
	len = min_u32(c->sb[i][0] - hole, c->mss);
	if (hole - c->snd_una + len > c->sq_len)
		return false;
	if (emit(c, hole, TCP_ACK, hole - c->snd_una, len, now))
		return false;
	c->ts->stats.retransmits++;
	c->ts->stats.sack_retransmits++;
	c->flags &= ~TCPF_RTT;
	c->rxt_next = hole + len;
	return true;
}

/* ---------------------------------------------------------------- replies without a connection */

/*
 * RFC 9293 §3.10.7.1: a segment for no connection gets a RST, built in its
 * own buffer: <SEQ=SEG.ACK><CTL=RST> if it had an ACK, else
 * <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. Never for a RST.
 */
int tcp_rst_reply(struct tcp_stack *ts, struct net_stack *s, struct tcp_seg *sg,
		  struct net_rx_result *out, size_t frame_len)
{
	uint8_t mac[ETH_ALEN];
	struct tcp_tx t = {
	    .mac = mac,
	    .raddr = sg->raddr,
	    .sport = sg->lport,
	    .dport = sg->rport,
	};
	size_t cap = s->io ? s->io->frame_cap : frame_len;

	if (sg->flags & TCP_RST)
		return net_drop(s, &s->stats.rx_tcp_no_port);
	if (cap < ETH_HLEN + IP_HLEN + TCP_HLEN)
		cap = frame_len;
	if (cap < ETH_HLEN + IP_HLEN + TCP_HLEN)
		return net_drop(s, &s->stats.rx_tcp_no_port);
	mac_copy(mac, ((const struct eth_hdr *)sg->frame)->src);
	if (sg->flags & TCP_ACK) {
		t.seq = sg->ack;
		t.flags = TCP_RST;
	} else {
		t.ack = sg->seq + sg->len + !!(sg->flags & TCP_SYN) + !!(sg->flags & TCP_FIN);
		t.flags = TCP_RST | TCP_ACK;
	}
	out->len = tcp_build(s, sg->frame, cap, &t, false);
	net_tx_count(s, out->len);
	if (ts)
		ts->stats.resets_tx++;
	return NET_RX_REPLY;
}

/*
 * The SYN-ACK of a SYN cookie (RFC 4987 §3.6), in the SYN's own buffer: no
 * state is kept. With timestamps the window scale the peer offered rides in
 * the low 4 bits of our TSval and SACK-permitted in the fifth (they come
 * back as TSecr in the ACK), as Linux does; without timestamps the
 * connection does without window scaling and SACK.
 */
int tcp_synack_cookie_reply(struct tcp_stack *ts, struct tcp_seg *sg, uint32_t isn,
			    struct net_rx_result *out, size_t frame_len)
{
	struct net_stack *s = ts->s;
	uint8_t mac[ETH_ALEN], opt[TCP_OPT_MAX];
	bool tsopt = sg->opt.ts_ok, ws = sg->opt.ws_ok && tsopt, sack = sg->opt.sack_ok && tsopt;
	uint32_t tsval = 0;
	struct tcp_tx t = {
	    .mac = mac,
	    .raddr = sg->raddr,
	    .sport = sg->lport,
	    .dport = sg->rport,
	    .seq = isn,
	    .ack = sg->seq + 1,
	    .flags = TCP_SYN | TCP_ACK,
	    .win = (uint16_t)min_u32(ts->cfg.rcvbuf, 65535),
	    .opt = opt,
	};
	size_t cap = s->io ? s->io->frame_cap : frame_len;

	if (cap < ETH_HLEN + IP_HLEN + TCP_HLEN + TCP_SYN_OPTLEN)
		return net_drop(s, &s->stats.rx_tcp_no_mem);
	if (tsopt) {
		uint32_t off = tcp_ts_offset(ts, sg->raddr, sg->rport, sg->lport);

		tsval = ((uint32_t)(sg->now / TCP_TS_NS) + off) & ~0x1fu;
		if (ws)
			tsval |= (uint32_t)min_u32(sg->opt.ws, TCP_WSCALE_MAX) + 1;
		if (sack)
			tsval |= 0x10;
	}
	t.optlen =
	    syn_options(opt, TCP_MSS_OURS, ws, ts->rcv_wscale, sack, tsopt, tsval, sg->opt.tsval);
	mac_copy(mac, ((const struct eth_hdr *)sg->frame)->src);
	out->len = tcp_build(s, sg->frame, cap, &t, false);
	net_tx_count(s, out->len);
	ts->stats.syncookies_tx++;
	ts->stats.segs_tx++;
	return NET_RX_REPLY;
}

/* ---------------------------------------------------------------- timers */

/* RFC 6298 §2.2-2.4: the estimators and RTO from one sample. */
void tcp_rtt_sample(struct tcp_conn *c, uint64_t r)
{
	const struct tcp_config *cfg = &c->ts->cfg;
	uint64_t var4;

	if (!c->srtt) {
		c->srtt = r ? r : 1;
		c->rttvar = r / 2;
	} else {
		uint64_t delta = c->srtt > r ? c->srtt - r : r - c->srtt;

		c->rttvar = (3 * c->rttvar + delta) / 4;
		c->srtt = (7 * c->srtt + r) / 8;
		if (!c->srtt)
			c->srtt = 1;
	}
	/* G, the clock granularity, is one wheel tick. */
	var4 = 4 * c->rttvar;
	if (var4 < (1ull << TCP_WHEEL_SHIFT))
		var4 = 1ull << TCP_WHEEL_SHIFT;
	c->rto = c->srtt + var4;
	if (c->rto < cfg->rto_min_ns)
		c->rto = cfg->rto_min_ns;
	if (c->rto > cfg->rto_max_ns)
		c->rto = cfg->rto_max_ns;
}

/* Give up on c: RST if synchronized, then the end with -ETIMEDOUT. False if c is gone. */
static bool give_up(struct tcp_conn *c, uint64_t now)
{
	bool keep = c->flags & TCPF_APP;

	if (c->state == TCP_SYN_RECEIVED && !keep) {
		c->ts->stats.syn_backlog_drops++;
		tcp_conn_destroy(c);
		return false;
	}
	if (c->state != TCP_SYN_SENT)
		tcp_send_rst(c, now);
	c->ts->stats.timeouts++;
	tcp_closed(c, -ETIMEDOUT);
	return keep;
}

/*
 * The retransmission timer ran out (RFC 6298 §5.4-5.6): back off, and
 * resend from the first unacknowledged byte with a window of one segment
 * (RFC 5681 §3.1, RFC 6582 §4); or probe a zero window. False if c is gone.
 */
bool tcp_rto_expired(struct tcp_conn *c, uint64_t now)
{
	const struct tcp_config *cfg = &c->ts->cfg;
	uint32_t limit = 0;

	if (c->flags & TCPF_PERSIST) {
		/* A window probe: an old sequence number, no data, answered by an ACK (as Linux).
		 */
		c->flags &= ~TCPF_PERSIST;
		if (now - c->last_progress > cfg->user_timeout_ns)
			return give_up(c, now);
		if (c->snd_wnd == 0 && c->sq_len && c->snd_max == c->snd_una) {
			emit(c, c->snd_una - 1, TCP_ACK, 0, 0, now);
			c->ts->stats.window_probes++;
			if (c->retries < 16)
				c->retries++;
			c->t_rexmt = now + min_u64(c->rto << c->retries, cfg->rto_max_ns);
			c->flags |= TCPF_PERSIST;
			return true;
		}
		tcp_output(c, now);
		return true;
	}
	if (c->state == TCP_SYN_SENT)
		limit = cfg->syn_retries;
	else if (c->state == TCP_SYN_RECEIVED)
		limit = cfg->synack_retries;
	if (!c->mac_ok && c->state == TCP_SYN_SENT) {
		/* Still asking for the next hop's address: no back-off, the user timeout bounds it.
		 */
		if (now - c->last_progress > cfg->user_timeout_ns)
			return give_up(c, now);
		tcp_output(c, now);
		return true;
	}
	if ((limit && c->retries >= limit) || now - c->last_progress > cfg->user_timeout_ns)
		return give_up(c, now);
	c->retries++;
	c->ts->stats.rto_expiries++;
	c->rto = min_u64(c->rto * 2, cfg->rto_max_ns);
	c->flags &= ~TCPF_RTT;
	if (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RECEIVED) {
		c->snd_nxt = c->iss;
		c->ts->stats.retransmits++;
		send_syn(c, now);
		tcp_timer_update(c);
		return true;
	}
	/* RFC 5681 §3.1 eq. (4); the loss window is one segment. */
	c->ssthresh = max_u32(tcp_flight(c) / 2, 2u * c->mss);
	c->cwnd = c->mss;
	c->acked_ca = 0;
	c->recover = c->snd_max;
	c->dupacks = 0;
	c->lt_segs = 0;
	c->nsb = 0; /* RFC 2018 §8: the peer may renege; start from snd_una */
	c->flags &= ~(TCPF_RECOVERY | TCPF_PARTIAL);
	c->snd_nxt = c->snd_una;
	c->t_rexmt = 0;
	output(c, now, true);
	if (!c->t_rexmt && c->snd_max != c->snd_una)
		tcp_arm_rexmt(c, now);
	tcp_timer_update(c);
	return true;
}
