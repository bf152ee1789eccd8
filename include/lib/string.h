/* Freestanding memory and string routines shared by kernel and user space. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * These keep their standard names because gcc emits calls to memcpy, memmove,
 * memset and memcmp even in freestanding code.  Host unit tests rename them
 * with tests/unit/string_rename.h so they do not clash with the C library.
 */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memchr(const void *s, int c, size_t n);

size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
char *strrchr(const char *s, int c);

/*
 * Copy src into dst[size], truncating if needed; dst is NUL-terminated
 * whenever size > 0.  Returns strlen(src): truncation happened iff the
 * result is >= size.
 */
size_t strlcpy(char *dst, const char *src, size_t size);

/*
 * Parse an unsigned integer in base 2..36, or base 0 for automatic detection
 * ("0x"/"0X" prefix: 16, leading "0": 8, otherwise 10).  Base 16 also accepts
 * an optional "0x" prefix.  No whitespace or sign is accepted.
 *
 * If end is NULL the whole string must be the number; otherwise *end is set
 * to the first character not consumed and trailing text is allowed.
 * Returns 0 and stores *out, -EINVAL if there are no digits, the base is bad
 * or (end == NULL) trailing characters follow, or -ERANGE if the value does
 * not fit in 64 bits.  *out is written only on success.
 */
int str_to_u64(const char *s, const char **end, int base, uint64_t *out);
