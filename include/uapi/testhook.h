/*
 * SYS_test_hook: ways for test programs to make the kernel do what no
 * honest kernel path does, to prove the defences behind it. Answered only
 * when the kernel command line has the word `testhooks`; -ENOSYS otherwise.
 */
#pragma once

/* test_hook(TH_NT_ON_RETURN): set RFLAGS.NT in the kernel just before this
 * call returns, so the IRETQ back to user mode faults in ring 0 (as a
 * SYSCALL with NT set did before its flag mask cleared NT). The process is
 * killed for it; the system goes on. */
#define TH_NT_ON_RETURN 1
/* test_hook(TH_FAULT_USER_GS): swap to the user's GS base, then execute an
 * invalid instruction in the kernel: the panic report must still appear. */
#define TH_FAULT_USER_GS 2
/* test_hook(TH_IRQ_READ_USER, addr): at the next interrupt taken while this
 * process runs in user mode, read 8 bytes at addr from the interrupt
 * handler, bypassing the checked accessors. Returns 0. */
#define TH_IRQ_READ_USER 3
/* test_hook(TH_IRQ_RESULT): TH_PROBE_PENDING, TH_PROBE_BLOCKED (the read
 * faulted: SMAP held) or TH_PROBE_READ (it succeeded: SMAP was off). */
#define TH_IRQ_RESULT 4
/* test_hook(TH_KERNEL_READ_USER, addr): read a user address directly in a
 * system call, outside the accessors: an SMAP panic. */
#define TH_KERNEL_READ_USER 5
/* test_hook(TH_KERNEL_EXEC_USER, addr): call a user address from the
 * kernel: an SMEP panic. */
#define TH_KERNEL_EXEC_USER 6
/* test_hook(TH_NULL_SS_ON_RETURN): return from this call with a null stack
 * segment in the frame, which IRETQ refuses (#GP in ring 0); the process
 * is killed for it, the system goes on. */
#define TH_NULL_SS_ON_RETURN 7

/* test_hook(TH_DMA_TARGET, which): the physical address of a page a hostile
 * queue owner aims descriptors at: TH_TARGET_KERNEL, a page of kernel data
 * (a pattern written at boot); TH_TARGET_VICTIM, the page a process
 * published with TH_DMA_PUBLISH (-ENOENT until then). */
#define TH_DMA_TARGET 8
/* test_hook(TH_DMA_PUBLISH, addr): the caller's page at addr (mapped,
 * writable) becomes TH_TARGET_VICTIM. */
#define TH_DMA_PUBLISH 9
/* test_hook(TH_DMA_SUM, which): a checksum (63 bits) of that target page,
 * read by the kernel. */
#define TH_DMA_SUM 10
/* test_hook(TH_DMA_KILLS): processes killed so far because their queue
 * pair made the NIC fault. */
#define TH_DMA_KILLS 11

#define TH_TARGET_KERNEL 0
#define TH_TARGET_VICTIM 1

#define TH_PROBE_PENDING 0
#define TH_PROBE_BLOCKED 1
#define TH_PROBE_READ	 2
