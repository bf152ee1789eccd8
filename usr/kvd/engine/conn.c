/* kvd connections: framing of the input stream, values streamed into items, the reply queue. */
#include "kvd_impl.h"

/* ------------------------------------------------------------ output */

static void oblk_reset(struct kvd_oblk *b)
{
	b->next = NULL;
	b->nseg = b->rseg = 0;
	b->dused = 0;
}

/* A fresh block at the tail, or NULL when memory is short. */
static struct kvd_oblk *oblk_append(struct kvd_conn *c)
{
	struct kvd_oblk *b = c->ospare;

	if (b)
		c->ospare = NULL;
	else if (!(b = malloc(sizeof(*b))))
		return NULL;
	oblk_reset(b);
	if (c->otail)
		c->otail->next = b;
	else
		c->ohead = b;
	c->otail = b;
	return b;
}

/* Whether the block's last segment is text ending where new text would go. */
static bool text_tail(const struct kvd_oblk *b)
{
	const struct kvd_oseg *s;

	if (!b->nseg || b->rseg == b->nseg)
		return false;
	s = &b->seg[b->nseg - 1];
	return !s->ref && s->base + s->len == b->data + b->dused;
}

/* Out of memory for replies: memcached would drop the connection too. */
static void out_fail(struct kvd_conn *c)
{
	c->ofail = true;
	kvd_conn_fatal(c);
}

/* A block with n text bytes and one segment free (n <= KVD_OBLK_DATA). */
static struct kvd_oblk *room(struct kvd_conn *c, size_t n, unsigned segs)
{
	struct kvd_oblk *b = c->otail;

	if (c->ofail)
		return NULL;
	if (b && KVD_OBLK_DATA - b->dused >= n && b->nseg + segs <= KVD_OBLK_SEGS)
		return b;
	return oblk_append(c);
}

/*
 * Space for up to n (<= sizeof(c->oscratch)) bytes of reply text; commit
 * what was written with kvd_out_commit. Never fails: without memory the
 * text lands in a scratch buffer and the connection closes.
 */
uint8_t *kvd_out_reserve(struct kvd_conn *c, size_t n)
{
	struct kvd_oblk *b = c->otail;

	if (c->ofail)
		return c->oscratch;
	if (b && KVD_OBLK_DATA - b->dused >= n && (b->nseg < KVD_OBLK_SEGS || text_tail(b)))
		return b->data + b->dused;
	b = oblk_append(c);
	if (!b) {
		out_fail(c);
		return c->oscratch;
	}
	return b->data;
}

void kvd_out_commit(struct kvd_conn *c, size_t n)
{
	struct kvd_oblk *b = c->otail;

	if (c->ofail || !b || n == 0)
		return; /* scratch text of a failing connection */
	if (text_tail(b)) {
		b->seg[b->nseg - 1].len += (uint32_t)n;
	} else {
		b->seg[b->nseg].base = b->data + b->dused;
		b->seg[b->nseg].len = (uint32_t)n;
		b->seg[b->nseg].ref = NULL;
		b->nseg++;
	}
	b->dused += n;
	c->opending += n;
}

void kvd_out_bytes(struct kvd_conn *c, const void *p, size_t n)
{
	const uint8_t *src = p;

	while (n) {
		size_t k = n < sizeof(c->oscratch) ? n : sizeof(c->oscratch);

		memcpy(kvd_out_reserve(c, k), src, k);
		kvd_out_commit(c, k);
		src += k;
		n -= k;
	}
}

void kvd_out_str(struct kvd_conn *c, const char *s)
{
	kvd_out_bytes(c, s, strlen(s));
}

static void add_seg(struct kvd_oblk *b, const uint8_t *base, uint32_t len, struct kvd_item *ref)
{
	b->seg[b->nseg].base = base;
	b->seg[b->nseg].len = len;
	b->seg[b->nseg].ref = ref;
	b->nseg++;
}

void kvd_out_value(struct kvd_conn *c, struct kvd_item *it, bool crlf)
{
	uint32_t left = it->nbytes - (crlf ? 0 : 2), off = 0;
	unsigned segs = it->nchunks ? it->nchunks : 1;
	struct kvd_oblk *b;

	if (!left || c->ofail) {
		kvd_item_put(c->w, it);
		return;
	}
	b = room(c, 0, segs);
	if (!b) {
		out_fail(c);
		kvd_item_put(c->w, it);
		return;
	}
	c->opending += left;
	/* One segment per chunk; the last one with bytes carries the reference. */
	while (left) {
		uint32_t len;
		const uint8_t *p = kvd_item_span(it, off, &len);

		if (len > left)
			len = left;
		off += len;
		left -= len;
		add_seg(b, p, len, left ? NULL : it);
	}
}

char *kvd_fmt_u64(char *p, uint64_t v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

char *kvd_fmt_i64(char *p, int64_t v)
{
	if (v < 0) {
		*p++ = '-';
		return kvd_fmt_u64(p, (uint64_t)0 - (uint64_t)v);
	}
	return kvd_fmt_u64(p, (uint64_t)v);
}

unsigned kvd_conn_output(struct kvd_conn *c, struct kvd_iov *iov, unsigned max)
{
	unsigned n = 0;
	size_t skip = c->ooff;

	for (struct kvd_oblk *b = c->ohead; b && n < max; b = b->next) {
		for (unsigned i = b->rseg; i < b->nseg && n < max; i++) {
			const struct kvd_oseg *s = &b->seg[i];

			if (s->len > skip) {
				iov[n].base = s->base + skip;
				iov[n].len = s->len - skip;
				n++;
			}
			skip = 0;
		}
	}
	return n;
}

/* The head block is done: keep it as the spare (or free it). */
static void oblk_retire(struct kvd_conn *c)
{
	struct kvd_oblk *b = c->ohead;

	c->ohead = b->next;
	if (!c->ohead)
		c->otail = NULL;
	if (!c->ospare) {
		c->ospare = b;
	} else {
		free(b);
	}
}

void kvd_conn_output_done(struct kvd_conn *c, size_t n)
{
	struct kvd_oblk *b;
	size_t sent = n;

	if (n > c->opending)
		n = c->opending;
	c->opending -= n;
	KVD_ADD(c->w, bytes_written, n);
	while ((b = c->ohead)) {
		if (b->rseg == b->nseg) {
			if (b == c->otail) {
				oblk_reset(b); /* keep writing into it */
				break;
			}
			oblk_retire(c);
			continue;
		}
		struct kvd_oseg *s = &b->seg[b->rseg];
		size_t avail = s->len - c->ooff;

		if (n < avail) {
			c->ooff += n;
			break;
		}
		n -= avail;
		c->ooff = 0;
		if (s->ref)
			kvd_item_put(c->w, s->ref);
		s->ref = NULL;
		b->rseg++;
	}
	/* a retrieval stopped by backpressure goes on as its replies leave */
	if (sent && c->get.rest && c->state == KVD_CS_CMD)
		kvd_text_resume(c);
}

size_t kvd_conn_output_copy(struct kvd_conn *c, void *buf, size_t cap)
{
	struct kvd_iov iov[16];
	size_t done = 0;
	uint8_t *p = buf;

	while (done < cap && c->opending) {
		unsigned n = kvd_conn_output(c, iov, 16);
		size_t got = 0;

		for (unsigned i = 0; i < n && done + got < cap; i++) {
			size_t k = iov[i].len < cap - done - got ? iov[i].len : cap - done - got;

			memcpy(p + done + got, iov[i].base, k);
			got += k;
		}
		kvd_conn_output_done(c, got);
		done += got;
		if (!n)
			break;
	}
	return done;
}

size_t kvd_conn_pending(const struct kvd_conn *c)
{
	return c->opending;
}

bool kvd_conn_want_close(const struct kvd_conn *c)
{
	return c->want_close;
}

/* ------------------------------------------------------------ lifetime */

struct kvd_conn *kvd_conn_open(struct kvd_worker *w)
{
	struct kvd_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->w = w;
	c->rbuf = c->rbuf_small;
	c->rcap = sizeof(c->rbuf_small);
	KVD_ADD(w, curr_connections, 1);
	KVD_INC(w, total_connections);
	return c;
}

void kvd_conn_close(struct kvd_conn *c)
{
	struct kvd_oblk *b, *next;

	for (b = c->ohead; b; b = next) {
		next = b->next;
		for (unsigned i = b->rseg; i < b->nseg; i++)
			if (b->seg[i].ref)
				kvd_item_put(c->w, b->seg[i].ref);
		free(b);
	}
	free(c->ospare);
	if (c->item)
		kvd_item_put(c->w, c->item);
	free(c->get.rest);
	if (c->rbuf != c->rbuf_small)
		free(c->rbuf);
	KVD_ADD(c->w, curr_connections, -1);
	free(c);
}

/* ------------------------------------------------------------ input */

static size_t take_value(struct kvd_conn *c, const uint8_t *p, size_t n);

void kvd_conn_expect_value(struct kvd_conn *c, struct kvd_item *it, uint32_t wire_bytes)
{
	c->item = it;
	c->vread = 0;
	c->vneed = wire_bytes;
	c->state = KVD_CS_VALUE;
	if (!wire_bytes) /* an empty binary value: nothing more to wait for */
		take_value(c, NULL, 0);
}

void kvd_conn_swallow(struct kvd_conn *c, uint64_t n)
{
	c->swallow = n;
	c->state = n ? KVD_CS_SWALLOW : KVD_CS_CMD;
}

void kvd_conn_fatal(struct kvd_conn *c)
{
	c->want_close = true;
	c->state = KVD_CS_CLOSED;
}

static size_t take_value(struct kvd_conn *c, const uint8_t *p, size_t n)
{
	size_t k = c->vneed - c->vread < n ? c->vneed - c->vread : n;
	struct kvd_item *it;
	bool text = c->proto == KVD_PROTO_TEXT;
	char crlf[2];

	if (k)
		kvd_item_write(c->item, c->vread, p, (uint32_t)k);
	c->vread += (uint32_t)k;
	if (c->vread < c->vneed)
		return k;
	it = c->item;
	c->item = NULL;
	c->state = KVD_CS_CMD;
	if (text) {
		kvd_item_read(it, it->nbytes - 2, crlf, 2);
		kvd_text_value_done(c, it, crlf[0] == '\r' && crlf[1] == '\n');
	} else {
		kvd_item_write(it, it->nbytes - 2, "\r\n", 2);
		kvd_bin_value_done(c, it);
	}
	return k;
}

/* Whether a partial text line may grow to KVD_LINE_MAX_GET: a retrieval. */
static bool long_line_ok(const uint8_t *p, size_t n)
{
	return (n >= 4 && (!memcmp(p, "get ", 4) || !memcmp(p, "gat ", 4))) ||
	       (n >= 5 && (!memcmp(p, "gets ", 5) || !memcmp(p, "gats ", 5)));
}

/* Buffer n bytes of a partial command; false if it may not grow so long. */
static bool rbuf_add(struct kvd_conn *c, const uint8_t *p, size_t n)
{
	size_t need = c->rlen + n;

	if (need > c->rcap) {
		uint8_t *big;

		if (need > KVD_LINE_MAX_GET || c->rbuf != c->rbuf_small)
			return false;
		big = malloc(KVD_LINE_MAX_GET);
		if (!big)
			return false;
		memcpy(big, c->rbuf, c->rlen);
		c->rbuf = big;
		c->rcap = KVD_LINE_MAX_GET;
	}
	memcpy(c->rbuf + c->rlen, p, n);
	c->rlen = need;
	return true;
}

static void rbuf_clear(struct kvd_conn *c)
{
	c->rlen = 0;
	if (c->rbuf != c->rbuf_small) {
		free(c->rbuf);
		c->rbuf = c->rbuf_small;
		c->rcap = sizeof(c->rbuf_small);
	}
}

static void line_too_long(struct kvd_conn *c)
{
	KVD_INC(c->w, err_line_too_long);
	kvd_out_str(c, "CLIENT_ERROR line too long\r\n");
	kvd_conn_fatal(c);
}

/* Text framing: one line, from p directly or via rbuf. Returns bytes used. */
static size_t text_input(struct kvd_conn *c, const uint8_t *p, size_t n)
{
	const uint8_t *nl = memchr(p, '\n', n);
	size_t take = nl ? (size_t)(nl - p) + 1 : n;
	const uint8_t *line;
	size_t len, limit;

	if (c->rlen == 0 && nl) {
		line = p;
		len = take - 1;
	} else {
		const uint8_t *start = c->rlen ? c->rbuf : p;
		size_t have = c->rlen ? c->rlen : take;

		limit = long_line_ok(start, have) ? KVD_LINE_MAX_GET : KVD_LINE_MAX;
		if (c->rlen + take > limit + 1 || !rbuf_add(c, p, take)) {
			line_too_long(c);
			return n;
		}
		if (!nl)
			return take;
		line = c->rbuf;
		len = c->rlen - 1;
	}
	limit = long_line_ok(line, len) ? KVD_LINE_MAX_GET : KVD_LINE_MAX;
	if (len > limit) {
		line_too_long(c);
		return n;
	}
	if (len && line[len - 1] == '\r')
		len--;
	kvd_text_line(c, (const char *)line, len);
	rbuf_clear(c);
	return take;
}

/* Binary framing: header, extras and key together (the value streams). */
static size_t bin_input(struct kvd_conn *c, const uint8_t *p, size_t n)
{
	const uint8_t *hdr = c->rlen ? c->rbuf : p;
	size_t have = c->rlen ? c->rlen : n, want = KVD_BIN_HDR, take;

	if (have >= KVD_BIN_HDR) {
		want = kvd_bin_fixed_len(c, hdr);
		if (!want) /* bad header: answered, closing */
			return n;
	}
	if (c->rlen == 0 && n >= want) {
		kvd_bin_request(c, p);
		return want;
	}
	take = want - c->rlen < n ? want - c->rlen : n;
	if (!rbuf_add(c, p, take)) {
		kvd_conn_fatal(c);
		return n;
	}
	if (c->rlen == KVD_BIN_HDR && want == KVD_BIN_HDR) {
		want = kvd_bin_fixed_len(c, c->rbuf);
		if (!want)
			return n;
	}
	if (c->rlen < want)
		return take;
	kvd_bin_request(c, c->rbuf);
	rbuf_clear(c);
	return take;
}

size_t kvd_conn_input(struct kvd_conn *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t used = 0, k;

	while (used < len) {
		switch (c->state) {
		case KVD_CS_CLOSED:
			used = len; /* after quit nothing more is read */
			continue;
		case KVD_CS_VALUE:
			used += take_value(c, p + used, len - used);
			continue;
		case KVD_CS_SWALLOW:
			k = c->swallow < len - used ? (size_t)c->swallow : len - used;
			c->swallow -= k;
			used += k;
			if (!c->swallow)
				c->state = KVD_CS_CMD;
			continue;
		case KVD_CS_CMD:
			break;
		}
		if (c->get.rest && !kvd_text_resume(c))
			break; /* a retrieval goes first, as its output drains */
		if (c->opending > KVD_OUT_HIGH && c->rlen == 0) {
			KVD_INC(c->w, conn_backpressure);
			break;
		}
		if (c->proto == KVD_PROTO_NONE)
			c->proto = p[used] == KVD_BIN_REQ_MAGIC ? KVD_PROTO_BINARY : KVD_PROTO_TEXT;
		if (c->proto == KVD_PROTO_TEXT)
			used += text_input(c, p + used, len - used);
		else
			used += bin_input(c, p + used, len - used);
	}
	KVD_ADD(c->w, bytes_read, used);
	return used;
}
