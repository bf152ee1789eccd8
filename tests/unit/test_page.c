/* Host unit tests of the physical page allocator over a fake physical memory. */
/* unit-sources: mm/page.c */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <mm/page.h>
#include <uapi/errno.h>

uintptr_t host_direct_map_base;

#define MiB	(1024UL * 1024)
#define LIMIT	(32 * MiB)
#define NPAGES	(LIMIT / PAGE_SIZE)
#define META_PA 0x600000UL
#define PATTERN 0x5a

struct range {
	uint64_t base;
	uint64_t len;
};

/* The fake boot memory map: ragged edges, holes, a range beyond LIMIT. */
static const struct range usable[] = {
    {0x0, 0x9fc00},
    {0x100000, 0x600000},
    {0x800800, 0x1000000 - 0x800800},
    {0x1100000, 0x1000000},
};

/* Kernel image, a module with ragged edges, the metadata, boot info. */
static const struct range reserved[] = {
    {0x100000, 0x100000},
    {0x400123, 0x3000},
    {META_PA, 2 * NPAGES / 8},
    {0x1ffff00, 0x200},
};

static uint8_t *ram;
static bool expected[NPAGES]; /* the model: which pages may be handed out */
static size_t expected_count;

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static bool page_inside(uint64_t pa, const struct range *r)
{
	return pa >= r->base && pa + PAGE_SIZE <= r->base + r->len;
}

/* Independent, page-by-page statement of what page_add/page_reserve mean. */
static bool model_allocatable(size_t pfn)
{
	uint64_t pa = (uint64_t)pfn * PAGE_SIZE;
	bool in_ram = false;
	size_t i;

	for (i = 0; i < sizeof(usable) / sizeof(usable[0]); i++)
		in_ram |= page_inside(pa, &usable[i]);
	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (overlaps(pa, PAGE_SIZE, reserved[i].base, reserved[i].len))
			return false;
	return in_ram && pfn != 0;
}

static int group_setup(void **state)
{
	size_t pfn;

	(void)state;
	ram = aligned_alloc(PAGE_SIZE, LIMIT);
	if (!ram)
		return -1;
	host_direct_map_base = (uintptr_t)ram;
	for (pfn = 0; pfn < NPAGES; pfn++) {
		expected[pfn] = model_allocatable(pfn);
		expected_count += expected[pfn];
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	free(ram);
	return 0;
}

/* Boot-style initialisation with the metadata inside the fake RAM. */
static int setup(void **state)
{
	size_t i;

	(void)state;
	host_direct_map_base = (uintptr_t)ram;
	memset(ram, PATTERN, LIMIT);
	if (page_init(ram + META_PA, page_meta_bytes(LIMIT), LIMIT))
		return -1;
	for (i = 0; i < sizeof(usable) / sizeof(usable[0]); i++)
		page_add_free(usable[i].base, usable[i].len);
	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		page_reserve(reserved[i].base, reserved[i].len);
	return 0;
}

static void test_meta_size(void **state)
{
	(void)state;
	assert_int_equal(page_meta_bytes(LIMIT), 2 * NPAGES / 8);
	assert_int_equal(page_meta_bytes(0), 0);
	assert_int_equal(page_meta_bytes(PAGE_SIZE), 16);
	/* 1 GiB of RAM costs 64 KiB of metadata. */
	assert_int_equal(page_meta_bytes(1024 * MiB), 64 * 1024);
}

static void test_init_rejects_bad_meta(void **state)
{
	size_t need = page_meta_bytes(LIMIT);

	(void)state;
	assert_int_equal(page_init(NULL, need, LIMIT), -EINVAL);
	assert_int_equal(page_init(ram + META_PA, need - 1, LIMIT), -EINVAL);
	assert_int_equal(page_init(ram + META_PA + 4, need, LIMIT), -EINVAL);
}

static void test_counts_after_init(void **state)
{
	(void)state;
	assert_true(expected_count > 4000);
	assert_int_equal(page_total_count(), expected_count);
	assert_int_equal(page_free_count(), expected_count);
	assert_int_equal(page_bad_free_count(), 0);
}

/* page_init and the memory-map calls write nothing but the metadata. */
static void test_init_touches_no_pages(void **state)
{
	size_t meta = page_meta_bytes(LIMIT);
	size_t i;

	(void)state;
	for (i = 0; i < LIMIT; i++) {
		if (i >= META_PA && i < META_PA + meta)
			continue;
		if (ram[i] != PATTERN)
			fail_msg("byte at %#zx was written", i);
	}
}

/* Allocate single pages until none are left, checking every page. */
static size_t drain_singles(bool *seen)
{
	size_t n = 0;
	paddr_t pa;

	while ((pa = page_alloc(1)) != 0) {
		size_t pfn = pa / PAGE_SIZE;

		assert_true(pa % PAGE_SIZE == 0);
		assert_true(pfn < NPAGES);
		assert_true(expected[pfn]);
		assert_false(seen[pfn]);
		assert_true(page_is_allocated(pa));
		seen[pfn] = true;
		n++;
	}
	return n;
}

static void test_exhaustion(void **state)
{
	static bool seen[NPAGES];
	size_t pfn, n;

	(void)state;
	memset(seen, 0, sizeof(seen));
	n = drain_singles(seen);
	assert_int_equal(n, expected_count);
	assert_int_equal(page_free_count(), 0);
	assert_int_equal(page_alloc(1), 0);
	assert_int_equal(page_alloc(2), 0);
	assert_int_equal(page_alloc_zeroed(1), 0);

	for (pfn = 0; pfn < NPAGES; pfn++)
		if (seen[pfn])
			assert_int_equal(page_free(pfn * PAGE_SIZE, 1), 0);
	assert_int_equal(page_free_count(), expected_count);
	assert_int_equal(page_total_count(), expected_count);
	assert_int_equal(page_bad_free_count(), 0);

	/* A second round hands out exactly the same set. */
	memset(seen, 0, sizeof(seen));
	assert_int_equal(drain_singles(seen), expected_count);
}

/* Check a fresh contiguous run and mark it in owner[]. */
static void check_run(paddr_t pa, size_t n, size_t align, bool *owner)
{
	size_t pfn = pa / PAGE_SIZE, i;

	assert_true(pa != 0);
	assert_true(pa % align == 0);
	assert_true(pfn + n <= NPAGES);
	for (i = pfn; i < pfn + n; i++) {
		assert_true(expected[i]);
		assert_false(owner[i]);
		assert_true(page_is_allocated(i * PAGE_SIZE));
		owner[i] = true;
	}
}

static void test_contiguous_aligned(void **state)
{
	static const struct {
		size_t n, align;
	} cases[] = {
	    {64, 64 * 1024}, {64, 64 * 1024}, {1, 2 * MiB},   {3, 16 * 1024}, {16, 4096},
	    {5, 0},	     {1, 1},	      {512, 2 * MiB}, {7, 32 * 1024}, {64, 64 * 1024},
	};
	static bool owner[NPAGES];
	paddr_t pa[sizeof(cases) / sizeof(cases[0])];
	size_t i, before = page_free_count();

	(void)state;
	memset(owner, 0, sizeof(owner));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t align = cases[i].align < PAGE_SIZE ? PAGE_SIZE : cases[i].align;

		pa[i] = page_alloc_aligned(cases[i].n, cases[i].align);
		check_run(pa[i], cases[i].n, align, owner);
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(page_free(pa[i], cases[i].n), 0);
	assert_int_equal(page_free_count(), before);
}

/* The largest free run in the map is between 0x1100000 and 0x1fff000. */
static void test_contiguous_limits(void **state)
{
	size_t big = (0x1fff000 - 0x1100000) / PAGE_SIZE;
	paddr_t pa;

	(void)state;
	assert_int_equal(page_alloc(big + 1), 0);
	pa = page_alloc(big);
	assert_int_equal(pa, 0x1100000);
	assert_int_equal(page_free(pa, big), 0);
	/* Only one 8 MiB-aligned page is usable (0x1800000); 0 is never. */
	pa = page_alloc_aligned(1, 8 * MiB);
	assert_int_equal(pa, 0x1800000);
	assert_int_equal(page_alloc_aligned(1, 8 * MiB), 0);
	assert_int_equal(page_free(pa, 1), 0);
	assert_int_equal(page_alloc_aligned(1, 64 * MiB), 0);
}

static void test_bad_alloc_args(void **state)
{
	size_t before = page_free_count();

	(void)state;
	assert_int_equal(page_alloc(0), 0);
	assert_int_equal(page_alloc(SIZE_MAX), 0);
	assert_int_equal(page_alloc(expected_count + 1), 0);
	assert_int_equal(page_alloc_aligned(1, 3 * PAGE_SIZE), 0);
	assert_int_equal(page_alloc_aligned(1, SIZE_MAX), 0);
	assert_int_equal(page_alloc_aligned(1, (size_t)1 << 63), 0);
	assert_int_equal(page_alloc_aligned(SIZE_MAX, 2 * PAGE_SIZE), 0);
	assert_int_equal(page_free_count(), before);
}

/* A private map with one 64-page RAM range, for exact layout checks. */
static const paddr_t frag_base = 0x40000;
#define FRAG_PAGES 64

static void setup_small(void)
{
	assert_int_equal(page_init(ram + META_PA, page_meta_bytes(LIMIT), LIMIT), 0);
	page_add_free(frag_base, FRAG_PAGES * PAGE_SIZE);
	assert_int_equal(page_free_count(), FRAG_PAGES);
}

static void test_fragmentation(void **state)
{
	size_t i;
	paddr_t pa;

	(void)state;
	setup_small();
	for (i = 0; i < FRAG_PAGES; i++)
		assert_int_equal(page_alloc(1), frag_base + i * PAGE_SIZE);
	for (i = 0; i < FRAG_PAGES; i += 2)
		assert_int_equal(page_free(frag_base + i * PAGE_SIZE, 1), 0);
	assert_int_equal(page_free_count(), FRAG_PAGES / 2);

	/* No two free pages are adjacent. */
	assert_int_equal(page_alloc(2), 0);
	assert_int_equal(page_alloc_aligned(1, 2 * PAGE_SIZE) % (2 * PAGE_SIZE), 0);

	/* Free page 11: pages 10, 11, 12 form the only run of 2 or more. */
	assert_int_equal(page_free(frag_base + 11 * PAGE_SIZE, 1), 0);
	assert_int_equal(page_alloc(4), 0);
	pa = page_alloc(2);
	assert_true(pa == frag_base + 10 * PAGE_SIZE || pa == frag_base + 11 * PAGE_SIZE);
	assert_int_equal(page_alloc(2), 0);
	assert_int_equal(page_free(pa, 2), 0);

	/* Aligned: the run 10..12 holds exactly one 8 KiB-aligned pair. */
	pa = page_alloc_aligned(2, 2 * PAGE_SIZE);
	assert_int_equal(pa, frag_base + 10 * PAGE_SIZE);
	assert_int_equal(page_alloc_aligned(2, 2 * PAGE_SIZE), 0);
}

static void test_double_free(void **state)
{
	paddr_t a, b;
	size_t before;

	(void)state;
	a = page_alloc(1);
	assert_int_equal(page_free(a, 1), 0);
	before = page_free_count();
	assert_int_equal(page_free(a, 1), -EINVAL);
	assert_int_equal(page_bad_free_count(), 1);
	assert_int_equal(page_free_count(), before);

	/* Part of a run already freed. */
	b = page_alloc(4);
	assert_int_equal(page_free(b, 4), 0);
	assert_int_equal(page_free(b + PAGE_SIZE, 1), -EINVAL);

	/* A range running past its allocation frees nothing at all. */
	b = page_alloc(2);
	assert_true(page_is_allocated(b + PAGE_SIZE));
	if (!page_is_allocated(b + 2 * PAGE_SIZE)) {
		assert_int_equal(page_free(b, 3), -EINVAL);
		assert_true(page_is_allocated(b));
	}
	assert_int_equal(page_free(b, 2), 0);
	assert_false(page_is_allocated(b));
}

static void test_free_unallocatable(void **state)
{
	size_t before = page_free_count();
	paddr_t a = page_alloc(1);

	(void)state;
	assert_int_equal(page_free(0, 1), -EINVAL);	    /* page 0 */
	assert_int_equal(page_free(0x100000, 1), -EINVAL);  /* kernel */
	assert_int_equal(page_free(0x402000, 1), -EINVAL);  /* module */
	assert_int_equal(page_free(META_PA, 1), -EINVAL);   /* metadata */
	assert_int_equal(page_free(0x9f000, 1), -EINVAL);   /* partial page */
	assert_int_equal(page_free(0xa0000, 1), -EINVAL);   /* hole */
	assert_int_equal(page_free(0x1050000, 1), -EINVAL); /* hole */
	assert_int_equal(page_free(LIMIT, 1), -EINVAL);	    /* beyond */
	assert_int_equal(page_free(UINT64_MAX & ~(PAGE_SIZE - 1), 1), -EINVAL);
	assert_int_equal(page_free(a + 8, 1), -EINVAL);	   /* misaligned */
	assert_int_equal(page_free(a, 0), -EINVAL);	   /* empty */
	assert_int_equal(page_free(a, SIZE_MAX), -EINVAL); /* overflow */
	assert_int_equal(page_free(a - PAGE_SIZE, 2), -EINVAL);
	assert_int_equal(page_bad_free_count(), 13);
	assert_int_equal(page_free_count(), before - 1);
	assert_int_equal(page_free(a, 1), 0);
	assert_int_equal(page_free_count(), before);
}

static void test_zeroed(void **state)
{
	paddr_t pa = page_alloc(3);
	uint8_t *p = phys_to_virt(pa);
	size_t i;

	(void)state;
	memset(p, 0xee, 3 * PAGE_SIZE);
	assert_int_equal(page_free(pa, 3), 0);
	pa = page_alloc_zeroed(3);
	assert_true(pa != 0);
	p = phys_to_virt(pa);
	for (i = 0; i < 3 * PAGE_SIZE; i++)
		assert_int_equal(p[i], 0);
	/* page_alloc itself does not zero. */
	memset(p, 0xee, PAGE_SIZE);
	assert_int_equal(page_free(pa, 3), 0);
	assert_int_equal(page_free_count(), expected_count);
}

static void test_map_edges(void **state)
{
	paddr_t a;

	(void)state;
	setup_small();
	/* Adding a range twice, or a sub-range, changes nothing. */
	page_add_free(frag_base, FRAG_PAGES * PAGE_SIZE);
	page_add_free(frag_base + 100, PAGE_SIZE * 3);
	assert_int_equal(page_total_count(), FRAG_PAGES);
	/* Less than a whole page, or nothing at all. */
	page_add_free(0x200010, PAGE_SIZE);
	page_add_free(0x300000, 0);
	page_add_free(LIMIT, PAGE_SIZE);
	page_add_free(UINT64_MAX - 5, 100);
	assert_int_equal(page_total_count(), FRAG_PAGES);
	/* Page 0 is never usable. */
	page_add_free(0, PAGE_SIZE);
	assert_int_equal(page_total_count(), FRAG_PAGES);
	/* A huge length is clipped to the limit without overflow. */
	page_add_free(LIMIT - 2 * PAGE_SIZE, UINT64_MAX);
	assert_int_equal(page_total_count(), FRAG_PAGES + 2);
	page_reserve(LIMIT - PAGE_SIZE, UINT64_MAX);
	page_reserve(UINT64_MAX - 5, 100);
	page_reserve(0x300000, 0);
	assert_int_equal(page_total_count(), FRAG_PAGES + 1);

	/* Reserving an allocated page makes its later free invalid. */
	a = page_alloc(1);
	page_reserve(a + 1, 1);
	assert_int_equal(page_total_count(), FRAG_PAGES);
	assert_int_equal(page_free_count(), FRAG_PAGES);
	assert_int_equal(page_free(a, 1), -EINVAL);
}

/* 64 GiB of "RAM" that must never be touched: only metadata is written. */
static void test_large_memory_untouched(void **state)
{
	const paddr_t limit = 64ULL * 1024 * MiB;
	size_t need = page_meta_bytes(limit), i;
	uint64_t *meta = malloc(need);
	paddr_t pa, prev = 0;

	(void)state;
	assert_non_null(meta);
	host_direct_map_base = 0; /* any page access would fault */
	assert_int_equal(page_init(meta, need, limit), 0);
	page_add_free(0x100000, limit - 0x100000);
	page_reserve(0x100000, 0x400000);
	assert_int_equal(page_total_count(), limit / PAGE_SIZE - 0x500);
	for (i = 0; i < 200000; i++) {
		pa = page_alloc(1);
		assert_true(pa > prev); /* next fit walks upwards */
		prev = pa;
	}
	pa = page_alloc_aligned(64, 64 * 1024);
	assert_true(pa != 0 && pa % (64 * 1024) == 0);
	assert_int_equal(page_free(pa, 64), 0);
	assert_int_equal(page_free_count(), page_total_count() - 200000);
	free(meta);
	host_direct_map_base = (uintptr_t)ram;
}

/* Random runs and frees against a model of who owns each page. */
static void test_random(void **state)
{
	enum { SLOTS = 64, ROUNDS = 20000 };
	static const size_t aligns[] = {0, 4096, 8192, 65536, 262144};
	static bool owner[NPAGES];
	paddr_t pa[SLOTS] = {0};
	size_t n[SLOTS] = {0};
	size_t used = 0, r, s;

	(void)state;
	memset(owner, 0, sizeof(owner));
	srand(12345);
	for (r = 0; r < ROUNDS; r++) {
		s = (size_t)rand() % SLOTS;
		if (pa[s]) {
			assert_int_equal(page_free(pa[s], n[s]), 0);
			for (size_t i = 0; i < n[s]; i++)
				owner[pa[s] / PAGE_SIZE + i] = false;
			used -= n[s];
			pa[s] = 0;
			continue;
		}
		n[s] = rand() % 4 ? 1 : 1 + (size_t)rand() % 300;
		size_t align = aligns[(size_t)rand() % 5];
		pa[s] = page_alloc_aligned(n[s], align);
		if (!pa[s])
			continue;
		check_run(pa[s], n[s], align < PAGE_SIZE ? PAGE_SIZE : align, owner);
		used += n[s];
		assert_int_equal(page_free_count(), expected_count - used);
	}
	for (s = 0; s < SLOTS; s++)
		if (pa[s])
			assert_int_equal(page_free(pa[s], n[s]), 0);
	assert_int_equal(page_free_count(), expected_count);
	assert_int_equal(page_bad_free_count(), 0);
}

#define T(f) cmocka_unit_test_setup(f, setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_meta_size),
	    T(test_init_rejects_bad_meta),
	    T(test_counts_after_init),
	    T(test_init_touches_no_pages),
	    T(test_exhaustion),
	    T(test_contiguous_aligned),
	    T(test_contiguous_limits),
	    T(test_bad_alloc_args),
	    T(test_fragmentation),
	    T(test_double_free),
	    T(test_free_unallocatable),
	    T(test_zeroed),
	    T(test_map_edges),
	    T(test_large_memory_untouched),
	    T(test_random),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
