/* Host unit tests of the ELF validator: the corpus, truncations, byte flips, relocation. */
/* unit-sources: kernel/elf.c */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arch/memlayout.h>
#include <kernel/elf.h>
#include <mm/phys.h>
#include <uapi/errno.h>
#include <uapi/syscall.h>

#define CORPUS	    "tests/elf/corpus/"
#define PIE_BIAS    0x10000000UL
#define MAX_ENTRIES 256
#define FLIP_ROUNDS 100000

/* Numbers good-pie.elf is built with (tests/elf/gen-corpus.py). */
#define PIE_ENTRY 0x1210
#define PIE_DATA  0x2280
#define PIE_TDATA 0x2298
#define PIE_RELA  0x1c8

struct entry {
	char *name;
	char *expect; /* "ok" or a substring of the reason */
};

static struct entry entries[MAX_ENTRIES];
static size_t nentries;

/* The whole file in a buffer of exactly its size, so ASan sees any overread. */
static uint8_t *load(const char *name, size_t *size)
{
	char path[128];
	uint8_t *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), CORPUS "%s", name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s (run from the repository root)", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc(n ? (size_t)n : 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*size = (size_t)n;
	return buf;
}

static int group_setup(void **state)
{
	char line[256], *tab;
	FILE *f = fopen(CORPUS "EXPECTED", "r");

	(void)state;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f) && nentries < MAX_ENTRIES) {
		line[strcspn(line, "\n")] = '\0';
		tab = strchr(line, '\t');
		if (!tab)
			continue;
		*tab = '\0';
		entries[nentries].name = strdup(line);
		entries[nentries].expect = strdup(tab + 1);
		if (!entries[nentries].name || !entries[nentries].expect)
			return -1;
		nentries++;
	}
	fclose(f);
	return nentries ? 0 : -1;
}

static int group_teardown(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < nentries; i++) {
		free(entries[i].name);
		free(entries[i].expect);
	}
	return 0;
}

static bool is_good(const struct entry *e)
{
	return strcmp(e->expect, "ok") == 0;
}

/* Every property an accepted image promises the loader. */
static void check_image(const struct elf_image *img, size_t size)
{
	const struct elf_segment *s;
	bool entry_ok = false;
	unsigned int i;

	assert_true(img->type == ET_EXEC || img->type == ET_DYN);
	assert_true(img->nsegs >= 1 && img->nsegs <= ELF_MAX_SEGMENTS);
	assert_true(img->lo >= USER_MIN && img->hi <= USER_MAX && img->lo < img->hi);
	assert_true(img->lo % PAGE_SIZE == 0 && img->hi % PAGE_SIZE == 0);
	for (i = 0; i < img->nsegs; i++) {
		s = &img->seg[i];
		assert_true(s->memsz > 0 && s->filesz <= s->memsz);
		assert_true(s->vaddr >= img->lo && s->vaddr + s->memsz <= img->hi);
		assert_true(s->offset <= size && s->filesz <= size - s->offset);
		assert_false((s->prot & PROT_WRITE) && (s->prot & PROT_EXEC));
		if (i > 0)
			assert_true(
			    ALIGN_DOWN(s->vaddr, PAGE_SIZE) >=
			    ALIGN_UP(img->seg[i - 1].vaddr + img->seg[i - 1].memsz, PAGE_SIZE));
		if ((s->prot & PROT_EXEC) && img->entry >= s->vaddr &&
		    img->entry < s->vaddr + s->filesz)
			entry_ok = true;
	}
	assert_true(entry_ok);
	assert_int_equal(img->phent, sizeof(struct elf64_phdr));
	assert_true(img->phnum >= 1 && img->phnum <= ELF_MAX_PHDRS);
	assert_true(img->phdr == 0 || (img->phdr >= img->lo && img->phdr < img->hi));
	assert_true(img->rela_off <= size &&
		    img->rela_count <= (size - img->rela_off) / sizeof(struct elf64_rela));
}

static void test_corpus(void **state)
{
	struct elf_image img;
	const char *why;
	unsigned int good = 0;
	uint8_t *buf;
	size_t i, size;
	int rc;

	(void)state;
	assert_true(nentries >= 60);
	for (i = 0; i < nentries; i++) {
		buf = load(entries[i].name, &size);
		why = NULL;
		rc = elf_parse(buf, size, PIE_BIAS, &img, &why);
		if (is_good(&entries[i])) {
			if (rc != 0)
				fail_msg("%s: refused (%d): %s", entries[i].name, rc, why);
			check_image(&img, size);
			good++;
		} else if (rc != -ENOEXEC || !why || !strstr(why, entries[i].expect)) {
			fail_msg("%s: got %d \"%s\", want -ENOEXEC \"%s\"", entries[i].name, rc,
				 why ? why : "(null)", entries[i].expect);
		}
		free(buf);
	}
	assert_true(good >= 4);
}

static void test_good_exec(void **state)
{
	struct elf_image img, img2;
	size_t size;
	uint8_t *buf = load("good-exec.elf", &size);

	(void)state;
	assert_int_equal(elf_parse(buf, size, 0, &img, NULL), 0);
	assert_int_equal(img.type, ET_EXEC);
	assert_int_equal(img.bias, 0);
	assert_int_equal(img.entry, 0x400100);
	assert_int_equal(img.nsegs, 2);
	assert_int_equal(img.seg[0].vaddr, 0x400000);
	assert_int_equal(img.seg[0].offset, 0);
	assert_int_equal(img.seg[0].filesz, 0x10e);
	assert_int_equal(img.seg[0].memsz, 0x10e);
	assert_int_equal(img.seg[0].prot, PROT_READ | PROT_EXEC);
	assert_int_equal(img.seg[1].vaddr, 0x401110);
	assert_int_equal(img.seg[1].offset, 0x110);
	assert_int_equal(img.seg[1].filesz, 0x10);
	assert_int_equal(img.seg[1].memsz, 0x100);
	assert_int_equal(img.seg[1].prot, PROT_READ | PROT_WRITE);
	assert_int_equal(img.lo, 0x400000);
	assert_int_equal(img.hi, 0x402000);
	assert_int_equal(img.phdr, 0x400040); /* AT_PHDR from the PT_LOAD at offset 0 */
	assert_int_equal(img.phnum, 3);
	assert_int_equal(img.phent, 56);
	assert_int_equal(img.rela_count, 0);
	assert_int_equal(img.tls.vaddr, 0);

	/* ET_EXEC ignores the load bias, even an unaligned one. */
	assert_int_equal(elf_parse(buf, size, PIE_BIAS + 1, &img2, NULL), 0);
	assert_int_equal(img2.entry, img.entry);
	assert_int_equal(img2.seg[1].vaddr, img.seg[1].vaddr);
	assert_int_equal(img2.bias, 0);
	free(buf);
}

static void test_good_pie(void **state)
{
	struct elf_image img;
	size_t size;
	uint8_t *buf = load("good-pie.elf", &size);

	(void)state;
	assert_int_equal(elf_parse(buf, size, PIE_BIAS, &img, NULL), 0);
	assert_int_equal(img.type, ET_DYN);
	assert_int_equal(img.bias, PIE_BIAS);
	assert_int_equal(img.entry, PIE_BIAS + PIE_ENTRY);
	assert_int_equal(img.nsegs, 3);
	assert_int_equal(img.seg[0].prot, PROT_READ);
	assert_int_equal(img.seg[1].prot, PROT_READ | PROT_EXEC);
	assert_int_equal(img.seg[2].prot, PROT_READ | PROT_WRITE);
	assert_int_equal(img.seg[2].vaddr, PIE_BIAS + 0x2220);
	assert_int_equal(img.lo, PIE_BIAS);
	assert_int_equal(img.hi, PIE_BIAS + 0x3000);
	assert_int_equal(img.phdr, PIE_BIAS + 0x40); /* from PT_PHDR */
	assert_int_equal(img.phnum, 7);
	assert_int_equal(img.rela_off, PIE_RELA);
	assert_int_equal(img.rela_count, 3);
	assert_int_equal(img.tls.vaddr, PIE_BIAS + PIE_TDATA);
	assert_int_equal(img.tls.filesz, 8);
	assert_int_equal(img.tls.memsz, 16);
	assert_int_equal(img.tls.align, 8);
	free(buf);
}

/* AT_PHDR without PT_PHDR comes from the PT_LOAD that holds e_phoff. */
static void test_phdr(void **state)
{
	struct elf_image img;
	size_t size;
	uint8_t *buf = load("good-pie.elf", &size);

	(void)state;
	buf[64] = PT_NULL; /* p_type of program header 0, the PT_PHDR */
	assert_int_equal(elf_parse(buf, size, PIE_BIAS, &img, NULL), 0);
	assert_int_equal(img.phdr, PIE_BIAS + 0x40);
	free(buf);

	buf = load("good-exec-phdr-unmapped.elf", &size);
	assert_int_equal(elf_parse(buf, size, 0, &img, NULL), 0);
	assert_int_equal(img.phdr, 0);
	assert_int_equal(img.phnum, 1);
	free(buf);
}

static void test_bad_arguments(void **state)
{
	struct elf_image img;
	const char *why = NULL;
	size_t size;
	uint8_t *buf = load("good-pie.elf", &size);

	(void)state;
	assert_int_equal(elf_parse(buf, size, PIE_BIAS + 0x800, &img, &why), -EINVAL);
	assert_string_equal(why, "load bias not page-aligned");
	/* Linked at 0: without a bias the first segment is below USER_MIN. */
	assert_int_equal(elf_parse(buf, size, 0, &img, &why), -ENOEXEC);
	assert_string_equal(why, "segment 1 outside user space");
	assert_int_equal(elf_parse(buf, size, USER_MAX - PAGE_SIZE, &img, &why), -ENOEXEC);
	assert_int_equal(elf_parse(NULL, size, PIE_BIAS, &img, &why), -EINVAL);
	assert_int_equal(elf_parse(buf, size, PIE_BIAS, NULL, &why), -EINVAL);
	free(buf);

	/* Equal permissions sharing a page are refused too, with their own reason. */
	buf = load("bad-share-page.elf", &size);
	assert_int_equal(elf_parse(buf, size, 0, &img, &why), -ENOEXEC);
	assert_string_equal(why, "segments 0 and 1 share a page");
	free(buf);
}

/* Little-endian field of a file image. */
static uint64_t field(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

/*
 * The bytes of a file the loader needs: the program header table, every
 * segment's file data and the dynamic section. Section headers and what
 * only they describe are not among them.
 */
static size_t needed_bytes(const uint8_t *buf, const struct elf_image *img)
{
	uint64_t phoff = field(buf + 32, 8), phnum = field(buf + 56, 2), need, end;
	const uint8_t *ph;
	unsigned int i;

	need = phoff + phnum * sizeof(struct elf64_phdr);
	for (i = 0; i < img->nsegs; i++) {
		end = img->seg[i].offset + img->seg[i].filesz;
		need = end > need ? end : need;
	}
	for (i = 0; i < phnum; i++) {
		ph = buf + phoff + i * sizeof(struct elf64_phdr);
		if (field(ph, 4) != PT_DYNAMIC)
			continue;
		end = field(ph + 8, 8) + field(ph + 32, 8);
		need = end > need ? end : need;
	}
	return need;
}

/*
 * Cutting a good file short of the bytes the loader needs must fail
 * without reading past the cut; cutting only what follows them (section
 * headers, symbols) changes nothing.
 */
static void test_truncations(void **state)
{
	struct elf_image img, cut_img;
	const char *why;
	uint8_t *buf, *cut;
	size_t i, n, size, need;
	int rc;

	(void)state;
	for (i = 0; i < nentries; i++) {
		if (!is_good(&entries[i]))
			continue;
		buf = load(entries[i].name, &size);
		assert_int_equal(elf_parse(buf, size, PIE_BIAS, &img, NULL), 0);
		need = needed_bytes(buf, &img);
		assert_true(need <= size);
		for (n = 0; n < size; n++) {
			cut = malloc(n ? n : 1);
			assert_non_null(cut);
			memcpy(cut, buf, n);
			why = NULL;
			rc = elf_parse(cut, n, PIE_BIAS, &cut_img, &why);
			if (n < need && (rc != -ENOEXEC || !why || !*why))
				fail_msg("%s cut to %zu bytes was not refused", entries[i].name, n);
			if (n >= need && (rc != 0 || memcmp(&img, &cut_img, sizeof(img)) != 0))
				fail_msg("%s cut to %zu of %zu bytes (%zu needed) changed: %d %s",
					 entries[i].name, n, size, need, rc, why ? why : "");
			free(cut);
		}
		free(buf);
	}
}

/* Section header fields are not used: garbage there changes nothing. */
static void test_section_headers_ignored(void **state)
{
	static const struct {
		uint64_t shoff;
		uint16_t shentsize, shnum, shstrndx;
	} garbage[] = {
	    {0, 0, 0, 0},
	    {0, 64, 3, 2},
	    {0x100000, 64, 3, 2},
	    {UINT64_MAX, 0xffff, 0xffff, 0xffff},
	    {UINT64_MAX - 63, 64, 1, 0},
	    {64, 64, 0xffff, 0xfffe},
	    {1, 1, 1, 1},
	};
	static const char *const files[] = {"good-exec.elf", "good-pie.elf"};
	struct elf_image want, got;
	uint8_t *buf;
	size_t f, g, size;

	(void)state;
	for (f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		buf = load(files[f], &size);
		assert_int_equal(elf_parse(buf, size, PIE_BIAS, &want, NULL), 0);
		for (g = 0; g < sizeof(garbage) / sizeof(garbage[0]); g++) {
			memcpy(buf + 40, &garbage[g].shoff, 8);
			memcpy(buf + 58, &garbage[g].shentsize, 2);
			memcpy(buf + 60, &garbage[g].shnum, 2);
			memcpy(buf + 62, &garbage[g].shstrndx, 2);
			assert_int_equal(elf_parse(buf, size, PIE_BIAS, &got, NULL), 0);
			assert_memory_equal(&got, &want, sizeof(got));
		}
		free(buf);
	}
}

/* A fake address space [lo, hi) for elf_relocate to write into. */
struct fake_mem {
	const struct elf_image *img;
	uint8_t *mem; /* NULL: check the target, store nothing */
	unsigned int writes;
	unsigned int fail_after; /* return -EFAULT on this write (1-based), 0: never */
};

static int fake_write64(void *ctx, uint64_t vaddr, uint64_t value)
{
	struct fake_mem *m = ctx;
	const struct elf_segment *s;
	unsigned int i;
	bool ok = false;

	for (i = 0; i < m->img->nsegs; i++) {
		s = &m->img->seg[i];
		if ((s->prot & PROT_WRITE) && vaddr >= s->vaddr && vaddr + 8 <= s->vaddr + s->memsz)
			ok = true;
	}
	assert_true(ok);
	assert_int_equal(vaddr % 8, 0);
	if (++m->writes == m->fail_after)
		return -EFAULT;
	if (m->mem)
		memcpy(m->mem + (vaddr - m->img->lo), &value, sizeof(value));
	return 0;
}

static uint64_t peek64(const struct fake_mem *m, uint64_t vaddr)
{
	uint64_t v;

	memcpy(&v, m->mem + (vaddr - m->img->lo), sizeof(v));
	return v;
}

static void test_relocate(void **state)
{
	struct elf_image img;
	struct fake_mem m = {.img = &img};
	const char *why = NULL;
	size_t size;
	uint8_t *buf = load("good-pie.elf", &size);

	(void)state;
	assert_int_equal(elf_parse(buf, size, PIE_BIAS, &img, NULL), 0);
	m.mem = calloc(1, img.hi - img.lo);
	assert_non_null(m.mem);
	assert_int_equal(elf_relocate(buf, size, &img, fake_write64, &m, &why), 0);
	assert_int_equal(m.writes, 3);
	assert_int_equal(peek64(&m, PIE_BIAS + PIE_DATA), PIE_BIAS + PIE_ENTRY);
	assert_int_equal(peek64(&m, PIE_BIAS + PIE_DATA + 8), PIE_BIAS + PIE_TDATA);
	assert_int_equal(peek64(&m, PIE_BIAS + PIE_DATA + 16), PIE_BIAS);

	/* A failing write stops the walk and its error comes back. */
	m.writes = 0;
	m.fail_after = 2;
	assert_int_equal(elf_relocate(buf, size, &img, fake_write64, &m, &why), -EFAULT);
	assert_int_equal(m.writes, 2);

	/* A shorter file than the one parsed: refused, not overread. */
	assert_int_equal(elf_relocate(buf, PIE_RELA + 30, &img, fake_write64, &m, &why), -ENOEXEC);
	assert_non_null(why);
	free(m.mem);
	free(buf);

	/* No relocations: write64 is never called. */
	buf = load("good-exec.elf", &size);
	assert_int_equal(elf_parse(buf, size, 0, &img, NULL), 0);
	m.writes = 0;
	m.fail_after = 1;
	assert_int_equal(elf_relocate(buf, size, &img, fake_write64, &m, &why), 0);
	assert_int_equal(m.writes, 0);
	free(buf);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

/* xorshift64: deterministic, so a failure reproduces. */
static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Damage bytes: single bit flips, random bytes, or a random 64-bit field. */
static void damage(uint8_t *p, size_t size)
{
	unsigned int k, n = 1 + rng() % 4;
	size_t at;
	uint64_t v;

	for (k = 0; k < n; k++) {
		at = rng() % size;
		switch (rng() % 3) {
		case 0:
			p[at] ^= (uint8_t)(1u << (rng() % 8));
			break;
		case 1:
			p[at] = (uint8_t)rng();
			break;
		default:
			at &= ~(size_t)7;
			v = rng() % 2 ? rng() : rng() % 0x3000;
			if (at + 8 <= size)
				memcpy(p + at, &v, 8);
			break;
		}
	}
}

/* Random damage never crashes; whatever is accepted keeps every promise. */
static void test_byte_flips(void **state)
{
	struct elf_image img;
	struct fake_mem m = {.img = &img};
	unsigned int round, accepted = 0;
	const char *why;
	uint8_t *buf, *copy;
	size_t i, size;
	int rc;

	(void)state;
	for (i = 0; i < nentries; i++) {
		if (!is_good(&entries[i]))
			continue;
		buf = load(entries[i].name, &size);
		copy = malloc(size);
		assert_non_null(copy);
		for (round = 0; round < FLIP_ROUNDS; round++) {
			memcpy(copy, buf, size);
			damage(copy, size);
			why = NULL;
			rc = elf_parse(copy, size, PIE_BIAS, &img, &why);
			if (rc != 0) {
				assert_int_equal(rc, -ENOEXEC);
				assert_non_null(why);
				continue;
			}
			accepted++;
			check_image(&img, size);
			m.writes = 0;
			assert_int_equal(elf_relocate(copy, size, &img, fake_write64, &m, &why), 0);
		}
		free(copy);
		free(buf);
	}
	assert_true(accepted > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_corpus),
	    cmocka_unit_test(test_good_exec),
	    cmocka_unit_test(test_good_pie),
	    cmocka_unit_test(test_phdr),
	    cmocka_unit_test(test_bad_arguments),
	    cmocka_unit_test(test_truncations),
	    cmocka_unit_test(test_relocate),
	    cmocka_unit_test(test_byte_flips),
	    cmocka_unit_test(test_section_headers_ignored),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
