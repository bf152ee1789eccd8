/*
 * SYSCALL entry (Intel SDM vol. 2, SYSCALL): rcx = user RIP, r11 = user
 * RFLAGS, RSP still the user's. Build a struct trap_frame on this CPU's
 * kernel stack so system calls, interrupts and process switches share one
 * return path (trap_return, via IRETQ).
 */
#include <arch/gdt.h>
#include <arch/percpu.h>
#include <arch/regs_asm.h>

#define SYSCALL_VECTOR 0x100	/* not a hardware vector: marks the frame */

	.text
	.globl syscall_entry
syscall_entry:
	swapgs
	movq %rsp, %gs:CPU_OFF_USER_RSP
	movq %gs:CPU_OFF_KSTACK, %rsp
	pushq $SEL_UDATA		/* ss */
	pushq %gs:CPU_OFF_USER_RSP	/* rsp */
	pushq %r11			/* rflags */
	pushq $SEL_UCODE		/* cs */
	pushq %rcx			/* rip */
	pushq $0			/* error */
	pushq $SYSCALL_VECTOR		/* vector */
	PUSH_REGS
	xorl %ebp, %ebp			/* backtraces stop here */
	movq %rsp, %rdi
	call syscall_dispatch
	jmp trap_return

/* sched_enter_first(stack_top): leave the boot stack for this CPU's kernel
 * stack, let the scheduler fill a frame there, and return to user mode. */
	.globl sched_enter_first
sched_enter_first:
	movq %rdi, %rsp
	subq $(22 * 8), %rsp		/* sizeof(struct trap_frame) */
	xorl %ebp, %ebp
	movq %rsp, %rdi
	call sched_first
	jmp trap_return
