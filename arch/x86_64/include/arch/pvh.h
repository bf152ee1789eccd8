/* PVH direct boot (Xen's x86 HVM start-of-day ABI, as QEMU's -kernel uses it):
 * the layouts of struct hvm_start_info and its tables. */
#pragma once

#define PVH_START_MAGIC		 0x336ec578
#define XEN_ELFNOTE_PHYS32_ENTRY 18

#ifndef __ASSEMBLER__
#include <arch/multiboot2.h>
#include <kernel/types.h>

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr; /* version >= 1 */
	uint32_t memmap_entries;
	uint32_t reserved;
} __packed;
STATIC_ASSERT(sizeof(struct hvm_start_info) == 56, "PVH start info layout");

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
} __packed;

struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* E820 types, the same values as Multiboot2's */
	uint32_t reserved;
} __packed;

#define PVH_MAX_STRING 4096

/* Reads physical memory for the parser; NULL when [pa, pa+len) is unusable. */
typedef const void *(*pvh_map_fn)(paddr_t pa, size_t len);

/*
 * Turn the PVH start info at `pa` into the Multiboot2 view the rest of the
 * kernel uses. The kernel command line is split at " -- ": what follows is
 * the command line (manifest and argv) of the first module, since PVH gives
 * modules none of their own. Returns 0 or -EINVAL with a reason.
 */
int pvh_parse(paddr_t pa, pvh_map_fn map, struct mb2_info *out, const char **why);
#endif
