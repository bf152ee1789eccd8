/*
 * Fuzz target: the memcached text, meta and binary protocol parsers of the
 * kvd engine (usr/kvd/engine), fed as a transport would: bytes split
 * anywhere over several connections on two workers of one store, replies
 * drained in random amounts, the clock moving, connections closing with
 * replies unsent. Whatever arrives: the engine takes no more than it is
 * offered, stops taking only under backpressure or when closing, every
 * reply iovec is readable, every binary reply is a well-framed response
 * (magic 0x81, extras + key <= body), and once every connection is closed
 * no item reference or arena byte is left over (kvd_store_audit).
 */
/* fuzz-sources: usr/kvd/engine/[a-z]*.c */
/* fuzz-cflags: -Iusr/kvd */
#include "kvd.h"
#include "fuzz.h"

#define CONNS	  4
#define FEED_MAX  4096
#define STEPS	  256
#define BIN_HDR	  24
#define BIN_MAGIC 0x81
#define BULK_MAX  (1100u * 1024)

enum op { OP_FEED, OP_FEED2, OP_BULK, OP_DRAIN, OP_DRAIN_ALL, OP_CLOCK, OP_CLOSE, OP_COPY };

/* A client's view of one connection: what it sent first, the replies' framing. */
struct client {
	struct kvd_conn *c;
	unsigned int worker;
	bool started, binary;
	uint8_t hdr[BIN_HDR]; /* the binary response header being read */
	unsigned int hlen;
	uint64_t body_left;
};

static struct kvd_store *store;
static struct kvd_worker *workers[2];
static unsigned int nworkers;
static struct client cl[CONNS];
static uint64_t now_ns;

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* protocol_binary.txt "Packet Structure": a client reading the reply stream. */
static void read_binary(struct client *k, const uint8_t *p, size_t n)
{
	while (n) {
		if (k->body_left) {
			size_t m = n < k->body_left ? n : (size_t)k->body_left;

			k->body_left -= m;
			p += m;
			n -= m;
			continue;
		}
		k->hdr[k->hlen++] = *p++;
		n--;
		if (k->hlen < BIN_HDR)
			continue;
		k->hlen = 0;
		k->body_left = get32(k->hdr + 8);
		FUZZ_CHECK(k->hdr[0] == BIN_MAGIC);
		FUZZ_CHECK((uint64_t)k->hdr[4] + (uint32_t)(k->hdr[2] << 8 | k->hdr[3]) <=
			   k->body_left);
	}
}

static void received(struct client *k, const void *p, size_t n)
{
	fuzz_touch(p, n);
	if (k->binary)
		read_binary(k, p, n);
}

static struct client *client(unsigned int i)
{
	struct client *k = &cl[i];

	if (!k->c) {
		memset(k, 0, sizeof(*k));
		k->worker = i % nworkers;
		k->c = kvd_conn_open(workers[k->worker]);
		FUZZ_CHECK(k->c);
	}
	return k;
}

/* Take up to max iovecs and send `budget` bytes of them (all: SIZE_MAX). */
static void drain(struct client *k, unsigned int max, size_t budget)
{
	struct kvd_iov iov[16];

	for (int rounds = 0; rounds < 4096 && budget && kvd_conn_pending(k->c); rounds++) {
		size_t pending = kvd_conn_pending(k->c), sum = 0, sent = 0;
		unsigned int n = kvd_conn_output(k->c, iov, max);

		for (unsigned int i = 0; i < n; i++)
			sum += iov[i].len;
		FUZZ_CHECK(n <= max && sum <= pending);
		FUZZ_CHECK(n > 0); /* pending output is reachable */
		for (unsigned int i = 0; i < n && sent < budget; i++) {
			size_t m = iov[i].len < budget - sent ? iov[i].len : budget - sent;

			received(k, iov[i].base, m);
			sent += m;
		}
		kvd_conn_output_done(k->c, sent);
		budget -= sent;
	}
}

/* Offer n bytes at p as one read from the network would. */
static void offer(struct client *k, const uint8_t *p, size_t n)
{
	size_t used, off = 0;
	uint8_t *copy;

	if (!n)
		return;
	if (!k->started) {
		k->started = true;
		k->binary = p[0] == 0x80; /* protocol_binary.txt: the request magic */
	}
	copy = malloc(n); /* exactly n bytes: a read past them is reported */
	FUZZ_CHECK(copy);
	memcpy(copy, p, n);
	/* Offer the rest again after draining, as a transport does under backpressure. */
	for (int rounds = 0; off < n && rounds < 64; rounds++) {
		used = kvd_conn_input(k->c, copy + off, n - off);
		FUZZ_CHECK(used <= n - off);
		off += used;
		if (off < n) {
			FUZZ_CHECK(kvd_conn_want_close(k->c) || kvd_conn_pending(k->c) > 0);
			if (kvd_conn_want_close(k->c))
				break;
			drain(k, 16, SIZE_MAX);
		}
	}
	free(copy);
}

static void feed(struct fz *f, struct client *k)
{
	size_t n;
	const uint8_t *p = fz_bytes(f, fz_u16(f) % (FEED_MAX + 1), &n);

	offer(k, p, n);
}

/*
 * A text set of a value up to a little over the 1 MiB item limit, made
 * here rather than carried in the input: big values, chunks and eviction
 * without megabyte inputs.
 */
static void bulk(struct fz *f, struct client *k)
{
	static uint8_t fill[FEED_MAX];
	uint32_t len = fz_u32(f) % (BULK_MAX + 1);
	char line[64];
	int n = snprintf(line, sizeof(line), "set bulk%u 0 0 %u\r\n", fz_u8(f), len);

	memset(fill, 'v', sizeof(fill));
	offer(k, (const uint8_t *)line, (size_t)n);
	for (uint32_t off = 0; off < len; off += FEED_MAX)
		offer(k, fill, len - off < FEED_MAX ? len - off : FEED_MAX);
	offer(k, (const uint8_t *)"\r\n", 2);
}

static void step(struct fz *f)
{
	uint8_t op = fz_u8(f);
	struct client *k = client((op >> 3) % CONNS);
	char buf[512];
	size_t n;

	switch (op & 7) {
	case OP_FEED:
	case OP_FEED2:
		feed(f, k);
		break;
	case OP_BULK:
		bulk(f, k);
		break;
	case OP_DRAIN:
		drain(k, 1 + fz_below(f, 16), fz_u16(f));
		break;
	case OP_DRAIN_ALL:
		drain(k, 16, SIZE_MAX);
		break;
	case OP_CLOCK:
		now_ns += (uint64_t)fz_u16(f) * 1000000; /* up to ~65 s */
		for (unsigned int i = 0; i < nworkers; i++)
			kvd_worker_clock(workers[i], now_ns, 0);
		break;
	case OP_CLOSE:
		kvd_conn_close(k->c); /* replies unsent: the items they hold go back */
		k->c = NULL;
		break;
	default:
		n = kvd_conn_output_copy(k->c, buf, 1 + fz_below(f, sizeof(buf)));
		FUZZ_CHECK(n <= sizeof(buf));
		received(k, buf, n);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = fz_init(data, size);
	uint8_t setup = fz_u8(&f);
	struct kvd_config cfg = {
	    .maxbytes = (setup & 2) ? 8u << 20 : 2u << 20, /* 2 MiB: evictions come fast */
	    .workers = 1 + (setup & 1),
	    .hash_power = (setup & 4) ? 10 : 0, /* the smallest table: long chains too */
	    .start_mono_ns = 1000000000ull,
	    .seed = 0x5eed,
	};

	now_ns = cfg.start_mono_ns;
	FUZZ_CHECK(kvd_store_create(&cfg, &store) == 0);
	nworkers = cfg.workers;
	for (unsigned int i = 0; i < nworkers; i++) {
		workers[i] = kvd_store_worker(store, i);
		kvd_worker_clock(workers[i], now_ns, 0);
	}
	memset(cl, 0, sizeof(cl));
	for (unsigned int n = 0; n < STEPS && fz_left(&f); n++)
		step(&f);
	for (unsigned int i = 0; i < CONNS; i++) {
		if (!cl[i].c)
			continue;
		drain(&cl[i], 16, SIZE_MAX);
		kvd_conn_close(cl[i].c);
	}
	FUZZ_CHECK(kvd_store_audit(store) == 0);
	kvd_store_destroy(store);
	return 0;
}
