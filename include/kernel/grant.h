/*
 * Grants of device memory to a process (kernel bypass): a driver names the
 * regions of one queue it gives away — rings, doorbells, a DMA pool — and
 * kernel/grant.c maps them, all or none. A new bypass device needs a driver
 * that fills a struct grant and a user library that reads its layout; the
 * grant code stays as it is.
 */
#pragma once

#include <kernel/types.h>

enum grant_kind {
	GRANT_RING,	/* queue rings: RAM shared with the device, cached */
	GRANT_DOORBELL, /* device registers: uncached */
	GRANT_POOL,	/* DMA buffers: RAM, cached */
};

struct grant_region {
	enum grant_kind kind;
	const char *name; /* "rx ring", for messages */
	paddr_t pa;	  /* start; the mapping covers its whole pages */
	size_t len;
	uint64_t uaddr; /* set by grant_map: the process's address of pa */
	bool shared;	/* set by grant_map: on the pages of an earlier region */
};

#define GRANT_REGIONS_MAX 8

struct grant {
	struct grant_region r[GRANT_REGIONS_MAX];
	unsigned n;
};

struct process;

/* Add a region to g (the driver's side); regions are mapped in this order. */
void grant_add(struct grant *g, enum grant_kind kind, const char *name, paddr_t pa, size_t len);
/*
 * Map every region of g into p, read-write, and set each uaddr. A region
 * whose pages are exactly those of an earlier one (two doorbells on one
 * page) shares its mapping. All or nothing: on failure every region mapped
 * so far is unmapped again, in reverse order, and the errno returned.
 */
int grant_map(struct process *p, struct grant *g);
/* Unmap every region of g from p, in reverse order. */
void grant_unmap(struct process *p, struct grant *g);
