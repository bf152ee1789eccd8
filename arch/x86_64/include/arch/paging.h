/* 4-level x86-64 page tables (Intel SDM vol. 3, 4.5). */
#pragma once

#include <kernel/types.h>

#define PTE_P	      (1UL << 0)
#define PTE_W	      (1UL << 1)
#define PTE_U	      (1UL << 2)
#define PTE_PWT	      (1UL << 3)
#define PTE_PCD	      (1UL << 4)
#define PTE_A	      (1UL << 5)
#define PTE_D	      (1UL << 6)
#define PTE_PS	      (1UL << 7)
#define PTE_G	      (1UL << 8)
#define PTE_SW_FREE   (1UL << 9) /* software: not present, page to free (mm/vmspace.c) */
#define PTE_NX	      (1UL << 63)
#define PTE_ADDR_MASK 0x000ffffffffff000UL

#define PT_ENTRIES	512
#define PML4_SHIFT	39
#define PDPT_SHIFT	30
#define PD_SHIFT	21
#define PT_SHIFT	12
#define LARGE_PAGE_SIZE (1UL << PD_SHIFT)

#define PT_INDEX(va, shift) (((va) >> (shift)) & (PT_ENTRIES - 1))

/* Map one 4 KiB page; intermediate tables come from the page allocator.
 * Returns 0, -ENOMEM, or -EEXIST if something is already mapped at va. */
int pt_map(uint64_t *pml4, uintptr_t va, paddr_t pa, uint64_t flags);
/* Map one 2 MiB page (va and pa 2 MiB aligned). */
int pt_map_large(uint64_t *pml4, uintptr_t va, paddr_t pa, uint64_t flags);
/* Remove a 4 KiB mapping; returns the old entry (0 if none). No TLB flush. */
uint64_t pt_unmap(uint64_t *pml4, uintptr_t va);
/* The 4 KiB-level entry for va, or NULL if no page table covers it. */
uint64_t *pt_leaf(uint64_t *pml4, uintptr_t va);
/* Leaf entry for va (4 KiB or 2 MiB), or 0. */
uint64_t pt_lookup(const uint64_t *pml4, uintptr_t va, paddr_t *pa);
/* Free the page-table pages of the user half (slots 0..255), not the data. */
void pt_free_user_tables(uint64_t *pml4);
