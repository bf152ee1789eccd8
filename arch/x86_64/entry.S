/*
 * Interrupt and exception entry: one stub per vector pushes (error code,
 * vector) so every path reaches trap_common with a struct trap_frame.
 */
#include <arch/memlayout.h>
#include <arch/regs_asm.h>

/* Vectors for which the CPU pushes an error code (SDM 6.13). */
	.macro VECTOR n
	.balign 16
vector_\n:
	.if (\n == 8) || (\n >= 10 && \n <= 14) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
	.else
	pushq $0
	.endif
	pushq $\n
	jmp trap_common
	.endm

	.text
	.globl trap_common
trap_common:
	/* From user mode: switch GS to the kernel's per-CPU base. */
	testb $3, 24(%rsp)		/* cs, after vector and error */
	jz 1f
	swapgs
1:	cld
	PUSH_REGS
	movq %rsp, %rdi
	call trap_dispatch
	.globl trap_return
trap_return:
	POP_REGS
	testb $3, 24(%rsp)
	jz 2f
	swapgs
2:	addq $16, %rsp			/* vector and error code */
	iretq

	.altmacro
	.set i, 0
	.rept 256
	VECTOR %i
	.set i, i + 1
	.endr

	.macro VECREF n
	.quad vector_\n
	.endm

	.section .rodata
	.balign 8
	.globl vector_table
vector_table:
	.set i, 0
	.rept 256
	VECREF %i
	.set i, i + 1
	.endr

