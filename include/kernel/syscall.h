/* System-call entry and the handlers that live outside kernel/syscall.c. */
#pragma once

#include <arch/trap.h>

struct process;
struct thread;

void syscall_dispatch(struct trap_frame *tf);

long sys_net_attach(struct thread *t, uint64_t uname, uint64_t qp, uint64_t ulayout);
long sys_net_info(struct process *p, uint64_t uname, uint64_t uinfo);
