/* The test-hook system call (include/uapi/testhook.h), on with `testhooks`. */
#pragma once

#include <kernel/types.h>

struct thread;
struct trap_frame;

void testhook_init(void);
long sys_test_hook(struct thread *t, struct trap_frame *tf, uint64_t op, uint64_t arg);
/* Called for every interrupt taken from user mode, after its handler. */
void testhook_user_interrupt(struct trap_frame *tf);
