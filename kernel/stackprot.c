/*
 * The stack protector (-fstack-protector-strong, one global guard:
 * -mstack-protector-guard=global). Functions with arrays or address-taken
 * locals keep a copy of __stack_chk_guard between their locals and their
 * return address and check it before returning; the guard is random per
 * boot, with a zero low byte so that a string copy cannot reproduce it.
 */
#include <arch/cpu.h>
#include <kernel/ksyms.h>
#include <kernel/printk.h>
#include <kernel/stackprot.h>

/* Written once, before anything that checks it returns (stackprot_init). */
uint64_t __stack_chk_guard = 0x595e9fbd94fda766ULL;

static const char *source = "none";

/*
 * Not itself protected: its caller (kmain) never returns, and a function
 * that stored the old guard and checked the new one would fail.
 */
__attribute__((no_stack_protector)) void stackprot_init(void)
{
	uint64_t r;
	if (cpu_random64(&r)) {
		source = "RDRAND";
	} else {
		r = rdtsc() * 0x9e3779b97f4a7c15ULL ^ __stack_chk_guard;
		source = "the TSC";
	}
	__stack_chk_guard = r & ~0xffULL;
}

const char *stackprot_source(void)
{
	return source;
}

void __noreturn __stack_chk_fail(void);
void __noreturn __stack_chk_fail(void)
{
	uint64_t off, ra = (uint64_t)__builtin_return_address(0);
	const char *fn = ksym_lookup(ra, &off);
	panic("stack protector: the guard in the frame of %s (%#lx) was overwritten: a kernel "
	      "stack buffer overflow",
	      fn ? fn : "?", ra);
}
