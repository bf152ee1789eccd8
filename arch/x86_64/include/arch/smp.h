/* AP start-up trampoline layout, shared by C and trampoline.S. */
#pragma once

#define AP_TRAMPOLINE_PHYS 0x8000 /* page-aligned, below 1 MiB */
#define AP_PARAM_CR3	   0
#define AP_PARAM_STACK	   8
#define AP_PARAM_ENTRY	   16
#define AP_PARAM_SIZE	   24
