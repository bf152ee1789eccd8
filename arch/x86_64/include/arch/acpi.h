/* ACPI table parser (ACPI 6.5 ch. 5): RSDP, RSDT/XSDT, MADT, MCFG, FADT, DSDT \_S5_. */
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
};

/*
 * Parse the ACPI tables. The RSDP is taken from rsdp_copy (rsdp_len bytes,
 * e.g. from the Multiboot2 tag) when it is not NULL, else mapped at rsdp_pa.
 * Returns 0, or a negative errno with a static reason in *why (why may be
 * NULL) and the table's signature in out->fail_table: -ENOENT no RSDP or no
 * MADT, -EFAULT the mapper refused a range, -ERANGE a length out of bounds,
 * -EINVAL any other malformation (signature, checksum, entry layout).
 * A missing FADT, MCFG, DSDT or \_S5_ only leaves its ACPI_FOUND_* bit clear.
 */
int acpi_parse(paddr_t rsdp_pa, const void *rsdp_copy, size_t rsdp_len, acpi_map_fn map, void *ctx,
	       struct acpi_info *out, const char **why);
