/* Fuzz target: the DMAR parser (arch/x86_64/dmar.c), the table of DMA remapping units. */
/* fuzz-sources: arch/x86_64/dmar.c */
#include <arch/acpi.h>
#include <uapi/errno.h>

#include "fuzz.h"

/*
 * Input: a whole DMAR table, header included, as acpi_parse hands it over
 * once its signature, length and checksum are checked (those checks are
 * fuzz_acpi's). Copied to a block of exactly its size, so any read past it
 * shows.
 */
static void check_scopes(const struct acpi_dmar_scope *s, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		FUZZ_CHECK(s[i].path_len <= ACPI_DMAR_MAX_PATH);
		for (uint32_t j = 0; j < s[i].path_len; j++)
			FUZZ_CHECK(s[i].path[j].dev < 32 && s[i].path[j].fn < 8);
	}
}

static void check_dmar(const struct acpi_dmar *d)
{
	FUZZ_CHECK(d->unit_count >= 1 && d->unit_count <= ACPI_DMAR_MAX_UNITS);
	FUZZ_CHECK(!d->units_dropped || d->unit_count == ACPI_DMAR_MAX_UNITS);
	FUZZ_CHECK(d->host_width >= 1 && d->host_width <= 64);
	for (uint32_t i = 0; i < d->unit_count; i++) {
		const struct acpi_dmar_unit *u = &d->units[i];
		FUZZ_CHECK(u->base && u->base % 4096 == 0);
		FUZZ_CHECK(u->scope_count <= ACPI_DMAR_MAX_SCOPES);
		check_scopes(u->scopes, u->scope_count);
		for (uint32_t j = 0; j < i; j++)
			FUZZ_CHECK(!(u->include_all && d->units[j].include_all &&
				     u->segment == d->units[j].segment));
	}
	FUZZ_CHECK(d->rmrr_count <= ACPI_DMAR_MAX_RMRRS);
	for (uint32_t i = 0; i < d->rmrr_count; i++) {
		const struct acpi_dmar_rmrr *m = &d->rmrrs[i];
		FUZZ_CHECK(m->base <= m->limit && m->base % 4096 == 0 &&
			   (m->limit + 1) % 4096 == 0);
		FUZZ_CHECK(m->scope_count + m->scopes_dropped >= 1);
		check_scopes(m->scopes, m->scope_count);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct acpi_dmar dmar;
	const char *why = "unset";
	uint8_t *copy;
	int rc;

	if (size > 1u << 16)
		return 0;
	copy = malloc(size ? size : 1);
	FUZZ_CHECK(copy);
	memcpy(copy, data, size);
	rc = acpi_dmar_parse(copy, (uint32_t)size, &dmar, &why);
	FUZZ_SAY("dmar: %d %s, %u units, %u rmrrs, %u others\n", rc, why ? why : "ok",
		 dmar.unit_count, dmar.rmrr_count, dmar.others);
	if (rc == 0) {
		FUZZ_CHECK(why == NULL);
		check_dmar(&dmar);
	} else {
		FUZZ_CHECK(rc == -EINVAL && why && *why);
	}
	free(copy);
	return 0;
}
