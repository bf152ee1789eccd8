/*
 * Console output. stdout is line-buffered: text collects until a newline (or
 * a full buffer, or mc_flush/exit) and each line goes out in one
 * console_write, so lines of different processes do not interleave.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>

#include <lib/format.h>

#define EOF (-1)

/* Formats as lib/format.h describes (no floating point); returns chars. */
__attribute__((format(printf, 1, 2))) int printf(const char *fmt, ...);
__attribute__((format(printf, 1, 0))) int vprintf(const char *fmt, va_list ap);
__attribute__((format(printf, 3, 4))) int snprintf(char *buf, size_t size, const char *fmt, ...);
__attribute__((format(printf, 3, 0))) int vsnprintf(char *buf, size_t size, const char *fmt,
						    va_list ap);

/* s and a newline; returns a nonnegative number or EOF. */
int puts(const char *s);
int putchar(int c);

/*
 * Send whatever stdout holds now. Returns 0, or EOF with errno set if the
 * console refused it (the text is dropped either way).
 */
int mc_flush(void);
