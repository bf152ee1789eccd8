/* Host tests of the DMAR parser (arch/x86_64/dmar.c) on QEMU's table and corrupt ones. */
/* unit-sources: arch/x86_64/dmar.c */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <arch/acpi.h>
#include <uapi/errno.h>

/* Offsets from VT-d 4.1 ch. 8, to build and corrupt tables. */
#define HDR_LEN	      36
#define DMAR_HAW      36
#define DMAR_FLAGS    37
#define DMAR_HDR_LEN  48
#define RS_LEN	      2
#define DRHD_FLAGS    4
#define DRHD_BASE     8
#define DRHD_SCOPES   16
#define RMRR_BASE     8
#define RMRR_LIMIT    16
#define SCOPE_LEN     1
#define SCOPE_PATH    6
#define QEMU_VTD_BASE 0xfed90000ull

static uint8_t tab[4096];
static size_t tab_len;
static size_t rs_start; /* the remapping structure being built */
static struct acpi_dmar dmar;
static const char *why;

static void put8(uint8_t v)
{
	tab[tab_len++] = v;
}

static void put16(uint16_t v)
{
	memcpy(tab + tab_len, &v, 2);
	tab_len += 2;
}

static void put64(uint64_t v)
{
	memcpy(tab + tab_len, &v, 8);
	tab_len += 8;
}

static void set16(size_t off, uint16_t v)
{
	memcpy(tab + off, &v, 2);
}

static void set64(size_t off, uint64_t v)
{
	memcpy(tab + off, &v, 8);
}

/* Header as QEMU writes it: 39-bit DMA, interrupt remapping, x2APIC opt-out. */
static void dmar_begin(uint8_t haw, uint8_t flags)
{
	memset(tab, 0, sizeof(tab));
	memcpy(tab, "DMAR", 4);
	tab_len = HDR_LEN;
	put8(haw);
	put8(flags);
	tab_len = DMAR_HDR_LEN;
}

static void rs_begin(uint16_t type)
{
	rs_start = tab_len;
	put16(type);
	put16(0); /* length, set by rs_end */
}

static void rs_end(void)
{
	set16(rs_start + RS_LEN, (uint16_t)(tab_len - rs_start));
}

static void drhd_begin(uint8_t flags, uint16_t segment, uint64_t base)
{
	rs_begin(0);
	put8(flags);
	put8(0);
	put16(segment);
	put64(base);
}

/* A device scope: type, enumeration id, start bus, then hops (dev, fn) pairs. */
static void scope(uint8_t type, uint8_t id, uint8_t bus, int hops, const uint8_t *path)
{
	put8(type);
	put8((uint8_t)(SCOPE_PATH + 2 * hops));
	put16(0);
	put8(id);
	put8(bus);
	for (int i = 0; i < 2 * hops; i++)
		put8(path[i]);
}

static void rmrr(uint16_t segment, uint64_t base, uint64_t limit, bool with_scope)
{
	rs_begin(1);
	put16(0);
	put16(segment);
	put64(base);
	put64(limit);
	if (with_scope)
		scope(ACPI_DMAR_SCOPE_ENDPOINT, 0, 0, 1, (const uint8_t[]){0x1d, 0});
	rs_end();
}

/* QEMU 7.2's q35 DMAR with intel-iommu: one DRHD covering every device
 * (INCLUDE_PCI_ALL) with the IOAPIC in its scope, then an ATSR. */
static void build_qemu(void)
{
	dmar_begin(38, ACPI_DMAR_INTR_REMAP | ACPI_DMAR_X2APIC_OPTOUT);
	drhd_begin(1, 0, QEMU_VTD_BASE);
	scope(ACPI_DMAR_SCOPE_IOAPIC, 0, 0xff, 1, (const uint8_t[]){0, 0});
	rs_end();
	rs_begin(2); /* ATSR: flags, reserved, segment */
	put8(1);
	put8(0);
	put16(0);
	rs_end();
}

static int parse_len(size_t len)
{
	uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan sees any over-read */
	int err;

	assert_non_null(copy);
	memcpy(copy, tab, len);
	why = "unset";
	err = acpi_dmar_parse(copy, (uint32_t)len, &dmar, &why);
	free(copy);
	if (err) {
		assert_int_equal(err, -EINVAL);
		assert_non_null(why);
	} else {
		assert_null(why);
	}
	return err;
}

static int parse(void)
{
	return parse_len(tab_len);
}

static void expect_bad(const char *part)
{
	assert_int_equal(parse(), -EINVAL);
	if (!strstr(why, part))
		fail_msg("reason \"%s\" lacks \"%s\"", why, part);
}

static void test_qemu_table(void **state)
{
	(void)state;
	build_qemu();
	assert_int_equal(parse(), 0);
	assert_int_equal(dmar.host_width, 39);
	assert_int_equal(dmar.flags, ACPI_DMAR_INTR_REMAP | ACPI_DMAR_X2APIC_OPTOUT);
	assert_int_equal(dmar.unit_count, 1);
	assert_int_equal(dmar.units[0].base, QEMU_VTD_BASE);
	assert_int_equal(dmar.units[0].segment, 0);
	assert_true(dmar.units[0].include_all);
	assert_int_equal(dmar.units[0].scope_count, 1);
	assert_int_equal(dmar.units[0].scopes[0].type, ACPI_DMAR_SCOPE_IOAPIC);
	assert_int_equal(dmar.units[0].scopes[0].start_bus, 0xff);
	assert_int_equal(dmar.units[0].scopes[0].path_len, 1);
	assert_int_equal(dmar.rmrr_count, 0);
	assert_int_equal(dmar.others, 1);
}

static void test_scopes_and_rmrr(void **state)
{
	(void)state;
	dmar_begin(47, 0);
	drhd_begin(0, 0, 0xfed91000);
	scope(ACPI_DMAR_SCOPE_ENDPOINT, 0, 0, 1, (const uint8_t[]){2, 0});
	scope(ACPI_DMAR_SCOPE_BRIDGE, 0, 0, 2, (const uint8_t[]){0x1c, 0, 0, 3});
	rs_end();
	drhd_begin(1, 0, 0xfed90000);
	rs_end();
	rmrr(0, 0x7f000000, 0x7f0fffff, true);
	assert_int_equal(parse(), 0);
	assert_int_equal(dmar.unit_count, 2);
	const struct acpi_dmar_unit *u = &dmar.units[0];
	assert_false(u->include_all);
	assert_int_equal(u->scope_count, 2);
	assert_int_equal(u->scopes[0].path[0].dev, 2);
	assert_int_equal(u->scopes[1].type, ACPI_DMAR_SCOPE_BRIDGE);
	assert_int_equal(u->scopes[1].path_len, 2);
	assert_int_equal(u->scopes[1].path[1].fn, 3);
	assert_true(dmar.units[1].include_all);
	assert_int_equal(dmar.units[1].scope_count, 0);
	assert_int_equal(dmar.rmrr_count, 1);
	assert_int_equal(dmar.rmrrs[0].base, 0x7f000000);
	assert_int_equal(dmar.rmrrs[0].limit, 0x7f0fffff);
	assert_int_equal(dmar.rmrrs[0].scopes[0].path[0].dev, 0x1d);
}

/* More than we keep: the first in table order stay, the rest are counted. */
static void test_overflow_is_counted(void **state)
{
	(void)state;
	dmar_begin(38, 0);
	for (int i = 0; i < ACPI_DMAR_MAX_UNITS + 2; i++) {
		drhd_begin(0, (uint16_t)i, 0xfed00000 + 0x1000ull * i);
		rs_end();
	}
	drhd_begin(1, 0, 0xfec00000);
	for (int i = 0; i < ACPI_DMAR_MAX_SCOPES + 3; i++)
		scope(ACPI_DMAR_SCOPE_ENDPOINT, 0, 0, 1, (const uint8_t[]){(uint8_t)(i % 32), 0});
	rs_end();
	for (int i = 0; i < ACPI_DMAR_MAX_RMRRS + 1; i++)
		rmrr(0, 0x1000ull * i, 0x1000ull * i + 0xfff, true);
	assert_int_equal(parse(), 0);
	assert_int_equal(dmar.unit_count, ACPI_DMAR_MAX_UNITS);
	assert_int_equal(dmar.units_dropped, 3);
	assert_int_equal(dmar.units[1].segment, 1);
	assert_int_equal(dmar.rmrr_count, ACPI_DMAR_MAX_RMRRS);
	assert_int_equal(dmar.rmrrs_dropped, 1);
}

/* A path deeper than we keep is recorded as unusable (path_len 0), not cut short. */
static void test_deep_path_unusable(void **state)
{
	(void)state;
	const uint8_t path[] = {1, 0, 2, 0, 3, 0, 4, 0, 5, 0};
	dmar_begin(38, 0);
	drhd_begin(0, 0, QEMU_VTD_BASE);
	scope(ACPI_DMAR_SCOPE_ENDPOINT, 0, 0, 5, path);
	rs_end();
	assert_int_equal(parse(), 0);
	assert_int_equal(dmar.units[0].scopes[0].path_len, 0);
}

static void test_bad_header(void **state)
{
	(void)state;
	build_qemu();
	assert_int_equal(parse_len(47), -EINVAL);
	assert_non_null(strstr(why, "shorter than 48"));
	tab[DMAR_HAW] = 64;
	expect_bad("host address width");
	dmar_begin(38, 0); /* no structure at all */
	expect_bad("no remapping unit");
	dmar_begin(38, 0); /* only an RMRR */
	rmrr(0, 0, 0xfff, true);
	expect_bad("no remapping unit");
}

static void test_bad_structure_lengths(void **state)
{
	(void)state;
	static const uint16_t lens[] = {0, 1, 3, 0xffff};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		build_qemu();
		set16(DMAR_HDR_LEN + RS_LEN, lens[i]);
		expect_bad("remapping structure length");
	}
	build_qemu();
	tab_len += 3; /* a dangling partial header after the last structure */
	expect_bad("header truncated");
	build_qemu(); /* DRHD too short for its fixed part */
	tab_len = DMAR_HDR_LEN;
	drhd_begin(1, 0, QEMU_VTD_BASE);
	tab_len -= 4;
	rs_end();
	expect_bad("DRHD shorter than 16");
}

static void test_bad_drhd(void **state)
{
	(void)state;
	build_qemu();
	set64(DMAR_HDR_LEN + DRHD_BASE, 0);
	expect_bad("register base is 0");
	build_qemu();
	set64(DMAR_HDR_LEN + DRHD_BASE, QEMU_VTD_BASE + 8);
	expect_bad("not page aligned");
	build_qemu();
	set64(DMAR_HDR_LEN + DRHD_BASE, 0xfffffffffffff000ull);
	expect_bad("wraps around");
	dmar_begin(38, 0);
	drhd_begin(1, 0, QEMU_VTD_BASE);
	rs_end();
	drhd_begin(1, 0, QEMU_VTD_BASE + 0x1000);
	rs_end();
	expect_bad("two INCLUDE_PCI_ALL");
	dmar_begin(38, 0); /* one per segment is fine */
	drhd_begin(1, 0, QEMU_VTD_BASE);
	rs_end();
	drhd_begin(1, 1, QEMU_VTD_BASE + 0x1000);
	rs_end();
	assert_int_equal(parse(), 0);
}

static void test_bad_scopes(void **state)
{
	size_t scope_at = DMAR_HDR_LEN + DRHD_SCOPES;

	(void)state;
	build_qemu();
	tab[scope_at + SCOPE_LEN] = 5;
	expect_bad("scope length");
	build_qemu();
	tab[scope_at + SCOPE_LEN] = 200; /* past its DRHD */
	expect_bad("scope length");
	build_qemu();
	tab[scope_at + SCOPE_LEN] = 6; /* no hop: names nothing; the rest is a second scope */
	expect_bad("scope");
	build_qemu();
	tab[scope_at + SCOPE_PATH] = 32;
	expect_bad("names no PCI function");
	build_qemu();
	tab[scope_at + SCOPE_PATH + 1] = 8;
	expect_bad("names no PCI function");
	dmar_begin(38, 0);
	drhd_begin(1, 0, QEMU_VTD_BASE);
	scope(ACPI_DMAR_SCOPE_ENDPOINT, 0, 0, 1, (const uint8_t[]){1, 0});
	tab[tab_len - 8 + SCOPE_LEN] = 7; /* odd: one hop and a lone byte */
	tab_len -= 1;
	rs_end();
	expect_bad("not whole");
	dmar_begin(38, 0);
	drhd_begin(1, 0, QEMU_VTD_BASE);
	put8(1); /* a scope cut after its type and length */
	put8(8);
	put16(0);
	rs_end();
	expect_bad("scope truncated");
}

static void test_bad_rmrr(void **state)
{
	(void)state;
	build_qemu();
	rmrr(0, 0x2000, 0x1fff, true);
	expect_bad("reversed");
	build_qemu();
	rmrr(0, 0x2001, 0x2fff, true);
	expect_bad("page granular");
	build_qemu();
	rmrr(0, 0x2000, 0x2ffe, true);
	expect_bad("page granular");
	build_qemu();
	rmrr(0, 0x2000, 0x2fff, false);
	expect_bad("names no device");
	build_qemu();
	rs_begin(1);
	put16(0);
	put16(0);
	put64(0);
	rs_end();
	expect_bad("RMRR shorter than 24");
}

/* Every prefix and every single-byte corruption of a rich table: an answer
 * (0 or -EINVAL with a reason), never a read outside the bytes given. */
static void test_truncations_and_flips(void **state)
{
	(void)state;
	dmar_begin(38, 0);
	drhd_begin(0, 0, 0xfed91000);
	scope(ACPI_DMAR_SCOPE_BRIDGE, 0, 0, 2, (const uint8_t[]){0x1c, 0, 0, 3});
	rs_end();
	drhd_begin(1, 0, QEMU_VTD_BASE);
	scope(ACPI_DMAR_SCOPE_IOAPIC, 0, 0xff, 1, (const uint8_t[]){0, 0});
	rs_end();
	rmrr(0, 0x7f000000, 0x7f0fffff, true);
	size_t full = tab_len;
	uint8_t good[sizeof(tab)];
	memcpy(good, tab, sizeof(tab));
	for (size_t len = 0; len < full; len++)
		(void)parse_len(len);
	for (size_t at = HDR_LEN; at < full; at++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(tab, good, sizeof(tab));
			tab[at] ^= (uint8_t)(1u << bit);
			(void)parse_len(full);
			assert_true(dmar.unit_count <= ACPI_DMAR_MAX_UNITS);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_qemu_table),
	    cmocka_unit_test(test_scopes_and_rmrr),
	    cmocka_unit_test(test_overflow_is_counted),
	    cmocka_unit_test(test_deep_path_unusable),
	    cmocka_unit_test(test_bad_header),
	    cmocka_unit_test(test_bad_structure_lengths),
	    cmocka_unit_test(test_bad_drhd),
	    cmocka_unit_test(test_bad_scopes),
	    cmocka_unit_test(test_bad_rmrr),
	    cmocka_unit_test(test_truncations_and_flips),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
