/* printk: formatted output to the serial console, serialised across CPUs. */
#include <drivers/uart.h>
#include <kernel/printk.h>
#include <kernel/spinlock.h>
#include <lib/format.h>

static struct spinlock console_lock = SPINLOCK_INIT;

static void console_out(char c, void *ctx)
{
	(void)ctx;
	uart_putc(c);
}

int vprintk(const char *fmt, va_list ap)
{
	unsigned long f = spin_lock_irqsave(&console_lock);
	int n = fmt_vformat(console_out, NULL, fmt, ap);
	spin_unlock_irqrestore(&console_lock, f);
	return n;
}

int printk(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vprintk(fmt, ap);
	va_end(ap);
	return n;
}

void console_write(const char *s, size_t n)
{
	unsigned long f = spin_lock_irqsave(&console_lock);
	uart_write(s, n);
	spin_unlock_irqrestore(&console_lock, f);
}

void console_write_line(const char *tag, const char *text, size_t len, void *ctx)
{
	(void)ctx;
	unsigned long f = spin_lock_irqsave(&console_lock);
	while (*tag)
		uart_putc(*tag++);
	uart_write(text, len);
	uart_putc('\n');
	spin_unlock_irqrestore(&console_lock, f);
}

void console_break_lock(void)
{
	spin_unlock(&console_lock);
}
