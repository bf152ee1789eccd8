/* Memory allocation, process exit and number parsing. */
#pragma once

#include <stddef.h>

#define EXIT_SUCCESS 0
#define EXIT_FAILURE 1

/*
 * The heap: every block is 16-byte aligned. Small blocks come from
 * power-of-two size classes carved out of vmspace_alloc chunks (kept for
 * reuse, never returned); blocks over 64 KiB get their own mapping, which
 * free() returns to the kernel. Failure returns NULL with errno = ENOMEM.
 * Freeing a pointer that malloc did not return, or freeing twice, aborts.
 */
void *malloc(size_t size);
void free(void *ptr);
void *calloc(size_t n, size_t size);
void *realloc(void *ptr, size_t size);

/* Flush stdout and end the process with status (never returns). */
__attribute__((noreturn)) void exit(int status);
/* Print "abort" and exit with status 134 (128 + SIGABRT, as shells show). */
__attribute__((noreturn)) void abort(void);

/*
 * C-library parsing over str_to_u64: leading spaces and a sign are accepted,
 * base 0 detects 0x/0 prefixes. Out of range: the extreme value and errno =
 * ERANGE. No digits: 0 with *end = s (and errno = EINVAL).
 */
unsigned long strtoul(const char *s, char **end, int base);
long strtol(const char *s, char **end, int base);
int atoi(const char *s);
long atol(const char *s);
