/*
 * LD_PRELOAD shim for the benchmark's client: sockperf accepts a reply only
 * with its "client" flag cleared (bit 0 of byte 9 of its 14-byte header), so
 * a plain echo server's replies are refused. This clears that bit in every
 * UDP datagram sockperf receives, on the client's side, so every guest is
 * measured doing nothing but echoing (see bench/README.md).
 *
 * Built by bench/lib.py: gcc -O2 -shared -fPIC -o sockperf-shim.so sockperf-shim.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define SOCKPERF_HDR   14
#define SOCKPERF_FLAGS 9
#define FDS	       4096

/* Per descriptor: 0 unknown, 1 UDP, 2 anything else (looked up once). */
static unsigned char kind[FDS];

static int is_udp(int fd)
{
	if (fd < 0 || fd >= FDS)
		return 0;
	if (!kind[fd]) {
		int type = 0;
		socklen_t len = sizeof(type);
		kind[fd] = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
				   type == SOCK_DGRAM
			       ? 1
			       : 2;
	}
	return kind[fd] == 1;
}

static void unmark(int fd, void *buf, ssize_t n)
{
	if (n >= SOCKPERF_HDR && is_udp(fd))
		((uint8_t *)buf)[SOCKPERF_FLAGS] &= (uint8_t)~1;
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from, socklen_t *fl)
{
	static ssize_t (*real)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
	if (!real)
		real = dlsym(RTLD_NEXT, "recvfrom");
	ssize_t n = real(fd, buf, len, flags, from, fl);
	unmark(fd, buf, n);
	return n;
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	static ssize_t (*real)(int, void *, size_t, int);
	if (!real)
		real = dlsym(RTLD_NEXT, "recv");
	ssize_t n = real(fd, buf, len, flags);
	unmark(fd, buf, n);
	return n;
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	static ssize_t (*real)(int, struct msghdr *, int);
	if (!real)
		real = dlsym(RTLD_NEXT, "recvmsg");
	ssize_t n = real(fd, msg, flags);
	if (n >= SOCKPERF_HDR && msg->msg_iovlen && msg->msg_iov[0].iov_len > SOCKPERF_FLAGS)
		unmark(fd, msg->msg_iov[0].iov_base, n);
	return n;
}
