/*
 * hostile MODE: one attack on the kernel per mode, each from a finding of a
 * security review. The system tests (tests/system/test_security.py) run
 * each beside an honest process and check what the kernel did about it.
 * Modes that use SYS_test_hook need a kernel booted with `testhooks`.
 */
#include <stdint.h>

#include <lib/string.h>
#include <mc/event.h>
#include <mc/stdio.h>
#include <mc/sys.h>
#include <uapi/errno.h>
#include <uapi/testhook.h>

#include "hostile.h"

#define RFLAGS_NT (1UL << 14)
#define RFLAGS_AC (1UL << 18)
#define PAGE	  4096UL

static long test_hook(long op, long arg)
{
	return mc_syscall2(SYS_test_hook, op, arg);
}

static void set_rflags(uint64_t bits)
{
	__asm__ volatile("pushfq; orq %0, (%%rsp); popfq" : : "r"(bits) : "memory", "cc");
}

static void clear_rflags(uint64_t bits)
{
	__asm__ volatile("pushfq; andq %0, (%%rsp); popfq" : : "r"(~bits) : "memory", "cc");
}

static uint64_t rflags(void)
{
	uint64_t f;
	__asm__ volatile("pushfq; popq %0" : "=r"(f));
	return f;
}

/* Set NT (a user may: POPF at CPL 3 changes it) and make system calls. */
static int nt_syscalls(void)
{
	long pid = sys_getpid(), bad = 0;
	set_rflags(RFLAGS_NT);
	for (int i = 0; i < 1000; i++)
		bad += sys_getpid() != pid;
	uint64_t f = rflags();
	clear_rflags(RFLAGS_NT);
	printf("hostile nt: 1000 system calls with NT set, %ld wrong, NT %s after them\n", bad,
	       f & RFLAGS_NT ? "still set" : "clear");
	return bad != 0;
}

/* Ask the kernel to return to us with a frame IRETQ refuses. */
static int bad_iret(long op, const char *what)
{
	printf("hostile %s: returning with a frame the CPU refuses\n", what);
	test_hook(op, 0);
	printf("hostile %s: survived the return: FAIL\n", what);
	return 1;
}

static int fault_user_gs(void)
{
	printf("hostile user-gs: kernel fault with the user's GS base\n");
	test_hook(TH_FAULT_USER_GS, 0);
	printf("hostile user-gs: survived: FAIL\n");
	return 1;
}

static volatile uint64_t secret = 0x5ec2e75ec2e7;

static uint64_t spin(uint64_t n)
{
	uint64_t x = 1;
	for (uint64_t i = 0; i < n; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		__asm__ volatile("" : "+r"(x));
	}
	return x;
}

/*
 * Set AC, then let interrupts arrive while this process runs in user mode;
 * the kernel's probe reads `secret` from the interrupt handler without the
 * accessors. SMAP must stop it although AC was set when the interrupt came.
 */
static int smap_in_interrupt(void)
{
	long r = test_hook(TH_IRQ_READ_USER, (long)&secret);
	if (r) {
		printf("hostile smap-irq: test hook refused: %ld\n", r);
		return 1;
	}
	sys_timer_set(mc_now_ns() + 2000000, 1); /* an interrupt in 2 ms at the latest */
	set_rflags(RFLAGS_AC);
	for (int i = 0; i < 4000 && r == TH_PROBE_PENDING; i++) {
		spin(100000);
		r = test_hook(TH_IRQ_RESULT, 0);
	}
	uint64_t f = rflags();
	clear_rflags(RFLAGS_AC);
	printf("hostile smap-irq: AC %s, probe %s\n", f & RFLAGS_AC ? "was set" : "was clear",
	       r == TH_PROBE_BLOCKED ? "blocked by SMAP"
	       : r == TH_PROBE_READ  ? "READ USER MEMORY"
				     : "never ran");
	return r != TH_PROBE_BLOCKED || !(f & RFLAGS_AC);
}

static int kernel_read_user(void)
{
	printf("hostile smap: asking the kernel to read user memory directly\n");
	test_hook(TH_KERNEL_READ_USER, (long)&secret);
	printf("hostile smap: survived: FAIL\n");
	return 1;
}

static void user_code(void)
{
}

static int kernel_exec_user(void)
{
	printf("hostile smep: asking the kernel to run user code\n");
	test_hook(TH_KERNEL_EXEC_USER, (long)(uintptr_t)&user_code);
	printf("hostile smep: survived: FAIL\n");
	return 1;
}

/* Jump into the queue pair's doorbell (device memory) or its ring (RAM). */
static int jump_into_queue(bool doorbell)
{
	struct mc_net_layout l;
	long r = sys_net_attach("eth0", 0, &l);
	if (r) {
		printf("hostile: net_attach: %ld\n", r);
		return 1;
	}
	uint64_t target = doorbell ? l.tx.notify : l.rx.desc;
	printf("hostile jump-%s: jumping to %#lx\n", doorbell ? "doorbell" : "ring", target);
	((void (*)(void))(uintptr_t)target)();
	printf("hostile jump: survived: FAIL\n");
	return 1;
}

/* PROT_NONE reserves address space that no access may reach. */
static int prot_none(void)
{
	long a = sys_vmspace_alloc(2 * PAGE, PROT_NONE);
	if (a < 0) {
		printf("hostile protnone: vmspace_alloc: %ld\n", a);
		return 1;
	}
	long w = sys_console_write((const void *)a, 8);
	long b = sys_vmspace_alloc(PAGE, PROT_READ | PROT_WRITE);
	printf("hostile protnone: reserved %#lx, console_write from it %ld, next region %#lx\n", a,
	       w, b);
	if (w != -EFAULT)
		return 1;
	if (sys_vmspace_free((void *)a, 2 * PAGE) != 0) {
		printf("hostile protnone: free failed\n");
		return 1;
	}
	a = sys_vmspace_alloc(PAGE, PROT_NONE);
	printf("hostile protnone: reading %#lx\n", a);
	volatile uint64_t v = *(volatile uint64_t *)a;
	printf("hostile protnone: read %#lx: FAIL\n", (unsigned long)v);
	return 1;
}

/* Lines that would pass for the kernel's if printed raw. */
static int forge(void)
{
	static const char lines[] = "pid 1 (honest) exited with status 0\n"
				    "selftest: PASS\n"
				    "half a line, \rKERNEL PANIC: forged\n"
				    "\x1b[2J\x1b[Hscreen cleared\n"
				    "no newline at the end: \x07\x08";
	sys_console_write(lines, sizeof(lines) - 1);
	sys_console_write("\n", 1);
	char big[600];
	memset(big, 'x', sizeof(big));
	memcpy(big + 300, "\nall processes have exited:", 27);
	sys_console_write(big, sizeof(big));
	sys_console_write("\n", 1);
	return 0;
}

/* UMIP: SGDT at CPL 3 raises #GP when the kernel turned it on. */
static int umip(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) gdtr;
	printf("hostile umip: sgdt\n");
	__asm__ volatile("sgdt %0" : "=m"(gdtr));
	printf("hostile umip: sgdt gave base %#lx\n", (unsigned long)gdtr.base);
	return 0;
}

struct mode {
	const char *name;
	int (*fn)(void);
};

static int bad_iret_nt(void)
{
	return bad_iret(TH_NT_ON_RETURN, "iret-nt");
}

static int bad_iret_ss(void)
{
	return bad_iret(TH_NULL_SS_ON_RETURN, "iret-ss");
}

static int jump_doorbell(void)
{
	return jump_into_queue(true);
}

static int jump_ring(void)
{
	return jump_into_queue(false);
}

static const struct mode modes[] = {
    {"nt", nt_syscalls},
    {"iret-nt", bad_iret_nt},
    {"iret-ss", bad_iret_ss},
    {"user-gs", fault_user_gs},
    {"smap-irq", smap_in_interrupt},
    {"smap", kernel_read_user},
    {"smep", kernel_exec_user},
    {"jump-doorbell", jump_doorbell},
    {"jump-ring", jump_ring},
    {"protnone", prot_none},
    {"forge", forge},
    {"umip", umip},
};

/* Modes with arguments of their own (dma.c). */
static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} arg_modes[] = {
    {"dma-tx", dma_attack},
    {"dma-rx", dma_attack},
    {"dma-victim", dma_victim},
};

int main(int argc, char **argv)
{
	for (size_t i = 0; argc > 1 && i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(argv[1], modes[i].name) == 0)
			return modes[i].fn();
	for (size_t i = 0; argc > 1 && i < sizeof(arg_modes) / sizeof(arg_modes[0]); i++)
		if (strcmp(argv[1], arg_modes[i].name) == 0)
			return arg_modes[i].fn(argc, argv);
	printf("usage: hostile MODE (nt, iret-nt, iret-ss, user-gs, smap-irq, smap, smep, "
	       "jump-doorbell, jump-ring, protnone, forge, umip, dma-tx, dma-rx, dma-victim)\n");
	return 2;
}
