/*
 * TEST-ONLY host adapter: serves the kvd engine (usr/kvd) over Linux TCP
 * sockets with epoll, so that memcached clients nobody here wrote can drive
 * the real engine in `make check` before the guest has TCP. Not part of
 * Manticore: the guest program is usr/kvd/kvd.c over netif.
 *
 *   kvd-host [-p PORT] [-m MEGABYTES] [-t THREADS] [-c MAXCONNS]
 *
 * Each thread stands for a core: its own epoll loop, its own SO_REUSEPORT
 * listening socket and its own kvd worker, all sharing one store, as the
 * guest's cores will. Prints "kvd-host ready port N" once listening; on
 * SIGTERM or SIGINT it closes every connection, checks that no item
 * reference outlived them, prints "kvd-host clean" and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "../../usr/kvd/kvd.h"

#define INBUF	    (64 * 1024)
#define MAX_EVENTS  64
#define MAX_THREADS 16

struct hconn {
	int fd;
	struct kvd_conn *kc;
	uint8_t *in;
	size_t inlen, inoff;
	uint32_t events; /* what epoll watches now */
	struct hconn *next, *prev;
};

struct thread {
	pthread_t tid;
	int epfd, lfd;
	struct kvd_worker *w;
	struct hconn *conns;
	unsigned nconns;
};

static struct kvd_store *store;
static struct thread threads[MAX_THREADS];
static unsigned nthreads = 1, max_conns = 4096;
static atomic_bool stopping;
static _Atomic unsigned open_conns;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void tick(struct thread *t)
{
	kvd_worker_clock(t->w, mono_ns(), (uint64_t)time(NULL));
}

static void watch(struct thread *t, struct hconn *h, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = h};

	if (events != h->events) {
		epoll_ctl(t->epfd, EPOLL_CTL_MOD, h->fd, &ev);
		h->events = events;
	}
}

static void drop(struct thread *t, struct hconn *h)
{
	epoll_ctl(t->epfd, EPOLL_CTL_DEL, h->fd, NULL);
	close(h->fd);
	kvd_conn_close(h->kc);
	if (h->prev)
		h->prev->next = h->next;
	else
		t->conns = h->next;
	if (h->next)
		h->next->prev = h->prev;
	free(h->in);
	free(h);
	t->nconns--;
	atomic_fetch_sub(&open_conns, 1);
}

/* Write what the engine has; false if the socket is full. */
static bool flush_out(struct hconn *h)
{
	struct iovec iov[64];
	struct kvd_iov kv[64];

	while (kvd_conn_pending(h->kc)) {
		unsigned n = kvd_conn_output(h->kc, kv, 64);
		ssize_t w;

		for (unsigned i = 0; i < n; i++) {
			iov[i].iov_base = (void *)kv[i].base;
			iov[i].iov_len = kv[i].len;
		}
		w = writev(h->fd, iov, (int)n);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return false;
			return true; /* broken: the read side will see it */
		}
		kvd_conn_output_done(h->kc, (size_t)w);
	}
	return true;
}

/* Move bytes both ways until the socket or the engine has to wait. */
static void serve(struct thread *t, struct hconn *h)
{
	for (int round = 0; round < 16; round++) {
		if (h->inoff < h->inlen)
			h->inoff += kvd_conn_input(h->kc, h->in + h->inoff, h->inlen - h->inoff);
		bool drained = flush_out(h);

		if (kvd_conn_want_close(h->kc) && !kvd_conn_pending(h->kc)) {
			drop(t, h);
			return;
		}
		if (h->inoff < h->inlen) {
			/* the engine holds back input until its replies go out */
			if (!drained) {
				watch(t, h, EPOLLOUT);
				return;
			}
			continue;
		}
		h->inoff = h->inlen = 0;
		ssize_t r = read(h->fd, h->in, INBUF);

		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
			drop(t, h);
			return;
		}
		if (r < 0) {
			watch(t, h, EPOLLIN | (drained ? 0 : EPOLLOUT));
			return;
		}
		h->inlen = (size_t)r;
		tick(t);
	}
	watch(t, h, EPOLLIN | EPOLLOUT); /* fairness: come back soon */
}

static void accept_all(struct thread *t)
{
	for (;;) {
		int fd = accept4(t->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct hconn *h;
		int one = 1;

		if (fd < 0)
			return;
		if (atomic_load(&open_conns) >= max_conns) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		h = calloc(1, sizeof(*h));
		if (!h || !(h->in = malloc(INBUF)) || !(h->kc = kvd_conn_open(t->w))) {
			if (h)
				free(h->in);
			free(h);
			close(fd);
			continue;
		}
		h->fd = fd;
		h->events = EPOLLIN;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = h};
		epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev);
		h->next = t->conns;
		if (t->conns)
			t->conns->prev = h;
		t->conns = h;
		t->nconns++;
		atomic_fetch_add(&open_conns, 1);
	}
}

static void *loop(void *arg)
{
	struct thread *t = arg;
	struct epoll_event ev[MAX_EVENTS];

	while (!atomic_load(&stopping)) {
		int n = epoll_wait(t->epfd, ev, MAX_EVENTS, 100);

		tick(t);
		for (int i = 0; i < n; i++) {
			if (ev[i].data.ptr == NULL)
				accept_all(t);
			else
				serve(t, ev[i].data.ptr);
		}
	}
	while (t->conns)
		drop(t, t->conns);
	return NULL;
}

static int listen_on(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1024) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stopping, true);
}

int main(int argc, char **argv)
{
	struct kvd_config cfg = {.maxbytes = 64u << 20, .workers = 1};
	unsigned port = 0;
	int opt;

	while ((opt = getopt(argc, argv, "p:m:t:c:")) != -1) {
		switch (opt) {
		case 'p':
			port = (unsigned)atoi(optarg);
			break;
		case 'm':
			cfg.maxbytes = (size_t)atol(optarg) << 20;
			break;
		case 't':
			nthreads = (unsigned)atoi(optarg);
			break;
		case 'c':
			max_conns = (unsigned)atoi(optarg);
			break;
		default:
			fprintf(stderr,
				"usage: kvd-host [-p PORT] [-m MB] [-t THREADS] [-c MAXCONNS]\n");
			return 2;
		}
	}
	if (nthreads < 1 || nthreads > MAX_THREADS) {
		fprintf(stderr, "kvd-host: -t wants 1..%d\n", MAX_THREADS);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	cfg.workers = nthreads;
	cfg.start_mono_ns = mono_ns();
	cfg.start_unix = (uint64_t)time(NULL);
	cfg.pid = (uint32_t)getpid();
	cfg.max_conns = max_conns;
	cfg.seed = cfg.start_mono_ns * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
	for (unsigned i = 0; i < nthreads; i++) {
		struct thread *t = &threads[i];
		struct sockaddr_in a;
		socklen_t alen = sizeof(a);

		t->lfd = listen_on((uint16_t)port);
		if (t->lfd < 0) {
			perror("kvd-host: listen");
			return 1;
		}
		if (!port) {
			getsockname(t->lfd, (struct sockaddr *)&a, &alen);
			port = ntohs(a.sin_port);
		}
	}
	cfg.tcp_port = (uint16_t)port;
	int err = kvd_store_create(&cfg, &store);
	if (err) {
		fprintf(stderr, "kvd-host: kvd_store_create: %d\n", err);
		return 1;
	}
	for (unsigned i = 0; i < nthreads; i++) {
		struct thread *t = &threads[i];

		t->w = kvd_store_worker(store, i);
		t->epfd = epoll_create1(EPOLL_CLOEXEC);
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
		epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->lfd, &ev);
		tick(t);
	}
	printf("kvd-host ready port %u\n", port);
	fflush(stdout);
	for (unsigned i = 0; i < nthreads; i++)
		pthread_create(&threads[i].tid, NULL, loop, &threads[i]);
	for (unsigned i = 0; i < nthreads; i++)
		pthread_join(threads[i].tid, NULL);
	for (unsigned i = 0; i < nthreads; i++) {
		close(threads[i].lfd);
		close(threads[i].epfd);
	}
	err = kvd_store_audit(store);
	kvd_store_destroy(store);
	if (err) {
		printf("kvd-host: audit failed: %d\n", err);
		return 1;
	}
	printf("kvd-host clean\n");
	return 0;
}
