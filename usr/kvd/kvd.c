/* kvd: the memcached-protocol server, the kvd engine served over netif's TCP. */
#include <lib/string.h>
#include <mc/errno.h>
#include <mc/runtime.h>
#include <mc/stdio.h>
#include <mc/stdlib.h>
#include <mc/sys.h>
#include <netif.h>

#include "kvd.h"

/*
 *   kvd [--port N] [-m MB] [--ip A.B.C.D] [--mask M] [--gw G] [--backlog N]
 *       [--max-conns N] [--stats SEC]
 *
 * One core, one queue pair, one kvd worker today; the engine is ready for
 * one worker per core when the process gets several (each core its own
 * queue pair, its own connections, all sharing the store). Item memory (-m,
 * default 64 MiB) comes from vmspace_alloc in 1 MiB regions inside the
 * manifest's mem= budget; if mem= runs out first the cache stops growing
 * there and evicts. The engine reads no clock: every wake-up hands it
 * netif's TSC time. The guest has no wall clock yet, so absolute
 * expiration times (over 30 days) count from boot.
 */

#define NS_PER_SEC 1000000000ull
#define IOV_BATCH  16

struct session {
	struct tcp_conn *tc;
	struct kvd_conn *kc;
};

struct options {
	uint32_t ip, mask, gw;
	uint16_t port;
	unsigned int backlog, stats_sec;
	size_t mem_mb;
	struct tcp_config tcp;
};

static struct options opt;
static struct netif nif;
static struct kvd_store *store;
static struct kvd_worker *worker;
static uint64_t sessions_now, refused;

static void usage(void)
{
	printf("usage: kvd [--port N] [-m MB] [--ip A.B.C.D] [--mask M] [--gw G] [--backlog N]\n"
	       "           [--max-conns N] [--stats SEC]\n");
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

static unsigned long num(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (end == s || *end)
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
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--port"))
			opt.port = (uint16_t)num(v);
		else if (!strcmp(a, "-m"))
			opt.mem_mb = num(v);
		else if (!strcmp(a, "--ip") && parse_ip(v, &opt.ip))
			;
		else if (!strcmp(a, "--mask") && parse_ip(v, &opt.mask))
			;
		else if (!strcmp(a, "--gw") && parse_ip(v, &opt.gw))
			;
		else if (!strcmp(a, "--backlog"))
			opt.backlog = (unsigned int)num(v);
		else if (!strcmp(a, "--max-conns"))
			opt.tcp.max_conns = (uint32_t)num(v);
		else if (!strcmp(a, "--stats"))
			opt.stats_sec = (unsigned int)num(v);
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
	free(s);
	sessions_now--;
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

	kvd_worker_clock(worker, netif_now_ns(&nif), 0);
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

static void on_accept(struct tcp_listener *l)
{
	struct tcp_conn *c;

	while (tcp_accept(l, &c)) {
		struct session *s = calloc(1, sizeof(*s));

		if (s)
			s->kc = kvd_conn_open(worker);
		if (!s || !s->kc) {
			free(s);
			tcp_abort(c);
			refused++;
			continue;
		}
		s->tc = c;
		tcp_set_user(c, s);
		tcp_set_nodelay(c, true); /* a reply is complete when it is queued */
		sessions_now++;
		serve(s);
	}
}

static void print_stats(void)
{
	struct kvd_conn *c = kvd_conn_open(worker);
	const struct tcp_stats *t = tcp_stats(&nif.stack);
	static char buf[8192];
	size_t n;

	if (!c)
		return;
	kvd_conn_input(c, "stats\r\n", 7);
	n = kvd_conn_output_copy(c, buf, sizeof(buf) - 1);
	buf[n] = 0;
	kvd_conn_close(c);
	/* one line: the engine's counters that tell health, then TCP's gauges */
	printf("kvd: stats sessions %lu refused %lu tcp_conns %lu established %lu", sessions_now,
	       refused, t ? (unsigned long)t->conns : 0, t ? (unsigned long)t->established : 0);
	for (char *line = buf; *line;) {
		char *eol = line;

		while (*eol && *eol != '\r')
			eol++;
		if (!strncmp(line, "STAT curr_items ", 16) ||
		    !strncmp(line, "STAT evictions ", 15) || !strncmp(line, "STAT cmd_get ", 13) ||
		    !strncmp(line, "STAT cmd_set ", 13) || !strncmp(line, "STAT bytes ", 11) ||
		    !strncmp(line, "STAT curr_connections ", 22) ||
		    !strncmp(line, "STAT kvd_err_", 13))
			printf(" %.*s", (int)(eol - line - 5), line + 5);
		line = *eol ? eol + 2 : eol;
	}
	printf("\n");
	mc_flush();
}

int main(int argc, char **argv)
{
	struct net_config cfg = {.udp_csum = NET_UDP_CSUM_FULL};
	struct kvd_config kc = {.workers = 1};
	const uint8_t *rnd = mc_random_bytes();
	struct tcp_listener *l;
	uint64_t next_stats = 0;
	int err;

	parse_args(argc, argv);
	cfg.ip = opt.ip;
	cfg.netmask = opt.mask;
	cfg.gateway = opt.gw;
	err = netif_open(&nif, "eth0", 0, &cfg);
	if (err) {
		printf("kvd: netif_open: %d\n", err);
		return 1;
	}
	kc.maxbytes = opt.mem_mb << 20;
	kc.start_mono_ns = netif_now_ns(&nif);
	kc.pid = (uint32_t)getpid();
	kc.tcp_port = opt.port;
	kc.max_conns = opt.tcp.max_conns;
	kc.region_alloc = region_alloc;
	if (rnd)
		memcpy(&kc.seed, rnd, sizeof(kc.seed));
	err = kvd_store_create(&kc, &store);
	if (err) {
		printf("kvd: kvd_store_create: %d\n", err);
		return 1;
	}
	worker = kvd_store_worker(store, 0);
	err = netif_tcp_init(&nif, &opt.tcp);
	if (!err)
		err = netif_tcp_listen(&nif, opt.port, opt.backlog, &l);
	if (err) {
		printf("kvd: listen on %u: %d\n", opt.port, err);
		return 1;
	}
	printf("kvd ready on port %u, %lu MiB for items\n", opt.port, (unsigned long)opt.mem_mb);
	mc_flush();
	for (;;) {
		struct tcp_event ev;
		uint64_t now;

		while (netif_tcp_next(&nif, &ev)) {
			if (ev.lis) {
				on_accept(ev.lis);
			} else if (ev.user) {
				struct session *s = ev.user;

				if (ev.events & TCP_EV_CLOSED)
					session_end(s, false);
				else
					serve(s);
			}
		}
		now = netif_now_ns(&nif);
		if (opt.stats_sec && now >= next_stats) {
			print_stats();
			next_stats = now + opt.stats_sec * NS_PER_SEC;
		}
		err = netif_wait(&nif, opt.stats_sec ? next_stats - now : WAIT_FOREVER);
		if (err < 0) {
			printf("kvd: wait: %d\n", err);
			return 1;
		}
	}
}
