/* tcpecho: a TCP echo server (and client) on netif's TCP, for tests from the guest and the host. */
#ifdef HOST_TEST
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define flush_out() fflush(stdout)
#else
#include <lib/string.h>
#include <mc/stdio.h>
#include <mc/stdlib.h>
#define flush_out() mc_flush()
#endif
#include <netif.h>
#include <uapi/syscall.h>

/*
 * Listeners, each with its own way of ending a connection, so the tests can
 * reach every close path from outside:
 *   port      echo; when the peer closes (EOF) and all is echoed, close too
 *             (the peer closes first: CLOSE-WAIT, LAST-ACK);
 *   port + 1  echo what the first read brings, then close first
 *             (FIN-WAIT-1, FIN-WAIT-2 or CLOSING, TIME-WAIT);
 *   port + 2  reset (RST) at the first data.
 * --connect IP:PORT --bytes N also opens a connection (active open) that
 * sends N bytes of a pattern, half-closes, reads until EOF and reports what
 * came back.
 */

#define NS_PER_MS  1000000ull
#define NS_PER_SEC 1000000000ull

enum mode { ECHO = 0, CLOSE_FIRST, RESET };

struct sess {
	struct tcp_conn *c;
	enum mode mode;
	bool client;
	uint64_t sent, got; /* client: bytes sent, bytes read back; server: echoed */
	uint32_t sum;	    /* client: a running checksum of what came back */
};

struct options {
	uint32_t ip, mask, gw;
	uint16_t port;
	unsigned int stats_sec;
	unsigned int backlog;
	uint32_t connect_ip;
	uint16_t connect_port;
	uint64_t bytes;
	long poll_us; /* -1: netif's default */
	bool nodelay;
	struct tcp_config tcp;
};

static struct options opt;
static struct netif nif;
static uint64_t echoed, sessions, sessions_now;

static void usage(void)
{
	printf("usage: tcpecho [--ip A.B.C.D] [--mask M] [--gw G] [--port N] [--stats SEC]\n"
	       "               [--backlog N] [--max-conns N] [--rcvbuf N] [--sndbuf N]\n"
	       "               [--time-wait-ms N] [--synack-retries N] [--nodelay] [--poll-us N]\n"
	       "               [--connect A.B.C.D:PORT --bytes N]\n");
	exit(2);
}

/* A dotted quad, ended by end_ch ('\0', or ':' before a port). */
static bool parse_ip(const char *s, char end_ch, uint32_t *out)
{
	uint32_t ip = 0;

	for (int i = 0; i < 4; i++) {
		char *end;
		unsigned long v = strtoul(s, &end, 10);

		if (end == s || v > 255 || *end != (i == 3 ? end_ch : '.'))
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
	opt.port = 7;
	opt.backlog = 128;
	opt.poll_us = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--nodelay")) {
			opt.nodelay = true;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--ip")) {
			if (!parse_ip(v, 0, &opt.ip))
				usage();
		} else if (!strcmp(a, "--mask")) {
			if (!parse_ip(v, 0, &opt.mask))
				usage();
		} else if (!strcmp(a, "--gw")) {
			if (!parse_ip(v, 0, &opt.gw))
				usage();
		} else if (!strcmp(a, "--port")) {
			opt.port = (uint16_t)num(v);
		} else if (!strcmp(a, "--stats")) {
			opt.stats_sec = (unsigned int)num(v);
		} else if (!strcmp(a, "--backlog")) {
			opt.backlog = (unsigned int)num(v);
		} else if (!strcmp(a, "--max-conns")) {
			opt.tcp.max_conns = (uint32_t)num(v);
		} else if (!strcmp(a, "--rcvbuf")) {
			opt.tcp.rcvbuf = (uint32_t)num(v);
		} else if (!strcmp(a, "--sndbuf")) {
			opt.tcp.sndbuf = (uint32_t)num(v);
		} else if (!strcmp(a, "--synack-retries")) {
			opt.tcp.synack_retries = (uint32_t)num(v);
		} else if (!strcmp(a, "--time-wait-ms")) {
			opt.tcp.time_wait_ns = num(v) * NS_PER_MS;
		} else if (!strcmp(a, "--poll-us")) {
			opt.poll_us = (long)num(v);
		} else if (!strcmp(a, "--bytes")) {
			opt.bytes = num(v);
		} else if (!strcmp(a, "--connect")) {
			const char *colon = strchr(v, ':');

			if (!colon || !parse_ip(v, ':', &opt.connect_ip))
				usage();
			opt.connect_port = (uint16_t)num(colon + 1);
		} else {
			usage();
		}
	}
}

static void print_stats(void)
{
	const struct tcp_stats *t = tcp_stats(&nif.stack);
	const struct net_stats *n = &nif.stack.stats;

	if (!t)
		return;
	printf("tcpecho: stats conns %lu established %lu time_wait %lu rx_held %lu snd_bytes %lu "
	       "snd_chunks %lu sessions %lu echoed %lu\n",
	       (unsigned long)t->conns, (unsigned long)t->established, (unsigned long)t->time_wait,
	       (unsigned long)t->rx_held, (unsigned long)t->snd_bytes, (unsigned long)t->snd_chunks,
	       (unsigned long)sessions_now, (unsigned long)echoed);
	printf("tcpecho: stats tcp passive %lu active %lu accepted %lu resets_rx %lu resets_tx %lu "
	       "timeouts %lu retransmits %lu rto %lu fast_rexmit %lu partial_acks %lu sack_rexmit "
	       "%lu lost_rexmit %lu ooo %lu "
	       "probes %lu challenge_acks %lu challenge_limited %lu cookies_tx %lu cookies_ok %lu "
	       "cookies_bad %lu syn_drops %lu wscale_clamped %lu tw_reused %lu no_conn_mem %lu\n",
	       (unsigned long)t->passive_opens, (unsigned long)t->active_opens,
	       (unsigned long)t->accepted, (unsigned long)t->resets_rx, (unsigned long)t->resets_tx,
	       (unsigned long)t->timeouts, (unsigned long)t->retransmits,
	       (unsigned long)t->rto_expiries, (unsigned long)t->fast_retransmits,
	       (unsigned long)t->partial_acks, (unsigned long)t->sack_retransmits,
	       (unsigned long)t->lost_retransmits, (unsigned long)t->ooo_segs,
	       (unsigned long)t->window_probes, (unsigned long)t->challenge_acks,
	       (unsigned long)t->challenge_limited, (unsigned long)t->syncookies_tx,
	       (unsigned long)t->syncookies_ok, (unsigned long)t->syncookies_bad,
	       (unsigned long)t->syn_backlog_drops, (unsigned long)t->wscale_clamped,
	       (unsigned long)t->tw_reused, (unsigned long)t->no_conn_mem);
	printf(
	    "tcpecho: stats drop %lu tcp_len %lu tcp_csum %lu tcp_opt %lu tcp_flags %lu "
	    "tcp_no_port %lu tcp_window %lu tcp_paws %lu tcp_ack %lu tcp_rst_ignored %lu "
	    "tcp_rst_challenged %lu tcp_syn_challenged %lu tcp_dup %lu tcp_no_mem %lu "
	    "tcp_ooo_full %lu tcp_listen_full %lu tcp_bad_cookie %lu tcp_closing %lu ip_csum %lu\n",
	    (unsigned long)n->rx_dropped, (unsigned long)n->rx_tcp_bad_len,
	    (unsigned long)n->rx_tcp_bad_csum, (unsigned long)n->rx_tcp_bad_opt,
	    (unsigned long)n->rx_tcp_bad_flags, (unsigned long)n->rx_tcp_no_port,
	    (unsigned long)n->rx_tcp_out_of_window, (unsigned long)n->rx_tcp_paws,
	    (unsigned long)n->rx_tcp_bad_ack, (unsigned long)n->rx_tcp_rst_ignored,
	    (unsigned long)n->rx_tcp_rst_challenged, (unsigned long)n->rx_tcp_syn_challenged,
	    (unsigned long)n->rx_tcp_dup_data, (unsigned long)n->rx_tcp_no_mem,
	    (unsigned long)n->rx_tcp_ooo_full, (unsigned long)n->rx_tcp_listen_full,
	    (unsigned long)n->rx_tcp_bad_cookie, (unsigned long)n->rx_tcp_closing,
	    (unsigned long)n->rx_ip_bad_csum);
	flush_out();
}

static void sess_end(struct sess *s)
{
	tcp_close(s->c);
	free(s);
	sessions_now--;
}

/* Echo what is readable, as far as the send buffer takes it; the rest waits (back-pressure). */
static void echo(struct sess *s)
{
	const uint8_t *p;
	size_t n;

	while ((n = tcp_peek(s->c, &p)) > 0) {
		long m = tcp_send(s->c, p, n);

		if (m <= 0)
			break;
		tcp_consume(s->c, (size_t)m);
		echoed += (uint64_t)m;
		s->got += (uint64_t)m;
		if ((size_t)m < n)
			break;
	}
}

/* The client: a pattern out, its echo back, checked. */
static uint8_t pattern(uint64_t i)
{
	return (uint8_t)(i * 131 + (i >> 10));
}

/* Returns true when the session has ended. */
static bool client_io(struct sess *s)
{
	uint8_t buf[1024];
	const uint8_t *p;
	size_t n;

	while (s->sent < opt.bytes) {
		size_t k =
		    opt.bytes - s->sent < sizeof(buf) ? (size_t)(opt.bytes - s->sent) : sizeof(buf);
		long m;

		for (size_t i = 0; i < k; i++)
			buf[i] = pattern(s->sent + i);
		m = tcp_send(s->c, buf, k);
		if (m <= 0)
			break;
		s->sent += (uint64_t)m;
		if (s->sent == opt.bytes)
			tcp_shutdown(s->c);
	}
	while ((n = tcp_peek(s->c, &p)) > 0) {
		for (size_t i = 0; i < n; i++) {
			if (p[i] != pattern(s->got + i))
				s->sum++;
		}
		s->got += n;
		tcp_consume(s->c, n);
	}
	if (!tcp_eof(s->c))
		return false;
	printf("tcpecho: client sent %lu got %lu mismatches %u\n", (unsigned long)s->sent,
	       (unsigned long)s->got, s->sum);
	sess_end(s);
	return true;
}

/*
 * Events come ORed: data and the end may arrive together (READ and CLOSED
 * when the peer's FIN takes us to TIME-WAIT), so read first.
 */
static void on_conn(struct sess *s, unsigned int events)
{
	if (!tcp_error(s->c)) {
		if (s->client) {
			if (client_io(s))
				return;
		} else if (s->mode == RESET && tcp_readable(s->c)) {
			tcp_abort(s->c);
			free(s);
			sessions_now--;
			return;
		} else {
			echo(s);
			/* Close first; or the peer is done and all it sent is echoed. */
			if ((s->mode == CLOSE_FIRST && s->got && !tcp_readable(s->c)) ||
			    tcp_eof(s->c)) {
				sess_end(s);
				return;
			}
		}
	}
	if (events & TCP_EV_CLOSED) {
		if (s->client)
			printf("tcpecho: client closed: error %d\n", tcp_error(s->c));
		sess_end(s);
	}
}

static void on_accept(struct tcp_listener *l, enum mode mode)
{
	struct tcp_conn *c;

	while (tcp_accept(l, &c)) {
		struct sess *s = calloc(1, sizeof(*s));

		if (!s) {
			tcp_abort(c);
			continue;
		}
		s->c = c;
		s->mode = mode;
		tcp_set_user(c, s);
		if (opt.nodelay)
			tcp_set_nodelay(c, true);
		sessions++;
		sessions_now++;
		on_conn(s, TCP_EV_READ);
	}
}

int main(int argc, char **argv)
{
	struct net_config cfg = {.udp_csum = NET_UDP_CSUM_FULL};
	struct tcp_listener *l[3];
	uint64_t next_stats = 0;
	int err;

	parse_args(argc, argv);
	cfg.ip = opt.ip;
	cfg.netmask = opt.mask;
	cfg.gateway = opt.gw;
	err = netif_open(&nif, "eth0", 0, &cfg);
	if (err) {
		printf("tcpecho: netif_open: %d\n", err);
		return 1;
	}
	if (opt.poll_us >= 0)
		netif_set_poll_ns(&nif, (uint64_t)opt.poll_us * 1000);
	err = netif_tcp_init(&nif, &opt.tcp);
	for (int i = 0; i < 3 && !err; i++) {
		err = netif_tcp_listen(&nif, (uint16_t)(opt.port + i), opt.backlog, &l[i]);
		if (!err)
			tcp_listener_set_user(l[i], (void *)(uintptr_t)i);
	}
	if (err) {
		printf("tcpecho: listen: %d\n", err);
		return 1;
	}
	if (opt.connect_ip) {
		struct sess *s = calloc(1, sizeof(*s));

		err = netif_tcp_connect(&nif, opt.connect_ip, opt.connect_port, &s->c);
		if (err) {
			printf("tcpecho: connect: %d\n", err);
			return 1;
		}
		s->client = true;
		tcp_set_user(s->c, s);
		sessions_now++;
	}
	printf("tcpecho ready on port %u\n", opt.port);
	flush_out();
	for (;;) {
		struct tcp_event ev;
		uint64_t now;

		while (netif_tcp_next(&nif, &ev)) {
			if (ev.lis)
				on_accept(ev.lis, (enum mode)(uintptr_t)ev.user);
			else if (ev.user)
				on_conn(ev.user, ev.events);
		}
		now = netif_now_ns(&nif);
		if (opt.stats_sec && now >= next_stats) {
			print_stats();
			next_stats = now + opt.stats_sec * NS_PER_SEC;
		}
		err = netif_wait(&nif, opt.stats_sec ? next_stats - now : WAIT_FOREVER);
		if (err < 0) {
			printf("tcpecho: wait: %d\n", err);
			return 1;
		}
	}
}
