/* kvd store: striped hash table, items, per-worker LRU segments, eviction, lazy expiry. */
#include "kvd_impl.h"

/*
 * Locks, in the order they nest: a hash stripe, then an LRU segment, then
 * the arena. Eviction starts from an LRU segment and so only *tries* the
 * stripe of its victim. A reader takes just the stripe of its key: no
 * lock is global on the GET path, and the LRU is not reordered on a hit
 * (the item's ACTIVE bit is set; the evictor gives active items a second
 * chance instead).
 */

#define LRU_SECOND_CHANCES  64 /* active tail items moved to the head per eviction, at most */
#define EVICT_TRIES	    64 /* items looked at per eviction, at most */
#define EVICT_GENTLE_PASSES 4  /* rounds of second chances before the tail goes anyway */

/* ------------------------------------------------------------ hashing */

static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/* A seeded multiply-xorshift hash over 8-byte words. */
uint32_t kvd_hash(const struct kvd_store *s, const void *key, size_t n)
{
	const uint8_t *p = key;
	uint64_t h = s->cfg.seed ^ (n * 0x9e3779b97f4a7c15ull), w;

	while (n >= 8) {
		memcpy(&w, p, 8);
		h = (h ^ mix64(w)) * 0x9e3779b97f4a7c15ull;
		p += 8;
		n -= 8;
	}
	w = 0;
	memcpy(&w, p, n);
	h = mix64(h ^ mix64(w ^ 0x5555555555555555ull));
	return (uint32_t)(h ^ (h >> 32));
}

static kvd_spin *stripe_of(struct kvd_store *s, uint32_t hash)
{
	return &s->stripes[hash & (KVD_STRIPES - 1)];
}

/* ------------------------------------------------------------ time */

uint32_t kvd_exptime(const struct kvd_worker *w, int64_t t)
{
	const struct kvd_store *s = w->s;
	int64_t rel;

	if (t == 0)
		return 0;
	if (t < 0)
		return 1; /* "a negative value ... is immediately expired" */
	if (t > (int64_t)KVD_REALTIME_MAXDELTA) {
		/* An absolute Unix time. */
		if ((uint64_t)t <= s->cfg.start_unix)
			return 1;
		rel = t - (int64_t)s->cfg.start_unix + KVD_TIME_BASE;
	} else {
		rel = (int64_t)w->now_s + t;
	}
	return rel > UINT32_MAX ? UINT32_MAX : (uint32_t)rel;
}

int64_t kvd_ttl_left(const struct kvd_worker *w, const struct kvd_item *it)
{
	if (!it->exptime)
		return -1;
	return it->exptime > w->now_s ? (int64_t)(it->exptime - w->now_s) : 0;
}

void kvd_worker_clock(struct kvd_worker *w, uint64_t mono_ns, uint64_t unix_s)
{
	uint64_t start = w->s->cfg.start_mono_ns;
	uint64_t us = mono_ns > start ? (mono_ns - start) / 1000 : 0;

	if (us > w->now_us)
		w->now_us = us;
	w->now_s = (uint32_t)(w->now_us / 1000000) + KVD_TIME_BASE;
	w->unix_now = unix_s;
}

/* A stamp later than every earlier one of this worker. */
static uint64_t next_stamp(struct kvd_worker *w)
{
	w->last_stamp = w->now_us > w->last_stamp ? w->now_us : w->last_stamp + 1;
	return w->last_stamp;
}

uint64_t kvd_next_cas(struct kvd_worker *w)
{
	/* Unique over all workers without a shared counter. */
	return ++w->cas_seq * KVD_WORKERS_MAX + w->id;
}

static bool is_expired(const struct kvd_worker *w, const struct kvd_item *it)
{
	return it->exptime && it->exptime <= w->now_s;
}

static bool is_flushed(const struct kvd_worker *w, const struct kvd_item *it)
{
	uint64_t oldest = atomic_load_explicit(&w->s->oldest_live, memory_order_relaxed);
	uint64_t now = w->now_us > w->last_stamp ? w->now_us : w->last_stamp;

	return oldest && oldest <= now && it->stamp <= oldest;
}

/* ------------------------------------------------------------ LRU */

/* Caller holds the segment's lock. */
static void lru_unlink_locked(struct kvd_lru *l, struct kvd_item *it)
{
	if (it->prev)
		it->prev->next = it->next;
	else
		l->head = it->next;
	if (it->next)
		it->next->prev = it->prev;
	else
		l->tail = it->prev;
	it->prev = it->next = NULL;
	l->count--;
}

static void lru_push_locked(struct kvd_lru *l, struct kvd_item *it)
{
	it->prev = NULL;
	it->next = l->head;
	if (l->head)
		l->head->prev = it;
	else
		l->tail = it;
	l->head = it;
	l->count++;
}

/* ------------------------------------------------------------ items */

static size_t item_header_size(size_t nkey)
{
	return sizeof(struct kvd_item) + kvd_key_space((unsigned)nkey);
}

/* The bytes an item of this shape occupies, or 0 if over the item limit. */
static size_t item_total(size_t nkey, uint32_t nvalue, uint32_t *nchunks)
{
	size_t head = item_header_size(nkey);

	if (head + nvalue <= KVD_CHUNK_SIZE) {
		*nchunks = 0;
		return head + nvalue;
	}
	*nchunks = (nvalue + KVD_CHUNK_SIZE - 1) / KVD_CHUNK_SIZE;
	return head + *nchunks * sizeof(uint8_t *) + nvalue;
}

static void item_free(struct kvd_store *s, struct kvd_item *it)
{
	uint8_t **chunks = kvd_item_chunks(it);

	for (uint32_t i = 0; i < it->nchunks; i++)
		if (chunks[i])
			kvd_arena_free(&s->arena, chunks[i]);
	kvd_arena_free(&s->arena, it);
}

void kvd_item_put(struct kvd_worker *w, struct kvd_item *it)
{
	if (atomic_fetch_sub_explicit(&it->refs, 1, memory_order_acq_rel) == 1)
		item_free(w->s, it);
}

/* Bytes the item really takes in the arena (the bytes statistic). */
static size_t item_mem(const struct kvd_item *it)
{
	return it->mem;
}

/*
 * Unlink a linked item from its bucket chain and LRU segment. Caller holds
 * the stripe lock and must drop the hash table's reference afterwards
 * (outside the locks).
 */
static void unlink_locked(struct kvd_worker *w, struct kvd_item *it, struct kvd_item **pp)
{
	struct kvd_lru *l = &w->s->lru[it->lru];

	*pp = it->hnext;
	it->hnext = NULL;
	kvd_spin_lock(&l->lock);
	lru_unlink_locked(l, it);
	kvd_spin_unlock(&l->lock);
	it->linked = 0;
	KVD_ADD(w, curr_items, -1);
	KVD_ADD(w, bytes, -(int64_t)item_mem(it));
}

/* Link it at the head of its bucket and of this worker's segment. Stripe held. */
static void link_locked(struct kvd_worker *w, struct kvd_item *it)
{
	struct kvd_store *s = w->s;
	struct kvd_item **b = &s->buckets[it->hash & s->hash_mask];
	struct kvd_lru *l = &s->lru[w->id];

	atomic_fetch_add_explicit(&it->refs, 1, memory_order_relaxed);
	it->hnext = *b;
	*b = it;
	it->lru = (uint8_t)w->id;
	it->linked = 1;
	it->atime = w->now_s;
	it->stamp = next_stamp(w);
	kvd_spin_lock(&l->lock);
	lru_push_locked(l, it);
	kvd_spin_unlock(&l->lock);
	KVD_ADD(w, curr_items, 1);
	KVD_ADD(w, bytes, (int64_t)item_mem(it));
	KVD_INC(w, total_items);
}

/* The bucket slot pointing at key's item, live or not. Stripe held. */
static struct kvd_item **find_locked(struct kvd_store *s, const char *key, size_t nkey,
				     uint32_t hash)
{
	struct kvd_item **pp = &s->buckets[hash & s->hash_mask];

	for (; *pp; pp = &(*pp)->hnext) {
		struct kvd_item *it = *pp;

		if (it->hash == hash && it->nkey == nkey && !memcmp(it->data, key, nkey))
			return pp;
	}
	return pp;
}

/*
 * Like find_locked but an expired or flushed item is unlinked on the way
 * (lazy expiry): its reference goes to *dead for the caller to put.
 */
static struct kvd_item **find_live_locked(struct kvd_worker *w, const char *key, size_t nkey,
					  uint32_t hash, struct kvd_item **dead)
{
	struct kvd_item **pp = find_locked(w->s, key, nkey, hash);
	struct kvd_item *it = *pp;

	*dead = NULL;
	if (it && (is_expired(w, it) || is_flushed(w, it))) {
		if (is_flushed(w, it))
			KVD_INC(w, get_flushed);
		else
			KVD_INC(w, get_expired);
		if (!(atomic_load_explicit(&it->bits, memory_order_relaxed) & KVD_IT_FETCHED))
			KVD_INC(w, expired_unfetched);
		unlink_locked(w, it, pp);
		*dead = it;
	}
	return pp;
}

/*
 * Evict (or reclaim, if dead) one item from segment i's tail. Active items
 * get a second chance at the head unless force. Returns false if nothing
 * went (all it looked at were active, or locked by their stripes).
 */
static bool evict_from(struct kvd_worker *w, unsigned i, bool force)
{
	struct kvd_store *s = w->s;
	struct kvd_lru *l = &s->lru[i];
	struct kvd_item *it, *victim = NULL;
	unsigned chances = 0, tries = 0;
	kvd_spin *stripe;

	kvd_spin_lock(&l->lock);
	it = l->tail;
	while (it && tries++ < EVICT_TRIES) {
		struct kvd_item *prev = it->prev;
		unsigned bits = atomic_load_explicit(&it->bits, memory_order_relaxed);

		if ((bits & KVD_IT_ACTIVE) && !force && chances < LRU_SECOND_CHANCES) {
			atomic_fetch_and_explicit(&it->bits, ~KVD_IT_ACTIVE, memory_order_relaxed);
			lru_unlink_locked(l, it);
			lru_push_locked(l, it);
			chances++;
			it = prev;
			continue;
		}
		stripe = stripe_of(s, it->hash);
		if (kvd_spin_trylock(stripe)) {
			victim = it;
			break;
		}
		it = prev;
	}
	kvd_spin_unlock(&l->lock);
	if (!victim)
		return false;

	/* Stripe held: the item cannot be unlinked by anyone else now. */
	struct kvd_item **pp = find_locked(s, victim->data, victim->nkey, victim->hash);
	unsigned bits = atomic_load_explicit(&victim->bits, memory_order_relaxed);

	if (*pp != victim) { /* cannot happen while linked; be safe */
		kvd_spin_unlock(stripe);
		return true;
	}
	if (is_expired(w, victim) || is_flushed(w, victim)) {
		KVD_INC(w, reclaimed);
		if (!(bits & KVD_IT_FETCHED))
			KVD_INC(w, expired_unfetched);
	} else {
		KVD_INC(w, evictions);
		if (victim->exptime)
			KVD_INC(w, evicted_nonzero);
		if (!(bits & KVD_IT_FETCHED))
			KVD_INC(w, evicted_unfetched);
		if (bits & KVD_IT_ACTIVE)
			KVD_INC(w, evicted_active);
		__atomic_store_n(&w->st.evicted_time, w->now_s - victim->atime, __ATOMIC_RELAXED);
	}
	unlink_locked(w, victim, pp);
	kvd_spin_unlock(stripe);
	kvd_item_put(w, victim);
	return true;
}

/*
 * Make room: this worker's segment first, then the others in turn. A tail
 * of recently read items costs them their second chance; if a few rounds
 * of that free nothing (everything is hot), the tail goes regardless, so a
 * full cache always finds room while anything is stored.
 */
static bool evict_one(struct kvd_worker *w)
{
	struct kvd_store *s = w->s;

	for (unsigned pass = 0; pass <= EVICT_GENTLE_PASSES; pass++)
		for (unsigned k = 0; k < s->nworkers; k++)
			if (evict_from(w, (w->id + k) % s->nworkers, pass == EVICT_GENTLE_PASSES))
				return true;
	return false;
}

static void *alloc_evicting(struct kvd_worker *w, size_t n, size_t *got)
{
	void *p;

	while (!(p = kvd_arena_alloc(&w->s->arena, n, got)))
		if (!evict_one(w))
			return NULL;
	return p;
}

struct kvd_item *kvd_item_alloc(struct kvd_worker *w, const char *key, size_t nkey, uint32_t flags,
				uint32_t exptime, uint32_t nvalue, enum kvd_result *why)
{
	struct kvd_store *s = w->s;
	uint32_t nchunks;
	size_t total = item_total(nkey, nvalue, &nchunks);
	size_t head = item_header_size(nkey) + (nchunks ? nchunks * sizeof(uint8_t *) : nvalue);
	struct kvd_item *it;

	if (nkey == 0 || nkey > KVD_KEY_MAX || total > KVD_ITEM_SIZE_MAX) {
		*why = KVD_TOO_LARGE;
		return NULL;
	}
	size_t mem, got;

	it = alloc_evicting(w, head, &mem);
	if (!it)
		goto nomem;
	memset(it, 0, sizeof(*it));
	it->nchunks = nchunks;
	it->nkey = (uint8_t)nkey;
	it->nbytes = nvalue;
	memcpy(it->data, key, nkey);
	it->hash = kvd_hash(s, key, nkey);
	it->flags = flags;
	it->exptime = exptime;
	atomic_init(&it->refs, 1);
	atomic_init(&it->bits, 0);
	uint8_t **chunks = kvd_item_chunks(it);
	for (uint32_t i = 0; i < nchunks; i++)
		chunks[i] = NULL;
	for (uint32_t i = 0; i < nchunks; i++) {
		chunks[i] = alloc_evicting(w, kvd_chunk_len(it, i), &got);
		if (!chunks[i]) {
			item_free(s, it);
			goto nomem;
		}
		mem += got;
	}
	it->mem = (uint32_t)mem;
	return it;
nomem:
	KVD_INC(w, outofmemory);
	*why = KVD_NO_MEMORY;
	return NULL;
}

uint8_t *kvd_item_span(const struct kvd_item *it, uint32_t off, uint32_t *len)
{
	uint32_t i;

	if (!it->nchunks) {
		*len = it->nbytes - off;
		return kvd_item_value(it) + off;
	}
	i = off / KVD_CHUNK_SIZE;
	*len = kvd_chunk_len(it, i) - off % KVD_CHUNK_SIZE;
	return kvd_item_chunks(it)[i] + off % KVD_CHUNK_SIZE;
}

void kvd_item_write(struct kvd_item *it, uint32_t off, const void *src, uint32_t n)
{
	const uint8_t *p = src;

	while (n) {
		uint32_t len;
		uint8_t *dst = kvd_item_span(it, off, &len);

		if (len > n)
			len = n;
		memcpy(dst, p, len);
		p += len;
		off += len;
		n -= len;
	}
}

void kvd_item_read(const struct kvd_item *it, uint32_t off, void *dst, uint32_t n)
{
	uint8_t *p = dst;

	while (n) {
		uint32_t len;
		const uint8_t *src = kvd_item_span(it, off, &len);

		if (len > n)
			len = n;
		memcpy(p, src, len);
		p += len;
		off += len;
		n -= len;
	}
}

/* Copy value bytes [off, off+n) of src into dst at doff. */
static void item_copy(struct kvd_item *dst, uint32_t doff, const struct kvd_item *src, uint32_t off,
		      uint32_t n)
{
	while (n) {
		uint32_t len;
		const uint8_t *p = kvd_item_span(src, off, &len);

		if (len > n)
			len = n;
		kvd_item_write(dst, doff, p, len);
		doff += len;
		off += len;
		n -= len;
	}
}

/* ------------------------------------------------------------ operations */

struct kvd_item *kvd_item_get(struct kvd_worker *w, const char *key, size_t nkey,
			      struct kvd_lookup *how)
{
	struct kvd_store *s = w->s;
	uint32_t hash = kvd_hash(s, key, nkey);
	kvd_spin *stripe = stripe_of(s, hash);
	struct kvd_item *it, *dead;

	kvd_spin_lock(stripe);
	it = *find_live_locked(w, key, nkey, hash, &dead);
	if (it) {
		atomic_fetch_add_explicit(&it->refs, 1, memory_order_relaxed);
		if (how) {
			how->prev_atime = it->atime;
			how->prev_fetched =
			    atomic_load_explicit(&it->bits, memory_order_relaxed) & KVD_IT_FETCHED;
		}
		if (how && how->touch)
			it->exptime = how->new_exptime;
		if (!how || how->bump) {
			unsigned want = KVD_IT_ACTIVE | KVD_IT_FETCHED;

			if (it->atime != w->now_s)
				it->atime = w->now_s;
			/* no locked write on the common path: a hot item has both bits */
			if ((atomic_load_explicit(&it->bits, memory_order_relaxed) & want) != want)
				atomic_fetch_or_explicit(&it->bits, want, memory_order_relaxed);
		}
	}
	kvd_spin_unlock(stripe);
	if (dead)
		kvd_item_put(w, dead);
	return it;
}

/* Build prefix+suffix into a fresh item shaped like old; NULL: no memory. */
static struct kvd_item *concat(struct kvd_worker *w, const struct kvd_item *old,
			       const struct kvd_item *add, bool append, enum kvd_result *why)
{
	uint32_t n = old->nbytes - 2 + add->nbytes;
	struct kvd_item *it =
	    kvd_item_alloc(w, old->data, old->nkey, old->flags, old->exptime, n, why);

	if (!it)
		return NULL;
	if (append) {
		item_copy(it, 0, old, 0, old->nbytes - 2);
		item_copy(it, old->nbytes - 2, add, 0, add->nbytes);
	} else {
		item_copy(it, 0, add, 0, add->nbytes - 2);
		item_copy(it, add->nbytes - 2, old, 0, old->nbytes);
	}
	return it;
}

static enum kvd_result store_locked(struct kvd_worker *w, struct kvd_item *it,
				    enum kvd_store_mode mode, uint64_t cas, bool stale_ok,
				    struct kvd_item **pp, struct kvd_item **replaced)
{
	struct kvd_item *old = *pp;
	bool stale = false;

	*replaced = NULL;
	if (mode == KVD_CAS || cas) {
		if (!old) {
			KVD_INC(w, cas_misses);
			return KVD_NOT_FOUND;
		}
		if (old->cas != cas) {
			if (!(stale_ok && cas < old->cas)) {
				KVD_INC(w, cas_badval);
				return KVD_EXISTS;
			}
			stale = true;
		}
		KVD_INC(w, cas_hits);
	}
	switch (mode) {
	case KVD_ADD:
		if (old) {
			/* memcached bumps an item an add failed on */
			old->atime = w->now_s;
			return KVD_NOT_STORED;
		}
		break;
	case KVD_REPLACE:
	case KVD_APPEND:
	case KVD_PREPEND:
		if (!old)
			return KVD_NOT_STORED;
		break;
	default:
		break;
	}
	it->cas = kvd_next_cas(w);
	if (stale)
		atomic_fetch_or_explicit(&it->bits, KVD_IT_STALE, memory_order_relaxed);
	if (old) {
		unlink_locked(w, old, pp);
		*replaced = old;
	}
	link_locked(w, it);
	return KVD_STORED;
}

enum kvd_result kvd_store_item(struct kvd_worker *w, struct kvd_item *it, enum kvd_store_mode mode,
			       uint64_t cas, bool stale_ok, struct kvd_item **stored)
{
	struct kvd_store *s = w->s;
	kvd_spin *stripe = stripe_of(s, it->hash);
	struct kvd_item **pp, *old, *dead, *replaced, *built = NULL;
	enum kvd_result r;
	enum kvd_result why;

	*stored = NULL;
	KVD_INC(w, cmd_set);
	if (mode != KVD_APPEND && mode != KVD_PREPEND) {
		kvd_spin_lock(stripe);
		pp = find_live_locked(w, it->data, it->nkey, it->hash, &dead);
		r = store_locked(w, it, mode, cas, stale_ok, pp, &replaced);
		kvd_spin_unlock(stripe);
		if (dead)
			kvd_item_put(w, dead);
		if (replaced)
			kvd_item_put(w, replaced);
		if (r == KVD_STORED) {
			atomic_fetch_add_explicit(&it->refs, 1, memory_order_relaxed);
			*stored = it;
		}
		return r;
	}
	/* Append/prepend: build the joined value outside the lock, then store
	 * it if the item did not change meanwhile. */
	for (int attempt = 0; attempt < 8; attempt++) {
		uint64_t seen;

		old = kvd_item_get(w, it->data, it->nkey, &(struct kvd_lookup){.bump = false});
		if (!old)
			return cas ? (KVD_INC(w, cas_misses), KVD_NOT_FOUND) : KVD_NOT_STORED;
		if (cas && old->cas != cas) {
			kvd_item_put(w, old);
			KVD_INC(w, cas_badval);
			return KVD_EXISTS;
		}
		seen = old->cas;
		built = concat(w, old, it, mode == KVD_APPEND, &why);
		kvd_item_put(w, old);
		if (!built)
			return why;
		kvd_spin_lock(stripe);
		pp = find_live_locked(w, it->data, it->nkey, it->hash, &dead);
		r = KVD_NOT_FOUND;
		if (*pp && (*pp)->cas == seen) {
			built->flags = (*pp)->flags;
			built->exptime = (*pp)->exptime;
			r = store_locked(w, built, KVD_REPLACE, 0, false, pp, &replaced);
		}
		kvd_spin_unlock(stripe);
		if (dead)
			kvd_item_put(w, dead);
		if (r == KVD_STORED) {
			kvd_item_put(w, replaced);
			*stored = built;
			return r;
		}
		kvd_item_put(w, built);
	}
	return KVD_NOT_STORED;
}

enum kvd_result kvd_delete(struct kvd_worker *w, const char *key, size_t nkey, uint64_t cas)
{
	struct kvd_store *s = w->s;
	uint32_t hash = kvd_hash(s, key, nkey);
	kvd_spin *stripe = stripe_of(s, hash);
	struct kvd_item **pp, *it, *dead;
	enum kvd_result r;

	kvd_spin_lock(stripe);
	pp = find_live_locked(w, key, nkey, hash, &dead);
	it = *pp;
	if (!it) {
		r = KVD_NOT_FOUND;
	} else if (cas && it->cas != cas) {
		r = KVD_EXISTS;
		it = NULL;
	} else {
		unlink_locked(w, it, pp);
		r = KVD_DELETED;
	}
	kvd_spin_unlock(stripe);
	if (dead)
		kvd_item_put(w, dead);
	if (it)
		kvd_item_put(w, it);
	if (r == KVD_DELETED)
		KVD_INC(w, delete_hits);
	else
		KVD_INC(w, delete_misses);
	return r;
}

enum kvd_result kvd_invalidate(struct kvd_worker *w, const char *key, size_t nkey, uint64_t cas,
			       bool set_exp, uint32_t exptime)
{
	struct kvd_store *s = w->s;
	uint32_t hash = kvd_hash(s, key, nkey);
	kvd_spin *stripe = stripe_of(s, hash);
	struct kvd_item *it, *dead;
	enum kvd_result r = KVD_DELETED;

	kvd_spin_lock(stripe);
	it = *find_live_locked(w, key, nkey, hash, &dead);
	if (!it) {
		r = KVD_NOT_FOUND;
	} else if (cas && it->cas != cas) {
		r = KVD_EXISTS;
	} else {
		it->cas = kvd_next_cas(w);
		atomic_fetch_or_explicit(&it->bits, KVD_IT_STALE, memory_order_relaxed);
		atomic_fetch_and_explicit(&it->bits, ~KVD_IT_WON, memory_order_relaxed);
		if (set_exp)
			it->exptime = exptime;
	}
	kvd_spin_unlock(stripe);
	if (dead)
		kvd_item_put(w, dead);
	if (r == KVD_DELETED)
		KVD_INC(w, delete_hits);
	else
		KVD_INC(w, delete_misses);
	return r;
}

/* The decimal value of an item of at most 20 digits (memcached allows
 * spaces around it, as its own in-place results are space padded). */
static bool item_number(const struct kvd_item *it, uint64_t *out)
{
	char buf[24];
	uint32_t n = it->nbytes - 2, i = 0;
	uint64_t v = 0;
	bool digits = false;

	if (n == 0 || n >= sizeof(buf))
		return false;
	kvd_item_read(it, 0, buf, n);
	while (i < n && buf[i] == ' ')
		i++;
	for (; i < n && buf[i] >= '0' && buf[i] <= '9'; i++) {
		uint64_t d = (uint64_t)(buf[i] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
		digits = true;
	}
	while (i < n && buf[i] == ' ')
		i++;
	*out = v;
	return digits && i == n;
}

enum kvd_result kvd_arith(struct kvd_worker *w, const char *key, size_t nkey, struct kvd_arith *a)
{
	struct kvd_store *s = w->s;
	uint32_t hash = kvd_hash(s, key, nkey);
	kvd_spin *stripe = stripe_of(s, hash);
	struct kvd_item **pp, *it, *dead, *fresh = NULL, *replaced = NULL;
	enum kvd_result r;
	char num[24];
	size_t len;
	enum kvd_result why;

	a->created = false;
	for (int attempt = 0; attempt < 8; attempt++) {
		kvd_spin_lock(stripe);
		pp = find_live_locked(w, key, nkey, hash, &dead);
		it = *pp;
		if (!it) {
			kvd_spin_unlock(stripe);
			if (dead)
				kvd_item_put(w, dead);
			if (a->incr)
				KVD_INC(w, incr_misses);
			else
				KVD_INC(w, decr_misses);
			if (!a->create)
				return KVD_NOT_FOUND;
			len = (size_t)(kvd_fmt_u64(num, a->initial) - num);
			memcpy(num + len, "\r\n", 2);
			fresh =
			    kvd_item_alloc(w, key, nkey, 0, a->exptime, (uint32_t)len + 2, &why);
			if (!fresh)
				return KVD_NO_MEMORY;
			kvd_item_write(fresh, 0, num, (uint32_t)len + 2);
			kvd_spin_lock(stripe);
			pp = find_live_locked(w, key, nkey, hash, &dead);
			r = store_locked(w, fresh, KVD_ADD, 0, false, pp, &replaced);
			kvd_spin_unlock(stripe);
			KVD_ADD(w, cmd_set, 1);
			if (dead)
				kvd_item_put(w, dead);
			if (r == KVD_STORED) {
				a->value = a->initial;
				a->new_cas = fresh->cas;
				a->ttl = kvd_ttl_left(w, fresh);
				a->created = true;
				kvd_item_put(w, fresh);
				return KVD_STORED;
			}
			kvd_item_put(w, fresh); /* somebody added it meanwhile: retry */
			continue;
		}
		if (a->cas && it->cas != a->cas) {
			kvd_spin_unlock(stripe);
			return KVD_EXISTS;
		}
		uint64_t v;
		if (!item_number(it, &v)) {
			kvd_spin_unlock(stripe);
			return KVD_NON_NUMERIC;
		}
		if (a->incr)
			v += a->delta; /* wraps, as protocol.txt says */
		else
			v = v < a->delta ? 0 : v - a->delta;
		len = (size_t)(kvd_fmt_u64(num, v) - num);
		a->value = v;
		if (a->incr)
			KVD_INC(w, incr_hits);
		else
			KVD_INC(w, decr_hits);
		atomic_fetch_or_explicit(&it->bits, KVD_IT_FETCHED, memory_order_relaxed);
		/* In place when it fits and nobody else holds the item (a pending
		 * reply might point at it); padded with spaces like memcached. */
		if (len + 2 <= it->nbytes && !it->nchunks &&
		    atomic_load_explicit(&it->refs, memory_order_acquire) == 1) {
			uint8_t *val = kvd_item_value(it);

			memcpy(val, num, len);
			memset(val + len, ' ', it->nbytes - 2 - len);
			it->cas = kvd_next_cas(w);
			if (a->set_exp)
				it->exptime = a->new_exptime;
			it->atime = w->now_s;
			a->new_cas = it->cas;
			a->ttl = kvd_ttl_left(w, it);
			kvd_spin_unlock(stripe);
			return KVD_STORED;
		}
		uint32_t flags = it->flags, exptime = a->set_exp ? a->new_exptime : it->exptime;
		uint64_t seen = it->cas;
		kvd_spin_unlock(stripe);
		memcpy(num + len, "\r\n", 2);
		fresh = kvd_item_alloc(w, key, nkey, flags, exptime, (uint32_t)len + 2, &why);
		if (!fresh)
			return KVD_NO_MEMORY;
		kvd_item_write(fresh, 0, num, (uint32_t)len + 2);
		kvd_spin_lock(stripe);
		pp = find_live_locked(w, key, nkey, hash, &dead);
		r = KVD_EXISTS;
		if (*pp && (*pp)->cas == seen)
			r = store_locked(w, fresh, KVD_REPLACE, 0, false, pp, &replaced);
		kvd_spin_unlock(stripe);
		if (dead)
			kvd_item_put(w, dead);
		if (r == KVD_STORED) {
			a->new_cas = fresh->cas;
			a->ttl = kvd_ttl_left(w, fresh);
			kvd_item_put(w, replaced);
			kvd_item_put(w, fresh);
			return KVD_STORED;
		}
		kvd_item_put(w, fresh); /* changed under us: start over */
		if (a->incr)
			KVD_ADD(w, incr_hits, -1);
		else
			KVD_ADD(w, decr_hits, -1);
	}
	return KVD_EXISTS;
}

void kvd_flush_all(struct kvd_worker *w, int64_t delay)
{
	uint64_t when;

	KVD_INC(w, cmd_flush);
	if (delay <= 0) {
		when = next_stamp(w);
	} else if (delay <= (int64_t)KVD_REALTIME_MAXDELTA) {
		when = w->now_us + (uint64_t)delay * 1000000 - 1;
	} else {
		/* a Unix time, like an exptime (memcached reads it so too) */
		uint32_t at = kvd_exptime(w, delay);

		when = at <= w->now_s ? next_stamp(w) : (uint64_t)(at - KVD_TIME_BASE) * 1000000;
	}
	atomic_store_explicit(&w->s->oldest_live, when, memory_order_relaxed);
}

/* ------------------------------------------------------------ statistics */

void kvd_stats_sum(struct kvd_store *s, struct kvd_counters *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < s->nworkers; i++) {
		const struct kvd_counters *c = &s->workers[i].st;
#define KVD_SUM(n) out->n += __atomic_load_n(&c->n, __ATOMIC_RELAXED);
		KVD_COUNTERS(KVD_SUM)
		KVD_GAUGES(KVD_SUM)
#undef KVD_SUM
		uint32_t t = __atomic_load_n(&c->evicted_time, __ATOMIC_RELAXED);
		if (t > out->evicted_time)
			out->evicted_time = t;
	}
	kvd_spin_lock(&s->reset_lock);
#define KVD_SUB(n) out->n -= s->baseline.n;
	KVD_COUNTERS(KVD_SUB)
#undef KVD_SUB
	kvd_spin_unlock(&s->reset_lock);
}

void kvd_stats_reset(struct kvd_store *s)
{
	struct kvd_counters now;

	kvd_stats_sum(s, &now);
	kvd_spin_lock(&s->reset_lock);
#define KVD_BASE(n) s->baseline.n += now.n;
	KVD_COUNTERS(KVD_BASE)
#undef KVD_BASE
	kvd_spin_unlock(&s->reset_lock);
}

void kvd_lru_stats(struct kvd_store *s, unsigned i, uint64_t *count, uint32_t *oldest_age,
		   const struct kvd_worker *w)
{
	struct kvd_lru *l = &s->lru[i];

	kvd_spin_lock(&l->lock);
	*count = l->count;
	*oldest_age = l->tail && w->now_s > l->tail->atime ? w->now_s - l->tail->atime : 0;
	kvd_spin_unlock(&l->lock);
}

/* ------------------------------------------------------------ store */

int kvd_store_create(const struct kvd_config *cfg, struct kvd_store **out)
{
	struct kvd_store *s;
	unsigned power;
	int err;

	if (!cfg->workers || cfg->workers > KVD_WORKERS_MAX || cfg->maxbytes < 2 * KVD_REGION_SIZE)
		return -EINVAL;
	power = cfg->hash_power;
	if (!power) {
		/* a bucket per 256 bytes of budget, at least the stripes */
		for (power = 10; power < 26 && ((size_t)1 << power) < cfg->maxbytes / 256; power++)
			;
	}
	if (power < 10 || power > 30)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	if (!s->cfg.max_conns)
		s->cfg.max_conns = 1024;
	s->hash_power = power;
	s->hash_mask = (1u << power) - 1;
	s->buckets = calloc((size_t)1 << power, sizeof(*s->buckets));
	s->workers = calloc(cfg->workers, sizeof(*s->workers));
	s->nworkers = cfg->workers;
	err = -ENOMEM;
	if (!s->buckets || !s->workers)
		goto fail;
	err = kvd_arena_init(&s->arena, cfg->maxbytes, cfg->region_alloc);
	if (err)
		goto fail;
	for (unsigned i = 0; i < s->nworkers; i++) {
		s->workers[i].s = s;
		s->workers[i].id = i;
		s->workers[i].now_s = KVD_TIME_BASE;
	}
	*out = s;
	return 0;
fail:
	free(s->buckets);
	free(s->workers);
	free(s);
	return err;
}

int kvd_store_audit(struct kvd_store *s)
{
	uint64_t items = 0, lru_items = 0;
	size_t mem = 0;

	for (size_t b = 0; b <= s->hash_mask; b++) {
		for (struct kvd_item *it = s->buckets[b]; it; it = it->hnext) {
			if (!it->linked)
				return -1; /* unlinked item on a chain */
			if (atomic_load(&it->refs) != 1)
				return -2; /* a reference outlived its connection */
			if ((it->hash & s->hash_mask) != b)
				return -3;
			items++;
			mem += item_mem(it);
		}
	}
	for (unsigned i = 0; i < s->nworkers; i++)
		lru_items += s->lru[i].count;
	if (lru_items != items)
		return -4; /* LRU and table disagree */
	if (mem != s->arena.used)
		return -5; /* arena bytes held by nothing stored */
	return 0;
}

void kvd_store_destroy(struct kvd_store *s)
{
	kvd_arena_fini(&s->arena);
	free(s->buckets);
	free(s->workers);
	free(s);
}

struct kvd_worker *kvd_store_worker(struct kvd_store *s, unsigned id)
{
	return id < s->nworkers ? &s->workers[id] : NULL;
}
