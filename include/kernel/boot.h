/* What the boot loader handed over, kept for the rest of the kernel. */
#pragma once

#include <arch/acpi.h>
#include <arch/multiboot2.h>

extern struct mb2_info boot_info;
extern struct acpi_info boot_acpi;

/* Set up the page allocator and kernel page tables from the memory map. */
void boot_mm_init(paddr_t mbi_pa);

/* Entered from arch/x86_64/boot.S in long mode on the boot stack. */
void kmain(uint32_t magic, paddr_t mbi_pa);
