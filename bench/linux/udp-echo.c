/*
 * udp-echo: the Linux sockets baseline of the echo benchmark.
 *
 * A UDP echo server on one socket, batched with recvmmsg/sendmmsg: each
 * wake-up takes every datagram that is queued (up to BATCH) and sends all the
 * replies back in one system call. This is the best a plain Linux
 * application does without kernel bypass.
 *
 *   udp-echo [--sockperf] [--busy-poll US] [--reuseport] [--batch N] PORT
 *
 * --reuseport: one of several servers on the port (SO_REUSEPORT, one per
 * CPU): the kernel spreads flows over their sockets.
 *
 * --sockperf: sockperf accepts a reply only with the "client" flag (bit 0 of
 * byte 9 of its 14-byte header) cleared; clear it in every reply of 14 bytes
 * or more, as echod's --sockperf does.
 *
 * Prints "echo ready" once the socket is bound. Built static (gcc -static) so
 * that the initramfs needs no shared libraries.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_BATCH      64
#define BUF_SIZE       65536 /* the largest UDP payload fits */
#define SOCK_BUF       (4 << 20)
#define SOCKPERF_HDR   14
#define SOCKPERF_FLAGS 9

static struct {
	uint64_t rx, tx, rx_calls, tx_calls, tx_errors, truncated;
} stats;

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: udp-echo [--sockperf] [--busy-poll US] [--reuseport] [--batch N] PORT\n");
	exit(2);
}

static long parse_num(const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		usage();
	return v;
}

/* Send replies [0, n): sendmmsg may take fewer than asked; go on from there. */
static void send_all(int fd, struct mmsghdr *msgs, unsigned int n)
{
	unsigned int done = 0;

	while (done < n) {
		int r = sendmmsg(fd, msgs + done, n - done, 0);

		stats.tx_calls++;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* ENOBUFS, EAGAIN ...: drop this datagram, as a NIC would. */
			stats.tx_errors++;
			done++;
			continue;
		}
		stats.tx += (unsigned int)r;
		done += (unsigned int)r;
	}
}

int main(int argc, char **argv)
{
	static unsigned char bufs[MAX_BATCH][BUF_SIZE];
	static struct sockaddr_in addrs[MAX_BATCH];
	static struct iovec iovs[MAX_BATCH];
	static struct mmsghdr msgs[MAX_BATCH];
	unsigned int batch = 32;
	int sockperf = 0, port = -1, fd, one = 1, size = SOCK_BUF, busy = 0, reuseport = 0;
	struct sockaddr_in sin;
	struct sigaction sa;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--sockperf"))
			sockperf = 1;
		else if (!strcmp(argv[i], "--reuseport"))
			reuseport = 1;
		else if (!strcmp(argv[i], "--busy-poll") && i + 1 < argc)
			busy = (int)parse_num(argv[++i], 0, 1000000);
		else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
			batch = (unsigned int)parse_num(argv[++i], 1, MAX_BATCH);
		else if (argv[i][0] == '-' || port >= 0)
			usage();
		else
			port = (int)parse_num(argv[i], 1, 65535);
	}
	if (port < 0)
		usage();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: recvmmsg returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("udp-echo: socket");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		perror("udp-echo: SO_REUSEPORT");
	/* Deep socket buffers: a window of requests must not overflow them. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	/* Busy polling: a blocking receive spins on the NIC's queue for up to
	 * `busy` microseconds before it sleeps (Linux's SO_BUSY_POLL). */
	if (busy && setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &busy, sizeof(busy)) < 0)
		perror("udp-echo: SO_BUSY_POLL");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	sin.sin_port = htons((uint16_t)port);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		perror("udp-echo: bind");
		return 1;
	}
	printf("udp-echo: port %d batch %u busy_poll %d%s\n", port, batch, busy,
	       sockperf ? " sockperf" : "");
	printf("echo ready\n");
	fflush(stdout);

	while (!stop) {
		int n;

		for (i = 0; i < (int)batch; i++) {
			iovs[i].iov_base = bufs[i];
			iovs[i].iov_len = BUF_SIZE;
			msgs[i].msg_hdr.msg_name = &addrs[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(addrs[i]);
			msgs[i].msg_hdr.msg_iov = &iovs[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_control = NULL;
			msgs[i].msg_hdr.msg_controllen = 0;
			msgs[i].msg_hdr.msg_flags = 0;
		}
		/* Sleep for the first datagram, then take what else is queued. */
		n = recvmmsg(fd, msgs, batch, MSG_WAITFORONE, NULL);
		stats.rx_calls++;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("udp-echo: recvmmsg");
			return 1;
		}
		for (i = 0; i < n; i++) {
			unsigned int len = msgs[i].msg_len;

			if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
				stats.truncated++;
			if (sockperf && len >= SOCKPERF_HDR)
				bufs[i][SOCKPERF_FLAGS] &= (unsigned char)~1u;
			/* The reply: same buffer, same length, back to the sender. */
			iovs[i].iov_len = len;
			msgs[i].msg_hdr.msg_flags = 0;
		}
		stats.rx += (unsigned int)n;
		send_all(fd, msgs, (unsigned int)n);
	}
	printf("udp-echo: rx %llu tx %llu recvmmsg %llu sendmmsg %llu tx_errors %llu "
	       "truncated %llu\n",
	       (unsigned long long)stats.rx, (unsigned long long)stats.tx,
	       (unsigned long long)stats.rx_calls, (unsigned long long)stats.tx_calls,
	       (unsigned long long)stats.tx_errors, (unsigned long long)stats.truncated);
	return 0;
}
