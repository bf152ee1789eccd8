/* The direct map: every physical RAM address is visible at DIRECT_MAP_BASE + paddr. */
#pragma once

#include <kernel/types.h>

#define PAGE_SHIFT 12
#define PAGE_SIZE  4096UL

#ifdef HOST_TEST
/* Host unit tests point the "direct map" at a buffer of their own. */
extern uintptr_t host_direct_map_base;
#define DIRECT_MAP_BASE host_direct_map_base
#else
#define DIRECT_MAP_BASE 0xffff800000000000UL
#endif

static inline void *phys_to_virt(paddr_t p)
{
	return (void *)(uintptr_t)(p + DIRECT_MAP_BASE);
}

static inline paddr_t virt_to_phys(const void *v)
{
	return (paddr_t)((uintptr_t)v - DIRECT_MAP_BASE);
}
