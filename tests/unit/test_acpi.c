/* Host tests of the ACPI parser on a QEMU q35-like table set, good and corrupt. */
/* unit-sources: arch/x86_64/acpi.c arch/x86_64/dmar.c */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <arch/acpi.h>
#include <uapi/errno.h>

/* Fake physical memory: one region where QEMU puts its tables. */
#define MEM_BASE 0x7ffe0000ull
#define MEM_SIZE 0x10000

#define OFF_FACS  0x0000
#define OFF_DSDT  0x0040
#define OFF_FACP  0x1000
#define OFF_APIC  0x1203 /* odd on purpose: unaligned fields */
#define OFF_HPET  0x1400
#define OFF_MCFG  0x1500
#define OFF_WAET  0x1600
#define OFF_RSDT  0x1700
#define OFF_XSDT  0x1800
#define OFF_RSDP  0x1900
#define OFF_FREE  0x2000 /* room for tables built by a test */
#define OFF_FREE2 0x8000

#define PA(off) (MEM_BASE + (off))

/* Offsets from the ACPI 6.5 spec used to build and corrupt the fixture. */
#define HDR_LEN		  36
#define HDR_LENGTH	  4
#define HDR_CHECKSUM	  9
#define RSDP_CHECKSUM	  8
#define RSDP_REVISION	  15
#define RSDP_RSDT	  16
#define RSDP_LENGTH	  20
#define RSDP_XSDT	  24
#define RSDP_EXT_CHECKSUM 32
#define FADT_DSDT	  40
#define FADT_SCI	  46
#define FADT_PM1A_CNT	  64
#define FADT_PM1B_CNT	  68
#define FADT_CENTURY	  108
#define FADT_X_DSDT	  140
#define FADT_X_PM1A_CNT	  172
#define MADT_LAPIC_ADDR	  36
#define MADT_FLAGS	  40
#define MADT_ENTRIES	  44
#define MCFG_ENTRIES	  44

static uint8_t mem[MEM_SIZE];
static uint8_t pristine[MEM_SIZE];
static struct acpi_info info;

/* ---- the mapper: exact-size heap copies so ASan sees any over-read ---- */

struct mapper {
	void **copies;
	size_t n, cap;
	size_t calls;
	paddr_t deny_pa; /* map of a range containing it fails */
};

static struct mapper mp;

static const void *fake_map(paddr_t pa, size_t len, void *ctx)
{
	struct mapper *m = ctx;
	void *copy;

	assert_ptr_equal(m, &mp);
	m->calls++;
	if (pa < MEM_BASE || pa - MEM_BASE > MEM_SIZE || len > MEM_SIZE - (pa - MEM_BASE) || !len)
		return NULL;
	if (m->deny_pa && m->deny_pa >= pa && m->deny_pa < pa + len)
		return NULL;
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->copies = realloc(m->copies, m->cap * sizeof(void *));
		assert_non_null(m->copies);
	}
	copy = malloc(len);
	assert_non_null(copy);
	memcpy(copy, mem + (pa - MEM_BASE), len);
	m->copies[m->n++] = copy;
	return copy;
}

static void mapper_reset(void)
{
	while (mp.n)
		free(mp.copies[--mp.n]);
	mp.calls = 0;
	mp.deny_pa = 0;
}

/* ---- little-endian writers into fake memory ---- */

static void put8(size_t off, uint8_t v)
{
	mem[off] = v;
}

static void put16(size_t off, uint16_t v)
{
	memcpy(mem + off, &v, sizeof(v));
}

static void put32(size_t off, uint32_t v)
{
	memcpy(mem + off, &v, sizeof(v));
}

static void put64(size_t off, uint64_t v)
{
	memcpy(mem + off, &v, sizeof(v));
}

static uint32_t get32(size_t off)
{
	uint32_t v;

	memcpy(&v, mem + off, sizeof(v));
	return v;
}

static uint8_t sum(size_t off, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += mem[off++];
	return s;
}

/* Recompute the checksum of the table at off from its length field. */
static void fix(size_t off)
{
	size_t len = MIN(get32(off + HDR_LENGTH), MEM_SIZE - off);

	mem[off + HDR_CHECKSUM] = 0;
	mem[off + HDR_CHECKSUM] = -sum(off, len);
}

static void fix_rsdp(void)
{
	mem[OFF_RSDP + RSDP_CHECKSUM] = 0;
	mem[OFF_RSDP + RSDP_CHECKSUM] = -sum(OFF_RSDP, 20);
	mem[OFF_RSDP + RSDP_EXT_CHECKSUM] = 0;
	mem[OFF_RSDP + RSDP_EXT_CHECKSUM] = -sum(OFF_RSDP, 36);
}

/* ---- table builder ---- */

static size_t tb_off, tb_len;

static void tb_begin(size_t off, const char *sig, uint8_t rev)
{
	tb_off = off;
	tb_len = HDR_LEN;
	memset(mem + off, 0, HDR_LEN);
	memcpy(mem + off, sig, 4);
	put8(off + 8, rev);
	memcpy(mem + off + 10, "BOCHS ", 6);
	memcpy(mem + off + 16, "BXPC    ", 8);
	put32(off + 24, 1);
	memcpy(mem + off + 28, "BXPC", 4);
	put32(off + 32, 1);
}

static void tb_u8(uint8_t v)
{
	put8(tb_off + tb_len, v);
	tb_len += 1;
}

static void tb_u16(uint16_t v)
{
	put16(tb_off + tb_len, v);
	tb_len += 2;
}

static void tb_u32(uint32_t v)
{
	put32(tb_off + tb_len, v);
	tb_len += 4;
}

static void tb_u64(uint64_t v)
{
	put64(tb_off + tb_len, v);
	tb_len += 8;
}

static void tb_bytes(const void *p, size_t n)
{
	memcpy(mem + tb_off + tb_len, p, n);
	tb_len += n;
}

static void tb_zero(size_t n)
{
	memset(mem + tb_off + tb_len, 0, n);
	tb_len += n;
}

static size_t tb_end(void)
{
	put32(tb_off + HDR_LENGTH, tb_len);
	fix(tb_off);
	return tb_len;
}

static void madt_lapic(uint8_t uid, uint8_t id, uint32_t flags)
{
	tb_u8(0);
	tb_u8(8);
	tb_u8(uid);
	tb_u8(id);
	tb_u32(flags);
}

static void madt_ioapic(uint8_t id, uint32_t addr, uint32_t gsi_base)
{
	tb_u8(1);
	tb_u8(12);
	tb_u8(id);
	tb_u8(0);
	tb_u32(addr);
	tb_u32(gsi_base);
}

static void madt_iso(uint8_t src, uint32_t gsi, uint16_t flags)
{
	tb_u8(2);
	tb_u8(10);
	tb_u8(0);
	tb_u8(src);
	tb_u32(gsi);
	tb_u16(flags);
}

static void madt_lapic_nmi(void)
{
	tb_u8(4);
	tb_u8(6);
	tb_u8(0xff);
	tb_u16(0);
	tb_u8(1);
}

static void madt_x2apic(uint32_t id, uint32_t uid, uint32_t flags)
{
	tb_u8(9);
	tb_u8(16);
	tb_u16(0);
	tb_u32(id);
	tb_u32(flags);
	tb_u32(uid);
}

static void madt_begin(size_t off)
{
	tb_begin(off, "APIC", 1);
	tb_u32(0xfee00000);
	tb_u32(1); /* PCAT_COMPAT */
}

/* MADT as QEMU q35 builds it for -smp 2. */
static size_t build_madt(size_t off)
{
	madt_begin(off);
	madt_lapic(0, 0, 1);
	madt_lapic(1, 1, 1);
	madt_ioapic(0, 0xfec00000, 0);
	madt_iso(0, 2, 0);
	madt_iso(5, 5, 0xd);
	madt_iso(9, 9, 0xd);
	madt_iso(10, 10, 0xd);
	madt_iso(11, 11, 0xd);
	madt_lapic_nmi();
	return tb_end();
}

/* NameOp, NameSeg "_S5_", PackageOp: what every \_S5_ fixture starts with */
#define S5_NAME 0x08, '_', 'S', '5', '_', 0x12

/* Name (_S5_, Package (4) { 5, 6, 0, 0 }) as iasl emits it. */
static const uint8_t s5_std[] = {S5_NAME, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x06, 0x00, 0x00};

/* Some AML before _S5_: a method that mentions _S5_ without a package. */
/* clang-format off */
static const uint8_t aml_head[] = {
	0x10, 0x12, '_', 'S', 'B', '_',			/* Scope (\_SB) */
	0x5b, 0x82, 0x0c, 'P', 'C', 'I', '0',		/* Device (PCI0) */
	0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x08,
	0x14, 0x0a, 'P', 'T', 'S', '_', 0x01,		/* Method (PTS, 1) */
	'_', 'S', '5', '_', 0x70,			/* _S5_ without a package */
};
/* clang-format on */

static const uint8_t aml_tail[] = {0x14, 0x08, '_', 'W', 'A', 'K', 0x01, 0xa4, 0x00, 0x5b, 0x31};

static size_t build_dsdt_with(const void *s5, size_t n, bool tail)
{
	tb_begin(OFF_DSDT, "DSDT", 1);
	tb_bytes(aml_head, sizeof(aml_head));
	tb_bytes(s5, n);
	if (tail)
		tb_bytes(aml_tail, sizeof(aml_tail));
	return tb_end();
}

static size_t build_fadt(size_t off, uint8_t rev, size_t len)
{
	tb_begin(off, "FACP", rev);
	tb_zero(len - HDR_LEN);
	tb_len = len;
	put32(off + 36, PA(OFF_FACS));
	put32(off + FADT_DSDT, PA(OFF_DSDT));
	put16(off + FADT_SCI, 9);
	put32(off + 48, 0xb2);
	put8(off + 52, 0xf1);
	put8(off + 53, 0xf0);
	put32(off + 56, 0x600);
	put32(off + FADT_PM1A_CNT, 0x604);
	put32(off + 76, 0x608);
	put32(off + 80, 0x620);
	put8(off + 88, 4);
	put8(off + 89, 2);
	put8(off + 91, 4);
	put8(off + 92, 16);
	put16(off + 96, 0xfff);
	put16(off + 98, 0xfff);
	put8(off + FADT_CENTURY, 0x32);
	put32(off + 112, 0x84a5);
	if (len >= 148)
		put64(off + FADT_X_DSDT, PA(OFF_DSDT));
	if (len >= 184) {
		put8(off + FADT_X_PM1A_CNT, 1); /* SystemIO */
		put8(off + FADT_X_PM1A_CNT + 1, 16);
		put64(off + FADT_X_PM1A_CNT + 4, 0x604);
	}
	return tb_end();
}

static void build_mcfg(size_t off, int n)
{
	int i;

	tb_begin(off, "MCFG", 1);
	tb_u64(0);
	for (i = 0; i < n; i++) {
		tb_u64(0xb0000000ull + (uint64_t)i * 0x10000000);
		tb_u16(i);
		tb_u8(0);
		tb_u8(255);
		tb_u32(0);
	}
	tb_end();
}

static const size_t std_tables[] = {OFF_FACP, OFF_APIC, OFF_HPET, OFF_MCFG, OFF_WAET};

static void build_root(size_t off, const char *sig, const size_t *t, size_t n, bool wide)
{
	size_t i;

	tb_begin(off, sig, 1);
	for (i = 0; i < n; i++) {
		if (wide)
			tb_u64(PA(t[i]));
		else
			tb_u32(PA(t[i]));
	}
	tb_end();
}

static void build_rsdp(uint8_t rev)
{
	memset(mem + OFF_RSDP, 0, 36);
	memcpy(mem + OFF_RSDP, "RSD PTR ", 8);
	memcpy(mem + OFF_RSDP + 9, "BOCHS ", 6);
	put8(OFF_RSDP + RSDP_REVISION, rev);
	put32(OFF_RSDP + RSDP_RSDT, PA(OFF_RSDT));
	if (rev >= 2) {
		put32(OFF_RSDP + RSDP_LENGTH, 36);
		put64(OFF_RSDP + RSDP_XSDT, PA(OFF_XSDT));
	}
	fix_rsdp();
}

/* The whole q35 set: RSDP v2 -> XSDT -> FACP (-> DSDT), APIC, HPET, MCFG, WAET. */
static void build_standard(void)
{
	memset(mem, 0xa5, sizeof(mem));
	memset(mem + OFF_FACS, 0, 64);
	memcpy(mem + OFF_FACS, "FACS", 4);
	put32(OFF_FACS + 4, 64);
	build_dsdt_with(s5_std, sizeof(s5_std), true);
	build_fadt(OFF_FACP, 3, 244);
	build_madt(OFF_APIC);
	tb_begin(OFF_HPET, "HPET", 1);
	tb_u32(0x8086a201);
	tb_bytes((uint8_t[]){0, 0, 0, 0, 0, 0, 0xd0, 0xfe, 0, 0, 0, 0}, 12);
	tb_u8(0);
	tb_u16(0);
	tb_u8(0);
	tb_end();
	build_mcfg(OFF_MCFG, 1);
	tb_begin(OFF_WAET, "WAET", 1);
	tb_u32(2);
	tb_end();
	build_root(OFF_RSDT, "RSDT", std_tables, ARRAY_SIZE(std_tables), false);
	build_root(OFF_XSDT, "XSDT", std_tables, ARRAY_SIZE(std_tables), true);
	build_rsdp(2);
	memcpy(pristine, mem, sizeof(mem));
}

/* Point entry i of both root tables at the table at off. */
static void set_root_entry(size_t i, size_t off)
{
	put64(OFF_XSDT + HDR_LEN + 8 * i, PA(off));
	fix(OFF_XSDT);
	put32(OFF_RSDT + HDR_LEN + 4 * i, PA(off));
	fix(OFF_RSDT);
}

/* ---- running the parser ---- */

static const char *why;

/* Parse with the RSDP passed as an exact-size copy, like the MB2 tag gives. */
static int parse_copy_len(size_t len)
{
	void *copy = malloc(len ? len : 1);
	int err;

	memcpy(copy, mem + OFF_RSDP, len);
	why = "unset";
	err = acpi_parse(0, copy, len, fake_map, &mp, &info, &why);
	free(copy);
	mapper_reset();
	if (err) {
		assert_non_null(why);
		assert_int_equal(strlen(info.fail_table), 4);
	} else {
		assert_null(why);
		assert_string_equal(info.fail_table, "");
	}
	return err;
}

static int parse(void)
{
	return parse_copy_len(36);
}

static int parse_pa(paddr_t pa)
{
	int err;

	why = "unset";
	err = acpi_parse(pa, NULL, 0, fake_map, &mp, &info, &why);
	mapper_reset();
	return err;
}

static void expect_in(int err, const char *table, const char *why_part)
{
	assert_int_equal(parse(), err);
	assert_string_equal(info.fail_table, table);
	if (why_part && !strstr(why, why_part))
		fail_msg("reason \"%s\" lacks \"%s\"", why, why_part);
}

static int setup(void **state)
{
	(void)state;
	build_standard();
	mapper_reset();
	return 0;
}

static int teardown_all(void **state)
{
	(void)state;
	mapper_reset();
	free(mp.copies);
	return 0;
}

static void check_standard_madt(void)
{
	assert_true(info.found & ACPI_FOUND_MADT);
	assert_int_equal(info.lapic_addr, 0xfee00000);
	assert_true(info.pcat_compat);
	assert_int_equal(info.cpu_count, 2);
	assert_int_equal(info.cpus_dropped, 0);
	assert_int_equal(info.cpus_disabled, 0);
	assert_int_equal(info.cpus[0].apic_id, 0);
	assert_int_equal(info.cpus[1].apic_id, 1);
	assert_int_equal(info.cpus[1].uid, 1);
	assert_int_equal(info.cpus[1].flags, ACPI_CPU_ENABLED);
	assert_false(info.cpus[1].x2apic);
	assert_int_equal(info.ioapic_count, 1);
	assert_int_equal(info.ioapics[0].id, 0);
	assert_int_equal(info.ioapics[0].addr, 0xfec00000);
	assert_int_equal(info.ioapics[0].gsi_base, 0);
	assert_int_equal(info.iso_count, 5);
	assert_int_equal(info.isos[0].source, 0);
	assert_int_equal(info.isos[0].gsi, 2);
	assert_int_equal(info.isos[0].flags, 0);
	assert_int_equal(info.isos[2].source, 9);
	assert_int_equal(info.isos[2].gsi, 9);
	assert_int_equal(info.isos[2].flags & ACPI_ISO_POLARITY_MASK, ACPI_ISO_POLARITY_HIGH);
	assert_int_equal(info.isos[2].flags & ACPI_ISO_TRIGGER_MASK, ACPI_ISO_TRIGGER_LEVEL);
}

static void check_standard_rest(void)
{
	assert_true(info.found & ACPI_FOUND_MCFG);
	assert_int_equal(info.mcfg_count, 1);
	assert_int_equal(info.mcfg[0].base, 0xb0000000);
	assert_int_equal(info.mcfg[0].segment, 0);
	assert_int_equal(info.mcfg[0].bus_start, 0);
	assert_int_equal(info.mcfg[0].bus_end, 255);
	assert_true(info.found & ACPI_FOUND_FADT);
	assert_int_equal(info.fadt_revision, 3);
	assert_int_equal(info.sci_irq, 9);
	assert_int_equal(info.pm1a_cnt, 0x604);
	assert_int_equal(info.pm1b_cnt, 0);
	assert_int_equal(info.century, 0x32);
	assert_int_equal(info.dsdt_pa, PA(OFF_DSDT));
	assert_true(info.found & ACPI_FOUND_DSDT);
	assert_true(info.found & ACPI_FOUND_S5);
	assert_int_equal(info.slp_typa, 5);
	assert_int_equal(info.slp_typb, 6);
}

/* ---- good input ---- */

static void test_standard_xsdt(void **state)
{
	(void)state;
	assert_int_equal(parse(), 0);
	assert_int_equal(info.revision, 2);
	assert_string_equal(info.oem_id, "BOCHS ");
	assert_true(info.xsdt);
	assert_int_equal(info.root_pa, PA(OFF_XSDT));
	check_standard_madt();
	check_standard_rest();
}

static void test_standard_by_pa(void **state)
{
	(void)state;
	assert_int_equal(parse_pa(PA(OFF_RSDP)), 0);
	assert_null(why);
	assert_true(info.xsdt);
	check_standard_madt();
	check_standard_rest();
}

static void test_rsdp_copy_longer_than_needed(void **state)
{
	(void)state;
	assert_int_equal(parse_copy_len(64), 0);
	check_standard_madt();
}

static void test_rsdp_v1_uses_rsdt(void **state)
{
	(void)state;
	build_rsdp(0);
	assert_int_equal(parse_copy_len(20), 0);
	assert_int_equal(info.revision, 0);
	assert_false(info.xsdt);
	assert_int_equal(info.root_pa, PA(OFF_RSDT));
	check_standard_madt();
	check_standard_rest();
	assert_int_equal(parse_pa(PA(OFF_RSDP)), 0);
	assert_false(info.xsdt);
}

static void test_rsdp_v2_without_xsdt_uses_rsdt(void **state)
{
	(void)state;
	put64(OFF_RSDP + RSDP_XSDT, 0);
	fix_rsdp();
	assert_int_equal(parse(), 0);
	assert_false(info.xsdt);
	check_standard_madt();
	check_standard_rest();
}

static void test_why_may_be_null(void **state)
{
	(void)state;
	assert_int_equal(acpi_parse(PA(OFF_RSDP), NULL, 0, fake_map, &mp, &info, NULL), 0);
	mapper_reset();
	assert_int_equal(acpi_parse(0, NULL, 0, fake_map, &mp, &info, NULL), -ENOENT);
}

static void test_oem_id_sanitised(void **state)
{
	(void)state;
	memcpy(mem + OFF_RSDP + 9, "A\x01\x80~ z", 6);
	fix_rsdp();
	assert_int_equal(parse(), 0);
	assert_string_equal(info.oem_id, "A??~ z");
}

static void test_missing_mcfg(void **state)
{
	(void)state;
	memcpy(mem + OFF_MCFG, "MCFX", 4);
	fix(OFF_MCFG);
	assert_int_equal(parse(), 0);
	assert_false(info.found & ACPI_FOUND_MCFG);
	assert_int_equal(info.mcfg_count, 0);
	check_standard_madt();
	assert_true(info.found & ACPI_FOUND_S5);
}

static void test_missing_fadt(void **state)
{
	(void)state;
	put64(OFF_XSDT + HDR_LEN, 0); /* a null entry is skipped */
	fix(OFF_XSDT);
	assert_int_equal(parse(), 0);
	assert_false(info.found & (ACPI_FOUND_FADT | ACPI_FOUND_DSDT | ACPI_FOUND_S5));
	assert_int_equal(info.pm1a_cnt, 0);
	check_standard_madt();
	assert_true(info.found & ACPI_FOUND_MCFG);
}

static void test_missing_madt(void **state)
{
	(void)state;
	memcpy(mem + OFF_APIC, "APIX", 4);
	fix(OFF_APIC);
	expect_in(-ENOENT, "APIC", "no MADT");
}

static void test_empty_xsdt(void **state)
{
	(void)state;
	build_root(OFF_XSDT, "XSDT", NULL, 0, true);
	expect_in(-ENOENT, "APIC", "no MADT");
}

static void test_ignored_table_may_be_corrupt(void **state)
{
	(void)state;
	mem[OFF_HPET + 20]++; /* HPET checksum now wrong */
	put32(OFF_WAET + HDR_LENGTH, 0xffffffff);
	assert_int_equal(parse(), 0);
	check_standard_madt();
}

static void test_duplicate_tables_first_wins(void **state)
{
	const size_t t[] = {OFF_FACP, OFF_APIC, OFF_FREE, OFF_MCFG, OFF_FREE2};

	(void)state;
	madt_begin(OFF_FREE);
	madt_lapic(7, 7, 1);
	tb_end();
	build_mcfg(OFF_FREE2, 2);
	build_root(OFF_XSDT, "XSDT", t, ARRAY_SIZE(t), true);
	assert_int_equal(parse(), 0);
	check_standard_madt();
	assert_int_equal(info.mcfg_count, 1);
}

/* ---- RSDP ---- */

static void test_no_rsdp(void **state)
{
	(void)state;
	assert_int_equal(parse_pa(0), -ENOENT);
	assert_string_equal(why, "no RSDP");
	assert_string_equal(info.fail_table, "RSDP");
}

static void test_no_mapper(void **state)
{
	(void)state;
	assert_int_equal(acpi_parse(PA(OFF_RSDP), NULL, 0, NULL, NULL, &info, &why), -EINVAL);
}

static void test_rsdp_bad_signature(void **state)
{
	(void)state;
	mem[OFF_RSDP + 7] = '_';
	fix_rsdp();
	expect_in(-EINVAL, "RSDP", "signature");
}

static void test_rsdp_bad_checksum(void **state)
{
	(void)state;
	mem[OFF_RSDP + RSDP_CHECKSUM]++;
	expect_in(-EINVAL, "RSDP", "RSDP checksum");
	assert_int_equal(parse_pa(PA(OFF_RSDP)), -EINVAL);
}

static void test_rsdp_bad_ext_checksum(void **state)
{
	(void)state;
	mem[OFF_RSDP + RSDP_EXT_CHECKSUM]++;
	expect_in(-EINVAL, "RSDP", "extended checksum");
	assert_int_equal(parse_pa(PA(OFF_RSDP)), -EINVAL);
}

static void test_rsdp_short_copy(void **state)
{
	(void)state;
	assert_int_equal(parse_copy_len(0), -ERANGE);
	assert_int_equal(parse_copy_len(19), -ERANGE);
	assert_int_equal(parse_copy_len(20), -ERANGE); /* v2 needs 36 */
	assert_int_equal(parse_copy_len(35), -ERANGE);
}

static void test_rsdp_length_field(void **state)
{
	(void)state;
	put32(OFF_RSDP + RSDP_LENGTH, 20);
	fix_rsdp();
	expect_in(-EINVAL, "RSDP", "length");
	put32(OFF_RSDP + RSDP_LENGTH, 0);
	fix_rsdp();
	expect_in(-EINVAL, "RSDP", "length");
	put32(OFF_RSDP + RSDP_LENGTH, 40); /* more than the copy has */
	fix_rsdp();
	expect_in(-ERANGE, "RSDP", "length");
	put32(OFF_RSDP + RSDP_LENGTH, 0xffffffff);
	fix_rsdp();
	expect_in(-ERANGE, "RSDP", "length");
	assert_int_equal(parse_pa(PA(OFF_RSDP)), -ERANGE);
}

static void test_rsdp_longer_v2_by_pa(void **state)
{
	(void)state;
	put32(OFF_RSDP + RSDP_LENGTH, 40);
	memset(mem + OFF_RSDP + 36, 0, 4);
	fix_rsdp();
	mem[OFF_RSDP + 36] = -sum(OFF_RSDP, 40); /* fix the 40-byte sum */
	assert_int_equal(parse_pa(PA(OFF_RSDP)), 0);
}

static void test_rsdp_not_mapped(void **state)
{
	(void)state;
	assert_int_equal(parse_pa(0x1000), -EFAULT);
	assert_int_equal(parse_pa(MEM_BASE + MEM_SIZE - 10), -EFAULT);
	assert_int_equal(parse_pa(0xfffffffffffffff0ull), -EFAULT);
	/* v1 part readable, v2 part not */
	memcpy(mem + MEM_SIZE - 20, mem + OFF_RSDP, 20);
	assert_int_equal(parse_pa(MEM_BASE + MEM_SIZE - 20), -EFAULT);
}

/* ---- root table ---- */

static void test_xsdt_outside_memory(void **state)
{
	(void)state;
	put64(OFF_RSDP + RSDP_XSDT, 0x100000);
	fix_rsdp();
	expect_in(-EFAULT, "XSDT", "not accessible");
	put64(OFF_RSDP + RSDP_XSDT, 0xfffffffffffffff0ull);
	fix_rsdp();
	expect_in(-EFAULT, "XSDT", NULL);
	put64(OFF_RSDP + RSDP_XSDT, PA(MEM_SIZE - 8));
	fix_rsdp();
	expect_in(-EFAULT, "XSDT", NULL);
}

static void test_xsdt_length_past_memory(void **state)
{
	size_t off = MEM_SIZE - 100;

	(void)state;
	memcpy(mem + off, mem + OFF_XSDT, 76);
	put32(off + HDR_LENGTH, 108);
	put64(OFF_RSDP + RSDP_XSDT, PA(off));
	fix_rsdp();
	expect_in(-EFAULT, "XSDT", "not accessible");
}

static void test_rsdt_outside_memory(void **state)
{
	(void)state;
	build_rsdp(0);
	put32(OFF_RSDP + RSDP_RSDT, 0x2000);
	fix_rsdp();
	assert_int_equal(parse_copy_len(20), -EFAULT);
	assert_string_equal(info.fail_table, "RSDT");
	put32(OFF_RSDP + RSDP_RSDT, 0);
	fix_rsdp();
	assert_int_equal(parse_copy_len(20), -EINVAL);
}

static void test_root_signature_mismatch(void **state)
{
	(void)state;
	put64(OFF_RSDP + RSDP_XSDT, PA(OFF_RSDT));
	fix_rsdp();
	expect_in(-EINVAL, "XSDT", "signature");
}

static void test_root_length_not_whole_entries(void **state)
{
	(void)state;
	put32(OFF_XSDT + HDR_LENGTH, HDR_LEN + 8 * 5 - 4);
	fix(OFF_XSDT);
	expect_in(-EINVAL, "XSDT", "whole");
}

static void test_root_entry_outside_memory(void **state)
{
	(void)state;
	put64(OFF_XSDT + HDR_LEN + 8 * 2, 0xfed00000);
	fix(OFF_XSDT);
	expect_in(-EFAULT, "XSDT", "not accessible");
	put64(OFF_XSDT + HDR_LEN + 8 * 2, PA(MEM_SIZE - 35));
	fix(OFF_XSDT);
	expect_in(-EFAULT, "XSDT", NULL);
}

static void test_table_straddles_memory_end(void **state)
{
	size_t off = MEM_SIZE - 64;

	(void)state;
	build_mcfg(off, 0);
	put32(off + HDR_LENGTH, 68); /* length past the end */
	set_root_entry(3, off);
	expect_in(-EFAULT, "MCFG", "not accessible");
}

/* ---- checksum, length and signature of every table ---- */

struct table_case {
	size_t off;
	const char *sig;
};

static const struct table_case tables[] = {
    {OFF_XSDT, "XSDT"}, {OFF_FACP, "FACP"}, {OFF_APIC, "APIC"},
    {OFF_MCFG, "MCFG"}, {OFF_DSDT, "DSDT"},
};

static void test_bad_checksum_every_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(tables); i++) {
		memcpy(mem, pristine, sizeof(mem));
		mem[tables[i].off + HDR_LEN]++;
		expect_in(-EINVAL, tables[i].sig, "checksum");
	}
	memcpy(mem, pristine, sizeof(mem));
	build_rsdp(0);
	mem[OFF_RSDT + HDR_CHECKSUM] ^= 0x40;
	assert_int_equal(parse_copy_len(20), -EINVAL);
	assert_string_equal(info.fail_table, "RSDT");
	assert_non_null(strstr(why, "checksum"));
}

static void test_short_length_every_table(void **state)
{
	static const uint32_t lens[] = {0, 1, 35};
	size_t i, j;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(tables); i++) {
		for (j = 0; j < ARRAY_SIZE(lens); j++) {
			memcpy(mem, pristine, sizeof(mem));
			put32(tables[i].off + HDR_LENGTH, lens[j]);
			expect_in(-ERANGE, tables[i].sig, "length < 36");
		}
	}
}

static void test_huge_length_every_table(void **state)
{
	static const uint32_t lens[] = {ACPI_MAX_TABLE_LEN + 1, 0x80000000, 0xffffffff};
	size_t i, j;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(tables); i++) {
		for (j = 0; j < ARRAY_SIZE(lens); j++) {
			memcpy(mem, pristine, sizeof(mem));
			put32(tables[i].off + HDR_LENGTH, lens[j]);
			expect_in(-ERANGE, tables[i].sig, "1 MiB");
		}
	}
}

static void test_length_past_memory_every_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(tables); i++) {
		memcpy(mem, pristine, sizeof(mem));
		put32(tables[i].off + HDR_LENGTH, MEM_SIZE - tables[i].off + 1);
		expect_in(-EFAULT, tables[i].sig, "not accessible");
	}
}

static void test_truncated_length_every_table(void **state)
{
	uint32_t len, orig;
	size_t i;

	(void)state;
	/* shorter or longer than the contents, checksum fixed */
	for (i = 0; i < ARRAY_SIZE(tables); i++) {
		orig = get32(tables[i].off + HDR_LENGTH);
		for (len = HDR_LEN; len < orig + 16; len++) {
			memcpy(mem, pristine, sizeof(mem));
			put32(tables[i].off + HDR_LENGTH, len);
			fix(tables[i].off);
			parse();
		}
	}
}

static void test_dsdt_signature_mismatch(void **state)
{
	(void)state;
	put32(OFF_FACP + FADT_DSDT, PA(OFF_WAET));
	put64(OFF_FACP + FADT_X_DSDT, PA(OFF_WAET));
	fix(OFF_FACP);
	expect_in(-EINVAL, "DSDT", "signature");
}

/* ---- MADT ---- */

static void use_madt_at_free(void)
{
	tb_end();
	set_root_entry(1, OFF_FREE);
}

static void test_madt_entry_length_zero_one(void **state)
{
	uint8_t len;

	(void)state;
	for (len = 0; len < 2; len++) {
		memcpy(mem, pristine, sizeof(mem));
		mem[OFF_APIC + MADT_ENTRIES + 8 + 1] = len;
		fix(OFF_APIC);
		expect_in(-EINVAL, "APIC", "length < 2");
	}
}

static void test_madt_entry_overflows(void **state)
{
	(void)state;
	/* the last entry (LAPIC NMI, 6 bytes) claims 7 */
	mem[OFF_APIC + get32(OFF_APIC + HDR_LENGTH) - 6 + 1] = 7;
	fix(OFF_APIC);
	expect_in(-ERANGE, "APIC", "past the table");
	memcpy(mem, pristine, sizeof(mem));
	mem[OFF_APIC + MADT_ENTRIES + 1] = 255;
	fix(OFF_APIC);
	expect_in(-ERANGE, "APIC", "past the table");
}

static void test_madt_entry_header_truncated(void **state)
{
	(void)state;
	madt_begin(OFF_FREE);
	madt_lapic(0, 0, 1);
	tb_u8(0); /* one stray byte */
	use_madt_at_free();
	expect_in(-EINVAL, "APIC", "truncated");
}

static void test_madt_entries_too_short(void **state)
{
	static const uint8_t types[] = {0, 1, 2, 5, 9};
	static const uint8_t min[] = {8, 12, 10, 12, 16};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(types); i++) {
		madt_begin(OFF_FREE);
		madt_lapic(0, 0, 1);
		tb_u8(types[i]);
		tb_u8(min[i] - 1);
		tb_zero(min[i] - 3);
		use_madt_at_free();
		expect_in(-EINVAL, "APIC", "too short");
	}
}

static void test_madt_longer_entries_accepted(void **state)
{
	(void)state;
	madt_begin(OFF_FREE);
	tb_u8(0);
	tb_u8(12); /* a future, longer local APIC entry */
	tb_u8(3);
	tb_u8(4);
	tb_u32(1);
	tb_u32(0xdeadbeef);
	tb_u8(0x7f); /* unknown type: skipped */
	tb_u8(3);
	tb_u8(0);
	use_madt_at_free();
	assert_int_equal(parse(), 0);
	assert_int_equal(info.cpu_count, 1);
	assert_int_equal(info.cpus[0].apic_id, 4);
	assert_int_equal(info.cpus[0].uid, 3);
}

static void test_madt_too_short(void **state)
{
	(void)state;
	put32(OFF_APIC + HDR_LENGTH, 40);
	fix(OFF_APIC);
	expect_in(-EINVAL, "APIC", "44");
}

static void test_madt_no_entries(void **state)
{
	(void)state;
	madt_begin(OFF_FREE);
	use_madt_at_free();
	assert_int_equal(parse(), 0);
	assert_int_equal(info.cpu_count, 0);
}

static void test_madt_lapic_addr_zero(void **state)
{
	(void)state;
	put32(OFF_APIC + MADT_LAPIC_ADDR, 0);
	fix(OFF_APIC);
	expect_in(-EINVAL, "APIC", "address is 0");
}

static void test_madt_lapic_override(void **state)
{
	(void)state;
	madt_begin(OFF_FREE);
	put32(OFF_FREE + MADT_FLAGS, 0);
	madt_lapic(0, 0, 1);
	tb_u8(5);
	tb_u8(12);
	tb_u16(0);
	tb_u64(0x1fee00000ull);
	use_madt_at_free();
	assert_int_equal(parse(), 0);
	assert_int_equal(info.lapic_addr, 0x1fee00000ull);
	assert_false(info.pcat_compat);
	put64(OFF_FREE + MADT_ENTRIES + 8 + 4, 0);
	fix(OFF_FREE);
	expect_in(-EINVAL, "APIC", "override is 0");
}

static void test_madt_x2apic_and_flags(void **state)
{
	(void)state;
	madt_begin(OFF_FREE);
	madt_lapic(0, 0, ACPI_CPU_ENABLED);
	madt_lapic(1, 1, 0);			   /* disabled */
	madt_lapic(2, 2, ACPI_CPU_ONLINE_CAPABLE); /* hot-pluggable */
	madt_x2apic(300, 3, ACPI_CPU_ENABLED);
	madt_x2apic(301, 4, 0);
	madt_lapic(5, 5, ACPI_CPU_ENABLED | ACPI_CPU_ONLINE_CAPABLE);
	use_madt_at_free();
	assert_int_equal(parse(), 0);
	assert_int_equal(info.cpu_count, 3);
	assert_int_equal(info.cpus_disabled, 3);
	assert_int_equal(info.cpus[0].apic_id, 0);
	assert_int_equal(info.cpus[1].apic_id, 300);
	assert_int_equal(info.cpus[1].uid, 3);
	assert_true(info.cpus[1].x2apic);
	assert_int_equal(info.cpus[2].apic_id, 5);
	assert_int_equal(info.cpus[2].flags, 3);
}

static void test_madt_duplicate_apic_id(void **state)
{
	(void)state;
	madt_begin(OFF_FREE);
	madt_lapic(0, 0, 1);
	madt_lapic(1, 1, 1);
	madt_x2apic(1, 2, 1);
	use_madt_at_free();
	expect_in(-EINVAL, "APIC", "duplicate");
}

static void test_madt_too_many_cpus(void **state)
{
	int i;

	(void)state;
	madt_begin(OFF_FREE);
	for (i = 0; i < ACPI_MAX_CPUS + 6; i++)
		madt_lapic(i, i, 1);
	madt_lapic(200, 200, 0);
	use_madt_at_free();
	assert_int_equal(parse(), 0);
	assert_int_equal(info.cpu_count, ACPI_MAX_CPUS);
	assert_int_equal(info.cpus_dropped, 6);
	assert_int_equal(info.cpus_disabled, 1);
	assert_int_equal(info.cpus[ACPI_MAX_CPUS - 1].apic_id, ACPI_MAX_CPUS - 1);
}

static void test_madt_too_many_ioapics_and_isos(void **state)
{
	int i;

	(void)state;
	madt_begin(OFF_FREE);
	madt_lapic(0, 0, 1);
	for (i = 0; i < ACPI_MAX_IOAPICS + 2; i++)
		madt_ioapic(i, 0xfec00000 + i * 0x1000, i * 24);
	for (i = 0; i < ACPI_MAX_ISOS + 4; i++)
		madt_iso(i % 16, i, 0);
	use_madt_at_free();
	assert_int_equal(parse(), 0);
	assert_int_equal(info.ioapic_count, ACPI_MAX_IOAPICS);
	assert_int_equal(info.ioapics_dropped, 2);
	assert_int_equal(info.ioapics[7].gsi_base, 7 * 24);
	assert_int_equal(info.iso_count, ACPI_MAX_ISOS);
	assert_int_equal(info.isos_dropped, 4);
}

static void test_madt_ioapic_addr_zero(void **state)
{
	(void)state;
	madt_begin(OFF_FREE);
	madt_ioapic(0, 0, 0);
	use_madt_at_free();
	expect_in(-EINVAL, "APIC", "IOAPIC address");
}

/* ---- MCFG ---- */

static void test_mcfg_bad_bus_range(void **state)
{
	(void)state;
	put8(OFF_MCFG + MCFG_ENTRIES + 10, 5);
	put8(OFF_MCFG + MCFG_ENTRIES + 11, 4);
	fix(OFF_MCFG);
	expect_in(-EINVAL, "MCFG", "bus range");
}

static void test_mcfg_base_zero_and_wrap(void **state)
{
	(void)state;
	put64(OFF_MCFG + MCFG_ENTRIES, 0);
	fix(OFF_MCFG);
	expect_in(-EINVAL, "MCFG", "is 0");
	put64(OFF_MCFG + MCFG_ENTRIES, 0xfffffffff0000000ull);
	fix(OFF_MCFG);
	expect_in(-EINVAL, "MCFG", "wraps");
}

static void test_mcfg_partial_entry(void **state)
{
	(void)state;
	put32(OFF_MCFG + HDR_LENGTH, 44 + 8);
	fix(OFF_MCFG);
	expect_in(-EINVAL, "MCFG", "whole");
	put32(OFF_MCFG + HDR_LENGTH, 40);
	fix(OFF_MCFG);
	expect_in(-EINVAL, "MCFG", "44");
}

static void test_mcfg_many(void **state)
{
	(void)state;
	build_mcfg(OFF_FREE, ACPI_MAX_MCFG + 2);
	set_root_entry(3, OFF_FREE);
	assert_int_equal(parse(), 0);
	assert_int_equal(info.mcfg_count, ACPI_MAX_MCFG);
	assert_int_equal(info.mcfg_dropped, 2);
	assert_int_equal(info.mcfg[7].segment, 7);
	assert_int_equal(info.mcfg[7].base, 0x120000000ull);
	build_mcfg(OFF_FREE, 0);
	assert_int_equal(parse(), 0);
	assert_true(info.found & ACPI_FOUND_MCFG);
	assert_int_equal(info.mcfg_count, 0);
}

/* ---- FADT and DSDT ---- */

static void test_fadt_v1(void **state)
{
	(void)state;
	build_fadt(OFF_FACP, 1, 116);
	assert_int_equal(parse(), 0);
	assert_int_equal(info.fadt_revision, 1);
	assert_int_equal(info.pm1a_cnt, 0x604);
	assert_int_equal(info.century, 0x32);
	assert_int_equal(info.dsdt_pa, PA(OFF_DSDT));
	assert_true(info.found & ACPI_FOUND_S5);
}

static void test_fadt_too_short(void **state)
{
	(void)state;
	build_fadt(OFF_FACP, 1, 115);
	expect_in(-EINVAL, "FACP", "116");
}

static void test_fadt_x_dsdt_preferred(void **state)
{
	(void)state;
	memcpy(mem + OFF_FREE, mem + OFF_DSDT, get32(OFF_DSDT + HDR_LENGTH));
	put32(OFF_FACP + FADT_DSDT, PA(0x100)); /* garbage, must be unused */
	put64(OFF_FACP + FADT_X_DSDT, PA(OFF_FREE));
	fix(OFF_FACP);
	assert_int_equal(parse(), 0);
	assert_int_equal(info.dsdt_pa, PA(OFF_FREE));
	assert_true(info.found & ACPI_FOUND_S5);
}

static void test_fadt_x_dsdt_zero_uses_dsdt(void **state)
{
	(void)state;
	put64(OFF_FACP + FADT_X_DSDT, 0);
	fix(OFF_FACP);
	assert_int_equal(parse(), 0);
	assert_int_equal(info.dsdt_pa, PA(OFF_DSDT));
	assert_true(info.found & ACPI_FOUND_S5);
}

static void test_fadt_x_dsdt_beyond_length_ignored(void **state)
{
	(void)state;
	/* a 144-byte FADT ends inside X_DSDT: it must not be read */
	build_fadt(OFF_FACP, 2, 144);
	put32(OFF_FACP + 140, 0x1234);
	fix(OFF_FACP);
	assert_int_equal(parse(), 0);
	assert_int_equal(info.dsdt_pa, PA(OFF_DSDT));
}

static void test_fadt_no_dsdt(void **state)
{
	(void)state;
	put32(OFF_FACP + FADT_DSDT, 0);
	put64(OFF_FACP + FADT_X_DSDT, 0);
	fix(OFF_FACP);
	assert_int_equal(parse(), 0);
	assert_true(info.found & ACPI_FOUND_FADT);
	assert_false(info.found & (ACPI_FOUND_DSDT | ACPI_FOUND_S5));
	assert_int_equal(info.pm1a_cnt, 0x604);
}

static void test_fadt_dsdt_outside_memory(void **state)
{
	(void)state;
	put64(OFF_FACP + FADT_X_DSDT, 0x3000);
	fix(OFF_FACP);
	expect_in(-EFAULT, "DSDT", "not accessible");
	mp.deny_pa = PA(OFF_DSDT + 40); /* header readable, body not */
	put64(OFF_FACP + FADT_X_DSDT, PA(OFF_DSDT));
	fix(OFF_FACP);
	why = NULL;
	assert_int_equal(acpi_parse(0, mem + OFF_RSDP, 36, fake_map, &mp, &info, &why), -EFAULT);
	assert_string_equal(info.fail_table, "DSDT");
	mapper_reset();
}

static void test_fadt_pm1_from_gas(void **state)
{
	(void)state;
	put32(OFF_FACP + FADT_PM1A_CNT, 0);
	put64(OFF_FACP + FADT_X_PM1A_CNT + 4, 0xb004);
	fix(OFF_FACP);
	assert_int_equal(parse(), 0);
	assert_int_equal(info.pm1a_cnt, 0xb004);
	put8(OFF_FACP + FADT_X_PM1A_CNT, 0); /* system memory: unusable */
	fix(OFF_FACP);
	assert_int_equal(parse(), 0);
	assert_int_equal(info.pm1a_cnt, 0);
}

static void test_fadt_pm1_port_out_of_range(void **state)
{
	(void)state;
	put32(OFF_FACP + FADT_PM1B_CNT, 0x10000);
	fix(OFF_FACP);
	expect_in(-EINVAL, "FACP", "0xffff");
	memcpy(mem, pristine, sizeof(mem));
	put32(OFF_FACP + FADT_PM1A_CNT, 0);
	put64(OFF_FACP + FADT_X_PM1A_CNT + 4, 0x100000604ull);
	fix(OFF_FACP);
	expect_in(-EINVAL, "FACP", "0xffff");
}

static void s5_case(const uint8_t *aml, size_t n, bool tail, bool found, uint8_t a, uint8_t b)
{
	build_dsdt_with(aml, n, tail);
	assert_int_equal(parse(), 0);
	assert_true(info.found & ACPI_FOUND_DSDT);
	assert_int_equal(!!(info.found & ACPI_FOUND_S5), found);
	if (found) {
		assert_int_equal(info.slp_typa, a);
		assert_int_equal(info.slp_typb, b);
	}
}

static void test_s5_encodings(void **state)
{
	static const uint8_t zero_one[] = {S5_NAME, 0x04, 0x02, 0x00, 0x01};
	/* clang-format off */
	static const uint8_t root[] = {
		0x08, '\\', '_', 'S', '5', '_', 0x12,
		0x06, 0x04, 0x01, 0x00, 0x00, 0x00,
	};
	/* clang-format on */
	static const uint8_t raw[] = {S5_NAME, 0x04, 0x02, 0x07, 0x03};
	/* clang-format off */
	static const uint8_t word[] = {
		S5_NAME, 0x0a, 0x02,
		0x0b, 0x05, 0x00,		/* WordPrefix 5 */
		0x0c, 0x02, 0x00, 0x00, 0x00,	/* DWordPrefix 2 */
	};
	/* clang-format on */
	static const uint8_t longlen[] = {S5_NAME, 0x47, 0x00, 0x02, 0x0a, 0x03, 0x0a, 0x04};
	static const uint8_t qemu[] = {S5_NAME, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00};

	(void)state;
	s5_case(zero_one, sizeof(zero_one), true, true, 0, 1);
	s5_case(root, sizeof(root), true, true, 1, 0);
	s5_case(raw, sizeof(raw), true, true, 7, 3);
	s5_case(word, sizeof(word), true, true, 5, 2);
	s5_case(longlen, sizeof(longlen), true, true, 3, 4);
	s5_case(qemu, sizeof(qemu), false, true, 0, 0);
}

static void test_s5_missing_or_bad(void **state)
{
	static const uint8_t none[] = {0x08, '_', 'S', '4', '_', 0x12, 0x04, 0x02, 0x00, 0x00};
	static const uint8_t one_elem[] = {S5_NAME, 0x03, 0x01, 0x00};
	static const uint8_t too_big[] = {S5_NAME, 0x06, 0x02, 0x0a, 0x08, 0x0a, 0x00};
	static const uint8_t bad_op[] = {S5_NAME, 0x04, 0x02, 0xff, 0x00};
	static const uint8_t pkg_short[] = {S5_NAME, 0x03, 0x02, 0x0a, 0x05, 0x0a, 0x05};
	static const uint8_t pkg_long[] = {S5_NAME, 0x3f, 0x02, 0x00, 0x00};
	static const uint8_t rsvd_bits[] = {S5_NAME, 0x75, 0x00, 0x02, 0x00, 0x00};
	static const uint8_t pkglen_cut[] = {S5_NAME, 0xc0, 0x00};
	static const uint8_t at_end[] = {S5_NAME};
	static const uint8_t no_count[] = {S5_NAME, 0x01};
	static const uint8_t name_end[] = {0x08, '_', 'S', '5'};
	static const uint8_t prefix_cut[] = {S5_NAME, 0x05, 0x02, 0x00, 0x0c, 0x01};

	(void)state;
	s5_case(none, sizeof(none), true, false, 0, 0);
	s5_case(one_elem, sizeof(one_elem), true, false, 0, 0);
	s5_case(too_big, sizeof(too_big), true, false, 0, 0);
	s5_case(bad_op, sizeof(bad_op), true, false, 0, 0);
	s5_case(pkg_short, sizeof(pkg_short), true, false, 0, 0);
	s5_case(pkg_long, sizeof(pkg_long), false, false, 0, 0);
	s5_case(rsvd_bits, sizeof(rsvd_bits), true, false, 0, 0);
	s5_case(pkglen_cut, sizeof(pkglen_cut), false, false, 0, 0);
	s5_case(at_end, sizeof(at_end), false, false, 0, 0);
	s5_case(no_count, sizeof(no_count), false, false, 0, 0);
	s5_case(name_end, sizeof(name_end), false, false, 0, 0);
	s5_case(prefix_cut, sizeof(prefix_cut), false, false, 0, 0);
}

static void test_s5_second_candidate(void **state)
{
	/* clang-format off */
	static const uint8_t two[] = {
		S5_NAME, 0x03, 0x02, 0xff,		/* OnesOp: not a SLP_TYP */
		S5_NAME, 0x05, 0x02, 0x0a, 0x02, 0x03,
	};
	/* clang-format on */

	(void)state;
	/* a broken first package, a valid second one */
	s5_case(two, sizeof(two), true, true, 2, 3);
}

static void test_dsdt_header_only(void **state)
{
	(void)state;
	tb_begin(OFF_DSDT, "DSDT", 1);
	tb_end();
	assert_int_equal(parse(), 0);
	assert_true(info.found & ACPI_FOUND_DSDT);
	assert_false(info.found & ACPI_FOUND_S5);
}

/* ---- systematic corruption: never crash, never read out of bounds ---- */

static const uint8_t flip_masks[] = {0x01, 0x10, 0x80, 0xff};

static void check_sane(int err)
{
	assert_true(err == 0 || err == -EINVAL || err == -ERANGE || err == -EFAULT ||
		    err == -ENOENT);
	if (err)
		return;
	assert_true(info.cpu_count <= ACPI_MAX_CPUS);
	assert_true(info.ioapic_count <= ACPI_MAX_IOAPICS);
	assert_true(info.iso_count <= ACPI_MAX_ISOS);
	assert_true(info.mcfg_count <= ACPI_MAX_MCFG);
	if (info.found & ACPI_FOUND_S5)
		assert_true(info.slp_typa <= 7 && info.slp_typb <= 7);
}

/* Flip every byte of the table area, checksums left as they fall. */
static void test_flip_every_byte(void **state)
{
	size_t i, m;
	int ok = 0;

	(void)state;
	for (i = 0; i < OFF_RSDP + 36; i++) {
		for (m = 0; m < ARRAY_SIZE(flip_masks); m++) {
			mem[i] ^= flip_masks[m];
			check_sane(parse());
			ok += info.found & ACPI_FOUND_MADT ? 1 : 0;
			check_sane(parse_pa(PA(OFF_RSDP)));
			mem[i] ^= flip_masks[m];
		}
	}
	assert_true(ok > 0);
}

/* Flip every byte of each table and repair its checksum: deeper paths. */
static void test_flip_every_byte_fixed_checksum(void **state)
{
	static const size_t offs[] = {OFF_XSDT, OFF_RSDT, OFF_FACP, OFF_APIC, OFF_MCFG, OFF_DSDT};
	size_t t, i, m, len;
	int errs = 0;

	(void)state;
	for (t = 0; t < ARRAY_SIZE(offs); t++) {
		len = get32(offs[t] + HDR_LENGTH);
		for (i = 0; i < len; i++) {
			if (i == HDR_CHECKSUM)
				continue;
			for (m = 0; m < ARRAY_SIZE(flip_masks); m++) {
				memcpy(mem, pristine, sizeof(mem));
				if (offs[t] == OFF_RSDT)
					build_rsdp(0);
				mem[offs[t] + i] ^= flip_masks[m];
				fix(offs[t]);
				if (parse_copy_len(36))
					errs++;
				check_sane(parse_pa(PA(OFF_RSDP)));
			}
		}
	}
	assert_true(errs > 0);
}

/* Random MADT entry soup with valid checksums. */
static void test_random_madt_entries(void **state)
{
	int round, i, n;

	(void)state;
	srand(4242);
	for (round = 0; round < 3000; round++) {
		madt_begin(OFF_FREE);
		n = rand() % 40;
		for (i = 0; i < n; i++)
			tb_u8(rand() % 3 ? rand() % 12 : rand());
		use_madt_at_free();
		check_sane(parse());
	}
}

/* ---- DMAR (its own parser: tests/unit/test_dmar.c) ---- */

/* QEMU's: one unit for every device, the IOAPIC in its scope. */
static void build_dmar(size_t off, uint64_t base)
{
	tb_begin(off, "DMAR", 1);
	tb_u8(38); /* 39-bit DMA */
	tb_u8(1);
	tb_zero(10);
	tb_u16(0); /* DRHD */
	tb_u16(24);
	tb_u8(1); /* INCLUDE_PCI_ALL */
	tb_u8(0);
	tb_u16(0);
	tb_u64(base);
	tb_bytes((uint8_t[]){3, 8, 0, 0, 0, 0xff, 0, 0}, 8); /* IOAPIC scope */
	tb_end();
}

static void test_dmar_found(void **state)
{
	(void)state;
	build_dmar(OFF_FREE, 0xfed90000);
	set_root_entry(2, OFF_FREE);
	assert_int_equal(parse(), 0);
	assert_true(info.found & ACPI_FOUND_DMAR);
	assert_null(info.dmar_why);
	assert_int_equal(info.dmar.unit_count, 1);
	assert_int_equal(info.dmar.units[0].base, 0xfed90000);
	assert_int_equal(info.dmar.host_width, 39);
}

/* A bad DMAR costs DMA remapping, not the boot: the rest is parsed, the reason kept. */
static void test_dmar_bad_is_not_fatal(void **state)
{
	(void)state;
	build_dmar(OFF_FREE, 0);
	set_root_entry(2, OFF_FREE);
	assert_int_equal(parse(), 0);
	assert_false(info.found & ACPI_FOUND_DMAR);
	assert_true(info.found & ACPI_FOUND_MADT);
	assert_int_equal(info.dmar.unit_count, 0);
	assert_non_null(strstr(info.dmar_why, "register base is 0"));

	memcpy(mem, pristine, sizeof(mem));
	build_dmar(OFF_FREE, 0xfed90000);
	mem[OFF_FREE + HDR_CHECKSUM] ^= 1;
	set_root_entry(2, OFF_FREE);
	assert_int_equal(parse(), 0);
	assert_false(info.found & ACPI_FOUND_DMAR);
	assert_non_null(strstr(info.dmar_why, "checksum"));
	assert_int_equal(info.cpu_count, 2);

	/* Only the first DMAR counts, good or bad (fuzz corpus crash-bad-dmar-then-good). */
	memcpy(mem, pristine, sizeof(mem));
	build_dmar(OFF_FREE, 0x1234);
	build_dmar(OFF_FREE2, 0xfed90000);
	set_root_entry(2, OFF_FREE);
	set_root_entry(4, OFF_FREE2);
	assert_int_equal(parse(), 0);
	assert_false(info.found & ACPI_FOUND_DMAR);
	assert_non_null(strstr(info.dmar_why, "not page aligned"));
	assert_int_equal(info.dmar.unit_count, 0);

	memcpy(mem, pristine, sizeof(mem));
	build_dmar(OFF_FREE, 0xfed90000);
	put32(OFF_FREE + HDR_LENGTH, 2 * 1024 * 1024);
	set_root_entry(2, OFF_FREE);
	assert_int_equal(parse(), 0);
	assert_non_null(strstr(info.dmar_why, "length"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup(fn, setup)
	    T(test_standard_xsdt),
	    T(test_standard_by_pa),
	    T(test_rsdp_copy_longer_than_needed),
	    T(test_rsdp_v1_uses_rsdt),
	    T(test_rsdp_v2_without_xsdt_uses_rsdt),
	    T(test_why_may_be_null),
	    T(test_oem_id_sanitised),
	    T(test_missing_mcfg),
	    T(test_missing_fadt),
	    T(test_missing_madt),
	    T(test_empty_xsdt),
	    T(test_ignored_table_may_be_corrupt),
	    T(test_duplicate_tables_first_wins),
	    T(test_no_rsdp),
	    T(test_no_mapper),
	    T(test_rsdp_bad_signature),
	    T(test_rsdp_bad_checksum),
	    T(test_rsdp_bad_ext_checksum),
	    T(test_rsdp_short_copy),
	    T(test_rsdp_length_field),
	    T(test_rsdp_longer_v2_by_pa),
	    T(test_rsdp_not_mapped),
	    T(test_xsdt_outside_memory),
	    T(test_xsdt_length_past_memory),
	    T(test_rsdt_outside_memory),
	    T(test_root_signature_mismatch),
	    T(test_root_length_not_whole_entries),
	    T(test_root_entry_outside_memory),
	    T(test_table_straddles_memory_end),
	    T(test_bad_checksum_every_table),
	    T(test_short_length_every_table),
	    T(test_huge_length_every_table),
	    T(test_length_past_memory_every_table),
	    T(test_truncated_length_every_table),
	    T(test_dsdt_signature_mismatch),
	    T(test_madt_entry_length_zero_one),
	    T(test_madt_entry_overflows),
	    T(test_madt_entry_header_truncated),
	    T(test_madt_entries_too_short),
	    T(test_madt_longer_entries_accepted),
	    T(test_madt_too_short),
	    T(test_madt_no_entries),
	    T(test_madt_lapic_addr_zero),
	    T(test_madt_lapic_override),
	    T(test_madt_x2apic_and_flags),
	    T(test_madt_duplicate_apic_id),
	    T(test_madt_too_many_cpus),
	    T(test_madt_too_many_ioapics_and_isos),
	    T(test_madt_ioapic_addr_zero),
	    T(test_mcfg_bad_bus_range),
	    T(test_mcfg_base_zero_and_wrap),
	    T(test_mcfg_partial_entry),
	    T(test_mcfg_many),
	    T(test_fadt_v1),
	    T(test_fadt_too_short),
	    T(test_fadt_x_dsdt_preferred),
	    T(test_fadt_x_dsdt_zero_uses_dsdt),
	    T(test_fadt_x_dsdt_beyond_length_ignored),
	    T(test_fadt_no_dsdt),
	    T(test_fadt_dsdt_outside_memory),
	    T(test_fadt_pm1_from_gas),
	    T(test_fadt_pm1_port_out_of_range),
	    T(test_s5_encodings),
	    T(test_s5_missing_or_bad),
	    T(test_s5_second_candidate),
	    T(test_dsdt_header_only),
	    T(test_flip_every_byte),
	    T(test_flip_every_byte_fixed_checksum),
	    T(test_random_madt_entries),
	    T(test_dmar_found),
	    T(test_dmar_bad_is_not_fatal),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, teardown_all);
}
