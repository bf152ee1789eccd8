/* Unit tests for kvd's text protocol: commands, noreply, framing, limits, bad forms. */
/* unit-sources: usr/kvd/engine/[a-z]*.c */
#include "kvd_test_util.h"

#define MB (1u << 20)

static void test_storage_and_retrieval(void **state)
{
	struct kt t;

	(void)state;
	kt_open(&t, 8 * MB, 1);
	kt_expect(&t, "set a 5 0 3\r\nabc\r\n", "STORED\r\n");
	kt_expect(&t, "get a\r\n", "VALUE a 5 3\r\nabc\r\nEND\r\n");
	kt_expect(&t, "get nope a nope\r\n", "VALUE a 5 3\r\nabc\r\nEND\r\n");
	kt_expect(&t, "add a 0 0 1\r\nx\r\n", "NOT_STORED\r\n");
	kt_expect(&t, "add b 0 0 1\r\nx\r\n", "STORED\r\n");
	kt_expect(&t, "replace c 0 0 1\r\nx\r\n", "NOT_STORED\r\n");
	kt_expect(&t, "replace b 7 0 2\r\nyy\r\n", "STORED\r\n");
	kt_expect(&t, "append b 0 0 2\r\nzz\r\n", "STORED\r\n");
	kt_expect(&t, "prepend b 0 0 2\r\nxx\r\n", "STORED\r\n");
	kt_expect(&t, "get b\r\n", "VALUE b 7 6\r\nxxyyzz\r\nEND\r\n");
	kt_expect(&t, "append nokey 0 0 1\r\nx\r\n", "NOT_STORED\r\n");
	kt_expect(&t, "set empty 0 0 0\r\n\r\n", "STORED\r\n");
	kt_expect(&t, "get empty\r\n", "VALUE empty 0 0\r\n\r\nEND\r\n");
	kt_expect(&t, "delete b\r\n", "DELETED\r\n");
	kt_expect(&t, "delete b\r\n", "NOT_FOUND\r\n");
	kt_expect(&t, "delete a 0\r\n", "DELETED\r\n");
	kt_expect(&t, "version\r\n", "VERSION " KVD_VERSION "\r\n");
	kt_expect(&t, "verbosity 1\r\n", "OK\r\n");
	kt_expect(&t, "set f 4294967295 0 1\r\n1\r\nget f\r\n",
		  "STORED\r\nVALUE f 4294967295 1\r\n1\r\nEND\r\n");
	kt_close(&t);
}

static void test_cas(void **state)
{
	struct kt t;
	char *out, req[128];
	unsigned long long cas;

	(void)state;
	kt_open(&t, 8 * MB, 1);
	kt_expect(&t, "cas k 0 0 1 1\r\nx\r\n", "NOT_FOUND\r\n");
	kt_expect(&t, "set k 0 0 1\r\nx\r\n", "STORED\r\n");
	out = kt_io(&t, "gets k\r\n");
	assert_int_equal(sscanf(out, "VALUE k 0 1 %llu", &cas), 1);
	free(out);
	snprintf(req, sizeof(req), "cas k 0 0 1 %llu\r\ny\r\n", cas + 1);
	kt_expect(&t, req, "EXISTS\r\n");
	snprintf(req, sizeof(req), "cas k 3 0 1 %llu\r\ny\r\n", cas);
	kt_expect(&t, req, "STORED\r\n");
	kt_expect(&t, req, "EXISTS\r\n"); /* the value changed: the token is stale */
	kt_expect(&t, "get k\r\n", "VALUE k 3 1\r\ny\r\nEND\r\n");
	assert_int_equal(kt_stat(&t, "cas_hits"), 1);
	assert_int_equal(kt_stat(&t, "cas_badval"), 2);
	assert_int_equal(kt_stat(&t, "cas_misses"), 1);
	kt_close(&t);
}

static void test_noreply_everywhere(void **state)
{
	struct kt t;

	(void)state;
	kt_open(&t, 8 * MB, 1);
	kt_expect(&t,
		  "set a 0 0 1 noreply\r\n1\r\n"
		  "add b 0 0 1 noreply\r\n2\r\n"
		  "add b 0 0 1 noreply\r\n2\r\n"
		  "replace b 0 0 1 noreply\r\n3\r\n"
		  "append b 0 0 1 noreply\r\n4\r\n"
		  "prepend b 0 0 1 noreply\r\n5\r\n"
		  "cas b 0 0 1 1 noreply\r\n6\r\n"
		  "incr a 5 noreply\r\n"
		  "decr a 1 noreply\r\n"
		  "touch a 100 noreply\r\n"
		  "delete nokey noreply\r\n"
		  "flush_all 100 noreply\r\n"
		  "verbosity 1 noreply\r\n"
		  "verbosity noreply\r\n"
		  "get a b\r\n",
		  "VALUE a 0 1\r\n5\r\nVALUE b 0 3\r\n534\r\nEND\r\n");
	/* errors are answered even under noreply */
	kt_expect(&t, "set x 0 0 1 noreply\r\nxyz\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\n");
	kt_expect(&t, "set x 0 0 1 noreply\r\nx\r\nincr x 1 noreply\r\n",
		  "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
	kt_close(&t);
}

/* Words and forms as memcached 1.6 answers them. */
static void test_bad_forms(void **state)
{
	static const char *const cases[][2] = {
	    {"bogus\r\n", "ERROR\r\n"},
	    {"\r\n", "ERROR\r\n"},
	    {"GET a\r\n", "ERROR\r\n"},
	    {"get\r\n", "ERROR\r\n"},
	    {"gets\r\n", "ERROR\r\n"},
	    {"gat\r\n", "ERROR\r\n"},
	    {"gat 10\r\n", "END\r\n"},
	    {"gat abc k\r\n", "CLIENT_ERROR invalid exptime argument\r\n"},
	    {"set k 0 0\r\n", "ERROR\r\n"},
	    {"set k abc 0 1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"},
	    {"set k 0 abc 1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"},
	    {"set k 0 0 abc\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"},
	    {"set k 0 0 -1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"},
	    {"set k -1 0 1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"},
	    {"set k 0x10 0 1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"},
	    {"set k 4294967296 0 1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"},
	    {"set k 0 0 1 noreply extra\r\nx\r\n", "ERROR\r\nERROR\r\n"},
	    {"set k 0 0 5\r\nhelloXX\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\n"},
	    {"set k 0 0 1\r\nh\nget k\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\n"},
	    {"cas k 0 0 1\r\nx\r\n", "ERROR\r\nERROR\r\n"},
	    {"cas k 0 0 1 abc\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"},
	    {"incr\r\n", "ERROR\r\n"},
	    {"incr k\r\n", "ERROR\r\n"},
	    {"incr nokey 1\r\n", "NOT_FOUND\r\n"},
	    {"incr k abc\r\n", "CLIENT_ERROR invalid numeric delta argument\r\n"},
	    {"incr k -1\r\n", "CLIENT_ERROR invalid numeric delta argument\r\n"},
	    {"incr k 18446744073709551616\r\n", "CLIENT_ERROR invalid numeric delta argument\r\n"},
	    {"delete\r\n", "ERROR\r\n"},
	    {"delete k 5\r\n",
	     "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"},
	    {"delete k a b\r\n",
	     "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"},
	    {"touch k\r\n", "ERROR\r\n"},
	    {"touch k abc\r\n", "CLIENT_ERROR invalid exptime argument\r\n"},
	    {"flush_all abc\r\n", "CLIENT_ERROR invalid exptime argument\r\n"},
	    {"flush_all 1 2 3\r\n", "ERROR\r\n"},
	    {"verbosity\r\n", "ERROR\r\n"},
	    {"verbosity abc\r\n", "CLIENT_ERROR bad command line format\r\n"},
	    {"verbosity 1 2 3\r\n", "ERROR\r\n"},
	    {"stats bogus\r\n", "ERROR\r\n"},
	    {"version\rversion\r\n", "ERROR\r\n"},
	};
	struct kt t;

	(void)state;
	kt_open(&t, 8 * MB, 1);
	kt_expect(&t, "set k 0 0 1\r\n1\r\n", "STORED\r\n");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = kt_io(&t, cases[i][0]);

		if (strcmp(got, cases[i][1]))
			fail_msg("case %zu %s: got [%s] want [%s]", i, cases[i][0], got,
				 cases[i][1]);
		free(got);
	}
	assert_true(kt_stat(&t, "kvd_err_unknown_command") >= 10);
	assert_true(kt_stat(&t, "kvd_err_bad_data_chunk") == 2);
	kt_close(&t);
}

static void test_key_length(void **state)
{
	struct kt t;
	char key[260], req[600];

	(void)state;
	kt_open(&t, 8 * MB, 1);
	memset(key, 'k', 251);
	key[250] = 0;
	snprintf(req, sizeof(req), "set %s 0 0 1\r\nx\r\n", key);
	kt_expect(&t, req, "STORED\r\n");
	snprintf(req, sizeof(req), "get %s\r\n", key);
	char *out = kt_io(&t, req);
	assert_non_null(strstr(out, "VALUE kkkk"));
	free(out);
	key[250] = 'k';
	key[251] = 0;
	snprintf(req, sizeof(req), "set %s 0 0 1\r\nx\r\n", key);
	kt_expect(&t, req, "CLIENT_ERROR bad command line format\r\nERROR\r\n");
	snprintf(req, sizeof(req), "get %s\r\n", key);
	kt_expect(&t, req, "CLIENT_ERROR bad command line format\r\n");
	snprintf(req, sizeof(req), "delete %s\r\n", key);
	kt_expect(&t, req, "CLIENT_ERROR bad command line format\r\n");
	kt_close(&t);
}

static void test_incr_decr(void **state)
{
	struct kt t;

	(void)state;
	kt_open(&t, 8 * MB, 1);
	kt_expect(&t, "set n 0 0 20\r\n18446744073709551615\r\nincr n 1\r\nget n\r\n",
		  "STORED\r\n0\r\nVALUE n 0 20\r\n0                   \r\nEND\r\n");
	kt_expect(&t, "set n 0 0 2\r\n10\r\ndecr n 100\r\nget n\r\n",
		  "STORED\r\n0\r\nVALUE n 0 2\r\n0 \r\nEND\r\n");
	kt_expect(&t, "set n 0 0 1\r\n9\r\nincr n 1\r\nget n\r\n",
		  "STORED\r\n10\r\nVALUE n 0 2\r\n10\r\nEND\r\n");
	kt_expect(&t, "set n 0 0 2\r\n 1\r\nincr n 1\r\n", "STORED\r\n2\r\n");
	kt_expect(&t, "set n 0 0 21\r\n184467440737095516150\r\nincr n 1\r\n",
		  "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
	kt_expect(&t, "set n 0 0 0\r\n\r\nincr n 1\r\n",
		  "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
	char *out = kt_io(&t, "set n 5 0 3\r\n100\r\ndecr n 1\r\nget n\r\n");
	assert_string_equal(out, "STORED\r\n99\r\nVALUE n 5 3\r\n99 \r\nEND\r\n");
	free(out);
	kt_close(&t);
}

/* A pending GET reply keeps its item: incr must not rewrite it in place. */
static void test_incr_does_not_touch_pending_reply(void **state)
{
	struct kt t;
	char *out;

	(void)state;
	kt_open(&t, 8 * MB, 1);
	kt_feed(t.c, "set n 0 0 2\r\n10\r\nget n\r\n", 24, 0);
	struct kvd_conn *other = kvd_conn_open(t.w);
	kt_feed(other, "incr n 5\r\n", 10, 0);
	out = kt_drain(other, NULL);
	assert_string_equal(out, "15\r\n");
	free(out);
	kvd_conn_close(other);
	out = kt_drain(t.c, NULL);
	assert_string_equal(out, "STORED\r\nVALUE n 0 2\r\n10\r\nEND\r\n");
	free(out);
	kt_expect(&t, "get n\r\n", "VALUE n 0 2\r\n15\r\nEND\r\n");
	kt_close(&t);
}

/* The same script fed whole, a byte at a time and in odd pieces answers alike. */
static void test_split_and_pipelined_input(void **state)
{
	static const size_t steps[] = {0, 1, 2, 3, 7, 13, 64, 1000};
	char script[8192], *want = NULL;
	size_t n = 0;
	struct kt t;

	(void)state;
	n += (size_t)snprintf(script + n, sizeof(script) - n, "set big 1 0 3000\r\n");
	for (int i = 0; i < 3000; i++)
		script[n++] = (char)('a' + i % 26);
	n += (size_t)snprintf(script + n, sizeof(script) - n,
			      "\r\nget big\r\nset s 0 0 4\r\n\r\n\r\n\r\nincr nope 1\r\n"
			      "bogus line\r\nget s big s\r\nmn\r\nms m 3 T0\r\nabc\r\nmg m v\r\n"
			      "gets nope\nversion\n");
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		char *got;

		kt_open(&t, 8 * MB, 1);
		kt_feed(t.c, script, n, steps[s]);
		got = kt_drain(t.c, NULL);
		if (!want)
			want = got;
		else {
			assert_string_equal(got, want);
			free(got);
		}
		kt_close(&t);
	}
	assert_non_null(strstr(want, "STORED\r\nVALUE big 1 3000\r\nabcde"));
	assert_non_null(
	    strstr(want, "STORED\r\nNOT_FOUND\r\nERROR\r\nVALUE s 0 4\r\n\r\n\r\n\r\n"));
	assert_non_null(strstr(want, "MN\r\nHD\r\nVA 3\r\nabc\r\nEND\r\nVERSION"));
	free(want);
}

static void test_line_limits(void **state)
{
	struct kt t;
	char *line = malloc(KVD_LINE_MAX_GET + 100), *out;
	size_t n;

	(void)state;
	/* a non-retrieval line longer than KVD_LINE_MAX, sent in pieces */
	kt_open(&t, 8 * MB, 1);
	memset(line, 'x', 3000);
	kt_feed(t.c, line, 3000, 100);
	assert_true(kvd_conn_want_close(t.c));
	out = kt_drain(t.c, NULL);
	assert_string_equal(out, "CLIENT_ERROR line too long\r\n");
	free(out);
	assert_int_equal(kvd_conn_input(t.c, "version\r\n", 9), 9); /* ignored now */
	assert_int_equal(kvd_conn_pending(t.c), 0);
	kt_close(&t);

	/* a multi-get of 10000 keys (~69 KiB is too long, ~58 KiB fine) */
	kt_open(&t, 8 * MB, 1);
	kt_expect(&t, "set k9999 0 0 1\r\nz\r\n", "STORED\r\n");
	n = (size_t)sprintf(line, "get");
	for (int i = 0; n < KVD_LINE_MAX_GET - 20; i++)
		n += (size_t)sprintf(line + n, " k%d", 9999 - i % 10000);
	n += (size_t)sprintf(line + n, "\r\n");
	kt_feed(t.c, line, n, 1500);
	out = kt_drain(t.c, NULL);
	assert_true(strncmp(out, "VALUE k9999 0 1\r\nz\r\n", 20) == 0);
	assert_non_null(strstr(out, "END\r\n"));
	free(out);
	assert_false(kvd_conn_want_close(t.c));
	memset(line, 'k', KVD_LINE_MAX_GET + 50);
	memcpy(line, "get ", 4);
	kt_feed(t.c, line, KVD_LINE_MAX_GET + 50, 4096);
	assert_true(kvd_conn_want_close(t.c));
	free(kt_drain(t.c, NULL));
	kt_close(&t);
	free(line);
}

static void test_quit(void **state)
{
	struct kt t;

	(void)state;
	kt_open(&t, 8 * MB, 1);
	kt_expect(&t, "version\r\nquit\r\nversion\r\n", "VERSION " KVD_VERSION "\r\n");
	assert_true(kvd_conn_want_close(t.c));
	kt_close(&t);
}

/* Values too large for the cache are refused and their bytes swallowed. */
static void test_item_size_limit(void **state)
{
	struct kt t;
	size_t big = KVD_ITEM_SIZE_MAX;
	char *req = malloc(big + 200), *out;
	size_t n;

	(void)state;
	kt_open(&t, 8 * MB, 1);
	kt_expect(&t, "set k 0 0 1\r\nx\r\n", "STORED\r\n");
	n = (size_t)sprintf(req, "set k 0 0 %zu\r\n", big);
	memset(req + n, 'v', big);
	n += big;
	n += (size_t)sprintf(req + n, "\r\nget k\r\n");
	kt_feed(t.c, req, n, 65536);
	out = kt_drain(t.c, NULL);
	/* and the old value is gone, as memcached drops it */
	assert_string_equal(out, "SERVER_ERROR object too large for cache\r\nEND\r\n");
	free(out);
	/* the largest value that fits, stored in chunks and read back zero-copy */
	big = KVD_ITEM_SIZE_MAX - 1024;
	n = (size_t)sprintf(req, "set k 0 0 %zu\r\n", big);
	for (size_t i = 0; i < big; i++)
		req[n + i] = (char)(i * 7 + i / 65536);
	memcpy(req + n + big, "\r\nget k\r\n", 9);
	kt_feed(t.c, req, n + big + 9, 0);
	struct kvd_iov iov[64];
	unsigned cnt = kvd_conn_output(t.c, iov, 64);
	assert_true(cnt >= 17); /* STORED, VALUE line, 16 chunks, END */
	size_t total = 0, off = 0;
	for (unsigned i = 0; i < cnt; i++)
		total += iov[i].len;
	assert_int_equal(total, kvd_conn_pending(t.c));
	out = kt_drain(t.c, &total);
	off = strlen("STORED\r\nVALUE k 0 1047552\r\n");
	assert_memory_equal(out, "STORED\r\nVALUE k 0 1047552\r\n", off);
	assert_memory_equal(out + off, req + n, big);
	assert_string_equal(out + off + big, "\r\nEND\r\n");
	free(out);
	/* append past the limit is refused */
	kt_expect(&t, "append k 0 0 2000\r\n", "");
	memset(req, 'a', 2000);
	memcpy(req + 2000, "\r\n", 2);
	kt_feed(t.c, req, 2002, 0);
	out = kt_drain(t.c, NULL);
	assert_string_equal(out, "SERVER_ERROR object too large for cache\r\n");
	free(out);
	kt_close(&t);
	free(req);
}

/* A client that sends without reading: input stops at the high-water mark. */
static void test_output_backpressure(void **state)
{
	struct kt t;
	char *val = malloc(600000), req[64];
	size_t n, used, sent = 0;

	(void)state;
	kt_open(&t, 16 * MB, 1);
	n = (size_t)sprintf(req, "set v 0 0 600000\r\n");
	kt_feed(t.c, req, n, 0);
	memset(val, 'q', 600000);
	kt_feed(t.c, val, 600000, 0);
	kt_feed(t.c, "\r\n", 2, 0);
	free(kt_drain(t.c, NULL));
	char gets[20 * 7];
	for (int i = 0; i < 20; i++)
		memcpy(gets + 7 * i, "get v\r\n", 7);
	used = kvd_conn_input(t.c, gets, sizeof(gets));
	assert_true(used < sizeof(gets));
	assert_true(kvd_conn_pending(t.c) > KVD_OUT_HIGH);
	assert_true(kvd_conn_pending(t.c) < KVD_OUT_HIGH + 700000);
	assert_true(kt_stat(&t, "kvd_conn_backpressure") >= 1);
	/* the client reads; the rest is taken */
	while (used < sizeof(gets)) {
		char buf[100000];

		sent += kvd_conn_output_copy(t.c, buf, sizeof(buf));
		used += kvd_conn_input(t.c, gets + used, sizeof(gets) - used);
	}
	size_t len;
	char *rest = kt_drain(t.c, &len);
	assert_int_equal(sent + len, 20 * (strlen("VALUE v 0 600000\r\n") + 600002 + 5));
	free(rest);
	free(val);
	kt_close(&t);
}

/* One line asking for a big value many times queues replies only as they drain. */
static void test_multiget_resumes_under_backpressure(void **state)
{
	struct kt t;
	char *val = malloc(600000), line[1200], buf[1 << 16], tail[32];
	size_t n, total = 0, peak = 0, one = strlen("VALUE v 0 600000\r\n") + 600002;

	(void)state;
	kt_open(&t, 16 * MB, 1);
	n = (size_t)sprintf(line, "set v 0 0 600000\r\n");
	kt_feed(t.c, line, n, 0);
	memset(val, 'q', 600000);
	kt_feed(t.c, val, 600000, 0);
	kt_feed(t.c, "\r\n", 2, 0);
	free(kt_drain(t.c, NULL));
	n = (size_t)sprintf(line, "get");
	for (int i = 0; i < 100; i++)
		n += (size_t)sprintf(line + n, " v");
	n += (size_t)sprintf(line + n, "\r\nversion\r\n");
	/* "version" waits behind the retrieval: the caller keeps it and offers it again */
	size_t used = kvd_conn_input(t.c, line, n);
	assert_true(used < n);
	while (kvd_conn_pending(t.c)) {
		if (kvd_conn_pending(t.c) > peak)
			peak = kvd_conn_pending(t.c);
		size_t got = kvd_conn_output_copy(t.c, buf, sizeof(buf));
		total += got;
		used += kvd_conn_input(t.c, line + used, n - used);
		if (got >= 32) /* the last bytes seen: END before VERSION */
			memcpy(tail, buf + got - 32, 32);
	}
	assert_int_equal(used, n);
	assert_memory_equal(tail + 32 - 25, "END\r\nVERSION " KVD_VERSION "\r\n", 25);
	assert_true(peak <= KVD_OUT_HIGH + one + 64);
	assert_int_equal(total, 100 * one + 5 + 20);
	free(val);
	kt_close(&t);
}

/* Closing a connection with replies pending releases the items they hold. */
static void test_close_with_pending_output(void **state)
{
	struct kt t;

	(void)state;
	kt_open(&t, 8 * MB, 1);
	kt_feed(t.c, "set a 0 0 1\r\n1\r\nget a a a\r\ndelete a\r\n", 37, 0);
	assert_true(kvd_conn_pending(t.c) > 0);
	kt_close(&t); /* audits that the deleted item's memory came back */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_storage_and_retrieval),
	    cmocka_unit_test(test_cas),
	    cmocka_unit_test(test_noreply_everywhere),
	    cmocka_unit_test(test_bad_forms),
	    cmocka_unit_test(test_key_length),
	    cmocka_unit_test(test_incr_decr),
	    cmocka_unit_test(test_incr_does_not_touch_pending_reply),
	    cmocka_unit_test(test_split_and_pipelined_input),
	    cmocka_unit_test(test_line_limits),
	    cmocka_unit_test(test_quit),
	    cmocka_unit_test(test_item_size_limit),
	    cmocka_unit_test(test_output_backpressure),
	    cmocka_unit_test(test_multiget_resumes_under_backpressure),
	    cmocka_unit_test(test_close_with_pending_output),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
