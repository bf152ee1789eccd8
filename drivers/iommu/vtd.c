/*
 * Intel VT-d DMA remapping (VT-d 4.1), legacy translation mode: a root
 * table per unit, a context table per bus, and per attached PCI function
 * a domain of its own with second-level page tables. Translation starts
 * with no context entry present, so a device reaches nothing until its
 * driver attaches it and maps what it may touch. Faults are read from the
 * fault recording registers in the fault-event interrupt, reported once
 * per burst, counted, and handed to the domain's driver.
 *
 * Interrupt remapping too (ch. 5): a DMA write to 0xfee00000-0xfeefffff is
 * not translated but taken as an interrupt message, so without it a device
 * could be made to send any vector to any CPU (a queue owner's RX buffer
 * aimed there would do). With it, only remappable messages whose entry in
 * the interrupt remapping table is present and names that very device
 * (source-id check) get through, with the vector and CPU the kernel wrote
 * there; compatibility-format messages are blocked. Its entry cache can be
 * invalidated only through the invalidation queue, so a unit that remaps
 * interrupts does all its invalidations by queue (§6.5.2).
 */
#include <arch/acpi.h>
#include <arch/cpu.h>
#include <arch/percpu.h>
#include <arch/trap.h>
#include <drivers/iommu.h>
#include <drivers/pci.h>
#include <kernel/printk.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <lib/string.h>
#include <mm/page.h>
#include <mm/phys.h>
#include <mm/tlb.h>
#include <mm/vm.h>
#include <uapi/errno.h>

/* Register offsets (§11.4) */
#define VTD_VER	    0x000
#define VTD_CAP	    0x008
#define VTD_ECAP    0x010
#define VTD_GCMD    0x018
#define VTD_GSTS    0x01c
#define VTD_RTADDR  0x020
#define VTD_CCMD    0x028
#define VTD_FSTS    0x034
#define VTD_FECTL   0x038
#define VTD_FEDATA  0x03c
#define VTD_FEADDR  0x040
#define VTD_FEUADDR 0x044
#define VTD_PMEN    0x064
#define VTD_IQH	    0x080
#define VTD_IQT	    0x088
#define VTD_IQA	    0x090
#define VTD_IRTA    0x0b8
/* at ECAP.IRO * 16: the IOTLB invalidation registers (§11.4.8) */
#define VTD_IVA	  0x0
#define VTD_IOTLB 0x8

/* CAP_REG (§11.4.2) */
#define CAP_ND(c)    ((c)&7)	 /* 2^(4 + 2 ND) domain ids */
#define CAP_RWBF     (1ULL << 4) /* write buffers must be flushed */
#define CAP_PLMR     (1ULL << 5)
#define CAP_PHMR     (1ULL << 6)
#define CAP_CM	     (1ULL << 7)		/* caching mode: not-present entries cached */
#define CAP_SAGAW(c) (((c) >> 8) & 0x1f)	/* bit 1: 39-bit 3-level, bit 2: 48-bit 4-level */
#define CAP_MGAW(c)  ((((c) >> 16) & 0x3f) + 1) /* widest guest address */
#define CAP_FRO(c)   ((((c) >> 24) & 0x3ff) * 16)
#define CAP_NFR(c)   ((((c) >> 40) & 0xff) + 1)
#define CAP_SLLPS_2M (1ULL << 34) /* second-level 2 MiB pages */
#define CAP_DWD	     (1ULL << 54)
#define CAP_DRD	     (1ULL << 55)
#define SAGAW_39     (1u << 1)
#define SAGAW_48     (1u << 2)

/* ECAP_REG (§11.4.3) */
#define ECAP_C	    (1ULL << 0) /* page walks snoop the CPU caches */
#define ECAP_QI	    (1ULL << 1) /* queued invalidation */
#define ECAP_IR	    (1ULL << 3) /* interrupt remapping */
#define ECAP_IRO(e) ((((e) >> 8) & 0x3ff) * 16)

/* GCMD_REG / GSTS_REG (§11.4.4): a command bit and its status bit share a position. */
#define GCMD_TE	   (1u << 31) /* translation enable */
#define GCMD_SRTP  (1u << 30) /* set root table pointer */
#define GCMD_WBF   (1u << 27) /* write buffer flush */
#define GCMD_QIE   (1u << 26) /* queued invalidation enable */
#define GCMD_IRE   (1u << 25) /* interrupt remapping enable */
#define GCMD_SIRTP (1u << 24) /* set interrupt remap table pointer */
/* Status bits that are one-shot commands: never written back (§11.4.4.1). */
#define GSTS_ONE_SHOT ((1u << 30) | (1u << 29) | (1u << 27) | (1u << 24))

/* CCMD_REG (§11.4.5.1) */
#define CCMD_ICC    (1ULL << 63)
#define CCMD_GLOBAL (1ULL << 61)

/* IOTLB_REG (§11.4.8.1) */
#define IOTLB_IVT    (1ULL << 63)
#define IOTLB_GLOBAL (1ULL << 60)
#define IOTLB_DOMAIN (2ULL << 60)
#define IOTLB_DR     (1ULL << 49)
#define IOTLB_DW     (1ULL << 48)
#define IOTLB_DID(d) ((uint64_t)(d) << 32)

/* FSTS_REG, FECTL_REG and a fault recording register (§11.4.9) */
#define FSTS_PFO       (1u << 0) /* primary fault overflow, write 1 to clear */
#define FSTS_PPF       (1u << 1) /* some fault recording register holds a fault */
#define FSTS_IQE       (1u << 4) /* invalidation queue error, write 1 to clear */
#define FSTS_FRI(s)    (((s) >> 8) & 0xff)
#define FECTL_IM       (1u << 31)
#define FRCD_HI_F      (1ULL << 63) /* of the high quadword: a fault is recorded */
#define FRCD_HI_T      (1ULL << 62) /* the request was a read */
#define FRCD_HI_FR(h)  (((h) >> 32) & 0xff)
#define FRCD_HI_SID(h) ((h)&0xffff)
#define FRCD_LO_FI(l)  ((l) & ~0xfffULL)
#define MSI_ADDR_BASE  0xfee00000u /* SDM vol. 3, 10.11.1 */
#define MSI_DEST_SHIFT 12

#define PMEN_EPM (1u << 31)
#define PMEN_PRS (1u << 0)

/* Root and context entries (§9.1, §9.3), 128 bits each, 256 per table. */
#define ENTRY_P	       1ULL
#define CTX_TT_UNTRANS (0ULL << 2)		/* untranslated requests through second level */
#define CTX_AW(levels) ((uint64_t)((levels)-2)) /* 1: 39-bit 3-level, 2: 48-bit 4-level */
#define CTX_DID(did)   ((uint64_t)(did) << 8)
#define TABLE_ENTRIES  256

/* Invalidation queue descriptors (§6.5.2), 128 bits, 256 in one page. */
#define IQ_ENTRIES	 256
#define INV_CC		 0x1 /* context cache */
#define INV_IOTLB	 0x2
#define INV_IEC		 0x4 /* interrupt entry cache */
#define INV_WAIT	 0x5
#define INV_G_GLOBAL	 (1ULL << 4) /* context cache, IOTLB: global */
#define INV_G_DOMAIN	 (2ULL << 4) /* ... domain-selective */
#define INV_IOTLB_DW	 (1ULL << 6)
#define INV_IOTLB_DR	 (1ULL << 7)
#define INV_DID(d)	 ((uint64_t)(d) << 16)
#define INV_IEC_INDEX	 (1ULL << 4) /* IEC: index-selective */
#define INV_IEC_IIDX(i)	 ((uint64_t)(i) << 32)
#define INV_WAIT_SW	 (1ULL << 5) /* write status data when done */
#define INV_WAIT_FN	 (1ULL << 6) /* fence: after every earlier descriptor */
#define INV_WAIT_DATA(v) ((uint64_t)(v) << 32)

/* Interrupt remapping table entries (§9.10), xAPIC destinations. */
#define IRT_ENTRIES    256
#define IRTA_SIZE      7 /* 2^(7+1) = 256 entries */
#define IRTE_P	       (1ULL << 0)
#define IRTE_VECTOR(v) ((uint64_t)(v) << 16)
#define IRTE_DST(apic) ((uint64_t)((apic)&0xff) << 40) /* xAPIC: DST[15:8] */
#define IRTE_SVT_SID   (1ULL << 18)		       /* high quadword: verify the source id */
#define MSI_REMAPPABLE (1u << 4) /* address bit 4: remappable format (§5.1.5.2) */
#define MSI_HANDLE(h)  (((uint32_t)(h)&0x7fff) << 5 | ((uint32_t)(h) >> 15 & 1) << 2)

/* Second-level paging entries (§9.8): R, W, address. */
#define SL_R	     (1ULL << 0)
#define SL_W	     (1ULL << 1)
#define SL_PS	     (1ULL << 7) /* at level 2: a 2 MiB page */
#define SL_LARGE     (1UL << 21)
#define SL_ADDR_MASK 0x000ffffffffff000ULL
#define SL_ENTRIES   512
#define SL_SHIFT     12
#define SL_BITS	     9

#define VTD_MAX_UNITS	ACPI_DMAR_MAX_UNITS
#define VTD_MAX_DOMAINS 32
#define VTD_SPINS	10000000
#define BURST_GAP_NS	NSEC_PER_SEC /* faults closer than this form one burst */
#define FAULTS_PER_IRQ	64	     /* records drained per interrupt at most */

struct vtd_unit {
	const struct acpi_dmar_unit *acpi;
	volatile uint8_t *regs;
	uint64_t cap, ecap;
	unsigned levels;     /* of the second-level tables: 3 or 4 */
	uint64_t iova_limit; /* first address beyond the domains' width */
	uint16_t next_did, max_did;
	uint64_t *root;	      /* 256 root entries (two quadwords each) */
	struct spinlock lock; /* root and context tables, command registers */
	struct spinlock fault_lock;
	uint64_t faults;
	uint64_t overflows;
	/* the invalidation queue (under lock), when used */
	uint64_t *iq;
	unsigned iq_tail;
	volatile uint32_t *iq_status; /* where wait descriptors write */
	uint32_t iq_seq;
	/* interrupt remapping (under lock): irte_sid[i], irte_entry[i] own entry i */
	uint64_t *irt;
	unsigned nirte;
	uint16_t irte_sid[IRT_ENTRIES];
	uint16_t irte_entry[IRT_ENTRIES];
};

struct iommu_domain {
	struct vtd_unit *unit;
	uint16_t did;
	uint16_t sid; /* requester id: bus << 8 | dev << 3 | fn */
	const char *name;
	uint64_t *top;	      /* top-level second-level table */
	struct spinlock lock; /* its page tables */
	iommu_fault_fn fault;
	void *ctx;
	uint64_t faults;	/* written only in the fault interrupt (CPU 0) */
	uint64_t last_fault_ns; /* same */
};

static struct vtd_unit units[VTD_MAX_UNITS];
static unsigned nunits;
static struct iommu_domain domains[VTD_MAX_DOMAINS];
static unsigned ndomains;
static struct spinlock domains_lock = SPINLOCK_INIT;
static bool enabled;
static const struct acpi_dmar *boot_dmar; /* lives as long as the kernel (boot_acpi) */

static uint32_t rd32(struct vtd_unit *u, unsigned off)
{
	return mmio_read32(u->regs + off);
}

static uint64_t rd64(struct vtd_unit *u, unsigned off)
{
	return mmio_read64(u->regs + off);
}

static void wr32(struct vtd_unit *u, unsigned off, uint32_t v)
{
	mmio_write32(u->regs + off, v);
}

static void wr64(struct vtd_unit *u, unsigned off, uint64_t v)
{
	mmio_write64(u->regs + off, v);
}

/* Make table writes visible to a unit that does not snoop the caches (ECAP.C). */
static void sync_table(struct vtd_unit *u, const void *p, size_t len)
{
	if (!(u->ecap & ECAP_C))
		cpu_cache_flush(p, len);
}

/*
 * Spin until (reg & mask) == want. The kernel runs with interrupts off, so
 * a CPU whose TLB shootdown waits for this one is answered meanwhile.
 */
static int wait32(struct vtd_unit *u, unsigned off, uint32_t mask, uint32_t want)
{
	for (long i = 0; i < VTD_SPINS; i++) {
		if ((rd32(u, off) & mask) == want)
			return 0;
		tlb_service();
		cpu_relax();
	}
	return -ETIMEDOUT;
}

static int wait64_clear(struct vtd_unit *u, unsigned off, uint64_t bit)
{
	for (long i = 0; i < VTD_SPINS; i++) {
		if (!(rd64(u, off) & bit))
			return 0;
		tlb_service();
		cpu_relax();
	}
	return -ETIMEDOUT;
}

/* A global command (§11.4.4.1): keep the persistent bits, set one, wait for its status. */
static int gcmd(struct vtd_unit *u, uint32_t bit, bool on)
{
	uint32_t sts = rd32(u, VTD_GSTS) & ~GSTS_ONE_SHOT;
	wr32(u, VTD_GCMD, on ? sts | bit : sts & ~bit);
	return wait32(u, VTD_GSTS, bit, on ? bit : 0);
}

static void flush_write_buffer(struct vtd_unit *u)
{
	if (!(u->cap & CAP_RWBF))
		return;
	uint32_t sts = rd32(u, VTD_GSTS) & ~GSTS_ONE_SHOT;
	wr32(u, VTD_GCMD, sts | GCMD_WBF);
	wait32(u, VTD_GSTS, GCMD_WBF, 0); /* WBFS clears when done */
}

/*
 * Queue one invalidation descriptor and a wait descriptor behind it, and
 * spin until the unit has written the wait's status: every invalidation
 * queued before it is done (§6.5.2.8). u->lock held.
 */
static int qi_run(struct vtd_unit *u, uint64_t lo, uint64_t hi)
{
	uint32_t seq = ++u->iq_seq;
	uint64_t *d = &u->iq[2 * u->iq_tail];
	*u->iq_status = 0;
	d[0] = lo;
	d[1] = hi;
	d[2] = INV_WAIT | INV_WAIT_SW | INV_WAIT_FN | INV_WAIT_DATA(seq);
	d[3] = virt_to_phys((const void *)u->iq_status);
	sync_table(u, d, 4 * sizeof(*d));
	u->iq_tail = (u->iq_tail + 2) % IQ_ENTRIES;
	wr64(u, VTD_IQT, (uint64_t)u->iq_tail << 4);
	for (long i = 0; i < VTD_SPINS; i++) {
		if (__atomic_load_n(u->iq_status, __ATOMIC_ACQUIRE) == seq)
			return 0;
		if (rd32(u, VTD_FSTS) & FSTS_IQE) {
			printk("iommu: the unit refused an invalidation descriptor (%#lx)\n", lo);
			wr32(u, VTD_FSTS, FSTS_IQE);
			return -EIO;
		}
		tlb_service();
		cpu_relax();
	}
	return -ETIMEDOUT;
}

static int invalidate_context_all(struct vtd_unit *u)
{
	flush_write_buffer(u);
	if (u->iq)
		return qi_run(u, INV_CC | INV_G_GLOBAL, 0);
	wr64(u, VTD_CCMD, CCMD_ICC | CCMD_GLOBAL);
	return wait64_clear(u, VTD_CCMD, CCMD_ICC);
}

/* Drop the unit's cached translations: of one domain, or (did 0) of all. */
static int invalidate_iotlb(struct vtd_unit *u, uint16_t did)
{
	bool dr = u->cap & CAP_DRD, dw = u->cap & CAP_DWD; /* drain what is in flight */
	flush_write_buffer(u);
	if (u->iq)
		return qi_run(u,
			      INV_IOTLB | (did ? INV_G_DOMAIN | INV_DID(did) : INV_G_GLOBAL) |
				  (dr ? INV_IOTLB_DR : 0) | (dw ? INV_IOTLB_DW : 0),
			      0);
	unsigned reg = ECAP_IRO(u->ecap) + VTD_IOTLB;
	uint64_t cmd = IOTLB_IVT | (did ? IOTLB_DOMAIN | IOTLB_DID(did) : IOTLB_GLOBAL) |
		       (dr ? IOTLB_DR : 0) | (dw ? IOTLB_DW : 0);
	wr64(u, reg, cmd);
	return wait64_clear(u, reg, IOTLB_IVT);
}

/* Drop the unit's cached interrupt remapping entries: one, or (index < 0) all. */
static int invalidate_iec(struct vtd_unit *u, int index)
{
	return qi_run(u, INV_IEC | (index >= 0 ? INV_IEC_INDEX | INV_IEC_IIDX(index) : 0), 0);
}

/* Invalidations by queue from now on (§6.5.2): IQT 0, the queue, QIE. */
static int start_queue(struct vtd_unit *u)
{
	paddr_t q = page_alloc_zeroed(1), st = page_alloc_zeroed(1);
	if (!q || !st)
		return -ENOMEM;
	u->iq = phys_to_virt(q);
	u->iq_status = phys_to_virt(st);
	u->iq_tail = 0;
	wr64(u, VTD_IQT, 0);
	wr64(u, VTD_IQA, q); /* 128-bit descriptors, one page (QS 0) */
	return gcmd(u, GCMD_QIE, true);
}

/* An empty remapping table, then remapping on; compatibility format stays blocked. */
static int start_remapping(struct vtd_unit *u)
{
	paddr_t t = page_alloc_zeroed(1);
	if (!t)
		return -ENOMEM;
	u->irt = phys_to_virt(t);
	sync_table(u, u->irt, PAGE_SIZE);
	wr64(u, VTD_IRTA, t | IRTA_SIZE); /* xAPIC destinations (EIME 0) */
	int err = gcmd(u, GCMD_SIRTP, true);
	if (!err)
		err = invalidate_iec(u, -1);
	if (!err)
		err = gcmd(u, GCMD_IRE, true);
	return err;
}

static const char *const reasons[] = {
    [0x1] = "root entry not present",
    [0x2] = "context entry not present (device not attached)",
    [0x3] = "context entry invalid",
    [0x4] = "address beyond the domain's width",
    [0x5] = "write to a page not mapped writable",
    [0x6] = "read of a page not mapped readable",
    [0x7] = "paging structure unreadable",
    [0x8] = "root table unreadable",
    [0x9] = "context table unreadable",
    [0xa] = "root entry reserved bits",
    [0xb] = "context entry reserved bits",
    [0xc] = "paging entry reserved bits",
};

static const char *reason_text(uint8_t r)
{
	return r < ARRAY_SIZE(reasons) && reasons[r] ? reasons[r] : "unknown reason";
}

static struct iommu_domain *domain_of(struct vtd_unit *u, uint16_t sid)
{
	for (unsigned i = 0; i < ndomains; i++)
		if (domains[i].unit == u && domains[i].sid == sid)
			return &domains[i];
	return NULL;
}

/* One recorded fault: report it if it opens a burst, count it, tell the driver. */
static void handle_fault(struct vtd_unit *u, uint64_t lo, uint64_t hi)
{
	uint16_t sid = FRCD_HI_SID(hi);
	struct iommu_fault f = {
	    .iova = FRCD_LO_FI(lo), .write = !(hi & FRCD_HI_T), .reason = (uint8_t)FRCD_HI_FR(hi)};
	f.why = reason_text(f.reason);
	struct iommu_domain *dom = domain_of(u, sid);
	uint64_t now = time_ns();
	u->faults++;
	if (dom) {
		dom->faults++;
		bool new_burst = !dom->last_fault_ns || now - dom->last_fault_ns > BURST_GAP_NS;
		dom->last_fault_ns = now;
		if (new_burst)
			printk("iommu: DMA fault: %02x:%02x.%u (%s) %s at I/O address %#lx: %s "
			       "(reason %#x; %lu fault(s) from it so far; more in this burst are "
			       "counted, not printed)\n",
			       sid >> 8, (sid >> 3) & 0x1f, sid & 7, dom->name,
			       f.write ? "write" : "read", f.iova, f.why, f.reason, dom->faults);
		if (dom->fault)
			dom->fault(dom->ctx, &f);
	} else if (u->faults == 1 || !(u->faults & (u->faults - 1))) {
		/* no domain: a device nobody attached; report at powers of two */
		printk("iommu: DMA fault: %02x:%02x.%u (no domain) %s at I/O address %#lx: %s "
		       "(reason %#x; fault %lu of this unit)\n",
		       sid >> 8, (sid >> 3) & 0x1f, sid & 7, f.write ? "write" : "read", f.iova,
		       f.why, f.reason, u->faults);
	}
}

/* Drain the fault recording registers from FSTS.FRI on (§7.2.1). */
static void drain_faults(struct vtd_unit *u)
{
	unsigned base = CAP_FRO(u->cap), nfr = CAP_NFR(u->cap);
	uint64_t rec[FAULTS_PER_IRQ][2];
	unsigned n = 0;

	unsigned long f = spin_lock_irqsave(&u->fault_lock);
	uint32_t sts = rd32(u, VTD_FSTS);
	unsigned i = FSTS_FRI(sts) % nfr;
	for (unsigned k = 0; k < nfr && n < FAULTS_PER_IRQ; k++, i = (i + 1) % nfr) {
		unsigned off = base + 16 * i;
		uint64_t hi = rd64(u, off + 8);
		if (!(hi & FRCD_HI_F))
			continue;
		rec[n][0] = rd64(u, off);
		rec[n][1] = hi;
		n++;
		wr32(u, off + 12, (uint32_t)(FRCD_HI_F >> 32)); /* write 1 to clear F */
	}
	if (sts & FSTS_PFO) {
		u->overflows++; /* faults the unit could not record: counted */
		wr32(u, VTD_FSTS, FSTS_PFO);
	}
	spin_unlock_irqrestore(&u->fault_lock, f);
	for (unsigned k = 0; k < n; k++)
		handle_fault(u, rec[k][0], rec[k][1]);
}

static void fault_irq(struct trap_frame *tf, void *ctx)
{
	(void)tf;
	drain_faults(ctx);
}

/* Route the unit's fault events to CPU 0 (§11.4.9.2-5). */
static int setup_fault_irq(struct vtd_unit *u)
{
	int v = irq_alloc_vector();
	if (v < 0)
		return v;
	irq_register((unsigned)v, fault_irq, u);
	wr32(u, VTD_FEDATA, (uint32_t)v);
	wr32(u, VTD_FEADDR, MSI_ADDR_BASE | cpus[0].apic_id << MSI_DEST_SHIFT);
	wr32(u, VTD_FEUADDR, 0);
	wr32(u, VTD_FECTL, 0); /* unmask */
	return 0;
}

/* Map the registers, check the unit can do what we need, and turn it on. */
static int unit_init(struct vtd_unit *u, const struct acpi_dmar_unit *a, const char **why)
{
	size_t span = PAGE_SIZE << a->size;
	u->acpi = a;
	u->lock = (struct spinlock)SPINLOCK_INIT;
	u->fault_lock = (struct spinlock)SPINLOCK_INIT;
	u->regs = vm_map_mmio(a->base, span);
	if (!u->regs)
		return *why = "no room to map its registers", -ENOMEM;
	u->cap = rd64(u, VTD_CAP);
	u->ecap = rd64(u, VTD_ECAP);
	unsigned sagaw = CAP_SAGAW(u->cap);
	if (sagaw & SAGAW_39)
		u->levels = 3;
	else if (sagaw & SAGAW_48)
		u->levels = 4;
	else
		return *why = "no 3- or 4-level second-level tables (SAGAW)", -ENOTSUP;
	unsigned width = SL_SHIFT + SL_BITS * u->levels;
	u->iova_limit = 1ULL << MIN(width, CAP_MGAW(u->cap));
	if (CAP_FRO(u->cap) + 16 * CAP_NFR(u->cap) > span || ECAP_IRO(u->ecap) + 16 > span)
		return *why = "registers beyond the range the DMAR gives", -EINVAL;
	u->max_did = (uint16_t)MIN(1u << (4 + 2 * CAP_ND(u->cap)), 0xffffu);
	u->next_did = 1; /* 0 is reserved with caching mode (§9.3) */
	paddr_t root = page_alloc_zeroed(1);
	if (!root)
		return *why = "no memory for its root table", -ENOMEM;
	u->root = phys_to_virt(root);
	sync_table(u, u->root, PAGE_SIZE);
	if (rd32(u, VTD_GSTS) & GCMD_TE)
		printk("iommu: unit at %#lx was translating already; taking it over\n", a->base);
	wr64(u, VTD_RTADDR, root); /* legacy mode: TTM 0 */
	if (gcmd(u, GCMD_SRTP, true))
		return *why = "root table pointer not taken", -EIO;
	bool remap = (u->ecap & ECAP_IR) && (u->ecap & ECAP_QI);
	if (remap && start_queue(u))
		return *why = "invalidation queue did not start", -EIO;
	if (invalidate_context_all(u) || invalidate_iotlb(u, 0))
		return *why = "invalidation did not complete", -EIO;
	if (remap && start_remapping(u))
		return *why = "interrupt remapping did not turn on", -EIO;
	int err = setup_fault_irq(u);
	if (err)
		return *why = "no interrupt vector for its faults", err;
	if (gcmd(u, GCMD_TE, true))
		return *why = "translation did not turn on", -EIO;
	/* Protected memory regions are a coarser, older confinement: off. */
	if ((u->cap & (CAP_PLMR | CAP_PHMR)) && (rd32(u, VTD_PMEN) & PMEN_PRS)) {
		wr32(u, VTD_PMEN, 0);
		wait32(u, VTD_PMEN, PMEN_PRS, 0);
	}
	return 0;
}

void iommu_init(const struct acpi_info *acpi)
{
	if (!(acpi->found & ACPI_FOUND_DMAR)) {
		printk("iommu: %s%s: bypass DMA is unconfined (a queue owner's NIC can reach "
		       "all memory)\n",
		       acpi->dmar_why ? "DMAR unusable: " : "no DMA remapping unit (no DMAR table)",
		       acpi->dmar_why ? acpi->dmar_why : "");
		return;
	}
	const struct acpi_dmar *d = &acpi->dmar;
	boot_dmar = d;
	for (uint32_t i = 0; i < d->unit_count && nunits < VTD_MAX_UNITS; i++) {
		const struct acpi_dmar_unit *a = &d->units[i];
		struct vtd_unit *u = &units[nunits];
		const char *why = NULL;
		if (a->segment != 0) {
			printk("iommu: unit at %#lx serves PCI segment %u, which we do not "
			       "enumerate: left off\n",
			       a->base, a->segment);
			continue;
		}
		int err = unit_init(u, a, &why);
		if (err) {
			printk("iommu: unit at %#lx unusable: %s (%d)\n", a->base, why, err);
			continue;
		}
		nunits++;
		printk("iommu: VT-d %u.%u unit at %#lx%s (%u device scope(s)): %u-level tables "
		       "(%u-bit I/O addresses), "
		       "%u domain ids, %lu fault register(s)%s%s; translation on, %s\n",
		       rd32(u, VTD_VER) >> 4 & 0xf, rd32(u, VTD_VER) & 0xf, a->base,
		       a->include_all ? " for every PCI device" : "", a->scope_count, u->levels,
		       SL_SHIFT + SL_BITS * u->levels, u->max_did, CAP_NFR(u->cap),
		       u->cap & CAP_CM ? ", caching mode" : "",
		       u->ecap & ECAP_C ? "" : ", tables flushed from caches",
		       u->irt ? "interrupt remapping on"
			      : "NO interrupt remapping (a device can raise any interrupt by DMA)");
	}
	enabled = nunits > 0;
	if (!enabled)
		printk("iommu: no usable remapping unit: bypass DMA is unconfined\n");
	else if (d->rmrr_count)
		printk("iommu: %u reserved memory range(s) stay reachable by their devices\n",
		       d->rmrr_count);
}

bool iommu_enabled(void)
{
	return enabled;
}

/* ---- which unit translates for a device (§8.3.1) ---- */

/* Follow a scope's path from its start bus over bridges: the function it names. */
static struct pci_dev *scope_target(const struct acpi_dmar_scope *s)
{
	if (!s->path_len)
		return NULL; /* deeper than we keep: unusable */
	unsigned bus = s->start_bus;
	for (unsigned i = 0;; i++) {
		struct pci_dev *p = pci_get((uint8_t)bus, s->path[i].dev, s->path[i].fn);
		if (!p || i + 1 == s->path_len)
			return p;
		bus = pci_read8(p, PCI_SECONDARY_BUS);
	}
}

static bool scope_covers(const struct acpi_dmar_scope *s, const struct pci_dev *d)
{
	struct pci_dev *t = scope_target(s);
	if (!t)
		return false;
	if (s->type == ACPI_DMAR_SCOPE_ENDPOINT)
		return t == d;
	if (s->type == ACPI_DMAR_SCOPE_BRIDGE)
		return d->bus >= pci_read8(t, PCI_SECONDARY_BUS) &&
		       d->bus <= pci_read8(t, PCI_SUBORDINATE_BUS);
	return false;
}

/* The unit listing d in its scope, else the segment's INCLUDE_PCI_ALL unit. */
static struct vtd_unit *unit_for(const struct pci_dev *d)
{
	struct vtd_unit *all = NULL;
	for (unsigned i = 0; i < nunits; i++) {
		const struct acpi_dmar_unit *a = units[i].acpi;
		if (a->segment != d->segment)
			continue;
		for (uint32_t j = 0; j < a->scope_count; j++)
			if (scope_covers(&a->scopes[j], d))
				return &units[i];
		if (a->include_all)
			all = &units[i];
	}
	return all;
}

/* ---- second-level page tables (§9.8) ---- */

static unsigned sl_index(uint64_t iova, unsigned level)
{
	return (iova >> (SL_SHIFT + SL_BITS * (level - 1))) & (SL_ENTRIES - 1);
}

/*
 * The entry for iova at `level` (1: a 4 KiB page, 2: a 2 MiB page),
 * creating the tables above it when asked. NULL: no table (not creating),
 * no memory, or a 2 MiB page already covers iova above that level.
 */
static uint64_t *sl_entry(struct iommu_domain *dom, uint64_t iova, unsigned level, bool create)
{
	struct vtd_unit *u = dom->unit;
	uint64_t *t = dom->top;
	for (unsigned l = u->levels; l > level; l--) {
		uint64_t *e = &t[sl_index(iova, l)];
		if (*e & SL_PS)
			return NULL;
		if (!(*e & (SL_R | SL_W))) {
			if (!create)
				return NULL;
			paddr_t pa = page_alloc_zeroed(1);
			if (!pa)
				return NULL;
			sync_table(u, phys_to_virt(pa), PAGE_SIZE);
			*e = pa | SL_R | SL_W; /* rights are those of the leaf */
			sync_table(u, e, sizeof(*e));
		}
		t = phys_to_virt(*e & SL_ADDR_MASK);
	}
	return &t[sl_index(iova, level)];
}

/* 2 MiB at a time where both addresses and the rest allow it and the unit can. */
static size_t chunk_at(const struct vtd_unit *u, uint64_t iova, paddr_t pa, size_t left)
{
	bool large = (u->cap & CAP_SLLPS_2M) && !((iova | pa) & (SL_LARGE - 1)) && left >= SL_LARGE;
	return large ? SL_LARGE : PAGE_SIZE;
}

/* Clear the leaves of [iova, iova + len) (dom->lock held); no IOTLB work. */
static void clear_range(struct iommu_domain *dom, uint64_t iova, size_t len)
{
	for (size_t off = 0; off < len;) {
		uint64_t *e = sl_entry(dom, iova + off, 2, false);
		if (e && (*e & SL_PS) && !((iova + off) & (SL_LARGE - 1)) &&
		    len - off >= SL_LARGE) {
			*e = 0;
			sync_table(dom->unit, e, sizeof(*e));
			off += SL_LARGE;
			continue;
		}
		e = sl_entry(dom, iova + off, 1, false);
		if (e && *e) {
			*e = 0;
			sync_table(dom->unit, e, sizeof(*e));
		}
		off += PAGE_SIZE;
	}
}

int iommu_map(struct iommu_domain *dom, uint64_t iova, paddr_t pa, size_t len, unsigned rights)
{
	struct vtd_unit *u = dom->unit;
	if (!len || (iova | pa | len) & (PAGE_SIZE - 1) || !(rights & (IOMMU_READ | IOMMU_WRITE)))
		return -EINVAL;
	if (iova + len < iova || iova + len > u->iova_limit)
		return -EINVAL;
	uint64_t flags = (rights & IOMMU_READ ? SL_R : 0) | (rights & IOMMU_WRITE ? SL_W : 0);
	int err = 0;
	unsigned long f = spin_lock_irqsave(&dom->lock);
	size_t off;
	for (off = 0; off < len;) {
		size_t n = chunk_at(u, iova + off, pa + off, len - off);
		uint64_t *e = sl_entry(dom, iova + off, n == SL_LARGE ? 2 : 1, true);
		if (!e || *e) {
			err = e ? -EEXIST : -ENOMEM;
			break;
		}
		*e = (pa + off) | flags | (n == SL_LARGE ? SL_PS : 0);
		sync_table(u, e, sizeof(*e));
		off += n;
	}
	if (err) /* nothing half done: this call's pages go again */
		clear_range(dom, iova, off);
	spin_unlock_irqrestore(&dom->lock, f);
	/* With caching mode the unit may cache not-present entries (§6.1). */
	if (u->cap & CAP_CM) {
		unsigned long g = spin_lock_irqsave(&u->lock);
		invalidate_iotlb(u, dom->did);
		spin_unlock_irqrestore(&u->lock, g);
	}
	return err;
}

void iommu_unmap(struct iommu_domain *dom, uint64_t iova, size_t len)
{
	struct vtd_unit *u = dom->unit;
	unsigned long f = spin_lock_irqsave(&dom->lock);
	clear_range(dom, iova, len);
	spin_unlock_irqrestore(&dom->lock, f);
	/* The pages may be reused once this returns: the unit must have
	 * dropped every cached translation of them (§6.5). */
	f = spin_lock_irqsave(&u->lock);
	if (invalidate_iotlb(u, dom->did))
		panic("iommu: IOTLB invalidation did not complete; DMA may reach freed memory");
	spin_unlock_irqrestore(&u->lock, f);
}

uint64_t iommu_fault_count(const struct iommu_domain *dom)
{
	return __atomic_load_n(&dom->faults, __ATOMIC_RELAXED);
}

/* ---- interrupt remapping (§5.1, §9.10) ---- */

/* The entry of (sid, msix entry) in u's table, allocated the first time. */
static int irte_index(struct vtd_unit *u, uint16_t sid, unsigned entry)
{
	for (unsigned i = 0; i < u->nirte; i++)
		if (u->irte_sid[i] == sid && u->irte_entry[i] == entry)
			return (int)i;
	if (u->nirte == IRT_ENTRIES)
		return -ENOSPC;
	u->irte_sid[u->nirte] = sid;
	u->irte_entry[u->nirte] = (uint16_t)entry;
	return (int)u->nirte++;
}

int iommu_msi_message(struct pci_dev *d, unsigned entry, uint32_t apic_id, uint8_t vector,
		      uint32_t *addr, uint32_t *data)
{
	struct vtd_unit *u = enabled ? unit_for(d) : NULL;
	if (!u || !u->irt) {
		/* compatibility format (SDM vol. 3, 10.11.1-2): fixed, physical, edge */
		*addr = MSI_ADDR_BASE | (apic_id & 0xff) << MSI_DEST_SHIFT;
		*data = vector;
		return 0;
	}
	uint16_t sid = (uint16_t)(d->bus << 8 | d->dev << 3 | d->fn);
	unsigned long f = spin_lock_irqsave(&u->lock);
	int i = irte_index(u, sid, entry);
	int err = i < 0 ? i : 0;
	if (!err) {
		uint64_t *e = &u->irt[2 * i];
		/* Only this function may raise it (SVT 1, SQ 0: all 16 bits of
		 * its source id), with this vector, to this CPU. */
		e[1] = IRTE_SVT_SID | sid; /* the same for every message of the entry */
		__atomic_store_n(&e[0], IRTE_P | IRTE_VECTOR(vector) | IRTE_DST(apic_id),
				 __ATOMIC_RELEASE);
		sync_table(u, e, 2 * sizeof(*e));
		err = invalidate_iec(u, i);
	}
	spin_unlock_irqrestore(&u->lock, f);
	if (err)
		return err;
	*addr = MSI_ADDR_BASE | MSI_REMAPPABLE | MSI_HANDLE(i); /* SHV 0: data unused */
	*data = 0;
	return 0;
}

/* ---- attaching a function ---- */

/* Identity-map the reserved ranges the DMAR lists for d (§8.4). */
static int map_reserved(struct iommu_domain *dom, const struct pci_dev *d,
			const struct acpi_dmar *dmar)
{
	for (uint32_t i = 0; i < dmar->rmrr_count; i++) {
		const struct acpi_dmar_rmrr *m = &dmar->rmrrs[i];
		for (uint32_t j = 0; j < m->scope_count; j++) {
			if (m->segment != d->segment || !scope_covers(&m->scopes[j], d))
				continue;
			int err = iommu_map(dom, m->base, m->base, m->limit + 1 - m->base,
					    IOMMU_READ | IOMMU_WRITE);
			if (err && err != -EEXIST)
				return err;
		}
	}
	return 0;
}

/* Point d's context entry at dom (§9.3), the present bit written last. */
static int install_context(struct vtd_unit *u, struct iommu_domain *dom, const struct pci_dev *d)
{
	int err = 0;
	unsigned long f = spin_lock_irqsave(&u->lock);
	uint64_t *re = &u->root[2 * d->bus];
	if (!(re[0] & ENTRY_P)) {
		paddr_t ct = page_alloc_zeroed(1);
		if (!ct) {
			err = -ENOMEM;
			goto unlock;
		}
		sync_table(u, phys_to_virt(ct), PAGE_SIZE);
		re[1] = 0;
		__atomic_store_n(&re[0], ct | ENTRY_P, __ATOMIC_RELEASE);
		sync_table(u, re, 2 * sizeof(*re));
	}
	uint64_t *ce = (uint64_t *)phys_to_virt(re[0] & SL_ADDR_MASK) + 2 * (d->dev << 3 | d->fn);
	if (ce[0] & ENTRY_P) {
		err = -EBUSY; /* attached already */
		goto unlock;
	}
	ce[1] = CTX_AW(u->levels) | CTX_DID(dom->did);
	__atomic_store_n(&ce[0], virt_to_phys(dom->top) | CTX_TT_UNTRANS | ENTRY_P,
			 __ATOMIC_RELEASE);
	sync_table(u, ce, 2 * sizeof(*ce));
	/* Not-present entries may be cached (caching mode): invalidate, always
	 * (it is rare and cheap here). */
	err = invalidate_context_all(u);
	if (!err)
		err = invalidate_iotlb(u, 0);
unlock:
	spin_unlock_irqrestore(&u->lock, f);
	return err;
}

struct iommu_domain *iommu_attach(struct pci_dev *d, const char *name, iommu_fault_fn fault,
				  void *ctx)
{
	struct vtd_unit *u = enabled ? unit_for(d) : NULL;
	if (!u)
		return NULL;
	unsigned long f = spin_lock_irqsave(&domains_lock);
	if (ndomains == VTD_MAX_DOMAINS || u->next_did >= u->max_did) {
		spin_unlock_irqrestore(&domains_lock, f);
		printk("iommu: no domain left for %s\n", name);
		return NULL;
	}
	paddr_t top = page_alloc_zeroed(1);
	if (!top) {
		spin_unlock_irqrestore(&domains_lock, f);
		return NULL;
	}
	struct iommu_domain *dom = &domains[ndomains];
	*dom = (struct iommu_domain){.unit = u,
				     .did = u->next_did++,
				     .sid = (uint16_t)(d->bus << 8 | d->dev << 3 | d->fn),
				     .name = name,
				     .top = phys_to_virt(top),
				     .lock = SPINLOCK_INIT,
				     .fault = fault,
				     .ctx = ctx};
	sync_table(u, dom->top, PAGE_SIZE);
	__atomic_store_n(&ndomains, ndomains + 1, __ATOMIC_RELEASE);
	spin_unlock_irqrestore(&domains_lock, f);

	int err = map_reserved(dom, d, boot_dmar);
	if (!err)
		err = install_context(u, dom, d);
	if (err) {
		/* The slot stays used (its id must not be reused while a unit may
		 * cache it); the device simply stays unattached: its DMA faults. */
		printk("iommu: cannot attach %02x:%02x.%u (%s): error %d\n", d->bus, d->dev, d->fn,
		       name, err);
		dom->fault = NULL;
		return NULL;
	}
	printk("iommu: %02x:%02x.%u (%s) in domain %u: it reaches only what its driver maps\n",
	       d->bus, d->dev, d->fn, name, dom->did);
	return dom;
}
