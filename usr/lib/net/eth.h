/* Ethernet helpers of the network stack: MAC addresses, header filling, padding. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net_priv.h"

static const uint8_t net_bcast_mac[ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/*
 * MAC helpers with fixed-size builtins: gcc expands these inline even when
 * freestanding, where memcpy/memcmp would be calls.
 */
static inline uint64_t mac_load(const uint8_t *m)
{
	uint32_t hi;
	uint16_t lo;

	__builtin_memcpy(&hi, m, sizeof(hi));
	__builtin_memcpy(&lo, m + 4, sizeof(lo));
	return (uint64_t)lo << 32 | hi;
}

static inline void mac_store(uint8_t *m, uint64_t v)
{
	uint32_t hi = (uint32_t)v;
	uint16_t lo = (uint16_t)(v >> 32);

	__builtin_memcpy(m, &hi, sizeof(hi));
	__builtin_memcpy(m + 4, &lo, sizeof(lo));
}

static inline void mac_copy(uint8_t *dst, const uint8_t *src)
{
	mac_store(dst, mac_load(src));
}

static inline bool mac_eq(const uint8_t *a, const uint8_t *b)
{
	return mac_load(a) == mac_load(b);
}

/* Group bit (I/G) of the first octet: multicast or broadcast. */
static inline bool mac_is_group(const uint8_t *m)
{
	return m[0] & 1;
}

static inline void eth_fill(struct eth_hdr *eth, const uint8_t *dst, const uint8_t *src,
			    uint16_t type)
{
	uint64_t d = mac_load(dst); /* dst may be eth->src */

	mac_copy(eth->src, src);
	mac_store(eth->dst, d);
	eth->type = net_htons(type);
}

/* Zero-pad a short frame to ETH_ZLEN if room allows (else leave it); returns its length. */
size_t eth_pad(uint8_t *frame, size_t len, size_t room);
