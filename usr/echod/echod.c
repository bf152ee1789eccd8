/* echod: zero-copy UDP echo server on a kernel-bypass virtio-net queue pair. */
#include <stdbool.h>
#include <stdint.h>

#include <lib/string.h>
#include <mc/errno.h>
#include <mc/event.h>
#include <mc/runtime.h>
#include <mc/stdio.h>
#include <mc/stdlib.h>
#include <mc/sys.h>
#include <net/net.h>
#include <vnet.h>

#define BURST		32
#define NS_PER_US	1000ull
#define NS_PER_MS	1000000ull
#define NS_PER_SEC	1000000000ull
#define CALIBRATE_NS	(10 * 1000000ull) /* TSC against the kernel clock at start-up */
#define DEFAULT_POLL_US 50
#define SOCKPERF_HDR	14 /* sockperf's header: byte 9 bit 0 is the "client" flag */
#define SOCKPERF_FLAGS	9
#define RETRY_WAIT_NS	(20 * NS_PER_MS)
#define DRAIN_WAIT_NS	(1 * NS_PER_MS)
#define DRAIN_TRIES	1000

struct options {
	uint16_t port;
	uint32_t ip, mask, gw; /* host byte order */
	const char *dev;
	unsigned int qp;
	bool sockperf;
	unsigned int stats_sec; /* 0: only at exit */
	unsigned int poll_us;
	unsigned int retry_sec;	 /* keep asking for a taken queue this long */
	uint64_t exit_after;	 /* exit after echoing this many datagrams; 0: never */
};

static struct options opt;

static struct vnet vn;
static bool vn_open;
static struct net_stack stack;

/* Outside the driver and the stack: the main loop's own counters. */
static struct {
	uint64_t wakeups;      /* returns from wait */
	uint64_t net_events;   /* EV_NET events for our queue pair */
	uint64_t tx_dropped;   /* replies with no room in the TX ring or the backlog */
	uint64_t reply_errors; /* udp_*_inplace refused a datagram */
	uint64_t echoed;       /* datagrams answered */
} loop;

/*
 * A clock without system calls: the TSC, scaled by a factor measured against
 * CLOCK_MONOTONIC at start-up. mc_now_ns() is a system call, and under the
 * hypervisors this runs on a kernel entry costs tens of microseconds.
 */
static struct {
	uint64_t tsc0, ns0;
	uint64_t mult; /* nanoseconds per tick, 32.32 fixed point */
} clk;

static inline uint64_t rdtsc(void)
{
	return __builtin_ia32_rdtsc();
}

static void clock_calibrate(void)
{
	uint64_t t0 = mc_now_ns(), c0 = rdtsc(), t1, c1;

	if (!t0) {
		printf("echod: no monotonic clock; polling never times out\n");
		return;
	}
	mc_wait(CALIBRATE_NS); /* nothing can arrive yet: a plain sleep */
	t1 = mc_now_ns();
	c1 = rdtsc();
	if (c1 <= c0) {
		printf("echod: TSC does not advance; polling never times out\n");
		return;
	}
	clk.mult = (uint64_t)(((unsigned __int128)(t1 - t0) << 32) / (c1 - c0));
	clk.tsc0 = c1;
	clk.ns0 = t1;
}

static uint64_t clock_ns(void)
{
	return clk.ns0 + (uint64_t)(((unsigned __int128)(rdtsc() - clk.tsc0) * clk.mult) >> 32);
}

static void print_stats(void)
{
	const struct net_stats *n = &stack.stats;
	const struct vnet_stats *d = &vn.stats;

	printf("echod: stats net rx %lu (%lu B) tx %lu (%lu B) udp %lu arp_answered %lu "
	       "arp_learned %lu icmp_echo %lu ip_options %lu\n",
	       n->rx_frames, n->rx_bytes, n->tx_frames, n->tx_bytes, n->rx_udp,
	       n->arp_requests_answered, n->arp_replies_learned, n->icmp_echo_answered,
	       n->rx_ip_options);
	printf("echod: stats drop %lu short %lu ethertype %lu not_for_us %lu bad_src %lu "
	       "ip_version %lu ip_hlen %lu ip_len %lu ip_csum %lu ip_fragment %lu ip_proto %lu\n",
	       n->rx_dropped, n->rx_short, n->rx_bad_ethertype, n->rx_not_for_us, n->rx_bad_src,
	       n->rx_ip_bad_version, n->rx_ip_bad_hlen, n->rx_ip_bad_len, n->rx_ip_bad_csum,
	       n->rx_ip_fragment, n->rx_ip_bad_proto);
	printf("echod: stats drop udp_len %lu udp_csum %lu udp_no_port %lu icmp_csum %lu "
	       "icmp_other %lu arp_bad %lu\n",
	       n->rx_udp_bad_len, n->rx_udp_bad_csum, n->rx_udp_no_port, n->rx_icmp_bad_csum,
	       n->rx_icmp_other, n->rx_arp_bad);
	printf("echod: stats vnet rx %lu (%lu B) tx %lu (%lu B) rx_kicks %lu tx_kicks %lu "
	       "irq_arms %lu irq_races %lu rx_ring_empty %lu rx_short %lu tx_ring_full %lu "
	       "tx_invalid %lu no_buffers %lu buf_errors %lu dev_errors %lu\n",
	       d->rx_packets, d->rx_bytes, d->tx_packets, d->tx_bytes, d->rx_kicks, d->tx_kicks,
	       d->irq_arms, d->irq_races, d->rx_ring_empty, d->rx_short, d->tx_ring_full,
	       d->tx_invalid, d->no_buffers, d->buf_errors, d->dev_errors);
	printf("echod: stats loop wakeups %lu net_events %lu events_dropped %u tx_dropped %lu "
	       "reply_errors %lu\n",
	       loop.wakeups, loop.net_events, mc_event_dropped(), loop.tx_dropped,
	       loop.reply_errors);
}

/* echod only ever stops on a fatal error; the counters go out first. */
__attribute__((noreturn, format(printf, 1, 2))) static void fatal(const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("echod: %s\n", msg);
	if (vn_open)
		print_stats();
	exit(1);
}

__attribute__((noreturn)) static void usage(void)
{
	printf("usage: echod [--port N] [--ip A.B.C.D] [--mask A.B.C.D] [--gw A.B.C.D]\n"
	       "             [--dev NAME] [--qp N] [--sockperf] [--stats SECONDS] [--poll-us N]\n"
	       "             [--retry SECONDS] [--exit-after N]\n");
	exit(2);
}

static bool parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v;

	if (str_to_u64(s, NULL, 10, &v) || v > max)
		return false;
	*out = v;
	return true;
}

/* Dotted quad to a host-order address. */
static bool parse_ip(const char *s, uint32_t *out)
{
	uint32_t ip = 0;
	const char *end;
	uint64_t part;
	int i;

	for (i = 0; i < 4; i++) {
		if (str_to_u64(s, &end, 10, &part) || part > 255 || end == s)
			return false;
		if (*end != (i == 3 ? '\0' : '.'))
			return false;
		ip = ip << 8 | (uint32_t)part;
		s = end + 1;
	}
	*out = ip;
	return true;
}

/* The prefix length of a contiguous netmask, or -1. */
static int mask_prefix(uint32_t mask)
{
	uint32_t inv = ~mask;

	if (inv & (inv + 1))
		return -1;
	return __builtin_popcount(mask);
}

static const char *fmt_ip(uint32_t ip, char *buf, size_t size)
{
	snprintf(buf, size, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff,
		 ip & 0xff);
	return buf;
}

/* The value of option argv[*i], which must be there. */
static const char *optarg_of(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc) {
		printf("echod: %s needs a value\n", argv[*i]);
		usage();
	}
	return argv[++*i];
}

static void bad_value(const char *name, const char *val)
{
	printf("echod: bad %s value '%s'\n", name, val);
	usage();
}

static void parse_args(int argc, char **argv)
{
	uint64_t v;
	int i;

	opt.port = 7;
	opt.ip = 0x0a00020f; /* 10.0.2.15: the guest of QEMU user networking */
	opt.mask = 0xffffff00;
	opt.gw = 0x0a000202; /* 10.0.2.2 */
	opt.dev = "eth0";
	opt.qp = 0;
	opt.poll_us = DEFAULT_POLL_US;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *val;

		if (!strcmp(a, "--sockperf")) {
			opt.sockperf = true;
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			usage();
		val = optarg_of(argc, argv, &i);
		if (!strcmp(a, "--port")) {
			if (!parse_uint(val, 65535, &v) || v == 0)
				bad_value(a, val);
			opt.port = (uint16_t)v;
		} else if (!strcmp(a, "--ip")) {
			if (!parse_ip(val, &opt.ip))
				bad_value(a, val);
		} else if (!strcmp(a, "--mask")) {
			if (!parse_ip(val, &opt.mask) || mask_prefix(opt.mask) < 0)
				bad_value(a, val);
		} else if (!strcmp(a, "--gw")) {
			if (!parse_ip(val, &opt.gw))
				bad_value(a, val);
		} else if (!strcmp(a, "--dev")) {
			opt.dev = val;
		} else if (!strcmp(a, "--qp")) {
			if (!parse_uint(val, 255, &v))
				bad_value(a, val);
			opt.qp = (unsigned int)v;
		} else if (!strcmp(a, "--stats")) {
			if (!parse_uint(val, 86400, &v))
				bad_value(a, val);
			opt.stats_sec = (unsigned int)v;
		} else if (!strcmp(a, "--retry")) {
			if (!parse_uint(val, 3600, &v))
				bad_value(a, val);
			opt.retry_sec = (unsigned int)v;
		} else if (!strcmp(a, "--exit-after")) {
			if (!parse_uint(val, UINT64_MAX, &v))
				bad_value(a, val);
			opt.exit_after = v;
		} else if (!strcmp(a, "--poll-us")) {
			if (!parse_uint(val, 10000000, &v))
				bad_value(a, val);
			opt.poll_us = (unsigned int)v;
		} else {
			printf("echod: unknown option %s\n", a);
			usage();
		}
	}
}

/*
 * sockperf accepts a reply only with the "client" bit (bit 0 of header
 * byte 9) clear. Clearing it changes one 16-bit word of the payload, so the
 * checksum is patched (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')) and the
 * reply can still reuse it. Payload word boundaries match the checksum's:
 * the payload starts 8 bytes into the UDP header.
 */
static void sockperf_mark_reply(struct net_udp *u)
{
	uint8_t *word = u->payload + (SOCKPERF_FLAGS & ~1);
	uint16_t old_w, new_w;
	uint16_t c;

	if (u->len < SOCKPERF_HDR || !(u->payload[SOCKPERF_FLAGS] & 1))
		return;
	memcpy(&old_w, word, sizeof(old_w));
	u->payload[SOCKPERF_FLAGS] &= (uint8_t)~1;
	memcpy(&new_w, word, sizeof(new_w));
	if (u->csum == 0)
		return; /* the sender sent none; the reply computes its own */
	c = net_csum_fold((uint64_t)(uint16_t)~u->csum + (uint16_t)~old_w + new_w);
	u->csum = c ? c : 0xffff; /* RFC 768: 0 means "no checksum" */
}

/* One received frame: its reply goes into tx (same buffer), or the buffer is freed. */
static void handle_frame(struct vnet_pkt *p, struct vnet_pkt *tx, unsigned int *ntx, uint64_t now)
{
	unsigned int flags = p->flags & VNET_PKT_F_CSUM_VALID ? NET_RX_F_CSUM_VALID : 0;
	uint32_t cap = vnet_frame_cap(&vn);
	struct net_rx_result res;
	int len = -1;

	switch (net_rx_flags(&stack, p->data, p->len, flags, &res, now)) {
	case NET_RX_REPLY:
		len = (int)res.len;
		break;
	case NET_RX_UDP:
		if (res.udp.dport != opt.port)
			break;
		if (opt.sockperf)
			sockperf_mark_reply(&res.udp);
		len = udp_echo_inplace(&stack, p->data, cap, &res.udp);
		if (len < 0)
			loop.reply_errors++;
		else
			loop.echoed++;
		break;
	default: /* dropped (and counted) or consumed by the stack */
		break;
	}
	if (len <= 0) {
		vnet_buf_free(&vn, p->buf);
		return;
	}
	tx[*ntx] = *p;
	tx[*ntx].len = (uint32_t)len;
	tx[*ntx].flags = 0;
	(*ntx)++;
}

/*
 * Replies the TX ring had no room for. While there are any, nothing more is
 * received: frames wait in the RX ring (and the device behind it) instead
 * of being answered into a full ring and dropped.
 */
static struct vnet_pkt backlog[BURST];
static unsigned int nbacklog;

static void transmit(struct vnet_pkt *tx, unsigned int n)
{
	unsigned int sent = vnet_tx_burst(&vn, tx, n), i;

	for (i = sent; i < n && nbacklog < BURST; i++)
		backlog[nbacklog++] = tx[i];
	for (; i < n; i++) {
		vnet_buf_free(&vn, tx[i].buf);
		loop.tx_dropped++;
	}
}

/* Retry the backlog; returns how many went out. */
static unsigned int flush_backlog(void)
{
	struct vnet_pkt tx[BURST];
	unsigned int n = nbacklog;

	memcpy(tx, backlog, n * sizeof(tx[0]));
	nbacklog = 0;
	transmit(tx, n);
	return n - nbacklog;
}

/* Receive, answer and transmit one burst; returns the frames handled. */
static unsigned int poll_once(void)
{
	struct vnet_pkt rx[BURST], tx[BURST];
	unsigned int flushed = 0, n = 0, i, ntx = 0;
	uint64_t now;

	vnet_tx_reclaim(&vn);
	if (nbacklog)
		flushed = flush_backlog();
	if (!nbacklog)
		n = vnet_rx_burst(&vn, rx, BURST);
	if (n) {
		now = clock_ns();
		for (i = 0; i < n; i++)
			handle_frame(&rx[i], tx, &ntx, now);
		transmit(tx, ntx);
	}
	vnet_rx_refill(&vn);
	return flushed + n;
}

static void drain_events(void)
{
	struct mc_event ev;

	while (mc_event_pop(&ev)) {
		if (ev.type == EV_NET && ev.data[0] == opt.qp)
			loop.net_events++;
	}
}

/*
 * Nothing arrived for a poll window: arm the interrupt, look once more
 * (a frame that came in before the arming raised none), then sleep until
 * the interrupt's event or the next stats print.
 */
static void sleep_until_traffic(uint64_t timeout_ns)
{
	if (vnet_irq_enable(&vn)) {
		vnet_irq_disable(&vn);
		return;
	}
	if (mc_wait(timeout_ns) < 0)
		fatal("wait: %s", strerror(errno));
	loop.wakeups++;
	drain_events();
	vnet_irq_disable(&vn);
}

static void serve(void)
{
	uint64_t poll_ns = opt.poll_us * NS_PER_US, stats_ns = opt.stats_sec * NS_PER_SEC;
	uint64_t now = clock_ns(), last_rx = now, next_stats = 0;
	bool dirty = false; /* traffic since the last stats print */

	for (;;) {
		if (opt.exit_after && loop.echoed >= opt.exit_after) {
			/* The device resets when we exit: let it send what is queued. */
			for (int i = 0; i < DRAIN_TRIES && (flush_backlog(), virtq_inflight(&vn.tx));
			     i++) {
				mc_wait(DRAIN_WAIT_NS);
				vnet_tx_reclaim(&vn);
			}
			print_stats();
			printf("echod: echoed %lu datagrams, exiting\n", loop.echoed);
			return;
		}
		if (poll_once()) {
			last_rx = clock_ns();
			if (stats_ns && !dirty) {
				dirty = true;
				next_stats = last_rx + stats_ns;
			}
			continue;
		}
		now = clock_ns();
		if (dirty && now >= next_stats) {
			print_stats();
			dirty = false;
		}
		if (now - last_rx < poll_ns) {
			__builtin_ia32_pause();
			continue;
		}
		sleep_until_traffic(dirty ? next_stats - now : WAIT_FOREVER);
		last_rx = clock_ns(); /* poll a full window after waking */
	}
}

static void setup_stack(void)
{
	struct net_config cfg = {
	    .ip = opt.ip,
	    .netmask = opt.mask,
	    .gateway = opt.gw,
	    .udp_csum = NET_UDP_CSUM_FULL,
	};
	const uint8_t *mac = vnet_mac(&vn);
	char ip[16], gw[16];
	int err;

	memcpy(cfg.mac, mac, ETH_ALEN);
	net_init(&stack, &cfg);
	err = udp_bind(&stack, opt.port);
	if (err)
		fatal("udp_bind %u: %s", opt.port, strerror(-err));
	printf("echod: dev %s qp %u mac %02x:%02x:%02x:%02x:%02x:%02x ip %s/%d gw %s port %u\n",
	       opt.dev, opt.qp, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5],
	       fmt_ip(opt.ip, ip, sizeof(ip)), mask_prefix(opt.mask),
	       fmt_ip(opt.gw, gw, sizeof(gw)), opt.port);
}

int main(int argc, char **argv)
{
	int err;

	parse_args(argc, argv);
	clock_calibrate();
	err = vnet_open(&vn, opt.dev, opt.qp);
	/* A queue pair another process holds frees up when that process ends. */
	for (uint64_t give_up = clock_ns() + opt.retry_sec * NS_PER_SEC;
	     err == -EBUSY && clock_ns() < give_up; err = vnet_open(&vn, opt.dev, opt.qp))
		sys_wait(RETRY_WAIT_NS);
	if (err)
		fatal("net_attach %s qp %u: %s", opt.dev, opt.qp, strerror(-err));
	vn_open = true;
	setup_stack();
	printf("echod ready\n");
	serve();
	return 0;
}
