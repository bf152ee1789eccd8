/* Kernel heap: 8 KiB slabs per size class, page runs with a header above that. */
#ifdef HOST_TEST
#include <string.h>
#else
#include <lib/string.h>
#endif

#include <kernel/spinlock.h>
#include <mm/kmem.h>
#include <mm/page.h>

/*
 * Every heap block -- a slab or a large allocation -- is a run of pages
 * aligned to REGION_BYTES that starts with a header whose first word is a
 * magic, and every pointer handed out lies in the first REGION_BYTES of its
 * block.  So kfree finds the header by rounding the physical address down,
 * and for a valid pointer that header is always genuine, never object data.
 * The price: a large block of k pages starts on a region boundary, so up to
 * SLAB_PAGES - 1 pages after it are left to other page_alloc users.
 */
#define SLAB_PAGES   2
#define REGION_BYTES (SLAB_PAGES * PAGE_SIZE)

#define SLAB_MAGIC  0x534c4142u /* "SLAB" */
#define LARGE_MAGIC 0x4c415247u /* "LARG" */
#define DEAD_MAGIC  0x44454144u /* "DEAD": released, caught on a second kfree */

#define BITMAP_WORDS	   (REGION_BYTES / KMEM_ALIGN / 64)
#define DIV_ROUND_UP(x, d) (((x) + (d)-1) / (d))

struct slab {
	uint32_t magic;
	uint16_t cls;	   /* index into classes[] */
	uint16_t nfree;	   /* free objects; class lock */
	struct slab *next; /* partial list; class lock */
	struct slab *prev;
	uint64_t used[BITMAP_WORDS]; /* bit set: object handed out */
};

#define OBJ_OFFSET ALIGN_UP(sizeof(struct slab), KMEM_ALIGN)

struct large {
	uint32_t magic;
	uint32_t unused;
	size_t npages;
	size_t size;
};

#define LARGE_HDR ALIGN_UP(sizeof(struct large), KMEM_ALIGN)

STATIC_ASSERT((REGION_BYTES - OBJ_OFFSET) / KMEM_ALIGN <= BITMAP_WORDS * 64,
	      "slab bitmap too small for the smallest class");
STATIC_ASSERT(REGION_BYTES - OBJ_OFFSET >= 2 * KMEM_MAX_SMALL,
	      "a slab must hold several of the largest objects");

struct kmem_class {
	struct spinlock lock;
	size_t size;	      /* object size, a multiple of KMEM_ALIGN */
	size_t nobj;	      /* objects per slab */
	struct slab *partial; /* slabs with a free object; lock */
	size_t nempty;	      /* slabs with every object free; lock */
};

static const size_t class_sizes[] = {16, 32, 64, 128, 256, 512, 1024, 2048};

#define NCLASSES ARRAY_SIZE(class_sizes)

STATIC_ASSERT(2048 == KMEM_MAX_SMALL, "last class must be KMEM_MAX_SMALL");

static struct kmem_class classes[NCLASSES];

/* Statistics, updated atomically outside the class locks. */
static struct kmem_stats stats;

static void stat_add(size_t *c, size_t v)
{
	__atomic_fetch_add(c, v, __ATOMIC_RELAXED);
}

static void stat_sub(size_t *c, size_t v)
{
	__atomic_fetch_sub(c, v, __ATOMIC_RELAXED);
}

void kmem_init(void)
{
	size_t i;

	for (i = 0; i < NCLASSES; i++) {
		struct kmem_class *c = &classes[i];

		c->lock = (struct spinlock)SPINLOCK_INIT;
		c->size = class_sizes[i];
		c->nobj = (REGION_BYTES - OBJ_OFFSET) / c->size;
		c->partial = NULL;
		c->nempty = 0;
	}
	memset(&stats, 0, sizeof(stats));
}

static size_t size_to_class(size_t size)
{
	size_t i = 0;

	while (class_sizes[i] < size)
		i++;
	return i;
}

static void list_push(struct kmem_class *c, struct slab *s)
{
	s->prev = NULL;
	s->next = c->partial;
	if (c->partial)
		c->partial->prev = s;
	c->partial = s;
}

static void list_del(struct kmem_class *c, struct slab *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		c->partial = s->next;
	if (s->next)
		s->next->prev = s->prev;
}

/* A fresh, empty slab for class index cls, or NULL. */
static struct slab *slab_new(size_t cls)
{
	paddr_t pa = page_alloc_aligned(SLAB_PAGES, REGION_BYTES);
	struct slab *s;

	if (!pa)
		return NULL;
	s = phys_to_virt(pa);
	memset(s, 0, sizeof(*s));
	s->magic = SLAB_MAGIC;
	s->cls = (uint16_t)cls;
	s->nfree = (uint16_t)classes[cls].nobj;
	stat_add(&stats.pages_held, SLAB_PAGES);
	return s;
}

static void slab_release(struct slab *s)
{
	s->magic = DEAD_MAGIC;
	page_free(virt_to_phys(s), SLAB_PAGES);
	stat_sub(&stats.pages_held, SLAB_PAGES);
}

/* Hand out the lowest free object of s; caller holds c->lock, s->nfree > 0. */
static void *slab_take(struct kmem_class *c, struct slab *s)
{
	size_t w = 0, bit;

	while (!~s->used[w])
		w++;
	bit = (size_t)__builtin_ctzll(~s->used[w]);
	s->used[w] |= 1ULL << bit;
	if (s->nfree == c->nobj)
		c->nempty--;
	if (--s->nfree == 0)
		list_del(c, s);
	return (char *)s + OBJ_OFFSET + (w * 64 + bit) * c->size;
}

static void *kmalloc_small(size_t cls)
{
	struct kmem_class *c = &classes[cls];
	unsigned long flags = spin_lock_irqsave(&c->lock);
	struct slab *s = c->partial;
	void *p = NULL;

	if (!s) {
		s = slab_new(cls);
		if (s) {
			list_push(c, s);
			c->nempty++;
		}
	}
	if (s)
		p = slab_take(c, s);
	spin_unlock_irqrestore(&c->lock, flags);
	if (p) {
		stat_add(&stats.bytes_in_use, c->size);
		stat_add(&stats.objects, 1);
	}
	return p;
}

static void *kmalloc_large(size_t size)
{
	struct large *l;
	size_t npages;
	paddr_t pa;

	if (size > SIZE_MAX - LARGE_HDR - PAGE_SIZE)
		return NULL;
	npages = DIV_ROUND_UP(size + LARGE_HDR, PAGE_SIZE);
	pa = page_alloc_aligned(npages, REGION_BYTES);
	if (!pa)
		return NULL;
	l = phys_to_virt(pa);
	l->magic = LARGE_MAGIC;
	l->npages = npages;
	l->size = size;
	stat_add(&stats.pages_held, npages);
	stat_add(&stats.bytes_in_use, size);
	stat_add(&stats.objects, 1);
	return (char *)l + LARGE_HDR;
}

void *kmalloc(size_t size)
{
	if (size <= KMEM_MAX_SMALL)
		return kmalloc_small(size_to_class(size));
	return kmalloc_large(size);
}

void *kzalloc(size_t size)
{
	void *p = kmalloc(size);

	if (p)
		memset(p, 0, size);
	return p;
}

/* Object index of p in s, or a reason it is not an object start. */
static const char *slab_index(struct kmem_class *c, struct slab *s, const void *p, size_t *idx)
{
	const char *objs = (const char *)s + OBJ_OFFSET;
	size_t off;

	if ((const char *)p < objs)
		return "pointer into a slab header";
	off = (size_t)((const char *)p - objs);
	if (off % c->size)
		return "pointer inside an object";
	if (off / c->size >= c->nobj)
		return "pointer past the last object of a slab";
	*idx = off / c->size;
	return NULL;
}

/* Return object idx to s; keep one empty slab per class, release others. */
static void slab_put(struct kmem_class *c, struct slab *s, size_t idx)
{
	s->used[idx / 64] &= ~(1ULL << (idx % 64));
	if (s->nfree++ == 0)
		list_push(c, s);
	if (s->nfree < c->nobj)
		return;
	if (c->nempty) {
		list_del(c, s);
		slab_release(s);
	} else {
		c->nempty++;
	}
}

size_t kmem_trim(void)
{
	size_t i, freed = 0;

	for (i = 0; i < NCLASSES; i++) {
		struct kmem_class *c = &classes[i];
		unsigned long flags = spin_lock_irqsave(&c->lock);
		struct slab *s = c->partial, *next;

		for (; s && c->nempty; s = next) {
			next = s->next;
			if (s->nfree < c->nobj)
				continue;
			list_del(c, s);
			slab_release(s);
			c->nempty--;
			freed += SLAB_PAGES;
		}
		spin_unlock_irqrestore(&c->lock, flags);
	}
	return freed;
}

static const char *kfree_small(struct slab *s, void *p)
{
	struct kmem_class *c;
	unsigned long flags;
	const char *why;
	size_t idx = 0;

	if (s->cls >= NCLASSES)
		return "corrupt slab header";
	c = &classes[s->cls];
	flags = spin_lock_irqsave(&c->lock);
	why = slab_index(c, s, p, &idx);
	if (!why && s->magic != SLAB_MAGIC)
		why = "slab released during kfree";
	if (!why && !(s->used[idx / 64] & (1ULL << (idx % 64))))
		why = "double free";
	if (!why)
		slab_put(c, s, idx);
	spin_unlock_irqrestore(&c->lock, flags);
	if (!why) {
		stat_sub(&stats.bytes_in_use, c->size);
		stat_sub(&stats.objects, 1);
	}
	return why;
}

static const char *kfree_large(struct large *l, void *p)
{
	uint32_t expect = LARGE_MAGIC;
	size_t npages, size;

	if ((char *)p != (char *)l + LARGE_HDR)
		return "pointer inside a large block";
	/* Claim the block atomically so that racing kfrees see DEAD. */
	if (!__atomic_compare_exchange_n(&l->magic, &expect, DEAD_MAGIC, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_RELAXED))
		return "double free";
	npages = l->npages;
	size = l->size;
	if (page_free(virt_to_phys(l), npages))
		return "corrupt large block header";
	stat_sub(&stats.pages_held, npages);
	stat_sub(&stats.bytes_in_use, size);
	stat_sub(&stats.objects, 1);
	return NULL;
}

/* Free p, or say why p cannot be freed. */
static const char *kfree_checked(void *p)
{
	paddr_t pa = virt_to_phys(p);
	paddr_t base = ALIGN_DOWN(pa, (paddr_t)REGION_BYTES);
	void *hdr = phys_to_virt(base);

	if (!IS_ALIGNED(pa, KMEM_ALIGN))
		return "misaligned pointer";
	/* Never read a header in a page that is free, reserved or not RAM. */
	if (!page_is_allocated(base))
		return "not a live heap pointer (wild, or its block was freed)";
	switch (__atomic_load_n((uint32_t *)hdr, __ATOMIC_ACQUIRE)) {
	case SLAB_MAGIC:
		return kfree_small(hdr, p);
	case LARGE_MAGIC:
		return kfree_large(hdr, p);
	case DEAD_MAGIC:
		return "double free";
	default:
		return "not a heap pointer";
	}
}

void kfree(void *p)
{
	const char *why;

	if (!p)
		return;
	why = kfree_checked(p);
	if (why) {
		stat_add(&stats.bad_frees, 1);
		kmem_report_bad_free(p, why);
	}
}

void kmem_stats(struct kmem_stats *out)
{
	out->bytes_in_use = __atomic_load_n(&stats.bytes_in_use, __ATOMIC_RELAXED);
	out->objects = __atomic_load_n(&stats.objects, __ATOMIC_RELAXED);
	out->pages_held = __atomic_load_n(&stats.pages_held, __ATOMIC_RELAXED);
	out->bad_frees = __atomic_load_n(&stats.bad_frees, __ATOMIC_RELAXED);
}
