/*
 * System-call dispatch. Each call validates everything first (decode) and
 * then acts (invoke); no call blocks except wait, which only marks the
 * process waiting: the switch happens on the way out, in sched_trap_exit.
 */
#include <arch/cpu.h>
#include <arch/gdt.h>
#include <arch/percpu.h>
#include <kernel/phys.h>
#include <kernel/printk.h>
#include <kernel/proc.h>
#include <kernel/sched.h>
#include <kernel/syscall.h>
#include <kernel/testhook.h>
#include <kernel/time.h>
#include <kernel/uaccess.h>
#include <uapi/errno.h>
#include <uapi/syscall.h>

static long sys_exit(struct process *p, uint64_t status)
{
	proc_exit(p, (int)status);
	return 0;
}

static long sys_console_write(struct process *p, uint64_t ubuf, uint64_t len)
{
	char buf[256];
	if (len > CONSOLE_WRITE_MAX)
		len = CONSOLE_WRITE_MAX;
	/* Check the whole range first: a bad buffer writes nothing. */
	if (!vmspace_check(&p->vs, ubuf, len, false))
		return -EFAULT;
	for (uint64_t off = 0; off < len; off += sizeof(buf)) {
		size_t n = MIN(sizeof(buf), len - off);
		if (copy_from_user(buf, ubuf + off, n))
			return -EFAULT;
		proc_console_write(p, buf, n);
	}
	return (long)len;
}

static long sys_vmspace_alloc(struct process *p, uint64_t len, uint64_t prot)
{
	if (len == 0 || (prot & ~(uint64_t)(PROT_READ | PROT_WRITE | PROT_EXEC)))
		return -EINVAL;
	if ((prot & PROT_WRITE) && (prot & PROT_EXEC))
		return -EINVAL; /* W^X */
	if (len > VMSPACE_STACK_TOP - VMSPACE_ANON_BASE)
		return -ENOMEM;
	return vmspace_map_anon(&p->vs, 0, len, (int)prot, VMR_ANON);
}

static long sys_vmspace_free(struct process *p, uint64_t addr, uint64_t len)
{
	if (len == 0 || addr & (PAGE_SIZE - 1))
		return -EINVAL;
	return vmspace_free(&p->vs, addr, len);
}

static long sys_clock_gettime(struct process *p, uint64_t clock, uint64_t uts)
{
	(void)p;
	if (clock != CLOCK_MONOTONIC)
		return -EINVAL;
	uint64_t now = time_ns();
	struct mc_timespec ts = {now / NSEC_PER_SEC, now % NSEC_PER_SEC};
	return copy_to_user(uts, &ts, sizeof(ts));
}

static long sys_timer_set(struct process *p, uint64_t deadline, uint64_t cookie)
{
	p->timer_deadline = deadline; /* 0 disarms; a past deadline fires now */
	p->timer_cookie = cookie;
	if (deadline && deadline <= time_ns())
		p->timer_deadline = 1;
	sched_note_deadline(p, p->timer_deadline);
	return 0;
}

static long syscall_invoke(struct process *p, struct trap_frame *tf)
{
	uint64_t a0 = tf->rdi, a1 = tf->rsi, a2 = tf->rdx;
	switch (tf->rax) {
	case SYS_exit:
		return sys_exit(p, a0);
	case SYS_console_write:
		return sys_console_write(p, a0, a1);
	case SYS_vmspace_alloc:
		return sys_vmspace_alloc(p, a0, a1);
	case SYS_vmspace_free:
		return sys_vmspace_free(p, a0, a1);
	case SYS_getpid:
		return p->pid;
	case SYS_clock_gettime:
		return sys_clock_gettime(p, a0, a1);
	case SYS_wait:
		return sched_wait(p, a0);
	case SYS_timer_set:
		return sys_timer_set(p, a0, a1);
	case SYS_yield:
		sched_yield(p);
		return 0;
	case SYS_net_attach:
		return sys_net_attach(p, a0, a1, a2);
	case SYS_net_info:
		return sys_net_info(p, a0, a1);
	case SYS_test_hook:
		return sys_test_hook(p, tf, a0, a1);
	default:
		return -ENOSYS;
	}
}

void syscall_dispatch(struct trap_frame *tf)
{
	struct process *p = this_cpu()->current;
	p->syscalls++;
	tf->rax = (uint64_t)syscall_invoke(p, tf);
	sched_trap_exit(tf);
}
