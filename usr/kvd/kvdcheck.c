/* kvdcheck: the kvd engine inside a Manticore process, fed scripted sessions (no network yet). */
#include <mc/errno.h>
#include <mc/event.h>
#include <mc/runtime.h>
#include <mc/stdio.h>
#include <mc/stdlib.h>
#include <mc/string.h>
#include <mc/sys.h>

#include "kvd.h"

/*
 * Until the stack has TCP, this is how kvd proves it runs on the
 * freestanding runtime: item memory from vmspace_alloc (the manifest's
 * mem= budget), the monotonic clock, C11 atomics, and replies taken as an
 * iovec list. Prints one line per check and "kvdcheck: PASS" at the end.
 * With --mem over what the manifest's mem= leaves, the arena stops growing
 * where vmspace_alloc says no and the cache evicts from there.
 *
 *   kvdcheck [--mem MB]        item budget (default 8)
 */

static unsigned checks, failed;

static void check(const char *what, int ok)
{
	checks++;
	if (!ok)
		failed++;
	printf("kvdcheck: %s: %s\n", what, ok ? "ok" : "FAIL");
}

static void *region(size_t len)
{
	return vmspace_alloc(len, PROT_READ | PROT_WRITE);
}

static char reply[1 << 16];

/* Feed a request and collect the reply (which must fit in reply[]). */
static size_t exchange(struct kvd_conn *c, const void *req, size_t n)
{
	size_t used = kvd_conn_input(c, req, n), got;

	if (used != n)
		return (size_t)-1;
	got = kvd_conn_output_copy(c, reply, sizeof(reply) - 1);
	reply[got] = 0;
	return got;
}

static int says(struct kvd_conn *c, const char *req, const char *want)
{
	size_t n = exchange(c, req, strlen(req));

	if (n == (size_t)-1 || strcmp(reply, want)) {
		printf("kvdcheck:   sent %s   got %s   want %s", req, reply, want);
		return 0;
	}
	return 1;
}

static uint64_t stat_of(struct kvd_conn *c, const char *name)
{
	char key[64];
	const char *p;

	size_t klen;

	exchange(c, "stats\r\n", 7);
	klen = (size_t)snprintf(key, sizeof(key), "STAT %s ", name);
	for (p = reply; *p; p++) {
		uint64_t v = 0;

		if (strncmp(p, key, klen))
			continue;
		for (p += klen; *p >= '0' && *p <= '9'; p++)
			v = v * 10 + (uint64_t)(*p - '0');
		return v;
	}
	return UINT64_MAX;
}

/* A value in chunks comes back as several iovecs that point into the item. */
static int big_value(struct kvd_conn *c)
{
	size_t n = KVD_ITEM_SIZE_MAX - 1024, hdr;
	char *req = malloc(n + 64);
	struct kvd_iov iov[32];
	unsigned cnt;
	size_t total = 0;
	int ok = 1;

	if (!req)
		return 0;
	hdr = (size_t)snprintf(req, 64, "set big 0 0 %lu\r\n", (unsigned long)n);
	for (size_t i = 0; i < n; i++)
		req[hdr + i] = (char)('a' + i % 23);
	memcpy(req + hdr + n, "\r\n", 2);
	ok &= kvd_conn_input(c, req, hdr + n + 2) == hdr + n + 2;
	ok &= kvd_conn_output_copy(c, reply, sizeof(reply)) == 8; /* STORED */
	ok &= kvd_conn_input(c, "get big\r\n", 9) == 9;
	cnt = kvd_conn_output(c, iov, 32);
	ok &= cnt > 3;
	for (unsigned i = 0; i < cnt; i++)
		total += iov[i].len;
	ok &= total == kvd_conn_pending(c);
	/* the value's iovecs hold the bytes that were sent */
	size_t off = 0;
	for (unsigned i = 1; i + 1 < cnt; i++) {
		const char *b = iov[i].base;

		for (size_t k = 0; k < iov[i].len && off < n; k++, off++)
			ok &= b[k] == 'a' + (char)(off % 23);
	}
	ok &= off == n;
	kvd_conn_output_done(c, total);
	free(req);
	return ok;
}

int main(int argc, char **argv)
{
	struct kvd_config cfg = {.maxbytes = 8u << 20, .workers = 1};
	struct kvd_store *s;
	struct kvd_worker *w;
	struct kvd_conn *c;
	const uint8_t *rnd = mc_random_bytes();
	int err;

	if (argc == 3 && !strcmp(argv[1], "--mem"))
		cfg.maxbytes = (size_t)atol(argv[2]) << 20;
	cfg.start_mono_ns = mc_now_ns();
	cfg.pid = (uint32_t)getpid();
	cfg.region_alloc = region;
	if (rnd)
		memcpy(&cfg.seed, rnd, sizeof(cfg.seed));
	err = kvd_store_create(&cfg, &s);
	if (err) {
		printf("kvdcheck: kvd_store_create: %d\n", err);
		return 1;
	}
	w = kvd_store_worker(s, 0);
	kvd_worker_clock(w, mc_now_ns(), 0);
	c = kvd_conn_open(w);

	check("text set/get", says(c, "set k 7 0 5\r\nhello\r\nget k\r\n",
				   "STORED\r\nVALUE k 7 5\r\nhello\r\nEND\r\n"));
	check("incr wraps",
	      says(c, "set n 0 0 20\r\n18446744073709551615\r\nincr n 2\r\n", "STORED\r\n1\r\n"));
	check("bad command", says(c, "bogus\r\nset k 0 0 abc\r\n",
				  "ERROR\r\nCLIENT_ERROR bad command line format\r\n"));
	check("meta", says(c, "ms m 2 T60 F3\r\nhi\r\nmg m v f t\r\nmn\r\n",
			   "HD\r\nVA 2 f3 t60\r\nhi\r\nMN\r\n"));
	check("value in chunks, zero copy", big_value(c));
	kvd_conn_close(c);

	/* a binary connection */
	static const uint8_t noop[24] = {0x80, 0x0a};
	c = kvd_conn_open(w);
	check("binary noop", exchange(c, noop, 24) == 24 && (uint8_t)reply[0] == 0x81);
	kvd_conn_close(c);

	/* three times the budget: every set stored, the oldest evicted */
	c = kvd_conn_open(w);
	static char val[100000];
	char hdr[64];
	size_t fill = cfg.maxbytes < (16u << 20) ? cfg.maxbytes : 16u << 20;
	unsigned stored = 0, rounds = (unsigned)(3 * fill / sizeof(val));
	memset(val, 'v', sizeof(val));
	for (unsigned i = 0; i < rounds; i++) {
		size_t h = (size_t)snprintf(hdr, sizeof(hdr), "set e%u 0 0 %lu\r\n", i,
					    (unsigned long)sizeof(val));

		kvd_conn_input(c, hdr, h);
		kvd_conn_input(c, val, sizeof(val));
		exchange(c, "\r\n", 2);
		stored += !strcmp(reply, "STORED\r\n");
	}
	check("full cache keeps storing", stored == rounds);
	check("evictions counted", stat_of(c, "evictions") > 0);
	check("bytes within the budget", stat_of(c, "bytes") <= cfg.maxbytes);
	printf("kvdcheck: %lu sets of 100 KB, %lu evictions, arena %lu regions\n",
	       (unsigned long)stored, (unsigned long)stat_of(c, "evictions"),
	       (unsigned long)stat_of(c, "kvd_arena_regions"));
	kvd_conn_close(c);
	check("no reference outlived its connection", kvd_store_audit(s) == 0);

	printf("kvdcheck: %u checks, %u failed\n", checks, failed);
	printf("kvdcheck: %s\n", failed ? "FAIL" : "PASS");
	return failed ? 1 : 0;
}
