/* The stack protector's per-boot guard (kernel/stackprot.c). */
#pragma once

/* Pick this boot's guard: the first thing kmain does. */
void stackprot_init(void);
/* Where the guard came from: "RDRAND" or "the TSC". */
const char *stackprot_source(void);
