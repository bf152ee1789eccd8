/* Multiboot2 (spec 2.0): magic numbers, tag types and the boot-information parser. */
#pragma once

/* Header placed in the kernel image (Multiboot2 spec §3.1.1). */
#define MB2_HEADER_MAGIC	     0xE85250D6u
#define MB2_HEADER_ARCH_I386	     0
#define MB2_HEADER_TAG_END	     0
#define MB2_HEADER_TAG_INFO_REQUEST  1
#define MB2_HEADER_TAG_ADDRESS	     2
#define MB2_HEADER_TAG_ENTRY_ADDRESS 3
#define MB2_HEADER_TAG_CONSOLE_FLAGS 4
#define MB2_HEADER_TAG_FRAMEBUFFER   5
#define MB2_HEADER_TAG_MODULE_ALIGN  6
#define MB2_HEADER_TAG_OPTIONAL	     1 /* flags bit 0 of a header tag */

/* Value in EAX when the boot loader jumps to the kernel (§3.3). */
#define MB2_BOOT_MAGIC 0x36d76289u

/* Boot-information tag types (§3.6). */
#define MB2_TAG_END	       0
#define MB2_TAG_CMDLINE	       1
#define MB2_TAG_LOADER_NAME    2
#define MB2_TAG_MODULE	       3
#define MB2_TAG_MEMINFO	       4
#define MB2_TAG_BOOTDEV	       5
#define MB2_TAG_MMAP	       6
#define MB2_TAG_VBE	       7
#define MB2_TAG_FRAMEBUFFER    8
#define MB2_TAG_ELF_SECTIONS   9
#define MB2_TAG_APM	       10
#define MB2_TAG_EFI32	       11
#define MB2_TAG_EFI64	       12
#define MB2_TAG_SMBIOS	       13
#define MB2_TAG_ACPI_OLD       14
#define MB2_TAG_ACPI_NEW       15
#define MB2_TAG_NETWORK	       16
#define MB2_TAG_EFI_MMAP       17
#define MB2_TAG_EFI_BS	       18
#define MB2_TAG_EFI32_IH       19
#define MB2_TAG_EFI64_IH       20
#define MB2_TAG_LOAD_BASE_ADDR 21

#define MB2_TAG_ALIGN 8

/* Memory map entry types (§3.6.8). */
#define MB2_MMAP_AVAILABLE	  1
#define MB2_MMAP_RESERVED	  2
#define MB2_MMAP_ACPI_RECLAIMABLE 3
#define MB2_MMAP_NVS		  4
#define MB2_MMAP_BADRAM		  5

#define MB2_MAX_MMAP	128
#define MB2_MAX_MODULES 32

#ifndef __ASSEMBLER__

#include <kernel/types.h>

struct mb2_mmap_entry {
	uint64_t base;
	uint64_t length;
	uint32_t type; /* MB2_MMAP_* */
};

struct mb2_module {
	paddr_t start;	     /* first byte */
	paddr_t end;	     /* one past the last byte (GRUB's convention) */
	const char *cmdline; /* NUL-terminated, inside the MBI */
};

/*
 * What mb2_parse found. Pointers point into the MBI buffer, so the MBI must
 * stay mapped and untouched while they are used. Arrays that overflow keep
 * the first entries and count the rest in *_dropped (not an error).
 */
struct mb2_info {
	uint32_t total_size;
	const char *cmdline;	 /* NULL when no tag */
	const char *loader_name; /* NULL when no tag */

	bool has_meminfo;
	uint32_t mem_lower_kib;
	uint32_t mem_upper_kib;

	bool has_mmap;
	uint32_t mmap_count;
	uint32_t mmap_dropped;
	struct mb2_mmap_entry mmap[MB2_MAX_MMAP];

	uint32_t module_count;
	uint32_t modules_dropped;
	struct mb2_module modules[MB2_MAX_MODULES];

	const void *rsdp;  /* RSDP copy inside the tag, NULL when none */
	size_t rsdp_len;   /* bytes available at rsdp */
	uint32_t rsdp_tag; /* MB2_TAG_ACPI_NEW, MB2_TAG_ACPI_OLD or 0 */
};

/*
 * Parse the boot information at mbi, reading at most avail bytes. mbi must be
 * 8-byte aligned. The first tag of a single-instance kind (command line,
 * loader name, meminfo, mmap) wins; later ones are validated and ignored.
 * Returns 0, or a negative errno with a static reason in *why (why may be
 * NULL): -EINVAL for a malformed structure, -ERANGE for a size running past
 * avail or total_size.
 */
int mb2_parse(const void *mbi, size_t avail, struct mb2_info *out, const char **why);

#endif /* __ASSEMBLER__ */
