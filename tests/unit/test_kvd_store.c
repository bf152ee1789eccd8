/* Unit tests for kvd's store and arena: eviction, expiry, flush, cas, threads. */
/* unit-sources: usr/kvd/engine/[a-z]*.c */
#include <pthread.h>

#include "kvd_test_util.h"

#define MB (1u << 20)

/* Random blocks stay disjoint and intact; freeing all gives whole regions back. */
static void test_arena_random(void **state)
{
	struct kvd_arena a;
	enum { SLOTS = 400 };
	uint8_t *blk[SLOTS] = {0};
	size_t len[SLOTS];
	unsigned seed = 1;

	(void)state;
	assert_int_equal(kvd_arena_init(&a, 8 * MB, NULL), 0);
	for (int round = 0; round < 20000; round++) {
		unsigned i = (unsigned)rand_r(&seed) % SLOTS;

		if (blk[i]) {
			for (size_t k = 0; k < len[i]; k++)
				if (blk[i][k] != (uint8_t)(i + k))
					fail_msg("block %u byte %zu overwritten", i, k);
			kvd_arena_free(&a, blk[i]);
			blk[i] = NULL;
			continue;
		}
		len[i] = (unsigned)rand_r(&seed) % 4 == 0
			     ? (size_t)rand_r(&seed) % KVD_ARENA_MAX_ALLOC
			     : (size_t)rand_r(&seed) % 2000;
		size_t got;

		blk[i] = kvd_arena_alloc(&a, len[i], &got);
		if (!blk[i])
			continue; /* full: fine, the store would evict */
		assert_true(((uintptr_t)blk[i] & 7) == 0);
		/* header, rounding to 8, a minimum block, an unsplit remainder under 24 */
		assert_true(got >= len[i] + 8);
		assert_true(got <= (len[i] + 15 > 24 ? len[i] + 15 : 24) + 16);
		for (size_t k = 0; k < len[i]; k++)
			blk[i][k] = (uint8_t)(i + k);
	}
	assert_true(a.regions <= 8);
	for (unsigned i = 0; i < SLOTS; i++)
		if (blk[i])
			kvd_arena_free(&a, blk[i]);
	assert_int_equal(a.used, 0);
	/* everything merged back: each region holds a maximal block again */
	size_t regions = a.regions;
	for (size_t r = 0; r < regions; r++)
		assert_non_null(kvd_arena_alloc(&a, KVD_ARENA_MAX_ALLOC, NULL));
	assert_int_equal(a.regions, regions);
	assert_null(kvd_arena_alloc(&a, KVD_ARENA_MAX_ALLOC + 1, NULL));
	kvd_arena_fini(&a);
}

static void test_arena_budget(void **state)
{
	struct kvd_arena a;
	int n = 0;

	(void)state;
	assert_int_equal(kvd_arena_init(&a, 3 * MB, NULL), 0);
	while (kvd_arena_alloc(&a, 100000, NULL))
		n++;
	assert_int_equal(a.regions, 3);
	assert_true(n >= 27 && n <= 30);
	kvd_arena_fini(&a);
}

static enum kvd_result put(struct kvd_worker *w, const char *key, const char *val, size_t n,
			   uint32_t exptime)
{
	enum kvd_result why, r;
	struct kvd_item *it =
			    kvd_item_alloc(w, key, strlen(key), 0, exptime, (uint32_t)n + 2, &why),
			*stored;

	if (!it)
		return why;
	kvd_item_write(it, 0, val, (uint32_t)n);
	kvd_item_write(it, (uint32_t)n, "\r\n", 2);
	r = kvd_store_item(w, it, KVD_SET, 0, false, &stored);
	kvd_item_put(w, it);
	if (stored)
		kvd_item_put(w, stored);
	return r;
}

static bool has(struct kvd_worker *w, const char *key)
{
	struct kvd_item *it =
	    kvd_item_get(w, key, strlen(key), &(struct kvd_lookup){.bump = false});

	if (it)
		kvd_item_put(w, it);
	return it != NULL;
}

/* A full cache keeps storing; the least recently used go; a hot key stays. */
static void test_eviction_and_second_chance(void **state)
{
	struct kt t;
	char key[32], val[5000];
	unsigned stored = 0;

	(void)state;
	kt_open(&t, 4 * MB, 1);
	memset(val, 'v', sizeof(val));
	assert_int_equal(put(t.w, "hot", val, 3000, 0), KVD_STORED);
	for (int i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(put(t.w, key, val, (size_t)(i * 37) % sizeof(val), 0), KVD_STORED);
		stored++;
		/* a GET marks it active: the evictor gives it a second chance */
		struct kvd_item *h =
		    kvd_item_get(t.w, "hot", 3, &(struct kvd_lookup){.bump = true});
		assert_non_null(h);
		kvd_item_put(t.w, h);
	}
	assert_true(kt_stat(&t, "evictions") > 10000);
	assert_true(kt_stat(&t, "bytes") <= 4 * MB);
	assert_true(has(t.w, "hot"));
	assert_true(has(t.w, "k19999"));
	assert_false(has(t.w, "k0"));
	assert_int_equal(kt_stat(&t, "total_items"), stored + 1);
	kt_close(&t);
}

/* Every item read since it was stored (all ACTIVE): a set still finds room. */
static void test_eviction_when_everything_is_hot(void **state)
{
	struct kt t;
	char key[32], val[3000];

	(void)state;
	kt_open(&t, 2 * MB, 1);
	memset(val, 'h', sizeof(val));
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 2000; i++) {
			snprintf(key, sizeof(key), "h%d", i);
			if (!has(t.w, key))
				assert_int_equal(put(t.w, key, val, sizeof(val), 0), KVD_STORED);
			struct kvd_item *it =
			    kvd_item_get(t.w, key, strlen(key), &(struct kvd_lookup){.bump = true});
			assert_non_null(it);
			kvd_item_put(t.w, it);
		}
	}
	assert_int_equal(kt_stat(&t, "kvd_outofmemory"), 0);
	assert_true(kt_stat(&t, "evictions") > 0);
	kt_close(&t);
}

/* Evicting for chunk-sized blocks reuses the holes they leave: the cache stays mostly full. */
static void test_eviction_keeps_memory_used(void **state)
{
	struct kt t;
	static const size_t sizes[] = {100, 1000, 10000, 60000, 200000, 700000};
	char key[32], *val = malloc(700000);
	unsigned seed = 9;

	(void)state;
	kt_open(&t, 8 * MB, 1);
	memset(val, 'u', 700000);
	for (int i = 0; i < 600; i++) {
		size_t n = sizes[(unsigned)rand_r(&seed) % 6];

		snprintf(key, sizeof(key), "u%d", i);
		assert_int_equal(put(t.w, key, val, n, 0), KVD_STORED);
	}
	/* what is stored is at least 60% of the budget */
	assert_true(kt_stat(&t, "bytes") > 8 * MB * 6 / 10);
	free(val);
	kt_close(&t);
}

/* Large (chunked) items evict small ones and the other way round. */
static void test_eviction_mixed_sizes(void **state)
{
	struct kt t;
	char key[32];
	char *val = malloc(KVD_ITEM_SIZE_MAX);
	unsigned seed = 3;

	(void)state;
	kt_open(&t, 3 * MB, 1);
	memset(val, 'z', KVD_ITEM_SIZE_MAX);
	for (int i = 0; i < 3000; i++) {
		size_t n = rand_r(&seed) % 10 == 0 ? KVD_ITEM_SIZE_MAX - 1024
						   : (size_t)rand_r(&seed) % 3000;

		snprintf(key, sizeof(key), "m%d", i);
		assert_int_equal(put(t.w, key, val, n, 0), KVD_STORED);
		assert_true(has(t.w, key));
	}
	assert_int_equal(kt_stat(&t, "kvd_outofmemory"), 0);
	free(val);
	kt_close(&t);
}

static void test_expiry(void **state)
{
	struct kt t;

	(void)state;
	kt_open(&t, 4 * MB, 1);
	assert_int_equal(put(t.w, "a", "1", 1, kvd_exptime(t.w, 2)), KVD_STORED);
	assert_int_equal(put(t.w, "b", "1", 1, kvd_exptime(t.w, -1)), KVD_STORED);
	assert_int_equal(put(t.w, "c", "1", 1, kvd_exptime(t.w, 1700000000 + 100)), KVD_STORED);
	assert_int_equal(put(t.w, "d", "1", 1, kvd_exptime(t.w, 1700000000 - 5)), KVD_STORED);
	assert_int_equal(put(t.w, "e", "1", 1, kvd_exptime(t.w, 60 * 60 * 24 * 30)), KVD_STORED);
	assert_true(has(t.w, "a"));
	assert_false(has(t.w, "b"));
	assert_true(has(t.w, "c"));
	assert_false(has(t.w, "d"));
	kt_advance(&t, 1.5);
	assert_true(has(t.w, "a"));
	kt_advance(&t, 1);
	assert_false(has(t.w, "a"));
	assert_true(has(t.w, "c"));
	kt_advance(&t, 98);
	assert_false(has(t.w, "c"));
	assert_true(has(t.w, "e"));
	kt_advance(&t, 60 * 60 * 24 * 30);
	assert_false(has(t.w, "e"));
	assert_int_equal(kt_stat(&t, "curr_items"), 0); /* lazily unlinked on access */
	assert_int_equal(kt_stat(&t, "get_expired"), 5);
	kt_close(&t);
}

static void test_flush_all(void **state)
{
	struct kt t;

	(void)state;
	kt_open(&t, 4 * MB, 1);
	put(t.w, "a", "1", 1, 0);
	kvd_flush_all(t.w, 0);
	assert_false(has(t.w, "a"));
	put(t.w, "b", "1", 1, 0); /* the same microsecond as the flush */
	assert_true(has(t.w, "b"));
	kvd_flush_all(t.w, 10);
	put(t.w, "c", "1", 1, 0);
	kt_advance(&t, 9);
	assert_true(has(t.w, "b") && has(t.w, "c"));
	kt_advance(&t, 1.1);
	assert_false(has(t.w, "b") || has(t.w, "c"));
	put(t.w, "d", "1", 1, 0);
	assert_true(has(t.w, "d"));
	/* over 30 days: a Unix time, here 100 s after the test's clock */
	kvd_flush_all(t.w, (int64_t)t.w->unix_now + 100);
	kt_advance(&t, 99);
	assert_true(has(t.w, "d"));
	kt_advance(&t, 2);
	assert_false(has(t.w, "d"));
	kvd_flush_all(t.w, INT64_MAX); /* far future: no overflow, nothing flushed now */
	put(t.w, "e", "1", 1, 0);
	kt_advance(&t, 1000);
	assert_true(has(t.w, "e"));
	kt_close(&t);
}

static void test_cas_unique_across_workers(void **state)
{
	struct kt t;
	uint64_t seen[4 * 100];

	(void)state;
	kt_open(&t, 4 * MB, 4);
	for (int i = 0; i < 100; i++)
		for (unsigned w = 0; w < 4; w++)
			seen[i * 4 + w] = kvd_next_cas(kvd_store_worker(t.s, w));
	for (int i = 0; i < 400; i++)
		for (int j = i + 1; j < 400; j++)
			assert_true(seen[i] != seen[j] && seen[i] != 0);
	kt_close(&t);
}

static void test_arith_edges(void **state)
{
	struct kt t;
	struct kvd_arith a = {.incr = true, .delta = 1};

	(void)state;
	kt_open(&t, 4 * MB, 1);
	assert_int_equal(kvd_arith(t.w, "n", 1, &a), KVD_NOT_FOUND);
	a.create = true;
	a.initial = UINT64_MAX;
	assert_int_equal(kvd_arith(t.w, "n", 1, &a), KVD_STORED);
	assert_true(a.created);
	assert_int_equal(a.value, UINT64_MAX);
	assert_int_equal(kvd_arith(t.w, "n", 1, &a), KVD_STORED);
	assert_int_equal(a.value, 0); /* wraps */
	a.incr = false;
	a.delta = 5;
	assert_int_equal(kvd_arith(t.w, "n", 1, &a), KVD_STORED);
	assert_int_equal(a.value, 0); /* floors */
	a.cas = 1;
	assert_int_equal(kvd_arith(t.w, "n", 1, &a), KVD_EXISTS);
	kt_close(&t);
}

/* Several workers (threads) on one store: the engine's locking under real concurrency. */
struct hammer {
	struct kvd_worker *w;
	unsigned seed;
	unsigned bad;
};

static void *hammer(void *arg)
{
	struct hammer *h = arg;
	char key[16], val[8100];
	struct kvd_conn *c = kvd_conn_open(h->w);
	char out[1 << 16];

	for (int i = 0; i < 10000; i++) {
		unsigned r = (unsigned)rand_r(&h->seed);
		int k = (int)(r % 1500);
		size_t n = (size_t)snprintf(key, sizeof(key), "h%d", k);
		size_t vlen = 8 + (r >> 10) % 8000;

		switch ((r >> 20) % 6) {
		case 0:
		case 1: /* the value encodes its key, so any torn write shows */
			for (size_t j = 0; j < vlen; j++)
				val[j] = key[j % n];
			put(h->w, key, val, vlen, 0);
			break;
		case 2:
			kvd_delete(h->w, key, n, 0);
			break;
		default: {
			struct kvd_item *it = kvd_item_get(h->w, key, n, NULL);

			if (!it)
				break;
			uint32_t len = it->nbytes - 2;
			char *buf = malloc(len + 2);
			kvd_item_read(it, 0, buf, len + 2);
			for (uint32_t j = 0; j < len; j++)
				if (buf[j] != key[j % n])
					h->bad++;
			if (buf[len] != '\r' || buf[len + 1] != '\n')
				h->bad++;
			free(buf);
			kvd_item_put(h->w, it);
		}
		}
		if (i % 1000 == 0) { /* some protocol traffic too */
			kvd_conn_input(c, "get h1 h2 h3\r\n", 14);
			while (kvd_conn_pending(c))
				kvd_conn_output_copy(c, out, sizeof(out));
		}
	}
	kvd_conn_close(c);
	return NULL;
}

static void test_threads_share_one_store(void **state)
{
	struct kt t;
	pthread_t tid[4];
	struct hammer h[4];

	(void)state;
	kt_open(&t, 2 * MB, 4); /* small: eviction races with the rest */
	for (unsigned i = 0; i < 4; i++) {
		h[i] = (struct hammer){.w = kvd_store_worker(t.s, i), .seed = i + 1};
		kvd_worker_clock(h[i].w, t.now_ns, 0);
		pthread_create(&tid[i], NULL, hammer, &h[i]);
	}
	for (unsigned i = 0; i < 4; i++) {
		pthread_join(tid[i], NULL);
		assert_int_equal(h[i].bad, 0);
	}
	assert_true(kt_stat(&t, "evictions") > 0);
	kt_close(&t); /* audit: every reference returned, bytes add up */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_arena_random),
	    cmocka_unit_test(test_arena_budget),
	    cmocka_unit_test(test_eviction_and_second_chance),
	    cmocka_unit_test(test_eviction_when_everything_is_hot),
	    cmocka_unit_test(test_eviction_keeps_memory_used),
	    cmocka_unit_test(test_eviction_mixed_sizes),
	    cmocka_unit_test(test_expiry),
	    cmocka_unit_test(test_flush_all),
	    cmocka_unit_test(test_cas_unique_across_workers),
	    cmocka_unit_test(test_arith_edges),
	    cmocka_unit_test(test_threads_share_one_store),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
