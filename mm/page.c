/* Physical page allocator: two bitmaps (allocatable, free) with next-fit search. */
#ifdef HOST_TEST
#include <string.h>
#else
#include <lib/string.h>
#endif

#include <kernel/spinlock.h>
#include <mm/page.h>
#include <uapi/errno.h>

#define BITS_PER_WORD	   64
#define NO_PAGE		   SIZE_MAX
#define DIV_ROUND_UP(x, d) (((x) + (d)-1) / (d))

/*
 * A page is in one of three states:
 *   avail=0 free=0  reserved, a hole, or beyond RAM: never handed out
 *   avail=1 free=1  free
 *   avail=1 free=0  handed out by page_alloc*
 * Every field below is protected by lock.
 */
static struct {
	struct spinlock lock;
	uint64_t *avail_map; /* bit set: allocatable RAM */
	uint64_t *free_map;  /* bit set: free; implies the avail bit */
	size_t npages;	     /* pages managed: [0, npages) */
	size_t nwords;	     /* words in each bitmap */
	size_t total;	     /* pages with the avail bit set */
	size_t nfree;	     /* pages with the free bit set */
	size_t hint;	     /* next-fit: where the next search starts */
	size_t bad_frees;    /* rejected page_free calls */
} pg = {.lock = SPINLOCK_INIT};

static unsigned int popcount64(uint64_t x)
{
	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (unsigned int)((x * 0x0101010101010101ULL) >> 56);
}

/* Bits of word w that lie in the page range [start, end); w must overlap it. */
static uint64_t range_mask(size_t w, size_t start, size_t end)
{
	size_t lo = w * BITS_PER_WORD;
	size_t hi = lo + BITS_PER_WORD;
	uint64_t m = ~0ULL;

	if (start > lo)
		m &= ~0ULL << (start - lo);
	if (end < hi)
		m &= ~0ULL >> (hi - end);
	return m;
}

/* Iterate w over the bitmap words overlapping [start, end), start < end. */
#define for_each_word(w, start, end)                                                               \
	for ((w) = (start) / BITS_PER_WORD; (w) < DIV_ROUND_UP((end), BITS_PER_WORD); (w)++)

static void mark_usable(size_t start, size_t end)
{
	size_t w;

	for_each_word(w, start, end)
	{
		uint64_t new = range_mask(w, start, end) & ~pg.avail_map[w];
		unsigned int n = popcount64(new);

		pg.avail_map[w] |= new;
		pg.free_map[w] |= new;
		pg.total += n;
		pg.nfree += n;
	}
}

static void mark_reserved(size_t start, size_t end)
{
	size_t w;

	for_each_word(w, start, end)
	{
		uint64_t m = range_mask(w, start, end);

		pg.total -= popcount64(pg.avail_map[w] & m);
		pg.nfree -= popcount64(pg.free_map[w] & m);
		pg.avail_map[w] &= ~m;
		pg.free_map[w] &= ~m;
	}
}

/* Hand out [start, end); every page must be free. */
static void take_range(size_t start, size_t end)
{
	size_t w;

	for_each_word(w, start, end) pg.free_map[w] &= ~range_mask(w, start, end);
	pg.nfree -= end - start;
}

/* Give back [start, end); every page must be allocated. */
static void give_range(size_t start, size_t end)
{
	size_t w;

	for_each_word(w, start, end) pg.free_map[w] |= range_mask(w, start, end);
	pg.nfree += end - start;
}

/* True if every page of [start, end) is allocatable and handed out. */
static bool range_allocated(size_t start, size_t end)
{
	size_t w;

	for_each_word(w, start, end)
	{
		uint64_t m = range_mask(w, start, end);

		if ((pg.avail_map[w] & m) != m || (pg.free_map[w] & m) != 0)
			return false;
	}
	return true;
}

/* First page in [start, end) that is not free, or end if all are free. */
static size_t first_busy(size_t start, size_t end)
{
	size_t w;

	for_each_word(w, start, end)
	{
		uint64_t busy = ~pg.free_map[w] & range_mask(w, start, end);

		if (busy)
			return w * BITS_PER_WORD + (size_t)__builtin_ctzll(busy);
	}
	return end;
}

/* Any single free page, searching word by word from the hint. */
static size_t find_one(void)
{
	size_t w = pg.hint / BITS_PER_WORD;
	size_t i;

	for (i = 0; i < pg.nwords; i++, w++) {
		if (w == pg.nwords)
			w = 0;
		if (pg.free_map[w])
			return w * BITS_PER_WORD + (size_t)__builtin_ctzll(pg.free_map[w]);
	}
	return NO_PAGE;
}

/*
 * First run of n free pages starting at a multiple of align with
 * from <= start and start + n <= to.  Each failed candidate resumes after
 * the busy page that broke it, so the search is linear in the range.
 */
static size_t find_run(size_t from, size_t to, size_t n, size_t align)
{
	size_t start = ALIGN_UP(from, align);

	while (start < to && to - start >= n) {
		size_t busy = first_busy(start, start + n);

		if (busy == start + n)
			return start;
		start = ALIGN_UP(busy + 1, align);
	}
	return NO_PAGE;
}

/* Caller holds the lock; 1 <= align <= npages, align a power of two. */
static size_t alloc_locked(size_t n, size_t align)
{
	size_t pfn;

	if (n == 0 || n > pg.nfree)
		return NO_PAGE;
	if (n == 1 && align == 1) {
		pfn = find_one();
	} else {
		pfn = find_run(pg.hint, pg.npages, n, align);
		if (pfn == NO_PAGE)
			pfn = find_run(0, MIN(pg.npages, pg.hint + n - 1), n, align);
	}
	if (pfn == NO_PAGE)
		return NO_PAGE;
	take_range(pfn, pfn + n);
	pg.hint = pfn + n < pg.npages ? pfn + n : 0;
	return pfn;
}

size_t page_meta_bytes(paddr_t limit)
{
	size_t words = DIV_ROUND_UP((size_t)(limit / PAGE_SIZE), BITS_PER_WORD);

	return 2 * words * sizeof(uint64_t);
}

int page_init(void *meta, size_t meta_bytes, paddr_t limit)
{
	size_t need = page_meta_bytes(limit);
	size_t words = need / 2 / sizeof(uint64_t);

	if (!meta || meta_bytes < need || !IS_ALIGNED((uintptr_t)meta, 8))
		return -EINVAL;
	memset(meta, 0, need);
	pg.avail_map = meta;
	pg.free_map = pg.avail_map + words;
	pg.npages = (size_t)(limit / PAGE_SIZE);
	pg.nwords = words;
	pg.total = 0;
	pg.nfree = 0;
	pg.hint = 0;
	pg.bad_frees = 0;
	return 0;
}

/* End of [base, base + len) clipped to the managed range; base < its end. */
static uint64_t clip_end(paddr_t base, uint64_t len)
{
	uint64_t max = (uint64_t)pg.npages * PAGE_SIZE;

	return len > max - base ? max : base + len;
}

void page_add_free(paddr_t base, uint64_t len)
{
	unsigned long flags = spin_lock_irqsave(&pg.lock);
	size_t start, end;

	if (base < (uint64_t)pg.npages * PAGE_SIZE) {
		start = DIV_ROUND_UP(base, PAGE_SIZE);
		end = clip_end(base, len) / PAGE_SIZE;
		if (start == 0)
			start = 1; /* page 0 doubles as the failure value */
		if (start < end)
			mark_usable(start, end);
	}
	spin_unlock_irqrestore(&pg.lock, flags);
}

void page_reserve(paddr_t base, uint64_t len)
{
	unsigned long flags = spin_lock_irqsave(&pg.lock);
	size_t start, end;

	if (len && base < (uint64_t)pg.npages * PAGE_SIZE) {
		start = base / PAGE_SIZE;
		end = DIV_ROUND_UP(clip_end(base, len), PAGE_SIZE);
		mark_reserved(start, end);
	}
	spin_unlock_irqrestore(&pg.lock, flags);
}

paddr_t page_alloc_aligned(size_t npages, size_t align_bytes)
{
	unsigned long flags;
	size_t align, pfn = NO_PAGE;

	if (align_bytes < PAGE_SIZE)
		align_bytes = PAGE_SIZE;
	if (align_bytes & (align_bytes - 1))
		return 0;
	align = align_bytes / PAGE_SIZE;

	flags = spin_lock_irqsave(&pg.lock);
	if (align <= pg.npages)
		pfn = alloc_locked(npages, align);
	spin_unlock_irqrestore(&pg.lock, flags);
	return pfn == NO_PAGE ? 0 : (paddr_t)pfn * PAGE_SIZE;
}

paddr_t page_alloc(size_t npages)
{
	return page_alloc_aligned(npages, PAGE_SIZE);
}

paddr_t page_alloc_zeroed(size_t npages)
{
	paddr_t pa = page_alloc(npages);

	if (pa)
		memset(phys_to_virt(pa), 0, npages * PAGE_SIZE);
	return pa;
}

int page_free(paddr_t pa, size_t npages)
{
	unsigned long flags = spin_lock_irqsave(&pg.lock);
	size_t start = (size_t)(pa / PAGE_SIZE);
	int ret = -EINVAL;

	if (IS_ALIGNED(pa, PAGE_SIZE) && npages && start < pg.npages &&
	    npages <= pg.npages - start && range_allocated(start, start + npages)) {
		give_range(start, start + npages);
		ret = 0;
	} else {
		pg.bad_frees++;
	}
	spin_unlock_irqrestore(&pg.lock, flags);
	return ret;
}

bool page_is_allocated(paddr_t pa)
{
	unsigned long flags = spin_lock_irqsave(&pg.lock);
	size_t pfn = (size_t)(pa / PAGE_SIZE);
	bool ret = pfn < pg.npages && range_allocated(pfn, pfn + 1);

	spin_unlock_irqrestore(&pg.lock, flags);
	return ret;
}

/* Read one counter under the lock. */
static size_t read_counter(const size_t *c)
{
	unsigned long flags = spin_lock_irqsave(&pg.lock);
	size_t v = *c;

	spin_unlock_irqrestore(&pg.lock, flags);
	return v;
}

size_t page_free_count(void)
{
	return read_counter(&pg.nfree);
}

size_t page_total_count(void)
{
	return read_counter(&pg.total);
}

size_t page_bad_free_count(void)
{
	return read_counter(&pg.bad_frees);
}
