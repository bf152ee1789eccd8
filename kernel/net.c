/*
 * NIC queue-pair grants (kernel bypass). net_attach gives a queue pair to
 * the one process whose manifest names it (net=DEV:QP) and that asks
 * first, and maps what the driver names for it — rings, doorbells, DMA
 * pool (kernel/grant.c) — into that process; the queue's interrupt becomes
 * an EV_NET event for the thread that attached it. When the process ends,
 * the device is reset before any of its memory is reused, so a new owner
 * starts clean.
 */
#include <arch/percpu.h>
#include <drivers/virtio_net.h>
#include <kernel/grant.h>
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
#define NET_KILL_STATUS	  (128 + 9)		/* like a process killed outright */

static uint64_t dma_kills; /* processes killed for their pair's DMA (any CPU, atomic) */

uint64_t net_dma_kills(void)
{
	return __atomic_load_n(&dma_kills, __ATOMIC_RELAXED);
}

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

/*
 * What the driver tells the thread that attached a pair: its interrupt
 * (EV_NET), a device reset under it (EV_NET_RESET: re-attach), or that its
 * descriptors made the device fault: the process is killed, since a bad
 * descriptor stops the whole device for every owner (QEMU) and an event
 * would let it do so again and again.
 */
static void net_notify(void *owner, unsigned qp, enum vnet_note note, const char *why)
{
	struct thread *t = owner;
	struct process *p = t->proc;
	switch (note) {
	case VNET_NOTE_IRQ:
		thread_post_event(t, EV_NET, qp, 0, 0);
		break;
	case VNET_NOTE_RESET:
		thread_post_event(t, EV_NET_RESET, qp, 0, 0);
		break;
	case VNET_NOTE_FAULT:
		printk("pid %d (%s) killed: its queue pair %u %s\n", p->pid, p->name, qp, why);
		proc_kill(p, NET_KILL_STATUS);
		__atomic_add_fetch(&dma_kills, 1, __ATOMIC_RELAXED);
		break;
	}
}

/*
 * net_attach of a pair the calling thread holds and the device was reset
 * under (EV_NET_RESET): the pair comes back with wiped rings, same layout.
 * 1 if this was not such a call.
 */
static long reattach(struct thread *t, const char *name, uint64_t qp, uint64_t ulayout)
{
	struct process *p = t->proc;
	for (int i = 0; i < PROC_NET_MAX; i++) {
		struct vnet_qp *q = p->net_owned[i];
		if (!q || q == NET_SLOT_RESERVED || !virtio_net_is(q, name, (unsigned)qp))
			continue;
		long err = virtio_net_resume(q, t);
		if (err)
			return err; /* held, but not reset (or by another thread) */
		printk("pid %d (%s) re-attached %s queue pair %lu after a device reset\n", p->pid,
		       p->name, name, qp);
		return copy_to_user(ulayout, &p->net_layout[i], sizeof(p->net_layout[i]));
	}
	return 1;
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
	err = reattach(t, name, qp, ulayout);
	if (err <= 0)
		return err;
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
	struct grant g;
	err = virtio_net_claim(name, (unsigned)qp, t, cpus[t->cpu].apic_id, net_notify, &q);
	if (err)
		goto free_slot;
	virtio_net_grant(q, &g);
	err = grant_map(p, &g);
	if (err)
		goto release_queue_pair;
	virtio_net_layout(q, &g, &l);
	err = copy_to_user(ulayout, &l, sizeof(l));
	if (err)
		goto unmap_grant;
	p->net_layout[slot] = l;
	p->net_owned[slot] = q;
	printk("pid %d (%s) attached %s queue pair %lu (thread %d, CPU %u, pool %lu KiB)\n", p->pid,
	       p->name, name, qp, t->tid, t->cpu, l.pool_size / 1024);
	return 0;

unmap_grant:
	grant_unmap(p, &g);
release_queue_pair:
	virtio_net_release(q);
free_slot:
	p->net_owned[slot] = NULL;
	return err;
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
