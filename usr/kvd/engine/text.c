/* kvd text protocol: memcached 1.6 protocol.txt's classic commands, with its error replies. */
#include "kvd_impl.h"

/*
 * Replies follow protocol.txt; where it leaves the exact words open
 * ("CLIENT_ERROR <error>") they are the ones memcached 1.6 sends, so
 * clients that match on them keep working. Like memcached, a malformed
 * storage command line does not swallow the data block that follows (it
 * cannot know its length for sure); a well-formed one whose value is too
 * large or finds no memory does.
 */

/* ------------------------------------------------------------ tokens, numbers */

/* Split at spaces; the last token keeps the rest of the line if there are more than max. */
static unsigned tokenize(const char *p, size_t n, struct kvd_tok *t, unsigned max, bool *more)
{
	unsigned k = 0;
	size_t i = 0;

	*more = false;
	while (i < n) {
		while (i < n && p[i] == ' ')
			i++;
		if (i == n)
			break;
		if (k == max) {
			*more = true;
			break;
		}
		t[k].p = p + i;
		while (i < n && p[i] != ' ')
			i++;
		t[k].n = (size_t)(p + i - t[k].p);
		k++;
	}
	return k;
}

bool kvd_tok_eq(const struct kvd_tok *t, const char *s)
{
	size_t n = strlen(s);

	return t->n == n && !memcmp(t->p, s, n);
}

/* Decimal, an optional '+', no overflow (strtoull as memcached uses it, minus its quirks). */
bool kvd_parse_u64(const char *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if (n && p[0] == '+')
		i++;
	if (i == n)
		return false;
	for (; i < n; i++) {
		uint64_t d = (uint64_t)(p[i] - '0');

		if (p[i] < '0' || p[i] > '9' || v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

bool kvd_parse_i64(const char *p, size_t n, int64_t *out)
{
	uint64_t v;
	bool neg = n && p[0] == '-';

	if (neg) {
		p++;
		n--;
		if (n && p[0] == '+')
			return false;
	}
	if (!kvd_parse_u64(p, n, &v) || v > (uint64_t)INT64_MAX + neg)
		return false;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

static bool parse_u32(const struct kvd_tok *t, uint32_t *out)
{
	uint64_t v;

	if (!kvd_parse_u64(t->p, t->n, &v) || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* ------------------------------------------------------------ replies */

void kvd_text_reply(struct kvd_conn *c, const char *s, bool noreply)
{
	if (!noreply)
		kvd_out_str(c, s);
}

static void client_error(struct kvd_conn *c, const char *why)
{
	KVD_INC(c->w, err_bad_format);
	kvd_out_str(c, "CLIENT_ERROR ");
	kvd_out_str(c, why);
	kvd_out_str(c, "\r\n");
}

static void unknown_command(struct kvd_conn *c)
{
	KVD_INC(c->w, err_unknown_command);
	kvd_out_str(c, "ERROR\r\n");
}

static void bad_format(struct kvd_conn *c)
{
	client_error(c, "bad command line format");
}

static bool is_noreply(const struct kvd_tok *t)
{
	return kvd_tok_eq(t, "noreply");
}

static const char *result_text(enum kvd_result r)
{
	switch (r) {
	case KVD_STORED:
		return "STORED\r\n";
	case KVD_NOT_STORED:
		return "NOT_STORED\r\n";
	case KVD_EXISTS:
		return "EXISTS\r\n";
	case KVD_NOT_FOUND:
		return "NOT_FOUND\r\n";
	case KVD_DELETED:
		return "DELETED\r\n";
	case KVD_TOUCHED:
		return "TOUCHED\r\n";
	case KVD_NON_NUMERIC:
		return "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n";
	case KVD_NO_MEMORY:
		return "SERVER_ERROR out of memory storing object\r\n";
	case KVD_TOO_LARGE:
		return "SERVER_ERROR object too large for cache\r\n";
	}
	return "SERVER_ERROR internal\r\n";
}

/* Errors are answered even under noreply (memcached's out_errstring). */
static void reply_result(struct kvd_conn *c, enum kvd_result r, bool noreply)
{
	bool error = r == KVD_NON_NUMERIC || r == KVD_NO_MEMORY || r == KVD_TOO_LARGE;

	kvd_text_reply(c, result_text(r), noreply && !error);
}

/* ------------------------------------------------------------ retrieval */

static void value_line(struct kvd_conn *c, const struct kvd_item *it, bool with_cas)
{
	char *p = (char *)kvd_out_reserve(c, 6 + KVD_KEY_MAX + 3 * 21 + 4), *start = p;

	memcpy(p, "VALUE ", 6);
	p += 6;
	memcpy(p, it->data, it->nkey);
	p += it->nkey;
	*p++ = ' ';
	p = kvd_fmt_u64(p, it->flags);
	*p++ = ' ';
	p = kvd_fmt_u64(p, it->nbytes - 2);
	if (with_cas) {
		*p++ = ' ';
		p = kvd_fmt_u64(p, it->cas);
	}
	*p++ = '\r';
	*p++ = '\n';
	kvd_out_commit(c, (size_t)(p - start));
}

/*
 * The keys of a retrieval in p[0..n), until they are done (then END) or the
 * replies queued pass KVD_OUT_HIGH: then the rest of the keys is kept and
 * the command resumes as the output drains (kvd_text_resume), so one line
 * of a thousand big keys never queues a thousand references at once.
 */
static void get_keys(struct kvd_conn *c, const char *p, size_t n)
{
	struct kvd_worker *w = c->w;
	struct kvd_lookup how = {
	    .bump = true, .touch = c->get.touch, .new_exptime = c->get.exptime};
	size_t i = 0;
	bool more;

	for (;;) {
		struct kvd_tok key;
		struct kvd_item *it;

		if (c->opending > KVD_OUT_HIGH && tokenize(p + i, n - i, &key, 1, &more)) {
			char *rest = malloc(n - i);

			if (!rest) {
				kvd_conn_fatal(c);
				return;
			}
			memcpy(rest, p + i, n - i);
			c->get.rest = rest;
			c->get.len = n - i;
			KVD_INC(w, conn_backpressure);
			return;
		}
		if (!tokenize(p + i, n - i, &key, 1, &more))
			break;
		i = (size_t)(key.p + key.n - p);
		if (key.n > KVD_KEY_MAX) {
			bad_format(c);
			return;
		}
		KVD_INC(w, cmd_get);
		if (c->get.touch)
			KVD_INC(w, cmd_touch);
		it = kvd_item_get(w, key.p, key.n, &how);
		if (!it) {
			if (c->get.touch)
				KVD_INC(w, touch_misses);
			KVD_INC(w, get_misses);
			continue;
		}
		if (c->get.touch)
			KVD_INC(w, touch_hits);
		KVD_INC(w, get_hits);
		value_line(c, it, c->get.with_cas);
		kvd_out_value(c, it, true);
	}
	kvd_out_str(c, "END\r\n");
}

bool kvd_text_resume(struct kvd_conn *c)
{
	char *rest = c->get.rest;

	if (!rest)
		return true;
	if (c->opending > KVD_OUT_HIGH)
		return false;
	c->get.rest = NULL;
	get_keys(c, rest, c->get.len);
	free(rest);
	return !c->get.rest;
}

/* get/gets <key>*, gat/gats <exptime> <key>*: keys may run past KVD_MAX_TOKENS. */
static void process_get(struct kvd_conn *c, const char *line, size_t len, bool with_cas, bool touch)
{
	struct kvd_tok t[2];
	size_t i = 0;

	/* skip the command (and the exptime) */
	unsigned skip = touch ? 2 : 1;
	for (unsigned k = 0; k < skip; k++) {
		while (i < len && line[i] == ' ')
			i++;
		t[k].p = line + i;
		while (i < len && line[i] != ' ')
			i++;
		t[k].n = (size_t)(line + i - t[k].p);
	}
	c->get.with_cas = with_cas;
	c->get.touch = touch;
	if (touch) {
		int64_t exp;

		if (!kvd_parse_i64(t[1].p, t[1].n, &exp)) {
			client_error(c, "invalid exptime argument");
			return;
		}
		c->get.exptime = kvd_exptime(c->w, exp);
	}
	get_keys(c, line + i, len - i);
}

/* ------------------------------------------------------------ storage */

/* set/add/replace/append/prepend <key> <flags> <exptime> <bytes> [noreply], cas ... <cas unique> */
static void process_update(struct kvd_conn *c, struct kvd_tok *t, unsigned ntok,
			   enum kvd_store_mode mode)
{
	struct kvd_worker *w = c->w;
	unsigned need = mode == KVD_CAS ? 6 : 5;
	uint32_t flags;
	int64_t exptime, vlen;
	uint64_t cas = 0;
	struct kvd_item *it;
	enum kvd_result why;

	if (ntok != need && ntok != need + 1) {
		unknown_command(c);
		return;
	}
	if (t[1].n > KVD_KEY_MAX || !parse_u32(&t[2], &flags) ||
	    !kvd_parse_i64(t[3].p, t[3].n, &exptime) || !kvd_parse_i64(t[4].p, t[4].n, &vlen) ||
	    vlen < 0 || vlen > INT32_MAX - 2 ||
	    (mode == KVD_CAS && !kvd_parse_u64(t[5].p, t[5].n, &cas))) {
		bad_format(c);
		return;
	}
	memset(&c->pend, 0, sizeof(c->pend));
	c->pend.mode = mode;
	c->pend.cas = cas;
	c->pend.noreply = ntok == need + 1 && is_noreply(&t[need]);
	it = kvd_item_alloc(w, t[1].p, t[1].n, flags, kvd_exptime(w, exptime), (uint32_t)vlen + 2,
			    &why);
	if (!it) {
		if (why == KVD_TOO_LARGE)
			KVD_INC(w, store_too_large);
		else
			KVD_INC(w, store_no_memory);
		KVD_INC(w, cmd_set);
		reply_result(c, why, false);
		kvd_conn_swallow(c, (uint64_t)vlen + 2);
		if (mode == KVD_SET) /* memcached drops the old value rather than keep it stale */
			kvd_delete(w, t[1].p, t[1].n, 0);
		return;
	}
	kvd_conn_expect_value(c, it, (uint32_t)vlen + 2);
}

void kvd_text_value_done(struct kvd_conn *c, struct kvd_item *it, bool good)
{
	struct kvd_item *stored;
	enum kvd_result r;

	if (c->pend.meta) {
		kvd_meta_value_done(c, it, good);
		return;
	}
	if (!good) {
		KVD_INC(c->w, err_bad_data_chunk);
		kvd_item_put(c->w, it);
		client_error(c, "bad data chunk");
		return;
	}
	r = kvd_store_item(c->w, it, c->pend.mode, c->pend.cas, false, &stored);
	kvd_item_put(c->w, it);
	if (stored)
		kvd_item_put(c->w, stored);
	reply_result(c, r, c->pend.noreply);
}

/* ------------------------------------------------------------ the rest */

/* delete <key> [0] [noreply]: memcached still accepts a zero hold time. */
static void process_delete(struct kvd_conn *c, struct kvd_tok *t, unsigned ntok)
{
	bool noreply = false;

	if (ntok > 2) {
		bool zero = kvd_tok_eq(&t[2], "0");

		noreply = is_noreply(&t[ntok - 1]);
		if (!((ntok == 3 && (zero || noreply)) || (ntok == 4 && zero && noreply))) {
			client_error(c, "bad command line format.  Usage: delete <key> [noreply]");
			return;
		}
	}
	if (t[1].n > KVD_KEY_MAX) {
		bad_format(c);
		return;
	}
	reply_result(c, kvd_delete(c->w, t[1].p, t[1].n, 0), noreply);
}

/* incr/decr <key> <value> [noreply] */
static void process_arith(struct kvd_conn *c, struct kvd_tok *t, unsigned ntok, bool incr)
{
	struct kvd_arith a = {.incr = incr};
	bool noreply = ntok == 4 && is_noreply(&t[3]);
	enum kvd_result r;
	char num[24], *end;

	if (t[1].n > KVD_KEY_MAX) {
		bad_format(c);
		return;
	}
	if (!kvd_parse_u64(t[2].p, t[2].n, &a.delta)) {
		client_error(c, "invalid numeric delta argument");
		return;
	}
	r = kvd_arith(c->w, t[1].p, t[1].n, &a);
	if (r != KVD_STORED) {
		reply_result(c, r, noreply);
		return;
	}
	if (noreply)
		return;
	end = kvd_fmt_u64(num, a.value);
	*end++ = '\r';
	*end++ = '\n';
	kvd_out_bytes(c, num, (size_t)(end - num));
}

/* touch <key> <exptime> [noreply] */
static void process_touch(struct kvd_conn *c, struct kvd_tok *t, unsigned ntok)
{
	struct kvd_worker *w = c->w;
	bool noreply = ntok == 4 && is_noreply(&t[3]);
	struct kvd_lookup how = {.bump = true, .touch = true};
	struct kvd_item *it;
	int64_t exp;

	if (t[1].n > KVD_KEY_MAX) {
		bad_format(c);
		return;
	}
	if (!kvd_parse_i64(t[2].p, t[2].n, &exp)) {
		client_error(c, "invalid exptime argument");
		return;
	}
	how.new_exptime = kvd_exptime(w, exp);
	KVD_INC(w, cmd_touch);
	it = kvd_item_get(w, t[1].p, t[1].n, &how);
	if (!it) {
		KVD_INC(w, touch_misses);
		kvd_text_reply(c, "NOT_FOUND\r\n", noreply);
		return;
	}
	KVD_INC(w, touch_hits);
	kvd_item_put(w, it);
	kvd_text_reply(c, "TOUCHED\r\n", noreply);
}

/* flush_all [delay] [noreply] */
static void process_flush(struct kvd_conn *c, struct kvd_tok *t, unsigned ntok)
{
	bool noreply = ntok > 1 && is_noreply(&t[ntok - 1]);
	unsigned nargs = ntok - 1 - noreply;
	int64_t delay = 0;

	if (nargs > 1) {
		unknown_command(c);
		return;
	}
	if (nargs == 1 && !kvd_parse_i64(t[1].p, t[1].n, &delay)) {
		client_error(c, "invalid exptime argument");
		return;
	}
	kvd_flush_all(c->w, delay);
	kvd_text_reply(c, "OK\r\n", noreply);
}

static void process_verbosity(struct kvd_conn *c, struct kvd_tok *t, unsigned ntok)
{
	bool noreply = is_noreply(&t[ntok - 1]);
	uint64_t level;

	if (ntok > 3) {
		unknown_command(c);
		return;
	}
	if (ntok == 2 && noreply)
		return; /* memcached takes "verbosity noreply" silently */
	if (!kvd_parse_u64(t[1].p, t[1].n, &level)) {
		bad_format(c);
		return;
	}
	atomic_store_explicit(&c->w->s->verbosity, (unsigned)(level > 10 ? 10 : level),
			      memory_order_relaxed);
	kvd_text_reply(c, "OK\r\n", noreply);
}

static void stat_line(struct kvd_conn *c, const char *name, size_t nname, const char *val,
		      size_t nval)
{
	kvd_out_bytes(c, "STAT ", 5);
	kvd_out_bytes(c, name, nname);
	kvd_out_bytes(c, " ", 1);
	kvd_out_bytes(c, val, nval);
	kvd_out_bytes(c, "\r\n", 2);
}

static void process_stats(struct kvd_conn *c, struct kvd_tok *t, unsigned ntok)
{
	if (ntok == 2 && kvd_tok_eq(&t[1], "reset")) {
		kvd_stats_reset(c->w->s);
		kvd_out_str(c, "RESET\r\n");
		return;
	}
	if (ntok > 2 ||
	    !kvd_stats_report(c, ntok == 2 ? t[1].p : "", ntok == 2 ? t[1].n : 0, stat_line)) {
		unknown_command(c);
		return;
	}
	kvd_out_str(c, "END\r\n");
}

void kvd_text_line(struct kvd_conn *c, const char *line, size_t len)
{
	struct kvd_tok t[KVD_MAX_TOKENS];
	bool more;
	unsigned ntok = tokenize(line, len, t, KVD_MAX_TOKENS, &more);
	const struct kvd_tok *cmd = &t[0];

	if (ntok == 0) {
		unknown_command(c);
		return;
	}
	if (kvd_tok_eq(cmd, "get") || kvd_tok_eq(cmd, "gets")) {
		if (ntok < 2)
			unknown_command(c);
		else
			process_get(c, line, len, cmd->n == 4, false);
	} else if (kvd_tok_eq(cmd, "gat") || kvd_tok_eq(cmd, "gats")) {
		if (ntok < 2)
			unknown_command(c);
		else
			process_get(c, line, len, cmd->n == 4, true);
	} else if (cmd->n == 2 && cmd->p[0] == 'm') {
		kvd_meta_command(c, t, ntok, more);
	} else if (more) {
		unknown_command(c);
	} else if (kvd_tok_eq(cmd, "set")) {
		process_update(c, t, ntok, KVD_SET);
	} else if (kvd_tok_eq(cmd, "add")) {
		process_update(c, t, ntok, KVD_ADD);
	} else if (kvd_tok_eq(cmd, "replace")) {
		process_update(c, t, ntok, KVD_REPLACE);
	} else if (kvd_tok_eq(cmd, "append")) {
		process_update(c, t, ntok, KVD_APPEND);
	} else if (kvd_tok_eq(cmd, "prepend")) {
		process_update(c, t, ntok, KVD_PREPEND);
	} else if (kvd_tok_eq(cmd, "cas")) {
		process_update(c, t, ntok, KVD_CAS);
	} else if (kvd_tok_eq(cmd, "delete") && ntok >= 2 && ntok <= 4) {
		process_delete(c, t, ntok);
	} else if ((kvd_tok_eq(cmd, "incr") || kvd_tok_eq(cmd, "decr")) &&
		   (ntok == 3 || ntok == 4)) {
		process_arith(c, t, ntok, cmd->p[0] == 'i');
	} else if (kvd_tok_eq(cmd, "touch") && (ntok == 3 || ntok == 4)) {
		process_touch(c, t, ntok);
	} else if (kvd_tok_eq(cmd, "stats")) {
		process_stats(c, t, ntok);
	} else if (kvd_tok_eq(cmd, "flush_all")) {
		process_flush(c, t, ntok);
	} else if (kvd_tok_eq(cmd, "version")) {
		kvd_out_str(c, "VERSION " KVD_VERSION "\r\n");
	} else if (kvd_tok_eq(cmd, "verbosity") && ntok >= 2) {
		process_verbosity(c, t, ntok);
	} else if (kvd_tok_eq(cmd, "quit")) {
		kvd_conn_fatal(c);
	} else {
		unknown_command(c);
	}
}
