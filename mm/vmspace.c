/*
 * Per-process address spaces. The user half (PML4 slots 0-255) is private;
 * the kernel half is copied from the kernel's table, whose top-level slots
 * never change after boot, so every process sees the same kernel. All user
 * memory is allocated and zeroed when mapped: a later fault is always fatal.
 * Unmapping clears the entries, shoots down the translations other CPUs may
 * hold (mm/tlb.c), and only then frees the pages.
 */
#include <arch/cpu.h>
#include <arch/memlayout.h>
#include <arch/paging.h>
#include <arch/percpu.h>
#include <lib/string.h>
#include <mm/kmem.h>
#include <mm/page.h>
#include <mm/phys.h>
#include <mm/tlb.h>
#include <mm/vm.h>
#include <mm/vmspace.h>
#include <uapi/errno.h>
#include <uapi/syscall.h>

static uint64_t prot_to_pte(int prot)
{
	uint64_t f = PTE_U;
	if (prot & PROT_WRITE)
		f |= PTE_W;
	if (!(prot & PROT_EXEC))
		f |= PTE_NX;
	return f;
}

/* Another CPU holding the lock may be waiting for this one to flush its TLB:
 * answer while spinning. */
static void vs_lock(struct vmspace *vs)
{
	while (!spin_trylock(&vs->lock)) {
		tlb_service();
		cpu_relax();
	}
}

static void vs_unlock(struct vmspace *vs)
{
	spin_unlock(&vs->lock);
}

int vmspace_init(struct vmspace *vs, size_t budget_pages)
{
	paddr_t pa = page_alloc_zeroed(1);
	if (!pa)
		return -ENOMEM;
	vs->pml4 = phys_to_virt(pa);
	memcpy(vs->pml4 + PT_ENTRIES / 2, vm_kernel_pml4() + PT_ENTRIES / 2,
	       PT_ENTRIES / 2 * sizeof(uint64_t));
	vs->lock = (struct spinlock)SPINLOCK_INIT;
	vs->active = 0;
	vs->regions = NULL;
	vs->nregions = 0;
	vs->pages = 0;
	vs->budget = budget_pages;
	return 0;
}

static bool range_ok(uintptr_t va, size_t len)
{
	return len && IS_ALIGNED(va, PAGE_SIZE) && va >= USER_MIN && va < USER_MAX &&
	       len <= USER_MAX - va;
}

static struct vm_region *find_overlap(const struct vmspace *vs, uintptr_t s, uintptr_t e)
{
	for (struct vm_region *r = vs->regions; r; r = r->next)
		if (r->start < e && s < r->end)
			return r;
	return NULL;
}

/* First gap of len bytes at or above VMSPACE_ANON_BASE. */
static uintptr_t find_gap(const struct vmspace *vs, size_t len)
{
	uintptr_t at = VMSPACE_ANON_BASE;
	for (struct vm_region *r = vs->regions; r; r = r->next) {
		if (r->end <= at)
			continue;
		if (r->start >= at && r->start - at >= len + PAGE_SIZE)
			break;
		at = r->end + PAGE_SIZE; /* leave an unmapped guard page */
	}
	return at + len <= VMSPACE_STACK_TOP - (1UL << 30) ? at : 0;
}

static int insert_region(struct vmspace *vs, uintptr_t s, uintptr_t e, int prot, enum vmr_kind kind)
{
	if (vs->nregions >= VMSPACE_MAX_REGIONS)
		return -ENOMEM;
	struct vm_region *n = kmalloc(sizeof(*n));
	if (!n)
		return -ENOMEM;
	vs->nregions++;
	*n = (struct vm_region){.start = s, .end = e, .prot = prot, .kind = kind};
	struct vm_region **pp = &vs->regions;
	while (*pp && (*pp)->start < s)
		pp = &(*pp)->next;
	n->next = *pp;
	*pp = n;
	return 0;
}

static bool owns_pages(enum vmr_kind kind)
{
	return kind == VMR_IMAGE || kind == VMR_STACK || kind == VMR_ANON;
}

/*
 * Unmap [s, e) and free the backing pages when the region owns them. Two
 * passes: the entries go first (their addresses kept in not-present
 * entries marked PTE_SW_FREE), other CPUs' translations next, the pages
 * last, so no CPU can reach a page after it is reused.
 */
static void unmap_range(struct vmspace *vs, uintptr_t s, uintptr_t e, bool owned)
{
	bool any = false;
	for (uintptr_t va = s; va < e; va += PAGE_SIZE) {
		uint64_t *pte = pt_leaf(vs->pml4, va);
		if (!pte) { /* no page table here: skip to the next one */
			va = ALIGN_DOWN(va, LARGE_PAGE_SIZE) + LARGE_PAGE_SIZE - PAGE_SIZE;
			continue;
		}
		if (!(*pte & PTE_P))
			continue;
		*pte = owned ? (*pte & PTE_ADDR_MASK) | PTE_SW_FREE : 0;
		invlpg(va);
		any = true;
	}
	if (!any)
		return;
	tlb_shootdown(vs);
	for (uintptr_t va = s; owned && va < e; va += PAGE_SIZE) {
		uint64_t *pte = pt_leaf(vs->pml4, va);
		if (!pte) {
			va = ALIGN_DOWN(va, LARGE_PAGE_SIZE) + LARGE_PAGE_SIZE - PAGE_SIZE;
			continue;
		}
		if (!(*pte & PTE_SW_FREE))
			continue;
		page_free(*pte & PTE_ADDR_MASK, 1);
		*pte = 0;
		vs->pages--;
	}
}

static long reserve(struct vmspace *vs, uintptr_t *va, size_t len)
{
	if (!*va) {
		*va = find_gap(vs, len);
		if (!*va)
			return -ENOMEM;
	}
	if (!range_ok(*va, len))
		return -EINVAL;
	if (find_overlap(vs, *va, *va + len))
		return -EEXIST;
	return 0;
}

static long map_anon(struct vmspace *vs, uintptr_t va, size_t len, int prot, enum vmr_kind kind)
{
	long err = reserve(vs, &va, len);
	if (err)
		return err;
	if (prot == PROT_NONE) {
		/* A reservation: address space only, never backed, never charged;
		 * any access faults (and kills: there is no demand paging). */
		err = insert_region(vs, va, va + len, prot, kind);
		return err ? err : (long)va;
	}
	size_t n = len / PAGE_SIZE;
	if (vs->pages + n > vs->budget || n > page_free_count())
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		paddr_t pa = page_alloc_zeroed(1);
		if (!pa || pt_map(vs->pml4, va + i * PAGE_SIZE, pa, prot_to_pte(prot))) {
			if (pa)
				page_free(pa, 1);
			unmap_range(vs, va, va + i * PAGE_SIZE, true);
			return -ENOMEM;
		}
		vs->pages++;
	}
	err = insert_region(vs, va, va + len, prot, kind);
	if (err) {
		unmap_range(vs, va, va + len, true);
		return err;
	}
	return (long)va;
}

long vmspace_map_anon(struct vmspace *vs, uintptr_t va, size_t len, int prot, enum vmr_kind kind)
{
	if (!len || len > USER_MAX)
		return -EINVAL;
	vs_lock(vs);
	long r = map_anon(vs, va, ALIGN_UP(len, PAGE_SIZE), prot, kind);
	vs_unlock(vs);
	return r;
}

static long map_phys(struct vmspace *vs, uintptr_t va, paddr_t pa, size_t len, int prot,
		     bool uncached, enum vmr_kind kind)
{
	long err = reserve(vs, &va, len);
	if (err)
		return err;
	uint64_t flags = prot_to_pte(prot) | (uncached ? PTE_PCD | PTE_PWT : 0);
	for (size_t off = 0; off < len; off += PAGE_SIZE) {
		if (pt_map(vs->pml4, va + off, pa + off, flags)) {
			unmap_range(vs, va, va + off, false);
			return -ENOMEM;
		}
	}
	err = insert_region(vs, va, va + len, prot, kind);
	if (err) {
		unmap_range(vs, va, va + len, false);
		return err;
	}
	return (long)va;
}

long vmspace_map_phys(struct vmspace *vs, uintptr_t va, paddr_t pa, size_t len, int prot,
		      bool uncached, enum vmr_kind kind)
{
	if (!len || len > USER_MAX)
		return -EINVAL;
	vs_lock(vs);
	long r = map_phys(vs, va, pa, ALIGN_UP(len, PAGE_SIZE), prot, uncached, kind);
	vs_unlock(vs);
	return r;
}

/* Remove the region starting at va if it has this kind (and, when len is
 * not 0, exactly this length). */
static int remove_region(struct vmspace *vs, uintptr_t va, size_t len, enum vmr_kind kind)
{
	vs_lock(vs);
	for (struct vm_region **pp = &vs->regions; *pp; pp = &(*pp)->next) {
		struct vm_region *r = *pp;
		if (r->start != va)
			continue;
		if (r->kind != kind || (len && r->end - r->start != len))
			break;
		if (r->prot != PROT_NONE) /* a reservation maps nothing */
			unmap_range(vs, r->start, r->end, owns_pages(kind));
		*pp = r->next;
		kfree(r);
		vs->nregions--;
		vs_unlock(vs);
		return 0;
	}
	vs_unlock(vs);
	return -EINVAL;
}

int vmspace_free(struct vmspace *vs, uintptr_t va, size_t len)
{
	if (len == 0 || len > USER_MAX)
		return -EINVAL; /* also keeps ALIGN_UP from wrapping to 0 */
	return remove_region(vs, va, ALIGN_UP(len, PAGE_SIZE), VMR_ANON);
}

int vmspace_unmap(struct vmspace *vs, uintptr_t va, enum vmr_kind kind)
{
	return remove_region(vs, va, 0, kind);
}

void vmspace_destroy(struct vmspace *vs)
{
	/* No CPU has it loaded any more (tlb_leave), so the shootdowns that
	 * unmap_range asks for find nobody to ask. */
	while (vs->regions) {
		struct vm_region *r = vs->regions;
		if (r->prot != PROT_NONE)
			unmap_range(vs, r->start, r->end, owns_pages(r->kind));
		vs->regions = r->next;
		kfree(r);
	}
	vs->nregions = 0;
	pt_free_user_tables(vs->pml4);
	page_free(virt_to_phys(vs->pml4), 1);
	vs->pml4 = NULL;
}

int vmspace_write(struct vmspace *vs, uintptr_t va, const void *src, size_t len)
{
	const uint8_t *s = src;
	while (len) {
		paddr_t pa;
		if (!(pt_lookup(vs->pml4, va, &pa) & PTE_U))
			return -EFAULT;
		size_t chunk = MIN(len, PAGE_SIZE - (va & (PAGE_SIZE - 1)));
		memcpy(phys_to_virt(pa), s, chunk);
		va += chunk;
		s += chunk;
		len -= chunk;
	}
	return 0;
}

int vmspace_prot_at(struct vmspace *vs, uintptr_t va)
{
	int prot = -1;
	vs_lock(vs);
	for (const struct vm_region *r = vs->regions; r; r = r->next)
		if (r->start <= va && va < r->end)
			prot = r->prot;
	vs_unlock(vs);
	return prot;
}

bool vmspace_check(const struct vmspace *vs, uintptr_t va, size_t len, bool write)
{
	if (va < USER_MIN || va >= USER_MAX || len > USER_MAX - va)
		return false;
	uintptr_t end = va + len;
	for (uintptr_t p = ALIGN_DOWN(va, PAGE_SIZE); p < end; p += PAGE_SIZE) {
		uint64_t e = pt_lookup(vs->pml4, p, NULL);
		if (!(e & PTE_P) || !(e & PTE_U) || (write && !(e & PTE_W)))
			return false;
	}
	return true;
}

/*
 * The CPU joins vs's active set before it loads CR3 (and after the entries
 * a concurrent unmap cleared, if it read the set without this CPU), so a
 * shootdown either reaches it or finds nothing for it to flush. Reloading
 * the same tables is skipped: the TLB stays warm when a thread resumes.
 */
void vmspace_activate(struct vmspace *vs)
{
	struct cpu *c = this_cpu();
	if (c->vs_loaded == vs)
		return;
	if (c->vs_loaded)
		__atomic_and_fetch(&((struct vmspace *)c->vs_loaded)->active, ~(1ULL << c->id),
				   __ATOMIC_SEQ_CST);
	__atomic_or_fetch(&vs->active, 1ULL << c->id, __ATOMIC_SEQ_CST);
	write_cr3(virt_to_phys(vs->pml4));
	c->vs_loaded = vs;
}

void vmspace_activate_kernel(void)
{
	struct cpu *c = this_cpu();
	write_cr3(vm_kernel_pml4_phys());
	if (c->vs_loaded)
		__atomic_and_fetch(&((struct vmspace *)c->vs_loaded)->active, ~(1ULL << c->id),
				   __ATOMIC_SEQ_CST);
	c->vs_loaded = NULL;
}
