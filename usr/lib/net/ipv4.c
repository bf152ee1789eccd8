/* IPv4 (RFC 791): routing to the next hop, reassembly of fragments, fragmentation on output. */
#include "ipv4.h"

#define REASM_MIN_ALLOC 8192 /* a first buffer when the datagram's end is unknown yet */

bool net_next_hop(const struct net_stack *s, uint32_t dst, uint32_t *hop)
{
	uint32_t mask = s->cfg.netmask;

	if (dst == 0 || s->cfg.ip == 0)
		return false;
	if ((dst & mask) == (s->cfg.ip & mask)) {
		*hop = dst;
		return true;
	}
	if (s->cfg.gateway == 0)
		return false;
	*hop = s->cfg.gateway;
	return true;
}

/* ---------------------------------------------------------------- reassembly */

static void reasm_free_data(struct net_stack *s, struct net_reasm *r)
{
	free(r->data);
	s->stats.reasm_bytes -= r->cap;
	r->data = NULL;
	r->cap = 0;
}

void ipv4_reasm_free(struct net_stack *s, struct net_reasm *r)
{
	reasm_free_data(s, r);
	r->state = NET_REASM_FREE;
}

void net_reasm_release(struct net_stack *s, unsigned int slot)
{
	if (slot < NET_REASM_SLOTS && s->reasm[slot].state == NET_REASM_HELD)
		ipv4_reasm_free(s, &s->reasm[slot]);
}

/* A slot that expires (building or abandoned) counts for the timer. */
static bool reasm_expires(const struct net_reasm *r)
{
	return r->state == NET_REASM_BUILDING || r->state == NET_REASM_DEAD;
}

void ipv4_reasm_timers(struct net_stack *s, uint64_t now_ns)
{
	uint64_t next = 0;

	if (!s->reasm_next_ns || now_ns < s->reasm_next_ns)
		return;
	for (int i = 0; i < NET_REASM_SLOTS; i++) {
		struct net_reasm *r = &s->reasm[i];

		if (!reasm_expires(r))
			continue;
		if (r->expires_ns <= now_ns) {
			if (r->state == NET_REASM_BUILDING)
				s->stats.reasm_timeout++;
			ipv4_reasm_free(s, r);
		} else if (!next || r->expires_ns < next) {
			next = r->expires_ns;
		}
	}
	s->reasm_next_ns = next;
}

void ipv4_reasm_fini(struct net_stack *s)
{
	for (int i = 0; i < NET_REASM_SLOTS; i++) {
		if (s->reasm[i].state != NET_REASM_FREE)
			ipv4_reasm_free(s, &s->reasm[i]);
	}
	s->reasm_next_ns = 0;
}

static bool reasm_match(const struct net_reasm *r, const struct ip_hdr *ip)
{
	return reasm_expires(r) && r->id == ip->id && r->src_be == ip->src &&
	       r->dst_be == ip->dst && r->proto == ip->proto;
}

/*
 * A slot for a new datagram: a free one, else the one under reassembly or
 * abandoned that expires first (the oldest), which is given up. NULL when
 * the application holds every slot.
 */
static struct net_reasm *reasm_new(struct net_stack *s, const struct ip_hdr *ip, uint64_t now_ns)
{
	struct net_reasm *r = NULL;

	for (int i = 0; i < NET_REASM_SLOTS; i++) {
		struct net_reasm *c = &s->reasm[i];

		if (c->state == NET_REASM_FREE) {
			r = c;
			break;
		}
		if (reasm_expires(c) && (!r || c->expires_ns < r->expires_ns))
			r = c;
	}
	if (!r)
		return NULL;
	if (r->state == NET_REASM_BUILDING)
		s->stats.reasm_evicted++;
	if (r->state != NET_REASM_FREE)
		ipv4_reasm_free(s, r);
	memset(r, 0, offsetof(struct net_reasm, frags));
	r->state = NET_REASM_BUILDING;
	r->proto = ip->proto;
	r->id = ip->id;
	r->src_be = ip->src;
	r->dst_be = ip->dst;
	r->expires_ns = now_ns + NET_REASM_TIMEOUT_NS;
	if (!s->reasm_next_ns || r->expires_ns < s->reasm_next_ns)
		s->reasm_next_ns = r->expires_ns;
	return r;
}

/*
 * Give up r for a bad fragment (counted under reason): its buffer goes,
 * the slot stays until it expires so the datagram's later fragments are
 * dropped too (RFC 5722 §4: "and any constituent fragments, including those
 * not yet received").
 */
static struct net_reasm *reasm_kill(struct net_stack *s, struct net_reasm *r, uint64_t *reason,
				    int *verdict)
{
	reasm_free_data(s, r);
	r->state = NET_REASM_DEAD;
	s->stats.reasm_killed++;
	*verdict = net_drop(s, reason);
	return NULL;
}

/* Room for end bytes at r->data within NET_REASM_MEM; false if there is none. */
static bool reasm_grow(struct net_stack *s, struct net_reasm *r, uint32_t end, bool last)
{
	uint32_t want = end;
	uint8_t *p;

	if (end <= r->cap)
		return true;
	/* Until the end is known, grow by doubling so a datagram copies little. */
	if (!last && !r->total) {
		want = r->cap * 2 > REASM_MIN_ALLOC ? r->cap * 2 : REASM_MIN_ALLOC;
		if (want > NET_IP_MAX_PAYLOAD)
			want = NET_IP_MAX_PAYLOAD;
		if (want < end)
			want = end;
	} else if (r->total) {
		want = r->total;
	}
	if (s->stats.reasm_bytes - r->cap + want > NET_REASM_MEM)
		return false;
	p = realloc(r->data, want);
	if (!p)
		return false;
	s->stats.reasm_bytes += want - r->cap;
	r->data = p;
	r->cap = want;
	return true;
}

struct net_reasm *ipv4_reasm(struct net_stack *s, const uint8_t *frame, size_t hlen, size_t tot_len,
			     uint64_t now_ns, int *verdict)
{
	const struct eth_hdr *eth = (const struct eth_hdr *)frame;
	const struct ip_hdr *ip = (const struct ip_hdr *)(frame + ETH_HLEN);
	uint16_t frag = net_ntohs(ip->frag);
	uint32_t start = (uint32_t)(frag & IP_OFFSET_MASK) * 8;
	uint32_t len = (uint32_t)(tot_len - hlen), end = start + len;
	bool last = !(frag & IP_FLAG_MF);
	struct net_reasm *r = NULL;
	int i;

	if (ip->proto != IP_PROTO_UDP) {
		*verdict = net_drop(s, &s->stats.rx_ip_fragment);
		return NULL;
	}
	ipv4_reasm_timers(s, now_ns);
	for (i = 0; i < NET_REASM_SLOTS && !r; i++) {
		if (reasm_match(&s->reasm[i], ip))
			r = &s->reasm[i];
	}
	if (r && r->state == NET_REASM_DEAD) {
		*verdict = net_drop(s, &s->stats.rx_frag_abandoned);
		return NULL;
	}
	/*
	 * RFC 791 §3.2: every fragment but the last carries a multiple of 8
	 * bytes; none may reach past the largest datagram (the "ping of death").
	 */
	if (len == 0 || end > NET_IP_MAX_PAYLOAD || (!last && (len & 7))) {
		if (r)
			return reasm_kill(s, r, &s->stats.rx_frag_bad, verdict);
		*verdict = net_drop(s, &s->stats.rx_frag_bad);
		return NULL;
	}
	if (!r) {
		r = reasm_new(s, ip, now_ns);
		if (!r) {
			*verdict = net_drop(s, &s->stats.rx_frag_no_mem);
			return NULL;
		}
	}
	/* The end is fixed by the last fragment: nothing may pass it, nor move it. */
	if ((r->total && (end > r->total || (last && end != r->total))))
		return reasm_kill(s, r, &s->stats.rx_frag_bad, verdict);
	for (i = 0; i < r->nfrags; i++) {
		uint32_t fs = r->frags[i].start, fe = r->frags[i].end;

		if (last && fe > end)
			return reasm_kill(s, r, &s->stats.rx_frag_bad, verdict);
		if (start >= fe || fs >= end)
			continue;
		/* A copy of one we hold is a duplicate frame, not an attack. */
		if (fs == start && fe == end) {
			*verdict = net_drop(s, &s->stats.rx_frag_dup);
			return NULL;
		}
		return reasm_kill(s, r, &s->stats.rx_frag_overlap, verdict);
	}
	if (r->nfrags == NET_REASM_FRAGS)
		return reasm_kill(s, r, &s->stats.rx_frag_too_many, verdict);
	if (last)
		r->total = end;
	if (!reasm_grow(s, r, end, last))
		return reasm_kill(s, r, &s->stats.rx_frag_no_mem, verdict);

	memcpy(r->data + start, frame + ETH_HLEN + hlen, len);
	r->frags[r->nfrags].start = (uint16_t)start;
	r->frags[r->nfrags].end = (uint16_t)end;
	r->nfrags++;
	r->have += len;
	mac_copy(r->mac, eth->src);
	s->stats.rx_frags++;
	/* No overlaps: the datagram is whole when the bytes held add up to its end. */
	if (r->total && r->have == r->total) {
		s->stats.reasm_ok++;
		return r;
	}
	*verdict = NET_RX_CONSUMED;
	return NULL;
}

/* ---------------------------------------------------------------- fragmentation */

/* Copy bytes [off, off + n) of the concatenation a[0..alen) b[...] to dst. */
static void copy_span(uint8_t *dst, const uint8_t *a, size_t alen, const uint8_t *b, size_t off,
		      size_t n)
{
	if (off < alen) {
		size_t k = alen - off < n ? alen - off : n;

		memcpy(dst, a + off, k);
		dst += k;
		off += k;
		n -= k;
	}
	if (n)
		memcpy(dst, b + (off - alen), n);
}

int ipv4_send(struct net_stack *s, const uint8_t *mac, uint32_t dst_be, uint8_t proto,
	      const void *hdr, size_t hlen, const void *data, size_t len)
{
	const struct net_io *io = s->io;
	size_t total = hlen + len, off = 0, n, cap, flen;
	bool whole = total <= NET_MTU - IP_HLEN;
	uint16_t id_be, frag;
	uint8_t *frame;
	uint32_t buf;

	if (total > NET_IP_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (!io)
		return -ENOSYS;
	id_be = net_htons(s->ip_id++);
	do {
		n = total - off > NET_FRAG_PAYLOAD ? NET_FRAG_PAYLOAD : total - off;
		frame = io->alloc(io->ctx, &buf, &cap);
		if (!frame)
			goto fail;
		if (cap < ETH_HLEN + IP_HLEN + n) {
			io->release(io->ctx, buf);
			goto fail;
		}
		copy_span(frame + ETH_HLEN + IP_HLEN, hdr, hlen, data, off, n);
		/* Offsets in 8-byte units; More Fragments on all but the last. */
		if (whole)
			frag = IP_FLAG_DF;
		else
			frag = (uint16_t)(off / 8) | (off + n < total ? IP_FLAG_MF : 0);
		ip_fill_frag(s, (struct ip_hdr *)(frame + ETH_HLEN), dst_be, proto,
			     (uint16_t)(IP_HLEN + n), id_be, net_htons(frag));
		eth_fill((struct eth_hdr *)frame, mac, s->cfg.mac, ETH_TYPE_IPV4);
		flen = eth_pad(frame, ETH_HLEN + IP_HLEN + n, cap);
		net_tx_count(s, flen);
		if (!whole)
			s->stats.tx_frags++;
		if (io->xmit(io->ctx, buf, flen))
			goto fail;
		off += n;
	} while (off < total);
	return 0;
fail:
	s->stats.tx_frag_errors++;
	return -ENOSPC;
}
