/*
 * The kernel half of every address space: a direct map of all RAM (2 MiB
 * pages, no-execute), the kernel image at -2 GiB with per-section rights,
 * and a window for uncached device MMIO.
 */
#include <arch/cpu.h>
#include <arch/memlayout.h>
#include <arch/paging.h>
#include <kernel/printk.h>
#include <kernel/spinlock.h>
#include <lib/string.h>
#include <mm/page.h>
#include <mm/phys.h>
#include <mm/vm.h>
#include <uapi/errno.h>

extern const char _text[], _etext[], _rodata[], _erodata[], _data[], _end[];
extern const char _kernel_phys_start[];
extern const char boot_stack_guard[];

#define MAX_RAM_RANGES 64

static uint64_t *kernel_pml4;
static struct mem_region ram_ranges[MAX_RAM_RANGES];
static size_t ram_range_count;
static uintptr_t mmio_next = MMIO_WINDOW_BASE;
static struct spinlock mmio_lock = SPINLOCK_INIT;
static uintptr_t stack_next = STACK_WINDOW_BASE; /* under stack_lock */
static struct spinlock stack_lock = SPINLOCK_INIT;

static void map_or_die(uintptr_t va, paddr_t pa, uint64_t flags, bool large)
{
	int err =
	    large ? pt_map_large(kernel_pml4, va, pa, flags) : pt_map(kernel_pml4, va, pa, flags);
	if (err && err != -EEXIST)
		panic("vm: cannot map %p -> %#lx (error %d)", (void *)va, pa, err);
}

/* Rights of the direct map's alias of physical page pa: read-only where
 * it is the kernel's text or read-only data, so that no mapping anywhere
 * lets the kernel's code or constants be rewritten. */
static uint64_t direct_flags(paddr_t pa)
{
	paddr_t ro_start = (uintptr_t)_text - KERNEL_VMA, ro_end = (uintptr_t)_erodata - KERNEL_VMA;
	uint64_t f = PTE_G | PTE_NX;
	return pa >= ro_start && pa < ro_end ? f : f | PTE_W;
}

static bool overlaps_kernel_ro(paddr_t pa, size_t len)
{
	paddr_t ro_start = (uintptr_t)_text - KERNEL_VMA, ro_end = (uintptr_t)_erodata - KERNEL_VMA;
	return pa < ro_end && ro_start < pa + len;
}

/* RAM in 2 MiB pages, except around the kernel image, where 4 KiB pages
 * carry per-page rights (direct_flags). */
static void map_direct(const struct mem_region *r)
{
	paddr_t start = ALIGN_DOWN(r->base, LARGE_PAGE_SIZE);
	paddr_t end = ALIGN_UP(r->base + r->len, LARGE_PAGE_SIZE);
	for (paddr_t pa = start; pa < end; pa += LARGE_PAGE_SIZE) {
		if (!overlaps_kernel_ro(pa, LARGE_PAGE_SIZE)) {
			map_or_die(DIRECT_MAP_BASE + pa, pa, PTE_W | PTE_G | PTE_NX, true);
			continue;
		}
		for (paddr_t p = pa; p < pa + LARGE_PAGE_SIZE; p += PAGE_SIZE)
			map_or_die(DIRECT_MAP_BASE + p, p, direct_flags(p), false);
	}
}

static void map_image(const char *start, const char *end, uint64_t flags)
{
	for (uintptr_t va = (uintptr_t)start; va < (uintptr_t)end; va += PAGE_SIZE)
		map_or_die(va, va - KERNEL_VMA, flags | PTE_G, false);
}

static void make_slot(uintptr_t va)
{
	uint64_t *e = &kernel_pml4[PT_INDEX(va, PML4_SHIFT)];
	if (*e & PTE_P)
		return;
	paddr_t t = page_alloc_zeroed(1);
	if (!t)
		panic("vm: no memory for the kernel window at %p", (void *)va);
	*e = t | PTE_P | PTE_W;
}

void vm_init(const struct mem_region *ram, size_t n)
{
	paddr_t pa = page_alloc_zeroed(1);
	if (!pa)
		panic("vm: no memory for the kernel page tables");
	kernel_pml4 = phys_to_virt(pa);

	ram_range_count = MIN(n, (size_t)MAX_RAM_RANGES);
	memcpy(ram_ranges, ram, ram_range_count * sizeof(*ram));
	for (size_t i = 0; i < ram_range_count; i++)
		map_direct(&ram_ranges[i]);

	map_image(_text, _etext, 0);
	map_image(_rodata, _erodata, PTE_NX);
	map_image(_data, _end, PTE_W | PTE_NX);
	pt_unmap(kernel_pml4, (uintptr_t)boot_stack_guard); /* below the boot stack */
	/* Make the windows' top-level slots exist so processes share them. */
	make_slot(MMIO_WINDOW_BASE);
	make_slot(STACK_WINDOW_BASE);

	write_cr4(read_cr4() | CR4_PGE);
	write_cr3(pa);
}

bool vm_direct_mapped(paddr_t pa, size_t len)
{
	if (pa + len < pa)
		return false;
	for (size_t i = 0; i < ram_range_count; i++) {
		const struct mem_region *r = &ram_ranges[i];
		if (pa >= r->base && pa + len <= r->base + r->len)
			return true;
	}
	return false;
}

paddr_t vm_ram_top_below(paddr_t limit)
{
	paddr_t top = 0;
	for (size_t i = 0; i < ram_range_count; i++) {
		const struct mem_region *r = &ram_ranges[i];
		if (r->base < limit && r->base + r->len > top)
			top = MIN(r->base + r->len, limit);
	}
	return top;
}

void *vm_map_mmio(paddr_t pa, size_t len)
{
	paddr_t start = ALIGN_DOWN(pa, PAGE_SIZE);
	size_t size = ALIGN_UP(pa + len, PAGE_SIZE) - start;

	unsigned long f = spin_lock_irqsave(&mmio_lock);
	uintptr_t va = mmio_next;
	if (size > MMIO_WINDOW_BASE + MMIO_WINDOW_SIZE - va) {
		spin_unlock_irqrestore(&mmio_lock, f);
		return NULL;
	}
	mmio_next += size + PAGE_SIZE; /* an unmapped guard page between */
	spin_unlock_irqrestore(&mmio_lock, f);

	for (size_t off = 0; off < size; off += PAGE_SIZE) {
		if (pt_map(kernel_pml4, va + off, start + off,
			   PTE_W | PTE_PCD | PTE_PWT | PTE_NX | PTE_G))
			return NULL;
	}
	return (void *)(va + (pa - start));
}

uint64_t vm_stack_alloc(size_t size)
{
	size_t pages = ALIGN_UP(size, PAGE_SIZE) / PAGE_SIZE;
	paddr_t pa = page_alloc(pages); /* not zeroed: a stack needs no clearing */
	if (!pa)
		return 0;
	unsigned long f = spin_lock_irqsave(&stack_lock);
	uintptr_t va = stack_next + PAGE_SIZE; /* the guard page stays unmapped */
	if (pages * PAGE_SIZE + PAGE_SIZE > STACK_WINDOW_BASE + STACK_WINDOW_SIZE - stack_next) {
		spin_unlock_irqrestore(&stack_lock, f);
		page_free(pa, pages);
		return 0;
	}
	stack_next = va + pages * PAGE_SIZE;
	spin_unlock_irqrestore(&stack_lock, f);
	for (size_t i = 0; i < pages; i++)
		if (pt_map(kernel_pml4, va + i * PAGE_SIZE, pa + i * PAGE_SIZE,
			   PTE_W | PTE_NX | PTE_G))
			return 0; /* no memory for a page table: the pages stay lost */
	return va + pages * PAGE_SIZE;
}

bool vm_stack_guard(uintptr_t addr)
{
	uintptr_t boot_guard = (uintptr_t)boot_stack_guard;
	if (addr >= boot_guard && addr < boot_guard + PAGE_SIZE)
		return true;
	if (addr < STACK_WINDOW_BASE || addr >= __atomic_load_n(&stack_next, __ATOMIC_RELAXED))
		return false;
	return !(pt_lookup(kernel_pml4, addr, NULL) & PTE_P); /* a hole between stacks */
}

uint64_t *vm_kernel_pml4(void)
{
	return kernel_pml4;
}

paddr_t vm_kernel_pml4_phys(void)
{
	return virt_to_phys(kernel_pml4);
}

void vm_identity_map_low(paddr_t pa, bool map)
{
	if (map)
		map_or_die(pa, pa, 0, false);
	else
		pt_unmap(kernel_pml4, pa);
	invlpg(pa);
}
