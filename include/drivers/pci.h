/* PCI Express: ECAM configuration space, enumeration, BARs, capabilities, MSI-X. */
#pragma once

#include <kernel/types.h>

/* Configuration-space registers (PCI Local Bus 3.0 §6.1). */
#define PCI_VENDOR_ID		 0x00
#define PCI_DEVICE_ID		 0x02
#define PCI_COMMAND		 0x04
#define PCI_COMMAND_IO		 (1 << 0)
#define PCI_COMMAND_MEMORY	 (1 << 1)
#define PCI_COMMAND_MASTER	 (1 << 2)
#define PCI_COMMAND_INTX_DISABLE (1 << 10)
#define PCI_STATUS		 0x06
#define PCI_STATUS_CAP_LIST	 (1 << 4)
#define PCI_CLASS_REVISION	 0x08
#define PCI_HEADER_TYPE		 0x0e
#define PCI_HEADER_MULTIFUNCTION 0x80
#define PCI_HEADER_BRIDGE	 0x01
#define PCI_BAR0		 0x10
#define PCI_BAR_IO		 0x1
#define PCI_BAR_MEM_TYPE_64	 0x4
#define PCI_BAR_PREFETCH	 0x8
#define PCI_SECONDARY_BUS	 0x19
#define PCI_SUBORDINATE_BUS	 0x1a
#define PCI_CAP_PTR		 0x34

#define PCI_CAP_ID_MSIX	  0x11
#define PCI_CAP_ID_VENDOR 0x09

/* MSI-X capability (PCI 3.0 §6.8.2). */
#define PCI_MSIX_CTRL	       2
#define PCI_MSIX_CTRL_ENABLE   (1 << 15)
#define PCI_MSIX_CTRL_MASKALL  (1 << 14)
#define PCI_MSIX_CTRL_SIZE     0x7ff
#define PCI_MSIX_TABLE	       4
#define PCI_MSIX_PBA	       8
#define PCI_MSIX_BIR	       0x7
#define PCI_MSIX_ENTRY_SIZE    16
#define PCI_MSIX_ENTRY_ADDR_LO 0
#define PCI_MSIX_ENTRY_ADDR_HI 4
#define PCI_MSIX_ENTRY_DATA    8
#define PCI_MSIX_ENTRY_CTRL    12
#define PCI_MSIX_ENTRY_MASKED  1

#define PCI_MAX_DEVICES 64
#define PCI_BARS	6

struct pci_bar {
	paddr_t base;
	uint64_t size;
	bool io, is64, prefetch;
};

struct pci_dev {
	uint16_t segment;
	uint8_t bus, dev, fn;
	uint16_t vendor, device;
	uint32_t class_rev; /* class << 8 | revision */
	uint8_t header;
	volatile uint8_t *cfg; /* this function's 4 KiB of ECAM */
	struct pci_bar bar[PCI_BARS];
	void *bar_va[PCI_BARS]; /* kernel mapping, once mapped */
	/* MSI-X, once enabled */
	uint8_t msix_cap;
	uint16_t msix_count;
	volatile uint8_t *msix_table;
	bool claimed;
};

struct acpi_info;
/* Enumerate every bus reachable from the MCFG's ECAM ranges. */
void pci_init(const struct acpi_info *acpi);
/* The function at bus:dev.fn of segment 0, if enumeration found it. */
struct pci_dev *pci_get(uint8_t bus, uint8_t dev, uint8_t fn);
/* Next device (after `from`, NULL to start) with this vendor and device id. */
struct pci_dev *pci_find(uint16_t vendor, uint16_t device, struct pci_dev *from);

uint8_t pci_read8(const struct pci_dev *d, unsigned off);
uint16_t pci_read16(const struct pci_dev *d, unsigned off);
uint32_t pci_read32(const struct pci_dev *d, unsigned off);
void pci_write16(struct pci_dev *d, unsigned off, uint16_t v);
void pci_write32(struct pci_dev *d, unsigned off, uint32_t v);

/* First capability with this id at or after config offset `start` (0 =
 * from the list head); returns its offset or 0. */
uint8_t pci_find_cap(const struct pci_dev *d, uint8_t id, uint8_t start);
/* Map a memory BAR into the kernel (uncached); NULL for I/O or empty BARs. */
void *pci_map_bar(struct pci_dev *d, unsigned bar);
void pci_enable(struct pci_dev *d);

/* MSI-X: map the table and enable with every vector masked. */
int pci_msix_enable(struct pci_dev *d);
/* Point table entry `entry` at `vector` on the CPU with `apic_id`. */
int pci_msix_route(struct pci_dev *d, unsigned entry, uint32_t apic_id, uint8_t vector);
void pci_msix_mask(struct pci_dev *d, unsigned entry, bool masked);
