/* Line-buffered console output and snprintf over lib/format.c. */
#include <stdarg.h>
#include <stddef.h>

#include <lib/format.h>
#include <lib/string.h>
#include <mc/errno.h>
#include <mc/lock.h>
#include <mc/stdio.h>
#include <mc/sys.h>

/* One console_write per line; longer lines go out in buffer-sized pieces.
 * The buffer is the process's: threads take turns under out_lock. */
static char out_buf[1024];
static size_t out_len;
static struct mc_lock out_lock = MC_LOCK_INIT;

static int flush_locked(void)
{
	size_t done = 0;
	int err = 0;
	long rc;

	while (done < out_len && !err) {
		rc = sys_console_write(out_buf + done, out_len - done);
		if (rc > 0)
			done += (size_t)rc;
		else
			err = rc < 0 ? (int)-rc : EIO;
	}
	out_len = 0;
	if (err) {
		errno = err;
		return EOF;
	}
	return 0;
}

int mc_flush(void)
{
	mc_lock(&out_lock);
	int r = flush_locked();
	mc_unlock(&out_lock);
	return r;
}

static void out_char(char c, void *ctx)
{
	(void)ctx;
	out_buf[out_len++] = c;
	if (c == '\n' || out_len == sizeof(out_buf))
		flush_locked();
}

int vprintf(const char *fmt, va_list ap)
{
	mc_lock(&out_lock);
	int n = fmt_vformat(out_char, NULL, fmt, ap);
	mc_unlock(&out_lock);
	return n;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	return fmt_vsnprintf(buf, size, fmt, ap);
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fmt_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

int putchar(int c)
{
	mc_lock(&out_lock);
	out_char((char)c, NULL);
	mc_unlock(&out_lock);
	return (unsigned char)c;
}

int puts(const char *s)
{
	mc_lock(&out_lock);
	while (*s)
		out_char(*s++, NULL);
	out_char('\n', NULL);
	mc_unlock(&out_lock);
	return 0;
}
