/* Trap frames, the IDT and interrupt vector assignment. */
#pragma once

/* Exception vectors (Intel SDM vol. 3, 6.3.1). */
#define VEC_DE	0
#define VEC_DB	1
#define VEC_NMI 2
#define VEC_BP	3
#define VEC_UD	6
#define VEC_NM	7
#define VEC_DF	8
#define VEC_TS	10
#define VEC_NP	11
#define VEC_SS	12
#define VEC_GP	13
#define VEC_PF	14
#define VEC_MF	16
#define VEC_AC	17
#define VEC_MC	18
#define VEC_XM	19

/* Vectors we assign. Device vectors are handed out from VEC_DEVICE_FIRST. */
#define VEC_TIMER	 32
#define VEC_IPI_RESCHED	 33
#define VEC_IPI_PANIC	 34
#define VEC_IPI_TLB	 35
#define VEC_DEVICE_FIRST 48
#define VEC_DEVICE_LAST	 239
#define VEC_SPURIOUS	 255
/*
 * trap_frame.vector of an interrupt message that named an exception vector
 * (VEC_INJECTED + vector): a device's DMA write to 0xfee00000-0xfeefffff is
 * such a message, unless the IOMMU blocks it (entry.S, trap.c).
 */
#define VEC_INJECTED 256

/* Page-fault error code bits (SDM 4.7). */
#define PFERR_P	   (1 << 0)
#define PFERR_W	   (1 << 1)
#define PFERR_U	   (1 << 2)
#define PFERR_RSVD (1 << 3)
#define PFERR_I	   (1 << 4)

/* Offsets in the frame as trap_common finds it, before PUSH_REGS. */
#define TF_HW_VECTOR 0
#define TF_HW_RIP    16
#define TF_HW_CS     24

#ifndef __ASSEMBLER__
#include <kernel/types.h>

/* Layout pushed by arch/x86_64/entry.S; syscall entry builds the same one. */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};
STATIC_ASSERT(sizeof(struct trap_frame) == 22 * 8, "trap_frame layout");

typedef void (*irq_handler_t)(struct trap_frame *tf, void *ctx);

void idt_init(void);
void idt_load(void);
/* Route a vector to a handler; returns -EBUSY if the vector is taken. */
int irq_register(unsigned vector, irq_handler_t fn, void *ctx);
void irq_unregister(unsigned vector);
/* Allocate a free device vector, or -ENOSPC. */
int irq_alloc_vector(void);

static inline bool trap_from_user(const struct trap_frame *tf)
{
	return (tf->cs & 3) == 3;
}

/* Called when an interrupt names an exception vector (a device was made to
 * send it): drivers look for the queue owner behind it. Any CPU, any time. */
void trap_set_injection_hook(void (*fn)(void));

/* Run the handler registered for tf->vector; false if there is none. */
bool irq_run_handler(struct trap_frame *tf);

void trap_dispatch(struct trap_frame *tf);
void trap_dump(const struct trap_frame *tf);
const char *trap_name(unsigned vector);
#endif /* !__ASSEMBLER__ */
