/* kvd meta commands: mg, ms, md, ma, mn, me (memcached 1.6 protocol.txt "Meta Commands"). */
#include "kvd_impl.h"

/*
 * A meta command is "<cm> <key> [<datalen>] <flag>*": each flag one
 * character, perhaps followed by a token. Return flags come back in the
 * order they were asked for. The error words are memcached 1.6's.
 */

struct meta {
	struct kvd_tok flag[KVD_MAX_TOKENS]; /* in request order */
	unsigned nflag;
	struct kvd_tok arg[128]; /* token of each flag seen (p == NULL: not given) */
	char key[KVD_KEY_MAX + 1];
	size_t nkey;
	bool base64;
};

static bool has(const struct meta *m, char f)
{
	return m->arg[(unsigned char)f].p != NULL;
}

static void meta_error(struct kvd_conn *c, const char *why)
{
	KVD_INC(c->w, err_bad_format);
	kvd_out_str(c, "CLIENT_ERROR ");
	kvd_out_str(c, why);
	kvd_out_str(c, "\r\n");
}

/* ------------------------------------------------------------ base64 (RFC 4648 §4) */

static int b64_val(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/* Decode a padded base64 token into out (cap bytes); -1 if malformed or too long. */
static long b64_decode(const char *p, size_t n, char *out, size_t cap)
{
	size_t len = 0;

	if (n == 0 || n % 4)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int v[4], pad = 0;

		for (int k = 0; k < 4; k++) {
			if (p[i + k] == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad || (v[k] = b64_val(p[i + k])) < 0)
				return -1;
		}
		uint32_t bits = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
				(uint32_t)v[3];
		if (len + 3 - (size_t)pad > cap)
			return -1;
		out[len++] = (char)(bits >> 16);
		if (pad < 2)
			out[len++] = (char)(bits >> 8);
		if (pad < 1)
			out[len++] = (char)bits;
	}
	return (long)len;
}

static char *b64_encode(char *out, const char *p, size_t n)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < n; i += 3) {
		uint32_t b = (uint32_t)(uint8_t)p[i] << 16;

		if (i + 1 < n)
			b |= (uint32_t)(uint8_t)p[i + 1] << 8;
		if (i + 2 < n)
			b |= (uint8_t)p[i + 2];
		*out++ = abc[b >> 18 & 63];
		*out++ = abc[b >> 12 & 63];
		*out++ = i + 1 < n ? abc[b >> 6 & 63] : '=';
		*out++ = i + 2 < n ? abc[b & 63] : '=';
	}
	return out;
}

/* ------------------------------------------------------------ parsing */

/*
 * Read the flags t[0..n) allowed by `allowed`; the key from keytok.
 * Returns NULL or the error to answer.
 */
static const char *parse(struct meta *m, const struct kvd_tok *keytok, const struct kvd_tok *t,
			 unsigned n, const char *allowed, const char *bad_flag, const char *dup)
{
	memset(m->arg, 0, sizeof(m->arg));
	m->nflag = 0;
	for (unsigned i = 0; i < n; i++) {
		unsigned char f = (unsigned char)t[i].p[0];

		if (f >= 128 || !strchr(allowed, f))
			return bad_flag;
		if (m->arg[f].p)
			return dup;
		m->arg[f].p = t[i].p + 1;
		m->arg[f].n = t[i].n - 1;
		m->flag[m->nflag++] = t[i];
	}
	if (has(m, 'O') && m->arg['O'].n > 32)
		return "opaque token too long";
	m->base64 = has(m, 'b');
	if (keytok->n > (m->base64 ? 4 * ((KVD_KEY_MAX + 2) / 3) : KVD_KEY_MAX))
		return "bad command line format";
	if (m->base64) {
		long len = b64_decode(keytok->p, keytok->n, m->key, KVD_KEY_MAX);

		if (len <= 0)
			return "error decoding key";
		m->nkey = (size_t)len;
	} else {
		memcpy(m->key, keytok->p, keytok->n);
		m->nkey = keytok->n;
	}
	return NULL;
}

static bool arg_i64(const struct meta *m, char f, int64_t *v)
{
	const struct kvd_tok *a = &m->arg[(unsigned char)f];

	return kvd_parse_i64(a->p, a->n, v);
}

static bool arg_u64(const struct meta *m, char f, uint64_t *v)
{
	const struct kvd_tok *a = &m->arg[(unsigned char)f];

	return kvd_parse_u64(a->p, a->n, v);
}

/* ------------------------------------------------------------ replies */

/* " k<key>" (base64 again with " b" when the key came so). */
static char *put_key(char *p, const char *key, size_t nkey, bool base64)
{
	*p++ = ' ';
	*p++ = 'k';
	if (base64) {
		p = b64_encode(p, key, nkey);
		memcpy(p, " b", 2);
		return p + 2;
	}
	memcpy(p, key, nkey);
	return p + nkey;
}

static char *put_opaque(char *p, const char *o, size_t n)
{
	*p++ = ' ';
	*p++ = 'O';
	memcpy(p, o, n);
	return p + n;
}

static char *put_num(char *p, char f, int64_t v)
{
	*p++ = ' ';
	*p++ = f;
	return kvd_fmt_i64(p, v);
}

static char *put_flag(char *p, char f)
{
	*p++ = ' ';
	*p++ = f;
	return p;
}

static char *put_code(char *p, const char *code)
{
	memcpy(p, code, 2);
	return p + 2;
}

static void finish_line(struct kvd_conn *c, char *start, char *p)
{
	*p++ = '\r';
	*p++ = '\n';
	kvd_out_commit(c, (size_t)(p - start));
}

/* The k and O flags (all a miss or a simple status returns). */
static char *put_kO(char *p, const struct meta *m)
{
	for (unsigned i = 0; i < m->nflag; i++) {
		if (m->flag[i].p[0] == 'k')
			p = put_key(p, m->key, m->nkey, m->base64);
		else if (m->flag[i].p[0] == 'O')
			p = put_opaque(p, m->arg['O'].p, m->arg['O'].n);
	}
	return p;
}

/* ------------------------------------------------------------ mg */

static void meta_get(struct kvd_conn *c, struct meta *m)
{
	struct kvd_worker *w = c->w;
	struct kvd_lookup how = {.bump = !has(m, 'u')};
	struct kvd_item *it;
	int64_t ttl = 0, recache = 0, vivify = 0;
	bool won = false, lost = false, stale;
	char *start, *p;

	if ((has(m, 'T') && !arg_i64(m, 'T', &ttl)) ||
	    (has(m, 'R') && !arg_i64(m, 'R', &recache)) ||
	    (has(m, 'N') && !arg_i64(m, 'N', &vivify))) {
		meta_error(c, "bad token in command line format");
		return;
	}
	if (has(m, 'T')) {
		how.touch = true;
		how.new_exptime = kvd_exptime(w, ttl);
		KVD_INC(w, cmd_touch);
	}
	KVD_INC(w, cmd_get);
	it = kvd_item_get(w, m->key, m->nkey, &how);
	if (!it && has(m, 'N')) {
		/* Vivify: an empty item that tells exactly one client to recache. */
		struct kvd_item *fresh, *stored;
		enum kvd_result why;

		fresh = kvd_item_alloc(w, m->key, m->nkey, 0, kvd_exptime(w, vivify), 2, &why);
		if (fresh) {
			kvd_item_write(fresh, 0, "\r\n", 2);
			atomic_fetch_or_explicit(&fresh->bits, KVD_IT_WON, memory_order_relaxed);
			if (kvd_store_item(w, fresh, KVD_ADD, 0, false, &stored) == KVD_STORED) {
				it = stored;
				won = true;
				how.prev_atime = w->now_s;
			}
			kvd_item_put(w, fresh);
		}
		if (!it)
			it = kvd_item_get(w, m->key, m->nkey, &how);
	}
	if (!it) {
		KVD_INC(w, get_misses);
		if (has(m, 'T'))
			KVD_INC(w, touch_misses);
		if (has(m, 'q'))
			return;
		start = p = (char *)kvd_out_reserve(c, KVD_RESERVE_MAX);
		p = put_code(p, "EN");
		finish_line(c, start, put_kO(p, m));
		return;
	}
	KVD_INC(w, get_hits);
	if (has(m, 'T'))
		KVD_INC(w, touch_hits);
	stale = atomic_load_explicit(&it->bits, memory_order_relaxed) & KVD_IT_STALE;
	if (!won) {
		int64_t left = kvd_ttl_left(w, it);
		bool wants = stale || (has(m, 'R') && left != -1 && left < recache);

		if (wants)
			won = !(
			    atomic_fetch_or_explicit(&it->bits, KVD_IT_WON, memory_order_relaxed) &
			    KVD_IT_WON);
		lost = !won && (atomic_load_explicit(&it->bits, memory_order_relaxed) & KVD_IT_WON);
	}
	start = p = (char *)kvd_out_reserve(c, KVD_RESERVE_MAX);
	if (has(m, 'v')) {
		p = put_code(p, "VA");
		*p++ = ' ';
		p = kvd_fmt_u64(p, it->nbytes - 2);
	} else {
		p = put_code(p, "HD");
	}
	for (unsigned i = 0; i < m->nflag; i++) {
		switch (m->flag[i].p[0]) {
		case 'c':
			p = put_num(p, 'c', (int64_t)it->cas);
			break;
		case 'f':
			p = put_num(p, 'f', it->flags);
			break;
		case 'h':
			p = put_num(p, 'h', how.prev_fetched);
			break;
		case 'k':
			p = put_key(p, m->key, m->nkey, m->base64);
			break;
		case 'l':
			p = put_num(p, 'l',
				    w->now_s > how.prev_atime ? w->now_s - how.prev_atime : 0);
			break;
		case 'O':
			p = put_opaque(p, m->arg['O'].p, m->arg['O'].n);
			break;
		case 's':
			p = put_num(p, 's', it->nbytes - 2);
			break;
		case 't':
			p = put_num(p, 't', kvd_ttl_left(w, it));
			break;
		}
	}
	/* memcached's order: Z, then X, then W */
	if (lost)
		p = put_flag(p, 'Z');
	if (stale)
		p = put_flag(p, 'X');
	if (won)
		p = put_flag(p, 'W');
	finish_line(c, start, p);
	if (has(m, 'v'))
		kvd_out_value(c, it, true);
	else
		kvd_item_put(w, it);
}

/* ------------------------------------------------------------ ms */

static const char *ms_mode(const struct meta *m, enum kvd_store_mode *mode)
{
	*mode = KVD_SET;
	if (!has(m, 'M'))
		return NULL;
	if (m->arg['M'].n < 1)
		return "invalid mode for ms M token";
	switch (m->arg['M'].p[0]) {
	case 'E':
	case 'e':
		*mode = KVD_ADD;
		return NULL;
	case 'A':
	case 'a':
		*mode = KVD_APPEND;
		return NULL;
	case 'P':
	case 'p':
		*mode = KVD_PREPEND;
		return NULL;
	case 'R':
	case 'r':
		*mode = KVD_REPLACE;
		return NULL;
	case 'S':
	case 's':
		return NULL;
	}
	return "invalid mode for ms M token";
}

static void meta_set(struct kvd_conn *c, struct meta *m, struct kvd_tok *t, unsigned ntok)
{
	struct kvd_worker *w = c->w;
	struct kvd_pending *pd = &c->pend;
	int64_t vlen, ttl = 0;
	uint64_t cas = 0, flags = 0;
	enum kvd_store_mode mode;
	enum kvd_result why;
	const char *err;
	struct kvd_item *it;

	if (ntok < 3 || !kvd_parse_i64(t[2].p, t[2].n, &vlen) || vlen < 0 || vlen > INT32_MAX - 2) {
		meta_error(c, "bad command line format");
		return;
	}
	err = parse(m, &t[1], t + 3, ntok - 3, "bcCFIkOqTMPL", "invalid flag", "duplicate flag");
	if (!err &&
	    ((has(m, 'T') && !arg_i64(m, 'T', &ttl)) || (has(m, 'C') && !arg_u64(m, 'C', &cas))))
		err = "bad token in command line format";
	if (!err && has(m, 'F') && (!arg_u64(m, 'F', &flags) || flags > UINT32_MAX))
		err = "bad command line format";
	if (!err)
		err = ms_mode(m, &mode);
	if (err) {
		meta_error(c, err);
		kvd_conn_swallow(c, (uint64_t)vlen + 2);
		return;
	}
	memset(pd, 0, sizeof(*pd));
	pd->meta = true;
	pd->mode = mode;
	pd->cas = cas;
	pd->stale_ok = has(m, 'I');
	pd->quiet = has(m, 'q');
	pd->base64 = m->base64;
	for (unsigned i = 0; i < m->nflag; i++) {
		char f = m->flag[i].p[0];

		if (f == 'c' || f == 'k' || f == 'O')
			pd->order[pd->norder++] = f;
	}
	if (has(m, 'O')) {
		memcpy(pd->opaque_tok, m->arg['O'].p, m->arg['O'].n);
		pd->nopaque = (uint8_t)m->arg['O'].n;
	}
	it = kvd_item_alloc(w, m->key, m->nkey, (uint32_t)flags, kvd_exptime(w, ttl),
			    (uint32_t)vlen + 2, &why);
	if (!it) {
		KVD_INC(w, cmd_set);
		if (why == KVD_TOO_LARGE) {
			KVD_INC(w, store_too_large);
			kvd_out_str(c, "SERVER_ERROR object too large for cache\r\n");
		} else {
			KVD_INC(w, store_no_memory);
			kvd_out_str(c, "SERVER_ERROR out of memory storing object\r\n");
		}
		kvd_conn_swallow(c, (uint64_t)vlen + 2);
		if (mode == KVD_SET) /* as a failed set: the old value goes */
			kvd_delete(w, m->key, m->nkey, 0);
		return;
	}
	kvd_conn_expect_value(c, it, (uint32_t)vlen + 2);
}

void kvd_meta_value_done(struct kvd_conn *c, struct kvd_item *it, bool good)
{
	struct kvd_pending *pd = &c->pend;
	struct kvd_item *stored;
	enum kvd_result r;
	const char *code;
	char *start, *p;

	if (!good) {
		KVD_INC(c->w, err_bad_data_chunk);
		kvd_item_put(c->w, it);
		meta_error(c, "bad data chunk");
		return;
	}
	r = kvd_store_item(c->w, it, pd->mode, pd->cas, pd->stale_ok, &stored);
	switch (r) {
	case KVD_STORED:
		code = "HD";
		break;
	case KVD_NOT_STORED:
		code = "NS";
		break;
	case KVD_EXISTS:
		code = "EX";
		break;
	case KVD_NOT_FOUND:
		code = "NF";
		break;
	case KVD_TOO_LARGE:
		kvd_item_put(c->w, it);
		kvd_out_str(c, "SERVER_ERROR object too large for cache\r\n");
		return;
	default:
		kvd_item_put(c->w, it);
		kvd_out_str(c, "SERVER_ERROR out of memory storing object\r\n");
		return;
	}
	if (!(r == KVD_STORED && pd->quiet)) {
		start = p = (char *)kvd_out_reserve(c, KVD_RESERVE_MAX);
		p = put_code(p, code);
		for (unsigned i = 0; i < pd->norder; i++) {
			if (pd->order[i] == 'c')
				p = put_num(p, 'c', stored ? (int64_t)stored->cas : 0);
			else if (pd->order[i] == 'k')
				p = put_key(p, it->data, it->nkey, pd->base64);
			else
				p = put_opaque(p, pd->opaque_tok, pd->nopaque);
		}
		finish_line(c, start, p);
	}
	if (stored)
		kvd_item_put(c->w, stored);
	kvd_item_put(c->w, it);
}

/* ------------------------------------------------------------ md, ma, me */

static void status_line(struct kvd_conn *c, const struct meta *m, const char *code)
{
	char *start = (char *)kvd_out_reserve(c, KVD_RESERVE_MAX), *p = start;

	p = put_code(p, code);
	finish_line(c, start, put_kO(p, m));
}

static void meta_delete(struct kvd_conn *c, struct meta *m)
{
	uint64_t cas = 0;
	int64_t ttl = 0;
	enum kvd_result r;

	if ((has(m, 'C') && !arg_u64(m, 'C', &cas)) || (has(m, 'T') && !arg_i64(m, 'T', &ttl))) {
		meta_error(c, "invalid or duplicate flag");
		return;
	}
	if (has(m, 'I'))
		r = kvd_invalidate(c->w, m->key, m->nkey, cas, has(m, 'T'), kvd_exptime(c->w, ttl));
	else
		r = kvd_delete(c->w, m->key, m->nkey, cas);
	if (r == KVD_DELETED && has(m, 'q'))
		return;
	status_line(c, m, r == KVD_DELETED ? "HD" : r == KVD_EXISTS ? "EX" : "NF");
}

static void meta_arith(struct kvd_conn *c, struct meta *m)
{
	struct kvd_worker *w = c->w;
	struct kvd_arith a = {.incr = true, .delta = 1};
	int64_t n_ttl = 0, t_ttl = 0;
	enum kvd_result r;
	char *start, *p, num[24];
	size_t nlen;

	if ((has(m, 'C') && !arg_u64(m, 'C', &a.cas)) ||
	    (has(m, 'D') && !arg_u64(m, 'D', &a.delta)) ||
	    (has(m, 'J') && !arg_u64(m, 'J', &a.initial)) ||
	    (has(m, 'N') && !arg_i64(m, 'N', &n_ttl)) ||
	    (has(m, 'T') && !arg_i64(m, 'T', &t_ttl))) {
		meta_error(c, "invalid or duplicate flag");
		return;
	}
	if (has(m, 'M')) {
		char mode = m->arg['M'].n ? m->arg['M'].p[0] : 0;

		if (mode == 'D' || mode == 'd' || mode == '-')
			a.incr = false;
		else if (!(mode == 'I' || mode == 'i' || mode == '+')) {
			meta_error(c, "invalid mode for ma M token");
			return;
		}
	}
	a.create = has(m, 'N');
	a.exptime = kvd_exptime(w, n_ttl);
	a.set_exp = has(m, 'T');
	a.new_exptime = kvd_exptime(w, t_ttl);
	r = kvd_arith(w, m->key, m->nkey, &a);
	switch (r) {
	case KVD_STORED:
		break;
	case KVD_NON_NUMERIC:
		meta_error(c, "cannot increment or decrement non-numeric value");
		return;
	case KVD_NOT_FOUND:
		status_line(c, m, "NF");
		return;
	case KVD_EXISTS:
		status_line(c, m, "EX");
		return;
	default:
		status_line(c, m, "NS");
		return;
	}
	if (has(m, 'q') && !has(m, 'v'))
		return;
	nlen = (size_t)(kvd_fmt_u64(num, a.value) - num);
	start = p = (char *)kvd_out_reserve(c, KVD_RESERVE_MAX);
	if (has(m, 'v')) {
		p = put_code(p, "VA");
		*p++ = ' ';
		p = kvd_fmt_u64(p, nlen);
	} else {
		p = put_code(p, "HD");
	}
	for (unsigned i = 0; i < m->nflag; i++) {
		switch (m->flag[i].p[0]) {
		case 't':
			p = put_num(p, 't', a.ttl);
			break;
		case 'c':
			p = put_num(p, 'c', (int64_t)a.new_cas);
			break;
		case 'k':
			p = put_key(p, m->key, m->nkey, m->base64);
			break;
		case 'O':
			p = put_opaque(p, m->arg['O'].p, m->arg['O'].n);
			break;
		}
	}
	finish_line(c, start, p);
	if (has(m, 'v')) {
		memcpy(num + nlen, "\r\n", 2);
		kvd_out_bytes(c, num, nlen + 2);
	}
}

static void meta_debug(struct kvd_conn *c, struct meta *m)
{
	struct kvd_worker *w = c->w;
	struct kvd_lookup how = {.bump = false};
	struct kvd_item *it = kvd_item_get(w, m->key, m->nkey, &how);
	char *start, *p;

	if (!it) {
		kvd_out_str(c, "EN\r\n");
		return;
	}
	start = p = (char *)kvd_out_reserve(c, KVD_RESERVE_MAX);
	memcpy(p, "ME ", 3);
	p += 3;
	if (m->base64) {
		p = b64_encode(p, m->key, m->nkey);
	} else {
		memcpy(p, m->key, m->nkey);
		p += m->nkey;
	}
	memcpy(p, " exp=", 5);
	p = kvd_fmt_i64(p + 5, kvd_ttl_left(w, it));
	memcpy(p, " la=", 4);
	p = kvd_fmt_u64(p + 4, w->now_s > it->atime ? w->now_s - it->atime : 0);
	memcpy(p, " cas=", 5);
	p = kvd_fmt_u64(p + 5, it->cas);
	memcpy(p, how.prev_fetched ? " fetch=yes" : " fetch=no", how.prev_fetched ? 10 : 9);
	p += how.prev_fetched ? 10 : 9;
	memcpy(p, " cls=", 5);
	p = kvd_fmt_u64(p + 5, it->lru + 1u);
	memcpy(p, " size=", 6);
	p = kvd_fmt_u64(p + 6, it->nkey + it->nbytes + sizeof(*it));
	finish_line(c, start, p);
	kvd_item_put(w, it);
}

/* ------------------------------------------------------------ dispatch */

void kvd_meta_command(struct kvd_conn *c, struct kvd_tok *t, unsigned ntok, bool more)
{
	struct meta m;
	const char *err;
	char cm = t[0].p[1];

	if (cm == 'n') {
		KVD_INC(c->w, cmd_meta);
		kvd_out_str(c, "MN\r\n");
		return;
	}
	if (!strchr("gsdae", cm)) {
		KVD_INC(c->w, err_unknown_command);
		kvd_out_str(c, "ERROR\r\n");
		return;
	}
	if (ntok < 2) {
		if (cm == 'g') {
			KVD_INC(c->w, err_unknown_command);
			kvd_out_str(c, "ERROR\r\n");
		} else {
			meta_error(c, "bad command line format");
		}
		return;
	}
	if (more) {
		meta_error(c, "options flags are too long");
		return;
	}
	KVD_INC(c->w, cmd_meta);
	switch (cm) {
	case 'g':
		err = parse(&m, &t[1], t + 2, ntok - 2, "bcfhklOqstuvNRTPL", "invalid flag",
			    "duplicate flag");
		if (err)
			meta_error(c, err);
		else
			meta_get(c, &m);
		return;
	case 's':
		meta_set(c, &m, t, ntok);
		return;
	case 'd':
		err = parse(&m, &t[1], t + 2, ntok - 2, "bCIkOqTPL", "invalid or duplicate flag",
			    "invalid or duplicate flag");
		if (err)
			meta_error(c, err);
		else
			meta_delete(c, &m);
		return;
	case 'a':
		err = parse(&m, &t[1], t + 2, ntok - 2, "bCNJDTMqtcvkOPL",
			    "invalid or duplicate flag", "invalid or duplicate flag");
		if (err)
			meta_error(c, err);
		else
			meta_arith(c, &m);
		return;
	default:
		err = parse(&m, &t[1], t + 2, ntok - 2, "b", "invalid flag", "duplicate flag");
		if (err)
			meta_error(c, err);
		else
			meta_debug(c, &m);
		return;
	}
}
