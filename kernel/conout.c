/*
 * Process console output. A process shares the serial console with the
 * kernel, and test verdicts and kernel reports are read from it, so a
 * process must not be able to print anything that passes for a kernel
 * line: each of its lines goes out whole, after a tag naming it
 * ("name[pid]: "), with every byte outside printable ASCII (escape
 * sequences, carriage returns, backspaces, ...) shown as \xNN.
 */
#include <kernel/conout.h>

static const char hex[] = "0123456789abcdef";

static bool printable(uint8_t c)
{
	return (c >= 0x20 && c < 0x7f) || c == '\t';
}

static void emit_line(struct conout *o, const char *tag, conout_emit_fn emit, void *ctx)
{
	emit(tag, o->line, o->len, ctx);
	o->len = 0;
}

void conout_write(struct conout *o, const char *buf, size_t n, const char *tag, conout_emit_fn emit,
		  void *ctx)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)buf[i];
		if (c == '\n') {
			emit_line(o, tag, emit, ctx);
			continue;
		}
		if (o->len + 4 > sizeof(o->line))
			emit_line(o, tag, emit, ctx); /* split an overlong line */
		if (printable(c)) {
			o->line[o->len++] = (char)c;
		} else {
			o->line[o->len++] = '\\';
			o->line[o->len++] = 'x';
			o->line[o->len++] = hex[c >> 4];
			o->line[o->len++] = hex[c & 15];
		}
	}
}

void conout_flush(struct conout *o, const char *tag, conout_emit_fn emit, void *ctx)
{
	if (o->len)
		emit_line(o, tag, emit, ctx);
}
