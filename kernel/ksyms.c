/*
 * Symbol lookup for backtraces. The table is generated from the first link
 * by scripts/gen-ksyms and linked into .ksyms at the end of .rodata, after
 * .text, so adding it moves no function.
 */
#include <arch/memlayout.h>
#include <kernel/ksyms.h>
#include <kernel/printk.h>
#include <lib/string.h>

struct ksym {
	uint64_t addr;
	uint32_t name; /* offset into ksym_names */
	uint32_t pad;
};

extern const uint64_t ksym_count __attribute__((weak));
extern const struct ksym ksym_table[] __attribute__((weak));
extern const char ksym_names[] __attribute__((weak));
extern const char _text[], _etext[];

#define BACKTRACE_MAX  32
#define BACKTRACE_SPAN (64 * 1024)

const char *ksym_lookup(uint64_t addr, uint64_t *off)
{
	if (!&ksym_count || ksym_count == 0 || addr < (uint64_t)_text || addr >= (uint64_t)_etext)
		return NULL;
	size_t lo = 0, hi = ksym_count;
	if (addr < ksym_table[0].addr)
		return NULL;
	while (hi - lo > 1) { /* last entry with addr <= target */
		size_t mid = lo + (hi - lo) / 2;
		if (ksym_table[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	*off = addr - ksym_table[lo].addr;
	return ksym_names + ksym_table[lo].name;
}

static void print_frame(int depth, uint64_t rip)
{
	uint64_t off;
	const char *name = ksym_lookup(rip, &off);
	if (name)
		printk("  #%-2d %p %s+0x%lx\n", depth, (void *)rip, name, off);
	else
		printk("  #%-2d %p ?\n", depth, (void *)rip);
}

/* A frame pointer is trusted only if it is aligned, in the kernel half and
 * above the previous one within one stack's span. */
static bool frame_ok(uint64_t rbp, uint64_t prev, uint64_t start)
{
	return rbp && (rbp & 7) == 0 && rbp >= 0xffff800000000000UL && rbp > prev &&
	       rbp - start < BACKTRACE_SPAN;
}

void ksym_backtrace(uint64_t rip, uint64_t rbp)
{
	printk("backtrace:\n");
	print_frame(0, rip);
	uint64_t prev = 0, start = rbp;
	for (int depth = 1; depth < BACKTRACE_MAX && frame_ok(rbp, prev, start); depth++) {
		const uint64_t *fp = (const uint64_t *)rbp;
		uint64_t ret = fp[1];
		if (ret < (uint64_t)_text || ret >= (uint64_t)_etext)
			break;
		print_frame(depth, ret);
		prev = rbp;
		rbp = fp[0];
	}
}
