/* Unit tests for lib/string.c: memory and string routines, str_to_u64. */
/* unit-sources: lib/string.c */
/* unit-cflags: -include tests/unit/string_rename.h */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <lib/string.h>
#include <uapi/errno.h>

#define BUF    256
#define MAXLEN 100
#define GUARD  0xa5

/* A recognisable pattern that differs at every offset. */
static void fill_pattern(unsigned char *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 7 + seed * 13 + 1);
}

static void fill_guard(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = GUARD;
}

static void assert_guard(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(p[i], GUARD);
}

static void test_memcpy_lengths(void **state)
{
	unsigned char src[BUF], dst[BUF];

	(void)state;
	fill_pattern(src, sizeof(src), 3);
	for (size_t off = 0; off < 8; off++) {
		for (size_t len = 0; len <= MAXLEN; len++) {
			fill_guard(dst, sizeof(dst));
			void *r = memcpy(dst + 16 + off, src + (off ^ 5), len);
			assert_ptr_equal(r, dst + 16 + off);
			assert_guard(dst, 16 + off);
			for (size_t i = 0; i < len; i++)
				assert_int_equal(dst[16 + off + i], src[(off ^ 5) + i]);
			assert_guard(dst + 16 + off + len, sizeof(dst) - 16 - off - len);
		}
	}
}

static void test_memset_lengths(void **state)
{
	static const int values[] = {0, 1, 0x7f, 0x80, 0xff, 0x1ab, -1};
	unsigned char dst[BUF];

	(void)state;
	for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
		for (size_t off = 0; off < 8; off++) {
			for (size_t len = 0; len <= MAXLEN; len++) {
				fill_guard(dst, sizeof(dst));
				void *r = memset(dst + 8 + off, values[v], len);
				assert_ptr_equal(r, dst + 8 + off);
				assert_guard(dst, 8 + off);
				for (size_t i = 0; i < len; i++)
					assert_int_equal(dst[8 + off + i],
							 (unsigned char)values[v]);
				assert_guard(dst + 8 + off + len, sizeof(dst) - 8 - off - len);
			}
		}
	}
}

/* memmove within one buffer for every length and shift in both directions. */
static void test_memmove_overlap(void **state)
{
	unsigned char buf[BUF], ref[BUF], tmp[BUF];

	(void)state;
	for (int shift = -20; shift <= 20; shift++) {
		for (size_t len = 0; len <= MAXLEN; len++) {
			size_t s = 64, d = 64 + shift;

			fill_pattern(buf, sizeof(buf), (unsigned int)len);
			for (size_t i = 0; i < sizeof(buf); i++)
				ref[i] = buf[i];
			for (size_t i = 0; i < len; i++)
				tmp[i] = ref[s + i];
			for (size_t i = 0; i < len; i++)
				ref[d + i] = tmp[i];
			assert_ptr_equal(memmove(buf + d, buf + s, len), buf + d);
			assert_memory_equal(buf, ref, sizeof(buf));
		}
	}
}

static void test_memmove_disjoint(void **state)
{
	unsigned char a[BUF], b[BUF];

	(void)state;
	fill_pattern(a, sizeof(a), 9);
	fill_guard(b, sizeof(b));
	memmove(b + 1, a + 3, 200);
	assert_int_equal(b[0], GUARD);
	assert_memory_equal(b + 1, a + 3, 200);
	assert_guard(b + 201, sizeof(b) - 201);
	/* dst above src but not overlapping takes the forward path */
	fill_pattern(a, sizeof(a), 2);
	for (size_t i = 0; i < 100; i++)
		b[i] = a[i];
	memmove(a + 120, a, 100);
	assert_memory_equal(a + 120, b, 100);
}

static void test_memcmp(void **state)
{
	unsigned char a[64], b[64];

	(void)state;
	fill_pattern(a, sizeof(a), 1);
	fill_pattern(b, sizeof(b), 1);
	assert_int_equal(memcmp(a, b, sizeof(a)), 0);
	assert_int_equal(memcmp(a, b, 0), 0);
	for (size_t i = 0; i < sizeof(a); i++) {
		b[i] = a[i] + 1;
		assert_true(memcmp(a, b, sizeof(a)) < 0);
		assert_true(memcmp(b, a, sizeof(a)) > 0);
		assert_int_equal(memcmp(a, b, i), 0);
		b[i] = a[i];
	}
	/* bytes compare as unsigned char */
	a[0] = 0x80;
	b[0] = 0x01;
	assert_true(memcmp(a, b, 1) > 0);
	assert_int_equal(memcmp("abc", "abd", 2), 0);
}

static void test_memchr(void **state)
{
	const char s[] = "hello\0world\xff";

	(void)state;
	assert_ptr_equal(memchr(s, 'l', sizeof(s)), s + 2);
	assert_ptr_equal(memchr(s, 'w', sizeof(s)), s + 6);
	assert_ptr_equal(memchr(s, 'w', 6), NULL);
	assert_ptr_equal(memchr(s, '\0', sizeof(s)), s + 5);
	assert_ptr_equal(memchr(s, 0xff, sizeof(s)), s + 11);
	assert_ptr_equal(memchr(s, 0x1ff, sizeof(s)), s + 11);
	assert_ptr_equal(memchr(s, 'h', 0), NULL);
	assert_ptr_equal(memchr(s, 'z', sizeof(s)), NULL);
}

static void test_strlen(void **state)
{
	char buf[MAXLEN + 1];
	const char unterminated[4] = {'a', 'b', 'c', 'd'};

	(void)state;
	for (size_t len = 0; len <= MAXLEN; len++) {
		for (size_t i = 0; i < len; i++)
			buf[i] = 'x';
		buf[len] = '\0';
		assert_int_equal(strlen(buf), len);
		assert_int_equal(strnlen(buf, MAXLEN + 10), len);
		assert_int_equal(strnlen(buf, len / 2), len / 2);
	}
	assert_int_equal(strlen(""), 0);
	assert_int_equal(strnlen("", 0), 0);
	assert_int_equal(strnlen("abc", 0), 0);
	/* must not read past max */
	assert_int_equal(strnlen(unterminated, sizeof(unterminated)), 4);
}

static void test_strcmp(void **state)
{
	(void)state;
	assert_int_equal(strcmp("", ""), 0);
	assert_int_equal(strcmp("abc", "abc"), 0);
	assert_true(strcmp("abc", "abd") < 0);
	assert_true(strcmp("abd", "abc") > 0);
	assert_true(strcmp("ab", "abc") < 0);
	assert_true(strcmp("abc", "ab") > 0);
	assert_true(strcmp("", "a") < 0);
	assert_true(strcmp("\x80", "\x01") > 0);
	assert_int_equal(strncmp("abc", "abd", 2), 0);
	assert_true(strncmp("abc", "abd", 3) < 0);
	assert_int_equal(strncmp("abc", "xyz", 0), 0);
	assert_int_equal(strncmp("abc", "abc", 100), 0);
	assert_true(strncmp("ab", "abc", 100) < 0);
	assert_true(strncmp("abc", "ab", 3) > 0);
	assert_true(strncmp("\xff", "a", 1) > 0);
}

static void test_strchr(void **state)
{
	const char *s = "a/b/c";

	(void)state;
	assert_ptr_equal(strchr(s, '/'), s + 1);
	assert_ptr_equal(strrchr(s, '/'), s + 3);
	assert_ptr_equal(strchr(s, 'a'), s);
	assert_ptr_equal(strrchr(s, 'a'), s);
	assert_ptr_equal(strchr(s, 'z'), NULL);
	assert_ptr_equal(strrchr(s, 'z'), NULL);
	assert_ptr_equal(strchr(s, '\0'), s + 5);
	assert_ptr_equal(strrchr(s, '\0'), s + 5);
	assert_ptr_equal(strchr("", 'a'), NULL);
	assert_ptr_equal(strrchr("", 'a'), NULL);
}

static void test_strchr_high_byte(void **state)
{
	const char *s = "x\xe9y\xe9";

	(void)state;
	assert_ptr_equal(strchr(s, 0xe9), s + 1);
	assert_ptr_equal(strrchr(s, 0xe9), s + 3);
	assert_ptr_equal(strchr(s, (char)0xe9), s + 1);
}

static void test_strlcpy(void **state)
{
	char dst[16];

	(void)state;
	fill_guard((unsigned char *)dst, sizeof(dst));
	assert_int_equal(strlcpy(dst, "hello", 0), 5);
	assert_guard((unsigned char *)dst, sizeof(dst));

	assert_int_equal(strlcpy(dst, "hello", 1), 5);
	assert_int_equal(dst[0], '\0');
	assert_int_equal((unsigned char)dst[1], GUARD);

	assert_int_equal(strlcpy(dst, "hello", 3), 5);
	assert_string_equal(dst, "he");
	assert_int_equal((unsigned char)dst[3], GUARD);

	assert_int_equal(strlcpy(dst, "hello", 5), 5);
	assert_string_equal(dst, "hell");

	assert_int_equal(strlcpy(dst, "hello", 6), 5);
	assert_string_equal(dst, "hello");

	assert_int_equal(strlcpy(dst, "hello", sizeof(dst)), 5);
	assert_string_equal(dst, "hello");
	assert_int_equal((unsigned char)dst[6], GUARD);

	assert_int_equal(strlcpy(dst, "", sizeof(dst)), 0);
	assert_string_equal(dst, "");
}

/* Parse the whole string; expect ret, and v when ret == 0. */
static void expect_u64(const char *s, int base, int ret, uint64_t v)
{
	uint64_t out = 0xdeadbeef;

	assert_int_equal(str_to_u64(s, NULL, base, &out), ret);
	if (ret == 0)
		assert_true(out == v);
	else
		assert_true(out == 0xdeadbeef);
}

/* Parse a prefix; expect ret, v and the number of characters consumed. */
static void expect_u64_end(const char *s, int base, int ret, uint64_t v, size_t used)
{
	uint64_t out = 0xdeadbeef;
	const char *end = (const char *)1;

	assert_int_equal(str_to_u64(s, &end, base, &out), ret);
	assert_ptr_equal(end, s + used);
	assert_true(out == (ret == 0 ? v : 0xdeadbeef));
}

static void test_str_to_u64_bases(void **state)
{
	(void)state;
	expect_u64("0", 0, 0, 0);
	expect_u64("0", 10, 0, 0);
	expect_u64("123", 0, 0, 123);
	expect_u64("123", 10, 0, 123);
	expect_u64("0x1f", 0, 0, 0x1f);
	expect_u64("0X1F", 0, 0, 0x1f);
	expect_u64("0x1f", 16, 0, 0x1f);
	expect_u64("1f", 16, 0, 0x1f);
	expect_u64("DeadBeef", 16, 0, 0xdeadbeef);
	expect_u64("017", 0, 0, 017);
	expect_u64("017", 8, 0, 017);
	expect_u64("017", 10, 0, 17);
	expect_u64("777", 8, 0, 0777);
	expect_u64("1011", 2, 0, 11);
	expect_u64("zz", 36, 0, 35 * 36 + 35);
	expect_u64("ZZ", 36, 0, 35 * 36 + 35);
	expect_u64("00000000000000000000000000000042", 10, 0, 42);
	expect_u64("18446744073709551615", 0, 0, UINT64_MAX);
	expect_u64("0xffffffffffffffff", 0, 0, UINT64_MAX);
	expect_u64("01777777777777777777777", 0, 0, UINT64_MAX);
	expect_u64("1111111111111111111111111111111111111111111111111111111111111111", 2, 0,
		   UINT64_MAX);
}

static void test_str_to_u64_range(void **state)
{
	(void)state;
	expect_u64("18446744073709551616", 0, -ERANGE, 0);
	expect_u64("18446744073709551620", 10, -ERANGE, 0);
	expect_u64("99999999999999999999999999", 10, -ERANGE, 0);
	expect_u64("0x10000000000000000", 0, -ERANGE, 0);
	expect_u64("02000000000000000000000", 0, -ERANGE, 0);
	expect_u64("11111111111111111111111111111111111111111111111111111111111111111", 2, -ERANGE,
		   0);
	/* all digits are consumed even on overflow */
	expect_u64_end("18446744073709551616k", 10, -ERANGE, 0, 20);
}

static void test_str_to_u64_invalid(void **state)
{
	uint64_t out = 7;

	(void)state;
	expect_u64("", 0, -EINVAL, 0);
	expect_u64("", 10, -EINVAL, 0);
	expect_u64("x", 0, -EINVAL, 0);
	expect_u64("-1", 0, -EINVAL, 0);
	expect_u64("+1", 0, -EINVAL, 0);
	expect_u64(" 1", 0, -EINVAL, 0);
	expect_u64("1 ", 0, -EINVAL, 0);
	expect_u64("12abc", 10, -EINVAL, 0);
	expect_u64("0x", 0, -EINVAL, 0);
	expect_u64("0xg", 16, -EINVAL, 0);
	expect_u64("08", 0, -EINVAL, 0);
	expect_u64("2", 2, -EINVAL, 0);
	expect_u64("a", 10, -EINVAL, 0);
	expect_u64("1", 1, -EINVAL, 0);
	expect_u64("1", 37, -EINVAL, 0);
	expect_u64("1", -1, -EINVAL, 0);
	expect_u64("0x10", 10, -EINVAL, 0);
	assert_int_equal(str_to_u64(NULL, NULL, 0, &out), -EINVAL);
	assert_true(out == 7);
	expect_u64_end("", 0, -EINVAL, 0, 0);
	expect_u64_end("k", 10, -EINVAL, 0, 0);
	expect_u64_end("1", 99, -EINVAL, 0, 0);
}

static void test_str_to_u64_end(void **state)
{
	(void)state;
	expect_u64_end("64M", 0, 0, 64, 2);
	expect_u64_end("0x1000,cpus=2", 0, 0, 0x1000, 6);
	expect_u64_end("12 34", 10, 0, 12, 2);
	expect_u64_end("0x", 0, 0, 0, 1);
	expect_u64_end("0xg", 16, 0, 0, 1);
	expect_u64_end("08", 0, 0, 0, 1);
	expect_u64_end("0x10", 10, 0, 0, 1);
	expect_u64_end("123", 10, 0, 123, 3);
	expect_u64_end("fff", 16, 0, 0xfff, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_memcpy_lengths),   cmocka_unit_test(test_memset_lengths),
	    cmocka_unit_test(test_memmove_overlap),  cmocka_unit_test(test_memmove_disjoint),
	    cmocka_unit_test(test_memcmp),	     cmocka_unit_test(test_memchr),
	    cmocka_unit_test(test_strlen),	     cmocka_unit_test(test_strcmp),
	    cmocka_unit_test(test_strchr),	     cmocka_unit_test(test_strchr_high_byte),
	    cmocka_unit_test(test_strlcpy),	     cmocka_unit_test(test_str_to_u64_bases),
	    cmocka_unit_test(test_str_to_u64_range), cmocka_unit_test(test_str_to_u64_invalid),
	    cmocka_unit_test(test_str_to_u64_end),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
