/* virtio-net over the modern virtio-pci transport, driven in the kernel only
 * for set-up and reset: each queue pair's data path belongs to a process. */
#pragma once

#include <kernel/types.h>
#include <uapi/net.h>

#define VNET_MAX_DEVICES 4
#define VNET_MAX_QP	 8

struct grant;
struct vnet_qp; /* one queue pair of one device (private to the driver) */

/* What the driver tells a queue pair's owner (its notify hook). */
enum vnet_note {
	VNET_NOTE_IRQ,	 /* the pair's interrupt */
	VNET_NOTE_RESET, /* the device was reset under it: re-attach (virtio_net_resume) */
	VNET_NOTE_FAULT, /* the pair made the device fault (why says how): its owner must go */
};

/* Called from interrupts, interrupts off; `why` only with VNET_NOTE_FAULT. */
typedef void (*vnet_notify_fn)(void *owner, unsigned qp, enum vnet_note note, const char *why);

/* Find and initialise every virtio-net device (eth0, eth1, ...). */
void virtio_net_init(void);
/* Give queue pair `qp` of device `name` to `owner`; its interrupt goes to the
 * CPU with `apic_id` and calls notify(owner, qp, VNET_NOTE_IRQ, NULL).
 * -ENODEV, -EINVAL, -EBUSY, -ENOMEM. */
int virtio_net_claim(const char *name, unsigned qp, void *owner, uint32_t apic_id,
		     vnet_notify_fn notify, struct vnet_qp **out);
/* Whether q is queue pair `qp` of device `name`. */
bool virtio_net_is(const struct vnet_qp *q, const char *name, unsigned qp);
/*
 * The owner takes back a pair the device was reset under (after
 * VNET_NOTE_RESET): its rings are wiped and given to the device again;
 * mappings and layout are unchanged. -EBUSY if owner does not hold q or q
 * was not reset, -EIO.
 */
int virtio_net_resume(struct vnet_qp *q, void *owner);
/* Take the queue pair back: the device forgets it, the memory is wiped. */
void virtio_net_release(struct vnet_qp *q);
/* What the owner of q gets mapped: its rings, doorbells and pool, by name. */
void virtio_net_grant(const struct vnet_qp *q, struct grant *g);
/* Describe q for its owner, with the addresses where g was mapped. */
void virtio_net_layout(const struct vnet_qp *q, const struct grant *g, struct mc_net_layout *l);
int virtio_net_info(const char *name, struct mc_net_info *info);
