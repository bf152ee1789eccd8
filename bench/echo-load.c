/*
 * echo-load: a closed-loop UDP load generator for the echo benchmark.
 *
 * Keeps WINDOW requests in flight against a UDP echo server: every reply
 * (or every request given up after TIMEOUT) sends the next one. Reports the
 * echoed requests per second and the loss over the measured interval, plus
 * the round-trip times under that load.
 *
 *   echo-load -a ADDR [-p PORT] [-w WINDOW] [-s SIZE] [-t SECONDS]
 *             [-W WARMUP_SECONDS] [-T TIMEOUT_MS] [-f FLOWS]
 *
 * -f FLOWS spreads the window over FLOWS sockets (source ports), request
 * slot s on socket s mod FLOWS, so that a multiqueue NIC can spread them.
 * With one socket the client waits in recvmmsg itself (as sockperf waits);
 * with several, in poll().
 *
 * Output, one line of key=value pairs:
 *   window= size= seconds= sent= received= lost= stray= rate= loss=
 *   rtt_p50_us= rtt_p99_us= rtt_max_us=
 * rate is received requests per second; loss is lost / (received + lost),
 * counting the requests that timed out. stray counts replies that matched
 * no request in flight (late ones, after their timeout, or duplicates).
 *
 * Request layout: bytes 0-3 slot, 4-7 generation, 8-15 zero (byte 9 is
 * sockperf's flag byte, which --sockperf echo servers clear: it stays 0),
 * 16-23 send time; the rest zero. Replies are matched on slot and generation.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_WINDOW 4096
#define BATCH	   64
#define MIN_SIZE   24
#define MAX_SIZE   9000
#define HIST_US	   1000000 /* RTT histogram: 1 us buckets up to 1 s */
#define MAX_FLOWS  256
#define RECV_TIMEOUT_US 10000 /* one flow: the longest wait in recvmmsg */

struct slot {
	uint32_t gen;
	int busy;
	uint64_t sent_ns;
};

static struct slot slots[MAX_WINDOW];
static uint64_t hist[HIST_US + 1];
static unsigned char txbuf[BATCH][MAX_SIZE];
static int txfd[BATCH]; /* the socket each queued request goes out on */
static unsigned char rxbuf[BATCH][MAX_SIZE];
static struct mmsghdr txmsg[BATCH], rxmsg[BATCH];
static struct iovec txiov[BATCH], rxiov[BATCH];

static struct {
	uint64_t sent, received, lost, stray;
} c;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void usage(void)
{
	fprintf(stderr, "usage: echo-load -a ADDR [-p PORT] [-w WINDOW] [-s SIZE] [-t SECONDS]\n"
			"                 [-W WARMUP_SECONDS] [-T TIMEOUT_MS] [-f FLOWS]\n");
	exit(2);
}

static double num(const char *s, double lo, double hi)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || v < lo || v > hi)
		usage();
	return v;
}

/* Requests waiting to go out, sent in batches with sendmmsg. */
static unsigned int pending;
static int fds[MAX_FLOWS];
static unsigned int flows = 1;
static unsigned int size;

static void queue_request(unsigned int s, uint64_t t)
{
	unsigned char *p = txbuf[pending];
	uint32_t gen = ++slots[s].gen;

	memcpy(p, &s, 4);
	memcpy(p + 4, &gen, 4);
	memcpy(p + 16, &t, 8);
	slots[s].busy = 1;
	slots[s].sent_ns = t;
	txfd[pending] = fds[s % flows];
	txiov[pending].iov_base = p;
	txiov[pending].iov_len = size;
	txmsg[pending].msg_hdr.msg_iov = &txiov[pending];
	txmsg[pending].msg_hdr.msg_iovlen = 1;
	pending++; /* callers flush when BATCH are queued */
}

static void flush(void)
{
	unsigned int done = 0;

	while (done < pending) {
		int fd = txfd[done];
		unsigned int run = 1;

		while (done + run < pending && txfd[done + run] == fd)
			run++; /* one sendmmsg per run of requests on one socket */
		int r = sendmmsg(fd, txmsg + done, run, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == ENOBUFS) {
				struct pollfd pf = {.fd = fd, .events = POLLOUT};

				poll(&pf, 1, 1);
				continue;
			}
			/* ECONNREFUSED (an ICMP port unreachable) and the like:
			 * the request is out of our hands; its timeout counts it. */
			done++;
			c.sent++;
			continue;
		}
		done += (unsigned int)r;
		c.sent += (unsigned int)r;
	}
	pending = 0;
}

static uint64_t percentile(uint64_t total, double q)
{
	uint64_t want = (uint64_t)(q * (double)total), acc = 0;
	unsigned int i;

	if (!total)
		return 0;
	for (i = 0; i <= HIST_US; i++) {
		acc += hist[i];
		if (acc > want)
			return i;
	}
	return HIST_US;
}

int main(int argc, char **argv)
{
	const char *addr = NULL;
	unsigned int port = 7, window = 1, i;
	double seconds = 5, warmup = 0.5, timeout_ms = 200;
	struct sockaddr_in sin;
	uint64_t start, measure_from, end, timeout_ns, next_scan, rtt_max = 0, hist_n = 0;
	uint64_t base_received = 0, base_lost = 0, base_sent = 0, base_stray = 0;
	int measuring = 0, opt, bufsz = 8 << 20, blocking;
	struct pollfd pfs[MAX_FLOWS];

	size = 64;
	while ((opt = getopt(argc, argv, "a:p:w:s:t:W:T:f:h")) != -1) {
		switch (opt) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			port = (unsigned int)num(optarg, 1, 65535);
			break;
		case 'w':
			window = (unsigned int)num(optarg, 1, MAX_WINDOW);
			break;
		case 's':
			size = (unsigned int)num(optarg, MIN_SIZE, MAX_SIZE);
			break;
		case 't':
			seconds = num(optarg, 0.1, 3600);
			break;
		case 'W':
			warmup = num(optarg, 0, 3600);
			break;
		case 'T':
			timeout_ms = num(optarg, 1, 60000);
			break;
		case 'f':
			flows = (unsigned int)num(optarg, 1, MAX_FLOWS);
			break;
		default:
			usage();
		}
	}
	if (!addr || optind != argc)
		usage();

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		usage();
	/*
	 * One flow: wait in the receive call itself, as sockperf does, with a
	 * receive timeout for the loss scan. poll() with a timeout arms and
	 * cancels a high-resolution timer at every sleep, which on a virtual
	 * host reprograms its timer each time: a quarter of a window-1 client's
	 * throughput, whatever the server (bench/README.md, "The W=1 client").
	 */
	blocking = flows == 1;
	for (i = 0; i < flows; i++) {
		int fd = socket(AF_INET, SOCK_DGRAM | (blocking ? 0 : SOCK_NONBLOCK), 0);
		struct timeval tv = {.tv_usec = RECV_TIMEOUT_US};

		if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
			perror("echo-load: socket");
			return 1;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
		if (blocking)
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		fds[i] = fd;
		pfs[i] = (struct pollfd){.fd = fd, .events = POLLIN};
	}
	for (i = 0; i < BATCH; i++) {
		rxiov[i].iov_base = rxbuf[i];
		rxiov[i].iov_len = MAX_SIZE;
		rxmsg[i].msg_hdr.msg_iov = &rxiov[i];
		rxmsg[i].msg_hdr.msg_iovlen = 1;
	}

	timeout_ns = (uint64_t)(timeout_ms * 1e6);
	start = now_ns();
	measure_from = start + (uint64_t)(warmup * 1e9);
	end = measure_from + (uint64_t)(seconds * 1e9);
	next_scan = start + 1000000;
	for (i = 0; i < window; i++) {
		queue_request(i, start);
		if (pending == BATCH)
			flush();
	}
	flush();

	for (;;) {
		uint64_t t = now_ns();
		int n, k;

		if (!measuring && t >= measure_from) {
			measuring = 1;
			base_received = c.received;
			base_lost = c.lost;
			base_sent = c.sent;
			base_stray = c.stray;
			memset(hist, 0, sizeof(hist));
			hist_n = 0;
			rtt_max = 0;
		}
		if (t >= end)
			break;
		if (!blocking && poll(pfs, flows, 1) < 0 && errno != EINTR) {
			perror("echo-load: poll");
			return 1;
		}
		for (unsigned int f = 0; f < flows; f++) {
			if (flows > 1 && !(pfs[f].revents & POLLIN))
				continue;
			n = recvmmsg(fds[f], rxmsg, BATCH, blocking ? MSG_WAITFORONE : MSG_DONTWAIT,
				     NULL);
			if (n < 0 && errno != EAGAIN && errno != EINTR && errno != ECONNREFUSED) {
				perror("echo-load: recvmmsg");
				return 1;
			}
			t = now_ns();
			for (k = 0; k < n; k++) {
				uint32_t s, gen;
				uint64_t rtt;

				if (rxmsg[k].msg_len < MIN_SIZE) {
					c.stray++;
					continue;
				}
				memcpy(&s, rxbuf[k], 4);
				memcpy(&gen, rxbuf[k] + 4, 4);
				if (s >= window || !slots[s].busy || slots[s].gen != gen) {
					c.stray++;
					continue;
				}
				c.received++;
				rtt = (t - slots[s].sent_ns) / 1000;
				hist[rtt < HIST_US ? rtt : HIST_US]++;
				hist_n++;
				if (rtt > rtt_max)
					rtt_max = rtt;
				queue_request(s, t);
				if (pending == BATCH)
					flush();
			}
		}
		if (t >= next_scan) {
			/* Give up on requests older than the timeout; send anew. */
			for (i = 0; i < window; i++) {
				if (slots[i].busy && t - slots[i].sent_ns > timeout_ns) {
					c.lost++;
					queue_request(i, t);
					if (pending == BATCH)
						flush();
				}
			}
			next_scan = t + 1000000;
		}
		flush();
	}

	{
		double secs = (double)(end - measure_from) / 1e9;
		uint64_t rec = c.received - base_received, lost = c.lost - base_lost;

		printf("window=%u flows=%u size=%u seconds=%.3f sent=%llu received=%llu lost=%llu "
		       "stray=%llu "
		       "rate=%.1f loss=%.6f rtt_p50_us=%llu rtt_p99_us=%llu rtt_max_us=%llu\n",
		       window, flows, size, secs, (unsigned long long)(c.sent - base_sent),
		       (unsigned long long)rec, (unsigned long long)lost,
		       (unsigned long long)(c.stray - base_stray), (double)rec / secs,
		       rec + lost ? (double)lost / (double)(rec + lost) : 0.0,
		       (unsigned long long)percentile(hist_n, 0.50),
		       (unsigned long long)percentile(hist_n, 0.99), (unsigned long long)rtt_max);
	}
	return 0;
}
