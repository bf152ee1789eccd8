/*
 * NIC queue-pair grants (kernel bypass). net_attach maps a queue pair's
 * rings, doorbells and DMA pool into the one process whose manifest names
 * it (net=DEV:QP) and that asks first; the queue's interrupt becomes an
 * EV_NET event for that process. When the process ends, the device is
 * reset before any of its memory is reused, so a new owner starts clean.
 */
#include <arch/percpu.h>
#include <drivers/virtio_net.h>
#include <kernel/printk.h>
#include <kernel/proc.h>
#include <kernel/syscall.h>
#include <kernel/uaccess.h>
#include <lib/format.h>
#include <lib/string.h>
#include <mm/phys.h>
#include <uapi/errno.h>
#include <uapi/syscall.h>

#define NET_NAME_MAX	  8
#define NET_SLOT_RESERVED ((struct vnet_qp *)1) /* an attach in progress */

static long copy_name(uint64_t uname, char *name)
{
	long n = strncpy_from_user(name, uname, NET_NAME_MAX);
	if (n < 0)
		return n == -EINVAL ? -ENODEV : n; /* too long to be a device name */
	return n == 0 ? -ENODEV : 0;
}

static bool granted(const struct process *p, const char *name, uint64_t qp)
{
	for (int i = 0; i < p->mf.net_count; i++) {
		const struct proc_net_grant *g = &p->mf.net[i];
		if (strcmp(g->dev, name) == 0 && qp >= (uint64_t)g->first &&
		    qp <= (uint64_t)g->last)
			return true;
	}
	return false;
}

/* The queue pair's interrupt: an event for the thread that attached it. */
static void net_notify(void *owner, unsigned qp)
{
	struct thread *t = owner;
	thread_post_event(t, EV_NET, qp, 0, 0);
}

/* Map [pa, pa+len) into p; returns the user address of pa or a negative errno. */
static long map_into(struct process *p, paddr_t pa, size_t len, bool uncached)
{
	paddr_t start = ALIGN_DOWN(pa, PAGE_SIZE);
	size_t size = ALIGN_UP(pa + len, PAGE_SIZE) - start;
	long va =
	    vmspace_map_phys(&p->vs, 0, start, size, PROT_READ | PROT_WRITE, uncached, VMR_DEVICE);
	return va < 0 ? va : va + (long)(pa - start);
}

static void unmap_all(struct process *p, const long *va, int n)
{
	for (int i = 0; i < n; i++)
		if (va[i] > 0)
			vmspace_unmap(&p->vs, ALIGN_DOWN((uintptr_t)va[i], PAGE_SIZE), VMR_DEVICE);
}

/* Map the rings, doorbells and pool, and rewrite the layout's physical
 * addresses as the process's virtual ones. */
static long map_queue_pair(struct process *p, const struct vnet_qp *q, struct mc_net_layout *l)
{
	long va[5] = {0};
	va[0] = map_into(p, q->rx.mem, q->rx.mem_bytes, false);
	va[1] = va[0] < 0 ? va[0] : map_into(p, q->tx.mem, q->tx.mem_bytes, false);
	va[2] = va[1] < 0 ? va[1] : map_into(p, q->rx.notify, 2, true);
	bool shared_bell =
	    ALIGN_DOWN(q->rx.notify, PAGE_SIZE) == ALIGN_DOWN(q->tx.notify, PAGE_SIZE);
	va[3] = va[2] < 0     ? va[2]
		: shared_bell ? va[2] + (long)(q->tx.notify - q->rx.notify)
			      : map_into(p, q->tx.notify, 2, true);
	va[4] = va[3] < 0 ? va[3] : map_into(p, q->pool, q->pool_bytes, false);
	for (int i = 0; i < 5; i++) {
		if (va[i] < 0) {
			long err = va[i];
			if (shared_bell)
				va[3] = 0;
			unmap_all(p, va, 5);
			return err;
		}
	}
	l->rx.desc = (uint64_t)va[0] + (q->rx.desc - q->rx.mem);
	l->rx.avail = (uint64_t)va[0] + (q->rx.avail - q->rx.mem);
	l->rx.used = (uint64_t)va[0] + (q->rx.used - q->rx.mem);
	l->tx.desc = (uint64_t)va[1] + (q->tx.desc - q->tx.mem);
	l->tx.avail = (uint64_t)va[1] + (q->tx.avail - q->tx.mem);
	l->tx.used = (uint64_t)va[1] + (q->tx.used - q->tx.mem);
	l->rx.notify = (uint64_t)va[2];
	l->tx.notify = (uint64_t)va[3];
	l->pool = (uint64_t)va[4];
	return 0;
}

/*
 * net_attach(dev, qp, layout): the calling thread takes queue pair qp of
 * dev. Its interrupt goes to that thread's core and becomes an EV_NET event
 * in that thread's ring.
 */
long sys_net_attach(struct thread *t, uint64_t uname, uint64_t qp, uint64_t ulayout)
{
	struct process *p = t->proc;
	char name[NET_NAME_MAX];
	struct mc_net_layout l;
	long err = copy_name(uname, name);
	if (err)
		return err;
	if (!vmspace_check(&p->vs, ulayout, sizeof(l), true))
		return -EFAULT;
	if (!granted(p, name, qp))
		return -EPERM;
	/* A slot, reserved under the lock against the process's other threads. */
	unsigned long f = spin_lock_irqsave(&p->lock);
	int slot = -1;
	for (int i = PROC_NET_MAX - 1; i >= 0; i--)
		if (!p->net_owned[i])
			slot = i;
	if (slot >= 0)
		p->net_owned[slot] = NET_SLOT_RESERVED;
	spin_unlock_irqrestore(&p->lock, f);
	if (slot < 0)
		return -ENOSPC;
	struct vnet_qp *q;
	err = virtio_net_claim(name, (unsigned)qp, t, cpus[t->cpu].apic_id, net_notify, &q);
	if (err) {
		p->net_owned[slot] = NULL;
		return err;
	}
	virtio_net_layout(q, &l);
	err = map_queue_pair(p, q, &l);
	if (!err)
		err = copy_to_user(ulayout, &l, sizeof(l));
	if (err) {
		virtio_net_release(q);
		p->net_owned[slot] = NULL;
		return err;
	}
	p->net_owned[slot] = q;
	printk("pid %d (%s) attached %s queue pair %lu (thread %d, CPU %u)\n", p->pid, p->name,
	       name, qp, t->tid, t->cpu);
	return 0;
}

long sys_net_info(struct process *p, uint64_t uname, uint64_t uinfo)
{
	char name[NET_NAME_MAX];
	struct mc_net_info info;
	long err = copy_name(uname, name);
	if (err)
		return err;
	if (!vmspace_check(&p->vs, uinfo, sizeof(info), true))
		return -EFAULT;
	err = virtio_net_info(name, &info);
	return err ? err : copy_to_user(uinfo, &info, sizeof(info));
}

int net_check_grants(const struct manifest *mf, const char **why)
{
	static char reason[80];
	for (int i = 0; i < mf->net_count; i++) {
		const struct proc_net_grant *g = &mf->net[i];
		struct mc_net_info info;
		if (virtio_net_info(g->dev, &info)) {
			fmt_snprintf(reason, sizeof(reason),
				     "net= names %s, which this machine lacks", g->dev);
			*why = reason;
			return -ENODEV;
		}
		if ((unsigned)g->last >= info.queue_pairs) {
			fmt_snprintf(reason, sizeof(reason),
				     "net= names queue pair %d of %s, which has %u", g->last,
				     g->dev, info.queue_pairs);
			*why = reason;
			return -EINVAL;
		}
	}
	return 0;
}

void proc_net_release(struct process *p)
{
	for (int i = 0; i < PROC_NET_MAX; i++) {
		struct vnet_qp *q = p->net_owned[i];
		if (q && q != NET_SLOT_RESERVED) {
			virtio_net_release(q);
			p->net_owned[i] = NULL;
		}
	}
}
