/*
 * virtio-net device set-up over the modern virtio-pci transport. The kernel
 * does the handshake (virtio 1.2 §3.1.1), builds each queue pair's rings and
 * DMA pool, and then stays out of the data path: the owning process fills
 * descriptors and rings the doorbell itself. The kernel's only per-packet
 * role is turning the queue pair's MSI-X interrupt into an event.
 */
#include <arch/cpu.h>
#include <arch/percpu.h>
#include <arch/trap.h>
#include <kernel/page.h>
#include <kernel/phys.h>
#include <kernel/printk.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <kernel/virtio_net.h>
#include <lib/format.h>
#include <lib/string.h>
#include <uapi/errno.h>

#include "virtio_pci.h"

#define POOL_BYTES	  (2UL << 20) /* DMA buffers per queue pair */
#define BUF_SIZE	  2048
#define RESET_SPINS	  1000000
#define CONFIG_MSIX_ENTRY 0

/* What we take if offered; VERSION_1 is required. */
#define WANTED_FEATURES                                                                            \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_NET_F_MAC) |                               \
	 (1ULL << VIRTIO_NET_F_STATUS) | (1ULL << VIRTIO_F_RING_EVENT_IDX) |                       \
	 (1ULL << VIRTIO_NET_F_CSUM) | (1ULL << VIRTIO_NET_F_GUEST_CSUM) |                         \
	 (1ULL << VIRTIO_NET_F_MTU))

struct virtio_net {
	char name[8];
	struct pci_dev *pci;
	volatile uint8_t *common; /* struct virtio_pci_common_cfg */
	volatile uint8_t *devcfg; /* struct virtio_net_config */
	paddr_t notify_base;	  /* physical address of the notify area */
	uint32_t notify_mult;
	uint64_t features;
	uint8_t mac[6];
	uint16_t mtu;
	unsigned nqp;
	struct vnet_qp qps[VNET_MAX_QP];
	struct spinlock lock;
	uint64_t config_irqs;
};

static struct virtio_net devs[VNET_MAX_DEVICES];
static unsigned ndevs;

static uint8_t common_read8(struct virtio_net *n, unsigned off)
{
	return mmio_read8(n->common + off);
}

static uint16_t common_read16(struct virtio_net *n, unsigned off)
{
	return mmio_read16(n->common + off);
}

static void common_write8(struct virtio_net *n, unsigned off, uint8_t v)
{
	mmio_write8(n->common + off, v);
}

static void common_write16(struct virtio_net *n, unsigned off, uint16_t v)
{
	mmio_write16(n->common + off, v);
}

static void common_write32(struct virtio_net *n, unsigned off, uint32_t v)
{
	mmio_write32(n->common + off, v);
}

static void common_write64(struct virtio_net *n, unsigned off, uint64_t v)
{
	mmio_write32(n->common + off, (uint32_t)v);
	mmio_write32(n->common + off + 4, (uint32_t)(v >> 32));
}

static void set_status(struct virtio_net *n, uint8_t bits)
{
	common_write8(n, VIRTIO_COMMON_STATUS, common_read8(n, VIRTIO_COMMON_STATUS) | bits);
}

/* Writing 0 resets the device; it reads back 0 when done (§4.1.4.3.2). */
static int device_reset(struct virtio_net *n)
{
	common_write8(n, VIRTIO_COMMON_STATUS, 0);
	for (int i = 0; i < RESET_SPINS; i++) {
		if (common_read8(n, VIRTIO_COMMON_STATUS) == 0)
			return 0;
		cpu_relax();
	}
	return -EIO;
}

/* Locate the common, notify and device-config structures (§4.1.4). */
static int find_caps(struct virtio_net *n)
{
	struct pci_dev *d = n->pci;
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
		if (type == VIRTIO_PCI_CAP_COMMON_CFG && !n->common) {
			n->common = va + off;
		} else if (type == VIRTIO_PCI_CAP_NOTIFY_CFG && !n->notify_base) {
			n->notify_base = d->bar[bar].base + off;
			n->notify_mult = pci_read32(d, c + VIRTIO_CAP_NOTIFY_MULT);
		} else if (type == VIRTIO_PCI_CAP_DEVICE_CFG && !n->devcfg) {
			n->devcfg = va + off;
		}
	}
	return n->common && n->notify_base && n->devcfg ? 0 : -ENODEV;
}

static uint64_t read_features(struct virtio_net *n)
{
	common_write32(n, VIRTIO_COMMON_DFSELECT, 0);
	uint64_t lo = mmio_read32(n->common + VIRTIO_COMMON_DF);
	common_write32(n, VIRTIO_COMMON_DFSELECT, 1);
	uint64_t hi = mmio_read32(n->common + VIRTIO_COMMON_DF);
	return hi << 32 | lo;
}

static int negotiate(struct virtio_net *n)
{
	uint64_t offered = read_features(n);
	if (!(offered & (1ULL << VIRTIO_F_VERSION_1)))
		return -ENOTSUP; /* a legacy-only device */
	n->features = offered & WANTED_FEATURES;
	common_write32(n, VIRTIO_COMMON_GFSELECT, 0);
	common_write32(n, VIRTIO_COMMON_GF, (uint32_t)n->features);
	common_write32(n, VIRTIO_COMMON_GFSELECT, 1);
	common_write32(n, VIRTIO_COMMON_GF, (uint32_t)(n->features >> 32));
	set_status(n, VIRTIO_STATUS_FEATURES_OK);
	if (!(common_read8(n, VIRTIO_COMMON_STATUS) & VIRTIO_STATUS_FEATURES_OK))
		return -ENOTSUP;
	return 0;
}

/* Allocate the ring memory of one queue: descriptor table, driver ring,
 * then the device ring on its own page (§2.7: alignments 16, 2, 4). */
static int alloc_queue(struct vnet_queue *q, uint16_t index, uint16_t size)
{
	size_t avail_off = 16UL * size;
	size_t used_off = ALIGN_UP(avail_off + 6 + 2UL * size, PAGE_SIZE);
	q->mem_bytes = ALIGN_UP(used_off + 6 + 8UL * size, PAGE_SIZE);
	q->mem = page_alloc_zeroed(q->mem_bytes / PAGE_SIZE);
	if (!q->mem)
		return -ENOMEM;
	q->index = index;
	q->size = size;
	q->desc = q->mem;
	q->avail = q->mem + avail_off;
	q->used = q->mem + used_off;
	return 0;
}

/* Tell the device about one queue and enable it (§4.1.5.1.3). */
static int setup_queue(struct virtio_net *n, struct vnet_queue *q, unsigned msix)
{
	common_write16(n, VIRTIO_COMMON_Q_SELECT, q->index);
	uint16_t max = common_read16(n, VIRTIO_COMMON_Q_SIZE);
	if (max == 0)
		return -ENODEV;
	if (!q->mem) {
		uint16_t size = max > 1024 ? 1024 : max;
		if (size & (size - 1))
			return -EINVAL; /* split rings need a power of two here */
		int err = alloc_queue(q, q->index, size);
		if (err)
			return err;
	} else {
		memset(phys_to_virt(q->mem), 0, q->mem_bytes);
	}
	common_write16(n, VIRTIO_COMMON_Q_SIZE, q->size);
	common_write64(n, VIRTIO_COMMON_Q_DESC, q->desc);
	common_write64(n, VIRTIO_COMMON_Q_AVAIL, q->avail);
	common_write64(n, VIRTIO_COMMON_Q_USED, q->used);
	common_write16(n, VIRTIO_COMMON_Q_MSIX, msix);
	if (common_read16(n, VIRTIO_COMMON_Q_MSIX) != msix)
		return -EIO;
	q->notify =
	    n->notify_base + (paddr_t)common_read16(n, VIRTIO_COMMON_Q_NOFF) * n->notify_mult;
	common_write16(n, VIRTIO_COMMON_Q_ENABLE, 1);
	return 0;
}

/* The whole initialisation sequence of §3.1.1, also used after a reset. */
static int bring_up(struct virtio_net *n)
{
	if (device_reset(n))
		return -EIO;
	set_status(n, VIRTIO_STATUS_ACKNOWLEDGE);
	set_status(n, VIRTIO_STATUS_DRIVER);
	int err = negotiate(n);
	if (err)
		goto failed;
	common_write16(n, VIRTIO_COMMON_MSIX, CONFIG_MSIX_ENTRY);
	for (unsigned i = 0; i < n->nqp; i++) {
		struct vnet_qp *q = &n->qps[i];
		err = setup_queue(n, &q->rx, q->msix_entry);
		if (!err)
			err = setup_queue(n, &q->tx, q->msix_entry);
		if (err)
			goto failed;
	}
	set_status(n, VIRTIO_STATUS_DRIVER_OK);
	return 0;
failed:
	set_status(n, VIRTIO_STATUS_FAILED);
	return err;
}

static void qp_irq(struct trap_frame *tf, void *ctx)
{
	struct vnet_qp *q = ctx;
	(void)tf;
	q->interrupts++;
	void (*fn)(void *, unsigned) = __atomic_load_n(&q->notify, __ATOMIC_ACQUIRE);
	if (fn)
		fn(q->owner, q->qp);
}

static void config_irq(struct trap_frame *tf, void *ctx)
{
	struct virtio_net *n = ctx;
	(void)tf;
	n->config_irqs++;
}

static int setup_interrupts(struct virtio_net *n)
{
	int err = pci_msix_enable(n->pci);
	if (err)
		return err;
	int v = irq_alloc_vector();
	if (v < 0)
		return v;
	irq_register((unsigned)v, config_irq, n);
	pci_msix_route(n->pci, CONFIG_MSIX_ENTRY, cpus[0].apic_id, (uint8_t)v);
	pci_msix_mask(n->pci, CONFIG_MSIX_ENTRY, false);
	for (unsigned i = 0; i < n->nqp; i++) {
		struct vnet_qp *q = &n->qps[i];
		q->vector = irq_alloc_vector();
		if (q->vector < 0 || q->msix_entry >= n->pci->msix_count)
			return -ENOSPC;
		irq_register((unsigned)q->vector, qp_irq, q);
		pci_msix_route(n->pci, q->msix_entry, cpus[0].apic_id, (uint8_t)q->vector);
	}
	return 0;
}

static int probe(struct virtio_net *n)
{
	int err = find_caps(n);
	if (err)
		return err;
	pci_enable(n->pci);
	n->nqp = VNET_MAX_QP;
	for (unsigned i = 0; i < n->nqp; i++) {
		struct vnet_qp *q = &n->qps[i];
		q->dev = n;
		q->qp = i;
		q->rx.index = (uint16_t)(2 * i);
		q->tx.index = (uint16_t)(2 * i + 1);
		q->msix_entry = 1 + i;
	}
	err = setup_interrupts(n);
	if (err)
		return err;
	err = bring_up(n);
	if (err)
		return err;
	for (int i = 0; i < 6; i++)
		n->mac[i] = n->features & (1ULL << VIRTIO_NET_F_MAC)
				? mmio_read8(n->devcfg + VIRTIO_NET_CFG_MAC + i)
				: 0;
	n->mtu = n->features & (1ULL << VIRTIO_NET_F_MTU)
		     ? mmio_read16(n->devcfg + VIRTIO_NET_CFG_MTU)
		     : 1500;
	return 0;
}

void virtio_net_init(void)
{
	for (struct pci_dev *d = pci_find(VIRTIO_PCI_VENDOR, VIRTIO_PCI_DEVICE_NET, NULL);
	     d && ndevs < VNET_MAX_DEVICES;
	     d = pci_find(VIRTIO_PCI_VENDOR, VIRTIO_PCI_DEVICE_NET, d)) {
		struct virtio_net *n = &devs[ndevs];
		*n = (struct virtio_net){.pci = d, .lock = SPINLOCK_INIT};
		fmt_snprintf(n->name, sizeof(n->name), "eth%u", ndevs);
		int err = probe(n);
		if (err) {
			printk("%s: virtio-net %02x:%02x.%u unusable (error %d)\n", n->name, d->bus,
			       d->dev, d->fn, err);
			continue;
		}
		d->claimed = true;
		ndevs++;
		printk("%s: virtio-net mac %02x:%02x:%02x:%02x:%02x:%02x, %u queue pair(s) "
		       "of %u entries, features %#lx, doorbell stride %u\n",
		       n->name, n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5],
		       n->nqp, n->qps[0].rx.size, n->features, n->notify_mult);
	}
}

static struct virtio_net *find_dev(const char *name)
{
	for (unsigned i = 0; i < ndevs; i++)
		if (strcmp(devs[i].name, name) == 0)
			return &devs[i];
	return NULL;
}

int virtio_net_claim(const char *name, unsigned qp, void *owner, uint32_t apic_id,
		     void (*notify)(void *owner, unsigned qp), struct vnet_qp **out)
{
	struct virtio_net *n = find_dev(name);
	if (!n)
		return -ENODEV;
	if (qp >= n->nqp)
		return -EINVAL;
	struct vnet_qp *q = &n->qps[qp];
	unsigned long f = spin_lock_irqsave(&n->lock);
	if (q->owner) {
		spin_unlock_irqrestore(&n->lock, f);
		return -EBUSY;
	}
	q->owner = owner;
	spin_unlock_irqrestore(&n->lock, f);

	if (!q->pool) {
		q->pool = page_alloc_aligned(POOL_BYTES / PAGE_SIZE, POOL_BYTES);
		if (!q->pool) {
			q->owner = NULL;
			return -ENOMEM;
		}
		q->pool_bytes = POOL_BYTES;
	}
	memset(phys_to_virt(q->pool), 0, q->pool_bytes); /* nothing of the last owner */
	__atomic_store_n(&q->notify, notify, __ATOMIC_RELEASE);
	pci_msix_route(n->pci, q->msix_entry, apic_id, (uint8_t)q->vector);
	pci_msix_mask(n->pci, q->msix_entry, false);
	*out = q;
	return 0;
}

void virtio_net_release(struct vnet_qp *q)
{
	struct virtio_net *n = q->dev;
	pci_msix_mask(n->pci, q->msix_entry, true);
	__atomic_store_n(&q->notify, NULL, __ATOMIC_RELEASE);
	/* The device may still hold descriptors of the old owner: reset it so it
	 * forgets them, then rebuild every queue with wiped rings. With one
	 * queue pair per device nobody else is disturbed. */
	int err = bring_up(n);
	if (err)
		printk("%s: reset after queue pair %u was released failed (%d)\n", n->name, q->qp,
		       err);
	unsigned long f = spin_lock_irqsave(&n->lock);
	q->owner = NULL;
	spin_unlock_irqrestore(&n->lock, f);
}

void virtio_net_layout(const struct vnet_qp *q, struct mc_net_layout *l)
{
	const struct virtio_net *n = q->dev;
	memset(l, 0, sizeof(*l));
	l->version = MC_NET_LAYOUT_VERSION;
	l->qp = q->qp;
	l->rx = (struct mc_net_queue){q->rx.desc, q->rx.avail, q->rx.used, q->rx.notify,
				      q->rx.size, q->rx.index, 0};
	l->tx = (struct mc_net_queue){q->tx.desc, q->tx.avail, q->tx.used, q->tx.notify,
				      q->tx.size, q->tx.index, 0};
	l->pool = q->pool;
	l->pool_size = q->pool_bytes;
	l->pool_dma = q->pool; /* no IOMMU: device addresses are physical */
	l->features = n->features;
	l->hdr_len = VIRTIO_NET_HDR_LEN;
	l->buf_size = BUF_SIZE;
	memcpy(l->mac, n->mac, 6);
	l->mtu = n->mtu;
}

int virtio_net_info(const char *name, struct mc_net_info *info)
{
	struct virtio_net *n = find_dev(name);
	if (!n)
		return -ENODEV;
	memset(info, 0, sizeof(*info));
	memcpy(info->mac, n->mac, 6);
	info->link_up = !(n->features & (1ULL << VIRTIO_NET_F_STATUS)) ||
			(mmio_read16(n->devcfg + VIRTIO_NET_CFG_STATUS) & VIRTIO_NET_S_LINK_UP);
	info->queue_pairs = (uint16_t)n->nqp;
	info->mtu = n->mtu;
	info->features = n->features;
	return 0;
}
