/* Multiprocessor start-up and cross-CPU signals. */
#pragma once

#include <kernel/types.h>

struct acpi_info;
/* Start every enabled application processor listed in the MADT. */
void smp_init(const struct acpi_info *acpi);
/* Halt all other CPUs (used by panic). */
void smp_stop_others(void);
