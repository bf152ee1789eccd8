/* Exception fixups for kernel instructions that may fault on purpose. */
#pragma once

#include <kernel/types.h>

struct trap_frame;

/* If tf->rip is a listed instruction, point tf->rip at its fixup and
 * return true: the fault was expected. */
bool extable_fixup(struct trap_frame *tf);
/*
 * Read 8 bytes at a kernel-chosen address with no check and no SMAP
 * override: 0, or -EFAULT if the access faulted (the fault is reported by
 * the trap handler, then execution resumes). Only for self-test probes.
 */
int probe_read64(uintptr_t addr, uint64_t *val);
