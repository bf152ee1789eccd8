/* Fuzz target: the kernel command line (kernel/cmdline.c), with lookups of keys from the input. */
/* fuzz-sources: kernel/cmdline.c lib/string.c */
/* fuzz-cflags: -include tests/unit/string_rename.h */
#include <kernel/cmdline.h>

#include "fuzz.h"

#define CMDLINE_MAX 512 /* kernel/cmdline.c keeps this much */

/* The keys the kernel looks up, and one the input chooses. */
static const char *const keys[] = {"test", "debugexit", "nosmp", "", "=", " "};

static void lookup(const char *key, size_t size)
{
	char *buf = malloc(size ? size : 1);
	bool has = cmdline_has(key);

	FUZZ_CHECK(buf);
	if (cmdline_get(key, buf, size)) {
		FUZZ_CHECK(has);
		if (size) {
			/* A value is one word, NUL-terminated inside the buffer. */
			FUZZ_CHECK(memchr(buf, '\0', size));
			FUZZ_CHECK(!strchr(buf, ' '));
		}
	} else {
		FUZZ_CHECK(!has);
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = fz_init(data, size);
	size_t klen = fz_u8(&f) % 16, n, i, sizes[] = {0, 1, 2, 8, 64};
	const uint8_t *k = fz_bytes(&f, klen, &klen);
	char key[17], *line;

	memcpy(key, k, klen);
	key[klen] = '\0';
	line = (char *)fz_dup_rest(&f, &n, true);
	cmdline_init(line);
	FUZZ_CHECK(strlen(cmdline_raw()) < CMDLINE_MAX);
	FUZZ_CHECK(strncmp(cmdline_raw(), line, CMDLINE_MAX - 1) == 0);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		lookup(key, sizes[i]);
		lookup(keys[i % (sizeof(keys) / sizeof(keys[0]))], sizes[i]);
	}
	free(line);
	return 0;
}
