/* Virtual memory layout of the kernel half and the user range. */
#pragma once

#define KERNEL_VMA  0xffffffff80000000
#define KERNEL_PHYS 0x200000

/* PML4 slot 256 onward: all RAM, see include/mm/phys.h. */
#define DIRECT_MAP_PML4 256
/* Device MMIO mapped uncached, allocated upward from here. */
#define MMIO_WINDOW_BASE 0xffffc00000000000
#define MMIO_WINDOW_SIZE 0x0000008000000000
/* Kernel stacks (per-CPU and IST), each above an unmapped guard page. */
#define STACK_WINDOW_BASE 0xffffc08000000000
#define STACK_WINDOW_SIZE 0x0000008000000000

/*
 * User space: the canonical lower half, less its first 4 MiB and its last
 * page. A SYSCALL in the last byte of that page would return to RIP 2^47,
 * which is not canonical, and the return to user mode would fault in ring 0
 * on real hardware; so that page is never mapped (Linux's TASK_SIZE_MAX).
 */
#define USER_CANONICAL_END 0x0000800000000000UL
#define USER_MIN	   0x0000000000400000UL
#define USER_MAX	   (USER_CANONICAL_END - 0x1000UL)

#define KSTACK_SIZE (16 * 1024)
