/* Scheduler hooks (placeholder until processes exist). */
#include <kernel/printk.h>
#include <kernel/sched.h>

void sched_user_fault(struct trap_frame *tf)
{
	trap_dump(tf);
	panic("user-mode exception with no process to blame");
}

void sched_trap_exit(struct trap_frame *tf)
{
	(void)tf;
}
