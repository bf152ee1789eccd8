/*
 * System-call dispatch. Each call validates everything first (decode) and
 * then acts (invoke); no call blocks except wait, which only marks the
 * process waiting: the switch happens on the way out, in sched_trap_exit.
 */
#include <arch/cpu.h>
#include <arch/gdt.h>
#include <arch/percpu.h>
#include <kernel/printk.h>
#include <kernel/proc.h>
#include <kernel/sched.h>
#include <kernel/syscall.h>
#include <kernel/testhook.h>
#include <kernel/time.h>
#include <kernel/uaccess.h>
#include <mm/phys.h>
#include <uapi/errno.h>
#include <uapi/syscall.h>

static long sys_exit(struct thread *t, uint64_t status)
{
	proc_exit(t->proc, (int)status);
	return 0;
}

static long sys_thread_exit(struct thread *t, uint64_t status)
{
	thread_exit(t, (int)status);
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

static long sys_clock_gettime(uint64_t clock, uint64_t uts)
{
	if (clock != CLOCK_MONOTONIC)
		return -EINVAL;
	uint64_t now = time_ns();
	struct mc_timespec ts = {now / NSEC_PER_SEC, now % NSEC_PER_SEC};
	return copy_to_user(uts, &ts, sizeof(ts));
}

/* One timer per thread; its EV_TIMER goes to that thread's ring. */
static long sys_timer_set(struct thread *t, uint64_t deadline, uint64_t cookie)
{
	t->timer_deadline = deadline; /* 0 disarms; a past deadline fires now */
	t->timer_cookie = cookie;
	if (deadline && deadline <= time_ns())
		t->timer_deadline = 1;
	sched_note_deadline(t, t->timer_deadline);
	return 0;
}

static long syscall_invoke(struct thread *t, struct trap_frame *tf)
{
	struct process *p = t->proc;
	uint64_t a0 = tf->rdi, a1 = tf->rsi, a2 = tf->rdx, a3 = tf->r10;
	switch (tf->rax) {
	case SYS_exit:
		return sys_exit(t, a0);
	case SYS_console_write:
		return sys_console_write(p, a0, a1);
	case SYS_vmspace_alloc:
		return sys_vmspace_alloc(p, a0, a1);
	case SYS_vmspace_free:
		return sys_vmspace_free(p, a0, a1);
	case SYS_getpid:
		return p->pid;
	case SYS_clock_gettime:
		return sys_clock_gettime(a0, a1);
	case SYS_wait:
		return sched_wait(t, a0);
	case SYS_timer_set:
		return sys_timer_set(t, a0, a1);
	case SYS_yield:
		sched_yield(t);
		return 0;
	case SYS_net_attach:
		return sys_net_attach(t, a0, a1, a2);
	case SYS_net_info:
		return sys_net_info(p, a0, a1);
	case SYS_thread_start:
		return sys_thread_start(t, a0, a1, a2, a3);
	case SYS_thread_exit:
		return sys_thread_exit(t, a0);
	case SYS_thread_wake:
		return sys_thread_wake(t, a0, a1);
	case SYS_test_hook:
		return sys_test_hook(t, tf, a0, a1);
	default:
		return -ENOSYS;
	}
}

void syscall_dispatch(struct trap_frame *tf)
{
	struct thread *t = this_cpu()->current;
	t->syscalls++;
	tf->rax = (uint64_t)syscall_invoke(t, tf);
	sched_trap_exit(tf);
}
