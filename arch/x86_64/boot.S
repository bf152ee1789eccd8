/*
 * Multiboot2 entry: from 32-bit protected mode (paging off) to 64-bit long mode
 * in the higher half, then kmain(magic, mbi_phys).
 *
 * The boot page tables map the first 4 GiB three times with 2 MiB pages:
 * identity (so this code keeps running), at the direct map (PML4 slot 256) and
 * at KERNEL_VMA (-2 GiB). mm/vm.c replaces them once the memory map is known.
 */
#include <arch/memlayout.h>
#include <arch/pvh.h>

#define MB2_MAGIC 0xe85250d6
#define MB2_ARCH_I386 0
#define MB2_BOOT_MAGIC 0x36d76289

#define CR0_PE (1 << 0)
#define CR0_WP (1 << 16)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)
#define EFER_NXE (1 << 11)
#define PTE_P 0x1
#define PTE_W 0x2
#define PTE_PS 0x80

/* Physical address of a higher-half symbol. */
#define PHYS(x) ((x) - KERNEL_VMA)

	.section .multiboot, "a"
	.balign 8
mb2_header:
	.long MB2_MAGIC
	.long MB2_ARCH_I386
	.long mb2_header_end - mb2_header
	.long -(MB2_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
	/* end tag */
	.balign 8
	.short 0
	.short 0
	.long 8
mb2_header_end:

/* PVH entry point for QEMU's -kernel (the Xen ELF note below names it). */
	.section .note.Xen, "a"
	.balign 4
	.long 4				/* name size */
	.long 4				/* descriptor size */
	.long XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.long pvh_start

	.section .boot.text, "ax"
	.code32
	.globl pvh_start
pvh_start:
	movl $PVH_START_MAGIC, %eax	/* EBX already holds the start info */

	.globl _start
_start:
	cli
	cld
	movl $PHYS(boot_stack_top), %esp
	movl %eax, boot_magic		/* kmain's arguments, kept in memory */
	movl %ebx, boot_mbi		/* because the set-up below clobbers */

	cmpl $MB2_BOOT_MAGIC, %eax
	je 1f
	cmpl $PVH_START_MAGIC, %eax
	jne no_multiboot
1:

	call check_long_mode
	call build_boot_tables

	movl $boot_pml4, %eax
	movl %eax, %cr3
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $MSR_EFER, %ecx
	rdmsr
	orl $(EFER_LME | EFER_NXE), %eax
	wrmsr
	movl %cr0, %eax
	orl $(CR0_PG | CR0_WP | CR0_PE), %eax
	movl %eax, %cr0

	lgdt boot_gdt_ptr
	ljmp $0x08, $long_mode_entry

/* CPUID leaf 0x80000001 EDX bit 29 (LM) and bit 20 (NX) are required. */
check_long_mode:
	movl $0x80000000, %eax
	cpuid
	cmpl $0x80000001, %eax
	jb no_long_mode
	movl $0x80000001, %eax
	cpuid
	testl $(1 << 29), %edx
	jz no_long_mode
	testl $(1 << 20), %edx
	jz no_long_mode
	ret

/* Fill 4 page directories with 2 MiB pages covering 0..4 GiB. */
build_boot_tables:
	movl $boot_pml4, %edi
	xorl %eax, %eax
	movl $(7 * 4096 / 4), %ecx
	rep stosl

	movl $boot_pd, %edi
	movl $(PTE_P | PTE_W | PTE_PS), %eax
	xorl %edx, %edx
	movl $(4 * 512), %ecx
1:	movl %eax, (%edi)
	movl %edx, 4(%edi)
	addl $0x200000, %eax
	adcl $0, %edx
	addl $8, %edi
	loop 1b

	/* low PDPT: 4 entries -> the 4 page directories */
	movl $boot_pdpt_low, %edi
	movl $boot_pd, %eax
	orl $(PTE_P | PTE_W), %eax
	movl $4, %ecx
2:	movl %eax, (%edi)
	movl $0, 4(%edi)
	addl $4096, %eax
	addl $8, %edi
	loop 2b

	/* high PDPT: slots 510, 511 -> first 2 GiB at -2 GiB */
	movl $boot_pd, %eax
	orl $(PTE_P | PTE_W), %eax
	movl %eax, boot_pdpt_high + 510 * 8
	addl $4096, %eax
	movl %eax, boot_pdpt_high + 511 * 8

	movl $boot_pdpt_low, %eax
	orl $(PTE_P | PTE_W), %eax
	movl %eax, boot_pml4
	movl %eax, boot_pml4 + DIRECT_MAP_PML4 * 8
	movl $boot_pdpt_high, %eax
	orl $(PTE_P | PTE_W), %eax
	movl %eax, boot_pml4 + 511 * 8
	ret

no_multiboot:
	movl $msg_no_mb, %esi
	jmp early_fail
no_long_mode:
	movl $msg_no_lm, %esi
/* Print the string at %esi on COM1 and halt. */
early_fail:
	movw $0x3f8, %dx
1:	lodsb
	testb %al, %al
	jz 2f
	outb %al, %dx
	jmp 1b
2:	cli
	hlt
	jmp 2b

	.code64
long_mode_entry:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorw %ax, %ax
	movw %ax, %fs
	movw %ax, %gs
	movabsq $higher_half, %rax
	jmp *%rax

	.section .boot.data, "aw"
boot_magic:	.long 0
boot_mbi:	.long 0
msg_no_mb:
	.asciz "manticore: not loaded by a Multiboot2 or PVH loader\r\n"
msg_no_lm:
	.asciz "manticore: this CPU lacks 64-bit long mode or NX\r\n"
	.balign 16
boot_gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff	/* 0x10: data */
boot_gdt_end:
boot_gdt_ptr:
	.short boot_gdt_end - boot_gdt - 1
	.long boot_gdt

	.section .boot.bss, "aw", @nobits
	.balign 4096
boot_pml4:	.skip 4096
boot_pdpt_low:	.skip 4096
boot_pdpt_high:	.skip 4096
boot_pd:	.skip 4 * 4096

	.text
higher_half:
	movabsq $boot_stack_top, %rsp
	xorl %ebp, %ebp
	movl boot_magic, %edi		/* zero-extended into %rdi, %rsi */
	movl boot_mbi, %esi
	call kmain
1:	cli
	hlt
	jmp 1b

	/* The boot CPU's stack, for good (sched_start), with a page under it
	 * that vm_init leaves unmapped: an overflow faults (a double fault
	 * that names it, arch/x86_64/trap.c) instead of running into .bss. */
	.section .bss.stack, "aw", @nobits
	.balign 4096
	.globl boot_stack_guard, boot_stack, boot_stack_top
boot_stack_guard:
	.skip 4096
boot_stack:
	.skip KSTACK_SIZE
boot_stack_top:
