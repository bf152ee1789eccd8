/*
 * Boot-time memory set-up: RAM from the Multiboot2 memory map goes to the
 * page allocator, minus what must survive (kernel image, boot information,
 * modules, the allocator's own bitmap and the first MiB), then vm_init builds
 * the final kernel page tables.
 */
#include <arch/memlayout.h>
#include <kernel/boot.h>
#include <kernel/printk.h>
#include <mm/kmem.h>
#include <mm/page.h>
#include <mm/phys.h>
#include <mm/vm.h>

#define LOW_MEMORY_END 0x100000UL
/* The boot page tables reach only the first 4 GiB through the direct map. */
#define BOOT_MAPPED_END 0x100000000UL
#define MAX_KEEP	(MB2_MAX_MODULES + 4)

extern const char _kernel_phys_start[], _kernel_phys_end[];

static struct mem_region keep[MAX_KEEP];
static size_t keep_count;

static void keep_range(paddr_t base, uint64_t len)
{
	BUG_ON(keep_count >= MAX_KEEP);
	keep[keep_count++] = (struct mem_region){base, len};
}

static bool overlaps_kept(paddr_t base, uint64_t len)
{
	for (size_t i = 0; i < keep_count; i++)
		if (base < keep[i].base + keep[i].len && keep[i].base < base + len)
			return true;
	return false;
}

static bool fits(const struct mb2_mmap_entry *e, paddr_t at, uint64_t len)
{
	return at >= e->base && at + len <= e->base + e->length && at + len <= BOOT_MAPPED_END &&
	       !overlaps_kept(at, len);
}

/* Place `len` bytes of allocator metadata in available RAM that nothing
 * kept uses: try each region's start and just past each kept range. */
static paddr_t place_meta(uint64_t len)
{
	for (uint32_t i = 0; i < boot_info.mmap_count; i++) {
		const struct mb2_mmap_entry *e = &boot_info.mmap[i];
		if (e->type != MB2_MMAP_AVAILABLE)
			continue;
		paddr_t at = ALIGN_UP(MAX(e->base, LOW_MEMORY_END), PAGE_SIZE);
		if (fits(e, at, len))
			return at;
		for (size_t k = 0; k < keep_count; k++) {
			at = ALIGN_UP(keep[k].base + keep[k].len, PAGE_SIZE);
			if (fits(e, at, len))
				return at;
		}
	}
	return 0;
}

static const char *mmap_type_name(uint32_t type)
{
	switch (type) {
	case MB2_MMAP_AVAILABLE:
		return "available";
	case MB2_MMAP_ACPI_RECLAIMABLE:
		return "ACPI reclaimable";
	case MB2_MMAP_NVS:
		return "ACPI NVS";
	case MB2_MMAP_BADRAM:
		return "bad RAM";
	default:
		return "reserved";
	}
}

static void print_mmap(void)
{
	printk("memory map:\n");
	for (uint32_t i = 0; i < boot_info.mmap_count; i++) {
		const struct mb2_mmap_entry *e = &boot_info.mmap[i];
		printk("  %016lx-%016lx %s\n", e->base, e->base + e->length - 1,
		       mmap_type_name(e->type));
	}
}

void boot_mm_init(paddr_t mbi_pa)
{
	static struct mem_region ram[MB2_MAX_MMAP];
	size_t nram = 0;
	paddr_t limit = 0;

	if (!boot_info.has_mmap || boot_info.mmap_count == 0)
		panic("boot: the boot loader gave no memory map");
	print_mmap();

	keep_range(0, LOW_MEMORY_END);
	keep_range((paddr_t)_kernel_phys_start,
		   (paddr_t)_kernel_phys_end - (paddr_t)_kernel_phys_start);
	keep_range(mbi_pa, boot_info.total_size);
	for (uint32_t i = 0; i < boot_info.module_count; i++)
		keep_range(boot_info.modules[i].start,
			   boot_info.modules[i].end - boot_info.modules[i].start);

	for (uint32_t i = 0; i < boot_info.mmap_count; i++) {
		const struct mb2_mmap_entry *e = &boot_info.mmap[i];
		if (e->type == MB2_MMAP_AVAILABLE && e->base + e->length > limit)
			limit = e->base + e->length;
		if (e->type == MB2_MMAP_AVAILABLE || e->type == MB2_MMAP_ACPI_RECLAIMABLE ||
		    e->type == MB2_MMAP_NVS)
			ram[nram++] = (struct mem_region){e->base, e->length};
	}

	size_t meta_len = ALIGN_UP(page_meta_bytes(limit), PAGE_SIZE);
	paddr_t meta = place_meta(meta_len);
	if (!meta)
		panic("boot: no room for %zu bytes of page-allocator metadata", meta_len);
	keep_range(meta, meta_len);

	if (page_init(phys_to_virt(meta), meta_len, limit))
		panic("boot: page allocator refused its metadata");
	for (uint32_t i = 0; i < boot_info.mmap_count; i++) {
		const struct mb2_mmap_entry *e = &boot_info.mmap[i];
		if (e->type == MB2_MMAP_AVAILABLE)
			page_add_free(e->base, e->length);
	}
	for (size_t k = 0; k < keep_count; k++)
		page_reserve(keep[k].base, keep[k].len);

	vm_init(ram, nram);
	kmem_init();
	printk("memory: %zu MiB usable, %zu MiB free, page bitmap %zu KiB at %#lx\n",
	       page_total_count() * PAGE_SIZE >> 20, page_free_count() * PAGE_SIZE >> 20,
	       meta_len >> 10, meta);
}
