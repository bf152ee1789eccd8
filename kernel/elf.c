/* ELF64 validation of untrusted user executables (System V gABI, x86-64 psABI). */
#include <arch/memlayout.h>
#include <kernel/elf.h>
#include <mm/phys.h>
#include <uapi/errno.h>
#include <uapi/syscall.h>

#define EHDR_SIZE sizeof(struct elf64_ehdr)
#define PHDR_SIZE sizeof(struct elf64_phdr)
#define DYN_SIZE  sizeof(struct elf64_dyn)
#define RELA_SIZE sizeof(struct elf64_rela)

/* Everything elf_parse learns on its way through the program headers. */
struct parse {
	const uint8_t *file;
	size_t size;
	struct elf_image *out;
	const char *why;
	struct elf64_ehdr eh;
	uint64_t total;				/* page-rounded bytes of all segments */
	unsigned int seg_idx[ELF_MAX_SEGMENTS]; /* program header index of seg[i] */
	bool have_dyn, have_phdr, have_tls;
	struct elf64_phdr dyn, phdr, tls;
};

/* Little-endian load of n bytes; the file may sit at any alignment. */
static uint64_t ld_le(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	while (n--)
		v = (v << 8) | p[n];
	return v;
}

/* True if [off, off + len) lies inside a file of size bytes. */
static bool in_file(size_t size, uint64_t off, uint64_t len)
{
	return off <= size && len <= size - off;
}

static bool is_pow2(uint64_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

static int fail(struct parse *st, const char *why)
{
	st->why = why;
	return -ENOEXEC;
}

/* Append the decimal form of v to buf[*pos], leaving room for the NUL. */
static void put_uint(char *buf, size_t len, size_t *pos, unsigned int v)
{
	char digits[10];
	unsigned int n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n && *pos + 1 < len)
		buf[(*pos)++] = digits[--n];
}

/* Like fail(), but each '%' in tmpl is replaced by a, then by b. */
static int failf(struct parse *st, const char *tmpl, unsigned int a, unsigned int b)
{
	char *buf = st->out->why_buf;
	size_t len = sizeof(st->out->why_buf), pos = 0;
	unsigned int nargs = 0;

	for (; *tmpl && pos + 1 < len; tmpl++) {
		if (*tmpl == '%')
			put_uint(buf, len, &pos, nargs++ ? b : a);
		else
			buf[pos++] = *tmpl;
	}
	buf[pos] = '\0';
	return fail(st, buf);
}

static void get_ehdr(const uint8_t *p, struct elf64_ehdr *e)
{
	unsigned int i;

	for (i = 0; i < sizeof(e->e_ident); i++)
		e->e_ident[i] = p[i];
	e->e_type = ld_le(p + 16, 2);
	e->e_machine = ld_le(p + 18, 2);
	e->e_version = ld_le(p + 20, 4);
	e->e_entry = ld_le(p + 24, 8);
	e->e_phoff = ld_le(p + 32, 8);
	e->e_shoff = ld_le(p + 40, 8);
	e->e_flags = ld_le(p + 48, 4);
	e->e_ehsize = ld_le(p + 52, 2);
	e->e_phentsize = ld_le(p + 54, 2);
	e->e_phnum = ld_le(p + 56, 2);
	e->e_shentsize = ld_le(p + 58, 2);
	e->e_shnum = ld_le(p + 60, 2);
	e->e_shstrndx = ld_le(p + 62, 2);
}

static void get_phdr(const uint8_t *p, struct elf64_phdr *ph)
{
	ph->p_type = ld_le(p, 4);
	ph->p_flags = ld_le(p + 4, 4);
	ph->p_offset = ld_le(p + 8, 8);
	ph->p_vaddr = ld_le(p + 16, 8);
	ph->p_paddr = ld_le(p + 24, 8);
	ph->p_filesz = ld_le(p + 32, 8);
	ph->p_memsz = ld_le(p + 40, 8);
	ph->p_align = ld_le(p + 48, 8);
}

static void get_rela(const uint8_t *p, struct elf64_rela *r)
{
	r->r_offset = ld_le(p, 8);
	r->r_info = ld_le(p + 8, 8);
	r->r_addend = (int64_t)ld_le(p + 16, 8);
}

/* e_ident, e_type, e_machine, e_version, e_flags, e_ehsize (gABI "ELF Header"). */
static int check_ident(struct parse *st)
{
	static const uint8_t magic[4] = {ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3};
	const struct elf64_ehdr *e = &st->eh;
	unsigned int i;

	if (st->size == 0)
		return fail(st, "empty file");
	for (i = 0; i < sizeof(magic) && i < st->size; i++)
		if (st->file[EI_MAG0 + i] != magic[i])
			return fail(st, "not an ELF file (bad magic)");
	if (st->size < EHDR_SIZE)
		return fail(st, "truncated: file smaller than the ELF header");
	get_ehdr(st->file, &st->eh);
	if (e->e_ident[EI_CLASS] != ELFCLASS64)
		return fail(st, "not a 64-bit ELF file (EI_CLASS)");
	if (e->e_ident[EI_DATA] != ELFDATA2LSB)
		return fail(st, "not little-endian (EI_DATA)");
	if (e->e_ident[EI_VERSION] != EV_CURRENT)
		return fail(st, "bad EI_VERSION");
	if (e->e_ident[EI_OSABI] != ELFOSABI_SYSV && e->e_ident[EI_OSABI] != ELFOSABI_GNU)
		return fail(st, "unsupported OS ABI (EI_OSABI)");
	if (e->e_ident[EI_ABIVERSION] != 0)
		return fail(st, "bad EI_ABIVERSION");
	if (e->e_type == ET_REL)
		return fail(st, "relocatable object (ET_REL), not an executable");
	if (e->e_type == ET_CORE)
		return fail(st, "core file (ET_CORE), not an executable");
	if (e->e_type != ET_EXEC && e->e_type != ET_DYN)
		return fail(st, "bad e_type");
	if (e->e_machine != EM_X86_64)
		return fail(st, "wrong machine (not x86-64)");
	if (e->e_version != EV_CURRENT)
		return fail(st, "bad e_version");
	if (e->e_flags != 0)
		return fail(st, "e_flags not 0 (x86-64 defines none)");
	if (e->e_ehsize != EHDR_SIZE)
		return fail(st, "bad e_ehsize");
	return 0;
}

/*
 * Where the program header table is, and that it fits. Section headers
 * serve linkers and debuggers, not loading (gABI "Program Loading"), so
 * e_shoff, e_shentsize, e_shnum and e_shstrndx are ignored, as Linux and
 * xv6 ignore them: a program whose section headers are garbage or gone
 * (stripped, or cut off the end of the file) loads like any other.
 */
static int check_tables(struct parse *st)
{
	const struct elf64_ehdr *e = &st->eh;

	if (e->e_phentsize != PHDR_SIZE)
		return fail(st, "bad e_phentsize");
	if (e->e_phnum == 0)
		return fail(st, "no program headers (e_phnum is 0)");
	if (e->e_phnum > ELF_MAX_PHDRS)
		return fail(st, "too many program headers (e_phnum)");
	if (e->e_phoff % 8 != 0)
		return fail(st, "e_phoff not 8-byte aligned");
	if (e->e_phoff < EHDR_SIZE)
		return fail(st, "e_phoff inside the ELF header");
	if (!in_file(st->size, e->e_phoff, (uint64_t)e->e_phnum * PHDR_SIZE))
		return fail(st, "truncated: program headers past end of file");
	return 0;
}

static int prot_of(uint32_t flags)
{
	return (flags & PF_R ? PROT_READ : 0) | (flags & PF_W ? PROT_WRITE : 0) |
	       (flags & PF_X ? PROT_EXEC : 0);
}

/* p_align and the congruences gABI "Program Loading" requires of PT_LOAD. */
static int check_align(struct parse *st, unsigned int i, const struct elf64_phdr *ph)
{
	uint64_t a = ph->p_align;

	if (a > 1) {
		if (!is_pow2(a))
			return failf(st, "segment %: p_align not a power of two", i, 0);
		if (ph->p_vaddr % a != ph->p_offset % a)
			return failf(
			    st, "segment %: p_vaddr and p_offset not congruent mod p_align", i, 0);
		if (st->out->bias % a != 0)
			return failf(st, "segment %: load bias not a multiple of p_align", i, 0);
	}
	if (ph->p_vaddr % PAGE_SIZE != ph->p_offset % PAGE_SIZE)
		return failf(st, "segment %: p_vaddr and p_offset not congruent mod page size", i,
			     0);
	return 0;
}

/* The new segment against the previous one: sorted, apart, and page-disjoint. */
static int check_neighbour(struct parse *st, const struct elf_segment *s)
{
	struct elf_image *out = st->out;
	const struct elf_segment *prev;
	unsigned int a, b;

	if (out->nsegs == 0)
		return 0;
	prev = &out->seg[out->nsegs - 1];
	a = st->seg_idx[out->nsegs - 1];
	b = st->seg_idx[out->nsegs];
	if (s->vaddr < prev->vaddr)
		return failf(st, "segments % and % not sorted by p_vaddr", a, b);
	if (s->vaddr < prev->vaddr + prev->memsz)
		return failf(st, "segments % and % overlap", a, b);
	if (ALIGN_DOWN(s->vaddr, PAGE_SIZE) < ALIGN_UP(prev->vaddr + prev->memsz, PAGE_SIZE)) {
		if (s->prot != prev->prot)
			return failf(st, "segments % and % share a page with different permissions",
				     a, b);
		return failf(st, "segments % and % share a page", a, b);
	}
	return 0;
}

static int add_load(struct parse *st, unsigned int i, const struct elf64_phdr *ph)
{
	struct elf_image *out = st->out;
	struct elf_segment *s;
	uint64_t v;
	int err;

	if (out->nsegs == ELF_MAX_SEGMENTS)
		return fail(st, "too many PT_LOAD segments");
	if (ph->p_memsz == 0)
		return failf(st, "segment %: p_memsz is 0", i, 0);
	if (ph->p_filesz > ph->p_memsz)
		return failf(st, "segment %: p_filesz > p_memsz", i, 0);
	if (!in_file(st->size, ph->p_offset, ph->p_filesz))
		return failf(st, "segment %: p_offset + p_filesz past end of file", i, 0);
	if (ph->p_memsz > ELF_MAX_IMAGE)
		return failf(st, "segment %: p_memsz too large", i, 0);
	err = check_align(st, i, ph);
	if (err)
		return err;
	if ((ph->p_flags & PF_W) && (ph->p_flags & PF_X))
		return failf(st, "segment % is writable and executable", i, 0);
	if (ph->p_vaddr > UINT64_MAX - out->bias)
		return failf(st, "segment % outside user space", i, 0);
	v = ph->p_vaddr + out->bias;
	if (v >= USER_MIN && v < USER_CANONICAL_END && ph->p_memsz <= USER_CANONICAL_END - v &&
	    v + ph->p_memsz > USER_MAX)
		return failf(st, "segment % reaches the top user page, which stays unmapped", i, 0);
	if (v < USER_MIN || v >= USER_MAX || ph->p_memsz > USER_MAX - v)
		return failf(st, "segment % outside user space", i, 0);

	s = &out->seg[out->nsegs];
	s->vaddr = v;
	s->memsz = ph->p_memsz;
	s->offset = ph->p_offset;
	s->filesz = ph->p_filesz;
	s->prot = prot_of(ph->p_flags);
	st->seg_idx[out->nsegs] = i;
	err = check_neighbour(st, s);
	if (err)
		return err;
	/* At most 16 segments of at most 1 GiB each: no overflow here. */
	st->total += ALIGN_UP(v + s->memsz, PAGE_SIZE) - ALIGN_DOWN(v, PAGE_SIZE);
	if (st->total > ELF_MAX_IMAGE)
		return fail(st, "image too large (PT_LOAD total over 1 GiB)");
	out->nsegs++;
	return 0;
}

/* Record a header that may appear once; returns false on a second one. */
static bool take_once(bool *have, struct elf64_phdr *dst, const struct elf64_phdr *ph)
{
	if (*have)
		return false;
	*have = true;
	*dst = *ph;
	return true;
}

static int scan_phdrs(struct parse *st)
{
	struct elf64_phdr ph;
	unsigned int i;
	int err;

	for (i = 0; i < st->eh.e_phnum; i++) {
		get_phdr(st->file + st->eh.e_phoff + i * PHDR_SIZE, &ph);
		switch (ph.p_type) {
		case PT_LOAD:
			err = add_load(st, i, &ph);
			if (err)
				return err;
			break;
		case PT_INTERP:
			return fail(
			    st, "dynamically linked (PT_INTERP): only static executables run here");
		case PT_SHLIB:
			return fail(st, "PT_SHLIB present (reserved by the gABI)");
		case PT_GNU_STACK:
			if (ph.p_flags & PF_X)
				return fail(st, "executable stack (PT_GNU_STACK with PF_X)");
			break;
		case PT_DYNAMIC:
			if (!take_once(&st->have_dyn, &st->dyn, &ph))
				return fail(st, "more than one PT_DYNAMIC");
			break;
		case PT_TLS:
			if (!take_once(&st->have_tls, &st->tls, &ph))
				return fail(st, "more than one PT_TLS");
			break;
		case PT_PHDR:
			if (st->out->nsegs != 0)
				return fail(st, "PT_PHDR after a PT_LOAD");
			if (!take_once(&st->have_phdr, &st->phdr, &ph))
				return fail(st, "more than one PT_PHDR");
			break;
		default:
			break; /* PT_NOTE, PT_GNU_RELRO, ...: nothing to do */
		}
	}
	if (st->out->nsegs == 0)
		return fail(st, "no PT_LOAD segment");
	return 0;
}

/* The segment holding [v, v + len) in memory (or in its file bytes), or NULL. */
static const struct elf_segment *seg_at(const struct elf_image *img, uint64_t v, uint64_t len,
					bool file_backed)
{
	const struct elf_segment *s;
	uint64_t lim;
	unsigned int i;

	for (i = 0; i < img->nsegs; i++) {
		s = &img->seg[i];
		lim = file_backed ? s->filesz : s->memsz;
		if (v >= s->vaddr && v - s->vaddr <= lim && len <= lim - (v - s->vaddr))
			return s;
	}
	return NULL;
}

static int check_entry(struct parse *st)
{
	const struct elf_image *out = st->out;
	uint64_t e = st->eh.e_entry + out->bias;
	const struct elf_segment *s;

	if (st->eh.e_entry > UINT64_MAX - out->bias)
		return fail(st, "entry point not in an executable segment");
	/* The first instruction byte must come from the file, not from bss. */
	s = seg_at(out, e, 1, true);
	if (!s || !(s->prot & PROT_EXEC))
		return fail(st, "entry point not in an executable segment");
	st->out->entry = e;
	return 0;
}

/* AT_PHDR: from PT_PHDR, else from the PT_LOAD whose file bytes hold the table. */
static int find_phdr(struct parse *st)
{
	struct elf_image *out = st->out;
	uint64_t off = st->eh.e_phoff, len = (uint64_t)st->eh.e_phnum * PHDR_SIZE;
	const struct elf64_phdr *p = &st->phdr;
	const struct elf_segment *s;
	unsigned int i;

	out->phnum = st->eh.e_phnum;
	out->phent = PHDR_SIZE;
	if (st->have_phdr) {
		if (p->p_offset != off || p->p_filesz < len)
			return fail(st, "PT_PHDR does not describe the program header table");
		if (p->p_vaddr > UINT64_MAX - out->bias)
			return fail(st, "PT_PHDR not inside a PT_LOAD segment");
		s = seg_at(out, p->p_vaddr + out->bias, len, true);
		if (!s || s->offset + (p->p_vaddr + out->bias - s->vaddr) != off)
			return fail(st, "PT_PHDR not inside a PT_LOAD segment");
		out->phdr = p->p_vaddr + out->bias;
		return 0;
	}
	for (i = 0; i < out->nsegs; i++) {
		s = &out->seg[i];
		if (off >= s->offset && len <= s->filesz && off - s->offset <= s->filesz - len) {
			out->phdr = s->vaddr + (off - s->offset);
			return 0;
		}
	}
	return 0; /* not mapped: no AT_PHDR */
}

static int check_tls(struct parse *st)
{
	const struct elf64_phdr *t = &st->tls;
	struct elf_image *out = st->out;
	uint64_t v;

	if (!st->have_tls)
		return 0;
	if (t->p_align > 1 && !is_pow2(t->p_align))
		return fail(st, "PT_TLS: p_align not a power of two");
	if (t->p_filesz > t->p_memsz)
		return fail(st, "PT_TLS: p_filesz > p_memsz");
	if (t->p_memsz > ELF_MAX_IMAGE)
		return fail(st, "PT_TLS: p_memsz too large");
	if (t->p_vaddr > UINT64_MAX - out->bias)
		return fail(st, "PT_TLS outside the PT_LOAD segments");
	v = t->p_vaddr + out->bias;
	if (!seg_at(out, v, t->p_filesz, false))
		return fail(st, "PT_TLS outside the PT_LOAD segments");
	out->tls.vaddr = v;
	out->tls.filesz = t->p_filesz;
	out->tls.memsz = t->p_memsz;
	out->tls.align = t->p_align;
	return 0;
}

/*
 * One relocation entry against an accepted image: R_X86_64_RELATIVE without a
 * symbol, aimed at 8 aligned bytes of a writable segment.  Returns a reason or
 * NULL, and the target and value (psABI: B + A).
 */
static const char *check_rela(const struct elf_image *img, const struct elf64_rela *r,
			      uint64_t *target, uint64_t *value)
{
	const struct elf_segment *s;
	uint64_t t;

	if (ELF64_R_TYPE(r->r_info) != R_X86_64_RELATIVE)
		return "relocation type not R_X86_64_RELATIVE";
	if (ELF64_R_SYM(r->r_info) != 0)
		return "R_X86_64_RELATIVE relocation names a symbol";
	if (r->r_offset > UINT64_MAX - img->bias)
		return "relocation target not in a writable segment";
	t = r->r_offset + img->bias;
	if (t % 8 != 0)
		return "relocation target not 8-byte aligned";
	s = seg_at(img, t, 8, false);
	if (!s || !(s->prot & PROT_WRITE))
		return "relocation target not in a writable segment";
	*target = t;
	*value = img->bias + (uint64_t)r->r_addend;
	return NULL;
}

/* Find the file offset of the RELA table from its (unbiased) address. */
static int locate_rela(struct parse *st, uint64_t addr, uint64_t len)
{
	struct elf_image *out = st->out;
	const struct elf_segment *s;

	if (addr > UINT64_MAX - out->bias)
		return fail(st, "DT_RELA table not inside a segment's file data");
	s = seg_at(out, addr + out->bias, len, true);
	if (!s)
		return fail(st, "DT_RELA table not inside a segment's file data");
	out->rela_off = s->offset + (addr + out->bias - s->vaddr);
	out->rela_count = len / RELA_SIZE;
	return 0;
}

static int check_relocs(struct parse *st)
{
	struct elf_image *out = st->out;
	struct elf64_rela r;
	uint64_t i, t, v;
	const char *why;

	for (i = 0; i < out->rela_count; i++) {
		get_rela(st->file + out->rela_off + i * RELA_SIZE, &r);
		why = check_rela(out, &r, &t, &v);
		if (why)
			return fail(st, why);
	}
	return 0;
}

/*
 * PT_DYNAMIC: a static executable may carry one for its RELATIVE relocations
 * (static PIE) but must need no library and no other kind of relocation.
 */
static int check_dynamic(struct parse *st)
{
	const struct elf64_phdr *d = &st->dyn;
	uint64_t rela = 0, relasz = 0, relaent = 0, i, tag, val;
	bool have_rela = false, terminated = false;
	const uint8_t *p;
	int err;

	if (!st->have_dyn)
		return 0;
	if (d->p_filesz % DYN_SIZE != 0)
		return fail(st, "PT_DYNAMIC: size not a multiple of 16");
	if (!in_file(st->size, d->p_offset, d->p_filesz))
		return fail(st, "PT_DYNAMIC past end of file");
	for (i = 0; i < d->p_filesz / DYN_SIZE && !terminated; i++) {
		p = st->file + d->p_offset + i * DYN_SIZE;
		tag = ld_le(p, 8);
		val = ld_le(p + 8, 8);
		switch (tag) {
		case DT_NULL:
			terminated = true;
			break;
		case DT_NEEDED:
			return fail(st, "needs shared libraries (DT_NEEDED)");
		case DT_REL:
		case DT_RELSZ:
			return fail(st, "DT_REL relocations not supported (x86-64 uses RELA)");
		case DT_JMPREL:
		case DT_PLTRELSZ:
			return fail(st, "PLT relocations (DT_JMPREL) not supported");
		case DT_RELR:
		case DT_RELRSZ:
			return fail(st, "DT_RELR relocations not supported");
		case DT_RELA:
			rela = val;
			have_rela = true;
			break;
		case DT_RELASZ:
			relasz = val;
			break;
		case DT_RELAENT:
			relaent = val;
			break;
		default:
			break;
		}
	}
	if (!terminated)
		return fail(st, "PT_DYNAMIC: no DT_NULL terminator");
	if (relasz == 0)
		return 0;
	if (!have_rela)
		return fail(st, "DT_RELASZ without DT_RELA");
	if (relaent != RELA_SIZE)
		return fail(st, "DT_RELAENT is not 24");
	if (relasz % RELA_SIZE != 0)
		return fail(st, "DT_RELASZ not a multiple of DT_RELAENT");
	err = locate_rela(st, rela, relasz);
	if (err)
		return err;
	return check_relocs(st);
}

static void set_range(struct elf_image *out)
{
	const struct elf_segment *last = &out->seg[out->nsegs - 1];

	out->lo = ALIGN_DOWN(out->seg[0].vaddr, PAGE_SIZE);
	out->hi = ALIGN_UP(last->vaddr + last->memsz, PAGE_SIZE);
}

static int parse(struct parse *st, uint64_t load_bias)
{
	int err;

	err = check_ident(st);
	if (err)
		return err;
	st->out->type = st->eh.e_type;
	if (st->eh.e_type == ET_DYN) {
		if (!IS_ALIGNED(load_bias, PAGE_SIZE)) {
			st->why = "load bias not page-aligned";
			return -EINVAL;
		}
		st->out->bias = load_bias;
	}
	err = check_tables(st);
	if (!err)
		err = scan_phdrs(st);
	if (err)
		return err;
	set_range(st->out);
	err = check_entry(st);
	if (!err)
		err = find_phdr(st);
	if (!err)
		err = check_tls(st);
	if (!err)
		err = check_dynamic(st);
	return err;
}

int elf_parse(const void *file, size_t size, uint64_t load_bias, struct elf_image *out,
	      const char **why)
{
	struct parse st = {.file = file, .size = size, .out = out};
	int err;

	if (!file || !out) {
		if (why)
			*why = "no file or no output";
		return -EINVAL;
	}
	*out = (struct elf_image){0};
	err = parse(&st, load_bias);
	if (err && why)
		*why = st.why;
	return err;
}

int elf_relocate(const void *file, size_t size, const struct elf_image *img,
		 int (*write64)(void *ctx, uint64_t vaddr, uint64_t value), void *ctx,
		 const char **why)
{
	const uint8_t *f = file;
	struct elf64_rela r;
	uint64_t i, t, v;
	const char *bad;
	int err;

	if (img->rela_count > size / RELA_SIZE ||
	    !in_file(size, img->rela_off, img->rela_count * RELA_SIZE)) {
		bad = "relocation table past end of file";
		goto out_bad;
	}
	for (i = 0; i < img->rela_count; i++) {
		get_rela(f + img->rela_off + i * RELA_SIZE, &r);
		bad = check_rela(img, &r, &t, &v);
		if (bad)
			goto out_bad;
		err = write64(ctx, t, v);
		if (err)
			return err;
	}
	return 0;

out_bad:
	if (why)
		*why = bad;
	return -ENOEXEC;
}
