/*
 * The modern virtio-pci transport (virtio 1.2 §4.1): finding the
 * configuration structures, the status handshake, feature negotiation and
 * queue set-up and reset, for any virtio device type. A device driver
 * (virtio_net.c) owns the device; this file knows nothing of its type.
 */
#pragma once

#include <drivers/pci.h>
#include <kernel/types.h>

#define VIRTIO_PCI_VENDOR 0x1af4

/* struct virtio_pci_cap fields, as offsets from the capability. */
#define VIRTIO_CAP_CFG_TYPE    3
#define VIRTIO_CAP_BAR	       4
#define VIRTIO_CAP_OFFSET      8
#define VIRTIO_CAP_LENGTH      12
#define VIRTIO_CAP_NOTIFY_MULT 16

#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG	  3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4

/* struct virtio_pci_common_cfg (§4.1.4.3) */
#define VIRTIO_COMMON_DFSELECT	    0x00
#define VIRTIO_COMMON_DF	    0x04
#define VIRTIO_COMMON_GFSELECT	    0x08
#define VIRTIO_COMMON_GF	    0x0c
#define VIRTIO_COMMON_MSIX	    0x10
#define VIRTIO_COMMON_NUMQ	    0x12
#define VIRTIO_COMMON_STATUS	    0x14
#define VIRTIO_COMMON_CFGGENERATION 0x15
#define VIRTIO_COMMON_Q_SELECT	    0x16
#define VIRTIO_COMMON_Q_SIZE	    0x18
#define VIRTIO_COMMON_Q_MSIX	    0x1a
#define VIRTIO_COMMON_Q_ENABLE	    0x1c
#define VIRTIO_COMMON_Q_NOFF	    0x1e
#define VIRTIO_COMMON_Q_DESC	    0x20
#define VIRTIO_COMMON_Q_AVAIL	    0x28
#define VIRTIO_COMMON_Q_USED	    0x30
#define VIRTIO_COMMON_Q_NOTIFY_DATA 0x38
#define VIRTIO_COMMON_Q_RESET	    0x3a /* with VIRTIO_F_RING_RESET (§4.1.4.3) */

#define VIRTIO_MSI_NO_VECTOR 0xffff

/* Device status (§2.1) */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER	  2
#define VIRTIO_STATUS_DRIVER_OK	  4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED	  128

/* Feature bits of every device type (§6) */
#define VIRTIO_F_RING_EVENT_IDX	 29
#define VIRTIO_F_VERSION_1	 32
#define VIRTIO_F_ACCESS_PLATFORM 33 /* device addresses go through the platform's IOMMU */
#define VIRTIO_F_RING_RESET	 40

/* One device, as the transport sees it. */
struct virtio_pci {
	struct pci_dev *pci;
	volatile uint8_t *common; /* struct virtio_pci_common_cfg */
	volatile uint8_t *devcfg; /* the device type's configuration */
	paddr_t notify_base;	  /* physical address of the notify area */
	uint32_t notify_mult;
	uint64_t offered, features;
};

/*
 * The memory of one split virtqueue: one block laid out by
 * virtq_block_layout (include/lib/virtq.h), its physical address for the
 * kernel and the owner's mapping, and the address the device is given
 * (an I/O virtual address behind an IOMMU, else the physical one).
 */
struct virtio_queue {
	uint16_t index; /* virtqueue index */
	uint16_t size;	/* entries; 0 until allocated */
	paddr_t mem;	/* the block */
	uint64_t dma;	/* the device's address of the block */
	size_t desc_off, avail_off, used_off, mem_bytes;
	paddr_t notify; /* physical address of its doorbell */
};

/* Locate the common, notify and device-config structures (§4.1.4); -ENODEV. */
int virtio_pci_find_caps(struct virtio_pci *t, struct pci_dev *d);
/* Write 0 to the status and wait until it reads back 0 (§4.1.4.3.2); -EIO. */
int virtio_pci_reset(struct virtio_pci *t);
void virtio_pci_set_status(struct virtio_pci *t, uint8_t bits);
uint8_t virtio_pci_status(struct virtio_pci *t);
/* The device's feature bits (all 64). */
uint64_t virtio_pci_offered(struct virtio_pci *t);
/*
 * Accept offered & wanted (t->offered, t->features) and set FEATURES_OK
 * (§3.1.1 steps 4-6). -ENOTSUP for a legacy-only device or one that
 * refuses the set.
 */
int virtio_pci_negotiate(struct virtio_pci *t, uint64_t wanted);
static inline bool virtio_pci_has(const struct virtio_pci *t, unsigned bit)
{
	return (t->features >> bit) & 1;
}
/* The MSI-X table entry for configuration changes (VIRTIO_MSI_NO_VECTOR: none). */
void virtio_pci_config_vector(struct virtio_pci *t, uint16_t entry);
/* The largest size the device allows for queue index (0: no such queue). */
uint16_t virtio_pci_queue_max(struct virtio_pci *t, uint16_t index);
/*
 * Give the device queue q (its size, the device addresses of its three
 * areas, its MSI-X entry) and enable it (§4.1.5.1.3); sets q->notify.
 * -EIO if the device refuses the vector.
 */
int virtio_pci_queue_enable(struct virtio_pci *t, struct virtio_queue *q, uint16_t msix);
/* §2.6.1: reset one queue and wait until the device has (needs RING_RESET); -EIO. */
int virtio_pci_queue_reset(struct virtio_pci *t, uint16_t index);

uint8_t virtio_pci_cfg_read8(struct virtio_pci *t, unsigned off);
uint16_t virtio_pci_cfg_read16(struct virtio_pci *t, unsigned off);
uint32_t virtio_pci_cfg_read32(struct virtio_pci *t, unsigned off);
