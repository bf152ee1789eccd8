/* libc forms of the system calls: -1 (or NULL) and errno on failure. */
#include <mc/errno.h>
#include <mc/sys.h>

long getpid(void)
{
	return mc_syscall_ret(sys_getpid());
}

int clock_gettime(int clock, struct mc_timespec *ts)
{
	return (int)mc_syscall_ret(sys_clock_gettime(clock, ts));
}

void *vmspace_alloc(size_t len, int prot)
{
	long rc = mc_syscall_ret(sys_vmspace_alloc(len, prot));

	return rc == -1 ? NULL : (void *)rc;
}

int vmspace_free(void *addr, size_t len)
{
	return (int)mc_syscall_ret(sys_vmspace_free(addr, len));
}

int timer_set(uint64_t deadline_ns, uint64_t cookie)
{
	return (int)mc_syscall_ret(sys_timer_set(deadline_ns, cookie));
}

int yield(void)
{
	return (int)mc_syscall_ret(sys_yield());
}
