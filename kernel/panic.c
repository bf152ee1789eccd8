/* panic(): report a broken kernel invariant, with a backtrace, and stop. */
#include <arch/cpu.h>
#include <arch/percpu.h>
#include <kernel/ksyms.h>
#include <kernel/power.h>
#include <kernel/printk.h>
#include <kernel/smp.h>
#include <mm/kmem.h>

static volatile int panicking;

bool panic_in_progress(void)
{
	return __atomic_load_n(&panicking, __ATOMIC_SEQ_CST);
}

void panic_begin(void)
{
	irq_disable();
	percpu_recover(); /* the report must not depend on GS being right */
	if (__atomic_exchange_n(&panicking, 1, __ATOMIC_SEQ_CST))
		cpu_halt_forever(); /* another CPU is already reporting */
	smp_stop_others();
	console_break_lock();
}

void panic_end(void)
{
	printk("system halted\n");
	power_exit(EXIT_PANIC);
}

void panic(const char *fmt, ...)
{
	va_list ap;

	panic_begin();
	printk("\nKERNEL PANIC: ");
	va_start(ap, fmt);
	vprintk(fmt, ap);
	va_end(ap);
	printk("\n");
	ksym_backtrace((uint64_t)&panic, (uint64_t)__builtin_frame_address(0));
	panic_end();
}

/* The heap found a kfree of memory it did not hand out: a kernel bug. */
void kmem_report_bad_free(void *p, const char *why)
{
	panic("kfree(%p): %s", p, why);
}
