/*
 * The modern virtio-pci transport (virtio 1.2 §4.1), for any device type:
 * configuration structures, status, features, queue set-up and reset.
 */
#include <arch/cpu.h>
#include <uapi/errno.h>

#include "virtio_pci.h"

#define RESET_SPINS 1000000

static uint8_t common_read8(struct virtio_pci *t, unsigned off)
{
	return mmio_read8(t->common + off);
}

static uint16_t common_read16(struct virtio_pci *t, unsigned off)
{
	return mmio_read16(t->common + off);
}

static void common_write8(struct virtio_pci *t, unsigned off, uint8_t v)
{
	mmio_write8(t->common + off, v);
}

static void common_write16(struct virtio_pci *t, unsigned off, uint16_t v)
{
	mmio_write16(t->common + off, v);
}

static void common_write32(struct virtio_pci *t, unsigned off, uint32_t v)
{
	mmio_write32(t->common + off, v);
}

static void common_write64(struct virtio_pci *t, unsigned off, uint64_t v)
{
	mmio_write32(t->common + off, (uint32_t)v);
	mmio_write32(t->common + off + 4, (uint32_t)(v >> 32));
}

int virtio_pci_find_caps(struct virtio_pci *t, struct pci_dev *d)
{
	t->pci = d;
	for (uint8_t c = pci_find_cap(d, PCI_CAP_ID_VENDOR, 0); c;
	     c = pci_find_cap(d, PCI_CAP_ID_VENDOR, c)) {
		uint8_t type = pci_read8(d, c + VIRTIO_CAP_CFG_TYPE);
		uint8_t bar = pci_read8(d, c + VIRTIO_CAP_BAR);
		uint32_t off = pci_read32(d, c + VIRTIO_CAP_OFFSET);
		uint32_t len = pci_read32(d, c + VIRTIO_CAP_LENGTH);
		if (bar >= PCI_BARS || d->bar[bar].io || (uint64_t)off + len > d->bar[bar].size)
			continue;
		uint8_t *va = pci_map_bar(d, bar);
		if (!va)
			continue;
		if (type == VIRTIO_PCI_CAP_COMMON_CFG && !t->common) {
			t->common = va + off;
		} else if (type == VIRTIO_PCI_CAP_NOTIFY_CFG && !t->notify_base) {
			t->notify_base = d->bar[bar].base + off;
			t->notify_mult = pci_read32(d, c + VIRTIO_CAP_NOTIFY_MULT);
		} else if (type == VIRTIO_PCI_CAP_DEVICE_CFG && !t->devcfg) {
			t->devcfg = va + off;
		}
	}
	return t->common && t->notify_base && t->devcfg ? 0 : -ENODEV;
}

int virtio_pci_reset(struct virtio_pci *t)
{
	common_write8(t, VIRTIO_COMMON_STATUS, 0);
	for (int i = 0; i < RESET_SPINS; i++) {
		if (common_read8(t, VIRTIO_COMMON_STATUS) == 0)
			return 0;
		cpu_relax();
	}
	return -EIO;
}

uint8_t virtio_pci_status(struct virtio_pci *t)
{
	return common_read8(t, VIRTIO_COMMON_STATUS);
}

void virtio_pci_set_status(struct virtio_pci *t, uint8_t bits)
{
	common_write8(t, VIRTIO_COMMON_STATUS, virtio_pci_status(t) | bits);
}

uint64_t virtio_pci_offered(struct virtio_pci *t)
{
	common_write32(t, VIRTIO_COMMON_DFSELECT, 0);
	uint64_t lo = mmio_read32(t->common + VIRTIO_COMMON_DF);
	common_write32(t, VIRTIO_COMMON_DFSELECT, 1);
	uint64_t hi = mmio_read32(t->common + VIRTIO_COMMON_DF);
	return hi << 32 | lo;
}

int virtio_pci_negotiate(struct virtio_pci *t, uint64_t wanted)
{
	uint64_t offered = virtio_pci_offered(t);
	if (!(offered & (1ULL << VIRTIO_F_VERSION_1)))
		return -ENOTSUP; /* a legacy-only device */
	t->offered = offered;
	t->features = offered & wanted;
	common_write32(t, VIRTIO_COMMON_GFSELECT, 0);
	common_write32(t, VIRTIO_COMMON_GF, (uint32_t)t->features);
	common_write32(t, VIRTIO_COMMON_GFSELECT, 1);
	common_write32(t, VIRTIO_COMMON_GF, (uint32_t)(t->features >> 32));
	virtio_pci_set_status(t, VIRTIO_STATUS_FEATURES_OK);
	if (!(virtio_pci_status(t) & VIRTIO_STATUS_FEATURES_OK))
		return -ENOTSUP;
	return 0;
}

void virtio_pci_config_vector(struct virtio_pci *t, uint16_t entry)
{
	common_write16(t, VIRTIO_COMMON_MSIX, entry);
}

uint16_t virtio_pci_queue_max(struct virtio_pci *t, uint16_t index)
{
	common_write16(t, VIRTIO_COMMON_Q_SELECT, index);
	return common_read16(t, VIRTIO_COMMON_Q_SIZE);
}

int virtio_pci_queue_enable(struct virtio_pci *t, struct virtio_queue *q, uint16_t msix)
{
	common_write16(t, VIRTIO_COMMON_Q_SELECT, q->index);
	common_write16(t, VIRTIO_COMMON_Q_SIZE, q->size);
	common_write64(t, VIRTIO_COMMON_Q_DESC, q->dma + q->desc_off);
	common_write64(t, VIRTIO_COMMON_Q_AVAIL, q->dma + q->avail_off);
	common_write64(t, VIRTIO_COMMON_Q_USED, q->dma + q->used_off);
	common_write16(t, VIRTIO_COMMON_Q_MSIX, msix);
	if (common_read16(t, VIRTIO_COMMON_Q_MSIX) != msix)
		return -EIO;
	q->notify =
	    t->notify_base + (paddr_t)common_read16(t, VIRTIO_COMMON_Q_NOFF) * t->notify_mult;
	common_write16(t, VIRTIO_COMMON_Q_ENABLE, 1);
	return 0;
}

int virtio_pci_queue_reset(struct virtio_pci *t, uint16_t index)
{
	common_write16(t, VIRTIO_COMMON_Q_SELECT, index);
	common_write16(t, VIRTIO_COMMON_Q_RESET, 1);
	for (int i = 0; common_read16(t, VIRTIO_COMMON_Q_RESET) != 0; i++) {
		if (i == RESET_SPINS)
			return -EIO;
		cpu_relax();
	}
	return 0;
}

uint8_t virtio_pci_cfg_read8(struct virtio_pci *t, unsigned off)
{
	return mmio_read8(t->devcfg + off);
}

uint16_t virtio_pci_cfg_read16(struct virtio_pci *t, unsigned off)
{
	return mmio_read16(t->devcfg + off);
}

uint32_t virtio_pci_cfg_read32(struct virtio_pci *t, unsigned off)
{
	return mmio_read32(t->devcfg + off);
}
