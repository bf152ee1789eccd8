/* Unit tests for kvd's binary protocol: every opcode, the quiet forms, bad packets. */
/* unit-sources: usr/kvd/engine/[a-z]*.c */
#include "kvd_test_util.h"

#define MB (1u << 20)

struct pkt {
	uint8_t magic, opcode, extlen;
	uint16_t keylen, status;
	uint32_t bodylen, opaque;
	uint64_t cas;
	const uint8_t *ext, *key, *val;
	uint32_t vlen;
};

static size_t build(uint8_t *p, uint8_t op, const void *ext, uint8_t extlen, const char *key,
		    const void *val, uint32_t vlen, uint64_t cas, uint32_t opaque)
{
	uint16_t klen = key ? (uint16_t)strlen(key) : 0;
	uint32_t body = extlen + klen + vlen;

	p[0] = 0x80;
	p[1] = op;
	p[2] = (uint8_t)(klen >> 8);
	p[3] = (uint8_t)klen;
	p[4] = extlen;
	p[5] = p[6] = p[7] = 0;
	for (int i = 0; i < 4; i++) {
		p[8 + i] = (uint8_t)(body >> (24 - 8 * i));
		p[12 + i] = (uint8_t)(opaque >> (24 - 8 * i));
	}
	for (int i = 0; i < 8; i++)
		p[16 + i] = (uint8_t)(cas >> (56 - 8 * i));
	if (extlen)
		memcpy(p + 24, ext, extlen);
	if (klen)
		memcpy(p + 24 + extlen, key, klen);
	if (vlen)
		memcpy(p + 24 + extlen + klen, val, vlen);
	return 24 + body;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Parse the response at *p (of n left); returns false when none is left. */
static bool next(const uint8_t **p, size_t *n, struct pkt *r)
{
	const uint8_t *h = *p;

	if (*n == 0)
		return false;
	assert_true(*n >= 24);
	r->magic = h[0];
	r->opcode = h[1];
	r->keylen = (uint16_t)(h[2] << 8 | h[3]);
	r->extlen = h[4];
	r->status = (uint16_t)(h[6] << 8 | h[7]);
	r->bodylen = rd32(h + 8);
	r->opaque = rd32(h + 12);
	r->cas = (uint64_t)rd32(h + 16) << 32 | rd32(h + 20);
	assert_true(*n >= 24 + r->bodylen);
	r->ext = h + 24;
	r->key = r->ext + r->extlen;
	r->val = r->key + r->keylen;
	r->vlen = r->bodylen - r->extlen - r->keylen;
	assert_int_equal(r->magic, 0x81);
	*p += 24 + r->bodylen;
	*n -= 24 + r->bodylen;
	return true;
}

static uint8_t *io(struct kt *t, const uint8_t *req, size_t n, size_t step, size_t *outlen)
{
	kt_feed(t->c, req, n, step);
	return (uint8_t *)kt_drain(t->c, outlen);
}

static const uint8_t ext_set[8] = {0, 0, 0, 5, 0, 0, 0, 0}; /* flags 5, no expiry */

static void test_set_get_variants(void **state)
{
	uint8_t req[4096], *out;
	const uint8_t *p;
	size_t n = 0, len;
	struct pkt r;
	struct kt t;

	(void)state;
	kt_open(&t, 8 * MB, 1);
	n += build(req + n, 0x01, ext_set, 8, "k", "val", 3, 0, 1); /* set */
	n += build(req + n, 0x00, NULL, 0, "k", NULL, 0, 0, 2);	    /* get */
	n += build(req + n, 0x0c, NULL, 0, "k", NULL, 0, 0, 3);	    /* getk */
	n += build(req + n, 0x09, NULL, 0, "nokey", NULL, 0, 0, 4); /* getq miss: silent */
	n += build(req + n, 0x0d, NULL, 0, "k", NULL, 0, 0, 5);	    /* getkq hit */
	n += build(req + n, 0x00, NULL, 0, "nokey", NULL, 0, 0, 6); /* get miss */
	n += build(req + n, 0x0c, NULL, 0, "nokey", NULL, 0, 0, 7); /* getk miss */
	n += build(req + n, 0x0a, NULL, 0, NULL, NULL, 0, 0, 8);    /* noop */
	for (size_t step = 0; step < 30; step += 7) {
		struct kt t2;

		kt_open(&t2, 8 * MB, 1);
		out = io(&t2, req, n, step, &len);
		p = out;
		assert_true(next(&p, &len, &r));
		assert_int_equal(r.opcode, 0x01);
		assert_int_equal(r.status, 0);
		assert_int_equal(r.opaque, 1);
		uint64_t cas = r.cas;
		assert_true(cas != 0);
		assert_true(next(&p, &len, &r));
		assert_int_equal(r.opaque, 2);
		assert_int_equal(r.extlen, 4);
		assert_int_equal(rd32(r.ext), 5);
		assert_int_equal(r.keylen, 0);
		assert_int_equal(r.vlen, 3);
		assert_memory_equal(r.val, "val", 3);
		assert_int_equal(r.cas, cas);
		assert_true(next(&p, &len, &r));
		assert_int_equal(r.opaque, 3);
		assert_int_equal(r.keylen, 1);
		assert_memory_equal(r.key, "k", 1);
		assert_true(next(&p, &len, &r));
		assert_int_equal(r.opaque, 5); /* 4 was a quiet miss */
		assert_int_equal(r.opcode, 0x0d);
		assert_true(next(&p, &len, &r));
		assert_int_equal(r.opaque, 6);
		assert_int_equal(r.status, 1);
		assert_memory_equal(r.val, "Not found", 9);
		assert_true(next(&p, &len, &r));
		assert_int_equal(r.opaque, 7);
		assert_int_equal(r.status, 1);
		assert_int_equal(r.keylen, 5);
		assert_true(next(&p, &len, &r));
		assert_int_equal(r.opcode, 0x0a);
		assert_false(next(&p, &len, &r));
		free(out);
		kt_close(&t2);
	}
	kt_close(&t);
}

static void test_update_status_codes(void **state)
{
	uint8_t req[4096], *out;
	const uint8_t *p;
	size_t n = 0, len;
	struct pkt r;
	struct kt t;
	static const uint16_t want[] = {0, 2, 0, 1, 5, 0, 2, 1, 0, 0x2, 0};

	(void)state;
	kt_open(&t, 8 * MB, 1);
	n += build(req + n, 0x02, ext_set, 8, "a", "1", 1, 0, 0);      /* add: ok */
	n += build(req + n, 0x02, ext_set, 8, "a", "1", 1, 0, 1);      /* add: exists */
	n += build(req + n, 0x03, ext_set, 8, "a", "2", 1, 0, 2);      /* replace: ok */
	n += build(req + n, 0x03, ext_set, 8, "b", "2", 1, 0, 3);      /* replace: enoent */
	n += build(req + n, 0x0e, NULL, 0, "b", "x", 1, 0, 4);	       /* append: not stored */
	n += build(req + n, 0x0f, NULL, 0, "a", "x", 1, 0, 5);	       /* prepend: ok */
	n += build(req + n, 0x01, ext_set, 8, "a", "3", 1, 999999, 6); /* cas: exists */
	n += build(req + n, 0x01, ext_set, 8, "c", "3", 1, 999999, 7); /* cas: enoent */
	n += build(req + n, 0x11, ext_set, 8, "d", "4", 1, 0, 8);      /* setq: silent */
	n += build(req + n, 0x12, ext_set, 8, "d", "4", 1, 0, 9);      /* addq: fails loudly */
	n += build(req + n, 0x0a, NULL, 0, NULL, NULL, 0, 0, 10);      /* noop */
	out = io(&t, req, n, 0, &len);
	p = out;
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (i == 8)
			continue;
		assert_true(next(&p, &len, &r));
		assert_int_equal(r.opaque, i);
		assert_int_equal(r.status, want[i]);
	}
	assert_false(next(&p, &len, &r));
	free(out);
	kt_close(&t);
}

static void test_delete_arith_touch(void **state)
{
	uint8_t req[4096], ext[20], *out;
	const uint8_t *p;
	size_t n = 0, len;
	struct pkt r;
	struct kt t;

	(void)state;
	kt_open(&t, 8 * MB, 1);
	memset(ext, 0, 20);
	ext[7] = 5;						    /* delta 5 */
	ext[15] = 42;						    /* initial 42 */
	n += build(req + n, 0x05, ext, 20, "n", NULL, 0, 0, 0);	    /* incr miss: creates 42 */
	n += build(req + n, 0x05, ext, 20, "n", NULL, 0, 0, 1);	    /* 47 */
	n += build(req + n, 0x16, ext, 20, "n", NULL, 0, 0, 2);	    /* decrq: silent, 42 */
	memset(ext + 16, 0xff, 4);				    /* no auto-create */
	n += build(req + n, 0x06, ext, 20, "m", NULL, 0, 0, 3);	    /* decr miss */
	n += build(req + n, 0x04, NULL, 0, "n", NULL, 0, 12345, 4); /* delete, bad cas */
	n += build(req + n, 0x14, NULL, 0, "n", NULL, 0, 0, 5);	    /* deleteq: silent */
	n += build(req + n, 0x04, NULL, 0, "n", NULL, 0, 0, 6);	    /* delete miss */
	n += build(req + n, 0x01, ext_set, 8, "t", "abc", 3, 0, 7);
	uint8_t exp[4] = {0, 0, 0, 100};
	n += build(req + n, 0x1c, exp, 4, "t", NULL, 0, 0, 8);	/* touch: flags back */
	n += build(req + n, 0x1d, exp, 4, "t", NULL, 0, 0, 9);	/* gat */
	n += build(req + n, 0x23, exp, 4, "t", NULL, 0, 0, 10); /* gatk */
	n += build(req + n, 0x1e, exp, 4, "x", NULL, 0, 0, 11); /* gatq miss: silent */
	n += build(req + n, 0x1c, exp, 4, "x", NULL, 0, 0, 12); /* touch miss */
	n += build(req + n, 0x0a, NULL, 0, NULL, NULL, 0, 0, 13);
	out = io(&t, req, n, 3, &len);
	p = out;
	assert_true(next(&p, &len, &r));
	assert_int_equal(r.vlen, 8);
	assert_int_equal(r.val[7], 42);
	assert_true(next(&p, &len, &r));
	assert_int_equal(r.val[7], 47);
	assert_true(next(&p, &len, &r));
	assert_int_equal(r.opaque, 3);
	assert_int_equal(r.status, 1);
	assert_true(next(&p, &len, &r));
	assert_int_equal(r.opaque, 4);
	assert_int_equal(r.status, 2);
	assert_true(next(&p, &len, &r));
	assert_int_equal(r.opaque, 6);
	assert_int_equal(r.status, 1);
	assert_true(next(&p, &len, &r));
	assert_int_equal(r.opaque, 7);
	assert_true(next(&p, &len, &r));
	assert_int_equal(r.opaque, 8);
	assert_int_equal(r.extlen, 4);
	assert_int_equal(rd32(r.ext), 5);
	assert_int_equal(r.vlen, 0);
	assert_true(next(&p, &len, &r));
	assert_int_equal(r.opaque, 9);
	assert_memory_equal(r.val, "abc", 3);
	assert_true(next(&p, &len, &r));
	assert_int_equal(r.opaque, 10);
	assert_memory_equal(r.key, "t", 1);
	assert_true(next(&p, &len, &r));
	assert_int_equal(r.opaque, 12);
	assert_int_equal(r.status, 1);
	assert_true(next(&p, &len, &r));
	assert_int_equal(r.opaque, 13);
	assert_false(next(&p, &len, &r));
	free(out);
	kt_close(&t);
}

static void test_misc_opcodes(void **state)
{
	uint8_t req[4096], *out, ext4[4] = {0, 0, 0, 0};
	const uint8_t *p;
	size_t n = 0, len;
	struct pkt r;
	struct kt t;
	unsigned stats = 0;

	(void)state;
	kt_open(&t, 8 * MB, 1);
	n += build(req + n, 0x0b, NULL, 0, NULL, NULL, 0, 0, 1);       /* version */
	n += build(req + n, 0x1b, ext4, 4, NULL, NULL, 0, 0, 2);       /* verbosity */
	n += build(req + n, 0x10, NULL, 0, "settings", NULL, 0, 0, 3); /* stat group */
	n += build(req + n, 0x10, NULL, 0, "bogus", NULL, 0, 0, 4);    /* stat unknown */
	n += build(req + n, 0x18, ext4, 4, NULL, NULL, 0, 0, 5);       /* flushq */
	n += build(req + n, 0x08, NULL, 0, NULL, NULL, 0, 0, 6);       /* flush */
	n += build(req + n, 0x42, NULL, 0, "k", "zzz", 3, 0, 7);       /* unknown opcode */
	n += build(req + n, 0x07, NULL, 0, NULL, NULL, 0, 0, 8);       /* quit */
	n += build(req + n, 0x0a, NULL, 0, NULL, NULL, 0, 0, 9);       /* after quit: ignored */
	out = io(&t, req, n, 0, &len);
	p = out;
	assert_true(next(&p, &len, &r));
	assert_int_equal(r.opaque, 1);
	assert_int_equal(r.vlen, strlen(KVD_VERSION));
	assert_true(next(&p, &len, &r));
	assert_int_equal(r.opaque, 2);
	while (next(&p, &len, &r) && r.opaque == 3 && r.keylen)
		stats++;
	assert_true(stats > 5);
	assert_int_equal(r.opaque, 3); /* the empty terminator */
	assert_true(next(&p, &len, &r));
	assert_int_equal(r.opaque, 4);
	assert_int_equal(r.status, 1);
	assert_true(next(&p, &len, &r));
	assert_int_equal(r.opaque, 6);
	assert_true(next(&p, &len, &r));
	assert_int_equal(r.opaque, 7);
	assert_int_equal(r.status, 0x81);
	assert_true(next(&p, &len, &r));
	assert_int_equal(r.opaque, 8);
	assert_false(next(&p, &len, &r));
	assert_true(kvd_conn_want_close(t.c));
	free(out);
	kt_close(&t);
}

/* Malformed packets: answered "Invalid arguments" and the connection closes. */
static void test_bad_packets(void **state)
{
	struct {
		uint8_t op, extlen;
		const char *key;
		uint32_t vlen;
	} cases[] = {
	    {0x00, 4, "k", 0},	/* get with extras */
	    {0x00, 0, NULL, 0}, /* get without key */
	    {0x00, 0, "k", 2},	/* get with a value */
	    {0x01, 0, "k", 1},	/* set without extras */
	    {0x04, 4, "k", 0},	/* delete with extras */
	    {0x05, 8, "k", 0},	/* incr with short extras */
	    {0x1c, 0, "k", 0},	/* touch without exptime */
	    {0x08, 2, NULL, 0}, /* flush with odd extras */
	    {0x1b, 0, NULL, 0}, /* verbosity without level */
	    {0x0a, 0, "k", 0},	/* noop with a key */
	};
	uint8_t req[1024], ext[32] = {0}, val[4] = "vvvv", *out;
	const uint8_t *p;
	size_t n, len;
	struct pkt r;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kt t;

		kt_open(&t, 8 * MB, 1);
		n = build(req, cases[i].op, ext, cases[i].extlen, cases[i].key, val, cases[i].vlen,
			  0, 77);
		out = io(&t, req, n, 0, &len);
		p = out;
		assert_true(next(&p, &len, &r));
		assert_int_equal(r.status, 4);
		assert_int_equal(r.opaque, 77);
		assert_true(kvd_conn_want_close(t.c));
		free(out);
		assert_int_equal(kt_stat(&t, "kvd_err_binary_invalid"), 1);
		kt_close(&t);
	}
	/* key over 250 bytes, and a body shorter than extras + key */
	struct kt t;
	char key[300];
	memset(key, 'k', 251);
	key[251] = 0;
	kt_open(&t, 8 * MB, 1);
	n = build(req, 0x00, NULL, 0, key, NULL, 0, 0, 1);
	out = io(&t, req, n, 0, &len);
	p = out;
	assert_true(next(&p, &len, &r));
	assert_int_equal(r.status, 4);
	free(out);
	kt_close(&t);
	kt_open(&t, 8 * MB, 1);
	n = build(req, 0x00, NULL, 0, "abc", NULL, 0, 0, 1);
	req[11] = 2; /* body length 2 < key length 3 */
	out = io(&t, req, n, 0, &len);
	p = out;
	assert_true(next(&p, &len, &r));
	assert_int_equal(r.status, 4);
	assert_true(kvd_conn_want_close(t.c));
	free(out);
	kt_close(&t);
	/* a binary connection that later sends a wrong magic byte is dropped */
	kt_open(&t, 8 * MB, 1);
	n = build(req, 0x0a, NULL, 0, NULL, NULL, 0, 0, 1);
	n += build(req + n, 0x0a, NULL, 0, NULL, NULL, 0, 0, 2);
	req[24] = 0x81;
	out = io(&t, req, n, 5, &len);
	assert_int_equal(len, 24);
	assert_true(kvd_conn_want_close(t.c));
	assert_int_equal(kt_stat(&t, "kvd_err_binary_magic"), 1);
	free(out);
	kt_close(&t);
}

/* A value too large is refused, its bytes skipped, the stream goes on. */
static void test_too_large_and_big_values(void **state)
{
	size_t big = KVD_ITEM_SIZE_MAX;
	uint8_t *req = malloc(2 * big + 200), *src = malloc(big), *out;
	const uint8_t *p;
	size_t n = 0, len;
	struct pkt r;
	struct kt t;

	(void)state;
	kt_open(&t, 8 * MB, 1);
	for (size_t i = 0; i < big; i++)
		src[i] = (uint8_t)(i * 31);
	n += build(req + n, 0x01, ext_set, 8, "big", src, (uint32_t)big, 0, 1);
	n += build(req + n, 0x01, ext_set, 8, "big", src, (uint32_t)(big - 2048), 0, 2);
	n += build(req + n, 0x00, NULL, 0, "big", NULL, 0, 0, 3);
	out = io(&t, req, n, 100000, &len);
	p = out;
	assert_true(next(&p, &len, &r));
	assert_int_equal(r.status, 3);
	assert_memory_equal(r.val, "Too large.", 10);
	assert_true(next(&p, &len, &r));
	assert_int_equal(r.status, 0);
	assert_true(next(&p, &len, &r));
	assert_int_equal(r.vlen, big - 2048);
	for (size_t i = 0; i < big - 2048; i++)
		if (r.val[i] != (uint8_t)(i * 31))
			fail_msg("byte %zu differs", i);
	free(out);
	free(req);
	free(src);
	kt_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_set_get_variants),
	    cmocka_unit_test(test_update_status_codes),
	    cmocka_unit_test(test_delete_arith_touch),
	    cmocka_unit_test(test_misc_opcodes),
	    cmocka_unit_test(test_bad_packets),
	    cmocka_unit_test(test_too_large_and_big_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
