/*
 * PCI Express through ECAM (PCI Firmware 3.2 §4.1: function (b,d,f) has its
 * 4 KiB of configuration space at base + (b << 20 | d << 15 | f << 12)).
 * Enumeration walks bus 0 and every bridge's secondary bus, sizes each BAR
 * and lists what it found; drivers then claim devices by id.
 */
#include <arch/acpi.h>
#include <arch/cpu.h>
#include <drivers/iommu.h>
#include <drivers/pci.h>
#include <kernel/printk.h>
#include <mm/phys.h>
#include <mm/vm.h>
#include <uapi/errno.h>

#define ECAM_BUS_SIZE (1UL << 20)
/*
 * Memory BARs that the firmware left unassigned (qboot does not assign
 * them; SeaBIOS does) go above RAM and ECAM in the 32-bit PCI hole, below
 * the IOAPIC: what q35's host bridge decodes for PCI (0xc0000000 up).
 */
#define PCI_HOLE_END 0xfec00000UL
#define PCI_HOLE_MIN 0xc0000000UL

static struct pci_dev devices[PCI_MAX_DEVICES];
static unsigned device_count;
static volatile uint8_t *bus_cfg[256]; /* ECAM mapping per bus, segment 0 */
static const struct acpi_mcfg_entry *ecam;

uint8_t pci_read8(const struct pci_dev *d, unsigned off)
{
	return mmio_read8(d->cfg + off);
}

uint16_t pci_read16(const struct pci_dev *d, unsigned off)
{
	return mmio_read16(d->cfg + off);
}

uint32_t pci_read32(const struct pci_dev *d, unsigned off)
{
	return mmio_read32(d->cfg + off);
}

void pci_write16(struct pci_dev *d, unsigned off, uint16_t v)
{
	mmio_write16(d->cfg + off, v);
}

void pci_write32(struct pci_dev *d, unsigned off, uint32_t v)
{
	mmio_write32(d->cfg + off, v);
}

static volatile uint8_t *map_bus(unsigned bus)
{
	if (bus < ecam->bus_start || bus > ecam->bus_end)
		return NULL;
	if (!bus_cfg[bus])
		bus_cfg[bus] = vm_map_mmio(
		    ecam->base + (paddr_t)(bus - ecam->bus_start) * ECAM_BUS_SIZE, ECAM_BUS_SIZE);
	return bus_cfg[bus];
}

/* Size a BAR by writing all ones (PCI 3.0 §6.2.5.1); returns BARs used. */
static unsigned size_bar(struct pci_dev *d, unsigned i)
{
	unsigned off = PCI_BAR0 + 4 * i;
	uint32_t orig = pci_read32(d, off);
	struct pci_bar *b = &d->bar[i];

	pci_write32(d, off, 0xffffffff);
	uint32_t mask = pci_read32(d, off);
	pci_write32(d, off, orig);
	if (orig & PCI_BAR_IO) {
		b->io = true;
		b->base = orig & ~3U;
		b->size = mask ? (uint16_t) ~(mask & ~3U) + 1 : 0;
		return 1;
	}
	b->prefetch = orig & PCI_BAR_PREFETCH;
	uint64_t base = orig & ~0xfU, m = mask & ~0xfU;
	if ((orig & 0x6) == PCI_BAR_MEM_TYPE_64 && i + 1 < PCI_BARS) {
		uint32_t hi = pci_read32(d, off + 4);
		pci_write32(d, off + 4, 0xffffffff);
		uint32_t mhi = pci_read32(d, off + 4);
		pci_write32(d, off + 4, hi);
		base |= (uint64_t)hi << 32;
		m |= (uint64_t)mhi << 32;
		b->is64 = true;
	} else if (m) {
		m |= 0xffffffff00000000UL;
	}
	b->base = base;
	b->size = m ? ~m + 1 : 0; /* no writable address bits: not implemented */
	return b->is64 ? 2 : 1;
}

static void probe_bars(struct pci_dev *d)
{
	unsigned nbars = (d->header & 0x7f) == PCI_HEADER_BRIDGE ? 2 : PCI_BARS;
	uint16_t cmd = pci_read16(d, PCI_COMMAND);
	/* No decoding while the BARs hold all-ones. */
	pci_write16(d, PCI_COMMAND, cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
	for (unsigned i = 0; i < nbars;)
		i += size_bar(d, i);
	pci_write16(d, PCI_COMMAND, cmd);
}

static const char *class_name(uint32_t class_rev)
{
	switch (class_rev >> 16) {
	case 0x0200:
		return "ethernet";
	case 0x0100:
	case 0x0101:
	case 0x0106:
		return "storage";
	case 0x0300:
		return "display";
	case 0x0600:
		return "host bridge";
	case 0x0601:
		return "ISA bridge";
	case 0x0604:
		return "PCI bridge";
	case 0x0c05:
		return "SMBus";
	default:
		return "device";
	}
}

static void scan_bus(unsigned bus, unsigned depth);

static void add_function(unsigned bus, unsigned dev, unsigned fn, volatile uint8_t *cfg,
			 unsigned depth)
{
	if (device_count == PCI_MAX_DEVICES) {
		printk("pci: more than %u functions; ignoring %02x:%02x.%u\n", PCI_MAX_DEVICES, bus,
		       dev, fn);
		return;
	}
	struct pci_dev *d = &devices[device_count++];
	*d = (struct pci_dev){.bus = bus, .dev = dev, .fn = fn, .cfg = cfg};
	d->vendor = pci_read16(d, PCI_VENDOR_ID);
	d->device = pci_read16(d, PCI_DEVICE_ID);
	d->class_rev = pci_read32(d, PCI_CLASS_REVISION);
	d->header = pci_read8(d, PCI_HEADER_TYPE);
	probe_bars(d);
	printk("pci %02x:%02x.%u %04x:%04x %s (class %06x)", bus, dev, fn, d->vendor, d->device,
	       class_name(d->class_rev), d->class_rev >> 8);
	for (unsigned i = 0; i < PCI_BARS; i++)
		if (d->bar[i].size)
			printk(" bar%u %s %#lx+%#lx", i, d->bar[i].io ? "io" : "mem",
			       d->bar[i].base, d->bar[i].size);
	printk("\n");
	if ((d->header & 0x7f) == PCI_HEADER_BRIDGE && depth < 8) {
		unsigned sec = pci_read8(d, PCI_SECONDARY_BUS);
		if (sec > bus)
			scan_bus(sec, depth + 1);
	}
}

static void scan_bus(unsigned bus, unsigned depth)
{
	volatile uint8_t *base = map_bus(bus);
	if (!base)
		return;
	for (unsigned dev = 0; dev < 32; dev++) {
		for (unsigned fn = 0; fn < 8; fn++) {
			volatile uint8_t *cfg = base + (dev << 15 | fn << 12);
			if (mmio_read16(cfg + PCI_VENDOR_ID) == 0xffff) {
				if (fn == 0)
					break;
				continue;
			}
			add_function(bus, dev, fn, cfg, depth);
			if (fn == 0 &&
			    !(mmio_read8(cfg + PCI_HEADER_TYPE) & PCI_HEADER_MULTIFUNCTION))
				break;
		}
	}
}

static bool in_hole(paddr_t a)
{
	return a >= PCI_HOLE_MIN && a < PCI_HOLE_END;
}

/* Give an unassigned 32-bit-reachable memory BAR an address (PCI 3.0
 * §6.2.5.1: naturally aligned to its size) and program it. */
static bool assign_bar(struct pci_dev *d, unsigned i, paddr_t *next)
{
	struct pci_bar *b = &d->bar[i];
	paddr_t at = ALIGN_UP(*next, MAX(b->size, (uint64_t)PAGE_SIZE));
	if (b->size > PCI_HOLE_END || at > PCI_HOLE_END - b->size)
		return false;
	uint16_t cmd = pci_read16(d, PCI_COMMAND);
	pci_write16(d, PCI_COMMAND, cmd & ~PCI_COMMAND_MEMORY);
	pci_write32(d, PCI_BAR0 + 4 * i, (uint32_t)at);
	if (b->is64)
		pci_write32(d, PCI_BAR0 + 4 * i + 4, 0);
	pci_write16(d, PCI_COMMAND, cmd);
	b->base = at;
	*next = at + b->size;
	return true;
}

/* Second pass: memory BARs of bus-0 functions the firmware left at 0 get
 * addresses above everything it did assign (behind a bridge they would also
 * need the bridge's windows programmed: those are reported, not touched). */
static void assign_bars(void)
{
	paddr_t next = MAX(vm_ram_top_below(1UL << 32), ecam->base + ((paddr_t)ecam->bus_end + 1 -
								      ecam->bus_start) *
									 ECAM_BUS_SIZE);
	next = MAX(next, PCI_HOLE_MIN);
	for (unsigned n = 0; n < device_count; n++)
		for (unsigned i = 0; i < PCI_BARS; i++) {
			const struct pci_bar *b = &devices[n].bar[i];
			if (!b->io && b->size && in_hole(b->base) && b->base + b->size > next)
				next = b->base + b->size;
		}
	for (unsigned n = 0; n < device_count; n++) {
		struct pci_dev *d = &devices[n];
		for (unsigned i = 0; i < PCI_BARS; i++) {
			struct pci_bar *b = &d->bar[i];
			if (b->io || !b->size || b->base)
				continue;
			if (d->bus == ecam->bus_start && assign_bar(d, i, &next))
				printk("pci %02x:%02x.%u: bar%u unassigned by the firmware: now %#lx+%#lx\n",
				       d->bus, d->dev, d->fn, i, b->base, b->size);
			else
				printk("pci %02x:%02x.%u: bar%u unassigned and left so\n", d->bus,
				       d->dev, d->fn, i);
		}
	}
}

void pci_init(const struct acpi_info *acpi)
{
	if (!(acpi->found & ACPI_FOUND_MCFG) || acpi->mcfg_count == 0) {
		printk("pci: no ECAM (MCFG); no PCI devices\n");
		return;
	}
	ecam = &acpi->mcfg[0];
	scan_bus(ecam->bus_start, 0);
	assign_bars();
	printk("pci: %u function(s)\n", device_count);
}

struct pci_dev *pci_get(uint8_t bus, uint8_t dev, uint8_t fn)
{
	for (unsigned i = 0; i < device_count; i++)
		if (devices[i].bus == bus && devices[i].dev == dev && devices[i].fn == fn)
			return &devices[i];
	return NULL;
}

struct pci_dev *pci_find(uint16_t vendor, uint16_t device, struct pci_dev *from)
{
	unsigned i = from ? (unsigned)(from - devices) + 1 : 0;
	for (; i < device_count; i++)
		if (devices[i].vendor == vendor && devices[i].device == device)
			return &devices[i];
	return NULL;
}

uint8_t pci_find_cap(const struct pci_dev *d, uint8_t id, uint8_t start)
{
	if (!(pci_read16(d, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;
	uint8_t off = start ? pci_read8(d, start + 1) : pci_read8(d, PCI_CAP_PTR);
	/* 48 capabilities at most fit in 256 bytes: a bound against loops. */
	for (int n = 0; off >= 0x40 && n < 48; n++) {
		off &= ~3;
		if (pci_read8(d, off) == id)
			return off;
		off = pci_read8(d, off + 1);
	}
	return 0;
}

void *pci_map_bar(struct pci_dev *d, unsigned bar)
{
	if (bar >= PCI_BARS || d->bar[bar].io || !d->bar[bar].size)
		return NULL;
	if (!d->bar_va[bar])
		d->bar_va[bar] = vm_map_mmio(d->bar[bar].base, d->bar[bar].size);
	return d->bar_va[bar];
}

void pci_enable(struct pci_dev *d)
{
	uint16_t cmd = pci_read16(d, PCI_COMMAND);
	pci_write16(d, PCI_COMMAND,
		    cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
}

int pci_msix_enable(struct pci_dev *d)
{
	uint8_t cap = pci_find_cap(d, PCI_CAP_ID_MSIX, 0);
	if (!cap)
		return -ENODEV;
	uint16_t ctrl = pci_read16(d, cap + PCI_MSIX_CTRL);
	uint32_t table = pci_read32(d, cap + PCI_MSIX_TABLE);
	unsigned bir = table & PCI_MSIX_BIR;
	uint8_t *bar = pci_map_bar(d, bir);
	uint32_t off = table & ~PCI_MSIX_BIR;
	unsigned count = (ctrl & PCI_MSIX_CTRL_SIZE) + 1;
	if (!bar || (uint64_t)off + count * PCI_MSIX_ENTRY_SIZE > d->bar[bir].size)
		return -EINVAL;
	d->msix_cap = cap;
	d->msix_count = count;
	d->msix_table = bar + off;
	for (unsigned i = 0; i < count; i++)
		pci_msix_mask(d, i, true);
	pci_write16(d, cap + PCI_MSIX_CTRL, (ctrl | PCI_MSIX_CTRL_ENABLE) & ~PCI_MSIX_CTRL_MASKALL);
	return 0;
}

int pci_msix_route(struct pci_dev *d, unsigned entry, uint32_t apic_id, uint8_t vector)
{
	if (entry >= d->msix_count)
		return -EINVAL;
	volatile uint8_t *e = d->msix_table + entry * PCI_MSIX_ENTRY_SIZE;
	/* The message comes from the IOMMU's interrupt remapping where there
	 * is one, else it is the plain format (drivers/iommu). */
	uint32_t addr, data;
	int err = iommu_msi_message(d, entry, apic_id, vector, &addr, &data);
	if (err)
		return err;
	mmio_write32(e + PCI_MSIX_ENTRY_ADDR_LO, addr);
	mmio_write32(e + PCI_MSIX_ENTRY_ADDR_HI, 0);
	mmio_write32(e + PCI_MSIX_ENTRY_DATA, data);
	return 0;
}

void pci_msix_mask(struct pci_dev *d, unsigned entry, bool masked)
{
	if (entry >= d->msix_count)
		return;
	volatile uint8_t *e = d->msix_table + entry * PCI_MSIX_ENTRY_SIZE;
	uint32_t ctrl = mmio_read32(e + PCI_MSIX_ENTRY_CTRL);
	ctrl = masked ? ctrl | PCI_MSIX_ENTRY_MASKED : ctrl & ~PCI_MSIX_ENTRY_MASKED;
	mmio_write32(e + PCI_MSIX_ENTRY_CTRL, ctrl);
}
