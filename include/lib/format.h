/* printf-style formatting without floating point, for kernel and user space. */
#pragma once

#include <stdarg.h>
#include <stddef.h>

/*
 * Conversions: %d %i %u %x %X %o %p %s %c %%, length modifiers hh h l ll z j t,
 * flags - 0 + space #, width and precision (either may be *).
 * %p prints "0x" and 16 hex digits; %s of NULL prints "(null)".
 * Anything else (including %n and floating point) is copied out literally
 * and consumes no argument.
 */

/* Stream formatted output through out(); returns the number of characters. */
__attribute__((format(printf, 3, 0))) int fmt_vformat(void (*out)(char c, void *ctx), void *ctx,
						      const char *fmt, va_list ap);

/*
 * C99 vsnprintf: writes at most size - 1 characters plus a NUL when size > 0
 * and returns the length the full output would have had.
 */
__attribute__((format(printf, 3, 0))) int fmt_vsnprintf(char *buf, size_t size, const char *fmt,
							va_list ap);

__attribute__((format(printf, 3, 4))) int fmt_snprintf(char *buf, size_t size, const char *fmt,
						       ...);
