/* Helpers for the kvd unit tests: a small store, connections, input fed whole or in pieces. */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../usr/kvd/engine/kvd_impl.h"

#define KT_SEC 1000000000ull

struct kt {
	struct kvd_store *s;
	struct kvd_worker *w;
	struct kvd_conn *c;
	uint64_t now_ns;
};

static inline void kt_open(struct kt *t, size_t maxbytes, unsigned workers)
{
	struct kvd_config cfg = {
	    .maxbytes = maxbytes,
	    .workers = workers,
	    .start_mono_ns = 1000 * KT_SEC,
	    .start_unix = 1700000000,
	    .seed = 12345,
	    .pid = 42,
	};

	assert_int_equal(kvd_store_create(&cfg, &t->s), 0);
	t->w = kvd_store_worker(t->s, 0);
	t->now_ns = cfg.start_mono_ns;
	kvd_worker_clock(t->w, t->now_ns, cfg.start_unix);
	t->c = kvd_conn_open(t->w);
	assert_non_null(t->c);
}

/* Move the clock of every worker on by secs. */
static inline void kt_advance(struct kt *t, double secs)
{
	t->now_ns += (uint64_t)(secs * KT_SEC);
	for (unsigned i = 0; i < t->s->nworkers; i++)
		kvd_worker_clock(kvd_store_worker(t->s, i), t->now_ns,
				 1700000000 + (t->now_ns - 1000 * KT_SEC) / KT_SEC);
}

/* Everything the connection has to say, as a NUL-terminated heap string. */
static inline char *kt_drain(struct kvd_conn *c, size_t *len)
{
	size_t cap = kvd_conn_pending(c) + 1, n;
	char *out = malloc(cap);

	assert_non_null(out);
	n = kvd_conn_output_copy(c, out, cap - 1);
	assert_int_equal(kvd_conn_pending(c), 0);
	out[n] = 0;
	if (len)
		*len = n;
	return out;
}

/* Feed n bytes in pieces of at most step bytes (0: all at once), all taken. */
static inline void kt_feed(struct kvd_conn *c, const void *p, size_t n, size_t step)
{
	const uint8_t *b = p;

	while (n) {
		size_t k = step && step < n ? step : n;
		size_t used = kvd_conn_input(c, b, k);

		assert_int_equal(used, k);
		b += k;
		n -= k;
	}
}

/* Send a request (whole) and return the reply (caller frees). */
static inline char *kt_io(struct kt *t, const char *req)
{
	kt_feed(t->c, req, strlen(req), 0);
	return kt_drain(t->c, NULL);
}

#define kt_expect(t, req, want)                                                                    \
	do {                                                                                       \
		char *got_ = kt_io((t), (req));                                                    \
		assert_string_equal(got_, (want));                                                 \
		free(got_);                                                                        \
	} while (0)

static inline void kt_close(struct kt *t)
{
	if (t->c)
		kvd_conn_close(t->c);
	assert_int_equal(kvd_store_audit(t->s), 0);
	kvd_store_destroy(t->s);
}

/* A fresh connection on the same store (the old one closed). */
static inline void kt_reconnect(struct kt *t)
{
	kvd_conn_close(t->c);
	t->c = kvd_conn_open(t->w);
	assert_non_null(t->c);
}

static inline uint64_t kt_stat(struct kt *t, const char *name)
{
	struct kvd_conn *c = kvd_conn_open(t->w);
	char *out, *p, key[96];
	uint64_t v = UINT64_MAX;

	kt_feed(c, "stats\r\n", 7, 0);
	out = kt_drain(c, NULL);
	snprintf(key, sizeof(key), "STAT %s ", name);
	p = strstr(out, key);
	if (p)
		v = strtoull(p + strlen(key), NULL, 10);
	free(out);
	kvd_conn_close(c);
	return v;
}
