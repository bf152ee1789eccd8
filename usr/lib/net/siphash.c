/* SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012): keyed hashes for
 * TCP. */
#include "tcp_priv.h"

static inline uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

struct sip {
	uint64_t v0, v1, v2, v3;
};

/* The paper's SipRound (§2). */
static inline void sip_round(struct sip *s)
{
	s->v0 += s->v1;
	s->v1 = rotl(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = rotl(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = rotl(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = rotl(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = rotl(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = rotl(s->v2, 32);
}

/* One message word: c = 2 rounds. */
static inline void sip_word(struct sip *s, uint64_t m)
{
	s->v3 ^= m;
	sip_round(s);
	sip_round(s);
	s->v0 ^= m;
}

uint64_t net_siphash(const uint64_t key[2], const void *data, size_t len)
{
	const uint8_t *p = data;
	struct sip s = {
	    .v0 = key[0] ^ 0x736f6d6570736575ull,
	    .v1 = key[1] ^ 0x646f72616e646f6dull,
	    .v2 = key[0] ^ 0x6c7967656e657261ull,
	    .v3 = key[1] ^ 0x7465646279746573ull,
	};
	uint64_t m, last = (uint64_t)len << 56;
	size_t i;

	for (; len >= 8; p += 8, len -= 8) {
		__builtin_memcpy(&m, p,
				 8); /* little-endian words (the build asserts the host is) */
		sip_word(&s, m);
	}
	for (i = 0; i < len; i++)
		last |= (uint64_t)p[i] << (8 * i);
	sip_word(&s, last);
	/* Finalization: d = 4 rounds. */
	s.v2 ^= 0xff;
	for (i = 0; i < 4; i++)
		sip_round(&s);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}
