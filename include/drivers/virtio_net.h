/* virtio-net over the modern virtio-pci transport, driven in the kernel only
 * for set-up and reset: each queue pair's data path belongs to a process. */
#pragma once

#include <kernel/types.h>
#include <uapi/net.h>

#define VNET_MAX_DEVICES 4
#define VNET_MAX_QP	 8

struct grant;
struct vnet_qp; /* one queue pair of one device (private to the driver) */

/* Find and initialise every virtio-net device (eth0, eth1, ...). */
void virtio_net_init(void);
/* Give queue pair `qp` of device `name` to `owner`; its interrupt goes to the
 * CPU with `apic_id` and calls notify(owner, qp). -ENODEV, -EINVAL, -EBUSY,
 * -ENOMEM. */
int virtio_net_claim(const char *name, unsigned qp, void *owner, uint32_t apic_id,
		     void (*notify)(void *owner, unsigned qp), struct vnet_qp **out);
/* Take the queue pair back: the device forgets it, the memory is wiped. */
void virtio_net_release(struct vnet_qp *q);
/* What the owner of q gets mapped: its rings, doorbells and pool, by name. */
void virtio_net_grant(const struct vnet_qp *q, struct grant *g);
/* Describe q for its owner, with the addresses where g was mapped. */
void virtio_net_layout(const struct vnet_qp *q, const struct grant *g, struct mc_net_layout *l);
int virtio_net_info(const char *name, struct mc_net_info *info);
