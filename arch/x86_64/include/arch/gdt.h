/* Segment selectors, the GDT and the TSS (Intel SDM vol. 3, 3.4 and 7.7). */
#pragma once

/*
 * Order fixed by SYSCALL/SYSRET: STAR[47:32] gives kernel CS (SS = +8);
 * STAR[63:48] + 8 gives user SS and + 16 the 64-bit user CS.
 */
#define GDT_KCODE   0x08
#define GDT_KDATA   0x10
#define GDT_UDATA   0x18
#define GDT_UCODE   0x20
#define GDT_TSS	    0x28
#define GDT_ENTRIES 7

#define SEL_KCODE GDT_KCODE
#define SEL_KDATA GDT_KDATA
#define SEL_UDATA (GDT_UDATA | 3)
#define SEL_UCODE (GDT_UCODE | 3)

/* Interrupt stack table slots. */
#define IST_DF	       1
#define IST_NMI	       2
#define IST_MC	       3
#define IST_STACK_SIZE 8192

#ifndef __ASSEMBLER__
#include <kernel/types.h>

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __packed;
STATIC_ASSERT(sizeof(struct tss) == 104, "TSS layout");

struct cpu;
void gdt_init_cpu(struct cpu *c);
#endif
