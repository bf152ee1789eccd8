/* Page-table walking and editing for 4-level paging. */
#include <arch/paging.h>
#include <mm/page.h>
#include <mm/phys.h>
#include <uapi/errno.h>

/* Intermediate entries are permissive; leaf entries carry the real rights. */
#define PT_TABLE_FLAGS (PTE_P | PTE_W | PTE_U)

static uint64_t *table_of(uint64_t entry)
{
	return phys_to_virt(entry & PTE_ADDR_MASK);
}

/* Entry for va at the level whose index is taken at `shift`, creating
 * missing tables on the way when `create`. */
static uint64_t *walk(uint64_t *pml4, uintptr_t va, int stop_shift, bool create)
{
	uint64_t *table = pml4;
	for (int shift = PML4_SHIFT; shift > stop_shift; shift -= 9) {
		uint64_t *e = &table[PT_INDEX(va, shift)];
		if (!(*e & PTE_P)) {
			if (!create)
				return NULL;
			paddr_t pa = page_alloc_zeroed(1);
			if (!pa)
				return NULL;
			*e = pa | PT_TABLE_FLAGS;
		} else if (*e & PTE_PS) {
			return NULL; /* a large page is in the way */
		}
		table = table_of(*e);
	}
	return &table[PT_INDEX(va, stop_shift)];
}

int pt_map(uint64_t *pml4, uintptr_t va, paddr_t pa, uint64_t flags)
{
	uint64_t *e = walk(pml4, va, PT_SHIFT, true);
	if (!e)
		return -ENOMEM;
	if (*e & PTE_P)
		return -EEXIST;
	*e = (pa & PTE_ADDR_MASK) | flags | PTE_P;
	return 0;
}

int pt_map_large(uint64_t *pml4, uintptr_t va, paddr_t pa, uint64_t flags)
{
	uint64_t *e = walk(pml4, va, PD_SHIFT, true);
	if (!e)
		return -ENOMEM;
	if (*e & PTE_P)
		return -EEXIST;
	*e = (pa & PTE_ADDR_MASK) | flags | PTE_P | PTE_PS;
	return 0;
}

uint64_t *pt_leaf(uint64_t *pml4, uintptr_t va)
{
	return walk(pml4, va, PT_SHIFT, false);
}

uint64_t pt_unmap(uint64_t *pml4, uintptr_t va)
{
	uint64_t *e = walk(pml4, va, PT_SHIFT, false);
	if (!e)
		return 0;
	uint64_t old = *e;
	*e = 0;
	return old;
}

uint64_t pt_lookup(const uint64_t *pml4, uintptr_t va, paddr_t *pa)
{
	const uint64_t *table = pml4;
	for (int shift = PML4_SHIFT; shift >= PT_SHIFT; shift -= 9) {
		uint64_t e = table[PT_INDEX(va, shift)];
		if (!(e & PTE_P))
			return 0;
		if (shift == PT_SHIFT || (e & PTE_PS)) {
			uint64_t mask = (1UL << shift) - 1;
			if (pa)
				*pa = ((e & PTE_ADDR_MASK) & ~mask) | (va & mask);
			return e;
		}
		table = table_of(e);
	}
	return 0;
}

static void free_level(uint64_t *table, int shift)
{
	for (int i = 0; i < PT_ENTRIES; i++) {
		uint64_t e = table[i];
		if (!(e & PTE_P) || (e & PTE_PS))
			continue;
		if (shift > PD_SHIFT)
			free_level(table_of(e), shift - 9);
		page_free(e & PTE_ADDR_MASK, 1); /* the next-level table */
	}
}

void pt_free_user_tables(uint64_t *pml4)
{
	for (int i = 0; i < PT_ENTRIES / 2; i++) {
		uint64_t e = pml4[i];
		if (!(e & PTE_P))
			continue;
		free_level(table_of(e), PDPT_SHIFT);
		page_free(e & PTE_ADDR_MASK, 1);
		pml4[i] = 0;
	}
}
