/* Exception fixups for kernel instructions that may fault on purpose. */
#pragma once

#include <kernel/types.h>

struct trap_frame;

#define EXTABLE_PROBE	1 /* a deliberate probe: the fault is reported */
#define EXTABLE_UACCESS 2 /* a user copy that lost a race with an unmap: -EFAULT */

/* If tf->rip is a listed instruction, point tf->rip at its fixup and
 * return its EXTABLE_* kind; 0 if the fault was not expected. */
int extable_fixup(struct trap_frame *tf);
/* Copy between kernel and user memory; -EFAULT if a user page is gone. The
 * caller has checked the range (kernel/uaccess.c). */
int copy_user_bytes(void *dst, const void *src, size_t len);
/* Read one user byte; -EFAULT if its page is gone. */
int get_user_u8(uint8_t *out, uintptr_t uaddr);
/*
 * Read 8 bytes at a kernel-chosen address with no check and no SMAP
 * override: 0, or -EFAULT if the access faulted (the fault is reported by
 * the trap handler, then execution resumes). Only for self-test probes.
 */
int probe_read64(uintptr_t addr, uint64_t *val);
