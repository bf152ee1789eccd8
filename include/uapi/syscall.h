/*
 * System-call numbers and argument structures. Convention (as Linux):
 * number in rax; arguments in rdi, rsi, rdx, r10, r8, r9; result in rax,
 * a negative errno (include/uapi/errno.h) on failure. rcx and r11 are
 * clobbered by SYSCALL itself. No call blocks except SYS_wait.
 */
#pragma once

#include <stdint.h>

#define SYS_exit	  0  /* (int status) -> does not return */
#define SYS_console_write 1  /* (const void *buf, size_t len) -> bytes written */
#define SYS_vmspace_alloc 2  /* (size_t len, int prot) -> address */
#define SYS_vmspace_free  3  /* (void *addr, size_t len) -> 0 */
#define SYS_getpid	  4  /* () -> pid */
#define SYS_clock_gettime 5  /* (int clock, struct mc_timespec *ts) -> 0 */
#define SYS_wait	  6  /* (uint64_t timeout_ns) -> events pending, 0 on timeout */
#define SYS_timer_set	  7  /* (uint64_t deadline_ns, uint64_t cookie) -> 0 */
#define SYS_yield	  8  /* () -> 0 */
#define SYS_net_attach	  9  /* (const char *name, unsigned qp, struct mc_net_layout *) -> 0 */
#define SYS_net_info	  10 /* (const char *name, struct mc_net_info *) -> 0 */
#define SYS_thread_start  11 /* (unsigned cpu, void *entry, uint64_t arg, void *stack) -> tid */
#define SYS_thread_exit	  12 /* (int status) -> does not return */
#define SYS_thread_wake	  13 /* (unsigned tid, uint64_t value) -> 0 */
#define SYS_MAX		  14
/* (unsigned op, uint64_t arg) -> depends on op; only for test kernels booted
 * with `testhooks`, -ENOSYS otherwise (include/uapi/testhook.h) */
#define SYS_test_hook 63

/* vmspace_alloc protection bits; W and X together are refused (W^X). */
#define PROT_NONE  0
#define PROT_READ  1
#define PROT_WRITE 2
#define PROT_EXEC  4

#define CLOCK_MONOTONIC 1

/* wait(): a timeout of WAIT_FOREVER never expires; 0 only polls. */
#define WAIT_FOREVER UINT64_MAX

/* Largest single console_write; longer writes are truncated to this. */
#define CONSOLE_WRITE_MAX 4096

struct mc_timespec {
	uint64_t sec;
	uint64_t nsec;
};
_Static_assert(sizeof(struct mc_timespec) == 16, "ABI");
