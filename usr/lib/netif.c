/* netif: UDP endpoints on a kernel-bypass queue pair: demux, zero-copy replies, batched TX. */
#ifdef HOST_TEST
#include <string.h>
#else
#include <lib/string.h>
#include <mc/sys.h>
#endif
#include <mc/event.h>
#include <mc/runtime.h>
#include <uapi/errno.h>
#include <uapi/syscall.h>

#include "netif.h"

#define NETIF_RETRY_NS 1000000ull /* sleep at most this long with TCP output blocked */

#ifdef HOST_TEST
/* Host unit tests stand in for the kernel and the TSC. */
long sys_wait(uint64_t timeout_ns);
uint64_t netif_host_tsc(void);

static inline uint64_t tsc_read(void)
{
	return netif_host_tsc();
}
#else
static inline uint64_t tsc_read(void)
{
	return __builtin_ia32_rdtsc();
}
#endif

#define CALIBRATE_NS  (10 * 1000000ull) /* TSC against the kernel clock at open */
#define DRAIN_STEP_NS (1 * 1000000ull)

/*
 * The TSC, scaled by a factor measured against CLOCK_MONOTONIC: mc_now_ns is
 * a system call, and a kernel entry costs tens of microseconds under the
 * hypervisors this runs on. Other events may cut the sleep short, so sleep
 * until the interval has really passed. Without a usable clock mult stays 0
 * and the clock stands still (netif_wait then polls and never times out).
 */
static void clock_calibrate(struct netif *nif)
{
	uint64_t t0 = mc_now_ns(), c0 = tsc_read(), t1 = t0, c1;
	uint64_t hz = mc_getauxval(AT_MC_TSC_HZ);
	int tries = 100;

	if (!t0)
		return;
	if (hz) { /* the kernel measured it already: no need to sleep */
		nif->clock.tsc0 = c0;
		nif->clock.ns0 = t0;
		nif->clock.mult = (uint64_t)((1000000000ULL << 32) / hz);
		return;
	}
	while (t1 - t0 < CALIBRATE_NS && tries--) {
		sys_wait(CALIBRATE_NS - (t1 - t0));
		t1 = mc_now_ns();
	}
	c1 = tsc_read();
	nif->clock.tsc0 = c1;
	nif->clock.ns0 = t1;
	if (c1 <= c0 || t1 <= t0)
		return;
	nif->clock.mult = (uint64_t)(((unsigned __int128)(t1 - t0) << 32) / (c1 - c0));
}

static inline uint64_t clock_ns(const struct netif *nif, uint64_t tsc)
{
	uint64_t ticks = tsc - nif->clock.tsc0;

	return nif->clock.ns0 + (uint64_t)(((unsigned __int128)ticks * nif->clock.mult) >> 32);
}

uint64_t netif_now_ns(const struct netif *nif)
{
	return clock_ns(nif, tsc_read());
}

static uint8_t *io_alloc(void *ctx, uint32_t *buf, size_t *cap);
static int io_xmit(void *ctx, uint32_t buf, size_t len);
static int io_xmit_csum(void *ctx, uint32_t buf, size_t len, uint16_t csum_offset);
static void io_release(void *ctx, uint32_t buf);
static uint64_t io_now(void *ctx);

int netif_open(struct netif *nif, const char *dev, unsigned int qp, const struct net_config *cfg)
{
	struct net_config c = *cfg;
	int err, i;

	memset(nif, 0, sizeof(*nif));
	err = vnet_open(&nif->vn, dev, qp);
	if (err)
		return err;
	memcpy(c.mac, vnet_mac(&nif->vn), ETH_ALEN);
	if (c.udp_csum == NET_UDP_CSUM_OFFLOAD && !nif->vn.tx_csum)
		c.udp_csum = NET_UDP_CSUM_FULL;
	net_init(&nif->stack, &c);
	nif->io.ctx = nif;
	nif->io.alloc = io_alloc;
	nif->io.xmit = io_xmit;
	nif->io.xmit_csum = nif->vn.tx_csum ? io_xmit_csum : NULL;
	nif->io.release = io_release;
	nif->io.now = io_now;
	nif->io.frame_cap = vnet_frame_cap(&nif->vn);
	/* TCP may keep half the pool in receive queues; the rest stays for the rings. */
	nif->io.hold_max = nif->vn.nbufs / 2;
	net_set_io(&nif->stack, &nif->io);
	nif->qp = qp;
	nif->poll_ns = NETIF_POLL_NS;
	nif->pause_burst = 0;
	netif_set_kick_wait(nif, -1);
	for (i = 0; i < NETIF_EPS; i++)
		nif->eps[i].nif = nif;
	clock_calibrate(nif);
	nif->last_active_ns = netif_now_ns(nif);
	return 0;
}

void netif_close(struct netif *nif)
{
	net_fini(&nif->stack);
	vnet_close(&nif->vn);
}

/* ---------------------------------------------------------------- TX queue */

unsigned int netif_flush(struct netif *nif)
{
	unsigned int done = 0, sent = 0, k;

	/* TCP builds what its connections queued (not again from inside: tx_room flushes). */
	if (!nif->tcp_flushing && tcp_flush_pending(&nif->stack)) {
		nif->tcp_flushing = true;
		tcp_flush(&nif->stack, netif_now_ns(nif));
		nif->tcp_flushing = false;
	}
	while (done < nif->ntx) {
		k = vnet_tx_burst(&nif->vn, nif->tx + done, nif->ntx - done);
		done += k;
		sent += k;
		if (done == nif->ntx || !virtq_free_count(&nif->vn.tx))
			break;
		/* Room in the ring, yet refused: the driver found the frame invalid. */
		vnet_buf_free(&nif->vn, nif->tx[done].buf);
		nif->stats.tx_dropped++;
		done++;
	}
	if (done) {
		nif->ntx -= done;
		memmove(nif->tx, nif->tx + done, nif->ntx * sizeof(nif->tx[0]));
	}
	/* Draining a backlog is activity: keep polling while it lasts. */
	if (sent && nif->tx_blocked)
		nif->last_active_ns = netif_now_ns(nif);
	nif->tx_blocked = nif->ntx != 0;
	return sent;
}

/* Room for one more frame in the TX queue, flushing if it is full. */
static bool tx_room(struct netif *nif)
{
	if (nif->ntx < NETIF_TX_QUEUE)
		return true;
	netif_flush(nif);
	return nif->ntx < NETIF_TX_QUEUE;
}

static inline bool csum_offloaded(const struct netif *nif)
{
	return nif->stack.cfg.udp_csum == NET_UDP_CSUM_OFFLOAD;
}

/*
 * Queue len bytes of frame in buffer buf, which the caller holds. partial:
 * a datagram from the stack's builders whose UDP checksum field holds only
 * the pseudo-header sum (NET_UDP_CSUM_OFFLOAD, or an echo of a partial
 * one): the device completes it, or software when the device cannot.
 * Without room the buffer is freed.
 */
static inline int tx_queue_csum(struct netif *nif, uint32_t buf, uint32_t len, uint16_t csum_start,
				uint16_t csum_offset)
{
	struct vnet_pkt *p;

	if (!tx_room(nif)) {
		vnet_buf_free(&nif->vn, buf);
		nif->stats.tx_dropped++;
		return -ENOSPC;
	}
	p = &nif->tx[nif->ntx++];
	p->data = vnet_frame(&nif->vn, buf);
	p->len = len;
	p->buf = buf;
	p->flags = VNET_PKT_F_TX_CSUM;
	p->csum_start = csum_start;
	p->csum_offset = csum_offset;
	return 0;
}

static inline int tx_queue(struct netif *nif, uint32_t buf, uint32_t len, bool partial)
{
	struct vnet_pkt *p;

	if (!tx_room(nif)) {
		vnet_buf_free(&nif->vn, buf);
		nif->stats.tx_dropped++;
		return -ENOSPC;
	}
	p = &nif->tx[nif->ntx++];
	p->data = vnet_frame(&nif->vn, buf);
	p->len = len;
	p->buf = buf;
	p->flags = 0;
	p->csum_start = 0;
	p->csum_offset = 0;
	if (partial && nif->vn.tx_csum) {
		p->flags = VNET_PKT_F_TX_CSUM;
		p->csum_start = NET_UDP_CSUM_START;
		p->csum_offset = NET_UDP_CSUM_OFFSET;
	} else if (partial) {
		udp_csum_complete(p->data, len);
	}
	return 0;
}

/* The stack's net_io: frames it sends on its own (fragments) join the TX queue. */
static uint8_t *io_alloc(void *ctx, uint32_t *buf, size_t *cap)
{
	struct netif *nif = ctx;
	struct vnet_pkt pkt;

	if (!tx_room(nif) || vnet_alloc_tx_buf(&nif->vn, &pkt))
		return NULL;
	*buf = pkt.buf;
	*cap = pkt.len;
	return pkt.data;
}

static int io_xmit(void *ctx, uint32_t buf, size_t len)
{
	return tx_queue(ctx, buf, (uint32_t)len, false);
}

/* Only offered when the device completes checksums (MC_NET_F_CSUM). */
static int io_xmit_csum(void *ctx, uint32_t buf, size_t len, uint16_t csum_offset)
{
	return tx_queue_csum(ctx, buf, (uint32_t)len, ETH_HLEN + IP_HLEN, csum_offset);
}

static void io_release(void *ctx, uint32_t buf)
{
	struct netif *nif = ctx;

	vnet_buf_free(&nif->vn, buf);
}

static uint64_t io_now(void *ctx)
{
	return netif_now_ns(ctx);
}

/* ---------------------------------------------------------------- endpoints */

int netif_udp_open(struct netif *nif, uint16_t port, struct netif_ep **ep)
{
	struct netif_ep *free_ep = NULL;
	int i;

	if (port == 0)
		return -EINVAL;
	for (i = 0; i < NETIF_EPS; i++) {
		if (nif->eps[i].port == port)
			return -EEXIST;
		if (!nif->eps[i].port && !free_ep)
			free_ep = &nif->eps[i];
	}
	if (!free_ep)
		return -ENOSPC;
	memset(free_ep, 0, sizeof(*free_ep));
	free_ep->nif = nif;
	free_ep->port = port;
	udp_bind(&nif->stack, port);
	*ep = free_ep;
	return 0;
}

void netif_udp_close(struct netif_ep *ep)
{
	struct netif_dgram d;

	while (netif_recv(ep, &d))
		netif_release(&d);
	udp_unbind(&ep->nif->stack, ep->port);
	ep->port = 0;
}

static struct netif_ep *ep_find(struct netif *nif, uint16_t port)
{
	for (int i = 0; i < NETIF_EPS; i++) {
		if (nif->eps[i].port == port)
			return &nif->eps[i];
	}
	return NULL;
}

void netif_udp_set_handler(struct netif_ep *ep, netif_udp_fn fn, void *arg)
{
	ep->fn = fn;
	ep->fn_arg = arg;
}

static inline void dgram_fill(struct netif_dgram *d, struct netif_ep *ep, uint32_t buf,
			      const struct net_udp *u)
{
	d->payload = u->payload;
	d->len = u->len;
	d->src_port = u->sport;
	d->src_ip = u->src_ip;
	d->dst_ip = u->dst_ip;
	d->dst_port = u->dport;
	d->csum = u->csum;
	d->csum_partial = u->csum_partial;
	d->buf = u->reasm ? NETIF_BUF_REASM | (u->reasm - 1u) : buf;
	d->ep = ep;
}

/*
 * Hand the datagram u, in buffer buf, to its endpoint's handler or queue;
 * false if it must be dropped. *handled counts datagrams a handler took.
 */
static bool ep_deliver(struct netif *nif, uint32_t buf, const struct net_udp *u,
		       unsigned int *handled)
{
	struct netif_ep *ep = ep_find(nif, u->dport);
	struct netif_dgram *d, one;

	if (!ep) {
		nif->stats.rx_no_endpoint++;
		return false;
	}
	if (ep->fn) {
		dgram_fill(&one, ep, buf, u);
		ep->stats.rx++;
		(*handled)++;
		vnet_prof(&nif->vn, VNET_APP);
		ep->fn(ep, &one, ep->fn_arg);
		if (one.ep) /* neither answered nor released */
			netif_release(&one);
		vnet_prof(&nif->vn, VNET_RX);
		return true;
	}
	if (ep->head - ep->tail == NETIF_EP_QUEUE) {
		ep->stats.rx_dropped++;
		nif->stats.rx_queue_full++;
		return false;
	}
	d = &ep->queue[ep->head++ % NETIF_EP_QUEUE];
	dgram_fill(d, ep, buf, u);
	ep->stats.rx++;
	nif->queued++;
	return true;
}

unsigned int netif_recv_batch(struct netif_ep *ep, struct netif_dgram *d, unsigned int n)
{
	uint32_t avail = ep->head - ep->tail;
	unsigned int i;

	if (n > avail)
		n = avail;
	for (i = 0; i < n; i++)
		d[i] = ep->queue[(ep->tail + i) % NETIF_EP_QUEUE];
	ep->tail += n;
	ep->nif->queued -= n;
	return n;
}

int netif_recv(struct netif_ep *ep, struct netif_dgram *d)
{
	return (int)netif_recv_batch(ep, d, 1);
}

/* Give back the buffer buf of a datagram: a vnet buffer or a reassembly slot. */
static int dgram_free(struct netif *nif, uint32_t buf)
{
	if (buf & NETIF_BUF_REASM) {
		net_reasm_release(&nif->stack, buf & ~NETIF_BUF_REASM);
		return 0;
	}
	return vnet_buf_free(&nif->vn, buf);
}

int netif_release(struct netif_dgram *d)
{
	int err;

	if (!d->ep)
		return -EINVAL;
	err = dgram_free(d->ep->nif, d->buf);
	d->ep = NULL;
	return err;
}

/* ---------------------------------------------------------------- replies */

/* The reply to a reassembled datagram goes out in fragments; then the slot is free. */
static int dgram_answer_reasm(struct netif_ep *ep, struct netif_dgram *d, struct net_udp *u,
			      size_t len, bool same)
{
	struct netif *nif = ep->nif;
	int err;

	u->reasm = (uint8_t)((d->buf & ~NETIF_BUF_REASM) + 1);
	err = udp_reply_reasm(&nif->stack, u, len, same);
	net_reasm_release(&nif->stack, d->buf & ~NETIF_BUF_REASM);
	if (err == -ENOSPC) {
		nif->stats.tx_dropped++;
		return err;
	}
	if (err) {
		nif->stats.reply_errors++;
		return err;
	}
	ep->stats.tx++;
	return 0;
}

/* Turn d's buffer into its reply of len payload bytes and queue it; d is consumed. */
static inline int dgram_answer(struct netif_ep *ep, struct netif_dgram *d, size_t len, bool same)
{
	struct netif *nif = ep->nif;
	uint32_t cap = vnet_frame_cap(&nif->vn);
	struct net_udp u;
	uint8_t *frame;
	int n;

	if (d->ep != ep)
		return -EINVAL;
	d->ep = NULL;
	u.payload = d->payload;
	u.len = d->len;
	u.sport = d->src_port;
	u.dport = d->dst_port;
	u.csum = d->csum;
	u.csum_partial = d->csum_partial;
	u.src_ip = d->src_ip;
	u.dst_ip = d->dst_ip;
	u.reasm = 0;
	if (d->buf & NETIF_BUF_REASM)
		return dgram_answer_reasm(ep, d, &u, len, same);
	frame = vnet_frame(&nif->vn, d->buf);
	if (same)
		n = udp_echo_inplace(&nif->stack, frame, cap, &u);
	else
		n = udp_reply_inplace(&nif->stack, frame, cap, &u, len);
	if (n < 0) {
		vnet_buf_free(&nif->vn, d->buf);
		nif->stats.reply_errors++;
		return n;
	}
	ep->stats.tx++;
	return tx_queue(nif, d->buf, (uint32_t)n,
			csum_offloaded(nif) || (same && udp_echo_partial(&nif->stack, &u)));
}

int netif_reply(struct netif_ep *ep, struct netif_dgram *d, size_t len)
{
	return dgram_answer(ep, d, len, false);
}

int netif_echo(struct netif_ep *ep, struct netif_dgram *d)
{
	return dgram_answer(ep, d, d->len, true);
}

unsigned int netif_reply_batch(struct netif_ep *ep, struct netif_dgram *d, unsigned int n)
{
	unsigned int i, ok = 0;

	for (i = 0; i < n; i++)
		ok += dgram_answer(ep, &d[i], d[i].len, false) == 0;
	return ok;
}

unsigned int netif_echo_batch(struct netif_ep *ep, struct netif_dgram *d, unsigned int n)
{
	unsigned int i, ok = 0;

	for (i = 0; i < n; i++)
		ok += dgram_answer(ep, &d[i], d[i].len, true) == 0;
	return ok;
}

/* ---------------------------------------------------------------- sending */

/*
 * The next hop of dst_ip is not in the ARP cache: ask for it in buffer pkt
 * (which is used or freed), unless it was asked for a moment ago. -EAGAIN.
 */
static int arp_ask(struct netif *nif, struct vnet_pkt *pkt, uint32_t dst_ip, uint64_t now)
{
	uint32_t hop;
	int n;

	if (!net_next_hop(&nif->stack, dst_ip, &hop)) {
		vnet_buf_free(&nif->vn, pkt->buf);
		return -EINVAL;
	}
	if (hop == nif->arp.hop && nif->arp.sent_ns &&
	    now - nif->arp.sent_ns < NETIF_ARP_RETRY_NS) {
		vnet_buf_free(&nif->vn, pkt->buf);
		return -EAGAIN;
	}
	n = arp_build_request(&nif->stack, pkt->data, pkt->len, dst_ip);
	if (n < 0) {
		vnet_buf_free(&nif->vn, pkt->buf);
		return n;
	}
	nif->arp.hop = hop;
	nif->arp.sent_ns = now ? now : 1;
	nif->stats.arp_requests++;
	tx_queue(nif, pkt->buf, (uint32_t)n, false);
	return -EAGAIN;
}

/* A datagram over the MTU: the stack fragments it into buffers from the TX queue. */
static int send_frags(struct netif_ep *ep, uint32_t dst_ip, uint16_t dst_port, const void *data,
		      size_t len)
{
	struct netif *nif = ep->nif;
	uint64_t now = netif_now_ns(nif);
	struct vnet_pkt pkt;
	int err;

	err = udp_send(&nif->stack, dst_ip, ep->port, dst_port, data, len, now);
	if (err == -EAGAIN) {
		if (!tx_room(nif) || vnet_alloc_tx_buf(&nif->vn, &pkt))
			return -ENOSPC;
		return arp_ask(nif, &pkt, dst_ip, now);
	}
	if (err == -ENOSPC)
		nif->stats.tx_dropped++;
	if (!err)
		ep->stats.tx++;
	return err;
}

int netif_send(struct netif_ep *ep, uint32_t dst_ip, uint16_t dst_port, const void *data,
	       size_t len)
{
	struct netif *nif = ep->nif;
	struct vnet_pkt pkt;
	uint64_t now;
	int n;

	if (len > NETIF_SEND_MAX)
		return -EMSGSIZE;
	if (len > NETIF_DGRAM_MAX)
		return send_frags(ep, dst_ip, dst_port, data, len);
	if (!tx_room(nif) || vnet_alloc_tx_buf(&nif->vn, &pkt))
		return -ENOSPC;
	now = netif_now_ns(nif);
	n = udp_build(&nif->stack, pkt.data, pkt.len, dst_ip, ep->port, dst_port, data, len, now);
	if (n == -EAGAIN)
		return arp_ask(nif, &pkt, dst_ip, now);
	if (n < 0) {
		vnet_buf_free(&nif->vn, pkt.buf);
		return n;
	}
	ep->stats.tx++;
	return tx_queue(nif, pkt.buf, (uint32_t)n, csum_offloaded(nif));
}

int netif_send_batch(struct netif_ep *ep, const struct netif_msg *m, unsigned int n)
{
	unsigned int i;
	int err = 0;

	for (i = 0; i < n; i++) {
		err = netif_send(ep, m[i].dst_ip, m[i].dst_port, m[i].data, m[i].len);
		if (err)
			break;
	}
	return i ? (int)i : err;
}

/* ---------------------------------------------------------------- when to ring */

/*
 * When to ring. An answer's doorbell is an MMIO write the hypervisor
 * handles. Under QEMU's TCG it takes QEMU's big lock and signals the I/O
 * thread's eventfd; the I/O thread holds that lock from the moment it
 * wrote the request into the RX ring until it goes back to sleep. A
 * doorbell rung inside that window finds the lock taken and puts the vCPU
 * to sleep on it; the lock's release then has to wake the vCPU and the
 * vCPU the I/O thread, which has meanwhile gone to sleep: two wake-ups
 * across host cores where one would do (a round trip about half again as
 * long, and doorbells on average 2-3x as long; bench/README.md, "When to
 * ring").
 * Ringing a moment later avoids it, but not too late: the I/O thread goes
 * to sleep soon after releasing the lock, and a doorbell that must wake it
 * costs the wake-up too. Under KVM the doorbell is an ioeventfd that takes
 * no lock, and no wait helps.
 *
 * So the wait is learnt rather than set, from what it is for: the time
 * from the request noticed until the device is seen to have sent the
 * answer (its TX buffer returned; kick_watch). That is the part of the
 * round trip the guest decides, and it sees both the vCPU's stall on the
 * lock and the I/O thread's wake-up. Answers rung for take delay - STEP
 * and delay + STEP in turn (one each, so the host's drift from one moment
 * to the next falls on both sides alike); after NETIF_KICK_ROUND answers
 * timed on each side, delay moves a step toward the side sent sooner on
 * average. Each sample counts at most NETIF_KICK_CLIP (a vCPU preempted on
 * the host is not the wait's doing), and only answers that rang are timed:
 * where the device asks for no doorbell (its TX bottom half pending, under
 * load) nothing waits. A wait shorter than the answer's own work costs
 * nothing, so where ringing at once is best the wait stays low.
 */

void netif_set_kick_wait(struct netif *nif, int64_t cycles)
{
	nif->kick = (struct netif_kick){.fixed = cycles < 0 ? -1 : cycles};
}

uint64_t netif_kick_wait(const struct netif_kick *k)
{
	return k->fixed >= 0 ? (uint64_t)k->fixed : k->delay;
}

uint64_t netif_kick_next(struct netif_kick *k)
{
	if (k->fixed >= 0)
		return (uint64_t)k->fixed;
	k->side ^= 1;
	if (k->side)
		return k->delay + NETIF_KICK_STEP;
	return k->delay >= NETIF_KICK_STEP ? k->delay - NETIF_KICK_STEP : 0;
}

void netif_kick_learn(struct netif_kick *k, uint64_t cycles)
{
	uint64_t lo, hi;

	k->timed++;
	k->sum[k->side] += cycles < NETIF_KICK_CLIP ? cycles : NETIF_KICK_CLIP;
	k->n[k->side]++;
	if (k->n[0] < NETIF_KICK_ROUND || k->n[1] < NETIF_KICK_ROUND)
		return;
	lo = k->sum[0] * k->n[1]; /* the means compared without dividing */
	hi = k->sum[1] * k->n[0];
	if (hi < lo && k->delay + NETIF_KICK_STEP <= NETIF_KICK_MAX)
		k->delay += NETIF_KICK_STEP;
	else if (lo < hi && k->delay >= NETIF_KICK_STEP)
		k->delay -= NETIF_KICK_STEP;
	k->n[0] = k->n[1] = 0;
	k->sum[0] = k->sum[1] = 0;
}

/*
 * Flush the answers of the requests noticed at TSC t0, their doorbell (if
 * the device wants one) no sooner than the kick wait after t0; watch the
 * last answer rung for until it is sent.
 */
static void answer_flush(struct netif *nif, uint64_t t0)
{
	uint64_t kicks = nif->vn.stats.tx_kicks, wait;

	/* Without a TSC that advances (clock.mult 0) there is nothing to wait by. */
	if (nif->clock.mult && vnet_tx_kick_wanted(&nif->vn)) {
		nif->kick.pending = false; /* its sample would count for this wait */
		wait = netif_kick_next(&nif->kick);
		while (tsc_read() - t0 < wait)
			;
	}
	netif_flush(nif);
	if (nif->vn.stats.tx_kicks == kicks || !nif->clock.mult)
		return;
	nif->kick.pending = true;
	nif->kick.idx = vnet_tx_avail_idx(&nif->vn);
	nif->kick.t0 = t0;
}

/*
 * Whether the answer rung for last has been sent (its TX buffer is back):
 * time it, and learn from it. Called at every poll, before receiving.
 */
static inline void kick_watch(struct netif *nif)
{
	uint64_t c;

	if (!nif->kick.pending || !vnet_tx_sent(&nif->vn, nif->kick.idx))
		return;
	nif->kick.pending = false;
	c = tsc_read() - nif->kick.t0;
	if (c > NETIF_KICK_CLIP)
		c = NETIF_KICK_CLIP;
	nif->kick.sent_n++;
	nif->kick.sent_sum += c;
	if (nif->kick.fixed < 0)
		netif_kick_learn(&nif->kick, c);
}

/* ---------------------------------------------------------------- receiving */

/*
 * One received frame: a reply to queue, a datagram for an endpoint (or its
 * handler, which may queue replies: both count in *nreply), or a buffer to
 * free.
 */
static void rx_frame(struct netif *nif, const struct vnet_pkt *p, uint64_t now,
		     unsigned int *nreply)
{
	unsigned int flags = p->flags & VNET_PKT_F_CSUM_VALID ? NET_RX_F_CSUM_VALID : 0;
	struct net_rx_result res;

	if (p->flags & VNET_PKT_F_CSUM_PARTIAL)
		flags |= net_rx_partial(p->data, p->len, p->csum_start, p->csum_offset);
	switch (net_rx_buf(&nif->stack, p->data, p->len, p->buf, flags, &res, now)) {
	case NET_RX_KEPT: /* TCP data on its connection's queue, until read */
		return;
	case NET_RX_REPLY:
		/*
		 * Room is certain: a poll receives with the TX queue empty, or
		 * another burst only while a burst's answers still fit.
		 */
		tx_queue(nif, p->buf, (uint32_t)res.len, false);
		(*nreply)++;
		return;
	case NET_RX_UDP:
		if (res.udp.reasm) {
			/* Reassembled: the data is in the stack, the frame is done. */
			if (!ep_deliver(nif, p->buf, &res.udp, nreply))
				net_reasm_release(&nif->stack, res.udp.reasm - 1u);
			break;
		}
		if (ep_deliver(nif, p->buf, &res.udp, nreply))
			return;
		break;
	default: /* dropped (and counted) or consumed by the stack */
		break;
	}
	vnet_buf_free(&nif->vn, p->buf);
}

/* The stack's timers, when one is due: a load and a compare otherwise. */
static inline void run_timers(struct netif *nif)
{
	uint64_t due = net_next_timer(&nif->stack), now;

	if (!due)
		return;
	now = netif_now_ns(nif);
	if (now >= due) {
		net_timers(&nif->stack, now);
		if (nif->ntx)
			netif_flush(nif);
	}
}

/*
 * Housekeeping: TX buffers the device is done with come back, a backlog
 * goes out, due timers run, and the RX buffers the last poll took go back
 * to the device. It runs before receiving in netif_poll, and netif_wait
 * runs it right after the application answered, so that a frame noticed
 * while spinning gets its answer without this in between (rx_poll).
 */
static void housekeeping(struct netif *nif)
{
	vnet_tx_reclaim(&nif->vn);
	netif_flush(nif);
	run_timers(nif);
	vnet_rx_refill(&nif->vn);
}

/*
 * The application comes back to poll or wait. Busy time runs from a poll
 * that found frames until now: the stack's work, the application's and the
 * answer's, measured without a clock read between a frame and its answer.
 * What the application answered meanwhile (TCP output, datagrams it
 * queued) goes out now, its doorbell timed as a handler's answers are:
 * no sooner than the kick wait after the frames were found.
 */
static void app_back(struct netif *nif)
{
	uint64_t t0 = nif->busy_t0;

	if (!t0)
		return;
	nif->stats.busy_cycles += tsc_read() - t0;
	nif->busy_t0 = 0;
	if (nif->ntx || tcp_flush_pending(&nif->stack))
		answer_flush(nif, t0);
}

/* Receive a burst and hand it to the stack; the frames received. */
static unsigned int rx_poll(struct netif *nif, bool holding)
{
	struct vnet_pkt rx[NETIF_BURST];
	unsigned int n, i, nreply = 0, total = 0;
	uint64_t tsc, now;

	/*
	 * Frames the TX ring had no room for are still queued: receive
	 * nothing more, so requests wait in the RX ring (and the device
	 * behind it) instead of being answered into a full ring and dropped.
	 */
	kick_watch(nif);
	if (nif->ntx && !holding) {
		nif->stats.rx_deferred++;
		return 0;
	}
	n = vnet_rx_burst(&nif->vn, rx, NETIF_BURST);
	if (!n)
		return 0;
	vnet_prof(&nif->vn, VNET_RX);
	tsc = tsc_read();
	now = clock_ns(nif, tsc);
	if (!nif->busy_t0)
		nif->busy_t0 = tsc;
	nif->last_active_ns = now;
	for (;;) {
		for (i = 0; i < n; i++)
			rx_frame(nif, &rx[i], now, &nreply);
		total += n;
		/*
		 * Answers queued (handlers, ARP, ICMP): answer the requests
		 * already waiting as well, up to a burst, before the one flush (fewer,
		 * bigger passes of QEMU's I/O thread under load; one request at
		 * a time, nothing waits and the answer goes now).
		 */
		if (!nreply || total >= NETIF_BURST || !vnet_rx_pending(&nif->vn) ||
		    nif->ntx + NETIF_BURST > NETIF_TX_QUEUE)
			break;
		n = vnet_rx_burst(&nif->vn, rx, NETIF_BURST - total);
		if (!n)
			break;
	}
	nif->last_burst = total;
	if (nreply)
		answer_flush(nif, tsc); /* the profile is in IDLE after the doorbell */
	else
		vnet_prof(&nif->vn, VNET_APP);
	return total;
}

unsigned int netif_poll(struct netif *nif)
{
	app_back(nif);
	housekeeping(nif);
	return rx_poll(nif, false);
}

unsigned int netif_rx_more(struct netif *nif)
{
	if (nif->tx_blocked || nif->ntx + NETIF_BURST > NETIF_TX_QUEUE ||
	    !vnet_rx_pending(&nif->vn))
		return 0;
	return rx_poll(nif, true);
}

/* ---------------------------------------------------------------- waiting */

static void drain_events(struct netif *nif)
{
	struct mc_event ev;

	while (mc_event_pop(&ev)) {
		if (ev.type == EV_NET && ev.data[0] == nif->qp) {
			nif->stats.net_events++;
			continue;
		}
		if (ev.type == EV_NET_RESET && ev.data[0] == nif->qp) {
			/* Another owner stopped the device; ours comes back empty. */
			if (vnet_restart(&nif->vn) == 0)
				nif->last_active_ns = netif_now_ns(nif);
			else
				nif->stats.restart_fails++;
			continue;
		}
		nif->stats.other_events++;
		if (nif->on_event)
			nif->on_event(nif, &ev, nif->event_arg);
	}
}

/*
 * Whether netif_wait can return: n frames a poll took, else datagrams or
 * TCP events waiting for the application (a poll with no frame can raise
 * events too: a timer that ends a connection). What it returns, or 0.
 */
static int wait_done(const struct netif *nif, unsigned int n)
{
	if (n)
		return (int)n;
	if (nif->queued)
		return (int)nif->queued;
	return tcp_has_events(&nif->stack) ? 1 : 0;
}

int netif_wait(struct netif *nif, uint64_t timeout_ns)
{
	uint64_t start, now, due, left = WAIT_FOREVER;
	bool pending;
	long rc;
	int n;

	app_back(nif);
	n = wait_done(nif, 0);
	if (n) {
		netif_flush(nif);
		return n;
	}
	n = wait_done(nif, netif_poll(nif));
	if (n)
		return n;
	start = now = netif_now_ns(nif);
	while (now - nif->last_active_ns < nif->poll_ns) {
		if (now - start >= timeout_ns)
			return 0;
		/*
		 * No PAUSE by default: under TCG a PAUSE leaves the translated
		 * code and takes QEMU's big lock, which only gets in the way of
		 * the I/O thread filling our RX ring when the vCPU has a host
		 * core of its own (the design's case): a fifth of the
		 * throughput at a window of 64. Where the vCPU shares its core
		 * with that thread, PAUSE while a backlog stands hands it the
		 * core (netif_set_pause_burst; bench/README.md, "Where echod's
		 * time goes").
		 */
		if (nif->pause_burst && nif->last_burst >= nif->pause_burst) {
			__builtin_ia32_pause();
		} else {
			/*
			 * Between full polls watch only the RX ring's used
			 * index: a frame is noticed a load after it lands, not
			 * after a poll's housekeeping and a clock read.
			 */
			for (unsigned int i = 0; i < NETIF_SPINS; i++) {
				if (vnet_rx_pending(&nif->vn)) {
					n = (int)rx_poll(nif, false);
					if (n)
						return n;
					break;
				}
			}
		}
		n = wait_done(nif, netif_poll(nif));
		if (n)
			return n;
		now = netif_now_ns(nif);
	}
	if (now - start >= timeout_ns)
		return 0;
	if (timeout_ns != WAIT_FOREVER)
		left = timeout_ns - (now - start);
	/* Wake for the stack's next timer too; netif_poll runs it. */
	due = net_next_timer(&nif->stack);
	if (due && (due <= now || due - now < left))
		left = due <= now ? 0 : due - now;
	/*
	 * TCP output waiting for buffers (or frames for TX room): the device's
	 * transmit completions give them back, so they wake us (want_tx
	 * below); look again soon as well, in case none is in flight.
	 */
	pending = tcp_flush_pending(&nif->stack);
	if (pending && left > NETIF_RETRY_NS)
		left = NETIF_RETRY_NS;
	/*
	 * Arm. Work that arrived since the last poll raised no interrupt:
	 * vnet_irq_enable reports it, and sleeping on it would wait for the
	 * next frame.
	 */
	if (vnet_irq_enable(&nif->vn, pending || nif->ntx)) {
		vnet_irq_disable(&nif->vn);
		return wait_done(nif, netif_poll(nif));
	}
	rc = sys_wait(left);
	nif->stats.wakeups++;
	drain_events(nif);
	vnet_irq_disable(&nif->vn);
	/* Poll a full window after waking. */
	nif->last_active_ns = netif_now_ns(nif);
	if (rc < 0)
		return (int)rc;
	return wait_done(nif, netif_poll(nif));
}

int netif_drain(struct netif *nif, uint64_t timeout_ns)
{
	uint64_t tries = timeout_ns / DRAIN_STEP_NS;

	for (;;) {
		vnet_tx_reclaim(&nif->vn);
		netif_flush(nif);
		if (!nif->ntx && !virtq_inflight(&nif->vn.tx))
			return 0;
		if (!tries--)
			return -ETIMEDOUT;
		sys_wait(DRAIN_STEP_NS);
		drain_events(nif);
	}
}

/* ---------------------------------------------------------------- TCP */

/*
 * The key of TCP's ISNs, cookies and hashes: the kernel's AT_RANDOM bytes
 * (RDRAND where the CPU has it), with the TSC and the queue pair mixed in
 * so two interfaces of a process differ.
 */
static void netif_secret(const struct netif *nif, uint8_t out[16])
{
	const uint8_t *rnd = (const uint8_t *)(uintptr_t)mc_getauxval(AT_RANDOM);
	uint64_t mix[2] = {tsc_read() * 0x9e3779b97f4a7c15ull,
			   (uint64_t)nif->qp << 32 ^ (uintptr_t)nif};

	for (int i = 0; i < 16; i++)
		out[i] = (uint8_t)((rnd ? rnd[i] : 0) ^ (uint8_t)(mix[i / 8] >> (i % 8 * 8)));
}

int netif_tcp_init(struct netif *nif, const struct tcp_config *cfg)
{
	struct tcp_config c;

	if (cfg)
		c = *cfg;
	else
		memset(&c, 0, sizeof(c));
	if (!cfg || !memcmp(c.secret, (uint8_t[16]){0}, 16))
		netif_secret(nif, c.secret);
	return tcp_init(&nif->stack, &c);
}

/* TCP with the defaults, the first time it is used. */
static int tcp_ready(struct netif *nif)
{
	if (nif->stack.tcp)
		return 0;
	return netif_tcp_init(nif, NULL);
}

int netif_tcp_listen(struct netif *nif, uint16_t port, unsigned int backlog,
		     struct tcp_listener **l)
{
	int err = tcp_ready(nif);

	return err ? err : tcp_listen(&nif->stack, port, backlog, l);
}

int netif_tcp_connect(struct netif *nif, uint32_t ip, uint16_t port, struct tcp_conn **c)
{
	int err = tcp_ready(nif);

	return err ? err : tcp_connect(&nif->stack, ip, port, netif_now_ns(nif), c);
}

int netif_tcp_next(struct netif *nif, struct tcp_event *ev)
{
	return tcp_next_event(&nif->stack, ev);
}
