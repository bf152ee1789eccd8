/* Helpers shared by the libFuzzer targets: reading a structured input, checking invariants. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * A promise of the code under test did not hold: say which, and abort so
 * that libFuzzer keeps the input as a crash (sanitizer reports do the same).
 */
#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,       \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* FUZZ_VERBOSE=1 in the environment: say what became of each input (to check seeds). */
static inline bool fuzz_verbose(void)
{
	static int v = -1;

	if (v < 0)
		v = getenv("FUZZ_VERBOSE") != NULL;
	return v;
}

#define FUZZ_SAY(...)                                                                              \
	do {                                                                                       \
		if (fuzz_verbose())                                                                \
			fprintf(stderr, __VA_ARGS__);                                              \
	} while (0)

/*
 * The input read front to back as the choices of a test: every read
 * succeeds, and once the bytes run out it returns zeros, so any input
 * is a complete test and a truncated one a shorter test.
 */
struct fz {
	const uint8_t *p;
	size_t n;
};

static inline struct fz fz_init(const uint8_t *data, size_t size)
{
	return (struct fz){.p = data, .n = size};
}

static inline size_t fz_left(const struct fz *f)
{
	return f->n;
}

static inline uint8_t fz_u8(struct fz *f)
{
	if (!f->n)
		return 0;
	f->n--;
	return *f->p++;
}

static inline uint16_t fz_u16(struct fz *f)
{
	uint16_t v = fz_u8(f);

	return (uint16_t)(v | fz_u8(f) << 8);
}

static inline uint32_t fz_u32(struct fz *f)
{
	uint32_t v = fz_u16(f);

	return v | (uint32_t)fz_u16(f) << 16;
}

static inline uint64_t fz_u64(struct fz *f)
{
	uint64_t v = fz_u32(f);

	return v | (uint64_t)fz_u32(f) << 32;
}

static inline bool fz_bool(struct fz *f)
{
	return fz_u8(f) & 1;
}

/* A value in [0, n), n > 0. */
static inline unsigned int fz_below(struct fz *f, unsigned int n)
{
	return n > 256 ? fz_u16(f) % n : fz_u8(f) % n;
}

/* Up to max bytes as they stand in the input; *len gets how many there were. */
static inline const uint8_t *fz_bytes(struct fz *f, size_t max, size_t *len)
{
	const uint8_t *p = f->p;

	*len = max < f->n ? max : f->n;
	f->p += *len;
	f->n -= *len;
	return p;
}

/*
 * A copy of the rest of the input in a heap block of exactly its size
 * (plus a NUL when asked), so AddressSanitizer sees a read one byte past
 * the end. Free it with free().
 */
static inline uint8_t *fz_dup_rest(struct fz *f, size_t *len, bool nul)
{
	const uint8_t *p = fz_bytes(f, f->n, len);
	size_t size = *len + (nul ? 1 : 0);
	uint8_t *copy = malloc(size ? size : 1);

	FUZZ_CHECK(copy);
	memcpy(copy, p, *len);
	if (nul)
		copy[*len] = '\0';
	return copy;
}

/* Touch every byte of [p, p + n): a read past the object it belongs to is reported. */
static inline uint8_t fuzz_touch(const void *p, size_t n)
{
	const volatile uint8_t *b = p;
	uint8_t x = 0;

	while (n--)
		x ^= *b++;
	return x;
}
