/* Fuzz target: the ELF validator and relocator (kernel/elf.c) on whole files. */
/* fuzz-sources: kernel/elf.c */
/* fuzz-seeds: tests/elf/corpus */
#include <arch/memlayout.h>
#include <kernel/elf.h>
#include <kernel/exec.h>
#include <mm/phys.h>
#include <uapi/errno.h>
#include <uapi/syscall.h>

#include "fuzz.h"

/* Load biases: the kernel's, one just under the top of user space, one at its bottom. */
static const uint64_t biases[] = {EXEC_PIE_BASE, USER_MAX - (1UL << 30), USER_MIN};

/* Every property elf_parse promises the loader of an accepted image. */
static void check_image(const struct elf_image *img, size_t size)
{
	const struct elf_segment *s, *prev;
	bool entry_ok = false;
	unsigned int i;

	FUZZ_CHECK(img->type == ET_EXEC || img->type == ET_DYN);
	FUZZ_CHECK(img->nsegs >= 1 && img->nsegs <= ELF_MAX_SEGMENTS);
	FUZZ_CHECK(img->lo >= USER_MIN && img->hi <= USER_MAX && img->lo < img->hi);
	FUZZ_CHECK(img->lo % PAGE_SIZE == 0 && img->hi % PAGE_SIZE == 0);
	for (i = 0; i < img->nsegs; i++) {
		s = &img->seg[i];
		FUZZ_CHECK(s->memsz > 0 && s->filesz <= s->memsz && s->memsz <= ELF_MAX_IMAGE);
		FUZZ_CHECK(s->vaddr >= img->lo && s->memsz <= img->hi - s->vaddr);
		FUZZ_CHECK(s->offset <= size && s->filesz <= size - s->offset);
		FUZZ_CHECK(!((s->prot & PROT_WRITE) && (s->prot & PROT_EXEC)));
		if (i > 0) {
			prev = &img->seg[i - 1];
			FUZZ_CHECK(ALIGN_DOWN(s->vaddr, PAGE_SIZE) >=
				   ALIGN_UP(prev->vaddr + prev->memsz, PAGE_SIZE));
		}
		if ((s->prot & PROT_EXEC) && img->entry >= s->vaddr &&
		    img->entry - s->vaddr < s->filesz)
			entry_ok = true;
	}
	FUZZ_CHECK(entry_ok);
	FUZZ_CHECK(img->phent == sizeof(struct elf64_phdr));
	FUZZ_CHECK(img->phnum >= 1 && img->phnum <= ELF_MAX_PHDRS);
	FUZZ_CHECK(img->phdr == 0 || (img->phdr >= img->lo && img->phdr < img->hi));
	FUZZ_CHECK(img->rela_off <= size &&
		   img->rela_count <= (size - img->rela_off) / sizeof(struct elf64_rela));
	if (img->tls.vaddr)
		FUZZ_CHECK(img->tls.vaddr >= img->lo && img->tls.filesz <= img->tls.memsz);
}

/* elf_relocate's writes: 8 aligned bytes inside a writable segment, as promised. */
static int check_write64(void *ctx, uint64_t vaddr, uint64_t value)
{
	const struct elf_image *img = ctx;
	const struct elf_segment *s;
	unsigned int i;

	(void)value;
	FUZZ_CHECK(vaddr % 8 == 0);
	for (i = 0; i < img->nsegs; i++) {
		s = &img->seg[i];
		if ((s->prot & PROT_WRITE) && vaddr >= s->vaddr &&
		    vaddr - s->vaddr <= s->memsz - 8 && s->memsz >= 8)
			return 0;
	}
	FUZZ_CHECK(!"relocation outside every writable segment");
	return -EFAULT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_image img;
	const char *why;
	unsigned int i;
	int rc;

	for (i = 0; i < sizeof(biases) / sizeof(biases[0]); i++) {
		why = NULL;
		rc = elf_parse(data, size, biases[i], &img, &why);
		if (rc) {
			/* Every refusal says why, in a short printable string. */
			FUZZ_CHECK(rc == -ENOEXEC && why && *why && strlen(why) < 96);
			continue;
		}
		check_image(&img, size);
		FUZZ_CHECK(elf_relocate(data, size, &img, check_write64, &img, &why) == 0);
		if (img.type == ET_EXEC)
			break; /* the bias is ignored: the other runs would repeat this one */
	}
	return 0;
}
