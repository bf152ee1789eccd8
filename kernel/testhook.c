/*
 * Test hooks: a system call that makes the kernel misbehave on purpose, so
 * system tests can prove the defences (bad-IRET recovery, per-CPU data
 * found without GS, SMAP in interrupts, SMEP). Off unless the kernel command
 * line says `testhooks`: a production boot answers -ENOSYS.
 */
#include <arch/cpu.h>
#include <arch/extable.h>
#include <arch/memlayout.h>
#include <arch/percpu.h>
#include <arch/trap.h>
#include <kernel/cmdline.h>
#include <kernel/printk.h>
#include <kernel/proc.h>
#include <kernel/testhook.h>
#include <kernel/time.h>
#include <uapi/errno.h>
#include <uapi/testhook.h>

static bool enabled;

void testhook_init(void)
{
	enabled = cmdline_has("testhooks");
	if (enabled)
		printk("testhooks: on (test kernels only)\n");
}

static bool user_addr(uint64_t a)
{
	return a >= USER_MIN && a < USER_MAX;
}

__attribute__((noinline)) static void fault_with_user_gs(void)
{
	__asm__ volatile("swapgs; ud2" : : : "memory");
}

long sys_test_hook(struct thread *p, struct trap_frame *tf, uint64_t op, uint64_t arg)
{
	if (!enabled)
		return -ENOSYS;
	switch (op) {
	case TH_NT_ON_RETURN:
		/* a fresh slice: this very return must go to p, not another */
		p->slice_end = time_ns() + NSEC_PER_SEC;
		__asm__ volatile("pushfq; orq %0, (%%rsp); popfq" : : "i"(RFLAGS_NT) : "memory");
		return 0;
	case TH_NULL_SS_ON_RETURN:
		tf->ss = 3; /* null selector, RPL 3 */
		return 0;
	case TH_FAULT_USER_GS:
		fault_with_user_gs();
		return 0;
	case TH_IRQ_READ_USER:
		if (!user_addr(arg))
			return -EINVAL;
		p->probe_uaddr = arg;
		p->probe_result = TH_PROBE_PENDING;
		return 0;
	case TH_IRQ_RESULT:
		return p->probe_result;
	case TH_KERNEL_READ_USER:
		if (!user_addr(arg))
			return -EINVAL;
		return (long)*(volatile uint64_t *)arg;
	case TH_KERNEL_EXEC_USER:
		if (!user_addr(arg))
			return -EINVAL;
		((void (*)(void))arg)();
		return 0;
	default:
		return -EINVAL;
	}
}

void testhook_user_interrupt(struct trap_frame *tf)
{
	(void)tf;
	if (!enabled)
		return;
	struct thread *p = this_cpu()->current;
	if (!p || !p->probe_uaddr)
		return;
	uint64_t addr = p->probe_uaddr, v;
	p->probe_uaddr = 0;
	if (probe_read64(addr, &v) == 0) {
		p->probe_result = TH_PROBE_READ;
		printk("testhooks: interrupt handler read user address %#lx: SMAP was off\n", addr);
	} else {
		p->probe_result = TH_PROBE_BLOCKED;
		printk("testhooks: interrupt handler read of user address %#lx was stopped\n",
		       addr);
	}
}
