/* virtio-net over the modern virtio-pci transport, driven in the kernel only
 * for set-up and reset: each queue pair's data path belongs to a process. */
#pragma once

#include <kernel/types.h>
#include <uapi/net.h>

#define VNET_MAX_DEVICES 4
#define VNET_MAX_QP	 8

/* Physical memory of one split virtqueue (virtio 1.2 §2.7). */
struct vnet_queue {
	uint16_t index; /* virtqueue index */
	uint16_t size;
	paddr_t mem; /* desc table, then driver ring, then device ring */
	size_t mem_bytes;
	paddr_t desc, avail, used;
	paddr_t notify; /* physical address of its doorbell */
};

struct virtio_net;

/* A queue pair and who owns it. */
struct vnet_qp {
	struct virtio_net *dev;
	unsigned qp;
	struct vnet_queue rx, tx;
	paddr_t pool;
	size_t pool_bytes;
	unsigned msix_entry;
	int vector;
	void *owner; /* opaque to the driver: the owning process */
	void (*notify)(void *owner, unsigned qp);
	bool dirty; /* released, but the device has not forgotten it yet */
	uint64_t interrupts;
};

/* Find and initialise every virtio-net device (eth0, eth1, ...). */
void virtio_net_init(void);
/* Give queue pair `qp` of device `name` to `owner`; its interrupt goes to the
 * CPU with `apic_id` and calls notify(owner, qp). -ENODEV, -EINVAL, -EBUSY. */
int virtio_net_claim(const char *name, unsigned qp, void *owner, uint32_t apic_id,
		     void (*notify)(void *owner, unsigned qp), struct vnet_qp **out);
/* Take the queue pair back: the device forgets it, the memory is wiped. */
void virtio_net_release(struct vnet_qp *q);
/* Describe q for the owner (addresses are physical; the caller maps them). */
void virtio_net_layout(const struct vnet_qp *q, struct mc_net_layout *l);
int virtio_net_info(const char *name, struct mc_net_info *info);
