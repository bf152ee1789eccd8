/* The heap: power-of-two size classes over vmspace_alloc chunks, big blocks mapped alone. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lib/string.h>
#include <mc/errno.h>
#include <mc/lock.h>
#include <mc/stdio.h>
#include <mc/stdlib.h>
#include <mc/sys.h>

/*
 * Every block starts with a 16-byte header, so payloads stay 16-byte
 * aligned. Small blocks are 32 B .. 64 KiB (header included), a power of two
 * each; a free small block keeps its list link in its payload. Bigger
 * requests get a mapping of their own whose length the header records.
 */
#define MIN_SHIFT  5
#define MAX_SHIFT  16
#define NR_CLASSES (MAX_SHIFT - MIN_SHIFT + 1)
#define CLASS_BIG  0xffffffffu
#define CHUNK_SIZE (256 * 1024)
#define PAGE_SIZE  4096

#define MAGIC_USED 0x4d43616cu /* "MCal" */
#define MAGIC_FREE 0x4d436672u /* "MCfr" */

struct block {
	uint64_t size; /* bytes including this header */
	uint32_t magic;
	uint32_t cls; /* size-class index or CLASS_BIG */
};
_Static_assert(sizeof(struct block) == 16, "payload alignment");

struct free_block {
	struct block hdr;
	struct free_block *next;
};

static struct free_block *free_lists[NR_CLASSES];
/* The unused tail of the newest chunk, carved from the front. */
static char *bump, *bump_end;

static void heap_corrupt(const char *what, void *ptr)
{
	printf("malloc: %s %p\n", what, ptr);
	abort();
}

/* Smallest class whose blocks hold need bytes; need <= 1 << MAX_SHIFT. */
static unsigned int class_of(size_t need)
{
	unsigned int shift = 64 - __builtin_clzl(need - 1);

	return shift < MIN_SHIFT ? 0 : shift - MIN_SHIFT;
}

static size_t class_size(unsigned int cls)
{
	return (size_t)1 << (cls + MIN_SHIFT);
}

static void push_free(struct free_block *b, unsigned int cls)
{
	b->hdr.size = class_size(cls);
	b->hdr.magic = MAGIC_FREE;
	b->hdr.cls = cls;
	b->next = free_lists[cls];
	free_lists[cls] = b;
}

/*
 * Hand what is left of the current chunk to the free lists: the remainder is
 * a multiple of the smallest block, so the binary decomposition covers it.
 */
static void retire_chunk_tail(void)
{
	size_t left = bump_end - bump;
	int cls;

	for (cls = NR_CLASSES - 1; cls >= 0; cls--) {
		if (left >= class_size(cls)) {
			push_free((struct free_block *)bump, cls);
			bump += class_size(cls);
			left -= class_size(cls);
		}
	}
}

/* A fresh block of class cls from the current chunk or a new one. */
static struct block *carve(unsigned int cls)
{
	size_t size = class_size(cls);
	struct block *b;
	char *chunk;

	if ((size_t)(bump_end - bump) < size) {
		chunk = vmspace_alloc(CHUNK_SIZE, PROT_READ | PROT_WRITE);
		if (!chunk)
			return NULL;
		retire_chunk_tail();
		bump = chunk;
		bump_end = chunk + CHUNK_SIZE;
	}
	b = (struct block *)bump;
	bump += size;
	return b;
}

static struct block *alloc_small(size_t need)
{
	unsigned int cls = class_of(need);
	struct free_block *f = free_lists[cls];
	struct block *b;

	if (f) {
		if (f->hdr.magic != MAGIC_FREE || f->hdr.cls != cls)
			heap_corrupt("free list corrupted at", f);
		free_lists[cls] = f->next;
		b = &f->hdr;
	} else {
		b = carve(cls);
		if (!b)
			return NULL;
	}
	b->size = class_size(cls);
	b->cls = cls;
	return b;
}

static struct block *alloc_big(size_t need)
{
	size_t len = (need + PAGE_SIZE - 1) & ~(size_t)(PAGE_SIZE - 1);
	struct block *b = vmspace_alloc(len, PROT_READ | PROT_WRITE);

	if (!b)
		return NULL;
	b->size = len;
	b->cls = CLASS_BIG;
	return b;
}

/* The heap is the process's: threads take turns. */
static struct mc_lock heap_lock = MC_LOCK_INIT;

static void *malloc_locked(size_t size)
{
	struct block *b;

	if (size > SIZE_MAX - sizeof(*b) - PAGE_SIZE) {
		errno = ENOMEM;
		return NULL;
	}
	if (size + sizeof(*b) <= class_size(NR_CLASSES - 1))
		b = alloc_small(size + sizeof(*b));
	else
		b = alloc_big(size + sizeof(*b));
	if (!b) {
		errno = ENOMEM;
		return NULL;
	}
	b->magic = MAGIC_USED;
	return b + 1;
}

void *malloc(size_t size)
{
	mc_lock(&heap_lock);
	void *p = malloc_locked(size);
	mc_unlock(&heap_lock);
	return p;
}

/* The header of a live block, or abort if ptr is not one. */
static struct block *block_of(void *ptr)
{
	struct block *b = (struct block *)ptr - 1;

	if (((uintptr_t)ptr & 15) || b->magic != MAGIC_USED)
		heap_corrupt("invalid pointer or double free:", ptr);
	return b;
}

static void free_locked(void *ptr)
{
	struct block *b = block_of(ptr);
	if (b->cls == CLASS_BIG) {
		b->magic = MAGIC_FREE;
		if (vmspace_free(b, b->size) < 0)
			heap_corrupt("cannot unmap big block", ptr);
		return;
	}
	if (b->cls >= NR_CLASSES)
		heap_corrupt("corrupted block header", ptr);
	push_free((struct free_block *)b, b->cls);
}

void free(void *ptr)
{
	if (!ptr)
		return;
	mc_lock(&heap_lock);
	free_locked(ptr);
	mc_unlock(&heap_lock);
}

void *calloc(size_t n, size_t size)
{
	size_t total;
	void *p;

	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	p = malloc(total);
	if (p)
		memset(p, 0, total);
	return p;
}

/* Grows by moving; shrinking (and size 0) keeps the block as it is. */
void *realloc(void *ptr, size_t size)
{
	struct block *b;
	size_t have;
	void *n;

	if (!ptr)
		return malloc(size);
	mc_lock(&heap_lock);
	b = block_of(ptr);
	mc_unlock(&heap_lock);
	have = b->size - sizeof(*b);
	if (size <= have)
		return ptr;
	n = malloc(size);
	if (!n)
		return NULL;
	memcpy(n, ptr, have);
	free(ptr);
	return n;
}
