/* kvd binary protocol: memcached's 24-byte-header requests, quiet variants included. */
#include "kvd_impl.h"

/*
 * Request and response header (memcached "Binary Protocol Revamped",
 * "Packet Structure"): magic, opcode, key length (2), extras length,
 * data type, vbucket id / status (2), total body length (4), opaque (4),
 * CAS (8), all big-endian; then extras, key and value. Values stream
 * straight into the item; header, extras and key arrive whole first.
 */
enum {
	OP_GET = 0x00,
	OP_SET = 0x01,
	OP_ADD = 0x02,
	OP_REPLACE = 0x03,
	OP_DELETE = 0x04,
	OP_INCREMENT = 0x05,
	OP_DECREMENT = 0x06,
	OP_QUIT = 0x07,
	OP_FLUSH = 0x08,
	OP_GETQ = 0x09,
	OP_NOOP = 0x0a,
	OP_VERSION = 0x0b,
	OP_GETK = 0x0c,
	OP_GETKQ = 0x0d,
	OP_APPEND = 0x0e,
	OP_PREPEND = 0x0f,
	OP_STAT = 0x10,
	OP_SETQ = 0x11,
	OP_ADDQ = 0x12,
	OP_REPLACEQ = 0x13,
	OP_DELETEQ = 0x14,
	OP_INCREMENTQ = 0x15,
	OP_DECREMENTQ = 0x16,
	OP_QUITQ = 0x17,
	OP_FLUSHQ = 0x18,
	OP_APPENDQ = 0x19,
	OP_PREPENDQ = 0x1a,
	OP_VERBOSITY = 0x1b,
	OP_TOUCH = 0x1c,
	OP_GAT = 0x1d,
	OP_GATQ = 0x1e,
	OP_GATK = 0x23,
	OP_GATKQ = 0x24,
};

enum {
	ST_OK = 0x0000,
	ST_KEY_ENOENT = 0x0001,
	ST_KEY_EEXISTS = 0x0002,
	ST_E2BIG = 0x0003,
	ST_EINVAL = 0x0004,
	ST_NOT_STORED = 0x0005,
	ST_DELTA_BADVAL = 0x0006,
	ST_UNKNOWN_COMMAND = 0x0081,
	ST_ENOMEM = 0x0082,
};

struct req {
	uint8_t opcode;
	uint16_t keylen;
	uint8_t extlen;
	uint32_t bodylen;
	uint32_t opaque;
	uint64_t cas;
	const uint8_t *ext;
	const char *key;
	uint32_t vlen;
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
	return p + 4;
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
	return p + 8;
}

static void parse_header(struct req *r, const uint8_t *h)
{
	r->opcode = h[1];
	r->keylen = be16(h + 2);
	r->extlen = h[4];
	r->bodylen = be32(h + 8);
	r->opaque = be32(h + 12);
	r->cas = be64(h + 16);
	r->ext = h + KVD_BIN_HDR;
	r->key = (const char *)r->ext + r->extlen;
	r->vlen = r->bodylen - r->extlen - r->keylen;
}

/* A response header; the body (extlen + keylen + vlen bytes) follows. */
static void response(struct kvd_conn *c, const struct req *r, uint16_t status, uint8_t extlen,
		     uint16_t keylen, uint32_t vlen, uint64_t cas)
{
	uint8_t *h = kvd_out_reserve(c, KVD_BIN_HDR), *p = h;

	*p++ = KVD_BIN_RES_MAGIC;
	*p++ = r->opcode;
	p = put16(p, keylen);
	*p++ = extlen;
	*p++ = 0;
	p = put16(p, status);
	p = put32(p, extlen + keylen + vlen);
	p = put32(p, r->opaque);
	put64(p, cas);
	kvd_out_commit(c, KVD_BIN_HDR);
}

static void status_only(struct kvd_conn *c, const struct req *r, uint16_t status, uint64_t cas)
{
	response(c, r, status, 0, 0, 0, cas);
}

static const char *status_text(uint16_t status)
{
	switch (status) {
	case ST_KEY_ENOENT:
		return "Not found";
	case ST_KEY_EEXISTS:
		return "Data exists for key.";
	case ST_E2BIG:
		return "Too large.";
	case ST_EINVAL:
		return "Invalid arguments";
	case ST_NOT_STORED:
		return "Not stored.";
	case ST_DELTA_BADVAL:
		return "Non-numeric server-side value for incr or decr";
	case ST_ENOMEM:
		return "Out of memory";
	default:
		return "Unknown command";
	}
}

static void error(struct kvd_conn *c, const struct req *r, uint16_t status)
{
	const char *msg = status_text(status);
	size_t n = strlen(msg);

	response(c, r, status, 0, 0, (uint32_t)n, 0);
	kvd_out_bytes(c, msg, n);
}

/* A malformed request: answer it and hang up, as memcached does. */
static void invalid(struct kvd_conn *c, const struct req *r)
{
	KVD_INC(c->w, err_binary_invalid);
	error(c, r, ST_EINVAL);
	kvd_conn_fatal(c);
}

size_t kvd_bin_fixed_len(struct kvd_conn *c, const uint8_t *hdr)
{
	struct req r;

	if (hdr[0] != KVD_BIN_REQ_MAGIC) {
		KVD_INC(c->w, err_binary_magic);
		kvd_conn_fatal(c);
		return 0;
	}
	parse_header(&r, hdr);
	if (r.keylen > KVD_KEY_MAX || (uint64_t)r.extlen + r.keylen > r.bodylen) {
		invalid(c, &r);
		return 0;
	}
	return KVD_BIN_HDR + r.extlen + r.keylen;
}

/* ------------------------------------------------------------ commands */

static bool quiet(uint8_t op)
{
	switch (op) {
	case OP_GETQ:
	case OP_GETKQ:
	case OP_SETQ:
	case OP_ADDQ:
	case OP_REPLACEQ:
	case OP_DELETEQ:
	case OP_INCREMENTQ:
	case OP_DECREMENTQ:
	case OP_QUITQ:
	case OP_FLUSHQ:
	case OP_APPENDQ:
	case OP_PREPENDQ:
	case OP_GATQ:
	case OP_GATKQ:
		return true;
	}
	return false;
}

static void get(struct kvd_conn *c, const struct req *r)
{
	struct kvd_worker *w = c->w;
	bool touch = r->opcode == OP_TOUCH || r->opcode == OP_GAT || r->opcode == OP_GATQ ||
		     r->opcode == OP_GATK || r->opcode == OP_GATKQ;
	bool with_key = r->opcode == OP_GETK || r->opcode == OP_GETKQ || r->opcode == OP_GATK ||
			r->opcode == OP_GATKQ;
	struct kvd_lookup how = {.bump = true};
	struct kvd_item *it;
	uint8_t *p;

	if (touch) {
		how.touch = true;
		how.new_exptime = kvd_exptime(w, (int64_t)be32(r->ext));
		KVD_INC(w, cmd_touch);
	}
	if (r->opcode != OP_TOUCH)
		KVD_INC(w, cmd_get);
	it = kvd_item_get(w, r->key, r->keylen, &how);
	if (!it) {
		if (touch)
			KVD_INC(w, touch_misses);
		if (r->opcode != OP_TOUCH)
			KVD_INC(w, get_misses);
		if (quiet(r->opcode))
			return;
		if (with_key) { /* memcached answers a GETK miss with the key */
			response(c, r, ST_KEY_ENOENT, 0, r->keylen, 0, 0);
			kvd_out_bytes(c, r->key, r->keylen);
		} else {
			error(c, r, ST_KEY_ENOENT);
		}
		return;
	}
	if (touch)
		KVD_INC(w, touch_hits);
	if (r->opcode != OP_TOUCH)
		KVD_INC(w, get_hits);
	uint32_t vlen = r->opcode == OP_TOUCH ? 0 : it->nbytes - 2;
	uint16_t klen = with_key ? r->keylen : 0;
	response(c, r, ST_OK, 4, klen, vlen, it->cas);
	p = kvd_out_reserve(c, 4);
	put32(p, it->flags);
	kvd_out_commit(c, 4);
	kvd_out_bytes(c, r->key, klen);
	if (vlen)
		kvd_out_value(c, it, false);
	else
		kvd_item_put(w, it);
}

static void update(struct kvd_conn *c, const struct req *r, enum kvd_store_mode mode)
{
	struct kvd_worker *w = c->w;
	uint32_t flags = 0, exptime = 0;
	struct kvd_item *it;
	enum kvd_result why;

	if (r->extlen == 8) {
		flags = be32(r->ext);
		exptime = kvd_exptime(w, (int64_t)be32(r->ext + 4));
	}
	memset(&c->pend, 0, sizeof(c->pend));
	c->pend.binary = true;
	c->pend.mode = mode;
	c->pend.cas = r->cas;
	c->pend.opcode = r->opcode;
	c->pend.opaque = r->opaque;
	if ((uint64_t)r->vlen + 2 > UINT32_MAX - KVD_CHUNK_SIZE) {
		it = NULL;
		why = KVD_TOO_LARGE;
	} else {
		it = kvd_item_alloc(w, r->key, r->keylen, flags, exptime, r->vlen + 2, &why);
	}
	if (!it) {
		KVD_INC(w, cmd_set);
		if (why == KVD_TOO_LARGE) {
			KVD_INC(w, store_too_large);
			error(c, r, ST_E2BIG);
		} else {
			KVD_INC(w, store_no_memory);
			error(c, r, ST_ENOMEM);
		}
		kvd_conn_swallow(c, r->vlen);
		if (mode == KVD_SET) /* as a failed text set: the old value goes */
			kvd_delete(w, r->key, r->keylen, 0);
		return;
	}
	kvd_conn_expect_value(c, it, r->vlen);
}

void kvd_bin_value_done(struct kvd_conn *c, struct kvd_item *it)
{
	struct kvd_pending *pd = &c->pend;
	struct req r = {.opcode = pd->opcode, .opaque = pd->opaque};
	struct kvd_item *stored;
	enum kvd_result res = kvd_store_item(c->w, it, pd->mode, pd->cas, false, &stored);
	uint16_t st;

	kvd_item_put(c->w, it);
	switch (res) {
	case KVD_STORED:
		if (!quiet(r.opcode))
			status_only(c, &r, ST_OK, stored->cas);
		kvd_item_put(c->w, stored);
		return;
	case KVD_NOT_STORED:
		/* memcached: a failed add is EEXISTS, a failed replace ENOENT */
		st = pd->mode == KVD_ADD       ? ST_KEY_EEXISTS
		     : pd->mode == KVD_REPLACE ? ST_KEY_ENOENT
					       : ST_NOT_STORED;
		break;
	case KVD_EXISTS:
		st = ST_KEY_EEXISTS;
		break;
	case KVD_NOT_FOUND:
		st = ST_KEY_ENOENT;
		break;
	case KVD_TOO_LARGE:
		st = ST_E2BIG;
		break;
	default:
		st = ST_ENOMEM;
		break;
	}
	error(c, &r, st);
}

static void delete (struct kvd_conn *c, const struct req *r)
{
	enum kvd_result res = kvd_delete(c->w, r->key, r->keylen, r->cas);

	if (res == KVD_DELETED) {
		if (!quiet(r->opcode))
			status_only(c, r, ST_OK, 0);
		return;
	}
	error(c, r, res == KVD_EXISTS ? ST_KEY_EEXISTS : ST_KEY_ENOENT);
}

static void arith(struct kvd_conn *c, const struct req *r)
{
	struct kvd_arith a = {
	    .incr = r->opcode == OP_INCREMENT || r->opcode == OP_INCREMENTQ,
	    .delta = be64(r->ext),
	    .initial = be64(r->ext + 8),
	    .cas = r->cas,
	};
	uint32_t exp = be32(r->ext + 16);
	enum kvd_result res;
	uint8_t *p;

	/* an expiration of all ones means "fail rather than create" */
	a.create = exp != 0xffffffffu;
	a.exptime = kvd_exptime(c->w, (int64_t)exp);
	res = kvd_arith(c->w, r->key, r->keylen, &a);
	switch (res) {
	case KVD_STORED:
		if (quiet(r->opcode))
			return;
		response(c, r, ST_OK, 0, 0, 8, a.new_cas);
		p = kvd_out_reserve(c, 8);
		put64(p, a.value);
		kvd_out_commit(c, 8);
		return;
	case KVD_NOT_FOUND:
		error(c, r, ST_KEY_ENOENT);
		return;
	case KVD_EXISTS:
		error(c, r, ST_KEY_EEXISTS);
		return;
	case KVD_NON_NUMERIC:
		error(c, r, ST_DELTA_BADVAL);
		return;
	default:
		error(c, r, ST_ENOMEM);
		return;
	}
}

static void stat_packet(struct kvd_conn *c, const char *name, size_t nname, const char *val,
			size_t nval)
{
	struct req r = {.opcode = OP_STAT, .opaque = c->pend.opaque};

	response(c, &r, ST_OK, 0, (uint16_t)nname, (uint32_t)nval, 0);
	kvd_out_bytes(c, name, nname);
	kvd_out_bytes(c, val, nval);
}

static void stat(struct kvd_conn *c, const struct req *r)
{
	struct kvd_tok key = {r->key, r->keylen};

	c->pend.opaque = r->opaque;
	if (kvd_tok_eq(&key, "reset"))
		kvd_stats_reset(c->w->s);
	else if (!kvd_stats_report(c, r->key, r->keylen, stat_packet)) {
		error(c, r, ST_KEY_ENOENT);
		return;
	}
	status_only(c, r, ST_OK, 0); /* the empty packet that ends the list */
}

/* What each opcode must carry: extras length, key, value. */
static bool shape_ok(const struct req *r, int ext, int key, bool value)
{
	if (ext >= 0 && r->extlen != ext)
		return false;
	if (key > 0 && r->keylen == 0)
		return false;
	if (key == 0 && r->keylen != 0)
		return false;
	return value || r->vlen == 0;
}

void kvd_bin_request(struct kvd_conn *c, const uint8_t *pkt)
{
	struct req r;

	parse_header(&r, pkt);
	switch (r.opcode) {
	case OP_GET:
	case OP_GETQ:
	case OP_GETK:
	case OP_GETKQ:
		if (!shape_ok(&r, 0, 1, false))
			invalid(c, &r);
		else
			get(c, &r);
		return;
	case OP_TOUCH:
	case OP_GAT:
	case OP_GATQ:
	case OP_GATK:
	case OP_GATKQ:
		if (!shape_ok(&r, 4, 1, false))
			invalid(c, &r);
		else
			get(c, &r);
		return;
	case OP_SET:
	case OP_SETQ:
		if (!shape_ok(&r, 8, 1, true))
			invalid(c, &r);
		else
			update(c, &r, KVD_SET);
		return;
	case OP_ADD:
	case OP_ADDQ:
		if (!shape_ok(&r, 8, 1, true))
			invalid(c, &r);
		else
			update(c, &r, KVD_ADD);
		return;
	case OP_REPLACE:
	case OP_REPLACEQ:
		if (!shape_ok(&r, 8, 1, true))
			invalid(c, &r);
		else
			update(c, &r, KVD_REPLACE);
		return;
	case OP_APPEND:
	case OP_APPENDQ:
	case OP_PREPEND:
	case OP_PREPENDQ:
		if (!shape_ok(&r, 0, 1, true)) {
			invalid(c, &r);
			return;
		}
		update(c, &r,
		       r.opcode == OP_APPEND || r.opcode == OP_APPENDQ ? KVD_APPEND : KVD_PREPEND);
		return;
	case OP_DELETE:
	case OP_DELETEQ:
		if (!shape_ok(&r, 0, 1, false))
			invalid(c, &r);
		else
			delete (c, &r);
		return;
	case OP_INCREMENT:
	case OP_INCREMENTQ:
	case OP_DECREMENT:
	case OP_DECREMENTQ:
		if (!shape_ok(&r, 20, 1, false))
			invalid(c, &r);
		else
			arith(c, &r);
		return;
	case OP_QUIT:
	case OP_QUITQ:
		if (!shape_ok(&r, 0, 0, false)) {
			invalid(c, &r);
			return;
		}
		if (r.opcode == OP_QUIT)
			status_only(c, &r, ST_OK, 0);
		kvd_conn_fatal(c);
		return;
	case OP_FLUSH:
	case OP_FLUSHQ:
		if ((r.extlen != 0 && r.extlen != 4) || !shape_ok(&r, -1, 0, false)) {
			invalid(c, &r);
			return;
		}
		kvd_flush_all(c->w, r.extlen ? (int64_t)be32(r.ext) : 0);
		if (r.opcode == OP_FLUSH)
			status_only(c, &r, ST_OK, 0);
		return;
	case OP_NOOP:
		if (!shape_ok(&r, 0, 0, false)) {
			invalid(c, &r);
			return;
		}
		status_only(c, &r, ST_OK, 0);
		return;
	case OP_VERSION:
		if (!shape_ok(&r, 0, 0, false)) {
			invalid(c, &r);
			return;
		}
		response(c, &r, ST_OK, 0, 0, sizeof(KVD_VERSION) - 1, 0);
		kvd_out_str(c, KVD_VERSION);
		return;
	case OP_STAT:
		if (!shape_ok(&r, 0, -1, false))
			invalid(c, &r);
		else
			stat(c, &r);
		return;
	case OP_VERBOSITY:
		if (!shape_ok(&r, 4, 0, false)) {
			invalid(c, &r);
			return;
		}
		atomic_store_explicit(&c->w->s->verbosity, be32(r.ext) > 10 ? 10 : be32(r.ext),
				      memory_order_relaxed);
		status_only(c, &r, ST_OK, 0);
		return;
	default:
		KVD_INC(c->w, err_unknown_command);
		error(c, &r, ST_UNKNOWN_COMMAND);
		kvd_conn_swallow(c, r.vlen);
		return;
	}
}
