/* Freestanding memory and string routines shared by kernel and user space. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lib/string.h>
#include <uapi/errno.h>

/*
 * gcc's loop distribution turns byte loops into calls to memcpy/memmove/
 * memset, which would recurse here.  Keep it away from our copy loops.
 */
#define STR_NO_LIBCALL __attribute__((optimize("no-tree-loop-distribute-patterns")))

/* Forward copies use "rep movsb": fast on CPUs with ERMS, and byte-exact. */
void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;

	asm volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	void *d = dst;

	asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return dst;
}

/*
 * Copy from the top down, a word at a time, for dst above an overlapping src.
 * Each word is loaded before it is stored, and every byte still to be read
 * lies below the bytes being written, so overlap is safe.
 */
static STR_NO_LIBCALL void copy_backward(unsigned char *d, const unsigned char *s, size_t n)
{
	uint64_t w;

	while (n >= sizeof(w)) {
		n -= sizeof(w);
		__builtin_memcpy(&w, s + n, sizeof(w));
		__builtin_memcpy(d + n, &w, sizeof(w));
	}
	while (n > 0) {
		n--;
		d[n] = s[n];
	}
}

/*
 * A forward "rep movsb" is architecturally a sequence of single-byte moves,
 * so it is correct whenever dst does not lie inside (src, src + n).
 */
void *memmove(void *dst, const void *src, size_t n)
{
	uintptr_t d = (uintptr_t)dst, s = (uintptr_t)src;

	if (d - s >= n)
		return memcpy(dst, src, n);
	copy_backward(dst, src, n);
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;

	for (; n > 0; n--, p++, q++) {
		if (*p != *q)
			return *p < *q ? -1 : 1;
	}
	return 0;
}

void *memchr(const void *s, int c, size_t n)
{
	const unsigned char *p = s;

	for (; n > 0; n--, p++) {
		if (*p == (unsigned char)c)
			return (void *)p;
	}
	return NULL;
}

size_t strlen(const char *s)
{
	const char *p = s;

	while (*p)
		p++;
	return p - s;
}

size_t strnlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

int strcmp(const char *a, const char *b)
{
	const unsigned char *p = (const unsigned char *)a;
	const unsigned char *q = (const unsigned char *)b;

	while (*p && *p == *q) {
		p++;
		q++;
	}
	return (*p > *q) - (*p < *q);
}

int strncmp(const char *a, const char *b, size_t n)
{
	const unsigned char *p = (const unsigned char *)a;
	const unsigned char *q = (const unsigned char *)b;

	for (; n > 0; n--, p++, q++) {
		if (*p != *q)
			return *p < *q ? -1 : 1;
		if (!*p)
			break;
	}
	return 0;
}

char *strchr(const char *s, int c)
{
	for (;; s++) {
		if (*s == (char)c)
			return (char *)s;
		if (!*s)
			return NULL;
	}
}

char *strrchr(const char *s, int c)
{
	const char *last = NULL;

	for (;; s++) {
		if (*s == (char)c)
			last = s;
		if (!*s)
			return (char *)last;
	}
}

size_t strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);
	size_t n;

	if (size == 0)
		return len;
	n = len < size - 1 ? len : size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return len;
}

/* Value of an alphanumeric digit, or 36 (too big for every base) if none. */
static unsigned int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	return 36;
}

/* Skip a "0x" prefix (only if a hex digit follows) and settle base 0. */
static const char *parse_prefix(const char *s, unsigned int *base)
{
	bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && digit_value(s[2]) < 16;

	if (hex && (*base == 0 || *base == 16)) {
		*base = 16;
		return s + 2;
	}
	if (*base == 0)
		*base = s[0] == '0' ? 8 : 10;
	return s;
}

int str_to_u64(const char *s, const char **end, int base, uint64_t *out)
{
	unsigned int b = base, d;
	const char *p, *digits;
	uint64_t v = 0;
	bool overflow = false;

	if (end)
		*end = s;
	if (!s || base < 0 || base == 1 || base > 36)
		return -EINVAL;
	digits = p = parse_prefix(s, &b);
	for (; (d = digit_value(*p)) < b; p++) {
		if (v > (UINT64_MAX - d) / b)
			overflow = true;
		else
			v = v * b + d;
	}
	if (p == digits)
		return -EINVAL;
	if (end)
		*end = p;
	else if (*p)
		return -EINVAL;
	if (overflow)
		return -ERANGE;
	*out = v;
	return 0;
}
