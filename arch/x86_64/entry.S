/*
 * Interrupt and exception entry: one stub per vector pushes (error code,
 * vector) so every path reaches trap_common with a struct trap_frame.
 */
#include <arch/memlayout.h>
#include <arch/regs_asm.h>
#include <arch/trap.h>

/*
 * Vectors for which the CPU pushes an error code (SDM 6.13) — when it
 * raises the exception. An interrupt message naming the same vector (a
 * device's DMA to the interrupt range can send one) pushes none: those
 * go through errcode_check first.
 */
	.macro VECTOR n
	.balign 16
vector_\n:
	.if (\n == 8) || (\n >= 10 && \n <= 14) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
	pushq $\n
	jmp errcode_check
	.else
	pushq $0
	pushq $\n
	jmp trap_common
	.endif
	.endm

	.text
	/*
	 * On the stack: the vector, then the error code or, for an interrupt,
	 * the return RIP. The local APIC has an interrupt of this vector in
	 * service only in the second case (an exception never sets ISR): then
	 * insert a zero error code and mark the vector VEC_INJECTED + n. Runs
	 * before swapgs: apic_in_service uses no per-CPU data.
	 */
errcode_check:
	cld
	pushq %rax
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %rbp
	movq %rsp, %rbp
	andq $-16, %rsp			/* the C ABI's alignment: the frame may lack 8 bytes */
	movq 80(%rbp), %rdi		/* the vector, above rbp and nine registers */
	call apic_in_service
	testb %al, %al			/* neither mov nor pop changes the flags */
	movq %rbp, %rsp
	popq %rbp
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rax
	jz trap_common			/* an exception: its error code is there */
	pushq (%rsp)			/* vector, vector, RIP ... */
	movq $0, 8(%rsp)		/* vector, 0, RIP ... */
	addq $VEC_INJECTED, (%rsp)
	jmp trap_common

	.globl trap_common
trap_common:
	testb $3, TF_HW_CS(%rsp)
	jz .Lfrom_kernel
	swapgs				/* from user mode: the kernel's per-CPU base */
.Lentered:
	cld
	/* Interrupt and exception gates keep RFLAGS.AC: a process that set it
	 * must not switch SMAP off for the kernel (clac exists only with SMAP). */
	testb $1, cpu_smap(%rip)
	jz 1f
	clac
1:	PUSH_REGS
	movq %rsp, %rdi
	call trap_dispatch
	.globl trap_return
trap_return:
	POP_REGS
	testb $3, TF_HW_CS(%rsp)
	jz 2f
	swapgs
	addq $16, %rsp			/* vector and error code */
	.globl trap_iret_user
trap_iret_user:
	iretq
2:	addq $16, %rsp
	iretq

	/*
	 * From the kernel. A #GP, #NP or #SS raised by trap_iret_user (a frame
	 * the CPU refuses to return to user mode with) arrives after the swapgs
	 * above, with the user's GS base: take the kernel's back. trap_dispatch
	 * then hands the fault to the process (trap.c, bad_iret). NMI and #MC
	 * may also land on that instruction but never return: they stop the CPU
	 * without using GS.
	 */
.Lfrom_kernel:
	cmpq $trap_iret_user, TF_HW_RIP(%rsp)
	jne .Lentered
	cmpq $VEC_GP, TF_HW_VECTOR(%rsp)
	je 3f
	cmpq $VEC_NP, TF_HW_VECTOR(%rsp)
	je 3f
	cmpq $VEC_SS, TF_HW_VECTOR(%rsp)
	jne .Lentered
3:	swapgs
	jmp .Lentered

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

