/* Per-process address spaces: private user half, shared kernel half, every
 * user page backed when it is mapped (no demand paging). */
#pragma once

#include <kernel/spinlock.h>
#include <kernel/types.h>

/* What a region is; only VMR_ANON regions can be freed by the process. */
enum vmr_kind {
	VMR_IMAGE, /* ELF segment */
	VMR_STACK,
	VMR_ANON,   /* vmspace_alloc */
	VMR_SHARED, /* kernel-provided pages (event ring), not owned */
	VMR_DEVICE, /* device memory or DMA pool, not owned */
};

struct vm_region {
	uintptr_t start, end; /* page aligned, end exclusive */
	int prot;	      /* PROT_* from include/uapi/syscall.h */
	enum vmr_kind kind;
	struct vm_region *next; /* sorted by start */
};

/* The process's threads may change it from several CPUs at once: the
 * region list, counts and page tables are under `lock`. */
struct vmspace {
	uint64_t *pml4;
	struct spinlock lock;
	struct vm_region *regions;
	size_t nregions; /* at most VMSPACE_MAX_REGIONS: bounds kernel heap use */
	size_t pages;	 /* pages backed by this space (owned) */
	size_t budget;	 /* limit on `pages`, from the manifest */
	uint64_t active; /* CPUs whose CR3 holds pml4 (bit n: CPU n), atomic */
};

/* Region placement for vmspace_alloc without a fixed address. */
#define VMSPACE_ANON_BASE 0x0000100000000000UL
#define VMSPACE_STACK_TOP 0x00007ffffff00000UL
/* Regions per address space (each costs a kernel heap object; PROT_NONE
 * reservations cost no pages, so only this bounds them). */
#define VMSPACE_MAX_REGIONS 4096

int vmspace_init(struct vmspace *vs, size_t budget_pages);
void vmspace_destroy(struct vmspace *vs);
/* Map fresh zeroed pages (PROT_NONE: reserve the range, map nothing); va = 0
 * picks a free range. Returns the address
 * or a negative errno (-EINVAL, -ENOMEM, -EEXIST) cast to uintptr_t. */
long vmspace_map_anon(struct vmspace *vs, uintptr_t va, size_t len, int prot, enum vmr_kind kind);
/* Map existing physical pages (not owned: never freed by this space). */
long vmspace_map_phys(struct vmspace *vs, uintptr_t va, paddr_t pa, size_t len, int prot,
		      bool uncached, enum vmr_kind kind);
/* Unmap exactly one whole VMR_ANON region. */
int vmspace_free(struct vmspace *vs, uintptr_t va, size_t len);
/* Unmap the whole region that starts at va if it is of `kind`. */
int vmspace_unmap(struct vmspace *vs, uintptr_t va, enum vmr_kind kind);
/* Copy into user pages through the page tables (ignores user rights). */
int vmspace_write(struct vmspace *vs, uintptr_t va, const void *src, size_t len);
/* The protection of the region that contains va, or -1 if none. */
int vmspace_prot_at(struct vmspace *vs, uintptr_t va);
/* Whether [va, va+len) is mapped user-accessible (and writable if asked). */
bool vmspace_check(const struct vmspace *vs, uintptr_t va, size_t len, bool write);
/* Load vs's page tables on this CPU (nothing to do if they are loaded). */
void vmspace_activate(struct vmspace *vs);
/* Load the kernel's page tables on this CPU, leaving any address space. */
void vmspace_activate_kernel(void);
