/* Host unit tests of the kernel heap over a fake physical memory. */
/* unit-sources: mm/page.c mm/kmem.c */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <mm/kmem.h>
#include <mm/page.h>

uintptr_t host_direct_map_base;

#define MiB	   (1024UL * 1024)
#define FAKE_BASE  (1 * MiB)
#define RAM_BYTES  (16 * MiB)
#define LIMIT	   (FAKE_BASE + RAM_BYTES)
#define SLAB_BYTES (8 * 1024) /* slab and heap-region size in mm/kmem.c */

static uint8_t *ram;
static size_t pages_at_start;

/* What kmem_report_bad_free saw. */
static int bad_calls;
static void *bad_ptr;
static const char *bad_why;

void kmem_report_bad_free(void *p, const char *why)
{
	bad_calls++;
	bad_ptr = p;
	bad_why = why;
}

static int group_setup(void **state)
{
	(void)state;
	ram = aligned_alloc(PAGE_SIZE, RAM_BYTES);
	return ram ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	free(ram);
	return 0;
}

/* RAM at [1 MiB, 17 MiB) with the page metadata in its first page. */
static int setup(void **state)
{
	size_t meta = page_meta_bytes(LIMIT);

	(void)state;
	host_direct_map_base = (uintptr_t)ram - FAKE_BASE;
	memset(ram, 0xcc, RAM_BYTES);
	if (page_init(ram, meta, LIMIT))
		return -1;
	page_add_free(FAKE_BASE, RAM_BYTES);
	page_reserve(FAKE_BASE, meta);
	kmem_init();
	pages_at_start = page_free_count();
	bad_calls = 0;
	bad_ptr = NULL;
	bad_why = NULL;
	return 0;
}

/* A byte pattern that differs between objects and along each object. */
static uint8_t pat(size_t id, size_t i)
{
	return (uint8_t)(id * 131 + i * 7 + (i >> 8) + 1);
}

static void fill(void *p, size_t size, size_t id)
{
	uint8_t *b = p;
	size_t i;

	for (i = 0; i < size; i++)
		b[i] = pat(id, i);
}

static void verify(const void *p, size_t size, size_t id)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < size; i++)
		if (b[i] != pat(id, i))
			fail_msg("object %zu (%zu bytes) corrupt at byte %zu", id, size, i);
}

static bool in_ram(const void *p, size_t size)
{
	const uint8_t *b = p;

	return b >= ram && size <= RAM_BYTES && b <= ram + RAM_BYTES - size;
}

/* Everything is back: no live objects, at most one slab per class kept. */
static void assert_heap_empty(void)
{
	struct kmem_stats st;

	kmem_stats(&st);
	assert_int_equal(st.objects, 0);
	assert_int_equal(st.bytes_in_use, 0);
	assert_true(st.pages_held <= 8 * SLAB_BYTES / PAGE_SIZE);
	assert_int_equal(page_free_count() + st.pages_held, pages_at_start);
}

/* Every size from 0 to 9000, a window of 200 live objects at a time. */
static void test_every_size(void **state)
{
	enum { WINDOW = 200, MAX = 9000 };
	void *live[WINDOW] = {0};
	size_t size[WINDOW] = {0};
	size_t n, i;

	(void)state;
	for (n = 0; n <= MAX; n++) {
		i = n % WINDOW;
		if (live[i]) {
			verify(live[i], size[i], i + size[i]);
			kfree(live[i]);
		}
		live[i] = kmalloc(n);
		assert_non_null(live[i]);
		assert_true((uintptr_t)live[i] % KMEM_ALIGN == 0);
		assert_true(in_ram(live[i], n));
		size[i] = n;
		fill(live[i], n, i + n);
	}
	for (i = 0; i < WINDOW; i++) {
		verify(live[i], size[i], i + size[i]);
		kfree(live[i]);
	}
	assert_int_equal(bad_calls, 0);
	assert_heap_empty();
}

/* Full objects of every class packed side by side stay intact. */
static void test_neighbours(void **state)
{
	static const size_t sizes[] = {1,   16,	  17,	32,   100,  128,  255,	256, 511,
				       512, 1000, 1024, 2047, 2048, 2049, 4096, 5000};
	enum { PER = 40 };
	void *p[sizeof(sizes) / sizeof(sizes[0])][PER];
	size_t s, k;

	(void)state;
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
		for (k = 0; k < PER; k++) {
			p[s][k] = kmalloc(sizes[s]);
			assert_non_null(p[s][k]);
			fill(p[s][k], sizes[s], s * PER + k);
		}
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
		for (k = 0; k < PER; k += 2) {
			verify(p[s][k], sizes[s], s * PER + k);
			kfree(p[s][k]);
		}
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
		for (k = 1; k < PER; k += 2) {
			verify(p[s][k], sizes[s], s * PER + k);
			kfree(p[s][k]);
		}
	assert_int_equal(bad_calls, 0);
	assert_heap_empty();
}

static size_t random_size(void)
{
	switch (rand() % 8) {
	case 0:
		return (size_t)rand() % 20000;
	case 1:
	case 2:
		return (size_t)rand() % 2100;
	default:
		return (size_t)rand() % 200;
	}
}

static void test_random(void **state)
{
	enum { SLOTS = 500, ROUNDS = 40000 };
	static void *live[SLOTS];
	static size_t size[SLOTS], id[SLOTS];
	size_t r, s, failures = 0;

	(void)state;
	memset(live, 0, sizeof(live));
	srand(4242);
	for (r = 0; r < ROUNDS; r++) {
		s = (size_t)rand() % SLOTS;
		if (live[s]) {
			verify(live[s], size[s], id[s]);
			kfree(live[s]);
			live[s] = NULL;
			continue;
		}
		size[s] = random_size();
		id[s] = r;
		live[s] = rand() % 2 ? kmalloc(size[s]) : kzalloc(size[s]);
		if (!live[s]) {
			failures++;
			continue;
		}
		assert_true((uintptr_t)live[s] % KMEM_ALIGN == 0);
		fill(live[s], size[s], id[s]);
	}
	assert_int_equal(failures, 0);
	for (s = 0; s < SLOTS; s++)
		if (live[s]) {
			verify(live[s], size[s], id[s]);
			kfree(live[s]);
		}
	assert_int_equal(bad_calls, 0);
	assert_heap_empty();
}

static void test_zero_size_unique(void **state)
{
	void *a = kmalloc(0), *b = kmalloc(0), *c = kzalloc(0);

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_ptr_not_equal(a, b);
	assert_ptr_not_equal(b, c);
	kfree(a);
	kfree(b);
	kfree(c);
	kfree(NULL);
	assert_int_equal(bad_calls, 0);
	assert_heap_empty();
}

static void test_kzalloc_zeroes(void **state)
{
	static const size_t sizes[] = {24, 300, 2048, 3000, 70000};
	size_t s, i;

	(void)state;
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint8_t *p = kmalloc(sizes[s]);

		memset(p, 0xff, sizes[s]);
		kfree(p);
		p = kzalloc(sizes[s]);
		assert_non_null(p);
		for (i = 0; i < sizes[s]; i++)
			assert_int_equal(p[i], 0);
		kfree(p);
	}
	assert_heap_empty();
}

static void test_stats(void **state)
{
	struct kmem_stats st;
	void *a, *b;

	(void)state;
	a = kmalloc(100);
	b = kmalloc(10000);
	kmem_stats(&st);
	assert_int_equal(st.objects, 2);
	assert_int_equal(st.bytes_in_use, 128 + 10000);
	assert_int_equal(st.pages_held, SLAB_BYTES / PAGE_SIZE + 3);
	assert_int_equal(page_free_count() + st.pages_held, pages_at_start);
	kfree(a);
	kfree(b);
	assert_heap_empty();
}

static void test_large(void **state)
{
	static const size_t sizes[] = {2049, 4064, 4065, 4096, 65536, 1 * MiB, 3 * MiB + 5};
	void *p[sizeof(sizes) / sizeof(sizes[0])];
	size_t s;

	(void)state;
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		p[s] = kmalloc(sizes[s]);
		assert_non_null(p[s]);
		assert_true((uintptr_t)p[s] % KMEM_ALIGN == 0);
		assert_true(in_ram(p[s], sizes[s]));
		fill(p[s], sizes[s], s);
	}
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		verify(p[s], sizes[s], s);
		kfree(p[s]);
	}
	/* More than all RAM fails cleanly. */
	assert_null(kmalloc(RAM_BYTES));
	assert_int_equal(bad_calls, 0);
	assert_heap_empty();
}

static void test_huge_sizes(void **state)
{
	(void)state;
	assert_null(kmalloc(SIZE_MAX));
	assert_null(kmalloc(SIZE_MAX - 15));
	assert_null(kmalloc(SIZE_MAX - PAGE_SIZE));
	assert_null(kmalloc(SIZE_MAX / 2));
	assert_null(kmalloc((size_t)1 << 40));
	assert_null(kzalloc(SIZE_MAX));
	assert_int_equal(bad_calls, 0);
	assert_heap_empty();
}

/* Allocate until NULL, then free everything and do it again. */
static size_t exhaust(size_t size, void ***out)
{
	size_t cap = RAM_BYTES / 16, n = 0;
	void **v = malloc(cap * sizeof(*v));
	void *p;

	assert_non_null(v);
	while ((p = kmalloc(size)) != NULL) {
		assert_true(n < cap);
		*(size_t *)p = n;
		v[n++] = p;
	}
	*out = v;
	return n;
}

static void release(void **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		assert_int_equal(*(size_t *)v[i], i);
		kfree(v[i]);
	}
	free(v);
}

static void test_exhaustion(void **state)
{
	static const size_t sizes[] = {16, 1000, 2048, 5000};
	void **v;
	size_t s, n, again;

	(void)state;
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		n = exhaust(sizes[s], &v);
		assert_true(n * sizes[s] > RAM_BYTES / 3);
		assert_null(kmalloc(sizes[s]));
		release(v, n);
		assert_heap_empty();
		again = exhaust(sizes[s], &v);
		assert_int_equal(again, n);
		release(v, again);
	}
	assert_int_equal(bad_calls, 0);
}

static void expect_bad(void *p, const char *why)
{
	int before = bad_calls;

	kfree(p);
	assert_int_equal(bad_calls, before + 1);
	assert_ptr_equal(bad_ptr, p);
	if (why)
		assert_string_equal(bad_why, why);
}

static void test_double_free(void **state)
{
	struct kmem_stats st;
	void *a = kmalloc(32), *keep = kmalloc(32), *big = kmalloc(9000);

	(void)state;
	kfree(a);
	expect_bad(a, "double free");
	kfree(big);
	expect_bad(big, NULL);
	kfree(keep);
	kmem_stats(&st);
	assert_int_equal(st.bad_frees, 2);
	assert_heap_empty();
}

static void test_bad_pointers(void **state)
{
	uint8_t *small = kmalloc(64), *big = kmalloc(20000);
	paddr_t pa = page_alloc_zeroed(4);
	uint8_t stack_obj[32];

	(void)state;
	expect_bad(small + 16, "pointer inside an object");
	expect_bad(small + 1, "misaligned pointer");
	expect_bad(small - SLAB_BYTES, NULL);
	expect_bad(big + 16, "pointer inside a large block");
	expect_bad(big + SLAB_BYTES, NULL);
	expect_bad(phys_to_virt(pa + 64), "not a heap pointer");
	expect_bad(phys_to_virt(FAKE_BASE), NULL);	   /* reserved metadata */
	expect_bad(phys_to_virt(LIMIT - PAGE_SIZE), NULL); /* free page */
	expect_bad(stack_obj, NULL);			   /* not in RAM at all */
	/* The real objects survive all of that. */
	kfree(small);
	kfree(big);
	assert_int_equal(page_free(pa, 4), 0);
	assert_int_equal(bad_calls, 9);
	assert_heap_empty();
}

/* Slabs that become empty go back to the page allocator. */
static void test_slabs_returned(void **state)
{
	enum { N = 5000 };
	static void *v[N];
	struct kmem_stats st;
	size_t i;

	(void)state;
	for (i = 0; i < N; i++)
		v[i] = kmalloc(64);
	kmem_stats(&st);
	assert_true(st.pages_held >= N * 64 / PAGE_SIZE);
	for (i = 0; i < N; i++)
		kfree(v[i]);
	kmem_stats(&st);
	assert_int_equal(st.pages_held, SLAB_BYTES / PAGE_SIZE);
	assert_heap_empty();
}

/* kmem_trim gives back the empty slab each class keeps, and only that. */
static void test_trim(void **state)
{
	struct kmem_stats st;
	void *a, *b, *c;

	(void)state;
	assert_int_equal(kmem_trim(), 0);
	a = kmalloc(64);
	b = kmalloc(512);
	c = kmalloc(512);
	kfree(a);
	kfree(b);
	/* The 64-byte class keeps its empty slab; the 512-byte one is in use. */
	assert_int_equal(kmem_trim(), SLAB_BYTES / PAGE_SIZE);
	kmem_stats(&st);
	assert_int_equal(st.pages_held, SLAB_BYTES / PAGE_SIZE);
	assert_int_equal(kmem_trim(), 0);
	kfree(c);
	assert_int_equal(kmem_trim(), SLAB_BYTES / PAGE_SIZE);
	assert_int_equal(page_free_count(), pages_at_start);
	/* The heap works on after a trim. */
	a = kmalloc(64);
	assert_non_null(a);
	kfree(a);
	assert_heap_empty();
}

#define T(f) cmocka_unit_test_setup(f, setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_every_size),	    T(test_neighbours),
	    T(test_random),	    T(test_zero_size_unique),
	    T(test_kzalloc_zeroes), T(test_stats),
	    T(test_large),	    T(test_huge_sizes),
	    T(test_exhaustion),	    T(test_double_free),
	    T(test_bad_pointers),   T(test_slabs_returned),
	    T(test_trim),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
