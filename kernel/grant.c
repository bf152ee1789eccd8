/* Mapping a driver's named regions (rings, doorbells, pool) into a process, all or none. */
#include <kernel/grant.h>
#include <kernel/printk.h>
#include <kernel/proc.h>
#include <mm/phys.h>
#include <mm/vmspace.h>
#include <uapi/syscall.h>

void grant_add(struct grant *g, enum grant_kind kind, const char *name, paddr_t pa, size_t len)
{
	BUG_ON(g->n == GRANT_REGIONS_MAX || len == 0);
	g->r[g->n++] = (struct grant_region){.kind = kind, .name = name, .pa = pa, .len = len};
}

static paddr_t first_page(const struct grant_region *r)
{
	return ALIGN_DOWN(r->pa, PAGE_SIZE);
}

static size_t page_span(const struct grant_region *r)
{
	return ALIGN_UP(r->pa + r->len, PAGE_SIZE) - first_page(r);
}

/* An earlier region on exactly the same pages, or NULL. */
static const struct grant_region *same_pages(const struct grant *g, unsigned i)
{
	for (unsigned j = 0; j < i; j++)
		if (first_page(&g->r[j]) == first_page(&g->r[i]) &&
		    page_span(&g->r[j]) == page_span(&g->r[i]))
			return &g->r[j];
	return NULL;
}

static int map_region(struct process *p, struct grant *g, unsigned i)
{
	struct grant_region *r = &g->r[i];
	const struct grant_region *twin = same_pages(g, i);
	if (twin) {
		r->uaddr = twin->uaddr - (twin->pa - first_page(twin)) + (r->pa - first_page(r));
		r->shared = true;
		return 0;
	}
	long va = vmspace_map_phys(&p->vs, 0, first_page(r), page_span(r), PROT_READ | PROT_WRITE,
				   r->kind == GRANT_DOORBELL, VMR_DEVICE);
	if (va < 0)
		return (int)va;
	r->uaddr = (uint64_t)va + (r->pa - first_page(r));
	r->shared = false;
	return 0;
}

static void unmap_region(struct process *p, struct grant_region *r)
{
	if (!r->shared)
		vmspace_unmap(&p->vs, ALIGN_DOWN(r->uaddr, PAGE_SIZE), VMR_DEVICE);
	r->uaddr = 0;
}

int grant_map(struct process *p, struct grant *g)
{
	for (unsigned i = 0; i < g->n; i++) {
		int err = map_region(p, g, i);
		if (err) {
			while (i--) /* undo, newest first */
				unmap_region(p, &g->r[i]);
			return err;
		}
	}
	return 0;
}

void grant_unmap(struct process *p, struct grant *g)
{
	for (unsigned i = g->n; i--;)
		unmap_region(p, &g->r[i]);
}
