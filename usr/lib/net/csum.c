/* The Internet checksum (RFC 1071): one's complement sums over 64-bit words. */
#include "net_priv.h"

/*
 * RFC 1071 section 2: the one's complement sum is independent of byte order
 * and of word width as long as carries wrap around.  So we add 64-bit words
 * as loaded (little-endian) with end-around carry, and net_csum_fold reduces
 * the result to the 16-bit sum of the wire's byte pairs, in wire order.
 */

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;

	__builtin_memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t load32(const uint8_t *p)
{
	uint32_t v;

	__builtin_memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint16_t load16(const uint8_t *p)
{
	uint16_t v;

	__builtin_memcpy(&v, p, sizeof(v));
	return v;
}

/* a + x with the carry out of bit 63 added back in (compiles to add, adc). */
static inline uint64_t add_carry(uint64_t a, uint64_t x)
{
	a += x;
	return a + (a < x);
}

uint64_t net_csum_partial(const void *buf, size_t len, uint64_t sum)
{
	const uint8_t *p = buf;
	uint64_t b = 0;

	/* Two independent carry chains keep both adders busy. */
	while (len >= 32) {
		sum = add_carry(sum, load64(p));
		b = add_carry(b, load64(p + 8));
		sum = add_carry(sum, load64(p + 16));
		b = add_carry(b, load64(p + 24));
		p += 32;
		len -= 32;
	}
	while (len >= 8) {
		sum = add_carry(sum, load64(p));
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		b = add_carry(b, load32(p));
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		b = add_carry(b, load16(p));
		p += 2;
		len -= 2;
	}
	/* An odd last byte is the high-order (first) byte of a zero-padded pair. */
	if (len)
		b = add_carry(b, *p);
	return add_carry(sum, b);
}

void net_csum_complete(uint8_t *frame, size_t len, size_t csum_start, size_t csum_offset)
{
	uint16_t c;

	if (csum_start > len || csum_offset + 2 > len - csum_start)
		return;
	/* The field holds the pseudo-header sum: it is part of the sum. */
	c = net_csum_fold(net_csum_partial(frame + csum_start, len - csum_start, 0));
	__builtin_memcpy(frame + csum_start + csum_offset, &c, sizeof(c));
}
