/*
 * exec: map a validated ELF image into a fresh address space and lay out
 * the System V process stack (x86-64 psABI 3.4.1): argc, argv, envp, auxv,
 * then the strings and the AT_RANDOM bytes above them.
 */
#include <arch/cpu.h>
#include <arch/gdt.h>
#include <kernel/elf.h>
#include <kernel/exec.h>
#include <kernel/proc.h>
#include <kernel/time.h>
#include <lib/string.h>
#include <mm/kmem.h>
#include <mm/phys.h>
#include <uapi/auxv.h>
#include <uapi/errno.h>
#include <uapi/syscall.h>

#define STACK_ARGS_MAX 4096 /* bytes of argv strings */
#define AUX_MAX	       16

static char exec_why[96]; /* elf_parse reasons outlive its image struct */

static int load_segments(struct process *p, const void *image, const struct elf_image *img,
			 const char **why)
{
	for (unsigned i = 0; i < img->nsegs; i++) {
		const struct elf_segment *s = &img->seg[i];
		uintptr_t start = ALIGN_DOWN(s->vaddr, PAGE_SIZE);
		uintptr_t end = ALIGN_UP(s->vaddr + s->memsz, PAGE_SIZE);
		long va = vmspace_map_anon(&p->vs, start, end - start, s->prot, VMR_IMAGE);
		if (va < 0) {
			*why = va == -ENOMEM ? "not enough memory for its segments"
					     : "cannot map a segment";
			return (int)va;
		}
		if (vmspace_write(&p->vs, s->vaddr, (const uint8_t *)image + s->offset,
				  s->filesz)) {
			*why = "cannot copy a segment";
			return -EFAULT;
		}
	}
	return 0;
}

static int write64(void *ctx, uint64_t va, uint64_t value)
{
	return vmspace_write(ctx, va, &value, sizeof(value));
}

static void random_bytes(uint8_t *out, size_t n)
{
	uint64_t x = rdtsc() ^ 0x9e3779b97f4a7c15UL;
	for (size_t i = 0; i < n; i += 8) {
		uint64_t r = 0;
		bool ok = cpu_random64(&r);
		x ^= x << 13; /* xorshift keeps it varied without RDRAND */
		x ^= x >> 7;
		x ^= x << 17;
		r = ok ? r ^ x : x ^ rdtsc();
		memcpy(out + i, &r, MIN(8, n - i));
	}
}

/* Split `args` on spaces into NUL-terminated copies in buf. */
static int split_args(const char *args, char *buf, size_t cap, size_t *used, int *argc)
{
	size_t n = 0;
	*argc = 0;
	for (const char *s = args; *s;) {
		while (*s == ' ')
			s++;
		if (!*s)
			break;
		if (*argc == PROC_MAX_ARGS)
			return -E2BIG;
		while (*s && *s != ' ') {
			if (n + 1 >= cap)
				return -E2BIG;
			buf[n++] = *s++;
		}
		buf[n++] = '\0';
		(*argc)++;
	}
	*used = n;
	return *argc ? 0 : -EINVAL;
}

static int build_stack(struct thread *t, const struct elf_image *img, const char *args,
		       const char **why)
{
	size_t slen;
	int argc;
	char *strings = kmalloc(STACK_ARGS_MAX);
	uint64_t *vec = kmalloc((PROC_MAX_ARGS + 3 + 2 * AUX_MAX) * 8);
	int err = -ENOMEM;
	*why = "out of memory";
	if (!strings || !vec)
		goto out;
	err = split_args(args, strings, STACK_ARGS_MAX, &slen, &argc);
	if (err) {
		*why = "command line too long";
		goto out;
	}
	struct process *p = t->proc;
	size_t size = p->mf.stack_bytes;
	uintptr_t top = VMSPACE_STACK_TOP;
	long base = vmspace_map_anon(&p->vs, top - size, size, PROT_READ | PROT_WRITE, VMR_STACK);
	if (base < 0) {
		err = (int)base;
		*why = "not enough memory for the stack";
		goto out;
	}
	uintptr_t str_va = ALIGN_DOWN(top - slen, 16);
	uintptr_t rnd_va = str_va - 16;
	uint8_t rnd[16];
	random_bytes(rnd, sizeof(rnd));

	size_t n = 0;
	vec[n++] = (uint64_t)argc;
	for (size_t off = 0; off < slen; off += strlen(strings + off) + 1)
		vec[n++] = str_va + off;
	vec[n++] = 0; /* argv terminator */
	vec[n++] = 0; /* empty envp */
	const uint64_t aux[][2] = {
	    {AT_PHDR, img->phdr},
	    {AT_PHENT, img->phent},
	    {AT_PHNUM, img->phnum},
	    {AT_PAGESZ, PAGE_SIZE},
	    {AT_BASE, 0},
	    {AT_ENTRY, img->entry},
	    {AT_RANDOM, rnd_va},
	    {AT_MC_EVENT_RING, t->ring_uva},
	    {AT_MC_CPU, t->cpu},
	    {AT_MC_TSC_HZ, time_tsc_hz()},
	    {AT_MC_CPUS, p->mf.cpus},
	    {AT_NULL, 0},
	};
	for (size_t i = 0; i < ARRAY_SIZE(aux); i++) {
		vec[n++] = aux[i][0];
		vec[n++] = aux[i][1];
	}
	uintptr_t sp = ALIGN_DOWN(rnd_va - n * 8, 16);
	if (sp < (uintptr_t)base + PAGE_SIZE) {
		err = -E2BIG;
		*why = "arguments do not fit the stack";
		goto out;
	}
	err = vmspace_write(&p->vs, str_va, strings, slen) ?:
	      vmspace_write(&p->vs, rnd_va, rnd, sizeof(rnd)) ?:
	      vmspace_write(&p->vs, sp, vec, n * 8);
	if (err) {
		*why = "cannot write the stack";
		goto out;
	}
	t->frame.rsp = sp;
out:
	kfree(strings);
	kfree(vec);
	return err;
}

int exec_load(struct thread *t, const void *image, size_t size, const char *args, const char **why)
{
	struct elf_image *img = kmalloc(sizeof(*img));
	if (!img) {
		*why = "out of memory";
		return -ENOMEM;
	}
	struct process *p = t->proc;
	int err = elf_parse(image, size, EXEC_PIE_BASE, img, why);
	if (!err)
		err = load_segments(p, image, img, why);
	if (!err && img->rela_count)
		err = elf_relocate(image, size, img, write64, &p->vs, why);
	if (!err)
		err = build_stack(t, img, args, why);
	if (err) {
		strlcpy(exec_why, *why ? *why : "error", sizeof(exec_why));
		*why = exec_why;
	} else {
		uint64_t sp = t->frame.rsp;
		memset(&t->frame, 0, sizeof(t->frame));
		t->frame.rsp = sp;
		t->frame.rip = img->entry;
		t->frame.cs = SEL_UCODE;
		t->frame.ss = SEL_UDATA;
		t->frame.rflags = RFLAGS_IF | 0x2; /* bit 1 is always set */
	}
	kfree(img);
	return err;
}
