/*
 * virtio-net device set-up over the modern virtio-pci transport. The kernel
 * does the handshake (virtio 1.2 §3.1.1), builds each queue pair's rings and
 * DMA pool, and then stays out of the data path: the owning thread fills
 * descriptors and rings the doorbell itself. The kernel's only per-packet
 * role is turning the queue pair's MSI-X interrupt into an event.
 *
 * Several queue pairs (VIRTIO_NET_F_MQ, §5.1.6.5.5): the control queue stays
 * in the kernel and enables them. Incoming flows are spread over them by the
 * device's RSS (VIRTIO_NET_F_RSS, §5.1.6.5.7: a Toeplitz hash of the IPv4
 * addresses and ports through an indirection table over the queue pairs)
 * when it offers it, and otherwise by automatic steering: QEMU's
 * multiqueue tap backend, whose host driver spreads flows over its queues
 * and answers a flow on the queue it last came from.
 */
#include <arch/cpu.h>
#include <arch/percpu.h>
#include <arch/trap.h>
#include <drivers/iommu.h>
#include <drivers/virtio_net.h>
#include <kernel/grant.h>
#include <kernel/printk.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <lib/format.h>
#include <lib/string.h>
#include <lib/virtq.h>
#include <mm/page.h>
#include <mm/phys.h>
#include <mm/vm.h>
#include <uapi/errno.h>

#include "virtio_net_regs.h"
#include "virtio_pci.h"

#define POOL_BYTES	  (2UL << 20) /* DMA buffers per queue pair */
#define BUF_SIZE	  2048
#define QUEUE_SIZE_MAX	  1024
#define CONFIG_MSIX_ENTRY 0
#define CTRL_QUEUE_SIZE	  64
#define CTRL_TIMEOUT_NS	  (1000 * NSEC_PER_MSEC)
#define CTRL_PAGES	  2   /* a command page the device reads, an ack page it writes */
#define RSS_KEY_LEN	  40  /* §5.1.4: rss_max_key_size is at least 40 */
#define RSS_TABLE_MAX	  128 /* indirection table entries we use at most */

/*
 * What we take if offered; VERSION_1 is required.
 *
 * Not VIRTIO_F_RING_EVENT_IDX, though the rings support it (lib/virtq.c,
 * tested both ways): a polling driver gains nothing from it, and QEMU's
 * virtio-net, while its TX bottom half is pending, then asks for a
 * notification at the very next avail index instead of none, so every
 * flush rang the doorbell (a trip through QEMU's big lock and a wake-up
 * of its I/O thread). With the flag form (§2.7.7/§2.7.10) it sets
 * VIRTQ_USED_F_NO_NOTIFY meanwhile and the doorbell is spared: echo
 * throughput at a window of 16 rose by a third (bench/README.md).
 */
#define WANTED_FEATURES                                                                            \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_NET_F_MAC) |                               \
	 (1ULL << VIRTIO_NET_F_STATUS) |                                                           \
	 (1ULL << VIRTIO_NET_F_CSUM) | (1ULL << VIRTIO_NET_F_GUEST_CSUM) |                         \
	 (1ULL << VIRTIO_NET_F_MTU) | (1ULL << VIRTIO_NET_F_CTRL_VQ) | (1ULL << VIRTIO_NET_F_MQ) | \
	 (1ULL << VIRTIO_NET_F_RSS) | (1ULL << VIRTIO_F_RING_RESET) |                              \
	 (1ULL << VIRTIO_F_ACCESS_PLATFORM))

/*
 * Device (I/O virtual) addresses behind an IOMMU, one window per queue
 * pair and one for the control queue, far from 0 so that small and
 * physical-looking addresses name nothing, and below the interrupt range
 * at 0xfee00000 (DMA writes there are interrupts, VT-d 4.1 §3.15).
 */
#define IOVA_BASE	   0x40000000UL
#define IOVA_WINDOW	   0x01000000UL /* 16 MiB per queue pair */
#define IOVA_TX_RING	   0x00100000UL /* within a window: rx ring at 0 */
#define IOVA_POOL	   0x00800000UL
#define IOVA_CTRL_PAGES	   0x00100000UL /* within the control window: its ring at 0 */
#define IOVA_WINDOW_OF(qp) (IOVA_BASE + ((uint64_t)(qp) + 1) * IOVA_WINDOW)

#define HAS(n, f) virtio_pci_has(&(n)->t, f)

/* A queue pair and who owns it. */
struct vnet_qp {
	struct virtio_net *dev;
	unsigned qp;
	struct virtio_queue rx, tx;
	paddr_t pool;
	size_t pool_bytes;
	uint64_t pool_dma; /* the device's address of the pool */
	bool pool_mapped;  /* in the device's IOMMU domain (owned, or not yet forgotten) */
	unsigned msix_entry;
	int vector;
	void *owner; /* opaque to the driver: the owning thread */
	vnet_notify_fn notify;
	bool dirty;    /* released, but the device has not forgotten it yet */
	bool parked;   /* the device was reset under its owner, who must re-attach */
	bool disabled; /* parked with its queues off (VIRTIO_F_RING_RESET) */
	bool faulted;  /* its owner made the device fault; it is on its way out */
	uint64_t interrupts;
};

struct virtio_net {
	char name[8];
	struct virtio_pci t;	  /* the transport: registers and negotiated features */
	struct iommu_domain *dom; /* NULL: the device's DMA is unconfined */
	uint8_t mac[6];
	uint16_t mtu;
	uint16_t max_qp; /* the device's max_virtqueue_pairs (1 without MQ/RSS) */
	unsigned nqp;	 /* queue pairs in use: min(max_qp, VNET_MAX_QP) */
	struct vnet_qp qps[VNET_MAX_QP];
	/* the control queue (kernel only), its doorbell and a command page */
	struct virtio_queue ctrl;
	volatile uint16_t *ctrl_bell;
	paddr_t ctrl_page;		 /* CTRL_PAGES pages */
	uint64_t ctrl_dma, ctrl_ack_dma; /* the device's addresses of the two */
	uint16_t ctrl_avail;		 /* our copy of ctrl avail->idx */
	uint8_t rss_key[RSS_KEY_LEN];
	const char *steering; /* who spreads flows over the queue pairs */
	bool rss_on;	      /* steering is ours: follow the owners (configure_rss) */
	struct spinlock lock; /* owners and flags of qps[], device resets */
	uint64_t config_irqs;
	uint64_t dma_faults;
	uint64_t resets; /* whole-device resets after an error */
};

static struct virtio_net devs[VNET_MAX_DEVICES];
static unsigned ndevs;

/*
 * Where the device finds [pa, pa + len): in its IOMMU domain at iova, the
 * device only reading or also writing; without a domain, at pa itself.
 */
static int dma_map(struct virtio_net *n, uint64_t iova, paddr_t pa, size_t len, bool writable,
		   uint64_t *dma)
{
	if (!n->dom) {
		*dma = pa;
		return 0;
	}
	int err = iommu_map(n->dom, iova, pa, len, IOMMU_READ | (writable ? IOMMU_WRITE : 0));
	if (!err)
		*dma = iova;
	return err;
}

/* The device's window for queue index i: rings of pair i/2, or the control queue's. */
static uint64_t ring_iova(const struct virtio_net *n, uint16_t index)
{
	if (index >= 2 * n->max_qp)
		return IOVA_BASE; /* the control queue (§5.1.2: after every pair) */
	return IOVA_WINDOW_OF(index / 2) + (index % 2 ? IOVA_TX_RING : 0);
}

/*
 * The ring memory of one queue, laid out by virtq_block_layout (§2.7),
 * allocated once and kept in the device's domain for good: the part the
 * device reads (descriptors, driver ring) read-only, the device ring
 * writable. Even when the queue is someone else's, the device can neither
 * rewrite its descriptors nor its driver ring.
 */
static int alloc_queue(struct virtio_net *n, struct virtio_queue *q, uint16_t size)
{
	struct virtq_block b = virtq_block_layout(size, PAGE_SIZE);
	paddr_t mem = page_alloc_zeroed(b.bytes / PAGE_SIZE);
	uint64_t iova = ring_iova(n, q->index), dma, used_dma;
	if (!mem)
		return -ENOMEM;
	int err = dma_map(n, iova, mem, b.used_off, false, &dma);
	if (err)
		goto free_rings;
	err =
	    dma_map(n, iova + b.used_off, mem + b.used_off, b.bytes - b.used_off, true, &used_dma);
	if (err)
		goto unmap_driver_area;
	q->mem = mem;
	q->dma = dma;
	q->size = size;
	q->desc_off = b.desc_off;
	q->avail_off = b.avail_off;
	q->used_off = b.used_off;
	q->mem_bytes = b.bytes;
	return 0;

unmap_driver_area:
	if (n->dom)
		iommu_unmap(n->dom, iova, b.used_off);
free_rings:
	page_free(mem, b.bytes / PAGE_SIZE);
	return err;
}

/* Give the device one queue, allocating its rings the first time and
 * wiping them every other time (§4.1.5.1.3). */
static int setup_queue(struct virtio_net *n, struct virtio_queue *q, unsigned msix, uint16_t cap)
{
	uint16_t max = virtio_pci_queue_max(&n->t, q->index);
	if (max == 0)
		return -ENODEV;
	if (!q->size) {
		uint16_t size = max > cap ? cap : max;
		if (size & (size - 1))
			return -EINVAL; /* split rings need a power of two here */
		int err = alloc_queue(n, q, size);
		if (err)
			return err;
	} else {
		memset(phys_to_virt(q->mem), 0, q->mem_bytes);
	}
	return virtio_pci_queue_enable(&n->t, q, (uint16_t)msix);
}

/*
 * One command on the control queue (§5.1.6.5): class, command and data in
 * a device-readable buffer, then a device-writable ack byte. The kernel
 * waits for the answer (the device handles it at the doorbell under QEMU).
 * Callers are serialised by the boot order and by n->lock.
 */
static int ctrl_command(struct virtio_net *n, uint8_t class, uint8_t cmd, const void *data,
			size_t len)
{
	struct virtio_queue *q = &n->ctrl;
	uint8_t *page = phys_to_virt(n->ctrl_page);
	volatile uint8_t *ack = phys_to_virt(n->ctrl_page + PAGE_SIZE);
	if (len + 2 > PAGE_SIZE)
		return -EINVAL;
	page[0] = class;
	page[1] = cmd;
	memcpy(page + 2, data, len);
	*ack = 0xff;
	struct virtq_desc *desc = phys_to_virt(q->mem + q->desc_off);
	desc[0] = (struct virtq_desc){n->ctrl_dma, (uint32_t)(len + 2), VIRTQ_DESC_F_NEXT, 1};
	desc[1] = (struct virtq_desc){n->ctrl_ack_dma, 1, VIRTQ_DESC_F_WRITE, 0};
	struct virtq_avail *avail = phys_to_virt(q->mem + q->avail_off);
	volatile struct virtq_used *used = phys_to_virt(q->mem + q->used_off);
	avail->ring[n->ctrl_avail % q->size] = 0;
	n->ctrl_avail++;
	__atomic_store_n(&avail->idx, n->ctrl_avail, __ATOMIC_RELEASE);
	mmio_write16(n->ctrl_bell, q->index);
	uint64_t end = time_ns() + CTRL_TIMEOUT_NS;
	while (__atomic_load_n(&used->idx, __ATOMIC_ACQUIRE) != n->ctrl_avail) {
		if (time_ns() > end)
			return -ETIMEDOUT;
		cpu_relax();
	}
	return *ack == VIRTIO_NET_OK ? 0 : -EIO;
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2); /* little-endian, as x86 */
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/*
 * Spread flows over the queue pairs with the device's RSS: hash the IPv4
 * addresses (and TCP/UDP ports where the device supports it) with our key,
 * then an indirection table whose entries name receive queues round-robin
 * (§5.1.6.5.7.1: entries are queue pair numbers, receiveq1 = 0). Only
 * queue pairs that someone owns get flows (all of them while nobody owns
 * any): a flow steered to a queue nobody serves would be lost, and under
 * QEMU's software RSS a full queue also holds up the tap queue the frame
 * came from. Called again whenever a queue pair changes hands.
 */
static int configure_rss(struct virtio_net *n)
{
	unsigned targets[VNET_MAX_QP], ntargets = 0;
	for (unsigned i = 0; i < n->nqp; i++)
		if (n->qps[i].owner && !n->qps[i].dirty && !n->qps[i].parked)
			targets[ntargets++] = i;
	/* All parked after a reset: the pairs whose owners come back (a frame
	 * for a pair nobody will serve holds up its tap queue for good). */
	for (unsigned i = 0; !ntargets && i < n->nqp; i++)
		if (n->qps[i].owner && !n->qps[i].faulted)
			targets[ntargets++] = i;
	if (!ntargets)
		for (unsigned i = 0; i < n->nqp; i++)
			targets[ntargets++] = i;
	uint32_t supported = virtio_pci_cfg_read32(&n->t, VIRTIO_NET_CFG_HASH_TYPES);
	uint8_t key_max = virtio_pci_cfg_read8(&n->t, VIRTIO_NET_CFG_RSS_KEY_MAX);
	uint16_t table_max = virtio_pci_cfg_read16(&n->t, VIRTIO_NET_CFG_RSS_TBL_MAX);
	uint32_t types = supported & (VIRTIO_NET_HASH_TYPE_IPv4 | VIRTIO_NET_HASH_TYPE_TCPv4 |
				      VIRTIO_NET_HASH_TYPE_UDPv4);
	if (!types || key_max < RSS_KEY_LEN || table_max < n->nqp)
		return -ENOTSUP; /* a device breaking §5.1.4's minimums: validate, never trust */
	unsigned entries = RSS_TABLE_MAX;
	while (entries > table_max)
		entries /= 2; /* a power of two, at most what the device takes */
	uint8_t buf[8 + 2 * RSS_TABLE_MAX + 3 + RSS_KEY_LEN], *p = buf;
	put32(p, types);
	put16(p + 4, (uint16_t)(entries - 1)); /* indirection_table_mask */
	put16(p + 6, (uint16_t)targets[0]);    /* unclassified_queue */
	p += 8;
	for (unsigned i = 0; i < entries; i++, p += 2)
		put16(p, (uint16_t)targets[i % ntargets]);
	/* max_tx_vq: the pairs in use, counted from 0 (targets are ascending).
	 * QEMU takes it as its queue-pair count and detaches the tap queues
	 * above it: a tap queue stays read only while its own pair's receive
	 * queue is ready, and a frame it steers to a pair short of buffers
	 * waits on the tap queue's side until that queue's own doorbell rings,
	 * which on a pair nobody serves never happens. */
	put16(p, (uint16_t)(targets[ntargets - 1] + 1));
	p[2] = RSS_KEY_LEN;
	memcpy(p + 3, n->rss_key, RSS_KEY_LEN);
	p += 3 + RSS_KEY_LEN;
	return ctrl_command(n, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, buf,
			    (size_t)(p - buf));
}

/* Enable every queue pair and choose who steers flows to them. */
static int configure_queue_pairs(struct virtio_net *n)
{
	if (n->nqp == 1) {
		n->steering = "single queue pair";
		return 0;
	}
	if (HAS(n, VIRTIO_NET_F_RSS)) {
		int err = configure_rss(n);
		if (!err) {
			n->steering = "device RSS (Toeplitz hash of IPv4 addresses and ports, "
				      "over the queue pairs in use)";
			n->rss_on = true;
			return 0;
		}
		printk("%s: RSS configuration refused (%d); automatic steering instead\n", n->name,
		       err);
	}
	uint8_t pairs[2];
	put16(pairs, (uint16_t)n->nqp);
	n->steering = "automatic (the backend steers each flow)";
	return ctrl_command(n, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, pairs,
			    sizeof(pairs));
}

/* §5.1.3.1: MQ and RSS need the control queue. */
static uint64_t wanted_features(struct virtio_net *n)
{
	uint64_t want = WANTED_FEATURES;
	if (!(virtio_pci_offered(&n->t) & (1ULL << VIRTIO_NET_F_CTRL_VQ)))
		want &= ~((1ULL << VIRTIO_NET_F_MQ) | (1ULL << VIRTIO_NET_F_RSS));
	return want;
}

/*
 * The whole initialisation sequence of §3.1.1, also used after a reset:
 * reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queues, DRIVER_OK.
 */
static int bring_up(struct virtio_net *n, bool park_owned)
{
	if (virtio_pci_reset(&n->t))
		return -EIO;
	virtio_pci_set_status(&n->t, VIRTIO_STATUS_ACKNOWLEDGE);
	virtio_pci_set_status(&n->t, VIRTIO_STATUS_DRIVER);
	int err = virtio_pci_negotiate(&n->t, wanted_features(n));
	if (err)
		goto failed;
	virtio_pci_config_vector(&n->t, CONFIG_MSIX_ENTRY);
	for (unsigned i = 0; i < n->nqp; i++) {
		struct vnet_qp *q = &n->qps[i];
		if (park_owned && q->owner) {
			/* Its owner may be writing to its rings right now: with
			 * RING_RESET they stay away from the device until the
			 * owner asks for them (virtio_net_resume, §2.6.1.2). */
			q->parked = true;
			q->disabled = HAS(n, VIRTIO_F_RING_RESET);
			if (q->disabled)
				continue;
		}
		err = setup_queue(n, &q->rx, q->msix_entry, QUEUE_SIZE_MAX);
		if (!err)
			err = setup_queue(n, &q->tx, q->msix_entry, QUEUE_SIZE_MAX);
		if (err)
			goto failed;
	}
	if (HAS(n, VIRTIO_NET_F_CTRL_VQ)) {
		/* polled, never interrupts (§4.1.5.1.3: no vector) */
		err = setup_queue(n, &n->ctrl, VIRTIO_MSI_NO_VECTOR, CTRL_QUEUE_SIZE);
		n->ctrl_avail = 0;
		if (!err && !n->ctrl_bell) {
			n->ctrl_bell = vm_map_mmio(n->ctrl.notify, sizeof(uint16_t));
			err = n->ctrl_bell ? 0 : -ENOMEM;
		}
		if (err)
			goto failed;
	}
	virtio_pci_set_status(&n->t, VIRTIO_STATUS_DRIVER_OK);
	err = configure_queue_pairs(n);
	if (err)
		goto failed;
	return 0;
failed:
	virtio_pci_set_status(&n->t, VIRTIO_STATUS_FAILED);
	return err;
}

static void qp_irq(struct trap_frame *tf, void *ctx)
{
	struct vnet_qp *q = ctx;
	(void)tf;
	q->interrupts++;
	vnet_notify_fn fn = __atomic_load_n(&q->notify, __ATOMIC_ACQUIRE);
	if (fn)
		fn(q->owner, q->qp, VNET_NOTE_IRQ, NULL);
}

/* ---- a device stopped by a queue owner ---- */

#define PAGE_OF(a) ((a) & ~(uint64_t)(PAGE_SIZE - 1))

/* Whether [addr, addr + len) is in q's pool as the device sees it. */
static bool in_pool(const struct vnet_qp *q, uint64_t addr, uint32_t len)
{
	uint64_t off = addr - q->pool_dma;
	return len && addr >= q->pool_dma && off < q->pool_bytes && len <= q->pool_bytes - off;
}

/*
 * Whether the owner of queue vq of pair q gave the device what made it
 * fail: a descriptor naming the faulting page (fault_page, if not 0), or
 * one it published and the device has not returned that is not a single
 * buffer inside its pool (§2.7.5: what an honest owner, usr/lib/vnet.c,
 * ever publishes). The rings are the owner's: read once, trusted for
 * nothing but this verdict.
 */
static bool queue_suspect(const struct vnet_qp *q, const struct virtio_queue *vq,
			  uint64_t fault_page)
{
	const volatile struct virtq_desc *desc = phys_to_virt(vq->mem + vq->desc_off);
	const volatile struct virtq_avail *avail = phys_to_virt(vq->mem + vq->avail_off);
	const volatile struct virtq_used *used = phys_to_virt(vq->mem + vq->used_off);
	for (unsigned i = 0; fault_page && i < vq->size; i++) {
		uint64_t addr = desc[i].addr;
		uint32_t len = desc[i].len;
		if (len && PAGE_OF(addr) <= fault_page && fault_page <= PAGE_OF(addr + len - 1))
			return true;
	}
	uint16_t from = used->idx, pending = (uint16_t)(avail->idx - from);
	if (pending > vq->size)
		return true; /* more published than the ring holds */
	for (uint16_t j = 0; j < pending; j++) {
		uint16_t id = avail->ring[(uint16_t)(from + j) % vq->size];
		if (id >= vq->size)
			return true;
		struct virtq_desc d = desc[id];
		if (d.flags & (VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_INDIRECT) ||
		    !in_pool(q, d.addr, d.len))
			return true;
	}
	return false;
}

struct vnet_tell {
	vnet_notify_fn fn;
	void *owner;
	unsigned qp;
	enum vnet_note note;
};

/*
 * The device hit a DMA fault (f, from the IOMMU) or stopped itself
 * (NEEDS_RESET, §2.1.2; QEMU does so on any descriptor it cannot map, for
 * every queue at once). The owners whose rings hold the cause are told to
 * go (VNET_NOTE_FAULT: the kernel kills them). A stopped device is reset
 * whole and brought up again; every other owner's pair is parked until it
 * re-attaches (VNET_NOTE_RESET), since its rings may be half written.
 * Runs in an interrupt (CPU 0); owners are told after the lock is dropped
 * (killing one releases its pairs, which takes the lock).
 */
static void recover(struct virtio_net *n, const struct iommu_fault *f, const char *after)
{
	struct vnet_tell tell[2 * VNET_MAX_QP];
	unsigned ntell = 0, offenders = 0;
	static char why[VNET_MAX_QP][112];

	unsigned long fl = spin_lock_irqsave(&n->lock);
	for (unsigned i = 0; i < n->nqp; i++) {
		struct vnet_qp *q = &n->qps[i];
		if (!q->owner || q->faulted || q->disabled)
			continue;
		uint64_t page = f ? PAGE_OF(f->iova) : 0;
		if (!queue_suspect(q, &q->rx, page) && !queue_suspect(q, &q->tx, page))
			continue;
		q->faulted = true;
		offenders++;
		if (f)
			fmt_snprintf(why[i], sizeof(why[i]),
				     "made %s %s I/O address %#lx, outside what it was given (%s)",
				     n->name, f->write ? "write to" : "read from", f->iova, f->why);
		else
			fmt_snprintf(why[i], sizeof(why[i]),
				     "gave %s a descriptor outside its pool, and %s", n->name,
				     after);
		tell[ntell++] = (struct vnet_tell){q->notify, q->owner, i, VNET_NOTE_FAULT};
	}
	bool stopped = virtio_pci_status(&n->t) & VIRTIO_STATUS_NEEDS_RESET;
	int err = 0;
	if (stopped) {
		n->resets++;
		err = bring_up(n, true);
		for (unsigned i = 0; i < n->nqp; i++) {
			struct vnet_qp *q = &n->qps[i];
			if (q->owner && !q->faulted)
				tell[ntell++] =
				    (struct vnet_tell){q->notify, q->owner, i, VNET_NOTE_RESET};
		}
	}
	spin_unlock_irqrestore(&n->lock, fl);
	if (stopped)
		printk("%s: the device stopped (NEEDS_RESET)%s; reset %s (%lu so far), %u "
		       "offender(s), %u other owner(s) told to re-attach\n",
		       n->name, f ? " after a DMA fault" : "", err ? "FAILED" : "and up again",
		       n->resets, offenders, ntell - offenders);
	for (unsigned i = 0; i < ntell; i++)
		if (tell[i].fn)
			tell[i].fn(tell[i].owner, tell[i].qp, tell[i].note,
				   tell[i].note == VNET_NOTE_FAULT ? why[tell[i].qp] : NULL);
}

static void config_irq(struct trap_frame *tf, void *ctx)
{
	struct virtio_net *n = ctx;
	(void)tf;
	n->config_irqs++;
	if (virtio_pci_status(&n->t) & VIRTIO_STATUS_NEEDS_RESET)
		recover(n, NULL, "the device stopped");
}

/* An interrupt message no device should send arrived (arch/x86_64/trap.c): an
 * owner may have aimed its NIC at the interrupt range. */
static void check_owners(void)
{
	for (unsigned i = 0; i < ndevs; i++)
		recover(&devs[i], NULL, "an interrupt message no device may send arrived");
}

/* The IOMMU refused one of the device's accesses (reported and counted there). */
static void dma_fault(void *ctx, const struct iommu_fault *f)
{
	struct virtio_net *n = ctx;
	n->dma_faults++;
	recover(n, f, NULL);
}

static int setup_interrupts(struct virtio_net *n)
{
	int v = irq_alloc_vector();
	if (v < 0)
		return v;
	irq_register((unsigned)v, config_irq, n);
	pci_msix_route(n->t.pci, CONFIG_MSIX_ENTRY, cpus[0].apic_id, (uint8_t)v);
	pci_msix_mask(n->t.pci, CONFIG_MSIX_ENTRY, false);
	for (unsigned i = 0; i < n->nqp; i++) {
		struct vnet_qp *q = &n->qps[i];
		q->vector = irq_alloc_vector();
		if (q->vector < 0)
			return -ENOSPC;
		irq_register((unsigned)q->vector, qp_irq, q);
		pci_msix_route(n->t.pci, q->msix_entry, cpus[0].apic_id, (uint8_t)q->vector);
	}
	return 0;
}

/*
 * How many queue pairs: the device's max_virtqueue_pairs (it exists with
 * MQ or RSS, §5.1.4; checked against the spec's range, a device is
 * untrusted), no more than we keep, and one MSI-X vector each besides the
 * configuration vector. Read before FEATURES_OK, as §3.1.1 allows.
 */
static void count_queue_pairs(struct virtio_net *n)
{
	uint64_t offered = virtio_pci_offered(&n->t);
	uint64_t multi = (1ULL << VIRTIO_NET_F_MQ) | (1ULL << VIRTIO_NET_F_RSS);
	n->max_qp = 1;
	if ((offered & multi) && (offered & (1ULL << VIRTIO_NET_F_CTRL_VQ))) {
		uint16_t m = virtio_pci_cfg_read16(&n->t, VIRTIO_NET_CFG_MAX_QP);
		if (m >= 1 && m <= 0x8000)
			n->max_qp = m;
	}
	n->nqp = MIN((unsigned)n->max_qp, VNET_MAX_QP);
	if (n->t.pci->msix_count < 2)
		n->nqp = 0;
	else if (n->nqp > n->t.pci->msix_count - 1u)
		n->nqp = n->t.pci->msix_count - 1u;
}

static void make_rss_key(struct virtio_net *n)
{
	for (unsigned i = 0; i < RSS_KEY_LEN; i += 8) {
		uint64_t r;
		if (!cpu_random64(&r))
			r = rdtsc() * 0x9e3779b97f4a7c15ULL;
		memcpy(n->rss_key + i, &r, MIN(8u, RSS_KEY_LEN - i));
	}
}

static int probe(struct virtio_net *n, struct pci_dev *d)
{
	int err = virtio_pci_find_caps(&n->t, d);
	if (err)
		return err;
	pci_enable(d);
	err = pci_msix_enable(d);
	if (err)
		return err;
	if (virtio_pci_reset(&n->t))
		return -EIO;
	virtio_pci_set_status(&n->t, VIRTIO_STATUS_ACKNOWLEDGE);
	virtio_pci_set_status(&n->t, VIRTIO_STATUS_DRIVER);
	count_queue_pairs(n);
	if (!n->nqp)
		return -ENOSPC; /* no MSI-X vector for a queue */
	for (unsigned i = 0; i < n->nqp; i++) {
		struct vnet_qp *q = &n->qps[i];
		q->dev = n;
		q->qp = i;
		q->rx.index = (uint16_t)(2 * i);
		q->tx.index = (uint16_t)(2 * i + 1);
		q->msix_entry = 1 + i;
	}
	n->ctrl.index = (uint16_t)(2 * n->max_qp); /* §5.1.2: after every pair */
	/* Only a device that takes its addresses from the platform's IOMMU
	 * (VIRTIO_F_ACCESS_PLATFORM, §6.1) can be confined by it. */
	if (virtio_pci_offered(&n->t) & (1ULL << VIRTIO_F_ACCESS_PLATFORM))
		n->dom = iommu_attach(d, n->name, dma_fault, n);
	n->ctrl_page = page_alloc_zeroed(CTRL_PAGES);
	if (!n->ctrl_page)
		return -ENOMEM;
	err = dma_map(n, IOVA_BASE + IOVA_CTRL_PAGES, n->ctrl_page, PAGE_SIZE, false, &n->ctrl_dma);
	if (!err)
		err = dma_map(n, IOVA_BASE + IOVA_CTRL_PAGES + PAGE_SIZE, n->ctrl_page + PAGE_SIZE,
			      PAGE_SIZE, true, &n->ctrl_ack_dma);
	if (err)
		return err;
	make_rss_key(n);
	err = setup_interrupts(n);
	if (err)
		return err;
	err = bring_up(n, false);
	if (err)
		return err;
	for (int i = 0; i < 6; i++)
		n->mac[i] = HAS(n, VIRTIO_NET_F_MAC)
				? virtio_pci_cfg_read8(&n->t, VIRTIO_NET_CFG_MAC + i)
				: 0;
	n->mtu = HAS(n, VIRTIO_NET_F_MTU) ? virtio_pci_cfg_read16(&n->t, VIRTIO_NET_CFG_MTU) : 1500;
	return 0;
}

void virtio_net_init(void)
{
	trap_set_injection_hook(check_owners);
	for (struct pci_dev *d = pci_find(VIRTIO_PCI_VENDOR, VIRTIO_PCI_DEVICE_NET, NULL);
	     d && ndevs < VNET_MAX_DEVICES;
	     d = pci_find(VIRTIO_PCI_VENDOR, VIRTIO_PCI_DEVICE_NET, d)) {
		struct virtio_net *n = &devs[ndevs];
		*n = (struct virtio_net){.lock = SPINLOCK_INIT};
		fmt_snprintf(n->name, sizeof(n->name), "eth%u", ndevs);
		int err = probe(n, d);
		if (err) {
			printk("%s: virtio-net %02x:%02x.%u unusable (error %d)\n", n->name, d->bus,
			       d->dev, d->fn, err);
			continue;
		}
		d->claimed = true;
		ndevs++;
		printk("%s: virtio-net mac %02x:%02x:%02x:%02x:%02x:%02x, %u queue pair(s) "
		       "of %u entries, features %#lx (offered %#lx), doorbell stride %u\n",
		       n->name, n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5],
		       n->nqp, n->qps[0].rx.size, n->t.features, n->t.offered, n->t.notify_mult);
		if (n->dom)
			printk("%s: DMA confined by the IOMMU: each queue pair's rings and pool at "
			       "I/O virtual addresses %#lx + %#lx per pair\n",
			       n->name, IOVA_WINDOW_OF(0), IOVA_WINDOW);
		else
			printk("%s: DMA unconfined: %s; a queue owner's descriptors reach all "
			       "memory\n",
			       n->name,
			       !iommu_enabled() ? "no IOMMU"
			       : !HAS(n, VIRTIO_F_ACCESS_PLATFORM)
				   ? "the device does not offer VIRTIO_F_ACCESS_PLATFORM, so "
				     "it bypasses the IOMMU"
				   : "no IOMMU unit translates for it");
		printk(
		    "%s: flows steered by %s; a released queue pair is %s\n", n->name, n->steering,
		    HAS(n, VIRTIO_F_RING_RESET) ? "reset alone (VIRTIO_F_RING_RESET)"
						: "reset with the device, once no pair is owned");
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
		     vnet_notify_fn notify, struct vnet_qp **out)
{
	struct virtio_net *n = find_dev(name);
	if (!n)
		return -ENODEV;
	if (qp >= n->nqp)
		return -EINVAL;
	struct vnet_qp *q = &n->qps[qp];
	unsigned long f = spin_lock_irqsave(&n->lock);
	if (q->owner || q->dirty) {
		spin_unlock_irqrestore(&n->lock, f);
		return -EBUSY; /* owned, or waiting for the device reset */
	}
	if (!q->pool) { /* kept for the queue pair's next owners */
		q->pool = page_alloc_aligned(POOL_BYTES / PAGE_SIZE, POOL_BYTES);
		if (!q->pool) {
			spin_unlock_irqrestore(&n->lock, f);
			return -ENOMEM;
		}
		q->pool_bytes = POOL_BYTES;
	}
	if (!q->pool_mapped) {
		int err = dma_map(n, IOVA_WINDOW_OF(qp) + IOVA_POOL, q->pool, q->pool_bytes, true,
				  &q->pool_dma);
		if (err) {
			spin_unlock_irqrestore(&n->lock, f);
			return err;
		}
		q->pool_mapped = true;
	}
	q->owner = owner;
	if (n->rss_on && configure_rss(n))
		printk("%s: cannot steer flows to queue pair %u\n", n->name, qp);
	spin_unlock_irqrestore(&n->lock, f);

	memset(phys_to_virt(q->pool), 0, q->pool_bytes); /* nothing of the last owner */
	__atomic_store_n(&q->notify, notify, __ATOMIC_RELEASE);
	pci_msix_route(n->t.pci, q->msix_entry, apic_id, (uint8_t)q->vector);
	pci_msix_mask(n->t.pci, q->msix_entry, false);
	*out = q;
	return 0;
}

/* §2.6.1: reset one queue, wait for the device to finish, set it up again. */
static int reset_queue(struct virtio_net *n, struct virtio_queue *q, unsigned msix)
{
	int err = virtio_pci_queue_reset(&n->t, q->index);
	return err ? err : setup_queue(n, q, msix, QUEUE_SIZE_MAX); /* wipes the rings */
}

bool virtio_net_is(const struct vnet_qp *q, const char *name, unsigned qp)
{
	return q->qp == qp && strcmp(q->dev->name, name) == 0;
}

int virtio_net_resume(struct vnet_qp *q, void *owner)
{
	struct virtio_net *n = q->dev;
	int err = 0;
	unsigned long f = spin_lock_irqsave(&n->lock);
	if (q->owner != owner || !q->parked || q->faulted) {
		spin_unlock_irqrestore(&n->lock, f);
		return -EBUSY;
	}
	if (q->disabled) {
		err = setup_queue(n, &q->rx, q->msix_entry, QUEUE_SIZE_MAX);
		if (!err)
			err = setup_queue(n, &q->tx, q->msix_entry, QUEUE_SIZE_MAX);
	}
	if (!err) {
		q->parked = q->disabled = false;
		if (n->rss_on && configure_rss(n))
			printk("%s: cannot steer flows to queue pair %u\n", n->name, q->qp);
	}
	spin_unlock_irqrestore(&n->lock, f);
	return err ? -EIO : 0;
}

/*
 * Once the device has forgotten a released pair, its pool leaves the
 * device's domain, and the IOTLB with it, before anyone reuses the memory
 * (the next owner gets it wiped and mapped again).
 */
static void forget_pool(struct virtio_net *n, struct vnet_qp *q)
{
	if (q->pool_mapped && n->dom)
		iommu_unmap(n->dom, q->pool_dma, q->pool_bytes);
	q->pool_mapped = false;
}

/*
 * The device may still hold descriptors of the old owner: it must forget
 * them before anyone reuses the queue pair. With VIRTIO_F_RING_RESET the
 * pair is reset alone; otherwise the whole device is, which would disturb
 * the other pairs' owners, so the pair waits (dirty) until none is owned.
 */
void virtio_net_release(struct vnet_qp *q)
{
	struct virtio_net *n = q->dev;
	pci_msix_mask(n->t.pci, q->msix_entry, true);
	__atomic_store_n(&q->notify, NULL, __ATOMIC_RELEASE);
	unsigned long f = spin_lock_irqsave(&n->lock);
	q->owner = NULL;
	q->dirty = true;
	q->parked = q->disabled = q->faulted = false;
	int err = 0;
	if (HAS(n, VIRTIO_F_RING_RESET)) {
		err = reset_queue(n, &q->rx, q->msix_entry);
		if (!err)
			err = reset_queue(n, &q->tx, q->msix_entry);
		q->dirty = err != 0;
		if (!q->dirty)
			forget_pool(n, q);
	}
	bool owned = false;
	for (unsigned i = 0; i < n->nqp; i++)
		owned |= n->qps[i].owner != NULL;
	if (q->dirty && !owned) {
		err = bring_up(n, false);
		for (unsigned i = 0; !err && i < n->nqp; i++) {
			n->qps[i].dirty = false;
			forget_pool(n, &n->qps[i]);
		}
	} else if (n->rss_on) {
		err = configure_rss(n); /* its flows go to the pairs still served */
	}
	spin_unlock_irqrestore(&n->lock, f);
	if (err)
		printk("%s: reset after queue pair %u was released failed (%d)\n", n->name, q->qp,
		       err);
}

/* Region indexes in the grant virtio_net_grant builds, in mapping order. */
enum { GR_RX_RING, GR_TX_RING, GR_RX_BELL, GR_TX_BELL, GR_POOL, GR_COUNT };

void virtio_net_grant(const struct vnet_qp *q, struct grant *g)
{
	g->n = 0;
	grant_add(g, GRANT_RING, "rx ring", q->rx.mem, q->rx.mem_bytes);
	grant_add(g, GRANT_RING, "tx ring", q->tx.mem, q->tx.mem_bytes);
	grant_add(g, GRANT_DOORBELL, "rx doorbell", q->rx.notify, sizeof(uint16_t));
	grant_add(g, GRANT_DOORBELL, "tx doorbell", q->tx.notify, sizeof(uint16_t));
	grant_add(g, GRANT_POOL, "pool", q->pool, q->pool_bytes);
	BUG_ON(g->n != GR_COUNT);
}

static struct mc_net_queue queue_layout(const struct virtio_queue *q, uint64_t ring, uint64_t bell)
{
	return (struct mc_net_queue){.desc = ring + q->desc_off,
				     .avail = ring + q->avail_off,
				     .used = ring + q->used_off,
				     .notify = bell,
				     .size = q->size,
				     .index = q->index};
}

void virtio_net_layout(const struct vnet_qp *q, const struct grant *g, struct mc_net_layout *l)
{
	const struct virtio_net *n = q->dev;
	memset(l, 0, sizeof(*l));
	l->version = MC_NET_LAYOUT_VERSION;
	l->qp = q->qp;
	l->rx = queue_layout(&q->rx, g->r[GR_RX_RING].uaddr, g->r[GR_RX_BELL].uaddr);
	l->tx = queue_layout(&q->tx, g->r[GR_TX_RING].uaddr, g->r[GR_TX_BELL].uaddr);
	l->pool = g->r[GR_POOL].uaddr;
	l->pool_size = q->pool_bytes;
	l->pool_dma = q->pool_dma; /* an I/O virtual address behind an IOMMU */
	l->features = n->t.features;
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
	info->link_up =
	    !(n->t.features & (1ULL << VIRTIO_NET_F_STATUS)) ||
	    (virtio_pci_cfg_read16(&n->t, VIRTIO_NET_CFG_STATUS) & VIRTIO_NET_S_LINK_UP);
	info->queue_pairs = (uint16_t)n->nqp;
	info->mtu = n->mtu;
	info->features = n->t.features;
	return 0;
}
