/* printf-style formatting without floating point, for kernel and user space. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lib/format.h>
#include <lib/string.h>

#define FL_LEFT	 0x01 /* '-': pad on the right */
#define FL_ZERO	 0x02 /* '0': pad numbers with leading zeros */
#define FL_PLUS	 0x04 /* '+': always print a sign */
#define FL_SPACE 0x08 /* ' ': space where a '+' would go */
#define FL_ALT	 0x10 /* '#': 0x prefix or leading octal zero */

#define NO_PREC	   (-1)
#define PTR_DIGITS 16 /* %p always shows all 64 bits */
#define NUM_BUF	   24 /* 22 octal digits hold 64 bits */

enum fmt_len { LEN_NONE, LEN_HH, LEN_H, LEN_L, LEN_LL, LEN_Z, LEN_J, LEN_T };

struct fmt_spec {
	unsigned int flags;
	int width;
	int prec; /* NO_PREC if none */
	bool width_star;
	bool prec_star;
	enum fmt_len len;
	char conv; /* '\0' if the format ended inside the spec */
};

struct fmt_sink {
	void (*out)(char c, void *ctx);
	void *ctx;
	size_t count;
};

static void put(struct fmt_sink *o, char c)
{
	o->out(c, o->ctx);
	o->count++;
}

static void put_repeat(struct fmt_sink *o, char c, size_t n)
{
	while (n-- > 0)
		put(o, c);
}

static void put_str(struct fmt_sink *o, const char *s, size_t n)
{
	while (n-- > 0)
		put(o, *s++);
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Parse a decimal field, saturating at INT_MAX instead of overflowing. */
static int parse_num(const char **pp)
{
	const char *p = *pp;
	int v = 0, d;

	for (; is_digit(*p); p++) {
		d = *p - '0';
		v = v > (__INT_MAX__ - d) / 10 ? __INT_MAX__ : v * 10 + d;
	}
	*pp = p;
	return v;
}

static unsigned int parse_flag(char c)
{
	switch (c) {
	case '-':
		return FL_LEFT;
	case '0':
		return FL_ZERO;
	case '+':
		return FL_PLUS;
	case ' ':
		return FL_SPACE;
	case '#':
		return FL_ALT;
	default:
		return 0;
	}
}

static const char *parse_len(const char *p, enum fmt_len *len)
{
	switch (*p) {
	case 'h':
		*len = p[1] == 'h' ? LEN_HH : LEN_H;
		return p + (p[1] == 'h' ? 2 : 1);
	case 'l':
		*len = p[1] == 'l' ? LEN_LL : LEN_L;
		return p + (p[1] == 'l' ? 2 : 1);
	case 'z':
		*len = LEN_Z;
		return p + 1;
	case 'j':
		*len = LEN_J;
		return p + 1;
	case 't':
		*len = LEN_T;
		return p + 1;
	default:
		*len = LEN_NONE;
		return p;
	}
}

/*
 * Parse the spec after a '%' without touching any argument.  Returns the
 * character after the conversion, or the terminating NUL if there is none.
 */
static const char *parse_spec(const char *p, struct fmt_spec *spec)
{
	unsigned int f;

	*spec = (struct fmt_spec){.prec = NO_PREC};
	while ((f = parse_flag(*p)) != 0) {
		spec->flags |= f;
		p++;
	}
	if (*p == '*') {
		spec->width_star = true;
		p++;
	} else {
		spec->width = parse_num(&p);
	}
	if (*p == '.') {
		p++;
		if (*p == '*') {
			spec->prec_star = true;
			p++;
		} else {
			spec->prec = parse_num(&p);
		}
	}
	p = parse_len(p, &spec->len);
	spec->conv = *p;
	return *p ? p + 1 : p;
}

static bool known_conv(char c)
{
	switch (c) {
	case 'd':
	case 'i':
	case 'u':
	case 'x':
	case 'X':
	case 'o':
	case 'p':
	case 's':
	case 'c':
	case '%':
		return true;
	default:
		return false;
	}
}

/* Fetch '*' width then '*' precision, in the order C passes them. */
static void fetch_stars(struct fmt_spec *spec, va_list *ap)
{
	int w, p;

	if (spec->width_star) {
		w = va_arg(*ap, int);
		if (w < 0) {
			spec->flags |= FL_LEFT;
			w = w == -__INT_MAX__ - 1 ? __INT_MAX__ : -w;
		}
		spec->width = w;
	}
	if (spec->prec_star) {
		p = va_arg(*ap, int);
		spec->prec = p < 0 ? NO_PREC : p;
	}
}

static int64_t get_signed(enum fmt_len len, va_list *ap)
{
	switch (len) {
	case LEN_HH:
		return (signed char)va_arg(*ap, int);
	case LEN_H:
		return (short)va_arg(*ap, int);
	case LEN_L:
		return va_arg(*ap, long);
	case LEN_LL:
		return va_arg(*ap, long long);
	case LEN_Z:
		return (int64_t)va_arg(*ap, size_t);
	case LEN_J:
		return va_arg(*ap, intmax_t);
	case LEN_T:
		return va_arg(*ap, ptrdiff_t);
	default:
		return va_arg(*ap, int);
	}
}

static uint64_t get_unsigned(enum fmt_len len, va_list *ap)
{
	switch (len) {
	case LEN_HH:
		return (unsigned char)va_arg(*ap, unsigned int);
	case LEN_H:
		return (unsigned short)va_arg(*ap, unsigned int);
	case LEN_L:
		return va_arg(*ap, unsigned long);
	case LEN_LL:
		return va_arg(*ap, unsigned long long);
	case LEN_Z:
		return va_arg(*ap, size_t);
	case LEN_J:
		return va_arg(*ap, uintmax_t);
	case LEN_T:
		return (uint64_t)va_arg(*ap, ptrdiff_t);
	default:
		return va_arg(*ap, unsigned int);
	}
}

/* Write v's digits to the end of buf; returns how many were written. */
static size_t to_digits(char *buf, uint64_t v, unsigned int base, bool upper)
{
	const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	size_t n = 0;

	do {
		buf[NUM_BUF - ++n] = set[v % base];
		v /= base;
	} while (v);
	return n;
}

static unsigned int conv_base(char conv)
{
	switch (conv) {
	case 'o':
		return 8;
	case 'x':
	case 'X':
		return 16;
	default:
		return 10;
	}
}

/*
 * Emit [pad][prefix][zeros][digits][pad].  Precision is the minimum digit
 * count; precision 0 with value 0 prints no digits.  The '0' flag turns the
 * width padding into zeros only when no precision was given.
 */
static void emit_number(struct fmt_sink *o, const struct fmt_spec *spec, uint64_t v,
			const char *prefix)
{
	unsigned int base = conv_base(spec->conv);
	size_t plen = strlen(prefix), ndig = 0, zeros = 0, pad = 0, total;
	size_t prec = spec->prec == NO_PREC ? 1 : (size_t)spec->prec;
	char buf[NUM_BUF];

	if (v != 0 || prec != 0)
		ndig = to_digits(buf, v, base, spec->conv == 'X');
	if (prec > ndig)
		zeros = prec - ndig;
	if (base == 8 && (spec->flags & FL_ALT) && zeros == 0 &&
	    (ndig == 0 || buf[NUM_BUF - ndig] != '0'))
		zeros = 1;
	total = plen + zeros + ndig;
	if ((size_t)spec->width > total)
		pad = spec->width - total;
	if ((spec->flags & (FL_ZERO | FL_LEFT)) == FL_ZERO && spec->prec == NO_PREC) {
		zeros += pad;
		pad = 0;
	}
	if (!(spec->flags & FL_LEFT))
		put_repeat(o, ' ', pad);
	put_str(o, prefix, plen);
	put_repeat(o, '0', zeros);
	put_str(o, buf + NUM_BUF - ndig, ndig);
	if (spec->flags & FL_LEFT)
		put_repeat(o, ' ', pad);
}

static void fmt_signed(struct fmt_sink *o, const struct fmt_spec *spec, va_list *ap)
{
	int64_t v = get_signed(spec->len, ap);
	uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	const char *sign = "";

	if (v < 0)
		sign = "-";
	else if (spec->flags & FL_PLUS)
		sign = "+";
	else if (spec->flags & FL_SPACE)
		sign = " ";
	emit_number(o, spec, mag, sign);
}

static void fmt_unsigned(struct fmt_sink *o, const struct fmt_spec *spec, va_list *ap)
{
	uint64_t v = get_unsigned(spec->len, ap);
	const char *prefix = "";

	if ((spec->flags & FL_ALT) && v != 0) {
		if (spec->conv == 'x')
			prefix = "0x";
		else if (spec->conv == 'X')
			prefix = "0X";
	}
	emit_number(o, spec, v, prefix);
}

static void fmt_pointer(struct fmt_sink *o, const struct fmt_spec *spec, va_list *ap)
{
	struct fmt_spec s = *spec;

	s.conv = 'x';
	s.prec = PTR_DIGITS;
	emit_number(o, &s, (uintptr_t)va_arg(*ap, void *), "0x");
}

/* Text padded to the width with spaces (the '0' flag does not apply). */
static void emit_padded(struct fmt_sink *o, const struct fmt_spec *spec, const char *s, size_t n)
{
	size_t pad = (size_t)spec->width > n ? spec->width - n : 0;

	if (!(spec->flags & FL_LEFT))
		put_repeat(o, ' ', pad);
	put_str(o, s, n);
	if (spec->flags & FL_LEFT)
		put_repeat(o, ' ', pad);
}

static void fmt_string(struct fmt_sink *o, const struct fmt_spec *spec, va_list *ap)
{
	const char *s = va_arg(*ap, const char *);
	size_t n;

	if (!s)
		s = "(null)";
	n = spec->prec == NO_PREC ? strlen(s) : strnlen(s, spec->prec);
	emit_padded(o, spec, s, n);
}

static void fmt_char(struct fmt_sink *o, const struct fmt_spec *spec, va_list *ap)
{
	char c = (char)va_arg(*ap, int);

	emit_padded(o, spec, &c, 1);
}

static void convert(struct fmt_sink *o, const struct fmt_spec *spec, va_list *ap)
{
	switch (spec->conv) {
	case 'd':
	case 'i':
		fmt_signed(o, spec, ap);
		break;
	case 'u':
	case 'x':
	case 'X':
	case 'o':
		fmt_unsigned(o, spec, ap);
		break;
	case 'p':
		fmt_pointer(o, spec, ap);
		break;
	case 's':
		fmt_string(o, spec, ap);
		break;
	case 'c':
		fmt_char(o, spec, ap);
		break;
	default:
		put(o, '%');
		break;
	}
}

/* Handle one '%' spec at fmt; returns where the plain text resumes. */
static const char *format_one(struct fmt_sink *o, const char *fmt, va_list *ap)
{
	struct fmt_spec spec;
	const char *next = parse_spec(fmt + 1, &spec);

	if (!known_conv(spec.conv)) {
		put_str(o, fmt, next - fmt);
		return next;
	}
	fetch_stars(&spec, ap);
	convert(o, &spec, ap);
	return next;
}

int fmt_vformat(void (*out)(char c, void *ctx), void *ctx, const char *fmt, va_list ap)
{
	struct fmt_sink o = {.out = out, .ctx = ctx, .count = 0};
	va_list args;

	if (!fmt)
		return 0;
	va_copy(args, ap);
	while (*fmt) {
		if (*fmt == '%')
			fmt = format_one(&o, fmt, &args);
		else
			put(&o, *fmt++);
	}
	va_end(args);
	return o.count > __INT_MAX__ ? __INT_MAX__ : (int)o.count;
}

struct sn_buf {
	char *buf;
	size_t size;
	size_t pos;
};

/* Keep the last byte of the buffer for the terminating NUL. */
static void sn_out(char c, void *ctx)
{
	struct sn_buf *b = ctx;

	if (b->pos + 1 < b->size)
		b->buf[b->pos] = c;
	b->pos++;
}

int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct sn_buf b = {.buf = buf, .size = size, .pos = 0};
	int n = fmt_vformat(sn_out, &b, fmt, ap);

	if (size > 0)
		buf[b.pos < size ? b.pos : size - 1] = '\0';
	return n;
}

int fmt_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fmt_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
