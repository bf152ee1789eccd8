/* ELF64 x86-64 executable validation (untrusted input) and RELATIVE relocation. */
#pragma once

#include <kernel/types.h>

/*
 * On-disk ELF64 structures (System V gABI, "ELF Header", "Program Header",
 * "Dynamic Section", "Relocation").  All fields are little-endian in the
 * files accepted here; elf.c decodes them byte by byte, so a file image
 * need not be aligned in memory.
 */
struct elf64_ehdr {
	uint8_t e_ident[16];
	uint16_t e_type;
	uint16_t e_machine;
	uint32_t e_version;
	uint64_t e_entry;
	uint64_t e_phoff;
	uint64_t e_shoff;
	uint32_t e_flags;
	uint16_t e_ehsize;
	uint16_t e_phentsize;
	uint16_t e_phnum;
	uint16_t e_shentsize;
	uint16_t e_shnum;
	uint16_t e_shstrndx;
};
STATIC_ASSERT(sizeof(struct elf64_ehdr) == 64, "gABI Elf64_Ehdr");

struct elf64_phdr {
	uint32_t p_type;
	uint32_t p_flags;
	uint64_t p_offset;
	uint64_t p_vaddr;
	uint64_t p_paddr;
	uint64_t p_filesz;
	uint64_t p_memsz;
	uint64_t p_align;
};
STATIC_ASSERT(sizeof(struct elf64_phdr) == 56, "gABI Elf64_Phdr");

struct elf64_dyn {
	int64_t d_tag;
	uint64_t d_val;
};
STATIC_ASSERT(sizeof(struct elf64_dyn) == 16, "gABI Elf64_Dyn");

struct elf64_rela {
	uint64_t r_offset;
	uint64_t r_info;
	int64_t r_addend;
};
STATIC_ASSERT(sizeof(struct elf64_rela) == 24, "gABI Elf64_Rela");

/* e_ident */
#define EI_MAG0	      0
#define EI_CLASS      4
#define EI_DATA	      5
#define EI_VERSION    6
#define EI_OSABI      7
#define EI_ABIVERSION 8
#define ELFMAG0	      0x7f
#define ELFMAG1	      'E'
#define ELFMAG2	      'L'
#define ELFMAG3	      'F'
#define ELFCLASS64    2
#define ELFDATA2LSB   1
#define EV_CURRENT    1
#define ELFOSABI_SYSV 0
#define ELFOSABI_GNU  3

/* e_type, e_machine */
#define ET_REL	  1
#define ET_EXEC	  2
#define ET_DYN	  3
#define ET_CORE	  4
#define EM_X86_64 62

/* p_type */
#define PT_NULL	     0
#define PT_LOAD	     1
#define PT_DYNAMIC   2
#define PT_INTERP    3
#define PT_NOTE	     4
#define PT_SHLIB     5
#define PT_PHDR	     6
#define PT_TLS	     7
#define PT_GNU_STACK 0x6474e551

/* p_flags */
#define PF_X 0x1
#define PF_W 0x2
#define PF_R 0x4

/* d_tag */
#define DT_NULL	    0
#define DT_NEEDED   1
#define DT_PLTRELSZ 2
#define DT_RELA	    7
#define DT_RELASZ   8
#define DT_RELAENT  9
#define DT_REL	    17
#define DT_RELSZ    18
#define DT_JMPREL   23
#define DT_RELRSZ   35
#define DT_RELR	    36

/* x86-64 psABI relocation types (only RELATIVE is supported). */
#define R_X86_64_64	   1
#define R_X86_64_RELATIVE  8
#define ELF64_R_SYM(info)  ((uint32_t)((info) >> 32))
#define ELF64_R_TYPE(info) ((uint32_t)(info))

/* Limits on what a user program may ask for. */
#define ELF_MAX_PHDRS	 64
#define ELF_MAX_SEGMENTS 16
#define ELF_MAX_IMAGE	 (1UL << 30) /* sum of page-rounded PT_LOAD sizes */

/* One PT_LOAD segment; vaddr is biased, offset/filesz refer to the file. */
struct elf_segment {
	uint64_t vaddr;
	uint64_t memsz; /* > 0; bytes past filesz are zero */
	uint64_t offset;
	uint64_t filesz; /* <= memsz */
	int prot;	 /* PROT_READ/PROT_WRITE/PROT_EXEC, never W and X */
};

/* The PT_TLS template, for the user runtime (tdata in memory at vaddr). */
struct elf_tls {
	uint64_t vaddr; /* biased; 0 if the file has no PT_TLS */
	uint64_t filesz;
	uint64_t memsz;
	uint64_t align;
};

struct elf_image {
	uint16_t type;	 /* ET_EXEC or ET_DYN */
	uint64_t bias;	 /* load bias added to every vaddr (0 for ET_EXEC) */
	uint64_t entry;	 /* biased entry point */
	uint64_t lo, hi; /* page-aligned biased range covering all segments */
	uint64_t phdr;	 /* AT_PHDR: biased vaddr of the program headers, 0 if unmapped */
	uint16_t phnum;	 /* AT_PHNUM */
	uint16_t phent;	 /* AT_PHENT */
	unsigned int nsegs;
	struct elf_segment seg[ELF_MAX_SEGMENTS]; /* sorted, no page shared */
	uint64_t rela_off;			  /* file offset of the Elf64_Rela table */
	uint64_t rela_count;			  /* R_X86_64_RELATIVE entries, all checked */
	struct elf_tls tls;
	char why_buf[80]; /* holds a failure reason naming segment numbers */
};

/*
 * Validate the ELF64 executable file[0, size) and describe how to load it.
 * Pure: reads only file[0, size), writes only *out and *why.
 *
 * Accepted: ELFCLASS64, ELFDATA2LSB, EV_CURRENT, OS ABI SYSV or GNU, x86-64,
 * ET_EXEC (load_bias ignored) or ET_DYN (load_bias added to every address;
 * it must be page-aligned). Section headers are not looked at: the file
 * need hold only the bytes its program headers name.  Static only: PT_INTERP, DT_NEEDED and every
 * relocation but R_X86_64_RELATIVE are refused.  Segments are W^X, inside
 * [USER_MIN, USER_MAX), sorted, and never share a page with one another
 * (even with equal permissions), so the loader can map each on its own pages.
 *
 * Returns 0 and fills *out, or a negative errno: -ENOEXEC for a bad file,
 * -EINVAL for bad arguments (NULL pointers, unaligned load_bias).  On
 * failure *why (if why != NULL) is set to a short reason; it points to a
 * string constant or into out->why_buf, so it lives as long as *out.
 */
int elf_parse(const void *file, size_t size, uint64_t load_bias, struct elf_image *out,
	      const char **why);

/*
 * Apply the R_X86_64_RELATIVE relocations of an image elf_parse accepted
 * (the same file and size): for each, write64(ctx, target, bias + addend)
 * where target is an 8-byte aligned biased vaddr inside a writable segment
 * of img, so a write never crosses a page.  Call after the segments are
 * loaded.  Returns 0, the first nonzero write64 result, or -ENOEXEC if the
 * table no longer checks out (with *why set).
 */
int elf_relocate(const void *file, size_t size, const struct elf_image *img,
		 int (*write64)(void *ctx, uint64_t vaddr, uint64_t value), void *ctx,
		 const char **why);
