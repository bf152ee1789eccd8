/* kvd: the memcached-protocol server, the kvd engine served over netif's TCP. */
#include <lib/string.h>
#include <mc/errno.h>
#include <mc/event.h>
#include <mc/runtime.h>
#include <mc/stdio.h>
#include <mc/stdlib.h>
#include <mc/sys.h>
#include <mc/thread.h>
#include <netif.h>

#include "kvd.h"

/*
 *   kvd [--port N] [-m MB] [--ip A.B.C.D] [--mask M] [--gw G] [--backlog N]
 *       [--max-conns N] [--stats SEC] [--qp N] [--threads N] [--poll-us N]
 *
 * One worker per owned core (cpus= in the manifest), each on its own queue
 * pair (--qp, --qp + 1, ...) with its own netif, TCP stack, listener and
 * connections: a connection lives on the core whose queue its flow hashes
 * to (the NIC's RSS or the multiqueue tap steers it) and is never touched
 * by another. All workers serve one key space: each is a kvd_worker of one
 * store, which locks only the key's hash stripe on the GET path. Nothing
 * else writable is shared but the heap (locked) and the counters the first
 * worker reads for --stats.
 *
 * Item memory (-m, default 64 MiB) comes from vmspace_alloc in 1 MiB
 * regions inside the manifest's mem= budget; if mem= runs out first the
 * cache stops growing there and evicts. The engine reads no clock: every
 * wake-up hands it netif's TSC time (the same on every core: the kernel's
 * TSC rate, AT_MC_TSC_HZ). The guest has no wall clock yet, so absolute
 * expiration times (over 30 days) count from boot.
 */

#define NS_PER_SEC  1000000000ull
#define NS_PER_US   1000ull
#define IOV_BATCH   16
#define MAX_WORKERS 8

struct worker;

struct session {
	struct tcp_conn *tc;
	struct kvd_conn *kc;
	struct worker *w;
};

/* One per core and queue pair; only its own thread writes it. */
struct worker {
	struct netif nif;
	struct kvd_worker *kw;
	struct tcp_listener *lis;
	unsigned int id, qp, cpu;
	uint64_t sessions_now, sessions_total, refused;
} __attribute__((aligned(64)));

struct options {
	uint32_t ip, mask, gw;
	uint16_t port;
	unsigned int backlog, stats_sec, qp, threads;
	unsigned int poll_us; /* netif_wait's poll window; default netif's (NETIF_POLL_NS) */
	size_t mem_mb;
	struct tcp_config tcp;
};

static struct options opt;
static struct kvd_store *store;
static struct worker workers[MAX_WORKERS];
static unsigned int nworkers;

__attribute__((noreturn)) static void usage(void)
{
	printf("usage: kvd [--port N] [-m MB] [--ip A.B.C.D] [--mask M] [--gw G] [--backlog N]\n"
	       "           [--max-conns N] [--stats SEC] [--qp N] [--threads N] [--poll-us N]\n");
	exit(2);
}

static bool parse_ip(const char *s, uint32_t *out)
{
	uint32_t ip = 0;

	for (int i = 0; i < 4; i++) {
		char *end;
		unsigned long v = strtoul(s, &end, 10);

		if (end == s || v > 255 || *end != (i == 3 ? '\0' : '.'))
			return false;
		ip = ip << 8 | (uint32_t)v;
		s = end + 1;
	}
	*out = ip;
	return true;
}

static unsigned long num(const char *s, unsigned long max)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (end == s || *end || v > max)
		usage();
	return v;
}

static void parse_args(int argc, char **argv)
{
	opt.ip = 0x0a00020f; /* 10.0.2.15: QEMU user networking's guest */
	opt.mask = 0xffffff00;
	opt.gw = 0x0a000202;
	opt.port = 11211;
	opt.backlog = 1024;
	opt.mem_mb = 64;
	opt.poll_us = NETIF_POLL_NS / NS_PER_US;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--port"))
			opt.port = (uint16_t)num(v, 65535);
		else if (!strcmp(a, "-m"))
			opt.mem_mb = num(v, 1ul << 20);
		else if (!strcmp(a, "--ip") && parse_ip(v, &opt.ip))
			;
		else if (!strcmp(a, "--mask") && parse_ip(v, &opt.mask))
			;
		else if (!strcmp(a, "--gw") && parse_ip(v, &opt.gw))
			;
		else if (!strcmp(a, "--backlog"))
			opt.backlog = (unsigned int)num(v, 1u << 20);
		else if (!strcmp(a, "--max-conns"))
			opt.tcp.max_conns = (uint32_t)num(v, 1u << 24);
		else if (!strcmp(a, "--stats"))
			opt.stats_sec = (unsigned int)num(v, 86400);
		else if (!strcmp(a, "--poll-us"))
			opt.poll_us = (unsigned int)num(v, 10000000);
		else if (!strcmp(a, "--qp"))
			opt.qp = (unsigned int)num(v, 255);
		else if (!strcmp(a, "--threads") &&
			 (opt.threads = (unsigned int)num(v, MAX_WORKERS)))
			;
		else
			usage();
	}
}

static void *region_alloc(size_t len)
{
	return vmspace_alloc(len, PROT_READ | PROT_WRITE);
}

static void session_end(struct session *s, bool abort)
{
	tcp_set_user(s->tc, NULL); /* no event may find the freed session */
	if (abort)
		tcp_abort(s->tc);
	else
		tcp_close(s->tc);
	kvd_conn_close(s->kc);
	s->w->sessions_now--;
	free(s);
}

/* Replies into the send buffer as far as it takes them; false on a broken connection. */
static bool send_out(struct session *s)
{
	struct kvd_iov iov[IOV_BATCH];

	while (kvd_conn_pending(s->kc)) {
		unsigned int n = kvd_conn_output(s->kc, iov, IOV_BATCH);
		size_t sent = 0;
		bool full = false;

		for (unsigned int i = 0; i < n && !full; i++) {
			long m = tcp_send(s->tc, iov[i].base, iov[i].len);

			if (m < 0) {
				kvd_conn_output_done(s->kc, sent);
				return false;
			}
			sent += (size_t)m;
			full = (size_t)m < iov[i].len; /* TCP_EV_WRITE brings us back */
		}
		kvd_conn_output_done(s->kc, sent);
		if (full || !n)
			break;
	}
	return true;
}

/*
 * Move bytes both ways: requests straight from the receive buffers (zero
 * copy; what the engine does not take stays there and closes the window),
 * replies into the send buffer. Ends the session when the engine wants to
 * close or the peer has finished and been answered.
 */
static void serve(struct session *s)
{
	const uint8_t *p;
	size_t n;

	kvd_worker_clock(s->w->kw, netif_now_ns(&s->w->nif), 0);
	for (;;) {
		bool progress = false;

		while ((n = tcp_peek(s->tc, &p)) > 0) {
			size_t used = kvd_conn_input(s->kc, p, n);

			tcp_consume(s->tc, used);
			progress |= used > 0;
			if (used < n)
				break;
		}
		size_t before = kvd_conn_pending(s->kc);
		if (!send_out(s)) {
			session_end(s, true);
			return;
		}
		progress |= kvd_conn_pending(s->kc) < before;
		if (kvd_conn_want_close(s->kc) && !kvd_conn_pending(s->kc)) {
			session_end(s, false);
			return;
		}
		if (!progress || !tcp_readable(s->tc))
			break;
	}
	if (tcp_eof(s->tc) && !tcp_readable(s->tc) && !kvd_conn_pending(s->kc))
		session_end(s, false);
}

static void on_accept(struct worker *w, struct tcp_listener *l)
{
	struct tcp_conn *c;

	while (tcp_accept(l, &c)) {
		struct session *s = calloc(1, sizeof(*s));

		if (s)
			s->kc = kvd_conn_open(w->kw);
		if (!s || !s->kc) {
			free(s);
			tcp_abort(c);
			w->refused++;
			continue;
		}
		s->tc = c;
		s->w = w;
		tcp_set_user(c, s);
		tcp_set_nodelay(c, true); /* a reply is complete when it is queued */
		w->sessions_now++;
		w->sessions_total++;
		serve(s);
	}
}

static uint64_t peek_u64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/*
 * The transmit side and the waits, summed over the workers (a snapshot):
 * frames waiting in netif for TX room, frames in the TX ring, frames
 * dropped for want of room, frames sent; TCP's resends and timeouts, out
 * of order data given up; sleeps in the wait system call and interrupt
 * arms. Where a latency tail or a stall comes from.
 */
static void print_path_stats(void)
{
	uint64_t queued = 0, posted = 0, dropped = 0, sent = 0, resent = 0, rto = 0, reneged = 0,
		 wakeups = 0, arms = 0;

	for (unsigned int i = 0; i < nworkers; i++) {
		const struct netif *nif = &workers[i].nif;
		const struct tcp_stats *t = tcp_stats(&nif->stack);

		queued += __atomic_load_n(&nif->ntx, __ATOMIC_RELAXED);
		posted += virtq_inflight(&nif->vn.tx);
		dropped += peek_u64(&nif->stats.tx_dropped);
		sent += peek_u64(&nif->vn.stats.tx_packets);
		resent += t ? peek_u64(&t->retransmits) : 0;
		rto += t ? peek_u64(&t->rto_expiries) : 0;
		reneged += t ? peek_u64(&t->ooo_reneged) : 0;
		wakeups += peek_u64(&nif->stats.wakeups);
		arms += peek_u64(&nif->vn.stats.irq_arms);
	}
	printf("kvd: stats path tx_queued %lu tx_posted %lu tx_dropped %lu tx_packets %lu "
	       "retransmits %lu rto_expiries %lu ooo_reneged %lu wakeups %lu irq_arms %lu\n",
	       queued, posted, dropped, sent, resent, rto, reneged, wakeups, arms);
}

/*
 * The engine's counters, merged, as `stats` gives them; then with several
 * workers one line each: which queue pair and core, the sessions it has
 * served and the requests its connections made (read while they run: a
 * snapshot).
 */
static void print_stats(void)
{
	struct kvd_conn *c = kvd_conn_open(workers[0].kw);
	uint64_t sessions = 0, refused = 0, conns = 0, established = 0, rx_held = 0, snd = 0;
	uint64_t nfree = 0, rx_in_ring = 0, deferred = 0, no_bufs = 0, ooo = 0, no_mem = 0,
		 ooo_full = 0, rx = 0;
	static char buf[8192];
	size_t n;

	if (!c)
		return;
	kvd_conn_input(c, "stats\r\n", 7);
	n = kvd_conn_output_copy(c, buf, sizeof(buf) - 1);
	buf[n] = 0;
	kvd_conn_close(c);
	for (unsigned int i = 0; i < nworkers; i++) {
		const struct tcp_stats *t = tcp_stats(&workers[i].nif.stack);

		sessions += peek_u64(&workers[i].sessions_now);
		refused += peek_u64(&workers[i].refused);
		conns += t ? peek_u64(&t->conns) : 0;
		established += t ? peek_u64(&t->established) : 0;
		rx_held += t ? peek_u64(&t->rx_held) : 0;
		ooo += t ? peek_u64(&t->ooo_held) : 0;
		no_mem += peek_u64(&workers[i].nif.stack.stats.rx_tcp_no_mem);
		ooo_full += peek_u64(&workers[i].nif.stack.stats.rx_tcp_ooo_full);
		rx += peek_u64(&workers[i].nif.vn.stats.rx_packets);
		snd += t ? peek_u64(&t->snd_bytes) : 0;
		nfree += __atomic_load_n(&workers[i].nif.vn.nfree, __ATOMIC_RELAXED);
		rx_in_ring += virtq_inflight(&workers[i].nif.vn.rx);
		deferred += peek_u64(&workers[i].nif.stats.rx_deferred);
		no_bufs += peek_u64(&workers[i].nif.vn.stats.no_buffers);
	}
	/* one line: the engine's counters that tell health, then TCP's gauges */
	/* where the pool's buffers are: TCP's receive queues, free, in the RX ring */
	printf("kvd: stats buffers rx_held %lu ooo_held %lu snd_bytes %lu free %lu rx_posted %lu "
	       "rx_deferred %lu no_buffers %lu rx_packets %lu rx_tcp_no_mem %lu "
	       "rx_tcp_ooo_full %lu\n",
	       rx_held, ooo, snd, nfree, rx_in_ring, deferred, no_bufs, rx, no_mem, ooo_full);
	print_path_stats();
	printf("kvd: stats sessions %lu refused %lu tcp_conns %lu established %lu", sessions,
	       refused, conns, established);
	for (char *line = buf; *line;) {
		char *eol = line;

		while (*eol && *eol != '\r')
			eol++;
		if (!strncmp(line, "STAT curr_items ", 16) ||
		    !strncmp(line, "STAT evictions ", 15) || !strncmp(line, "STAT cmd_get ", 13) ||
		    !strncmp(line, "STAT cmd_set ", 13) || !strncmp(line, "STAT bytes ", 11) ||
		    !strncmp(line, "STAT get_hits ", 14) ||
		    !strncmp(line, "STAT curr_connections ", 22) ||
		    !strncmp(line, "STAT kvd_err_", 13))
			printf(" %.*s", (int)(eol - line - 5), line + 5);
		line = *eol ? eol + 2 : eol;
	}
	printf("\n");
	for (unsigned int i = 0; nworkers > 1 && i < nworkers; i++) {
		struct worker *w = &workers[i];
		struct kvd_worker_stats ws;

		kvd_worker_stats(w->kw, &ws);
		printf("kvd: stats worker %u queue %u cpu %u sessions %lu total %lu rx %lu "
		       "cmd_get %lu get_hits %lu cmd_set %lu\n",
		       w->id, w->qp, w->cpu, peek_u64(&w->sessions_now),
		       peek_u64(&w->sessions_total), peek_u64(&w->nif.vn.stats.rx_packets),
		       ws.cmd_get, ws.get_hits, ws.cmd_set);
	}
	mc_flush();
}

__attribute__((noreturn, format(printf, 1, 2))) static void fatal(const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("kvd: %s\n", msg); /* one call: other workers may be printing */
	exit(1);
}

/* Attach this worker's queue pair and listen on it; called on its own core. */
static void setup(struct worker *w)
{
	struct net_config cfg = {.udp_csum = NET_UDP_CSUM_FULL};
	int err;

	cfg.ip = opt.ip;
	cfg.netmask = opt.mask;
	cfg.gateway = opt.gw;
	err = netif_open(&w->nif, "eth0", w->qp, &cfg);
	if (err)
		fatal("netif_open queue pair %u: %d", w->qp, err);
	netif_set_poll_ns(&w->nif, opt.poll_us * NS_PER_US);
	err = netif_tcp_init(&w->nif, &opt.tcp);
	if (!err)
		err = netif_tcp_listen(&w->nif, opt.port, opt.backlog, &w->lis);
	if (err)
		fatal("listen on %u (queue pair %u): %d", opt.port, w->qp, err);
}

/* Serve this worker's connections until the process ends. */
__attribute__((noreturn)) static void run(struct worker *w)
{
	bool lead = w == &workers[0];
	uint64_t next_stats = 0;

	for (;;) {
		struct tcp_event ev;
		uint64_t now;
		int err;

		while (netif_tcp_next(&w->nif, &ev)) {
			if (ev.lis) {
				on_accept(w, ev.lis);
			} else if (ev.user) {
				struct session *s = ev.user;

				if (ev.events & TCP_EV_CLOSED)
					session_end(s, false);
				else
					serve(s);
			}
		}
		now = netif_now_ns(&w->nif);
		if (lead && opt.stats_sec && now >= next_stats) {
			print_stats();
			next_stats = now + opt.stats_sec * NS_PER_SEC;
		}
		err = netif_wait(&w->nif, lead && opt.stats_sec ? next_stats - now : WAIT_FOREVER);
		if (err < 0)
			fatal("wait on queue pair %u: %d", w->qp, err);
	}
}

static void worker_main(void *arg)
{
	struct worker *w = arg;

	setup(w);
	mc_thread_wake(0, w->id);
	run(w);
}

/* One worker per owned core (the first on this thread's), up to --threads. */
static void plan_workers(void)
{
	uint64_t owned = mc_cpus_owned();
	unsigned int me = mc_cpu_now(), limit = opt.threads ? opt.threads : MAX_WORKERS;

	workers[0].cpu = me;
	nworkers = 1;
	for (unsigned int c = 0; c < 64 && nworkers < limit; c++)
		if ((owned >> c & 1) && c != me)
			workers[nworkers++].cpu = c;
	for (unsigned int i = 0; i < nworkers; i++) {
		workers[i].id = i;
		workers[i].qp = opt.qp + i;
	}
}

static void create_store(void)
{
	const uint8_t *rnd = mc_random_bytes();
	struct kvd_config kc = {0};
	int err;

	kc.workers = nworkers;
	kc.maxbytes = opt.mem_mb << 20;
	kc.start_mono_ns = mc_now_ns();
	kc.pid = (uint32_t)getpid();
	kc.tcp_port = opt.port;
	kc.max_conns = opt.tcp.max_conns;
	kc.region_alloc = region_alloc;
	if (rnd)
		memcpy(&kc.seed, rnd, sizeof(kc.seed));
	err = kvd_store_create(&kc, &store);
	if (err)
		fatal("kvd_store_create: %d", err);
	for (unsigned int i = 0; i < nworkers; i++)
		workers[i].kw = kvd_store_worker(store, i);
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	plan_workers();
	create_store();
	setup(&workers[0]);
	for (unsigned int i = 1; i < nworkers; i++)
		if (mc_thread_start(workers[i].cpu, worker_main, &workers[i], 0) < 0)
			fatal("thread on cpu %u: %s", workers[i].cpu, strerror(errno));
	for (unsigned int ready = 1; ready < nworkers;) {
		struct mc_event ev;

		while (mc_event_pop(&ev))
			ready += ev.type == EV_WAKE;
		if (ready < nworkers)
			sys_wait(WAIT_FOREVER);
	}
	if (nworkers > 1)
		printf("kvd: %u workers on queue pairs %u-%u\n", nworkers, opt.qp,
		       opt.qp + nworkers - 1);
	printf("kvd ready on port %u, %lu MiB for items\n", opt.port, (unsigned long)opt.mem_mb);
	mc_flush();
	run(&workers[0]);
}
