/*
 * tapdev: the kernel and the virtio-net device, for running the user-space
 * stack (netif, vnet, net/) and a program on it on the host, over a Linux
 * tap device, with a seeded shim that drops, duplicates and reorders frames.
 *
 * The program (e.g. usr/tests/tcpecho) is compiled unchanged with
 * -DHOST_TEST; this file supplies what the kernel would: net_attach (a
 * queue pair whose rings and buffer pool are plain memory here), wait (the
 * device works here: it moves frames between the rings and the tap fd,
 * then sleeps in poll(2)), the event ring, the clock and AT_RANDOM. The
 * device side of the split virtqueues follows virtio 1.2 §2.7.
 *
 * Environment:
 *   TAPDEV          the tap interface to attach to (it must exist: ip tuntap add)
 *   TAPDEV_MAC      the device's MAC (default 52:54:00:12:34:56)
 *   TAPDEV_SEED     seed of the shim's schedule (default 1)
 *   TAPDEV_LOSS     probability a frame is dropped, each way (default 0)
 *   TAPDEV_DUP      ... delivered twice (default 0)
 *   TAPDEV_REORDER  ... held back 1-4 ms, so later frames overtake it (default 0)
 * Only IPv4 frames are touched; ARP passes. On SIGTERM/SIGINT the shim's
 * counters are printed to stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <lib/virtq.h>
#include <uapi/auxv.h>
#include <uapi/event.h>
#include <uapi/net.h>
#include <uapi/syscall.h>

#define QSIZE	   256
#define BUF_SIZE   2048
#define POOL_BYTES (2u << 20)
#define POOL_DMA   0x100000000ull /* the device address of pool byte 0 */
#define HDR_LEN	   12		  /* struct vnet_hdr with VERSION_1 */
#define FRAME_MAX  1514
#define HOLD_MAX   4096 /* frames the shim may hold back */
#define EVENTS	   64

struct devq {
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	uint16_t next_avail, next_used;
};

/* A frame the shim holds back until due. */
struct held {
	uint64_t due_ns;
	uint16_t len;
	bool to_tap; /* direction: stack -> tap, else tap -> stack */
	uint8_t data[FRAME_MAX];
};

static struct {
	int fd;
	uint8_t *pool;
	struct devq rx, tx;
	struct mc_net_layout layout;
	uint64_t seed[2];
	double loss, dup, reorder;
	struct held *held;
	unsigned int nheld;
	struct mc_event ev[EVENTS];
	unsigned int ev_head, ev_tail;
	uint8_t random[16];
	struct {
		unsigned long to_tap, from_tap, dropped, duplicated, reordered, no_rx_buf;
	} n;
} dev = {.fd = -1};

/* ---------------------------------------------------------------- the kernel */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* netif's clock: with AT_MC_TSC_HZ = 1e9 one "tick" is one nanosecond. */
uint64_t netif_host_tsc(void);
uint64_t netif_host_tsc(void)
{
	return mono_ns();
}

uint64_t mc_now_ns(void);
uint64_t mc_now_ns(void)
{
	return mono_ns();
}

uint64_t mc_getauxval(uint64_t type);
uint64_t mc_getauxval(uint64_t type)
{
	if (type == AT_MC_TSC_HZ)
		return 1000000000ull;
	if (type == AT_RANDOM) {
		if (getrandom(dev.random, sizeof(dev.random), 0) != sizeof(dev.random))
			return 0;
		return (uint64_t)(uintptr_t)dev.random;
	}
	return 0;
}

static void post_event(uint32_t type, uint64_t d0)
{
	if (dev.ev_head - dev.ev_tail == EVENTS)
		return;
	dev.ev[dev.ev_head++ % EVENTS] = (struct mc_event){.type = type, .data = {d0, 0, 0}};
}

bool mc_event_pop(struct mc_event *out);
bool mc_event_pop(struct mc_event *out)
{
	if (dev.ev_head == dev.ev_tail)
		return false;
	*out = dev.ev[dev.ev_tail++ % EVENTS];
	return true;
}

/* ---------------------------------------------------------------- the shim */

/* xorshift128+: the seeded schedule. */
static uint64_t rnd64(void)
{
	uint64_t a = dev.seed[0], b = dev.seed[1];

	dev.seed[0] = b;
	a ^= a << 23;
	a ^= a >> 17;
	a ^= b ^ (b >> 26);
	dev.seed[1] = a;
	return a + b;
}

static bool chance(double p)
{
	return p > 0 && (double)(rnd64() >> 11) / (double)(1ull << 53) < p;
}

static bool is_ipv4(const uint8_t *f, size_t len)
{
	return len >= 14 && f[12] == 0x08 && f[13] == 0x00;
}

static void hold(const uint8_t *f, size_t len, bool to_tap, uint64_t due)
{
	struct held *h;

	if (dev.nheld == HOLD_MAX) {
		dev.n.dropped++;
		return;
	}
	h = &dev.held[dev.nheld++];
	h->due_ns = due;
	h->len = (uint16_t)len;
	h->to_tap = to_tap;
	memcpy(h->data, f, len);
}

static bool rx_deliver(const uint8_t *f, size_t len);

/* Hand a frame on, unless the schedule drops, repeats or delays it. */
static void shim(const uint8_t *f, size_t len, bool to_tap)
{
	uint64_t now = mono_ns();
	int copies = 1;

	if (is_ipv4(f, len)) {
		if (chance(dev.loss)) {
			dev.n.dropped++;
			return;
		}
		if (chance(dev.dup)) {
			dev.n.duplicated++;
			copies = 2;
		}
	}
	for (int i = 0; i < copies; i++) {
		if (is_ipv4(f, len) && chance(dev.reorder)) {
			dev.n.reordered++;
			hold(f, len, to_tap, now + 1000000ull + rnd64() % 3000000ull);
		} else if (to_tap) {
			if (write(dev.fd, f, len) < 0 && errno != EAGAIN)
				perror("tapdev: write");
			dev.n.to_tap++;
		} else if (!rx_deliver(f, len)) {
			hold(f, len, false, now); /* no RX buffer yet: keep it */
		}
	}
}

/* Frames held back whose time has come; returns the earliest still held, 0 if none. */
static uint64_t release_due(void)
{
	uint64_t now = mono_ns(), next = 0;

	for (unsigned int i = 0; i < dev.nheld;) {
		struct held *h = &dev.held[i];

		if (h->due_ns <= now) {
			bool done = true;

			if (h->to_tap) {
				if (write(dev.fd, h->data, h->len) < 0 && errno != EAGAIN)
					perror("tapdev: write");
				dev.n.to_tap++;
			} else {
				done = rx_deliver(h->data, h->len);
			}
			if (done) {
				dev.held[i] = dev.held[--dev.nheld];
				continue;
			}
		}
		if (!next || h->due_ns < next)
			next = h->due_ns;
		i++;
	}
	return next;
}

/* ---------------------------------------------------------------- the device */

static uint8_t *dma_ptr(uint64_t addr, uint32_t len)
{
	if (addr < POOL_DMA || addr - POOL_DMA + len > POOL_BYTES) {
		fprintf(stderr, "tapdev: descriptor outside the pool: %#llx+%u\n",
			(unsigned long long)addr, len);
		abort();
	}
	return dev.pool + (addr - POOL_DMA);
}

static void used_put(struct devq *q, uint16_t id, uint32_t len)
{
	q->used->ring[q->next_used % QSIZE] = (struct virtq_used_elem){id, len};
	q->next_used++;
	__atomic_store_n(&q->used->idx, q->next_used, __ATOMIC_RELEASE);
}

static bool avail_pending(const struct devq *q)
{
	return __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE) != q->next_avail;
}

/* One frame into the next posted RX buffer; false if none is posted. */
static bool rx_deliver(const uint8_t *f, size_t len)
{
	struct virtq_desc *d;
	uint8_t *b;
	uint16_t id;

	if (!avail_pending(&dev.rx)) {
		dev.n.no_rx_buf++;
		return false;
	}
	id = dev.rx.avail->ring[dev.rx.next_avail++ % QSIZE];
	d = &dev.rx.desc[id % QSIZE];
	b = dma_ptr(d->addr, d->len);
	if (d->len < HDR_LEN + len) {
		used_put(&dev.rx, id, 0);
		return true;
	}
	memset(b, 0, HDR_LEN);
	b[10] = 1; /* num_buffers */
	memcpy(b + HDR_LEN, f, len);
	used_put(&dev.rx, id, (uint32_t)(HDR_LEN + len));
	dev.n.from_tap++;
	return true;
}

/* Everything the driver queued for transmission, out through the shim. */
static unsigned int dev_tx(void)
{
	unsigned int n = 0;

	while (avail_pending(&dev.tx)) {
		uint16_t id = dev.tx.avail->ring[dev.tx.next_avail++ % QSIZE];
		struct virtq_desc *d = &dev.tx.desc[id % QSIZE];
		uint8_t *b = dma_ptr(d->addr, d->len);

		if (d->len > HDR_LEN && d->len - HDR_LEN <= FRAME_MAX)
			shim(b + HDR_LEN, d->len - HDR_LEN, true);
		used_put(&dev.tx, id, 0);
		n++;
	}
	return n;
}

/* Frames waiting on the tap, while there are RX buffers for them. */
static unsigned int dev_rx(void)
{
	uint8_t f[FRAME_MAX + 64];
	unsigned int n = 0;

	while (avail_pending(&dev.rx) && n < 64) {
		ssize_t len = read(dev.fd, f, sizeof(f));

		if (len <= 0)
			break;
		if (len > FRAME_MAX)
			continue;
		shim(f, (size_t)len, false);
		n++;
	}
	return n;
}

static void *zalloc(size_t len)
{
	void *p = aligned_alloc(4096, (len + 4095) / 4096 * 4096);

	if (!p) {
		perror("tapdev");
		exit(1);
	}
	memset(p, 0, len);
	return p;
}

static void queue_new(struct devq *q, struct mc_net_queue *mq, uint16_t index)
{
	q->desc = zalloc(virtq_desc_bytes(QSIZE));
	q->avail = zalloc(virtq_avail_bytes(QSIZE));
	q->used = zalloc(virtq_used_bytes(QSIZE));
	mq->desc = (uintptr_t)q->desc;
	mq->avail = (uintptr_t)q->avail;
	mq->used = (uintptr_t)q->used;
	mq->notify = (uintptr_t)zalloc(4096); /* a doorbell nobody listens to: we poll */
	mq->size = QSIZE;
	mq->index = index;
}

static double env_prob(const char *name)
{
	const char *v = getenv(name);

	return v ? atof(v) : 0.0;
}

static void on_signal(int sig)
{
	fprintf(stderr,
		"tapdev: to_tap %lu from_tap %lu dropped %lu duplicated %lu reordered %lu "
		"no_rx_buf %lu\n",
		dev.n.to_tap, dev.n.from_tap, dev.n.dropped, dev.n.duplicated, dev.n.reordered,
		dev.n.no_rx_buf);
	fflush(stdout);
	signal(sig, SIG_DFL);
	raise(sig);
}

static bool parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return false;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return true;
}

long sys_net_attach(const char *name, unsigned int qp, struct mc_net_layout *out);
long sys_net_attach(const char *name, unsigned int qp, struct mc_net_layout *out)
{
	const char *tap = getenv("TAPDEV"), *mac = getenv("TAPDEV_MAC"),
		   *seed = getenv("TAPDEV_SEED");
	struct ifreq ifr;
	struct mc_net_layout *l = &dev.layout;

	(void)name;
	if (qp != 0)
		return -ENODEV;
	if (!tap) {
		fprintf(stderr, "tapdev: set TAPDEV to the tap interface\n");
		return -ENODEV;
	}
	dev.fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK);
	if (dev.fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", tap);
	if (ioctl(dev.fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;

		perror("tapdev: TUNSETIFF");
		return -e;
	}
	dev.pool = zalloc(POOL_BYTES);
	dev.held = calloc(HOLD_MAX, sizeof(*dev.held));
	memset(l, 0, sizeof(*l));
	l->version = MC_NET_LAYOUT_VERSION;
	l->qp = 0;
	queue_new(&dev.rx, &l->rx, 0);
	queue_new(&dev.tx, &l->tx, 1);
	l->pool = (uintptr_t)dev.pool;
	l->pool_size = POOL_BYTES;
	l->pool_dma = POOL_DMA;
	l->features = MC_NET_F_VERSION_1 | MC_NET_F_MAC;
	l->hdr_len = HDR_LEN;
	l->buf_size = BUF_SIZE;
	l->mtu = 1500;
	if (!mac || !parse_mac(mac, l->mac))
		memcpy(l->mac, (uint8_t[6]){0x52, 0x54, 0x00, 0x12, 0x34, 0x56}, 6);
	dev.seed[0] = 0x9e3779b97f4a7c15ull ^ (seed ? strtoull(seed, NULL, 0) : 1);
	dev.seed[1] = 0xbf58476d1ce4e5b9ull;
	for (int i = 0; i < 8; i++)
		rnd64();
	dev.loss = env_prob("TAPDEV_LOSS");
	dev.dup = env_prob("TAPDEV_DUP");
	dev.reorder = env_prob("TAPDEV_REORDER");
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	*out = *l;
	return 0;
}

/*
 * wait(timeout): the device's turn. Frames go out, frames come in, held
 * ones are released when due; then, with nothing received, sleep in poll
 * until the tap has a frame, a held one falls due or the time is up.
 */
long sys_wait(uint64_t timeout_ns);
long sys_wait(uint64_t timeout_ns)
{
	uint64_t start = mono_ns();

	for (;;) {
		uint16_t used0 = dev.rx.next_used;
		struct pollfd pfd = {.fd = dev.fd, .events = POLLIN};
		uint64_t now, next, wake;
		int ms;

		dev_tx();
		dev_rx();
		next = release_due();
		if (dev.rx.next_used != used0)
			post_event(EV_NET, 0);
		if (dev.ev_head != dev.ev_tail)
			return (long)(dev.ev_head - dev.ev_tail);
		now = mono_ns();
		if (timeout_ns != WAIT_FOREVER && now - start >= timeout_ns)
			return 0;
		wake = timeout_ns == WAIT_FOREVER ? UINT64_MAX : start + timeout_ns;
		if (next && next < wake)
			wake = next;
		ms = wake == UINT64_MAX ? -1 : (int)((wake - now + 999999) / 1000000);
		if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
			return -errno;
		/* Frames wait and no RX buffer is posted: back to the driver to refill. */
		if ((pfd.revents & POLLIN) && !avail_pending(&dev.rx))
			return 0;
	}
}
