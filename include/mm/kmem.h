/* Kernel heap: size-class slabs and page-backed large blocks over page_alloc. */
#pragma once

#include <kernel/types.h>

/* Alignment of every pointer kmalloc returns. */
#define KMEM_ALIGN 16

/* Largest size served from a slab; bigger requests take whole pages. */
#define KMEM_MAX_SMALL 2048

struct kmem_stats {
	size_t bytes_in_use; /* live objects: slab class sizes + large sizes */
	size_t objects;	     /* live allocations */
	size_t pages_held;   /* pages currently taken from page_alloc */
	size_t bad_frees;    /* kfree calls reported to kmem_report_bad_free */
};

/* Reset the heap; call once after page_init and before the first kmalloc. */
void kmem_init(void);

/*
 * size bytes aligned to KMEM_ALIGN, not zeroed; NULL when memory runs out or
 * size is absurd.  kmalloc(0) returns a unique pointer to zero usable bytes
 * that must be passed to kfree like any other.
 */
void *kmalloc(size_t size);

/* kmalloc, then zero the size bytes. */
void *kzalloc(size_t size);

/*
 * Free p from kmalloc/kzalloc; kfree(NULL) does nothing.  A pointer that is
 * already free, points inside an object, or never came from kmalloc is
 * reported to kmem_report_bad_free and otherwise ignored.
 */
void kfree(void *p);

void kmem_stats(struct kmem_stats *out);

/*
 * Give the empty slab each size class keeps for its next kmalloc back to
 * the page allocator; returns the pages freed. For exact page accounting
 * (the summary's "pages free" line): after a trim, only live objects hold
 * pages.
 */
size_t kmem_trim(void);

/*
 * Called (without heap locks held) on a bad kfree; why says what was wrong.
 * The kernel panics here; host tests record the call and return.
 */
void kmem_report_bad_free(void *p, const char *why);
