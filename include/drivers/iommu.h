/*
 * DMA remapping (Intel VT-d, drivers/iommu/vtd.c). Each PCI function a
 * driver confines gets a translation domain of its own: from then on the
 * function's DMA reaches only the I/O virtual addresses mapped in that
 * domain, and anything else faults (reported, counted, and handed to the
 * driver). Functions nobody attaches have no context entry once translation
 * is on: their DMA faults too. Without a remapping unit every call here is
 * harmless and iommu_attach says so by returning NULL.
 */
#pragma once

#include <kernel/types.h>

#define IOMMU_READ  1 /* the device may read */
#define IOMMU_WRITE 2 /* the device may write */

struct acpi_info;
struct pci_dev;
struct iommu_domain;

/* A DMA fault, as the unit recorded it (VT-d 4.1 §7.2.1). */
struct iommu_fault {
	uint64_t iova;	 /* page address the device asked for */
	bool write;	 /* a write (else a read) */
	uint8_t reason;	 /* fault reason, VT-d appendix A */
	const char *why; /* its meaning */
};

/* The driver's hook: called from the fault interrupt, interrupts off. */
typedef void (*iommu_fault_fn)(void *ctx, const struct iommu_fault *f);

/*
 * Take over every remapping unit in the DMAR (boot, after pci_init): root
 * and context tables with no device present, fault interrupts, translation
 * on. Prints what it found, or that bypass DMA is unconfined and why.
 */
void iommu_init(const struct acpi_info *acpi);
/* Whether translation is on (some unit took over). */
bool iommu_enabled(void);
/*
 * A new empty domain for function d, installed in its context entry: d's
 * DMA reaches nothing until iommu_map. fault(ctx, ...) hears of its faults.
 * NULL if no unit translates for d (its DMA is unconfined) or no memory.
 */
struct iommu_domain *iommu_attach(struct pci_dev *d, const char *name, iommu_fault_fn fault,
				  void *ctx);
/*
 * Map [iova, iova + len) to [pa, pa + len) with rights IOMMU_READ and/or
 * IOMMU_WRITE (page granular, page aligned). 0, -EINVAL (misaligned, beyond
 * the domain's width), -EEXIST (already mapped: nothing changed), -ENOMEM.
 */
int iommu_map(struct iommu_domain *dom, uint64_t iova, paddr_t pa, size_t len, unsigned rights);
/*
 * Unmap [iova, iova + len) and return once the unit's IOTLB has forgotten
 * it: after this the device cannot reach the pages, whatever it caches.
 */
void iommu_unmap(struct iommu_domain *dom, uint64_t iova, size_t len);
/*
 * The MSI(-X) address and data with which function d's table entry `entry`
 * raises `vector` on the CPU with `apic_id`: through an interrupt
 * remapping entry bound to d where the unit remaps interrupts (only d can
 * raise it, only as written), else the plain compatibility format. 0,
 * -ENOSPC (remapping table full), -EIO.
 */
int iommu_msi_message(struct pci_dev *d, unsigned entry, uint32_t apic_id, uint8_t vector,
		      uint32_t *addr, uint32_t *data);
/* Faults recorded for dom since boot. */
uint64_t iommu_fault_count(const struct iommu_domain *dom);
