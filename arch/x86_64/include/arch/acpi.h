/* ACPI table parser (ACPI 6.5 ch. 5): RSDP, RSDT/XSDT, MADT, MCFG, FADT, DSDT \_S5_, DMAR. */
#pragma once

#include <kernel/types.h>

#define ACPI_MAX_CPUS	   64
#define ACPI_MAX_IOAPICS   8
#define ACPI_MAX_ISOS	   16
#define ACPI_MAX_MCFG	   8
#define ACPI_MAX_TABLE_LEN (1u << 20) /* larger tables are rejected */

/* acpi_info.found */
#define ACPI_FOUND_MADT (1u << 0) /* always set after success */
#define ACPI_FOUND_FADT (1u << 1)
#define ACPI_FOUND_MCFG (1u << 2)
#define ACPI_FOUND_DSDT (1u << 3)
#define ACPI_FOUND_S5	(1u << 4) /* slp_typa/slp_typb are valid */
#define ACPI_FOUND_DMAR (1u << 5) /* dmar is valid (a bad DMAR: dmar_why says why) */

/* MADT Processor Local (x2)APIC flags (ACPI 6.5 §5.2.12.2) */
#define ACPI_CPU_ENABLED	(1u << 0)
#define ACPI_CPU_ONLINE_CAPABLE (1u << 1)

/* MPS INTI flags of an interrupt source override (ACPI 6.5 §5.2.12.5) */
#define ACPI_ISO_POLARITY_MASK	   0x3
#define ACPI_ISO_POLARITY_CONFORMS 0x0
#define ACPI_ISO_POLARITY_HIGH	   0x1
#define ACPI_ISO_POLARITY_LOW	   0x3
#define ACPI_ISO_TRIGGER_MASK	   0xc
#define ACPI_ISO_TRIGGER_CONFORMS  0x0
#define ACPI_ISO_TRIGGER_EDGE	   0x4
#define ACPI_ISO_TRIGGER_LEVEL	   0xc

/*
 * Return a pointer to len readable bytes at physical address pa, or NULL when
 * that range is not accessible. Every pointer returned must stay valid until
 * acpi_parse returns.
 */
typedef const void *(*acpi_map_fn)(paddr_t pa, size_t len, void *ctx);

struct acpi_cpu {
	uint32_t apic_id; /* xAPIC id (type 0) or x2APIC id (type 9) */
	uint32_t uid;	  /* ACPI processor UID */
	uint32_t flags;	  /* ACPI_CPU_* as in the table */
	bool x2apic;	  /* came from a Processor Local x2APIC entry */
};

struct acpi_ioapic {
	uint32_t id;
	paddr_t addr;
	uint32_t gsi_base;
};

struct acpi_iso {
	uint8_t bus;	/* 0 = ISA */
	uint8_t source; /* bus-relative IRQ */
	uint16_t flags; /* ACPI_ISO_* */
	uint32_t gsi;
};

struct acpi_mcfg_entry {
	paddr_t base; /* ECAM base: bus N lives at base + (N << 20) */
	uint16_t segment;
	uint8_t bus_start;
	uint8_t bus_end;
};

/*
 * The DMA remapping table (Intel VT-d 4.1 ch. 8): the remapping hardware
 * units (DRHD), each with the devices it translates for, and the reserved
 * memory ranges (RMRR) some devices must keep reaching.
 */
#define ACPI_DMAR_MAX_UNITS  8
#define ACPI_DMAR_MAX_SCOPES 16 /* per unit or per reserved range */
#define ACPI_DMAR_MAX_RMRRS  8
#define ACPI_DMAR_MAX_PATH   4 /* bridge hops a scope may name */

/* DMAR flags (§8.1) */
#define ACPI_DMAR_INTR_REMAP	(1u << 0)
#define ACPI_DMAR_X2APIC_OPTOUT (1u << 1)
#define ACPI_DMAR_DMA_CTRL_OPT	(1u << 2)

/* Device scope types (§8.3.1) */
#define ACPI_DMAR_SCOPE_ENDPOINT 1
#define ACPI_DMAR_SCOPE_BRIDGE	 2
#define ACPI_DMAR_SCOPE_IOAPIC	 3
#define ACPI_DMAR_SCOPE_HPET	 4
#define ACPI_DMAR_SCOPE_ACPI	 5

struct acpi_dmar_scope {
	uint8_t type;	   /* ACPI_DMAR_SCOPE_* */
	uint8_t enum_id;   /* IOAPIC id, HPET number, ACPI device number */
	uint8_t start_bus; /* bus of path[0] */
	uint8_t path_len;  /* entries in path (>= 1) */
	struct {
		uint8_t dev, fn;
	} path[ACPI_DMAR_MAX_PATH]; /* device, function at each hop from start_bus */
};

struct acpi_dmar_unit {
	paddr_t base;	  /* register base, 4 KiB aligned */
	uint16_t segment; /* PCI segment */
	bool include_all; /* INCLUDE_PCI_ALL: every device of the segment not in another unit */
	uint8_t size;	  /* register set: 2^size pages */
	uint32_t scope_count;
	uint32_t scopes_dropped;
	struct acpi_dmar_scope scopes[ACPI_DMAR_MAX_SCOPES];
};

struct acpi_dmar_rmrr {
	uint16_t segment;
	paddr_t base, limit; /* inclusive range, 4 KiB granular */
	uint32_t scope_count;
	uint32_t scopes_dropped;
	struct acpi_dmar_scope scopes[ACPI_DMAR_MAX_SCOPES];
};

struct acpi_dmar {
	uint8_t host_width; /* bits of physical address DMA can reach (HAW + 1) */
	uint8_t flags;	    /* ACPI_DMAR_* */
	uint32_t unit_count;
	uint32_t units_dropped;
	struct acpi_dmar_unit units[ACPI_DMAR_MAX_UNITS];
	uint32_t rmrr_count;
	uint32_t rmrrs_dropped;
	struct acpi_dmar_rmrr rmrrs[ACPI_DMAR_MAX_RMRRS];
	uint32_t others; /* structures of types this parser only skips (ATSR, RHSA, ...) */
};

/*
 * Parse a DMAR table of len bytes (header included; acpi_parse has
 * checked its signature, length and checksum). Returns 0, or -EINVAL with
 * a static reason in *why (why may be NULL) for any malformation: short
 * table, structure lengths that do not tile it, a register base of 0 or
 * unaligned, a reversed or unaligned reserved range, a device scope that
 * does not fit its structure or names no device. Arrays that overflow keep
 * the first entries and count the rest (not an error).
 */
int acpi_dmar_parse(const uint8_t *t, uint32_t len, struct acpi_dmar *out, const char **why);

/*
 * What acpi_parse found. Arrays that overflow keep the first entries in table
 * order and count the rest in *_dropped (not an error).
 */
struct acpi_info {
	uint8_t revision; /* RSDP revision: 0 = ACPI 1.0, >= 2 = 2.0+ */
	char oem_id[7];	  /* RSDP OEM id, NUL-terminated, '?' for non-ASCII */
	bool xsdt;	  /* root table is the XSDT (else the RSDT) */
	paddr_t root_pa;
	uint32_t found;	    /* ACPI_FOUND_* */
	char fail_table[5]; /* on error: signature being parsed, else "" */

	/* MADT */
	paddr_t lapic_addr;	/* after any type 5 override */
	bool pcat_compat;	/* legacy 8259 PICs present (mask them) */
	uint32_t cpu_count;	/* enabled CPUs stored in cpus[] */
	uint32_t cpus_dropped;	/* enabled CPUs past ACPI_MAX_CPUS */
	uint32_t cpus_disabled; /* not enabled (incl. online-capable) */
	struct acpi_cpu cpus[ACPI_MAX_CPUS];
	uint32_t ioapic_count;
	uint32_t ioapics_dropped;
	struct acpi_ioapic ioapics[ACPI_MAX_IOAPICS];
	uint32_t iso_count;
	uint32_t isos_dropped;
	struct acpi_iso isos[ACPI_MAX_ISOS];

	/* MCFG */
	uint32_t mcfg_count;
	uint32_t mcfg_dropped;
	struct acpi_mcfg_entry mcfg[ACPI_MAX_MCFG];

	/* FADT (valid when ACPI_FOUND_FADT) */
	uint8_t fadt_revision;
	uint16_t sci_irq;
	uint16_t pm1a_cnt; /* I/O port, 0 = none */
	uint16_t pm1b_cnt; /* I/O port, 0 = none */
	uint8_t century;   /* CMOS index of the century, 0 = none */
	paddr_t dsdt_pa;
	uint8_t slp_typa; /* \_S5_ values, valid when ACPI_FOUND_S5 */
	uint8_t slp_typb;

	/* DMAR (valid when ACPI_FOUND_DMAR). A malformed DMAR does not fail
	 * acpi_parse: the machine boots without DMA remapping, and dmar_why
	 * says why. */
	struct acpi_dmar dmar;
	const char *dmar_why;
};

/*
 * Parse the ACPI tables. The RSDP is taken from rsdp_copy (rsdp_len bytes,
 * e.g. from the Multiboot2 tag) when it is not NULL, else mapped at rsdp_pa.
 * Returns 0, or a negative errno with a static reason in *why (why may be
 * NULL) and the table's signature in out->fail_table: -ENOENT no RSDP or no
 * MADT, -EFAULT the mapper refused a range, -ERANGE a length out of bounds,
 * -EINVAL any other malformation (signature, checksum, entry layout).
 * A missing FADT, MCFG, DSDT or \_S5_ only leaves its ACPI_FOUND_* bit clear;
 * so does a missing or malformed DMAR (see dmar_why).
 */
int acpi_parse(paddr_t rsdp_pa, const void *rsdp_copy, size_t rsdp_len, acpi_map_fn map, void *ctx,
	       struct acpi_info *out, const char **why);
