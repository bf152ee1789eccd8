/* exit, abort and the C-library number parsers over str_to_u64. */
#include <stdbool.h>
#include <stdint.h>

#include <lib/string.h>
#include <mc/errno.h>
#include <mc/stdio.h>
#include <mc/stdlib.h>
#include <mc/sys.h>

void exit(int status)
{
	mc_flush();
	sys_exit(status);
}

void abort(void)
{
	static const char msg[] = "abort\n";

	mc_flush();
	sys_console_write(msg, sizeof(msg) - 1);
	sys_exit(134);
}

static bool is_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/*
 * The common part of strtoul and strtol: spaces, a sign, then digits.
 * Returns what str_to_u64 returns; *end is s when there are no digits.
 */
static int parse_number(const char *s, char **end, int base, bool *neg, uint64_t *v)
{
	const char *p = s, *stop;
	int rc;

	while (is_space(*p))
		p++;
	*neg = *p == '-';
	if (*p == '+' || *p == '-')
		p++;
	rc = str_to_u64(p, &stop, base, v);
	if (end)
		*end = (char *)(rc == -EINVAL ? s : stop);
	if (rc)
		errno = -rc;
	return rc;
}

unsigned long strtoul(const char *s, char **end, int base)
{
	uint64_t v;
	bool neg;
	int rc = parse_number(s, end, base, &neg, &v);

	if (rc == -ERANGE)
		return UINT64_MAX;
	if (rc)
		return 0;
	return neg ? -v : v; /* C: the negation is done in unsigned long */
}

long strtol(const char *s, char **end, int base)
{
	uint64_t v;
	bool neg;
	int rc = parse_number(s, end, base, &neg, &v);

	if (rc == -EINVAL)
		return 0;
	if (neg) {
		if (rc == -ERANGE || v > (uint64_t)INT64_MAX + 1) {
			errno = ERANGE;
			return INT64_MIN;
		}
		return (long)-v; /* -v wraps to the two's complement value */
	}
	if (rc == -ERANGE || v > INT64_MAX) {
		errno = ERANGE;
		return INT64_MAX;
	}
	return (long)v;
}

int atoi(const char *s)
{
	return (int)strtol(s, NULL, 10);
}

long atol(const char *s)
{
	return strtol(s, NULL, 10);
}
