/* memtest: mappings are zeroed, private, freeable and reusable; malloc keeps contents intact. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include <lib/string.h>
#include <mc/errno.h>
#include <mc/stdio.h>
#include <mc/stdlib.h>
#include <mc/sys.h>

#define PAGE	      4096UL
#define USER_TOP      0x0000800000000000UL
#define LIVE_MAPPINGS 32
#define CYCLE_ROUNDS  192
#define CYCLE_SIZE    (512 * 1024UL)
#define SLOTS	      256
#define MALLOC_OPS    4000

static int failures;

__attribute__((format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
	char buf[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("memtest: FAIL %s\n", buf);
	failures++;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

/* xorshift64: a fixed seed keeps runs reproducible. */
static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* The 64-bit word expected at byte offset off of a region tagged tag. */
static uint64_t pattern(uint64_t tag, uint64_t off)
{
	return (tag << 40) ^ off ^ 0x5a5a5a5a00000000ULL;
}

static void fill(void *p, size_t len, uint64_t tag)
{
	uint64_t *w = p;

	for (size_t off = 0; off + 8 <= len; off += 8)
		w[off / 8] = pattern(tag, off);
}

/* Returns the first bad offset, or len if all match. */
static size_t verify(const void *p, size_t len, uint64_t tag)
{
	const uint64_t *w = p;

	for (size_t off = 0; off + 8 <= len; off += 8) {
		if (w[off / 8] != pattern(tag, off))
			return off;
	}
	return len;
}

static bool all_zero(const volatile uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i])
			return false;
	}
	return true;
}

/* Map len bytes, check the address, and that fresh memory reads as zeros. */
static uint8_t *map_checked(size_t len, int prot)
{
	long rc = sys_vmspace_alloc(len, prot);
	uintptr_t a = (uintptr_t)rc;

	if (rc < 0) {
		fail("vmspace_alloc(%zu, prot %d) returned %ld (%s)", len, prot, rc,
		     strerror((int)rc));
		return NULL;
	}
	if (a == 0 || a % PAGE || a + len > USER_TOP || a + len < a) {
		fail("vmspace_alloc(%zu) gave bad address %#lx", len, (unsigned long)a);
		return NULL;
	}
	if (!all_zero((const uint8_t *)a, len)) {
		fail("vmspace_alloc(%zu) at %#lx: fresh memory not zeroed", len, (unsigned long)a);
		return NULL;
	}
	return (uint8_t *)a;
}

static void unmap_checked(void *p, size_t len)
{
	long rc = sys_vmspace_free(p, len);

	if (rc != 0)
		fail("vmspace_free(%p) returned %ld", p, rc);
}

/* One mapping per size: zero on arrival, every page writable and private. */
static void test_sizes(void)
{
	static const size_t sizes[] = {
	    PAGE, 2 * PAGE, 3 * PAGE, 100, PAGE + 1, 64 * 1024, 1024 * 1024, 4 * 1024 * 1024,
	};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = (sizes[i] + PAGE - 1) & ~(PAGE - 1);
		uint8_t *p = map_checked(sizes[i], PROT_READ | PROT_WRITE);
		size_t bad;

		if (!p)
			continue;
		/* The kernel maps whole pages: the rounded length is usable. */
		fill(p, len, i + 1);
		bad = verify(p, len, i + 1);
		if (bad != len)
			fail("size %zu: bad data at offset %zu", sizes[i], bad);
		unmap_checked(p, len);
	}
	printf("memtest: sizes ok\n");
}

/* Read-only and read-execute mappings read as zeros (never written here). */
static void test_protections(void)
{
	static const int prots[] = {PROT_READ, PROT_READ | PROT_EXEC};

	for (size_t i = 0; i < sizeof(prots) / sizeof(prots[0]); i++) {
		uint8_t *p = map_checked(4 * PAGE, prots[i]);

		if (p)
			unmap_checked(p, 4 * PAGE);
	}
	printf("memtest: protections ok\n");
}

/* Many live mappings at once: distinct, not overlapping, each keeps its data. */
static void test_many_live(void)
{
	uint8_t *maps[LIVE_MAPPINGS];
	size_t lens[LIVE_MAPPINGS];
	int i, j;

	for (i = 0; i < LIVE_MAPPINGS; i++) {
		lens[i] = (size_t)(i % 4 + 1) * PAGE;
		maps[i] = map_checked(lens[i], PROT_READ | PROT_WRITE);
		if (maps[i])
			fill(maps[i], lens[i], 100 + i);
	}
	for (i = 0; i < LIVE_MAPPINGS; i++) {
		for (j = 0; j < i; j++) {
			if (maps[i] && maps[j] && maps[i] < maps[j] + lens[j] &&
			    maps[j] < maps[i] + lens[i])
				fail("mappings %d and %d overlap", i, j);
		}
	}
	/* Free the even ones first, then verify and free the odd ones. */
	for (int pass = 0; pass < 2; pass++) {
		for (i = pass; i < LIVE_MAPPINGS; i += 2) {
			if (!maps[i])
				continue;
			if (verify(maps[i], lens[i], 100 + i) != lens[i])
				fail("mapping %d lost its data (pass %d)", i, pass);
			unmap_checked(maps[i], lens[i]);
		}
	}
	printf("memtest: many live mappings ok\n");
}

/*
 * Allocate and free far more than any sane budget in total: a kernel that
 * leaks pages on free runs out. Reused memory must come back zeroed.
 */
static void test_cycle(void)
{
	for (int round = 0; round < CYCLE_ROUNDS; round++) {
		uint8_t *p = map_checked(CYCLE_SIZE, PROT_READ | PROT_WRITE);

		if (!p) {
			fail("alloc/free cycle stopped at round %d of %d", round, CYCLE_ROUNDS);
			return;
		}
		/* Dirty one word per page so a reuse without zeroing shows. */
		for (size_t off = 0; off < CYCLE_SIZE; off += PAGE)
			*(volatile uint64_t *)(p + off) = pattern(round, off);
		unmap_checked(p, CYCLE_SIZE);
	}
	printf("memtest: %d x %lu KiB alloc/free cycles ok\n", CYCLE_ROUNDS, CYCLE_SIZE / 1024);
}

struct slot {
	uint8_t *p;
	size_t size;
	uint64_t tag;
};

/* Byte i of a malloc block tagged tag; a cheap pattern that varies per byte. */
static uint8_t byte_of(uint64_t tag, size_t i)
{
	return (uint8_t)(tag * 131 + i * 7 + (i >> 8));
}

static void slot_fill(struct slot *s)
{
	for (size_t i = 0; i < s->size; i++)
		s->p[i] = byte_of(s->tag, i);
}

static bool slot_intact(const struct slot *s, size_t upto)
{
	for (size_t i = 0; i < upto; i++) {
		if (s->p[i] != byte_of(s->tag, i))
			return false;
	}
	return true;
}

/* Mostly small sizes, sometimes over the 64 KiB class limit. */
static size_t random_size(void)
{
	uint64_t r = rng();

	if (r % 64 == 0)
		return 64 * 1024 + r % (256 * 1024);
	if (r % 4 == 0)
		return r % 4096;
	return r % 200;
}

static void test_malloc(void)
{
	static struct slot slots[SLOTS];
	uint64_t tag = 1;
	int i;

	for (int op = 0; op < MALLOC_OPS && failures < 20; op++) {
		struct slot *s = &slots[rng() % SLOTS];
		size_t n;

		if (s->p && !slot_intact(s, s->size)) {
			fail("malloc block %p (size %zu) corrupted", (void *)s->p, s->size);
			s->p = NULL;
			continue;
		}
		if (!s->p)
			s->size = 0;
		switch (rng() % 3) {
		case 0: /* free and allocate anew, calloc'ed memory is zero */
			free(s->p);
			s->size = random_size();
			if (rng() % 2) {
				s->p = malloc(s->size);
			} else {
				s->p = calloc(1, s->size);
				if (s->p && !all_zero(s->p, s->size))
					fail("calloc(1, %zu) not zeroed", s->size);
			}
			break;
		case 1: /* realloc: the common prefix survives */
			n = random_size();
			s->p = realloc(s->p, n);
			if (s->p && !slot_intact(s, n < s->size ? n : s->size))
				fail("realloc to %zu lost data (was %zu)", n, s->size);
			s->size = n;
			break;
		default: /* free */
			free(s->p);
			s->p = NULL;
			continue;
		}
		if (!s->p) {
			fail("malloc(%zu) failed, errno %d", s->size, errno);
			continue;
		}
		if ((uintptr_t)s->p % 16)
			fail("malloc(%zu) returned unaligned %p", s->size, (void *)s->p);
		s->tag = tag++;
		slot_fill(s);
	}
	for (i = 0; i < SLOTS; i++) {
		if (slots[i].p && !slot_intact(&slots[i], slots[i].size))
			fail("malloc block %d corrupted at the end (size %zu)", i, slots[i].size);
		free(slots[i].p);
	}
	printf("memtest: malloc stress ok\n");
}

static void test_malloc_edges(void)
{
	uint8_t *z = calloc(1000, 16);
	void *p;

	if (!z || !all_zero(z, 16000))
		fail("calloc(1000, 16) gave %p, not zeroed memory", (void *)z);
	free(z);
	errno = 0;
	p = malloc(SIZE_MAX);
	if (p || errno != ENOMEM)
		fail("malloc(SIZE_MAX) gave %p errno %d", p, errno);
	errno = 0;
	p = calloc(SIZE_MAX / 2, 4);
	if (p || errno != ENOMEM)
		fail("calloc overflow gave %p errno %d", p, errno);
	p = malloc(0);
	if (!p)
		fail("malloc(0) returned NULL");
	free(p);
	free(NULL);
	printf("memtest: malloc edges ok\n");
}

static void test_getpid(void)
{
	long a = sys_getpid(), b;

	sys_yield();
	b = sys_getpid();
	if (a <= 0 || a != b)
		fail("getpid gave %ld then %ld", a, b);
	printf("memtest: pid %ld ok\n", a);
}

int main(void)
{
	test_getpid();
	test_sizes();
	test_protections();
	test_many_live();
	test_cycle();
	test_malloc();
	test_malloc_edges();
	test_getpid();
	if (failures) {
		printf("memtest: FAIL (%d failures)\n", failures);
		return 1;
	}
	printf("memtest: PASS\n");
	return 0;
}
