/*
 * Application-processor start-up code. The BSP copies this blob to
 * AP_TRAMPOLINE_PHYS (below 1 MiB) and fills in the parameters at its end;
 * a STARTUP IPI starts the AP here in real mode, and the blob walks it
 * through protected mode into long mode on the kernel's page tables.
 * Addresses are computed relative to the blob, which runs at the copy.
 */
#include <arch/smp.h>

#define REL(x) ((x) - ap_trampoline + AP_TRAMPOLINE_PHYS)

	.section .rodata
	.globl ap_trampoline, ap_trampoline_end
	.code16
ap_trampoline:
	cli
	cld
	xorw %ax, %ax
	movw %ax, %ds
	lgdtl REL(ap_gdt_ptr)
	movl %cr0, %eax
	orl $1, %eax			/* CR0.PE */
	movl %eax, %cr0
	ljmpl $0x08, $REL(ap_protected)

	.code32
ap_protected:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl %cr4, %eax
	orl $(1 << 5), %eax		/* CR4.PAE */
	movl %eax, %cr4
	movl REL(ap_params) + AP_PARAM_CR3, %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx		/* EFER: LME, NXE */
	rdmsr
	orl $((1 << 8) | (1 << 11)), %eax
	wrmsr
	movl %cr0, %eax
	orl $((1 << 31) | (1 << 16)), %eax	/* CR0.PG, CR0.WP */
	movl %eax, %cr0
	ljmpl $0x18, $REL(ap_long)

	.code64
ap_long:
	movq REL(ap_params) + AP_PARAM_STACK, %rsp
	xorl %ebp, %ebp
	movq REL(ap_params) + AP_PARAM_ENTRY, %rax
	jmp *%rax

	.balign 8
ap_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08: 32-bit code */
	.quad 0x00cf92000000ffff	/* 0x10: data */
	.quad 0x00af9a000000ffff	/* 0x18: 64-bit code */
ap_gdt_ptr:
	.short ap_gdt_ptr - ap_gdt - 1
	.long REL(ap_gdt)
	.balign 8
	.globl ap_params
ap_params:
	.skip AP_PARAM_SIZE
ap_trampoline_end:
