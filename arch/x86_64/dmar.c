/* DMAR table parser (Intel VT-d 4.1 ch. 8): every length and address from firmware is checked. */
#ifdef HOST_TEST
#include <string.h>
#else
#include <lib/string.h>
#endif

#include <arch/acpi.h>
#include <uapi/errno.h>

/* §8.1: the ACPI header, host address width, flags, 10 reserved bytes. */
#define DMAR_HAW	    36
#define DMAR_FLAGS	    37
#define DMAR_HEADER_LEN	    48
#define DMAR_MAX_HOST_WIDTH 64

/* Remapping structure header (§8.2): type, length, both 16-bit. */
#define RS_HEADER_LEN 4
#define RS_DRHD	      0
#define RS_RMRR	      1

/* DRHD (§8.3): flags, size, segment, register base, then device scopes. */
#define DRHD_FLAGS	     4
#define DRHD_SIZE	     5
#define DRHD_SEGMENT	     6
#define DRHD_BASE	     8
#define DRHD_SCOPES	     16
#define DRHD_INCLUDE_PCI_ALL 0x1
#define DRHD_SIZE_MASK	     0xf
#define DRHD_BASE_ALIGN	     0x1000

/* RMRR (§8.4): reserved, segment, base, limit, then device scopes. */
#define RMRR_SEGMENT 6
#define RMRR_BASE    8
#define RMRR_LIMIT   16
#define RMRR_SCOPES  24
#define RMRR_ALIGN   0x1000

/* Device scope (§8.3.1): type, length, flags, reserved, enumeration id,
 * start bus, then (device, function) pairs. */
#define SCOPE_LEN	1
#define SCOPE_ENUM_ID	4
#define SCOPE_START_BUS 5
#define SCOPE_PATH	6
#define SCOPE_DEV_MAX	31
#define SCOPE_FN_MAX	7

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v)); /* little-endian, unaligned */
	return v;
}

static int bad(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return -EINVAL;
}

/* One device scope at s (n bytes left in its structure); its length in *used. */
static int parse_scope(const uint8_t *s, size_t n, struct acpi_dmar_scope *out, size_t *used,
		       const char **why)
{
	size_t len, hops;

	if (n < SCOPE_PATH)
		return bad(why, "DMAR device scope truncated");
	len = s[SCOPE_LEN];
	if (len < SCOPE_PATH || len > n)
		return bad(why, "DMAR device scope length out of its structure");
	if ((len - SCOPE_PATH) % 2)
		return bad(why, "DMAR device scope path not whole (device, function) pairs");
	hops = (len - SCOPE_PATH) / 2;
	if (hops == 0)
		return bad(why, "DMAR device scope names no device");
	memset(out, 0, sizeof(*out));
	out->type = s[0];
	out->enum_id = s[SCOPE_ENUM_ID];
	out->start_bus = s[SCOPE_START_BUS];
	for (size_t i = 0; i < hops; i++) {
		uint8_t dev = s[SCOPE_PATH + 2 * i], fn = s[SCOPE_PATH + 2 * i + 1];
		if (dev > SCOPE_DEV_MAX || fn > SCOPE_FN_MAX)
			return bad(why, "DMAR device scope path names no PCI function");
		if (i < ACPI_DMAR_MAX_PATH) {
			out->path[i].dev = dev;
			out->path[i].fn = fn;
		}
	}
	/* A path deeper than we keep cannot be matched; keeping it short would
	 * match the wrong device, so such a scope is recorded as unusable. */
	out->path_len = hops <= ACPI_DMAR_MAX_PATH ? (uint8_t)hops : 0;
	*used = len;
	return 0;
}

/* The device scopes filling [s, s + n). */
static int parse_scopes(const uint8_t *s, size_t n, struct acpi_dmar_scope *scopes, uint32_t *count,
			uint32_t *dropped, const char **why)
{
	struct acpi_dmar_scope tmp;
	size_t used;

	while (n) {
		struct acpi_dmar_scope *dst =
		    *count < ACPI_DMAR_MAX_SCOPES ? &scopes[*count] : &tmp;
		int err = parse_scope(s, n, dst, &used, why);
		if (err)
			return err;
		if (dst == &tmp)
			(*dropped)++;
		else
			(*count)++;
		s += used;
		n -= used;
	}
	return 0;
}

static int parse_drhd(const uint8_t *r, size_t len, struct acpi_dmar *out, const char **why)
{
	struct acpi_dmar_unit tmp, *u;

	if (len < DRHD_SCOPES)
		return bad(why, "DMAR DRHD shorter than 16 bytes");
	u = out->unit_count < ACPI_DMAR_MAX_UNITS ? &out->units[out->unit_count] : &tmp;
	memset(u, 0, sizeof(*u));
	u->base = get64(r + DRHD_BASE);
	u->segment = get16(r + DRHD_SEGMENT);
	u->include_all = r[DRHD_FLAGS] & DRHD_INCLUDE_PCI_ALL;
	u->size = r[DRHD_SIZE] & DRHD_SIZE_MASK;
	if (!u->base)
		return bad(why, "DMAR DRHD register base is 0");
	if (u->base % DRHD_BASE_ALIGN)
		return bad(why, "DMAR DRHD register base not page aligned");
	if (u->base + ((uint64_t)DRHD_BASE_ALIGN << u->size) < u->base)
		return bad(why, "DMAR DRHD register range wraps around");
	for (uint32_t i = 0; i < out->unit_count && u != &tmp; i++)
		if (out->units[i].include_all && u->include_all &&
		    out->units[i].segment == u->segment)
			return bad(why, "DMAR has two INCLUDE_PCI_ALL units for one segment");
	int err = parse_scopes(r + DRHD_SCOPES, len - DRHD_SCOPES, u->scopes, &u->scope_count,
			       &u->scopes_dropped, why);
	if (err)
		return err;
	if (u == &tmp)
		out->units_dropped++;
	else
		out->unit_count++;
	return 0;
}

static int parse_rmrr(const uint8_t *r, size_t len, struct acpi_dmar *out, const char **why)
{
	struct acpi_dmar_rmrr tmp, *m;

	if (len < RMRR_SCOPES)
		return bad(why, "DMAR RMRR shorter than 24 bytes");
	m = out->rmrr_count < ACPI_DMAR_MAX_RMRRS ? &out->rmrrs[out->rmrr_count] : &tmp;
	memset(m, 0, sizeof(*m));
	m->segment = get16(r + RMRR_SEGMENT);
	m->base = get64(r + RMRR_BASE);
	m->limit = get64(r + RMRR_LIMIT);
	if (m->base % RMRR_ALIGN || (m->limit + 1) % RMRR_ALIGN)
		return bad(why, "DMAR RMRR range not page granular");
	if (m->limit < m->base)
		return bad(why, "DMAR RMRR range reversed");
	int err = parse_scopes(r + RMRR_SCOPES, len - RMRR_SCOPES, m->scopes, &m->scope_count,
			       &m->scopes_dropped, why);
	if (err)
		return err;
	if (m->scope_count + m->scopes_dropped == 0)
		return bad(why, "DMAR RMRR names no device");
	if (m == &tmp)
		out->rmrrs_dropped++;
	else
		out->rmrr_count++;
	return 0;
}

int acpi_dmar_parse(const uint8_t *t, uint32_t len, struct acpi_dmar *out, const char **why)
{
	size_t off;

	memset(out, 0, sizeof(*out));
	if (len < DMAR_HEADER_LEN)
		return bad(why, "DMAR shorter than 48 bytes");
	if (t[DMAR_HAW] + 1u > DMAR_MAX_HOST_WIDTH)
		return bad(why, "DMAR host address width beyond 64 bits");
	out->host_width = (uint8_t)(t[DMAR_HAW] + 1);
	out->flags = t[DMAR_FLAGS];
	for (off = DMAR_HEADER_LEN; off < len;) {
		const uint8_t *r = t + off;
		size_t rlen;
		int err = 0;

		if (len - off < RS_HEADER_LEN)
			return bad(why, "DMAR remapping structure header truncated");
		rlen = get16(r + 2);
		if (rlen < RS_HEADER_LEN || rlen > len - off)
			return bad(why, "DMAR remapping structure length out of the table");
		switch (get16(r)) {
		case RS_DRHD:
			err = parse_drhd(r, rlen, out, why);
			break;
		case RS_RMRR:
			err = parse_rmrr(r, rlen, out, why);
			break;
		default:
			out->others++; /* ATSR, RHSA, ANDD, SATC, ...: not needed here */
			break;
		}
		if (err)
			return err;
		off += rlen;
	}
	if (out->unit_count == 0)
		return bad(why, "DMAR lists no remapping unit");
	if (why)
		*why = NULL;
	return 0;
}
