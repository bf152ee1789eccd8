/* kvd item memory: regions up to the budget, split by a two-level segregated fit with boundary
 * tags. */
#include "kvd_impl.h"

/*
 * Every block starts with an 8-byte header: its size (a multiple of 8,
 * header included) with two flags in the low bits, and the size of the
 * block before it. A free block keeps its free-list links in its payload.
 * Each region ends with a zero-size used sentinel, so walking to the next
 * block never leaves the region, and no two free blocks are ever
 * neighbours (free merges them).
 *
 * Free blocks sit on lists binned first by the power of two of their size
 * and then by the next four bits (16-byte steps below 256 bytes); two
 * bitmaps find the first non-empty list that is big enough in O(1).
 * Every operation runs under the arena's lock; what it costs is a few
 * bit scans and list splices.
 */
#define HDR	    8u
#define F_FREE	    1u
#define F_PREV_FREE 2u
#define SIZE_MASK   (~7u)
#define MIN_BLOCK   24u
#define SMALL_LIMIT 256u

struct ablk {
	uint32_t size; /* bytes with header | F_* */
	uint32_t prev_size;
	struct ablk *next_free, *prev_free; /* free blocks only */
};

static uint32_t bsize(const struct ablk *b)
{
	return b->size & SIZE_MASK;
}

static struct ablk *bnext(const struct ablk *b)
{
	return (struct ablk *)((char *)b + bsize(b));
}

static unsigned fls32(uint32_t v)
{
	return 31u - (unsigned)__builtin_clz(v);
}

static void mapping(uint32_t size, unsigned *fl, unsigned *sl)
{
	unsigned t;

	if (size < SMALL_LIMIT) {
		*fl = 0;
		*sl = size / 16;
		return;
	}
	t = fls32(size);
	*fl = t - 7;
	*sl = (size >> (t - 4)) & (KVD_ARENA_SL - 1);
}

/* The first list whose every block holds size bytes. */
static void mapping_search(uint32_t size, unsigned *fl, unsigned *sl)
{
	if (size < SMALL_LIMIT)
		size = (size + 15) & ~15u;
	else
		size += (1u << (fls32(size) - 4)) - 1;
	mapping(size, fl, sl);
}

static void list_insert(struct kvd_arena *a, struct ablk *b)
{
	unsigned fl, sl;
	struct ablk *head;

	mapping(bsize(b), &fl, &sl);
	head = a->free[fl][sl];
	b->prev_free = NULL;
	b->next_free = head;
	if (head)
		head->prev_free = b;
	a->free[fl][sl] = b;
	a->fl_map |= 1u << fl;
	a->sl_map[fl] |= (uint16_t)(1u << sl);
}

static void list_remove(struct kvd_arena *a, struct ablk *b)
{
	unsigned fl, sl;

	mapping(bsize(b), &fl, &sl);
	if (b->prev_free)
		b->prev_free->next_free = b->next_free;
	else
		a->free[fl][sl] = b->next_free;
	if (b->next_free)
		b->next_free->prev_free = b->prev_free;
	if (!a->free[fl][sl]) {
		a->sl_map[fl] &= (uint16_t) ~(1u << sl);
		if (!a->sl_map[fl])
			a->fl_map &= ~(1u << fl);
	}
}

/* How many blocks of size's own list are tried before a bigger list. */
#define EXACT_SCAN 8

/*
 * A free block of at least size bytes. First a few blocks of size's own
 * list (first fit): the store asks for the same sizes again and again (a
 * value chunk, say), and a freed block of exactly that size sits in the
 * list that the rounded-up search below would skip. Then the first
 * non-empty list whose every block fits (good fit, O(1) with the bitmaps).
 */
static struct ablk *find_free(struct kvd_arena *a, uint32_t size)
{
	unsigned fl, sl, n = 0;
	uint32_t sl_bits, fl_bits;
	struct ablk *b;

	mapping(size, &fl, &sl);
	if (fl >= KVD_ARENA_FL)
		return NULL;
	for (b = a->free[fl][sl]; b && n < EXACT_SCAN; b = b->next_free, n++)
		if (bsize(b) >= size)
			return b;
	mapping_search(size, &fl, &sl);
	if (fl >= KVD_ARENA_FL)
		return NULL;
	sl_bits = a->sl_map[fl] & (~0u << sl);
	if (!sl_bits) {
		fl_bits = fl + 1 < 32 ? a->fl_map & (~0u << (fl + 1)) : 0;
		if (!fl_bits)
			return NULL;
		fl = (unsigned)__builtin_ctz(fl_bits);
		sl_bits = a->sl_map[fl];
	}
	sl = (unsigned)__builtin_ctz(sl_bits);
	return a->free[fl][sl];
}

/* One more region as a single free block before its sentinel. */
static bool add_region(struct kvd_arena *a)
{
	struct ablk *b, *end;
	char *r;

	if (a->regions >= a->max_regions)
		return false;
	r = a->region_alloc ? a->region_alloc(KVD_REGION_SIZE) : malloc(KVD_REGION_SIZE);
	if (!r) {
		a->fails++;
		a->max_regions = a->regions; /* the provider's budget is spent */
		return false;
	}
	a->region_list[a->regions++] = r;
	b = (struct ablk *)r;
	b->size = (KVD_REGION_SIZE - HDR) | F_FREE;
	b->prev_size = 0;
	end = bnext(b);
	end->size = 0 | F_PREV_FREE;
	end->prev_size = bsize(b);
	list_insert(a, b);
	return true;
}

int kvd_arena_init(struct kvd_arena *a, size_t maxbytes, void *(*region_alloc)(size_t))
{
	memset(a, 0, sizeof(*a));
	a->region_alloc = region_alloc;
	a->max_regions = maxbytes / KVD_REGION_SIZE;
	if (a->max_regions < 1)
		return -EINVAL;
	a->region_list = calloc(a->max_regions, sizeof(*a->region_list));
	return a->region_list ? 0 : -ENOMEM;
}

void kvd_arena_fini(struct kvd_arena *a)
{
	if (!a->region_alloc)
		for (size_t i = 0; i < a->regions; i++)
			free(a->region_list[i]);
	free(a->region_list);
	a->region_list = NULL;
}

void *kvd_arena_alloc(struct kvd_arena *a, size_t n, size_t *got)
{
	struct ablk *b, *rest;
	uint32_t size, have;

	if (n > KVD_ARENA_MAX_ALLOC)
		return NULL;
	size = (uint32_t)((n + HDR + 7) & ~(size_t)7);
	if (size < MIN_BLOCK)
		size = MIN_BLOCK;
	kvd_spin_lock(&a->lock);
	b = find_free(a, size);
	if (!b && add_region(a))
		b = find_free(a, size);
	if (!b) {
		kvd_spin_unlock(&a->lock);
		return NULL;
	}
	list_remove(a, b);
	have = bsize(b);
	if (have - size >= MIN_BLOCK) {
		rest = (struct ablk *)((char *)b + size);
		rest->size = (have - size) | F_FREE;
		rest->prev_size = size;
		bnext(rest)->prev_size = have - size;
		list_insert(a, rest);
		b->size = size | (b->size & F_PREV_FREE);
	} else {
		bnext(b)->size &= ~F_PREV_FREE;
		b->size &= ~F_FREE;
	}
	a->used += bsize(b);
	if (got)
		*got = bsize(b);
	kvd_spin_unlock(&a->lock);
	return (char *)b + HDR;
}

void kvd_arena_free(struct kvd_arena *a, void *p)
{
	struct ablk *b = (struct ablk *)((char *)p - HDR), *prev, *next;
	uint32_t size;

	kvd_spin_lock(&a->lock);
	a->used -= bsize(b);
	size = bsize(b);
	if (b->size & F_PREV_FREE) {
		prev = (struct ablk *)((char *)b - b->prev_size);
		list_remove(a, prev);
		size += bsize(prev);
		b = prev;
	}
	next = (struct ablk *)((char *)b + size);
	if (next->size & F_FREE) {
		list_remove(a, next);
		size += bsize(next);
	}
	b->size = size | F_FREE; /* the block before a free block is never free */
	next = bnext(b);
	next->prev_size = size;
	next->size |= F_PREV_FREE;
	list_insert(a, b);
	kvd_spin_unlock(&a->lock);
}
