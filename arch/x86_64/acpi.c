/* ACPI table parser: every address, length and checksum from firmware is checked. */
#ifdef HOST_TEST
#include <string.h>
#else
#include <lib/string.h>
#endif

#include <arch/acpi.h>
#include <uapi/errno.h>

/* Root System Description Pointer (ACPI 6.5 §5.2.5.3) */
#define RSDP_SIG     "RSD PTR "
#define RSDP_V1_LEN  20	  /* bytes covered by the first checksum */
#define RSDP_MAX_LEN 4096 /* sanity bound on a mapped v2 RSDP */

struct acpi_rsdp {
	char sig[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt;
	uint32_t length;
	uint64_t xsdt;
	uint8_t ext_checksum;
	uint8_t reserved[3];
} __packed;

/* System Description Table header (§5.2.6) */
struct acpi_sdt {
	char sig[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} __packed;

/* Multiple APIC Description Table (§5.2.12) */
#define MADT_PCAT_COMPAT    (1u << 0)
#define MADT_LAPIC	    0
#define MADT_IOAPIC	    1
#define MADT_ISO	    2
#define MADT_LAPIC_OVERRIDE 5
#define MADT_X2APIC	    9

struct madt {
	struct acpi_sdt h;
	uint32_t lapic_addr;
	uint32_t flags;
} __packed;

struct madt_entry {
	uint8_t type;
	uint8_t length;
} __packed;

struct madt_lapic { /* §5.2.12.2 */
	struct madt_entry e;
	uint8_t uid;
	uint8_t apic_id;
	uint32_t flags;
} __packed;

struct madt_ioapic { /* §5.2.12.3 */
	struct madt_entry e;
	uint8_t id;
	uint8_t reserved;
	uint32_t addr;
	uint32_t gsi_base;
} __packed;

struct madt_iso { /* §5.2.12.5 */
	struct madt_entry e;
	uint8_t bus;
	uint8_t source;
	uint32_t gsi;
	uint16_t flags;
} __packed;

struct madt_lapic_override { /* §5.2.12.8 */
	struct madt_entry e;
	uint16_t reserved;
	uint64_t addr;
} __packed;

struct madt_x2apic { /* §5.2.12.12 */
	struct madt_entry e;
	uint16_t reserved;
	uint32_t x2apic_id;
	uint32_t flags;
	uint32_t uid;
} __packed;

/* PCI Express memory-mapped configuration (PCI Firmware spec 3.2 §4.1.2) */
#define ECAM_BUS_SHIFT 20

struct mcfg {
	struct acpi_sdt h;
	uint64_t reserved;
} __packed;

struct mcfg_entry {
	uint64_t base;
	uint16_t segment;
	uint8_t bus_start;
	uint8_t bus_end;
	uint32_t reserved;
} __packed;

/* Generic Address Structure (§5.2.3.2) */
#define GAS_SYSTEM_IO 1
#define IO_PORT_MAX   0xffff

struct gas {
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} __packed;

/* Fixed ACPI Description Table (§5.2.9), up to the fields used here */
struct fadt {
	struct acpi_sdt h;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable;
	uint8_t acpi_disable;
	uint8_t s4bios_req;
	uint8_t pstate_cnt;
	uint32_t pm1a_evt_blk;
	uint32_t pm1b_evt_blk;
	uint32_t pm1a_cnt_blk;
	uint32_t pm1b_cnt_blk;
	uint32_t pm2_cnt_blk;
	uint32_t pm_tmr_blk;
	uint32_t gpe0_blk;
	uint32_t gpe1_blk;
	uint8_t pm1_evt_len;
	uint8_t pm1_cnt_len;
	uint8_t pm2_cnt_len;
	uint8_t pm_tmr_len;
	uint8_t gpe0_blk_len;
	uint8_t gpe1_blk_len;
	uint8_t gpe1_base;
	uint8_t cst_cnt;
	uint16_t p_lvl2_lat;
	uint16_t p_lvl3_lat;
	uint16_t flush_size;
	uint16_t flush_stride;
	uint8_t duty_offset;
	uint8_t duty_width;
	uint8_t day_alrm;
	uint8_t mon_alrm;
	uint8_t century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct gas x_pm1a_evt_blk;
	struct gas x_pm1b_evt_blk;
	struct gas x_pm1a_cnt_blk;
	struct gas x_pm1b_cnt_blk;
} __packed;

STATIC_ASSERT(sizeof(struct acpi_rsdp) == 36, "RSDP layout");
STATIC_ASSERT(sizeof(struct acpi_sdt) == 36, "SDT header layout");
STATIC_ASSERT(sizeof(struct madt) == 44, "MADT layout");
STATIC_ASSERT(sizeof(struct madt_lapic) == 8, "MADT LAPIC layout");
STATIC_ASSERT(sizeof(struct madt_ioapic) == 12, "MADT IOAPIC layout");
STATIC_ASSERT(sizeof(struct madt_iso) == 10, "MADT ISO layout");
STATIC_ASSERT(sizeof(struct madt_lapic_override) == 12, "MADT type 5 layout");
STATIC_ASSERT(sizeof(struct madt_x2apic) == 16, "MADT x2APIC layout");
STATIC_ASSERT(sizeof(struct mcfg) == 44, "MCFG layout");
STATIC_ASSERT(sizeof(struct mcfg_entry) == 16, "MCFG entry layout");
STATIC_ASSERT(offsetof(struct fadt, pm1a_cnt_blk) == 64, "FADT layout");
STATIC_ASSERT(offsetof(struct fadt, century) == 108, "FADT layout");
STATIC_ASSERT(offsetof(struct fadt, flags) == 112, "FADT layout");
STATIC_ASSERT(offsetof(struct fadt, x_dsdt) == 140, "FADT layout");
STATIC_ASSERT(offsetof(struct fadt, x_pm1a_cnt_blk) == 172, "FADT layout");

/* Does a FADT of len bytes contain field f? */
#define FADT_HAS(len, f) ((len) >= offsetof(struct fadt, f) + sizeof(((struct fadt *)0)->f))

/* AML encodings (§20.2) needed to read Name(_S5_, Package(){a, b, ...}) */
#define AML_S5_NAME		 "_S5_"
#define AML_NAMESEG_LEN		 4
#define AML_PACKAGE_OP		 0x12
#define AML_BYTE_PREFIX		 0x0a
#define AML_WORD_PREFIX		 0x0b
#define AML_DWORD_PREFIX	 0x0c
#define AML_PKGLEN_FOLLOW_SHIFT	 6
#define AML_PKGLEN_SHORT_MASK	 0x3f
#define AML_PKGLEN_LONG_MASK	 0x0f
#define AML_PKGLEN_RESERVED_BITS 0x30
#define AML_SLP_TYP_MAX		 7 /* SLP_TYP is a 3-bit field of PM1_CNT */

#define SIG_LEN 4

struct walk {
	acpi_map_fn map;
	void *ctx;
	struct acpi_info *out;
	const char **why;
	const char *cur; /* signature of the table being parsed */
};

struct table_handler {
	char sig[SIG_LEN + 1];
	uint32_t found;
	int (*parse)(struct walk *w, const uint8_t *t, uint32_t len);
};

static int fail(struct walk *w, int err, const char *reason)
{
	if (w->why)
		*w->why = reason;
	memcpy(w->out->fail_table, w->cur, SIG_LEN);
	w->out->fail_table[SIG_LEN] = '\0';
	return err;
}

static uint8_t checksum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (n--)
		sum += *b++;
	return sum;
}

static const void *map_range(struct walk *w, paddr_t pa, size_t len)
{
	if (pa + len < pa)
		return NULL;
	return w->map(pa, len, w->ctx);
}

/*
 * Map the whole table at pa after checking its signature and length, then
 * verify its checksum (§5.2.6). *len is the length that was mapped.
 */
static int map_table(struct walk *w, paddr_t pa, const char *sig, const uint8_t **table,
		     uint32_t *len)
{
	const struct acpi_sdt *h;
	uint32_t n;

	if (!pa)
		return fail(w, -EINVAL, "table address is 0");
	h = map_range(w, pa, sizeof(*h));
	if (!h)
		return fail(w, -EFAULT, "table header not accessible");
	if (memcmp(h->sig, sig, SIG_LEN))
		return fail(w, -EINVAL, "table signature mismatch");
	n = h->length;
	if (n < sizeof(*h))
		return fail(w, -ERANGE, "table length < 36");
	if (n > ACPI_MAX_TABLE_LEN)
		return fail(w, -ERANGE, "table length > 1 MiB");
	h = map_range(w, pa, n);
	if (!h)
		return fail(w, -EFAULT, "table not accessible");
	if (checksum(h, n))
		return fail(w, -EINVAL, "table checksum mismatch");
	*table = (const uint8_t *)h;
	*len = n;
	return 0;
}

/* Copy the OEM id for logging, replacing anything unprintable. */
static void copy_oem_id(char *dst, const char *src)
{
	size_t i;

	for (i = 0; i < sizeof(((struct acpi_rsdp *)0)->oem_id); i++)
		dst[i] = src[i] >= ' ' && src[i] <= '~' ? src[i] : '?';
	dst[i] = '\0';
}

/* ---- MADT ---- */

static int add_cpu(struct walk *w, uint32_t apic_id, uint32_t uid, uint32_t flags, bool x2apic)
{
	struct acpi_info *out = w->out;
	struct acpi_cpu *c;
	uint32_t i;

	if (!(flags & ACPI_CPU_ENABLED)) {
		out->cpus_disabled++;
		return 0;
	}
	for (i = 0; i < out->cpu_count; i++)
		if (out->cpus[i].apic_id == apic_id)
			return fail(w, -EINVAL, "duplicate APIC id in MADT");
	if (out->cpu_count == ACPI_MAX_CPUS) {
		out->cpus_dropped++;
		return 0;
	}
	c = &out->cpus[out->cpu_count++];
	c->apic_id = apic_id;
	c->uid = uid;
	c->flags = flags;
	c->x2apic = x2apic;
	return 0;
}

static int madt_lapic(struct walk *w, const struct madt_entry *e)
{
	const struct madt_lapic *l = (const void *)e;

	if (e->length < sizeof(*l))
		return fail(w, -EINVAL, "MADT local APIC entry too short");
	return add_cpu(w, l->apic_id, l->uid, l->flags, false);
}

static int madt_x2apic(struct walk *w, const struct madt_entry *e)
{
	const struct madt_x2apic *x = (const void *)e;

	if (e->length < sizeof(*x))
		return fail(w, -EINVAL, "MADT x2APIC entry too short");
	return add_cpu(w, x->x2apic_id, x->uid, x->flags, true);
}

static int madt_ioapic(struct walk *w, const struct madt_entry *e)
{
	const struct madt_ioapic *io = (const void *)e;
	struct acpi_info *out = w->out;
	struct acpi_ioapic *dst;

	if (e->length < sizeof(*io))
		return fail(w, -EINVAL, "MADT IOAPIC entry too short");
	if (!io->addr)
		return fail(w, -EINVAL, "MADT IOAPIC address is 0");
	if (out->ioapic_count == ACPI_MAX_IOAPICS) {
		out->ioapics_dropped++;
		return 0;
	}
	dst = &out->ioapics[out->ioapic_count++];
	dst->id = io->id;
	dst->addr = io->addr;
	dst->gsi_base = io->gsi_base;
	return 0;
}

static int madt_iso(struct walk *w, const struct madt_entry *e)
{
	const struct madt_iso *iso = (const void *)e;
	struct acpi_info *out = w->out;
	struct acpi_iso *dst;

	if (e->length < sizeof(*iso))
		return fail(w, -EINVAL, "MADT override entry too short");
	if (out->iso_count == ACPI_MAX_ISOS) {
		out->isos_dropped++;
		return 0;
	}
	dst = &out->isos[out->iso_count++];
	dst->bus = iso->bus;
	dst->source = iso->source;
	dst->flags = iso->flags;
	dst->gsi = iso->gsi;
	return 0;
}

static int madt_lapic_override(struct walk *w, const struct madt_entry *e)
{
	const struct madt_lapic_override *o = (const void *)e;

	if (e->length < sizeof(*o))
		return fail(w, -EINVAL, "MADT APIC address override too short");
	if (!o->addr)
		return fail(w, -EINVAL, "MADT APIC address override is 0");
	w->out->lapic_addr = o->addr;
	return 0;
}

static int madt_entry(struct walk *w, const struct madt_entry *e)
{
	switch (e->type) {
	case MADT_LAPIC:
		return madt_lapic(w, e);
	case MADT_IOAPIC:
		return madt_ioapic(w, e);
	case MADT_ISO:
		return madt_iso(w, e);
	case MADT_LAPIC_OVERRIDE:
		return madt_lapic_override(w, e);
	case MADT_X2APIC:
		return madt_x2apic(w, e);
	default:
		return 0; /* NMI sources, GIC, ...: not needed */
	}
}

static int parse_madt(struct walk *w, const uint8_t *t, uint32_t len)
{
	const struct madt *m = (const void *)t;
	const struct madt_entry *e;
	size_t off;
	int err;

	if (len < sizeof(*m))
		return fail(w, -EINVAL, "MADT shorter than 44 bytes");
	w->out->lapic_addr = m->lapic_addr;
	w->out->pcat_compat = m->flags & MADT_PCAT_COMPAT;
	for (off = sizeof(*m); off < len; off += e->length) {
		if (len - off < sizeof(*e))
			return fail(w, -EINVAL, "MADT entry header truncated");
		e = (const void *)(t + off);
		if (e->length < sizeof(*e))
			return fail(w, -EINVAL, "MADT entry length < 2");
		if (e->length > len - off)
			return fail(w, -ERANGE, "MADT entry runs past the table");
		err = madt_entry(w, e);
		if (err)
			return err;
	}
	if (!w->out->lapic_addr)
		return fail(w, -EINVAL, "MADT local APIC address is 0");
	return 0;
}

/* ---- MCFG ---- */

static int mcfg_check(struct walk *w, const struct mcfg_entry *e)
{
	uint64_t span = (uint64_t)(e->bus_end + 1) << ECAM_BUS_SHIFT;

	if (e->bus_start > e->bus_end)
		return fail(w, -EINVAL, "MCFG bus range reversed");
	if (!e->base)
		return fail(w, -EINVAL, "MCFG base address is 0");
	if (e->base + span < e->base)
		return fail(w, -EINVAL, "MCFG range wraps around");
	return 0;
}

static int parse_mcfg(struct walk *w, const uint8_t *t, uint32_t len)
{
	const struct mcfg_entry *e;
	struct acpi_mcfg_entry *dst;
	struct acpi_info *out = w->out;
	size_t off;
	int err;

	if (len < sizeof(struct mcfg))
		return fail(w, -EINVAL, "MCFG shorter than 44 bytes");
	if ((len - sizeof(struct mcfg)) % sizeof(*e))
		return fail(w, -EINVAL, "MCFG length not a whole number of entries");
	for (off = sizeof(struct mcfg); off < len; off += sizeof(*e)) {
		e = (const void *)(t + off);
		err = mcfg_check(w, e);
		if (err)
			return err;
		if (out->mcfg_count == ACPI_MAX_MCFG) {
			out->mcfg_dropped++;
			continue;
		}
		dst = &out->mcfg[out->mcfg_count++];
		dst->base = e->base;
		dst->segment = e->segment;
		dst->bus_start = e->bus_start;
		dst->bus_end = e->bus_end;
	}
	return 0;
}

/* ---- DSDT: \_S5_ ---- */

/* Decode a PkgLength (§20.2.4): total length and bytes of the encoding. */
static bool aml_pkglen(const uint8_t *p, size_t n, size_t *pkglen, size_t *used)
{
	size_t follow, i, v;

	if (!n)
		return false;
	follow = p[0] >> AML_PKGLEN_FOLLOW_SHIFT;
	if (follow >= n)
		return false;
	if (!follow) {
		v = p[0] & AML_PKGLEN_SHORT_MASK;
	} else {
		if (p[0] & AML_PKGLEN_RESERVED_BITS)
			return false;
		v = p[0] & AML_PKGLEN_LONG_MASK;
		for (i = 1; i <= follow; i++)
			v |= (size_t)p[i] << (4 + 8 * (i - 1));
	}
	*pkglen = v;
	*used = follow + 1;
	return true;
}

static size_t aml_int_width(uint8_t op)
{
	switch (op) {
	case AML_BYTE_PREFIX:
		return 1;
	case AML_WORD_PREFIX:
		return 2;
	case AML_DWORD_PREFIX:
		return 4;
	default:
		return 0;
	}
}

/*
 * Read one package element at p[*pos] holding a SLP_TYP value: ZeroOp (0x00),
 * OneOp (0x01), a raw small integer, or Byte/Word/DWordPrefix + data.
 */
static bool aml_slp_typ(const uint8_t *p, size_t n, size_t *pos, uint8_t *val)
{
	uint64_t v = 0;
	size_t width, i;
	uint8_t op;

	if (*pos >= n)
		return false;
	op = p[(*pos)++];
	width = aml_int_width(op);
	if (width > n - *pos)
		return false;
	if (!width)
		v = op;
	for (i = 0; i < width; i++)
		v |= (uint64_t)p[*pos + i] << (8 * i);
	*pos += width;
	if (v > AML_SLP_TYP_MAX)
		return false;
	*val = v;
	return true;
}

/* p points just after the PackageOp; n bytes remain in the DSDT. */
static bool decode_s5(const uint8_t *p, size_t n, struct acpi_info *out)
{
	size_t pkglen, pos;
	uint8_t a, b;

	if (!aml_pkglen(p, n, &pkglen, &pos))
		return false;
	if (pkglen < pos || pkglen > n)
		return false;
	if (pos >= pkglen || p[pos] < 2) /* NumElements */
		return false;
	pos++;
	if (!aml_slp_typ(p, pkglen, &pos, &a) || !aml_slp_typ(p, pkglen, &pos, &b))
		return false;
	out->slp_typa = a;
	out->slp_typb = b;
	return true;
}

static void find_s5(struct acpi_info *out, const uint8_t *t, size_t len)
{
	size_t i, op;

	for (i = sizeof(struct acpi_sdt); len - i > AML_NAMESEG_LEN; i++) {
		op = i + AML_NAMESEG_LEN;
		if (memcmp(t + i, AML_S5_NAME, AML_NAMESEG_LEN) || t[op] != AML_PACKAGE_OP)
			continue;
		if (decode_s5(t + op + 1, len - op - 1, out)) {
			out->found |= ACPI_FOUND_S5;
			return;
		}
	}
}

static int parse_dsdt(struct walk *w)
{
	const uint8_t *t;
	uint32_t len;
	int err;

	if (!w->out->dsdt_pa)
		return 0;
	w->cur = "DSDT";
	err = map_table(w, w->out->dsdt_pa, "DSDT", &t, &len);
	if (err)
		return err;
	w->out->found |= ACPI_FOUND_DSDT;
	find_s5(w->out, t, len);
	return 0;
}

/* ---- FADT ---- */

/* The 32-bit block address wins; the X_ one is used when it is 0. */
static int pm1_port(struct walk *w, uint32_t blk, const struct gas *x, bool have_x, uint16_t *port)
{
	uint64_t v = blk;

	if (!v && have_x && x->space_id == GAS_SYSTEM_IO)
		v = x->address;
	if (v > IO_PORT_MAX)
		return fail(w, -EINVAL, "FADT PM1 control port beyond 0xffff");
	*port = v;
	return 0;
}

static int parse_fadt(struct walk *w, const uint8_t *t, uint32_t len)
{
	const struct fadt *f = (const void *)t;
	struct acpi_info *out = w->out;
	int err;

	if (!FADT_HAS(len, flags))
		return fail(w, -EINVAL, "FADT shorter than 116 bytes");
	out->fadt_revision = f->h.revision;
	out->sci_irq = f->sci_int;
	out->century = f->century;
	err = pm1_port(w, f->pm1a_cnt_blk, &f->x_pm1a_cnt_blk, FADT_HAS(len, x_pm1a_cnt_blk),
		       &out->pm1a_cnt);
	if (err)
		return err;
	err = pm1_port(w, f->pm1b_cnt_blk, &f->x_pm1b_cnt_blk, FADT_HAS(len, x_pm1b_cnt_blk),
		       &out->pm1b_cnt);
	if (err)
		return err;
	out->dsdt_pa = f->dsdt;
	if (FADT_HAS(len, x_dsdt) && f->x_dsdt)
		out->dsdt_pa = f->x_dsdt;
	return parse_dsdt(w);
}

/* ---- DMAR (arch/x86_64/dmar.c) ---- */

/*
 * A malformed DMAR must not stop the boot: the machine runs without DMA
 * remapping and says so (dmar_why), as it would on hardware without it.
 */
static int parse_dmar(struct walk *w, const uint8_t *t, uint32_t len)
{
	const char *why = NULL;

	if (acpi_dmar_parse(t, len, &w->out->dmar, &why)) {
		memset(&w->out->dmar, 0, sizeof(w->out->dmar));
		w->out->dmar_why = why;
		return -EAGAIN; /* not found, not fatal: see parse_entry */
	}
	return 0;
}

/* ---- RSDP and root table ---- */

static const struct table_handler handlers[] = {
    {"APIC", ACPI_FOUND_MADT, parse_madt},
    {"FACP", ACPI_FOUND_FADT, parse_fadt},
    {"MCFG", ACPI_FOUND_MCFG, parse_mcfg},
    {"DMAR", ACPI_FOUND_DMAR, parse_dmar},
};

static const struct table_handler *find_handler(const char *sig)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(handlers); i++)
		if (!memcmp(sig, handlers[i].sig, SIG_LEN))
			return &handlers[i];
	return NULL;
}

/* Parse the table at pa if it is one we use and the first of its kind. */
static int parse_entry(struct walk *w, paddr_t pa)
{
	const struct table_handler *th;
	const struct acpi_sdt *h;
	const uint8_t *t;
	uint32_t len;
	int err;

	h = map_range(w, pa, sizeof(*h));
	if (!h)
		return fail(w, -EFAULT, "table header not accessible");
	th = find_handler(h->sig);
	if (!th || (w->out->found & th->found))
		return 0;
	if (th->found == ACPI_FOUND_DMAR && w->out->dmar_why)
		return 0; /* the first DMAR was bad: no second one is looked at */
	w->cur = th->sig;
	if (th->found == ACPI_FOUND_DMAR) {
		const char **why = w->why, *reason = NULL;
		w->why = &reason; /* optional: a bad DMAR is recorded, not fatal */
		err = map_table(w, pa, th->sig, &t, &len);
		w->why = why;
		if (err) {
			w->out->dmar_why = reason;
			w->out->fail_table[0] = '\0';
			return 0;
		}
	} else {
		err = map_table(w, pa, th->sig, &t, &len);
	}
	if (err)
		return err;
	err = th->parse(w, t, len);
	if (err == -EAGAIN)
		return 0; /* an optional table that is unusable: recorded, not fatal */
	if (err)
		return err;
	w->out->found |= th->found;
	return 0;
}

static int parse_root(struct walk *w, const struct acpi_rsdp *r)
{
	bool x = r->revision >= 2 && r->xsdt;
	size_t esz = x ? sizeof(uint64_t) : sizeof(uint32_t);
	const char *root_sig = x ? "XSDT" : "RSDT";
	const uint8_t *t;
	uint64_t pa;
	uint32_t len;
	size_t off;
	int err;

	w->cur = root_sig;
	w->out->xsdt = x;
	w->out->root_pa = x ? r->xsdt : r->rsdt;
	err = map_table(w, w->out->root_pa, root_sig, &t, &len);
	if (err)
		return err;
	if ((len - sizeof(struct acpi_sdt)) % esz)
		return fail(w, -EINVAL, "root table length not whole entries");
	for (off = sizeof(struct acpi_sdt); off < len; off += esz) {
		pa = 0;
		memcpy(&pa, t + off, esz); /* little-endian, unaligned */
		if (!pa)
			continue;
		w->cur = root_sig;
		err = parse_entry(w, pa);
		if (err)
			return err;
	}
	return 0;
}

/* Check the v2 part of an RSDP: length and extended checksum. */
static int rsdp_v2(struct walk *w, paddr_t pa, const struct acpi_rsdp **rp, size_t avail)
{
	uint32_t len;

	if (pa) {
		*rp = map_range(w, pa, sizeof(**rp));
		if (!*rp)
			return fail(w, -EFAULT, "RSDP not accessible");
		avail = sizeof(**rp);
	}
	if (avail < sizeof(**rp))
		return fail(w, -ERANGE, "RSDP v2 shorter than 36 bytes");
	len = (*rp)->length;
	if (len < sizeof(**rp))
		return fail(w, -EINVAL, "RSDP length < 36");
	if (pa && len <= RSDP_MAX_LEN) {
		*rp = map_range(w, pa, len);
		if (!*rp)
			return fail(w, -EFAULT, "RSDP not accessible");
		avail = len;
	}
	if (len > avail)
		return fail(w, -ERANGE, "RSDP length beyond the bytes given");
	if (checksum(*rp, len))
		return fail(w, -EINVAL, "RSDP extended checksum mismatch");
	return 0;
}

/* Find and check the RSDP: the copy when given, else mapped at pa. */
static int get_rsdp(struct walk *w, paddr_t pa, const void *copy, size_t len,
		    const struct acpi_rsdp **rp)
{
	const struct acpi_rsdp *r = copy;

	if (!copy && !pa)
		return fail(w, -ENOENT, "no RSDP");
	if (!copy) {
		r = map_range(w, pa, RSDP_V1_LEN);
		if (!r)
			return fail(w, -EFAULT, "RSDP not accessible");
		len = RSDP_V1_LEN;
	}
	if (len < RSDP_V1_LEN)
		return fail(w, -ERANGE, "RSDP shorter than 20 bytes");
	if (memcmp(r->sig, RSDP_SIG, sizeof(r->sig)))
		return fail(w, -EINVAL, "RSDP signature mismatch");
	if (checksum(r, RSDP_V1_LEN))
		return fail(w, -EINVAL, "RSDP checksum mismatch");
	*rp = r;
	if (r->revision < 2)
		return 0;
	return rsdp_v2(w, copy ? 0 : pa, rp, len);
}

int acpi_parse(paddr_t rsdp_pa, const void *rsdp_copy, size_t rsdp_len, acpi_map_fn map, void *ctx,
	       struct acpi_info *out, const char **why)
{
	struct walk w = {
	    .map = map,
	    .ctx = ctx,
	    .out = out,
	    .why = why,
	    .cur = "RSDP",
	};
	const struct acpi_rsdp *r;
	int err;

	memset(out, 0, sizeof(*out));
	if (!map)
		return fail(&w, -EINVAL, "no mapper");
	err = get_rsdp(&w, rsdp_pa, rsdp_copy, rsdp_len, &r);
	if (err)
		return err;
	out->revision = r->revision;
	copy_oem_id(out->oem_id, r->oem_id);
	err = parse_root(&w, r);
	if (err)
		return err;
	w.cur = "APIC";
	if (!(out->found & ACPI_FOUND_MADT))
		return fail(&w, -ENOENT, "no MADT");
	if (why)
		*why = NULL;
	return 0;
}
