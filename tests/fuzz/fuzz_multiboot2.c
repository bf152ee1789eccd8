/* Fuzz target: the Multiboot2 boot-information parser (arch/x86_64/multiboot2.c). */
/* fuzz-sources: arch/x86_64/multiboot2.c */
#include <arch/multiboot2.h>
#include <uapi/errno.h>

#include "fuzz.h"

/* p points into [buf, buf + n) and a NUL ends it there. */
static bool string_inside(const char *p, const uint8_t *buf, size_t n)
{
	const uint8_t *s = (const uint8_t *)p;

	return s >= buf && s < buf + n && memchr(s, '\0', (size_t)(buf + n - s));
}

static void check_info(const struct mb2_info *mi, const uint8_t *buf, size_t n)
{
	const uint8_t *rsdp = mi->rsdp;
	uint32_t i;

	FUZZ_CHECK(mi->total_size >= 8 && mi->total_size <= n);
	n = mi->total_size; /* nothing may come from beyond it */
	FUZZ_CHECK(!mi->cmdline || string_inside(mi->cmdline, buf, n));
	FUZZ_CHECK(!mi->loader_name || string_inside(mi->loader_name, buf, n));
	FUZZ_CHECK(mi->module_count <= MB2_MAX_MODULES);
	FUZZ_CHECK(!mi->modules_dropped || mi->module_count == MB2_MAX_MODULES);
	for (i = 0; i < mi->module_count; i++) {
		FUZZ_CHECK(mi->modules[i].start <= mi->modules[i].end);
		FUZZ_CHECK(string_inside(mi->modules[i].cmdline, buf, n));
	}
	FUZZ_CHECK(mi->mmap_count <= MB2_MAX_MMAP);
	FUZZ_CHECK(mi->has_mmap || mi->mmap_count == 0);
	for (i = 0; i < mi->mmap_count; i++)
		FUZZ_CHECK(mi->mmap[i].base + mi->mmap[i].length >= mi->mmap[i].base);
	if (!rsdp) {
		FUZZ_CHECK(mi->rsdp_tag == 0);
		return;
	}
	FUZZ_CHECK(mi->rsdp_tag == MB2_TAG_ACPI_OLD || mi->rsdp_tag == MB2_TAG_ACPI_NEW);
	FUZZ_CHECK(rsdp >= buf && mi->rsdp_len <= (size_t)(buf + n - rsdp));
	FUZZ_CHECK(mi->rsdp_len >= (mi->rsdp_tag == MB2_TAG_ACPI_NEW ? 36u : 20u));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = fz_init(data, size);
	static struct mb2_info info;
	const char *why = "unset";
	uint8_t *buf;
	size_t n;
	int rc;

	/* The loader hands over an 8-byte aligned MBI; malloc's blocks are. */
	buf = fz_dup_rest(&f, &n, false);
	rc = mb2_parse(buf, n, &info, &why);
	FUZZ_SAY("mb2: %d %s, %u modules, %u mmap, rsdp tag %u\n", rc, why ? why : "ok",
		 info.module_count, info.mmap_count, info.rsdp_tag);
	if (rc == 0) {
		FUZZ_CHECK(why == NULL);
		check_info(&info, buf, n);
	} else {
		FUZZ_CHECK(rc == -EINVAL || rc == -ERANGE);
		FUZZ_CHECK(why && *why);
	}
	free(buf);
	return 0;
}
