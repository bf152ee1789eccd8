/* Exception and interrupt dispatch, and the register dump for fatal traps. */
#include <arch/apic.h>
#include <arch/cpu.h>
#include <arch/extable.h>
#include <arch/memlayout.h>
#include <arch/percpu.h>
#include <arch/trap.h>
#include <kernel/ksyms.h>
#include <kernel/printk.h>
#include <kernel/sched.h>
#include <kernel/testhook.h>
#include <lib/format.h>
#include <mm/phys.h>
#include <mm/vm.h>

extern const char trap_iret_user[];

static const char *const exception_names[32] = {
    [VEC_DE] = "divide error",
    [VEC_DB] = "debug",
    [VEC_NMI] = "NMI",
    [VEC_BP] = "breakpoint",
    [4] = "overflow",
    [5] = "bound range exceeded",
    [VEC_UD] = "invalid opcode",
    [VEC_NM] = "device not available",
    [VEC_DF] = "double fault",
    [VEC_TS] = "invalid TSS",
    [VEC_NP] = "segment not present",
    [VEC_SS] = "stack-segment fault",
    [VEC_GP] = "general protection fault",
    [VEC_PF] = "page fault",
    [VEC_MF] = "x87 floating-point error",
    [VEC_AC] = "alignment check",
    [VEC_MC] = "machine check",
    [VEC_XM] = "SIMD floating-point exception",
    [20] = "virtualization exception",
    [21] = "control protection exception",
};

const char *trap_name(unsigned vector)
{
	if (vector < 32 && exception_names[vector])
		return exception_names[vector];
	return vector < 32 ? "reserved exception" : "interrupt";
}

void trap_dump(const struct trap_frame *tf)
{
	printk("%s (vector %lu) error %#lx on CPU %u\n", trap_name(tf->vector), tf->vector,
	       tf->error, this_cpu() ? this_cpu()->id : 0);
	printk("RIP %016lx CS %04lx RFLAGS %016lx CR2 %016lx\n", tf->rip, tf->cs, tf->rflags,
	       read_cr2());
	printk("RSP %016lx SS %04lx CR3 %016lx\n", tf->rsp, tf->ss, read_cr3());
	printk("RAX %016lx RBX %016lx RCX %016lx RDX %016lx\n", tf->rax, tf->rbx, tf->rcx, tf->rdx);
	printk("RSI %016lx RDI %016lx RBP %016lx R8  %016lx\n", tf->rsi, tf->rdi, tf->rbp, tf->r8);
	printk("R9  %016lx R10 %016lx R11 %016lx R12 %016lx\n", tf->r9, tf->r10, tf->r11, tf->r12);
	printk("R13 %016lx R14 %016lx R15 %016lx\n", tf->r13, tf->r14, tf->r15);
}

/* What a kernel-mode page fault on a user address means (SDM 4.6.1). */
static const char *user_access_cause(const struct trap_frame *tf, uint64_t addr)
{
	if (tf->vector != VEC_PF || addr >= USER_MAX)
		return NULL;
	if (!(tf->error & PFERR_P))
		return "the kernel touched an unmapped user address";
	if (tf->error & PFERR_I)
		return "SMEP: the kernel tried to execute a user page";
	if (cpu_smap && !(tf->rflags & RFLAGS_AC))
		return "SMAP: the kernel touched a user page outside the checked accessors";
	return "the kernel touched a user page";
}

/* Which stack has its guard page at addr: "CPU n's kernel stack", ... */
static bool name_guard(uint64_t addr, char *buf, size_t len)
{
	static const char *const ist[3] = {"double-fault", "NMI", "machine-check"};
	for (unsigned i = 0; i < MAX_CPUS; i++) {
		const struct cpu *c = &cpus[i];
		if (c->self != c)
			continue;
		uint64_t base = c->kstack_top - KSTACK_SIZE;
		if (addr >= base - PAGE_SIZE && addr < base) {
			fmt_snprintf(buf, len, "CPU %u's kernel stack", i);
			return true;
		}
		for (int j = 0; j < 3; j++) {
			base = c->ist_top[j] - IST_STACK_SIZE;
			if (addr >= base - PAGE_SIZE && addr < base) {
				fmt_snprintf(buf, len, "CPU %u's %s stack", i, ist[j]);
				return true;
			}
		}
	}
	return false;
}

/*
 * A kernel stack ran into the unmapped page below it (mm/vm.c). Pushing
 * the page fault's frame there faults again, so it arrives as a double
 * fault on its own IST stack: its RSP, or the address (CR2), is in a guard.
 */
static const char *stack_overflow_cause(const struct trap_frame *tf, uint64_t addr)
{
	static char why[96];
	char which[40] = "a kernel stack";
	uint64_t hit;
	if (tf->vector == VEC_DF && vm_stack_guard(tf->rsp - 8))
		hit = tf->rsp - 8;
	else if ((tf->vector == VEC_DF || tf->vector == VEC_PF) && vm_stack_guard(addr))
		hit = addr;
	else
		return NULL;
	name_guard(hit, which, sizeof(which));
	fmt_snprintf(why, sizeof(why), "kernel stack overflow: %#lx is in the guard page below %s",
		     hit, which);
	return why;
}

static void __noreturn kernel_exception(struct trap_frame *tf)
{
	/* GS may hold a user's base here: find this CPU another way first. */
	percpu_recover();
	panic_begin();
	const char *cause = stack_overflow_cause(tf, read_cr2());
	if (!cause)
		cause = user_access_cause(tf, read_cr2());
	printk("\nKERNEL PANIC: unhandled %s in kernel mode%s%s%s\n", trap_name(tf->vector),
	       cause ? " (" : "", cause ? cause : "", cause ? ")" : "");
	trap_dump(tf);
	ksym_backtrace(tf->rip, tf->rbp);
	panic_end();
}

/* An expected fault in a probe (arch/x86_64/extable.c): say what it was. */
static bool kernel_fixup(struct trap_frame *tf)
{
	uint64_t rip = tf->rip, addr = read_cr2();
	int kind = extable_fixup(tf);
	if (!kind)
		return false;
	if (kind == EXTABLE_UACCESS)
		return true; /* the copy returns -EFAULT */
	const char *cause = user_access_cause(tf, addr);
	printk("kernel: %s at RIP %#lx, address %#lx: %s; recovered by its fixup\n",
	       trap_name(tf->vector), rip, addr, cause ? cause : "kernel fault");
	return true;
}

/*
 * The CPU refused the frame that trap_iret_user (entry.S) returns to user
 * mode with: RFLAGS or RIP the IRETQ cannot take. The fault is the process's
 * (Linux calls this a bad IRET): rebuild the frame it was returning to,
 * which sits where the fault's own RSP points, and kill it with the usual
 * report. entry.S has already restored the kernel's GS base.
 */
static bool bad_iret(const struct trap_frame *tf)
{
	return tf->rip == (uint64_t)trap_iret_user &&
	       (tf->vector == VEC_GP || tf->vector == VEC_NP || tf->vector == VEC_SS);
}

static void bad_iret_to_user(struct trap_frame *tf)
{
	const uint64_t *iret = (const uint64_t *)tf->rsp; /* rip, cs, rflags, rsp, ss */
	tf->rip = iret[0];
	tf->cs = iret[1];
	tf->rflags = iret[2];
	tf->rsp = iret[3];
	tf->ss = iret[4];
}

/* NMIs stop CPUs for a panic; they may arrive with a user's GS base, so
 * this path uses no per-CPU data. Any other NMI is counted and ignored. */
static unsigned long stray_nmis;

static void nmi(void)
{
	if (panic_in_progress())
		cpu_halt_forever();
	__atomic_add_fetch(&stray_nmis, 1, __ATOMIC_RELAXED);
}

static void (*injection_hook)(void);

void trap_set_injection_hook(void (*fn)(void))
{
	__atomic_store_n(&injection_hook, fn, __ATOMIC_RELEASE);
}

/*
 * An interrupt message named exception vector v: a device wrote to the
 * interrupt range (0xfee00000-0xfeefffff), which no IOMMU stopped (QEMU
 * 7.2 passes compatibility-format messages even with interrupt remapping
 * on). Not an exception: acknowledged, counted, reported at powers of
 * two, and the drivers look for who aimed the device there. No per-CPU
 * data: it may come with a user's GS base only on paths entry.S fixes.
 */
static unsigned long injected;

static void injected_interrupt(unsigned v)
{
	unsigned long n = __atomic_add_fetch(&injected, 1, __ATOMIC_RELAXED);
	apic_eoi();
	if (!(n & (n - 1)))
		printk("kernel: interrupt message on exception vector %u (a device's DMA to the "
		       "interrupt range?): ignored (%lu so far)\n",
		       v, n);
	void (*fn)(void) = __atomic_load_n(&injection_hook, __ATOMIC_ACQUIRE);
	if (fn)
		fn();
}

void trap_dispatch(struct trap_frame *tf)
{
	if (tf->vector >= VEC_INJECTED || (tf->vector < 32 && apic_in_service(tf->vector))) {
		injected_interrupt(tf->vector % VEC_INJECTED);
		tf->vector %= VEC_INJECTED;
		if (trap_from_user(tf))
			sched_trap_exit(tf);
		return;
	}
	if (tf->vector == VEC_NMI) {
		nmi();
		return;
	}
	if (tf->vector < 32) {
		if (bad_iret(tf)) {
			bad_iret_to_user(tf);
			sched_user_fault(tf, "on return to user mode (the CPU refused the frame)");
		} else if (!trap_from_user(tf) || tf->vector == VEC_DF || tf->vector == VEC_MC) {
			if (kernel_fixup(tf))
				return;
			kernel_exception(tf);
		} else {
			sched_user_fault(tf, NULL);
		}
	} else if (tf->vector == VEC_SPURIOUS) {
		/* No EOI for a spurious interrupt (SDM 10.9), which sets no ISR
		 * bit; a message naming the vector does, and would block every
		 * interrupt below it until acknowledged. */
		if (apic_in_service(VEC_SPURIOUS))
			apic_eoi();
		return;
	} else {
		if (!irq_run_handler(tf)) {
			static unsigned long stray;
			unsigned long n = __atomic_add_fetch(&stray, 1, __ATOMIC_RELAXED);
			if (!(n & (n - 1))) /* a device can be made to send many */
				printk("unexpected interrupt vector %lu (%lu so far)\n", tf->vector,
				       n);
		}
		apic_eoi();
		if (trap_from_user(tf))
			testhook_user_interrupt(tf);
	}
	if (trap_from_user(tf))
		sched_trap_exit(tf);
}
