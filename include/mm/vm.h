/* Kernel address space: the direct map, the kernel image, device MMIO. */
#pragma once

#include <kernel/types.h>

struct mem_region {
	paddr_t base;
	uint64_t len;
};

/* Build the final kernel page tables for the given RAM ranges and switch
 * to them. Text becomes read-only, everything else no-execute. */
void vm_init(const struct mem_region *ram, size_t n);
/* Map device registers uncached; returns the virtual address or NULL. */
void *vm_map_mmio(paddr_t pa, size_t len);
/* Whether [va, va+len) lies in the direct map of RAM. */
bool vm_direct_mapped(paddr_t pa, size_t len);
/* A kernel stack of size bytes in the stack window, above an unmapped guard
 * page; returns its top (16-aligned), or 0 without memory. Never freed. */
uint64_t vm_stack_alloc(size_t size);
/* Whether addr is in a guard page under a kernel stack (the boot CPU's too). */
bool vm_stack_guard(uintptr_t addr);
/* The end of the highest RAM range that starts below `limit`. */
paddr_t vm_ram_top_below(paddr_t limit);
/* The kernel's top-level table, whose upper half every process shares. */
uint64_t *vm_kernel_pml4(void);
paddr_t vm_kernel_pml4_phys(void);
/* Map (or unmap) one low page at its own address, executable, for the
 * AP trampoline, which turns paging on while running there. */
void vm_identity_map_low(paddr_t pa, bool map);
/* Switch to the kernel-only address space (before freeing a process's). */
