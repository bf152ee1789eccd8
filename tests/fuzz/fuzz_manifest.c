/* Fuzz target: a module's command line, the manifest and argv (kernel/manifest.c). */
/* fuzz-sources: kernel/manifest.c lib/string.c */
/* fuzz-cflags: -include tests/unit/string_rename.h */
#include <kernel/proc.h>
#include <mm/phys.h>
#include <uapi/errno.h>

#include "fuzz.h"

static void check_manifest(const struct manifest *mf)
{
	int i;

	/* cpus is any set of cores below 64: every bit pattern is valid */
	FUZZ_CHECK(mf->mem_pages >= 16);
	FUZZ_CHECK(mf->stack_bytes >= PAGE_SIZE && mf->stack_bytes <= (64UL << 20));
	FUZZ_CHECK(mf->stack_bytes % PAGE_SIZE == 0);
	FUZZ_CHECK(mf->net_count >= 0 && mf->net_count <= PROC_NET_MAX);
	for (i = 0; i < mf->net_count; i++) {
		FUZZ_CHECK(memchr(mf->net[i].dev, '\0', sizeof(mf->net[i].dev)));
		FUZZ_CHECK(mf->net[i].dev[0] != '\0');
		FUZZ_CHECK(mf->net[i].first >= 0 && mf->net[i].first <= mf->net[i].last);
		FUZZ_CHECK(mf->net[i].last <= 255);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = fz_init(data, size);
	const char *argv = NULL, *why = NULL;
	struct manifest mf;
	size_t n;
	char *s;
	int rc;

	/* A GRUB module command line: a C string (it may hold a NUL early). */
	s = (char *)fz_dup_rest(&f, &n, true);
	rc = manifest_parse(s, &mf, &argv, &why);
	FUZZ_SAY("manifest: %d %s, argv \"%s\"\n", rc, why ? why : "ok", rc ? "" : argv);
	if (rc == 0) {
		check_manifest(&mf);
		/* argv is the rest of the same string, starting at a word. */
		FUZZ_CHECK(argv >= s && argv < s + strlen(s));
		FUZZ_CHECK(*argv != ' ' && *argv != '\0');
	} else {
		FUZZ_CHECK(rc == -EINVAL && why && *why);
	}
	free(s);
	return 0;
}
