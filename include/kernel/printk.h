/* Kernel console output and fatal errors. */
#pragma once

#include <stdarg.h>
#include <kernel/types.h>

__attribute__((format(printf, 1, 2))) int printk(const char *fmt, ...);
int vprintk(const char *fmt, va_list ap);
/* Write raw bytes to the console under the console lock. */
void console_write(const char *s, size_t n);
/* Write tag, text and a newline as one line (a conout_emit_fn). */
void console_write_line(const char *tag, const char *text, size_t len, void *ctx);

__attribute__((format(printf, 1, 2))) void __noreturn panic(const char *fmt, ...);
/* For fatal paths that print their own report: stop the other CPUs, take
 * the console, print; then panic_end() exits (test mode) or halts. */
void panic_begin(void);
/* Whether some CPU has begun a panic report. */
bool panic_in_progress(void);
void __noreturn panic_end(void);
/* Take the console lock away from whoever holds it (panic only). */
void console_break_lock(void);

#define BUG_ON(cond)                                                                               \
	do {                                                                                       \
		if (unlikely(cond))                                                                \
			panic("BUG: %s at %s:%d", #cond, __FILE__, __LINE__);                      \
	} while (0)
