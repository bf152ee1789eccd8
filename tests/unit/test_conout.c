/* Unit tests for kernel/conout.c: process output as whole, tagged, escaped lines. */
/* unit-sources: kernel/conout.c */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <kernel/conout.h>

/* Everything emitted, one "tag|text\n" per line. */
static char out[8192];
static size_t out_len;
static int lines;

static void emit(const char *tag, const char *text, size_t len, void *ctx)
{
	(void)ctx;
	out_len += (size_t)snprintf(out + out_len, sizeof(out) - out_len, "%s|%.*s\n", tag,
				    (int)len, text);
	lines++;
}

static int setup(void **state)
{
	(void)state;
	out_len = 0;
	out[0] = '\0';
	lines = 0;
	return 0;
}

static void feed(struct conout *o, const char *s)
{
	conout_write(o, s, strlen(s), "p[1]: ", emit, NULL);
}

static void test_whole_lines(void **state)
{
	struct conout o = {0};
	(void)state;
	feed(&o, "hel");
	assert_int_equal(lines, 0); /* nothing until the line is finished */
	feed(&o, "lo\nworld\n\n");
	assert_string_equal(out, "p[1]: |hello\np[1]: |world\np[1]: |\n");
}

static void test_escapes(void **state)
{
	struct conout o = {0};
	(void)state;
	feed(&o, "a\rb\x1b[2J\tc\x7f\x80\xff\n");
	assert_string_equal(out, "p[1]: |a\\x0db\\x1b[2J\tc\\x7f\\x80\\xff\n");
	/* A NUL byte in the middle is escaped, not a terminator. */
	setup(NULL);
	conout_write(&o, "x\0y\n", 4, "p[1]: ", emit, NULL);
	assert_string_equal(out, "p[1]: |x\\x00y\n");
}

static void test_long_lines_are_split(void **state)
{
	struct conout o = {0};
	char big[1000];
	(void)state;
	memset(big, 'x', sizeof(big));
	conout_write(&o, big, sizeof(big), "t: ", emit, NULL);
	conout_flush(&o, "t: ", emit, NULL);
	size_t total = 0;
	for (char *l = out; *l; l = strchr(l, '\n') + 1) {
		size_t n = (size_t)(strchr(l, '\n') - l) - strlen("t: |");
		assert_true(n <= CONOUT_LINE_MAX);
		total += n;
	}
	assert_int_equal(total, sizeof(big));
	/* escapes are never cut in half at a split */
	setup(NULL);
	memset(big, 0x1b, sizeof(big));
	conout_write(&o, big, sizeof(big), "t: ", emit, NULL);
	conout_flush(&o, "t: ", emit, NULL);
	for (char *l = out; *l; l = strchr(l, '\n') + 1)
		assert_int_equal((strchr(l, '\n') - l - (long)strlen("t: |")) % 4, 0);
}

static void test_flush(void **state)
{
	struct conout o = {0};
	(void)state;
	conout_flush(&o, "t: ", emit, NULL);
	assert_int_equal(lines, 0); /* nothing to flush */
	feed(&o, "partial");
	conout_flush(&o, "t: ", emit, NULL);
	assert_string_equal(out, "t: |partial\n");
	conout_flush(&o, "t: ", emit, NULL);
	assert_int_equal(lines, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_whole_lines, setup),
	    cmocka_unit_test_setup(test_escapes, setup),
	    cmocka_unit_test_setup(test_long_lines_are_split, setup),
	    cmocka_unit_test_setup(test_flush, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
