/* Kernel symbol table (generated at link time) and stack backtraces. */
#pragma once

#include <kernel/types.h>

/* Name of the function containing addr, or NULL; *off gets the offset. */
const char *ksym_lookup(uint64_t addr, uint64_t *off);
/* Print a frame-pointer backtrace starting at (rip, rbp). */
void ksym_backtrace(uint64_t rip, uint64_t rbp);
