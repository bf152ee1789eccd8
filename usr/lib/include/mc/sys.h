/* System-call wrappers (raw: negative errno) and errno-setting libc forms. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <uapi/net.h>
#include <uapi/syscall.h>

/*
 * The SYSCALL instruction: number in rax, arguments in rdi, rsi, rdx, r10,
 * r8, r9; the result comes back in rax. SYSCALL itself overwrites rcx (return
 * rip) and r11 (rflags); "memory" because the kernel reads and writes
 * user buffers behind the compiler's back.
 */
static inline long mc_syscall6(long n, long a1, long a2, long a3, long a4, long a5, long a6)
{
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

static inline long mc_syscall3(long n, long a1, long a2, long a3)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a1), "S"(a2), "d"(a3)
			 : "rcx", "r11", "memory");
	return ret;
}

static inline long mc_syscall2(long n, long a1, long a2)
{
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a1), "S"(a2) : "rcx", "r11", "memory");
	return ret;
}

static inline long mc_syscall1(long n, long a1)
{
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a1) : "rcx", "r11", "memory");
	return ret;
}

static inline long mc_syscall0(long n)
{
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "a"(n) : "rcx", "r11", "memory");
	return ret;
}

/* One wrapper per call in include/uapi/syscall.h; results are raw. */
__attribute__((noreturn)) static inline void sys_exit(int status)
{
	mc_syscall1(SYS_exit, status);
	__builtin_trap(); /* exit never returns; if it did, fault loudly */
}

static inline long sys_console_write(const void *buf, size_t len)
{
	return mc_syscall2(SYS_console_write, (long)buf, (long)len);
}

/* Returns the address of fresh zeroed pages, or a negative errno. */
static inline long sys_vmspace_alloc(size_t len, int prot)
{
	return mc_syscall2(SYS_vmspace_alloc, (long)len, prot);
}

static inline long sys_vmspace_free(void *addr, size_t len)
{
	return mc_syscall2(SYS_vmspace_free, (long)addr, (long)len);
}

static inline long sys_getpid(void)
{
	return mc_syscall0(SYS_getpid);
}

static inline long sys_clock_gettime(int clock, struct mc_timespec *ts)
{
	return mc_syscall2(SYS_clock_gettime, clock, (long)ts);
}

/* Sleeps until an event is pending or timeout_ns passes (WAIT_FOREVER). */
static inline long sys_wait(uint64_t timeout_ns)
{
	return mc_syscall1(SYS_wait, (long)timeout_ns);
}

static inline long sys_timer_set(uint64_t deadline_ns, uint64_t cookie)
{
	return mc_syscall2(SYS_timer_set, (long)deadline_ns, (long)cookie);
}

static inline long sys_yield(void)
{
	return mc_syscall0(SYS_yield);
}

static inline long sys_net_attach(const char *name, unsigned int qp, struct mc_net_layout *layout)
{
	return mc_syscall3(SYS_net_attach, (long)name, qp, (long)layout);
}

static inline long sys_net_info(const char *name, struct mc_net_info *info)
{
	return mc_syscall2(SYS_net_info, (long)name, (long)info);
}

/*
 * libc forms: on failure they set errno (<mc/errno.h>) and return -1, or
 * NULL for vmspace_alloc (no mapping ever starts at address 0).
 */
long getpid(void);
int clock_gettime(int clock, struct mc_timespec *ts);
void *vmspace_alloc(size_t len, int prot);
int vmspace_free(void *addr, size_t len);
int timer_set(uint64_t deadline_ns, uint64_t cookie);
int yield(void);
