/* Physical page allocator: a bitmap over all RAM, single and contiguous runs. */
#pragma once

#include <kernel/types.h>
#include <mm/phys.h>

/*
 * Boot sequence:
 *   1. n = page_meta_bytes(limit); find n bytes of RAM for the metadata.
 *   2. page_init(phys_to_virt(meta_pa), n, limit)  -- everything reserved.
 *   3. page_add_free() for every usable RAM range of the memory map.
 *   4. page_reserve() for the kernel image, modules, boot info and the
 *      metadata itself.  Reservations must come after all page_add_free()
 *      calls: a later page_add_free() would make reserved pages usable again.
 *
 * Only pages wholly below limit are managed.  Physical page 0 is never
 * handed out, so 0 is the failure value of every allocation function.
 * Allocated pages are not zeroed (use page_alloc_zeroed).  All functions
 * after page_init are safe to call concurrently and with interrupts off.
 */

/* Bytes of metadata storage page_init needs to cover [0, limit). */
size_t page_meta_bytes(paddr_t limit);

/*
 * Take over meta (8-byte aligned, at least page_meta_bytes(limit) bytes) and
 * start with every page reserved.  Only the metadata is written, never the
 * pages themselves.  Returns 0, or -EINVAL if meta is unusable.
 */
int page_init(void *meta, size_t meta_bytes, paddr_t limit);

/* Make every whole page inside [base, base + len) allocatable. */
void page_add_free(paddr_t base, uint64_t len);

/* Make every page touching [base, base + len) permanently unallocatable. */
void page_reserve(paddr_t base, uint64_t len);

/* npages contiguous pages, page aligned; returns 0 when none are free. */
paddr_t page_alloc(size_t npages);

/*
 * npages contiguous pages starting at a multiple of align_bytes (a power of
 * two; values below PAGE_SIZE mean PAGE_SIZE).  Returns 0 on failure.
 */
paddr_t page_alloc_aligned(size_t npages, size_t align_bytes);

/* Like page_alloc, but the pages are filled with zeroes. */
paddr_t page_alloc_zeroed(size_t npages);

/*
 * Return npages pages starting at pa.  Every page must currently be
 * allocated; otherwise nothing is freed, the bad-free counter is bumped and
 * -EINVAL is returned (double free, reserved page, hole, misaligned pa).
 */
int page_free(paddr_t pa, size_t npages);

/* True if the page containing pa is allocatable RAM currently handed out. */
bool page_is_allocated(paddr_t pa);

/* Pages currently free. */
size_t page_free_count(void);

/* Allocatable pages (free or handed out); reserved pages and holes excluded. */
size_t page_total_count(void);

/* Number of page_free calls rejected with -EINVAL since page_init. */
size_t page_bad_free_count(void);
