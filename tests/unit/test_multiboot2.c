/* Host tests of the Multiboot2 boot-information parser, good and corrupt inputs. */
/* unit-sources: arch/x86_64/multiboot2.c */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arch/multiboot2.h>
#include <uapi/errno.h>

#define BUF_SIZE 16384

/* A growing MBI image in an 8-byte aligned buffer. */
struct mbi {
	_Alignas(8) uint8_t buf[BUF_SIZE];
	size_t len;
};

static struct mbi mb;
static struct mb2_info info;

static void put32(size_t off, uint32_t v)
{
	memcpy(mb.buf + off, &v, sizeof(v));
}

static void put64(size_t off, uint64_t v)
{
	memcpy(mb.buf + off, &v, sizeof(v));
}

static void pad8(void)
{
	while (mb.len % 8)
		mb.buf[mb.len++] = 0;
}

static void mbi_begin(void)
{
	memset(&mb, 0xcc, sizeof(mb));
	mb.len = 8;
	put32(4, 0);
}

/* Start a tag; returns its offset. */
static size_t tag_begin(uint32_t type)
{
	size_t off = mb.len;

	put32(off, type);
	mb.len += 8;
	return off;
}

static void tag_done(size_t off)
{
	put32(off + 4, mb.len - off);
	pad8();
}

static void add_bytes(const void *p, size_t n)
{
	memcpy(mb.buf + mb.len, p, n);
	mb.len += n;
}

static size_t add_string_tag(uint32_t type, const char *s)
{
	size_t off = tag_begin(type);

	add_bytes(s, strlen(s) + 1);
	tag_done(off);
	return off;
}

static size_t add_module(uint32_t start, uint32_t end, const char *cmd)
{
	size_t off = tag_begin(MB2_TAG_MODULE);

	put32(mb.len, start);
	put32(mb.len + 4, end);
	mb.len += 8;
	add_bytes(cmd, strlen(cmd) + 1);
	tag_done(off);
	return off;
}

static void add_meminfo(uint32_t lower, uint32_t upper)
{
	size_t off = tag_begin(MB2_TAG_MEMINFO);

	put32(mb.len, lower);
	put32(mb.len + 4, upper);
	mb.len += 8;
	tag_done(off);
}

struct ent {
	uint64_t base, len;
	uint32_t type;
};

static const struct ent qemu_mmap[] = {
    {0x0, 0x9fc00, MB2_MMAP_AVAILABLE},
    {0x9fc00, 0x400, MB2_MMAP_RESERVED},
    {0xf0000, 0x10000, MB2_MMAP_RESERVED},
    {0x100000, 0x7fee0000, MB2_MMAP_AVAILABLE},
    {0x7ffe0000, 0x20000, MB2_MMAP_RESERVED},
    {0xb0000000, 0x10000000, MB2_MMAP_RESERVED},
    {0xfed1c000, 0x4000, MB2_MMAP_RESERVED},
    {0xfffc0000, 0x40000, MB2_MMAP_RESERVED},
    {0x100000000, 0x80000000, MB2_MMAP_AVAILABLE},
};

static size_t add_mmap(const struct ent *e, size_t n, uint32_t entry_size)
{
	size_t off = tag_begin(MB2_TAG_MMAP), i;

	put32(mb.len, entry_size);
	put32(mb.len + 4, 0);
	mb.len += 8;
	for (i = 0; i < n; i++) {
		memset(mb.buf + mb.len, 0, entry_size);
		put64(mb.len, e[i].base);
		put64(mb.len + 8, e[i].len);
		put32(mb.len + 16, e[i].type);
		mb.len += entry_size;
	}
	tag_done(off);
	return off;
}

/* An ACPI 2.0 RSDP; its checksums do not matter to the MBI parser. */
static const uint8_t rsdp_v2[36] = "RSD PTR \x42"
				   "BOCHS \x02"
				   "\x00\x10\xfe\x7f"
				   "\x24";

static size_t add_rsdp(uint32_t type, size_t n)
{
	size_t off = tag_begin(type);

	add_bytes(rsdp_v2, n);
	mb.buf[off + 8 + 15] = type == MB2_TAG_ACPI_NEW ? 2 : 0;
	tag_done(off);
	return off;
}

static size_t add_end(void)
{
	size_t off = tag_begin(MB2_TAG_END);

	tag_done(off);
	return off;
}

static void mbi_finish(void)
{
	put32(0, mb.len);
}

/* The offsets of interesting tags in the standard image. */
static size_t off_cmdline, off_loader, off_mmap, off_mod0, off_mod1, off_rsdp, off_end;

/* An MBI as GRUB 2 produces it for the echod image under QEMU q35. */
static void build_standard(void)
{
	size_t off;

	mbi_begin();
	off_cmdline = add_string_tag(MB2_TAG_CMDLINE, "console=ttyS0 loglevel=7");
	off_loader = add_string_tag(MB2_TAG_LOADER_NAME, "GRUB 2.06-13+deb12u1");
	off_mod0 = add_module(0x200000, 0x2345a8, "/boot/echod port=7 cores=1");
	off_mod1 = add_module(0x235000, 0x235000, "");
	add_meminfo(639, 2096000);
	off = tag_begin(MB2_TAG_BOOTDEV);
	put32(mb.len, 0xe0);
	put32(mb.len + 4, 0xffffffff);
	put32(mb.len + 8, 0xffffffff);
	mb.len += 12;
	tag_done(off);
	off_mmap = add_mmap(qemu_mmap, ARRAY_SIZE(qemu_mmap), 24);
	off = tag_begin(MB2_TAG_ELF_SECTIONS);
	memset(mb.buf + mb.len, 0, 12 + 64 * 2);
	mb.len += 12 + 64 * 2;
	tag_done(off);
	off_rsdp = add_rsdp(MB2_TAG_ACPI_NEW, sizeof(rsdp_v2));
	off = tag_begin(MB2_TAG_LOAD_BASE_ADDR);
	put32(mb.len, 0x100000);
	mb.len += 4;
	tag_done(off);
	off_end = add_end();
	mbi_finish();
}

/* Parse mb.buf from an exact-size heap copy so ASan sees any over-read. */
static int parse_avail(size_t avail, const char **why)
{
	void *copy = malloc(avail ? avail : 1); /* 16-byte aligned */
	int err;

	assert_non_null(copy);
	memcpy(copy, mb.buf, avail);
	err = mb2_parse(copy, avail, &info, why);
	free(copy);
	return err;
}

static int parse(void)
{
	const char *why = NULL;
	int err = mb2_parse(mb.buf, mb.len, &info, &why);

	if (err)
		assert_non_null(why);
	else
		assert_null(why);
	return err;
}

static void expect(int err, const char *why_part)
{
	const char *why = NULL;

	assert_int_equal(mb2_parse(mb.buf, mb.len, &info, &why), err);
	assert_non_null(why);
	if (why_part && !strstr(why, why_part))
		fail_msg("reason \"%s\" lacks \"%s\"", why, why_part);
}

static int setup(void **state)
{
	(void)state;
	build_standard();
	return 0;
}

/* ---- good input ---- */

static void test_standard(void **state)
{
	size_t i;

	(void)state;
	assert_int_equal(parse(), 0);
	assert_int_equal(info.total_size, mb.len);
	assert_string_equal(info.cmdline, "console=ttyS0 loglevel=7");
	assert_ptr_equal(info.cmdline, mb.buf + off_cmdline + 8);
	assert_string_equal(info.loader_name, "GRUB 2.06-13+deb12u1");
	assert_true(info.has_meminfo);
	assert_int_equal(info.mem_lower_kib, 639);
	assert_int_equal(info.mem_upper_kib, 2096000);
	assert_true(info.has_mmap);
	assert_int_equal(info.mmap_count, ARRAY_SIZE(qemu_mmap));
	assert_int_equal(info.mmap_dropped, 0);
	for (i = 0; i < ARRAY_SIZE(qemu_mmap); i++) {
		assert_int_equal(info.mmap[i].base, qemu_mmap[i].base);
		assert_int_equal(info.mmap[i].length, qemu_mmap[i].len);
		assert_int_equal(info.mmap[i].type, qemu_mmap[i].type);
	}
	assert_int_equal(info.module_count, 2);
	assert_int_equal(info.modules_dropped, 0);
	assert_int_equal(info.modules[0].start, 0x200000);
	assert_int_equal(info.modules[0].end, 0x2345a8);
	assert_string_equal(info.modules[0].cmdline, "/boot/echod port=7 cores=1");
	assert_int_equal(info.modules[1].start, 0x235000);
	assert_int_equal(info.modules[1].end, 0x235000);
	assert_string_equal(info.modules[1].cmdline, "");
	assert_int_equal(info.rsdp_tag, MB2_TAG_ACPI_NEW);
	assert_int_equal(info.rsdp_len, 36);
	assert_ptr_equal(info.rsdp, mb.buf + off_rsdp + 8);
	assert_memory_equal(info.rsdp, "RSD PTR ", 8);
}

static void test_minimal(void **state)
{
	(void)state;
	mbi_begin();
	add_end();
	mbi_finish();
	assert_int_equal(parse(), 0);
	assert_null(info.cmdline);
	assert_null(info.loader_name);
	assert_null(info.rsdp);
	assert_false(info.has_mmap);
	assert_false(info.has_meminfo);
	assert_int_equal(info.module_count, 0);
}

static void test_why_may_be_null(void **state)
{
	(void)state;
	assert_int_equal(mb2_parse(mb.buf, mb.len, &info, NULL), 0);
	put32(0, 4);
	assert_int_equal(mb2_parse(mb.buf, mb.len, &info, NULL), -EINVAL);
}

static void test_avail_larger_than_total(void **state)
{
	(void)state;
	assert_int_equal(mb2_parse(mb.buf, sizeof(mb.buf), &info, NULL), 0);
	assert_int_equal(info.total_size, mb.len);
}

static void test_tags_after_end_ignored(void **state)
{
	(void)state;
	put32(mb.len, 0xdeadbeef); /* garbage after the end tag */
	put32(mb.len + 4, 3);
	mb.len += 8;
	put32(0, mb.len);
	assert_int_equal(parse(), 0);
}

static void test_first_cmdline_wins(void **state)
{
	(void)state;
	mb.len = off_end;
	add_string_tag(MB2_TAG_CMDLINE, "second");
	add_string_tag(MB2_TAG_LOADER_NAME, "other loader");
	add_meminfo(1, 2);
	add_mmap(qemu_mmap, 2, 24);
	add_end();
	mbi_finish();
	assert_int_equal(parse(), 0);
	assert_string_equal(info.cmdline, "console=ttyS0 loglevel=7");
	assert_string_equal(info.loader_name, "GRUB 2.06-13+deb12u1");
	assert_int_equal(info.mem_lower_kib, 639);
	assert_int_equal(info.mmap_count, ARRAY_SIZE(qemu_mmap));
}

static void test_mmap_larger_entries(void **state)
{
	size_t i;

	(void)state;
	mbi_begin();
	add_mmap(qemu_mmap, ARRAY_SIZE(qemu_mmap), 40);
	add_end();
	mbi_finish();
	assert_int_equal(parse(), 0);
	assert_int_equal(info.mmap_count, ARRAY_SIZE(qemu_mmap));
	for (i = 0; i < ARRAY_SIZE(qemu_mmap); i++) {
		assert_int_equal(info.mmap[i].base, qemu_mmap[i].base);
		assert_int_equal(info.mmap[i].length, qemu_mmap[i].len);
	}
}

static void test_mmap_empty(void **state)
{
	(void)state;
	mbi_begin();
	add_mmap(qemu_mmap, 0, 24);
	add_end();
	mbi_finish();
	assert_int_equal(parse(), 0);
	assert_true(info.has_mmap);
	assert_int_equal(info.mmap_count, 0);
}

static void test_mmap_truncated_to_max(void **state)
{
	struct ent e[MB2_MAX_MMAP + 72];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(e); i++)
		e[i] = (struct ent){i * 0x1000, 0x1000, 1 + i % 5};
	mbi_begin();
	add_mmap(e, ARRAY_SIZE(e), 24);
	add_end();
	mbi_finish();
	assert_int_equal(parse(), 0);
	assert_int_equal(info.mmap_count, MB2_MAX_MMAP);
	assert_int_equal(info.mmap_dropped, 72);
	assert_int_equal(info.mmap[MB2_MAX_MMAP - 1].base, (MB2_MAX_MMAP - 1) * 0x1000);
}

static void test_modules_truncated_to_max(void **state)
{
	char cmd[32];
	int i;

	(void)state;
	mbi_begin();
	for (i = 0; i < MB2_MAX_MODULES + 8; i++) {
		snprintf(cmd, sizeof(cmd), "mod%d", i);
		add_module(0x400000 + i * 0x1000, 0x400800 + i * 0x1000, cmd);
	}
	add_end();
	mbi_finish();
	assert_int_equal(parse(), 0);
	assert_int_equal(info.module_count, MB2_MAX_MODULES);
	assert_int_equal(info.modules_dropped, 8);
	assert_string_equal(info.modules[MB2_MAX_MODULES - 1].cmdline, "mod31");
}

static void test_rsdp_new_preferred_after_old(void **state)
{
	size_t new_off;

	(void)state;
	mbi_begin();
	add_rsdp(MB2_TAG_ACPI_OLD, 20);
	new_off = add_rsdp(MB2_TAG_ACPI_NEW, 36);
	add_rsdp(MB2_TAG_ACPI_OLD, 20);
	add_end();
	mbi_finish();
	assert_int_equal(parse(), 0);
	assert_int_equal(info.rsdp_tag, MB2_TAG_ACPI_NEW);
	assert_ptr_equal(info.rsdp, mb.buf + new_off + 8);
	assert_int_equal(info.rsdp_len, 36);
}

static void test_rsdp_new_preferred_before_old(void **state)
{
	size_t new_off;

	(void)state;
	mbi_begin();
	new_off = add_rsdp(MB2_TAG_ACPI_NEW, 36);
	add_rsdp(MB2_TAG_ACPI_OLD, 20);
	add_end();
	mbi_finish();
	assert_int_equal(parse(), 0);
	assert_int_equal(info.rsdp_tag, MB2_TAG_ACPI_NEW);
	assert_ptr_equal(info.rsdp, mb.buf + new_off + 8);
}

static void test_rsdp_old_only(void **state)
{
	size_t old_off;

	(void)state;
	mbi_begin();
	old_off = add_rsdp(MB2_TAG_ACPI_OLD, 20);
	add_rsdp(MB2_TAG_ACPI_OLD, 20);
	add_end();
	mbi_finish();
	assert_int_equal(parse(), 0);
	assert_int_equal(info.rsdp_tag, MB2_TAG_ACPI_OLD);
	assert_ptr_equal(info.rsdp, mb.buf + old_off + 8);
	assert_int_equal(info.rsdp_len, 20);
}

/* ---- corrupt header ---- */

static void test_null_and_misaligned(void **state)
{
	(void)state;
	assert_int_equal(mb2_parse(NULL, 100, &info, NULL), -EINVAL);
	assert_int_equal(mb2_parse(mb.buf + 4, mb.len - 4, &info, NULL), -EINVAL);
	assert_int_equal(mb2_parse(mb.buf + 1, mb.len - 1, &info, NULL), -EINVAL);
}

static void test_avail_too_small(void **state)
{
	const char *why;

	(void)state;
	assert_int_equal(parse_avail(0, &why), -ERANGE);
	assert_int_equal(parse_avail(7, &why), -ERANGE);
	assert_int_equal(parse_avail(mb.len - 1, &why), -ERANGE);
	assert_string_equal(why, "total_size beyond readable bytes");
}

static void test_total_size_small(void **state)
{
	(void)state;
	put32(0, 0);
	expect(-EINVAL, "total_size");
	put32(0, 7);
	expect(-EINVAL, "total_size");
	put32(0, 8);
	expect(-EINVAL, "no end tag");
	put32(0, 12);
	expect(-EINVAL, "no end tag");
}

static void test_total_size_large(void **state)
{
	(void)state;
	put32(0, mb.len + 8);
	expect(-ERANGE, "total_size");
	put32(0, 0xffffffff);
	expect(-ERANGE, "total_size");
}

static void test_total_cuts_end_tag(void **state)
{
	(void)state;
	put32(0, off_end + 4);
	expect(-EINVAL, "no end tag");
	put32(0, off_end);
	expect(-EINVAL, "no end tag");
	put32(0, off_end - 1); /* cuts the RSDP's neighbour tag */
	assert_true(parse() < 0);
}

static void test_missing_end_tag(void **state)
{
	(void)state;
	mb.len = off_end;
	mbi_finish();
	expect(-EINVAL, "no end tag");
}

static void test_end_tag_bad_size(void **state)
{
	(void)state;
	put32(off_end + 4, 16);
	put32(0, off_end + 16);
	memset(mb.buf + off_end + 8, 0, 8);
	mb.len = off_end + 16;
	expect(-EINVAL, "end tag");
	put32(off_end + 4, 4);
	expect(-EINVAL, "tag size < 8");
}

/* ---- corrupt tags ---- */

static void test_tag_size_zero(void **state)
{
	(void)state;
	put32(off_loader + 4, 0);
	expect(-EINVAL, "tag size < 8");
	put32(off_loader + 4, 7);
	expect(-EINVAL, "tag size < 8");
}

static void test_tag_size_oversized(void **state)
{
	(void)state;
	put32(off_mmap + 4, mb.len - off_mmap + 1);
	expect(-ERANGE, "past total_size");
	put32(off_mmap + 4, 0xfffffff8);
	expect(-ERANGE, "past total_size");
	put32(off_mmap + 4, 0xffffffff);
	expect(-ERANGE, "past total_size");
}

static void test_unpadded_tags(void **state)
{
	size_t off;

	(void)state;
	/* a builder that forgets the 8-byte padding between tags */
	mbi_begin();
	off = tag_begin(MB2_TAG_CMDLINE);
	add_bytes("ab", 3);
	put32(off + 4, 11);
	off = mb.len; /* 19: not aligned */
	put32(off, MB2_TAG_END);
	put32(off + 4, 8);
	mb.len += 8;
	mbi_finish();
	assert_true(parse() < 0);
}

static void test_cmdline_unterminated(void **state)
{
	size_t n = strlen("console=ttyS0 loglevel=7") + 1;

	(void)state;
	mb.buf[off_cmdline + 8 + n - 1] = 'X';
	expect(-EINVAL, "NUL");
	/* terminated only in the padding after the tag */
	mb.buf[off_cmdline + 8 + n] = 0;
	expect(-EINVAL, "NUL");
}

static void test_cmdline_empty_tag(void **state)
{
	(void)state;
	mbi_begin();
	put32(mb.len, MB2_TAG_CMDLINE);
	put32(mb.len + 4, 8);
	mb.len += 8;
	add_end();
	mbi_finish();
	expect(-EINVAL, "NUL");
}

static void test_loader_name_unterminated(void **state)
{
	(void)state;
	put32(off_loader + 4, 8 + strlen("GRUB 2.06-13+deb12u1"));
	expect(-EINVAL, "NUL");
}

static void test_module_reversed(void **state)
{
	(void)state;
	put32(off_mod0 + 8, 0x300000);
	expect(-EINVAL, "module ends before");
}

static void test_module_too_short(void **state)
{
	(void)state;
	put32(off_mod1 + 4, 12);
	expect(-EINVAL, "module tag too short");
	put32(off_mod1 + 4, 16); /* no room for the string's NUL */
	expect(-EINVAL, "NUL");
}

static void test_module_cmdline_unterminated(void **state)
{
	size_t n = strlen("/boot/echod port=7 cores=1");

	(void)state;
	put32(off_mod0 + 4, 16 + n);
	expect(-EINVAL, "NUL");
}

static void test_meminfo_too_short(void **state)
{
	(void)state;
	mbi_begin();
	put32(mb.len, MB2_TAG_MEMINFO);
	put32(mb.len + 4, 12);
	mb.len += 16;
	add_end();
	mbi_finish();
	expect(-EINVAL, "meminfo");
}

static void test_mmap_bad_entry_size(void **state)
{
	static const uint32_t bad[] = {0, 8, 16, 20, 23, 28, 25, 31};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		put32(off_mmap + 8, bad[i]);
		expect(-EINVAL, "entry_size");
	}
}

static void test_mmap_partial_entry(void **state)
{
	(void)state;
	put32(off_mmap + 8, 32); /* 9 * 24 bytes is no multiple of 32 */
	expect(-EINVAL, "whole number");
}

static void test_mmap_tag_too_short(void **state)
{
	(void)state;
	mbi_begin();
	put32(mb.len, MB2_TAG_MMAP);
	put32(mb.len + 4, 12);
	put32(mb.len + 8, 24);
	mb.len += 16;
	add_end();
	mbi_finish();
	expect(-EINVAL, "mmap tag too short");
}

static void test_mmap_entry_wraps(void **state)
{
	(void)state;
	put64(off_mmap + 16 + 24 * 3 + 8, 0xfffffffffff00001);
	expect(-EINVAL, "wraps");
}

static void test_rsdp_tag_too_short(void **state)
{
	(void)state;
	mbi_begin();
	add_rsdp(MB2_TAG_ACPI_NEW, 20);
	add_end();
	mbi_finish();
	expect(-EINVAL, "RSDP");
	mbi_begin();
	add_rsdp(MB2_TAG_ACPI_OLD, 19);
	add_end();
	mbi_finish();
	expect(-EINVAL, "RSDP");
}

/* ---- systematic corruption: must never read out of bounds ---- */

static void test_every_truncation(void **state)
{
	size_t total = mb.len, n;
	const char *why;

	(void)state;
	for (n = 0; n < total; n++) {
		assert_true(parse_avail(n, &why) < 0);
		put32(0, n); /* shrink total_size too */
		assert_true(parse_avail(n, &why) < 0);
		put32(0, total);
	}
	assert_int_equal(parse_avail(total, &why), 0);
}

static void test_every_byte_flipped(void **state)
{
	static const uint8_t masks[] = {0x01, 0x08, 0x80, 0xff};
	size_t total = mb.len, i, m;
	int err, ok = 0;
	const char *why;

	(void)state;
	for (i = 0; i < total; i++) {
		for (m = 0; m < ARRAY_SIZE(masks); m++) {
			mb.buf[i] ^= masks[m];
			err = parse_avail(total, &why);
			assert_true(err == 0 || err == -EINVAL || err == -ERANGE);
			if (!err) {
				ok++;
				assert_true(info.mmap_count <= MB2_MAX_MMAP);
				assert_true(info.module_count <= MB2_MAX_MODULES);
			}
			mb.buf[i] ^= masks[m];
		}
	}
	assert_true(ok > 0); /* flips in payload bytes still parse */
}

static void test_random_tag_soup(void **state)
{
	static const uint32_t sizes[] = {8, 9, 12, 16, 17, 24, 40, 4096};
	size_t off, i;
	int round;
	const char *why;

	(void)state;
	srand(12345);
	for (round = 0; round < 2000; round++) {
		mbi_begin();
		for (i = 0; i < 8; i++) {
			off = mb.len;
			put32(off, rand() % 22);
			put32(off + 4, sizes[rand() % ARRAY_SIZE(sizes)]);
			put32(off + 8, rand() % 64);
			put32(off + 12, rand());
			mb.len += 16;
		}
		add_end();
		mbi_finish();
		parse_avail(mb.len, &why);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_standard, setup),
	    cmocka_unit_test_setup(test_minimal, setup),
	    cmocka_unit_test_setup(test_why_may_be_null, setup),
	    cmocka_unit_test_setup(test_avail_larger_than_total, setup),
	    cmocka_unit_test_setup(test_tags_after_end_ignored, setup),
	    cmocka_unit_test_setup(test_first_cmdline_wins, setup),
	    cmocka_unit_test_setup(test_mmap_larger_entries, setup),
	    cmocka_unit_test_setup(test_mmap_empty, setup),
	    cmocka_unit_test_setup(test_mmap_truncated_to_max, setup),
	    cmocka_unit_test_setup(test_modules_truncated_to_max, setup),
	    cmocka_unit_test_setup(test_rsdp_new_preferred_after_old, setup),
	    cmocka_unit_test_setup(test_rsdp_new_preferred_before_old, setup),
	    cmocka_unit_test_setup(test_rsdp_old_only, setup),
	    cmocka_unit_test_setup(test_null_and_misaligned, setup),
	    cmocka_unit_test_setup(test_avail_too_small, setup),
	    cmocka_unit_test_setup(test_total_size_small, setup),
	    cmocka_unit_test_setup(test_total_size_large, setup),
	    cmocka_unit_test_setup(test_total_cuts_end_tag, setup),
	    cmocka_unit_test_setup(test_missing_end_tag, setup),
	    cmocka_unit_test_setup(test_end_tag_bad_size, setup),
	    cmocka_unit_test_setup(test_tag_size_zero, setup),
	    cmocka_unit_test_setup(test_tag_size_oversized, setup),
	    cmocka_unit_test_setup(test_unpadded_tags, setup),
	    cmocka_unit_test_setup(test_cmdline_unterminated, setup),
	    cmocka_unit_test_setup(test_cmdline_empty_tag, setup),
	    cmocka_unit_test_setup(test_loader_name_unterminated, setup),
	    cmocka_unit_test_setup(test_module_reversed, setup),
	    cmocka_unit_test_setup(test_module_too_short, setup),
	    cmocka_unit_test_setup(test_module_cmdline_unterminated, setup),
	    cmocka_unit_test_setup(test_meminfo_too_short, setup),
	    cmocka_unit_test_setup(test_mmap_bad_entry_size, setup),
	    cmocka_unit_test_setup(test_mmap_partial_entry, setup),
	    cmocka_unit_test_setup(test_mmap_tag_too_short, setup),
	    cmocka_unit_test_setup(test_mmap_entry_wraps, setup),
	    cmocka_unit_test_setup(test_rsdp_tag_too_short, setup),
	    cmocka_unit_test_setup(test_every_truncation, setup),
	    cmocka_unit_test_setup(test_every_byte_flipped, setup),
	    cmocka_unit_test_setup(test_random_tag_soup, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
