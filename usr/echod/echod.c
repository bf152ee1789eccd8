/*
 * echod: zero-copy UDP echo server on kernel-bypass virtio-net queue pairs.
 * With several owned cores (cpus= in its manifest) it runs one thread per
 * core, each on its own queue pair (--qp, --qp + 1, ...) with its own stack
 * and counters: nothing writable is shared on the data path. The NIC
 * spreads flows over the queue pairs; every queue answers ARP and ICMP.
 */
#include <stdbool.h>
#include <stdint.h>

#include <lib/string.h>
#include <mc/errno.h>
#include <mc/event.h>
#include <mc/stdio.h>
#include <mc/stdlib.h>
#include <mc/sys.h>
#include <mc/thread.h>
#include <netif.h>

#define BURST		32
#define NS_PER_US	1000ull
#define NS_PER_MS	1000000ull
#define NS_PER_SEC	1000000000ull
#define DEFAULT_BATCH	NETIF_BURST
#define DEFAULT_POLL_US 1000 /* spans a client round trip, so ping-pong never sleeps */
#define SOCKPERF_HDR	14   /* sockperf's header: byte 9 bit 0 is the "client" flag */
#define SOCKPERF_FLAGS	9
#define RETRY_WAIT_NS	(20 * NS_PER_MS)
#define DRAIN_NS	(1000 * NS_PER_MS)
#define MAX_WORKERS	8

struct options {
	uint16_t port;
	uint32_t ip, mask, gw; /* host byte order */
	const char *dev;
	unsigned int qp;
	bool sockperf;
	bool profile;		/* with the stats: each worker's cycles, stage by stage */
	unsigned int stats_sec; /* 0: only at exit */
	unsigned int poll_us;
	unsigned int batch;	/* answer up to this many before flushing, if more wait */
	bool queue;		/* through the endpoint's queue, not a handler in the poll */
	int pause_burst;	/* netif_set_pause_burst; -1: netif's default */
	int64_t kick_wait;	/* netif_set_kick_wait; -1: learn (netif's default) */
	unsigned int retry_sec; /* keep asking for a taken queue this long */
	uint64_t exit_after;	/* exit after echoing this many datagrams; 0: never */
	unsigned int threads;	/* at most this many workers; 0: one per owned core */
	unsigned int delay_ms;	/* wait this long before taking the queue pairs */
};

static struct options opt;

/* One per core and queue pair; only its own thread writes it. */
struct worker {
	struct netif nif;
	bool open;
	unsigned int qp, cpu;
	struct netif_ep *ep;
	uint64_t echoed;	/* datagrams answered */
	struct vnet_prof prof0; /* the profile at the last print */
	uint64_t rx0;		/* and rx_packets then */
} __attribute__((aligned(64)));

static struct worker workers[MAX_WORKERS];
static unsigned int nworkers;

/* Counter structs are all uint64_t: add b into a, field by field. */
static void add_counters(void *a, const void *b, size_t size)
{
	uint64_t *x = a;
	const uint64_t *y = b;
	for (size_t i = 0; i < size / sizeof(uint64_t); i++)
		x[i] += __atomic_load_n(&y[i], __ATOMIC_RELAXED);
}

_Static_assert(sizeof(struct net_stats) % 8 == 0, "uint64_t counters");
_Static_assert(sizeof(struct vnet_stats) % 8 == 0, "uint64_t counters");
_Static_assert(sizeof(struct netif_stats) % 8 == 0, "uint64_t counters");

static uint64_t total_echoed(void)
{
	uint64_t sum = 0;
	for (unsigned int i = 0; i < nworkers; i++)
		sum += __atomic_load_n(&workers[i].echoed, __ATOMIC_RELAXED);
	return sum;
}

/* Frames received by every worker: any traffic, echoed or dropped. */
static uint64_t total_rx(void)
{
	uint64_t sum = 0;
	for (unsigned int i = 0; i < nworkers; i++)
		sum += __atomic_load_n(&workers[i].nif.vn.stats.rx_packets, __ATOMIC_RELAXED);
	return sum;
}

/* The counters of every worker, merged (read while they run: a snapshot). */
/*
 * Since the last print, per datagram received: the TSC cycles of each stage
 * of the worker's loop (struct vnet_prof in usr/lib/vnet.h), and doorbells.
 * Read while the worker runs: figures of one print may be a burst apart.
 */
static void print_profile(struct worker *w)
{
	static const char *const names[VNET_STAGES] = {"idle", "rx", "app", "tx", "kick"};
	const struct vnet_prof *p = &w->nif.vn.prof;
	uint64_t rx = w->nif.vn.stats.rx_packets, n = rx - w->rx0, sum = 0;
	char line[256];
	int len;

	if (!n)
		return;
	len = snprintf(line, sizeof(line),
		       "echod: profile qp %u datagrams %lu kicks/100 %lu cycles/datagram", w->qp, n,
		       (p->entries[VNET_KICK] - w->prof0.entries[VNET_KICK]) * 100 / n);
	for (unsigned int s = 0; s < VNET_STAGES; s++) {
		uint64_t c = (p->cycles[s] - w->prof0.cycles[s]) / n;
		sum += c;
		len += snprintf(line + len, sizeof(line) - (size_t)len, " %s %lu", names[s], c);
	}
	printf("%s total %lu\n", line, sum);
	w->prof0 = *p;
	w->rx0 = rx;
}

static void print_stats(void)
{
	struct net_stats ns = {0};
	struct vnet_stats vs = {0};
	struct netif_stats ls = {0};
	uint64_t echoed = 0;
	const struct net_stats *n = &ns;
	const struct vnet_stats *d = &vs;
	const struct netif_stats *l = &ls;
	const struct netif_kick *k = &workers[0].nif.kick; /* the first worker's */

	for (unsigned int i = 0; i < nworkers; i++) {
		struct worker *w = &workers[i];
		if (!w->open)
			continue;
		add_counters(&ns, &w->nif.stack.stats, sizeof(ns));
		add_counters(&vs, &w->nif.vn.stats, sizeof(vs));
		add_counters(&ls, &w->nif.stats, sizeof(ls));
		echoed += w->echoed;
		if (opt.profile)
			print_profile(w);
		if (nworkers > 1)
			printf("echod: stats queue %u cpu %u rx %lu tx %lu echoed %lu "
			       "cycles_per_datagram %lu\n",
			       w->qp, w->cpu, w->nif.vn.stats.rx_packets,
			       w->nif.vn.stats.tx_packets, w->echoed,
			       w->echoed ? w->nif.stats.busy_cycles / w->echoed : 0);
	}

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
	printf("echod: stats frag rx %lu reassembled %lu timeout %lu evicted %lu killed %lu "
	       "bytes %lu tx %lu tx_errors %lu\n",
	       n->rx_frags, n->reasm_ok, n->reasm_timeout, n->reasm_evicted, n->reasm_killed,
	       n->reasm_bytes, n->tx_frags, n->tx_frag_errors);
	printf("echod: stats drop frag_bad %lu frag_overlap %lu frag_dup %lu frag_too_many %lu "
	       "frag_no_mem %lu frag_abandoned %lu\n",
	       n->rx_frag_bad, n->rx_frag_overlap, n->rx_frag_dup, n->rx_frag_too_many,
	       n->rx_frag_no_mem, n->rx_frag_abandoned);
	printf("echod: stats vnet rx %lu (%lu B) tx %lu (%lu B) rx_kicks %lu tx_kicks %lu "
	       "irq_arms %lu irq_races %lu rx_ring_empty %lu rx_short %lu rx_bad_hdr %lu "
	       "tx_ring_full %lu tx_invalid %lu no_buffers %lu buf_errors %lu dev_errors %lu\n",
	       d->rx_packets, d->rx_bytes, d->tx_packets, d->tx_bytes, d->rx_kicks, d->tx_kicks,
	       d->irq_arms, d->irq_races, d->rx_ring_empty, d->rx_short, d->rx_bad_hdr,
	       d->tx_ring_full, d->tx_invalid, d->no_buffers, d->buf_errors, d->dev_errors);
	printf("echod: stats loop wakeups %lu net_events %lu events_dropped %u tx_dropped %lu "
	       "reply_errors %lu queue_full %lu rx_deferred %lu cycles_per_datagram %lu "
	       "kick_wait %lu sent_timed %lu request_to_sent_cycles %lu\n",
	       l->wakeups, l->net_events, mc_event_dropped(), l->tx_dropped, l->reply_errors,
	       l->rx_queue_full, l->rx_deferred, echoed ? l->busy_cycles / echoed : 0,
	       netif_kick_wait(k), k->sent_n, k->sent_n ? k->sent_sum / k->sent_n : 0);
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
	print_stats();
	exit(1);
}

__attribute__((noreturn)) static void usage(void)
{
	printf("usage: echod [--port N] [--ip A.B.C.D] [--mask A.B.C.D] [--gw A.B.C.D]\n"
	       "             [--dev NAME] [--qp N] [--sockperf] [--stats SECONDS] [--profile]\n"
	       "             [--queue] [--poll-us N] [--batch N] [--pause-burst N]\n"
	       "             [--kick-wait CYCLES] [--retry SECONDS] [--exit-after N]\n"
	       "             [--threads N] [--delay MS]\n");
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
	opt.pause_burst = -1;
	opt.kick_wait = -1;
	opt.batch = DEFAULT_BATCH;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *val;

		if (!strcmp(a, "--sockperf")) {
			opt.sockperf = true;
			continue;
		}
		if (!strcmp(a, "--profile")) {
			opt.profile = true;
			continue;
		}
		if (!strcmp(a, "--queue")) {
			opt.queue = true;
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			usage();
		val = optarg_of(argc, argv, &i);
		if (!strcmp(a, "--kick-wait")) {
			if (!parse_uint(val, 1000000000, &v))
				bad_value(a, val);
			opt.kick_wait = (int64_t)v;
			continue;
		}
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
		} else if (!strcmp(a, "--delay")) {
			if (!parse_uint(val, 3600000, &v))
				bad_value(a, val);
			opt.delay_ms = (unsigned int)v;
		} else if (!strcmp(a, "--threads")) {
			if (!parse_uint(val, MAX_WORKERS, &v) || v == 0)
				bad_value(a, val);
			opt.threads = (unsigned int)v;
		} else if (!strcmp(a, "--batch")) {
			if (!parse_uint(val, NETIF_TX_QUEUE, &v))
				bad_value(a, val);
			opt.batch = (unsigned int)v;
		} else if (!strcmp(a, "--pause-burst")) {
			if (!parse_uint(val, 1024, &v))
				bad_value(a, val);
			opt.pause_burst = (int)v;
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
static void sockperf_mark_reply(struct netif_dgram *d)
{
	uint8_t *word = d->payload + (SOCKPERF_FLAGS & ~1);
	uint16_t old_w, new_w;
	uint16_t c;

	if (d->len < SOCKPERF_HDR || !(d->payload[SOCKPERF_FLAGS] & 1))
		return;
	memcpy(&old_w, word, sizeof(old_w));
	d->payload[SOCKPERF_FLAGS] &= (uint8_t)~1;
	memcpy(&new_w, word, sizeof(new_w));
	if (d->csum == 0)
		return; /* the sender sent none; the reply computes its own */
	if (d->csum_partial)
		return; /* the NIC sums the payload as it is now */
	c = net_csum_fold((uint64_t)(uint16_t)~d->csum + (uint16_t)~old_w + new_w);
	d->csum = c ? c : 0xffff; /* RFC 768: 0 means "no checksum" */
}

/*
 * The datagram handler (the default): each request is echoed in place
 * inside the poll that received it, and the poll's answers go out together
 * (netif_udp_set_handler). Nothing lies between a request noticed and its
 * doorbell but the stack and this: the quickest answer, which one request
 * at a time decides the round trip (bench/README.md).
 */
static void echo_one(struct netif_ep *ep, struct netif_dgram *d, void *arg)
{
	struct worker *w = arg;

	if (opt.sockperf)
		sockperf_mark_reply(d);
	w->echoed += netif_echo(ep, d) == 0;
}

/*
 * --queue: echo every datagram waiting on ep, in place: each buffer goes back out on
 * TX. While more requests already wait in the RX ring, answer them too
 * before flushing, up to opt.batch: with many requests in flight, bigger
 * batches mean fewer passes of QEMU's I/O thread, the host's bottleneck
 * (a ninth more throughput at windows 16 and 64, bench/README.md); one
 * request at a time there is nothing more to take and nothing waits.
 */
static unsigned int echo_all(struct worker *w)
{
	struct netif_dgram d[BURST];
	unsigned int n, i, total = 0;

	do {
		while ((n = netif_recv_batch(w->ep, d, BURST)) > 0) {
			for (i = 0; opt.sockperf && i < n; i++)
				sockperf_mark_reply(&d[i]);
			w->echoed += netif_echo_batch(w->ep, d, n);
			total += n;
		}
	} while (total && total < opt.batch && netif_rx_more(&w->nif));
	if (total) /* answer now, not on the next poll */
		netif_flush(&w->nif);
	return total;
}

/*
 * Answer, then wait in netif_wait: it polls for opt.poll_us after the last
 * frame, then sleeps until traffic (or, on the first worker, the next stats
 * print, which covers every worker's traffic).
 */
static void serve(struct worker *w)
{
	uint64_t stats_ns = opt.stats_sec * NS_PER_SEC, next_stats = 0, now, printed = 0;
	bool lead = w == &workers[0];
	int rc;

	for (;;) {
		if (lead && opt.exit_after && total_echoed() >= opt.exit_after) {
			/* The device resets when we exit: let it send what is queued
			 * (this worker's; the others' queues are theirs to touch). */
			netif_drain(&w->nif, DRAIN_NS);
			print_stats();
			printf("echod: echoed %lu datagrams, exiting\n", total_echoed());
			exit(0);
		}
		if (echo_all(w))
			continue;
		now = netif_now_ns(&w->nif);
		if (lead && stats_ns && now >= next_stats) {
			uint64_t total = total_rx();
			if (total != printed) /* traffic since the last print */
				print_stats();
			printed = total;
			next_stats = now + stats_ns;
		}
		uint64_t timeout = lead && stats_ns ? next_stats - now : WAIT_FOREVER;
		if (lead && opt.exit_after && nworkers > 1 && timeout > 10 * NS_PER_MS)
			timeout = 10 * NS_PER_MS; /* watch the other workers' counts */
		rc = netif_wait(&w->nif, timeout);
		if (rc < 0)
			fatal("wait: %s", strerror(-rc));
	}
}

static void setup(struct worker *w)
{
	struct net_config cfg = {
	    .ip = opt.ip,
	    .netmask = opt.mask,
	    .gateway = opt.gw,
	    .udp_csum = NET_UDP_CSUM_FULL,
	};
	const uint8_t *mac;
	char ip[16], gw[16];
	int err;

	err = netif_open(&w->nif, opt.dev, w->qp, &cfg);
	/* A queue pair another process holds frees up when that process ends. */
	if (err == -EBUSY && opt.retry_sec)
		printf("echod: queue pair %u is busy; retrying for %u s\n", w->qp, opt.retry_sec);
	for (uint64_t give_up = mc_now_ns() + opt.retry_sec * NS_PER_SEC;
	     err == -EBUSY && mc_now_ns() < give_up;
	     err = netif_open(&w->nif, opt.dev, w->qp, &cfg))
		sys_wait(RETRY_WAIT_NS);
	if (err)
		fatal("net_attach %s qp %u: %s", opt.dev, w->qp, strerror(-err));
	w->open = true;
	if (!w->nif.clock.mult)
		printf("echod: %s; polling never times out\n",
		       w->nif.clock.ns0 ? "TSC does not advance" : "no monotonic clock");
	netif_set_poll_ns(&w->nif, opt.poll_us * NS_PER_US);
	netif_set_kick_wait(&w->nif, opt.kick_wait);
	if (opt.pause_burst >= 0)
		netif_set_pause_burst(&w->nif, (unsigned int)opt.pause_burst);
	if (opt.profile) {
		vnet_prof_start(&w->nif.vn);
		w->prof0 = w->nif.vn.prof;
		w->rx0 = w->nif.vn.stats.rx_packets;
	}
	err = netif_udp_open(&w->nif, opt.port, &w->ep);
	if (err)
		fatal("udp_bind %u: %s", opt.port, strerror(-err));
	if (!opt.queue)
		netif_udp_set_handler(w->ep, echo_one, w);
	mac = vnet_mac(&w->nif.vn);
	printf("echod: dev %s qp %u cpu %u mac %02x:%02x:%02x:%02x:%02x:%02x ip %s/%d gw %s "
	       "port %u\n",
	       opt.dev, w->qp, w->cpu, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5],
	       fmt_ip(opt.ip, ip, sizeof(ip)), mask_prefix(opt.mask),
	       fmt_ip(opt.gw, gw, sizeof(gw)), opt.port);
}

/* A worker thread: its queue pair, then tell the first thread it is ready. */
static void worker_main(void *arg)
{
	struct worker *w = arg;
	setup(w);
	mc_thread_wake(0, (uint64_t)(w - workers));
	serve(w);
}

/* One worker per owned core (the first on this thread's), up to --threads. */
static void plan_workers(void)
{
	uint64_t owned = mc_cpus_owned();
	unsigned int me = mc_cpu_now(), limit = opt.threads ? opt.threads : MAX_WORKERS;
	workers[0].cpu = me;
	nworkers = 1;
	for (unsigned int c = 0; c < 64 && nworkers < limit; c++) {
		if ((owned >> c & 1) && c != me)
			workers[nworkers++].cpu = c;
	}
	for (unsigned int i = 0; i < nworkers; i++)
		workers[i].qp = opt.qp + i;
}

/* Start the other workers and wait until each has its queue pair. */
static void start_workers(void)
{
	for (unsigned int i = 1; i < nworkers; i++) {
		if (mc_thread_start(workers[i].cpu, worker_main, &workers[i], 0) < 0)
			fatal("thread on cpu %u: %s", workers[i].cpu, strerror(errno));
	}
	for (unsigned int ready = 1; ready < nworkers;) {
		struct mc_event ev;
		while (mc_event_pop(&ev))
			ready += ev.type == EV_WAKE;
		if (ready < nworkers)
			sys_wait(WAIT_FOREVER);
	}
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	for (uint64_t end = mc_now_ns() + opt.delay_ms * NS_PER_MS, now; (now = mc_now_ns()) < end;)
		sys_wait(end - now);
	plan_workers();
	setup(&workers[0]);
	start_workers();
	if (nworkers > 1)
		printf("echod: %u workers on queue pairs %u-%u\n", nworkers, opt.qp,
		       opt.qp + nworkers - 1);
	printf("echod ready\n");
	serve(&workers[0]);
	return 0;
}
