/* kvd internals shared by the store, the connection and the protocol files. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The same engine builds against Manticore's freestanding runtime and the host's libc. */
#if __STDC_HOSTED__
#include <stdlib.h>
#include <string.h>
#else
#include <mc/stdlib.h>
#include <mc/string.h>
#endif

#include "../kvd.h"

#ifndef ENOMEM
#define ENOMEM 12
#endif
#ifndef EINVAL
#define EINVAL 22
#endif

#define KVD_CACHELINE 64

/* ------------------------------------------------------------ spinlocks */

/* A test-and-test-and-set lock from C11 atomics: there is no pthread here. */
typedef struct {
	atomic_uint v;
} kvd_spin;

static inline void kvd_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static inline bool kvd_spin_trylock(kvd_spin *l)
{
	return atomic_exchange_explicit(&l->v, 1, memory_order_acquire) == 0;
}

static inline void kvd_spin_lock(kvd_spin *l)
{
	while (!kvd_spin_trylock(l))
		while (atomic_load_explicit(&l->v, memory_order_relaxed))
			kvd_cpu_relax();
}

static inline void kvd_spin_unlock(kvd_spin *l)
{
	atomic_store_explicit(&l->v, 0, memory_order_release);
}

/* ------------------------------------------------------------ statistics */

/*
 * Counters one worker owns (single writer: plain increments through
 * KVD_INC, relaxed atomic loads by whoever merges them for `stats`).
 * Gauges that move on several cores (items, bytes, connections) are kept
 * as per-worker deltas whose sum is the value.
 */
#define KVD_COUNTERS(X)                                                                            \
	X(cmd_get)                                                                                 \
	X(cmd_set)                                                                                 \
	X(cmd_flush)                                                                               \
	X(cmd_touch)                                                                               \
	X(cmd_meta)                                                                                \
	X(get_hits) X(get_misses) X(get_expired) X(get_flushed) X(delete_misses) X(delete_hits)    \
	    X(incr_misses) X(incr_hits) X(decr_misses) X(decr_hits) X(cas_misses) X(cas_hits)      \
		X(cas_badval) X(touch_hits) X(touch_misses) X(store_too_large) X(store_no_memory)  \
		    X(bytes_read) X(bytes_written) X(total_items) X(total_connections)             \
			X(evictions) X(reclaimed) X(expired_unfetched) X(evicted_unfetched)        \
			    X(evicted_active) X(evicted_nonzero) X(outofmemory)                    \
				X(err_unknown_command) X(err_bad_format) X(err_bad_data_chunk)     \
				    X(err_line_too_long) X(err_binary_invalid) X(err_binary_magic) \
					X(conn_backpressure)

#define KVD_GAUGES(X) X(curr_items) X(bytes) X(curr_connections)

struct kvd_counters {
#define KVD_FIELD(n) uint64_t n;
	KVD_COUNTERS(KVD_FIELD)
#undef KVD_FIELD
#define KVD_FIELD(n) int64_t n;
	KVD_GAUGES(KVD_FIELD)
#undef KVD_FIELD
	uint32_t evicted_time; /* seconds since last access of the latest eviction */
};

#define KVD_INC(w, f)	 __atomic_store_n(&(w)->st.f, (w)->st.f + 1, __ATOMIC_RELAXED)
#define KVD_ADD(w, f, n) __atomic_store_n(&(w)->st.f, (w)->st.f + (n), __ATOMIC_RELAXED)

/* ------------------------------------------------------------ items */

/*
 * One stored key. The value is kept with its "\r\n" (nbytes counts it) so
 * a text reply points at value and terminator in one piece. Values whose
 * item would not fit KVD_CHUNK_SIZE live in separate chunks of up to
 * KVD_CHUNK_SIZE bytes whose pointers follow the key, so no allocation is
 * ever bigger than a chunk and a 1 MiB value needs no 1 MiB hole.
 *
 * Fields other than refs and bits are written only with the key's stripe
 * lock held (or before the item is linked); prev/next only with its LRU
 * segment's lock.
 */
struct kvd_item {
	struct kvd_item *hnext;	      /* hash chain */
	struct kvd_item *prev, *next; /* LRU segment list */
	uint64_t cas;
	uint64_t stamp;	  /* the storing worker's clock (µs): flush_all */
	uint32_t exptime; /* engine seconds, 0: never */
	uint32_t atime;	  /* engine seconds of the last access */
	uint32_t flags;	  /* client flags */
	uint32_t nbytes;  /* value bytes + 2 */
	uint32_t hash;
	uint32_t nchunks; /* 0: value follows the key */
	uint32_t mem;	  /* arena bytes it takes, chunks included (the bytes statistic) */
	atomic_uint refs; /* one for the hash table while linked, one per user */
	atomic_uint bits; /* KVD_IT_* */
	uint8_t nkey;
	uint8_t lru;	/* LRU segment (the storing worker) */
	uint8_t linked; /* in the hash table and an LRU segment */
	uint8_t pad;
	char data[]
	    __attribute__((aligned(8))); /* key, padded to 8, then value or chunk pointers */
};

#define KVD_IT_ACTIVE  1u /* hit since it last passed the LRU tail (second chance) */
#define KVD_IT_FETCHED 2u /* ever read: mg h, expired_unfetched */
#define KVD_IT_STALE   4u /* md I: serve with X until restored */
#define KVD_IT_WON     8u /* a client got the W (recache) token */

#define KVD_CHUNK_SIZE (64u * 1024)

static inline size_t kvd_key_space(unsigned nkey)
{
	return (nkey + 7u) & ~7u;
}

static inline const char *kvd_item_key(const struct kvd_item *it)
{
	return it->data;
}

static inline uint8_t **kvd_item_chunks(const struct kvd_item *it)
{
	return (uint8_t **)(uintptr_t)(it->data + kvd_key_space(it->nkey));
}

/* The inline value (nchunks == 0 only). */
static inline uint8_t *kvd_item_value(const struct kvd_item *it)
{
	return (uint8_t *)(uintptr_t)(it->data + kvd_key_space(it->nkey));
}

static inline uint32_t kvd_chunk_len(const struct kvd_item *it, uint32_t i)
{
	uint32_t off = i * KVD_CHUNK_SIZE;

	return it->nbytes - off < KVD_CHUNK_SIZE ? it->nbytes - off : KVD_CHUNK_SIZE;
}

/* ------------------------------------------------------------ arena */

/*
 * Item memory: KVD_REGION_SIZE regions (up to maxbytes) carved by a
 * two-level segregated-fit allocator with boundary tags, so freed blocks
 * merge with their neighbours and eviction in LRU order reopens holes.
 */
#define KVD_ARENA_FL 24
#define KVD_ARENA_SL 16

struct kvd_arena {
	kvd_spin lock;
	void *(*region_alloc)(size_t len);
	size_t max_regions, regions;
	size_t used;	/* bytes in allocated blocks, headers included */
	uint64_t fails; /* regions the provider refused */
	uint32_t fl_map;
	uint16_t sl_map[KVD_ARENA_FL];
	void *free[KVD_ARENA_FL][KVD_ARENA_SL];
	void **region_list; /* for destroy */
};

int kvd_arena_init(struct kvd_arena *a, size_t maxbytes, void *(*region_alloc)(size_t));
void kvd_arena_fini(struct kvd_arena *a);
/*
 * At least n bytes, 8-byte aligned, or NULL (no hole and no region left);
 * *got (if not NULL) receives what the block really takes. Block headers
 * change when neighbours are freed, so nobody reads them but the arena,
 * under its lock.
 */
void *kvd_arena_alloc(struct kvd_arena *a, size_t n, size_t *got);
void kvd_arena_free(struct kvd_arena *a, void *p);
#define KVD_ARENA_MAX_ALLOC (KVD_REGION_SIZE / 2)

/* ------------------------------------------------------------ store */

#define KVD_STRIPES 1024 /* stripe locks over the hash buckets (2^n) */

struct kvd_lru {
	kvd_spin lock;
	struct kvd_item *head, *tail; /* head: newest */
	uint64_t count;
} __attribute__((aligned(KVD_CACHELINE)));

struct kvd_worker {
	struct kvd_store *s;
	unsigned id;
	uint64_t now_us;     /* monotonic µs since start */
	uint64_t last_stamp; /* strictly increasing per worker (flush_all ordering) */
	uint32_t now_s;	     /* engine seconds: uptime + KVD_TIME_BASE */
	uint64_t unix_now;
	uint64_t cas_seq;
	struct kvd_counters st;
} __attribute__((aligned(KVD_CACHELINE)));

/* Engine seconds start here so that 1 can mean "already expired". */
#define KVD_TIME_BASE 2u
/* exptimes above this are Unix times (protocol.txt "Expiration times") */
#define KVD_REALTIME_MAXDELTA (60u * 60 * 24 * 30)

struct kvd_store {
	struct kvd_config cfg;
	struct kvd_item **buckets;
	uint32_t hash_mask;
	unsigned hash_power;
	kvd_spin stripes[KVD_STRIPES];
	struct kvd_arena arena;
	struct kvd_lru lru[KVD_WORKERS_MAX];
	struct kvd_worker *workers;
	unsigned nworkers;
	/* flush_all: items stamped at or before oldest_live are dead once the
	 * clock reaches it (a delayed flush sets it in the future). */
	_Atomic uint64_t oldest_live;
	atomic_uint verbosity;
	kvd_spin reset_lock;
	struct kvd_counters baseline; /* stats reset: counters at the reset */
};

/* Lookup modes for kvd_item_get. */
struct kvd_lookup {
	bool bump;  /* mark accessed (false: mg u) */
	bool touch; /* set exptime to new_exptime */
	uint32_t new_exptime;
	/* out: the item as it was before this lookup (mg h, l) */
	uint32_t prev_atime;
	bool prev_fetched;
};

enum kvd_result {
	KVD_STORED,
	KVD_NOT_STORED,
	KVD_EXISTS,
	KVD_NOT_FOUND,
	KVD_DELETED,
	KVD_TOUCHED,
	KVD_NON_NUMERIC,
	KVD_NO_MEMORY,
	KVD_TOO_LARGE,
};

uint32_t kvd_hash(const struct kvd_store *s, const void *key, size_t n);
/* Convert a protocol exptime to engine seconds (0: never). */
uint32_t kvd_exptime(const struct kvd_worker *w, int64_t t);
/* The engine-time TTL left, or -1 for none. */
int64_t kvd_ttl_left(const struct kvd_worker *w, const struct kvd_item *it);

/*
 * A new unlinked item with room for nvalue value bytes (the "\r\n"
 * included), evicting to make room; refs = 1. NULL: too large (*why =
 * -E2BIG) or no memory (-ENOMEM).
 */
struct kvd_item *kvd_item_alloc(struct kvd_worker *w, const char *key, size_t nkey, uint32_t flags,
				uint32_t exptime, uint32_t nvalue, enum kvd_result *why);
void kvd_item_put(struct kvd_worker *w, struct kvd_item *it);
/* Copy n value bytes at offset off into / out of an item (chunk aware). */
void kvd_item_write(struct kvd_item *it, uint32_t off, const void *src, uint32_t n);
void kvd_item_read(const struct kvd_item *it, uint32_t off, void *dst, uint32_t n);
/* A pointer to the bytes at off and how many follow contiguously. */
uint8_t *kvd_item_span(const struct kvd_item *it, uint32_t off, uint32_t *len);

/* A live item for key with a reference (put it), or NULL. Counts nothing. */
struct kvd_item *kvd_item_get(struct kvd_worker *w, const char *key, size_t nkey,
			      struct kvd_lookup *how);

enum kvd_store_mode { KVD_SET, KVD_ADD, KVD_REPLACE, KVD_APPEND, KVD_PREPEND, KVD_CAS };

/*
 * Store it (filled, unlinked, caller's reference kept) by mode; cas is the
 * compare value (KVD_CAS, or any mode when nonzero). For append/prepend a
 * new item is built and *stored receives it (with a reference) if stored.
 * stale_ok (ms I): a CAS older than the item's stores it marked stale.
 */
enum kvd_result kvd_store_item(struct kvd_worker *w, struct kvd_item *it, enum kvd_store_mode mode,
			       uint64_t cas, bool stale_ok, struct kvd_item **stored);
enum kvd_result kvd_delete(struct kvd_worker *w, const char *key, size_t nkey, uint64_t cas);
/* md I: mark stale with a new CAS (and exptime when set_exp). */
enum kvd_result kvd_invalidate(struct kvd_worker *w, const char *key, size_t nkey, uint64_t cas,
			       bool set_exp, uint32_t exptime);

struct kvd_arith {
	bool incr;
	uint64_t delta;
	uint64_t cas; /* compare, 0: none */
	bool create;  /* on a miss store initial (binary, ma N) */
	uint64_t initial;
	uint32_t exptime; /* for a created item */
	bool set_exp;	  /* ma T: new exptime on success */
	uint32_t new_exptime;
	/* results */
	uint64_t value;
	uint64_t new_cas;
	int64_t ttl;
	bool created;
};
enum kvd_result kvd_arith(struct kvd_worker *w, const char *key, size_t nkey, struct kvd_arith *a);

void kvd_flush_all(struct kvd_worker *w, int64_t delay);
uint64_t kvd_next_cas(struct kvd_worker *w);
/* Merge counters over every worker, less the stats reset baseline. */
void kvd_stats_sum(struct kvd_store *s, struct kvd_counters *out);
void kvd_stats_reset(struct kvd_store *s);
void kvd_lru_stats(struct kvd_store *s, unsigned i, uint64_t *count, uint32_t *oldest_age,
		   const struct kvd_worker *w);

/* ------------------------------------------------------------ connections */

#define KVD_MAX_TOKENS 24 /* tokens of a text command line, as memcached */

/*
 * Output: a list of blocks, each a run of segments that point into the
 * block's own text area or into items (with a reference on the item's
 * last segment, dropped when it is sent).
 */
#define KVD_OBLK_SEGS	128
#define KVD_RESERVE_MAX 768 /* longest text reserved at once (a meta reply line) */
#define KVD_OBLK_DATA	16384

struct kvd_oseg {
	const uint8_t *base;
	uint32_t len;
	struct kvd_item *ref;
};

struct kvd_oblk {
	struct kvd_oblk *next;
	unsigned nseg, rseg; /* segments written, segments fully sent */
	size_t dused;
	struct kvd_oseg seg[KVD_OBLK_SEGS];
	uint8_t data[KVD_OBLK_DATA];
};

enum kvd_proto { KVD_PROTO_NONE, KVD_PROTO_TEXT, KVD_PROTO_BINARY };

enum kvd_cstate {
	KVD_CS_CMD,	/* reading a command (line or binary header and key) */
	KVD_CS_VALUE,	/* reading a value into c->item */
	KVD_CS_SWALLOW, /* discarding c->swallow bytes, then reply c->swallow_msg */
	KVD_CS_CLOSED,	/* want close: input ignored */
};

/* What to do once a value has arrived. */
struct kvd_pending {
	enum kvd_store_mode mode;
	uint64_t cas;
	bool noreply;
	bool binary;
	bool meta;
	/* binary */
	uint8_t opcode;
	uint32_t opaque;
	/* meta ms */
	bool stale_ok;
	bool base64;
	bool ret_cas;
	bool ret_key;
	bool quiet;
	char order[KVD_MAX_TOKENS]; /* ms: the return flags asked for, in order */
	uint8_t norder;
	char opaque_tok[33];
	uint8_t nopaque;
};

#define KVD_LINE_MAX	 2048	      /* longest command line but a retrieval's */
#define KVD_LINE_MAX_GET (64u * 1024) /* longest get/gets/gat/gats line */
#define KVD_BIN_HDR	 24

struct kvd_conn {
	struct kvd_worker *w;
	enum kvd_proto proto;
	enum kvd_cstate state;
	bool want_close;
	/* partial command: rbuf holds rlen bytes (rcap: its size) */
	uint8_t *rbuf;
	size_t rlen, rcap;
	uint8_t rbuf_small[KVD_LINE_MAX + 64];
	/* value being read */
	struct kvd_item *item;
	uint32_t vread, vneed;
	struct kvd_pending pend;
	/* swallowing a refused value */
	uint64_t swallow;
	/* a retrieval waiting for its output to drain: the keys still to do */
	struct {
		char *rest;
		size_t len;
		bool with_cas, touch;
		uint32_t exptime;
	} get;
	/* output */
	struct kvd_oblk *ohead, *otail, *ospare;
	size_t ooff; /* bytes of the head segment already sent */
	size_t opending;
	bool ofail;			   /* no memory for replies: closing */
	uint8_t oscratch[KVD_RESERVE_MAX]; /* where their text goes meanwhile */
};

/* Output helpers (conn.c). */
uint8_t *kvd_out_reserve(struct kvd_conn *c, size_t n);
void kvd_out_commit(struct kvd_conn *c, size_t n);
void kvd_out_bytes(struct kvd_conn *c, const void *p, size_t n);
void kvd_out_str(struct kvd_conn *c, const char *s);
/* Append the item's value (with "\r\n" when crlf) by reference; takes over one reference. */
void kvd_out_value(struct kvd_conn *c, struct kvd_item *it, bool crlf);
char *kvd_fmt_u64(char *p, uint64_t v);
char *kvd_fmt_i64(char *p, int64_t v);

/* Protocol entry points, called by the framing in conn.c. */
#define KVD_BIN_REQ_MAGIC 0x80
#define KVD_BIN_RES_MAGIC 0x81

/* One text line (its "\r\n" removed). */
void kvd_text_line(struct kvd_conn *c, const char *line, size_t len);
/* Go on with a retrieval stopped by backpressure; true when none is left. */
bool kvd_text_resume(struct kvd_conn *c);
/* A text value arrived; good: it ended in "\r\n". Takes over it. */
void kvd_text_value_done(struct kvd_conn *c, struct kvd_item *it, bool good);
/* Header + extras + key bytes of the request at hdr, or 0 after a fatal
 * header error (answered; the connection closes). */
size_t kvd_bin_fixed_len(struct kvd_conn *c, const uint8_t *hdr);
/* A request whose header, extras and key are at pkt. */
void kvd_bin_request(struct kvd_conn *c, const uint8_t *pkt);
void kvd_bin_value_done(struct kvd_conn *c, struct kvd_item *it);

/* Read wire_bytes of value into it, then call the protocol's value_done. */
void kvd_conn_expect_value(struct kvd_conn *c, struct kvd_item *it, uint32_t wire_bytes);
/* Discard the next n input bytes (a refused value). */
void kvd_conn_swallow(struct kvd_conn *c, uint64_t n);
/* Answer nothing more; close once the output is out. */
void kvd_conn_fatal(struct kvd_conn *c);

/* Tokens of a text line (text.c, used by meta.c too). */
struct kvd_tok {
	const char *p;
	size_t n;
};
bool kvd_tok_eq(const struct kvd_tok *t, const char *s);
bool kvd_parse_u64(const char *p, size_t n, uint64_t *out);
bool kvd_parse_i64(const char *p, size_t n, int64_t *out);
void kvd_meta_command(struct kvd_conn *c, struct kvd_tok *t, unsigned ntok, bool more);
void kvd_meta_value_done(struct kvd_conn *c, struct kvd_item *it, bool good);
/* "VALUE"-less lines: "STORED" etc. unless noreply. */
void kvd_text_reply(struct kvd_conn *c, const char *s, bool noreply);

/* stats (stats.c): each line through emit. */
typedef void (*kvd_stat_emit)(struct kvd_conn *c, const char *name, size_t nname, const char *val,
			      size_t nval);
/* false: unknown group */
bool kvd_stats_report(struct kvd_conn *c, const char *group, size_t ngroup, kvd_stat_emit emit);
