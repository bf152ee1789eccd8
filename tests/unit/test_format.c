/* Unit tests for lib/format.c, checked against glibc's snprintf. */
/* unit-sources: lib/format.c lib/string.c */
/* unit-cflags: -include tests/unit/string_rename.h */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <lib/format.h>
#include <lib/string.h>

#define OUT_MAX 1024

static void report(const char *fmt, const char *ref, int ref_n, const char *got, int got_n,
		   size_t size)
{
	print_error("format \"%s\" size %zu: glibc \"%s\" (%d), ours \"%s\" (%d)\n", fmt, size, ref,
		    ref_n, got, got_n);
	fail();
}

/* Format into buffers of the given size with glibc and with us; compare. */
static void compare_at(size_t size, const char *fmt, va_list ap)
{
	char *ref = size ? malloc(size) : NULL;
	char *got = size ? malloc(size) : NULL;
	va_list a, b;
	int ref_n, got_n;

	va_copy(a, ap);
	va_copy(b, ap);
	ref_n = vsnprintf(ref, size, fmt, a);
	got_n = fmt_vsnprintf(got, size, fmt, b);
	va_end(a);
	va_end(b);
	if (ref_n != got_n ||
	    (size && memcmp(ref, got, size < (size_t)ref_n + 1 ? size : (size_t)ref_n + 1)))
		report(fmt, size ? ref : "", ref_n, size ? got : "", got_n, size);
	free(ref);
	free(got);
}

/* Compare with glibc in a large buffer. */
static void check(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	compare_at(OUT_MAX, fmt, ap);
	va_end(ap);
}

/* Compare with glibc at every buffer size from 0 to one past the output. */
static void check_trunc(const char *fmt, ...)
{
	va_list ap, a;
	int n;

	va_start(ap, fmt);
	va_copy(a, ap);
	n = vsnprintf(NULL, 0, fmt, a);
	va_end(a);
	assert_true(n >= 0);
	for (size_t size = 0; size <= (size_t)n + 1; size++)
		compare_at(size, fmt, ap);
	va_end(ap);
}

/* Our output must equal want, and the return value its length. */
static void expect(const char *want, const char *fmt, ...)
{
	char got[OUT_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fmt_vsnprintf(got, sizeof(got), fmt, ap);
	va_end(ap);
	if (n != (int)strlen(want) || strcmp(got, want) != 0)
		report(fmt, want, (int)strlen(want), got, n, sizeof(got));
}

static const int64_t values[] = {
    0,
    1,
    -1,
    7,
    -7,
    42,
    127,
    128,
    -128,
    255,
    256,
    300,
    -129,
    32767,
    -32768,
    65535,
    65536,
    INT32_MAX,
    INT32_MIN,
    (int64_t)0x89abcdefULL,
    0x123456789abcdefLL,
    -0x123456789abcdefLL,
    INT64_MAX,
    INT64_MIN,
};

/* Pass v as int or as a 64-bit value, after nstar '*' arguments. */
static void check_value(const char *fmt, bool wide, int nstar, int s1, int s2, int64_t v)
{
	if (wide) {
		if (nstar == 0)
			check(fmt, v);
		else if (nstar == 1)
			check(fmt, s1, v);
		else
			check(fmt, s1, s2, v);
	} else {
		if (nstar == 0)
			check(fmt, (int)v);
		else if (nstar == 1)
			check(fmt, s1, (int)v);
		else
			check(fmt, s1, s2, (int)v);
	}
}

static void sweep_values(const char *fmt, bool wide, int nstar, int s1, int s2)
{
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		check_value(fmt, wide, nstar, s1, s2, values[i]);
}

/* Try each sensible value for the '*' arguments the spec asks for. */
static void sweep_stars(const char *fmt, bool wstar, bool pstar, bool wide)
{
	static const int wv[] = {9, -9, 0};
	static const int pv[] = {3, -1, 0};

	for (size_t i = 0; i < (wstar ? 3u : 1u); i++) {
		for (size_t j = 0; j < (pstar ? 3u : 1u); j++) {
			if (wstar && pstar)
				sweep_values(fmt, wide, 2, wv[i], pv[j]);
			else if (wstar)
				sweep_values(fmt, wide, 1, wv[i], 0);
			else if (pstar)
				sweep_values(fmt, wide, 1, pv[j], 0);
			else
				sweep_values(fmt, wide, 0, 0, 0);
		}
	}
}

/* Every length modifier and conversion for one flags/width/precision. */
static void sweep_convs(const char *flags, const char *width, const char *prec)
{
	static const char *const lens[] = {
	    "", "hh", "h", "l", "ll", "z", "j", "t",
	};
	static const char convs[] = "diuxXo";
	char fmt[64];

	for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
		for (size_t c = 0; convs[c]; c++) {
			snprintf(fmt, sizeof(fmt), "<%%%s%s%s%s%c>", flags, width, prec, lens[l],
				 convs[c]);
			sweep_stars(fmt, width[0] == '*', strchr(prec, '*') != NULL, l >= 3);
		}
	}
}

/* Every combination of flags, width, precision, length and conversion. */
static void test_integer_sweep(void **state)
{
	static const char *const flags[] = {
	    "", "-", "0", "+", " ", "#", "-0", "+0", " -", "#0", "#-", "+ ", "-+#0 ",
	};
	static const char *const widths[] = {"", "1", "6", "23", "*"};
	static const char *const precs[] = {
	    "", ".", ".0", ".1", ".4", ".22", ".*",
	};

	(void)state;
	for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
		for (size_t w = 0; w < sizeof(widths) / sizeof(widths[0]); w++) {
			for (size_t p = 0; p < sizeof(precs) / sizeof(precs[0]); p++)
				sweep_convs(flags[f], widths[w], precs[p]);
		}
	}
}

static void test_integer_limits(void **state)
{
	(void)state;
	expect("-9223372036854775808", "%lld", (long long)INT64_MIN);
	expect("-9223372036854775808", "%ld", (long)INT64_MIN);
	expect("-9223372036854775808", "%jd", INTMAX_MIN);
	expect("-9223372036854775808", "%td", PTRDIFF_MIN);
	expect("9223372036854775807", "%lld", (long long)INT64_MAX);
	expect("18446744073709551615", "%llu", (unsigned long long)UINT64_MAX);
	expect("18446744073709551615", "%zu", SIZE_MAX);
	expect("ffffffffffffffff", "%lx", (unsigned long)UINT64_MAX);
	expect("0XFFFFFFFFFFFFFFFF", "%#llX", (unsigned long long)UINT64_MAX);
	expect("01777777777777777777777", "%#llo", (unsigned long long)UINT64_MAX);
	expect("-2147483648", "%d", INT32_MIN);
	expect("4294967295", "%u", UINT32_MAX);
	expect("-128", "%hhd", -128);
	expect("255", "%hhu", -1);
	expect("-32768", "%hd", -32768);
	expect("65535", "%hu", 65535);
	expect("    -9223372036854775808", "%24lld", (long long)INT64_MIN);
	expect("-9223372036854775808    |", "%-24lld|", (long long)INT64_MIN);
	expect("-0009223372036854775808", "%023lld", (long long)INT64_MIN);
	expect("-00009223372036854775808", "%.23lld", (long long)INT64_MIN);
	expect("-1", "%zd", (size_t)-1);
	check("%lld %llu %llx %llo", (long long)INT64_MIN, (unsigned long long)UINT64_MAX,
	      (unsigned long long)UINT64_MAX, (unsigned long long)UINT64_MAX);
	check("%60.50lld|%-60.50llx|", (long long)INT64_MIN, (unsigned long long)UINT64_MAX);
	check("%300d|%-300x|%.300o", -5, 0xabcu, 8u);
}

static void test_integer_flags(void **state)
{
	(void)state;
	expect("+5 -5 +0", "%+d %+d %+d", 5, -5, 0);
	expect(" 5 -5", "% d % d", 5, -5);
	expect("+5", "%+ d", 5);
	expect("00042", "%05d", 42);
	expect("-0042", "%05d", -42);
	expect("   42", "%5.0d", 42);
	expect("  042", "%05.3d", 42);
	expect("42   |", "%-05d|", 42);
	expect("", "%.0d", 0);
	expect("     ", "%5.0x", 0u);
	expect("0", "%#.0o", 0u);
	expect("0", "%#x", 0u);
	expect("0x2a", "%#x", 42u);
	expect("0x002a", "%#06x", 42u);
	expect("  0x2a", "%#6x", 42u);
	expect("052", "%#o", 42u);
	expect("0052", "%#.4o", 42u);
	expect("7 -9 |", "%*d %-*d|", 1, 7, 3, -9);
	expect("7  |", "%*d|", -3, 7);
	expect("007", "%.*d", 3, 7);
	expect("7", "%.*d", -2, 7);
	expect("  007", "%*.*d", 5, 3, 7);
}

static void test_strings(void **state)
{
	char *unterminated = malloc(3);

	(void)state;
	check("%s", "hello");
	check("[%10s][%-10s][%.2s][%10.2s][%-10.0s]", "abc", "abc", "abc", "abc", "abc");
	check("[%*s][%*s][%.*s][%.*s]", 8, "ab", -8, "ab", 3, "abcdef", -1, "abcdef");
	check("[%s][%5s][%.0s]", "", "", "xyz");
	check("%%|100%%|%c|%5c|%-5c|", 'x', 'y', 'z');
	check("%c%c%c", 'a', 0x1e9, 'c');
	check("%-+#0 5c|", 'q');
	unterminated[0] = 'a';
	unterminated[1] = 'b';
	unterminated[2] = 'c';
	check("%.3s|%.2s|%5.3s", unterminated, unterminated, unterminated);
	free(unterminated);
	expect("(null)", "%s", (char *)NULL);
	expect("    (null)|", "%10s|", (char *)NULL);
	expect("(nu", "%.3s", (char *)NULL);
	expect("hello, world 42!", "%s, %s %d%c", "hello", "world", 42, '!');
}

static void test_char_nul(void **state)
{
	char buf[8];

	(void)state;
	assert_int_equal(fmt_snprintf(buf, sizeof(buf), "a%cb", 0), 3);
	assert_memory_equal(buf, "a\0b", 4);
	check_trunc("a%cb", 0);
}

static void test_pointer(void **state)
{
	(void)state;
	expect("0x0000000000000000", "%p", NULL);
	expect("0xffffffff81000000", "%p", (void *)0xffffffff81000000UL);
	expect("0x00000000deadbeef", "%p", (void *)0xdeadbeefUL);
	expect("  0x0000000000001000", "%20p", (void *)0x1000UL);
	expect("0x0000000000001000  |", "%-20p|", (void *)0x1000UL);
	expect("  0x0000000000001000", "%020p", (void *)0x1000UL);
	expect("0x0000000000001000", "%#+ .3p", (void *)0x1000UL);
	expect("rip=0x0000000000401000 rsp=0x00007fffffffe000", "rip=%p rsp=%p", (void *)0x401000UL,
	       (void *)0x7fffffffe000UL);
}

/* gcc's -Wformat rightly objects to these; they are the point of the test. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
#pragma GCC diagnostic ignored "-Wformat-zero-length"
static void test_unknown(void **state)
{
	(void)state;
	expect("%q", "%q");
	expect("a%qb", "a%qb");
	expect("%-5.3q", "%-5.3q");
	expect("%lq", "%lq");
	expect("%f %e %g %a", "%f %e %g %a");
	expect("%Lf", "%Lf");
	expect("%1$d", "%1$d");
	expect("%n", "%n");
	expect("%k 5", "%k %d", 5);
	expect("%*q 5", "%*q %d", 5);
	expect("%.*q 7 x", "%.*q %d %s", 7, "x");
	expect("%", "%");
	expect("abc%", "abc%");
	expect("%-", "%-");
	expect("%5", "%5");
	expect("%.", "%.");
	expect("%ll", "%ll");
	expect("%*", "%*");
	expect("", "");
	expect("50%", "%d%%", 50);
}
#pragma GCC diagnostic pop

static void test_truncation(void **state)
{
	char buf[4] = {'x', 'x', 'x', 'x'};

	(void)state;
	check_trunc("hello");
	check_trunc("");
	check_trunc("%d", -12345);
	check_trunc("%lld|%llx", (long long)INT64_MIN, (unsigned long long)UINT64_MAX);
	check_trunc("[%-8s][%8s]", "left", "right");
	check_trunc("%#010x %+.5d %o", 0xbeefu, 42, 8u);
	check_trunc("%c%c%%%c", 'a', 'b', 'c');
	check_trunc("%*.*s|", 12, 4, "truncated");
	/* size 0: nothing is written, not even the NUL */
	assert_int_equal(fmt_snprintf(buf, 0, "%d", 123), 3);
	assert_int_equal(buf[0], 'x');
	assert_int_equal(fmt_snprintf(NULL, 0, "%s %d", "abc", 123), 7);
	/* size 1: only the NUL */
	assert_int_equal(fmt_snprintf(buf, 1, "%d", 123), 3);
	assert_int_equal(buf[0], '\0');
	assert_int_equal(buf[1], 'x');
	assert_int_equal(fmt_snprintf(buf, 3, "%200d", 1), 200);
	assert_string_equal(buf, "  ");
	assert_int_equal(buf[3], 'x');
}

struct collect {
	char buf[OUT_MAX];
	size_t n;
};

static void collect_out(char c, void *ctx)
{
	struct collect *col = ctx;

	assert_true(col->n < sizeof(col->buf));
	col->buf[col->n++] = c;
}

static int vformat_collect(struct collect *col, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fmt_vformat(collect_out, col, fmt, ap);
	va_end(ap);
	return n;
}

static void test_vformat_stream(void **state)
{
	struct collect col = {.n = 0};
	int n;

	(void)state;
	n = vformat_collect(&col, "x=%d s=%s p=%p%c", -3, "ok", NULL, 0);
	assert_int_equal(n, 31);
	assert_int_equal(col.n, 31);
	assert_memory_equal(col.buf, "x=-3 s=ok p=0x0000000000000000\0", 31);
	col.n = 0;
	assert_int_equal(vformat_collect(&col, ""), 0);
	assert_int_equal(col.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_integer_sweep),  cmocka_unit_test(test_integer_limits),
	    cmocka_unit_test(test_integer_flags),  cmocka_unit_test(test_strings),
	    cmocka_unit_test(test_char_nul),	   cmocka_unit_test(test_pointer),
	    cmocka_unit_test(test_unknown),	   cmocka_unit_test(test_truncation),
	    cmocka_unit_test(test_vformat_stream),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
