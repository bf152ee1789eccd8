/*
 * kv-load: a memcached text-protocol load generator for the key-value
 * benchmark (bench/kv.py), with per-request latency.
 *
 *   kv-load -a ADDR [-p PORT] -m MODE [-c CONNS] [-t SECONDS] [-W WARMUP]
 *           [-g GET_FRACTION] [-s VALUE_SIZE] [-k KEYS] [-w WINDOW] [-r RATE]
 *           [-S SEED]
 *
 * Modes:
 *   preload  set keys 0..KEYS-1 (VALUE_SIZE bytes each) over CONNS
 *            connections, WINDOW requests in flight on each; so GETs hit
 *   closed   each of CONNS connections keeps WINDOW requests in flight
 *            (pipelined: memcached answers in order); a reply sends the next
 *   open     requests arrive at RATE per second in all (exponential gaps,
 *            so a Poisson process), each on the next connection in turn,
 *            whether or not earlier ones were answered: the latency of a
 *            request runs from when it was due, so a server that falls
 *            behind is charged for the wait (no coordinated omission)
 *   connect  CONNS at once, each a cycle of: connect, one GET, its reply,
 *            close; a finished cycle starts the next
 *
 * Requests: a key drawn uniformly from KEYS ("key:%08u"), GET with
 * probability GET_FRACTION, else SET of VALUE_SIZE bytes. Latencies of
 * requests due after WARMUP seconds are measured over SECONDS; requests
 * still unanswered at the end count with the time they have waited so far.
 *
 * Output, one line of key=value pairs:
 *   mode= conns= offered= rate= done= errors= misses= unanswered=
 *   p50_us= p90_us= p99_us= p999_us= max_us=
 * rate: replies (or, for connect, cycles) per second in the measured span;
 * errors: ERROR/CLIENT_ERROR/SERVER_ERROR replies and failed connections;
 * misses: GETs answered END without a value.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS  4096
#define MAX_VALUE  (64 * 1024)
#define HIST_US	   2000000 /* 1 µs buckets up to 2 s; slower lands in the last */
#define RBUF	   (256 * 1024)
#define FIFO	   8192 /* requests in flight on one connection, at most */
#define NS_PER_SEC 1000000000ull
#define DRAIN_S	   20 /* at most this long for a backlog's replies after the run */

enum mode { M_PRELOAD, M_CLOSED, M_OPEN, M_CONNECT };
enum kind { R_GET, R_SET };

struct conn {
	int fd;
	bool connecting;
	/* output not yet written */
	char *out;
	size_t olen, ocap, ooff;
	/* input being parsed */
	char *in;
	size_t ilen;
	long value_left; /* >= 0: bytes of a VALUE body (with its \r\n) to skip */
	bool hit;	 /* the GET being answered had a VALUE */
	/* requests in flight, oldest first */
	uint64_t due[FIFO];
	uint8_t kind[FIFO];
	unsigned int head, tail;
	uint64_t cycle_start; /* connect mode */
};

static struct {
	const char *addr;
	int port, conns, keys, size, window;
	double seconds, warmup, get_frac, rate;
	enum mode mode;
	unsigned int seed;
} opt = {.port = 11211,
	 .conns = 32,
	 .keys = 10000,
	 .size = 64,
	 .window = 1,
	 .seconds = 5,
	 .warmup = 0.5,
	 .get_frac = 0.9};

static struct conn *conns;
static int ep;
static struct sockaddr_in dst;
static char value[MAX_VALUE + 2];
static uint64_t hist[HIST_US + 1];
static uint64_t t_measure, t_end; /* the measured span [t_measure, t_end) */
static uint64_t done, errors, misses, issued, unanswered, t_drain;
static uint64_t rng_state;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static double rnd_unit(void)
{
	return (double)(rnd() >> 11) / (double)(1ull << 53);
}

static __attribute__((noreturn)) void die(const char *what)
{
	fprintf(stderr, "kv-load: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: kv-load -a ADDR [-p PORT] -m preload|closed|open|connect "
			"[-c CONNS] [-t SECONDS]\n"
			"               [-W WARMUP] [-g GET_FRACTION] [-s VALUE_SIZE] [-k KEYS] "
			"[-w WINDOW] [-r RATE] [-S SEED]\n");
	exit(2);
}

static void record(uint64_t due, uint64_t now)
{
	uint64_t us = now > due ? (now - due) / 1000 : 0;

	if (due < t_measure || due >= t_end)
		return;
	hist[us < HIST_US ? us : HIST_US]++;
}

static void out_append(struct conn *c, const void *p, size_t n)
{
	if (c->olen + n > c->ocap) {
		if (c->ooff) { /* compact first */
			memmove(c->out, c->out + c->ooff, c->olen - c->ooff);
			c->olen -= c->ooff;
			c->ooff = 0;
		}
		while (c->olen + n > c->ocap)
			c->ocap = c->ocap ? 2 * c->ocap : 4096;
		c->out = realloc(c->out, c->ocap);
		if (!c->out)
			die("realloc");
	}
	memcpy(c->out + c->olen, p, n);
	c->olen += n;
}

static void watch(struct conn *c, bool want_out)
{
	struct epoll_event e = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0),
				.data.ptr = c};

	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e) < 0)
		die("epoll_ctl");
}

/* Write what is queued; false when the connection broke. */
static bool flush_out(struct conn *c)
{
	while (c->ooff < c->olen) {
		ssize_t n = send(c->fd, c->out + c->ooff, c->olen - c->ooff, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN) {
				watch(c, true);
				return true;
			}
			return false;
		}
		c->ooff += (size_t)n;
	}
	c->ooff = c->olen = 0;
	return true;
}

/* Queue one request due at `due`; false when this connection has too many in flight. */
static bool request(struct conn *c, enum kind k, unsigned int key, uint64_t due)
{
	char line[96];
	int n;

	if (c->tail - c->head == FIFO)
		return false;
	if (k == R_GET)
		n = snprintf(line, sizeof(line), "get key:%08u\r\n", key);
	else
		n = snprintf(line, sizeof(line), "set key:%08u 0 0 %d\r\n", key, opt.size);
	out_append(c, line, (size_t)n);
	if (k == R_SET)
		out_append(c, value, (size_t)opt.size + 2);
	c->due[c->tail % FIFO] = due;
	c->kind[c->tail % FIFO] = (uint8_t)k;
	c->tail++;
	issued++;
	return true;
}

static void random_request(struct conn *c, uint64_t due)
{
	enum kind k = rnd_unit() < opt.get_frac ? R_GET : R_SET;

	request(c, k, (unsigned int)(rnd() % (uint64_t)opt.keys), due);
}

static int open_conn(struct conn *c)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
	struct epoll_event e = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};

	if (fd < 0)
		die("socket");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 && errno != EINPROGRESS)
		die("connect");
	c->fd = fd;
	c->connecting = true;
	c->ilen = 0;
	c->value_left = -1;
	c->head = c->tail = 0;
	c->olen = c->ooff = 0;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0)
		die("epoll_ctl");
	return fd;
}

static void close_conn(struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
}

static void completed(struct conn *c, bool error, uint64_t now);

/* Parse replies (memcached protocol.txt); each complete one ends its request. */
static void parse(struct conn *c, uint64_t now)
{
	size_t pos = 0;

	for (;;) {
		if (c->value_left >= 0) {
			size_t n = c->ilen - pos;

			if ((size_t)c->value_left > n) {
				c->value_left -= (long)n;
				pos = c->ilen;
				break;
			}
			pos += (size_t)c->value_left;
			c->value_left = -1;
			continue;
		}
		char *eol = memmem(c->in + pos, c->ilen - pos, "\r\n", 2);
		if (!eol)
			break;
		char *line = c->in + pos;
		size_t len = (size_t)(eol - line);

		pos += len + 2;
		if (len > 6 && !memcmp(line, "VALUE ", 6)) {
			/* VALUE <key> <flags> <bytes> */
			char *sp = memrchr(line, ' ', len);
			c->value_left = strtol(sp + 1, NULL, 10) + 2;
			c->hit = true;
		} else if (len == 3 && !memcmp(line, "END", 3)) {
			if (!c->hit)
				misses++;
			completed(c, false, now);
		} else if ((len == 6 && !memcmp(line, "STORED", 6)) ||
			   (len == 10 && !memcmp(line, "NOT_STORED", 10))) {
			completed(c, false, now);
		} else {
			completed(c, true, now); /* ERROR, CLIENT_ERROR ..., SERVER_ERROR ... */
		}
	}
	memmove(c->in, c->in + pos, c->ilen - pos);
	c->ilen -= pos;
}

static void completed(struct conn *c, bool error, uint64_t now)
{
	uint64_t due;

	c->hit = false;
	if (c->head == c->tail) {
		errors++; /* a reply to nothing */
		return;
	}
	due = c->due[c->head % FIFO];
	c->head++;
	if (error)
		errors++;
	if (due >= t_measure && due < t_end)
		done++;
	record(due, now);
	if (opt.mode == M_CLOSED && now < t_end)
		random_request(c, now);
}

/* Requests of the measured span still unanswered count with what they waited so far. */
static void count_unanswered(uint64_t now)
{
	for (int i = 0; i < opt.conns; i++) {
		struct conn *c = &conns[i];

		for (unsigned int k = c->head; k != c->tail; k++) {
			uint64_t due = c->due[k % FIFO];

			if (due >= t_measure && due < t_end) {
				record(due, now);
				unanswered++;
			}
		}
	}
	t_measure = t_end = 0; /* nothing later is measured */
}

static bool all_answered(void)
{
	for (int i = 0; i < opt.conns; i++)
		if (conns[i].head != conns[i].tail)
			return false;
	return true;
}

static void start_cycle(struct conn *c, uint64_t now)
{
	open_conn(c);
	c->cycle_start = now;
	request(c, R_GET, (unsigned int)(rnd() % (uint64_t)opt.keys), now);
}

/* Readable: take what arrived and parse it; false on end of stream or error. */
static bool take_input(struct conn *c, uint64_t now)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->in + c->ilen, RBUF - c->ilen, 0);

		if (n == 0)
			return false;
		if (n < 0)
			return errno == EAGAIN;
		c->ilen += (size_t)n;
		parse(c, now);
		if (c->ilen == RBUF)
			return false; /* a reply line longer than the buffer */
	}
}

static void event(struct conn *c, uint32_t ev, uint64_t now)
{
	if (c->connecting && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		int err = 0;
		socklen_t l = sizeof(err);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			errno = err;
			if (opt.mode != M_CONNECT)
				die("connect");
			errors++;
			close_conn(c);
			start_cycle(c, now);
			return;
		}
		c->connecting = false;
		watch(c, false);
	}
	if (!c->connecting && (ev & EPOLLOUT)) {
		watch(c, false);
		if (!flush_out(c))
			goto broken;
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		if (!take_input(c, now))
			goto broken;
	}
	if (opt.mode == M_CONNECT && !c->connecting && c->head == c->tail) {
		/* one cycle done: its latency runs from the connect */
		close_conn(c);
		start_cycle(c, now);
		return;
	}
	if (!c->connecting && c->olen > c->ooff && !flush_out(c))
		goto broken;
	return;
broken:
	if (opt.mode == M_CONNECT) {
		errors++;
		close_conn(c);
		start_cycle(c, now);
		return;
	}
	fprintf(stderr, "kv-load: connection %ld closed by the server\n", (long)(c - conns));
	exit(1);
}

static double pct(double q, uint64_t total)
{
	uint64_t want = (uint64_t)ceil(q * (double)total), seen = 0;

	if (!total)
		return 0;
	for (uint64_t i = 0; i <= HIST_US; i++) {
		seen += hist[i];
		if (seen >= want)
			return (double)i;
	}
	return HIST_US;
}

static void parse_args(int argc, char **argv)
{
	int ch;

	while ((ch = getopt(argc, argv, "a:p:m:c:t:W:g:s:k:w:r:S:")) != -1) {
		switch (ch) {
		case 'a': opt.addr = optarg; break;
		case 'p': opt.port = atoi(optarg); break;
		case 'c': opt.conns = atoi(optarg); break;
		case 't': opt.seconds = atof(optarg); break;
		case 'W': opt.warmup = atof(optarg); break;
		case 'g': opt.get_frac = atof(optarg); break;
		case 's': opt.size = atoi(optarg); break;
		case 'k': opt.keys = atoi(optarg); break;
		case 'w': opt.window = atoi(optarg); break;
		case 'r': opt.rate = atof(optarg); break;
		case 'S': opt.seed = (unsigned int)atoi(optarg); break;
		case 'm':
			if (!strcmp(optarg, "preload")) opt.mode = M_PRELOAD;
			else if (!strcmp(optarg, "closed")) opt.mode = M_CLOSED;
			else if (!strcmp(optarg, "open")) opt.mode = M_OPEN;
			else if (!strcmp(optarg, "connect")) opt.mode = M_CONNECT;
			else usage();
			break;
		default: usage();
		}
	}
	if (!opt.addr || opt.conns < 1 || opt.conns > MAX_CONNS || opt.size < 0 ||
	    opt.size > MAX_VALUE || opt.keys < 1 || opt.window < 1 || opt.window > FIFO ||
	    (opt.mode == M_OPEN && opt.rate <= 0))
		usage();
}

int main(int argc, char **argv)
{
	static const char *names[] = {"preload", "closed", "open", "connect"};
	struct epoll_event evs[256];
	uint64_t t0, next_due, total = 0, mx = 0;
	unsigned int rr = 0, next_key = 0;

	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	rng_state = 0x9e3779b97f4a7c15ull ^ opt.seed ^ ((uint64_t)getpid() << 32);
	for (int i = 0; i < opt.size; i++)
		value[i] = (char)('a' + i % 26);
	memcpy(value + opt.size, "\r\n", 2);
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)opt.port);
	if (inet_pton(AF_INET, opt.addr, &dst.sin_addr) != 1)
		usage();
	ep = epoll_create1(0);
	conns = calloc((size_t)opt.conns, sizeof(*conns));
	if (ep < 0 || !conns)
		die("setup");
	for (int i = 0; i < opt.conns; i++) {
		conns[i].in = malloc(RBUF);
		if (!conns[i].in)
			die("malloc");
	}
	t0 = now_ns();
	t_measure = opt.mode == M_PRELOAD ? 0 : t0 + (uint64_t)(opt.warmup * NS_PER_SEC);
	t_end = opt.mode == M_PRELOAD ? UINT64_MAX : t_measure + (uint64_t)(opt.seconds * NS_PER_SEC);
	for (int i = 0; i < opt.conns; i++) {
		if (opt.mode == M_CONNECT) {
			start_cycle(&conns[i], t0);
			continue;
		}
		open_conn(&conns[i]);
		if (opt.mode == M_CLOSED)
			for (int w = 0; w < opt.window; w++)
				random_request(&conns[i], t0);
		if (opt.mode == M_PRELOAD)
			for (int w = 0; w < opt.window && next_key < (unsigned int)opt.keys; w++)
				request(&conns[i], R_SET, next_key++, t0);
	}
	next_due = t0;
	for (;;) {
		uint64_t now = now_ns(), wait_ns = 1000000;
		struct timespec ts;
		int n;

		if (opt.mode == M_PRELOAD) {
			bool idle = true;

			for (int i = 0; i < opt.conns; i++) {
				struct conn *c = &conns[i];

				while (!c->connecting && next_key < (unsigned int)opt.keys &&
				       c->tail - c->head < (unsigned int)opt.window)
					request(c, R_SET, next_key++, now);
				if (!c->connecting && c->olen > c->ooff)
					flush_out(c);
				idle &= c->head == c->tail;
			}
			if (idle && next_key == (unsigned int)opt.keys)
				break;
		} else if (opt.mode == M_OPEN) {
			/* every request that has come due goes out now, round robin */
			while (next_due <= now && next_due < t_end) {
				struct conn *c = &conns[rr++ % (unsigned int)opt.conns];

				random_request(c, next_due);
				next_due += (uint64_t)(-log(1.0 - rnd_unit()) / opt.rate * NS_PER_SEC);
			}
			for (int i = 0; i < opt.conns; i++) {
				struct conn *c = &conns[i];

				if (!c->connecting && c->olen > c->ooff && !flush_out(c)) {
					fprintf(stderr, "kv-load: connection %d broke\n", i);
					return 1;
				}
			}
			if (next_due < t_end)
				wait_ns = next_due > now ? next_due - now : 0;
		}
		if (opt.mode != M_PRELOAD && now >= t_end + NS_PER_SEC / 2 && !t_drain) {
			/* Half a second for the last replies: what is still unanswered
			 * counts as measured now. Then wait (up to DRAIN_S) for the rest
			 * unmeasured, so the next run finds the server idle rather than
			 * working off this run's backlog. */
			count_unanswered(now);
			t_drain = now;
			if (opt.mode == M_CONNECT)
				break;
		}
		if (t_drain && (all_answered() || now >= t_drain + DRAIN_S * NS_PER_SEC))
			break;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(wait_ns < 1000000 ? wait_ns : 1000000);
		n = epoll_pwait2(ep, evs, 256, &ts, NULL);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		now = now_ns();
		for (int i = 0; i < n; i++)
			event(evs[i].data.ptr, evs[i].events, now);
	}
	for (uint64_t i = 0; i <= HIST_US; i++) {
		total += hist[i];
		if (hist[i])
			mx = i;
	}
	printf("mode=%s conns=%d offered=%.0f rate=%.1f done=%lu errors=%lu misses=%lu "
	       "unanswered=%lu p50_us=%.0f p90_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%lu\n",
	       names[opt.mode], opt.conns, opt.mode == M_OPEN ? opt.rate : 0,
	       opt.mode == M_PRELOAD ? (double)done : (double)done / opt.seconds, (unsigned long)done,
	       (unsigned long)errors, (unsigned long)misses, (unsigned long)unanswered,
	       pct(0.50, total), pct(0.90, total), pct(0.99, total), pct(0.999, total),
	       (unsigned long)mx);
	return 0;
}
