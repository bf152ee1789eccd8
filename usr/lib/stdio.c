/* Line-buffered console output and snprintf over lib/format.c. */
#include <stdarg.h>
#include <stddef.h>

#include <lib/format.h>
#include <lib/string.h>
#include <mc/errno.h>
#include <mc/stdio.h>
#include <mc/sys.h>

/* One console_write per line; longer lines go out in buffer-sized pieces. */
static char out_buf[1024];
static size_t out_len;

int mc_flush(void)
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

static void out_char(char c, void *ctx)
{
	(void)ctx;
	out_buf[out_len++] = c;
	if (c == '\n' || out_len == sizeof(out_buf))
		mc_flush();
}

int vprintf(const char *fmt, va_list ap)
{
	return fmt_vformat(out_char, NULL, fmt, ap);
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
	out_char((char)c, NULL);
	return (unsigned char)c;
}

int puts(const char *s)
{
	while (*s)
		out_char(*s++, NULL);
	out_char('\n', NULL);
	return 0;
}
