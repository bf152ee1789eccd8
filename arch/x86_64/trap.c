/* Exception and interrupt dispatch, and the register dump for fatal traps. */
#include <arch/apic.h>
#include <arch/cpu.h>
#include <arch/percpu.h>
#include <arch/trap.h>
#include <kernel/ksyms.h>
#include <kernel/printk.h>
#include <kernel/sched.h>

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

static void __noreturn kernel_exception(struct trap_frame *tf)
{
	panic_begin();
	printk("\nKERNEL PANIC: unhandled %s in kernel mode\n", trap_name(tf->vector));
	trap_dump(tf);
	ksym_backtrace(tf->rip, tf->rbp);
	panic_end();
}

void trap_dispatch(struct trap_frame *tf)
{
	if (tf->vector < 32) {
		if (!trap_from_user(tf) || tf->vector == VEC_DF || tf->vector == VEC_MC)
			kernel_exception(tf);
		sched_user_fault(tf);
	} else if (tf->vector == VEC_SPURIOUS) {
		return; /* no EOI for spurious interrupts (SDM 10.9) */
	} else {
		if (!irq_run_handler(tf))
			printk("unexpected interrupt vector %lu\n", tf->vector);
		apic_eoi();
	}
	if (trap_from_user(tf))
		sched_trap_exit(tf);
}
