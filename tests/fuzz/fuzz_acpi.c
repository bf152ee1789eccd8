/* Fuzz target: the ACPI table parser (arch/x86_64/acpi.c): RSDP, RSDT/XSDT, MADT, MCFG, FADT, DSDT,
 * DMAR.
 */
/* fuzz-sources: arch/x86_64/acpi.c arch/x86_64/dmar.c */
#include <arch/acpi.h>
#include <uapi/errno.h>

#include "fuzz.h"

/*
 * Input: one flags byte, then an image of physical memory at MEM_BASE
 * (where QEMU puts its tables, as in tests/unit/test_acpi.c) with the RSDP
 * at its first byte. Tables point at each other by physical address.
 */
#define MEM_BASE 0x7ffe0000ull
#define MEM_MAX	 0x10000

#define F_FIX_SUMS  0x1 /* make every checksum right, to reach what follows them */
#define F_RSDP_COPY 0x2 /* hand the RSDP over as a copy (the Multiboot2 tag) */
#define F_RSDP_V1   0x4 /* ... of only 20 bytes */

#define RSDP_V1_LEN	  20
#define RSDP_LEN	  36
#define RSDP_CHECKSUM	  8
#define RSDP_LENGTH	  20
#define RSDP_EXT_CHECKSUM 32
#define HDR_LEN		  36
#define HDR_LENGTH	  4
#define HDR_CHECKSUM	  9

struct mem {
	uint8_t *bytes;
	size_t len;
	bool fix_sums;
	void **copies; /* every block handed to the parser, freed after it returns */
	size_t ncopies, cap;
};

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Set p[at] so that the bytes [p, p + n) sum to 0 (ACPI 6.5 §5.2.5.3, §5.2.6). */
static void fix_sum(uint8_t *p, size_t n, size_t at)
{
	uint8_t s = 0;
	size_t i;

	p[at] = 0;
	for (i = 0; i < n; i++)
		s += p[i];
	p[at] = (uint8_t)-s;
}

static void fix_rsdp(struct mem *m)
{
	uint32_t len;

	if (m->len < RSDP_V1_LEN)
		return;
	fix_sum(m->bytes, RSDP_V1_LEN, RSDP_CHECKSUM);
	if (m->len < RSDP_LEN)
		return;
	len = le32(m->bytes + RSDP_LENGTH);
	if (len >= RSDP_LEN && len <= m->len)
		fix_sum(m->bytes, len, RSDP_EXT_CHECKSUM);
}

/* A heap block of exactly len bytes copied from the image, so any over-read shows. */
static const void *fake_map(paddr_t pa, size_t len, void *ctx)
{
	struct mem *m = ctx;
	size_t off;
	void *copy;

	if (pa < MEM_BASE || pa - MEM_BASE > m->len || len > m->len - (pa - MEM_BASE) || !len)
		return NULL;
	off = pa - MEM_BASE;
	/* A whole table being mapped (its length field says len): fix its checksum. */
	if (m->fix_sums && len >= HDR_LEN && le32(m->bytes + off + HDR_LENGTH) == len)
		fix_sum(m->bytes + off, len, HDR_CHECKSUM);
	if (m->ncopies == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 16;
		m->copies = realloc(m->copies, m->cap * sizeof(*m->copies));
		FUZZ_CHECK(m->copies);
	}
	copy = malloc(len);
	FUZZ_CHECK(copy);
	memcpy(copy, m->bytes + off, len);
	m->copies[m->ncopies++] = copy;
	return copy;
}

static void check_info(const struct acpi_info *ai)
{
	uint32_t i, j;

	FUZZ_CHECK(ai->found & ACPI_FOUND_MADT);
	FUZZ_CHECK(ai->lapic_addr != 0);
	FUZZ_CHECK(ai->cpu_count <= ACPI_MAX_CPUS);
	FUZZ_CHECK(!ai->cpus_dropped || ai->cpu_count == ACPI_MAX_CPUS);
	for (i = 0; i < ai->cpu_count; i++) {
		FUZZ_CHECK(ai->cpus[i].flags & ACPI_CPU_ENABLED);
		for (j = 0; j < i; j++)
			FUZZ_CHECK(ai->cpus[i].apic_id != ai->cpus[j].apic_id);
	}
	FUZZ_CHECK(ai->ioapic_count <= ACPI_MAX_IOAPICS);
	for (i = 0; i < ai->ioapic_count; i++)
		FUZZ_CHECK(ai->ioapics[i].addr != 0);
	FUZZ_CHECK(ai->iso_count <= ACPI_MAX_ISOS);
	FUZZ_CHECK(ai->mcfg_count <= ACPI_MAX_MCFG);
	for (i = 0; i < ai->mcfg_count; i++) {
		FUZZ_CHECK(ai->mcfg[i].base != 0);
		FUZZ_CHECK(ai->mcfg[i].bus_start <= ai->mcfg[i].bus_end);
	}
	if (ai->found & ACPI_FOUND_S5)
		FUZZ_CHECK(ai->slp_typa <= 7 && ai->slp_typb <= 7);
	if (ai->found & ACPI_FOUND_DMAR)
		FUZZ_CHECK(ai->dmar.unit_count >= 1 && !ai->dmar_why);
	else
		FUZZ_CHECK(ai->dmar.unit_count == 0);
	FUZZ_CHECK(ai->oem_id[6] == '\0');
	FUZZ_CHECK(ai->fail_table[0] == '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = fz_init(data, size);
	uint8_t flags = fz_u8(&f);
	struct mem m = {.fix_sums = flags & F_FIX_SUMS};
	static struct acpi_info info;
	const void *copy = NULL;
	size_t copy_len = 0, i;
	const char *why = "unset";
	int rc;

	m.bytes = fz_dup_rest(&f, &m.len, false);
	if (m.len > MEM_MAX)
		m.len = MEM_MAX;
	if (m.fix_sums)
		fix_rsdp(&m);
	if (flags & F_RSDP_COPY) {
		/* Exactly the tag's bytes: the parser must not read past them. */
		copy_len = m.len < RSDP_LEN ? m.len : RSDP_LEN;
		if (flags & F_RSDP_V1 && copy_len > RSDP_V1_LEN)
			copy_len = RSDP_V1_LEN;
		copy = fake_map(MEM_BASE, copy_len ? copy_len : 1, &m);
		if (!copy)
			copy_len = 0;
	}
	rc = acpi_parse(copy ? 0 : MEM_BASE, copy, copy_len, fake_map, &m, &info, &why);
	FUZZ_SAY("acpi: %d %s (%s), found %#x, %u CPUs, %u MCFG\n", rc, why ? why : "ok",
		 info.fail_table, info.found, info.cpu_count, info.mcfg_count);
	if (rc == 0) {
		FUZZ_CHECK(why == NULL);
		check_info(&info);
	} else {
		FUZZ_CHECK(rc == -ENOENT || rc == -EFAULT || rc == -ERANGE || rc == -EINVAL);
		FUZZ_CHECK(why && *why);
		FUZZ_CHECK(memchr(info.fail_table, '\0', sizeof(info.fail_table)));
	}
	for (i = 0; i < m.ncopies; i++)
		free(m.copies[i]);
	free(m.copies);
	free(m.bytes);
	return 0;
}
