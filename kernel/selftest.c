/*
 * In-kernel self-tests run by `test=NAME` on the kernel command line. The
 * harness reads the verdict from QEMU's exit status (see kernel/power.h).
 * "fault", "ud" and "panic" are meant to die: they prove the crash report.
 */
#include <arch/apic.h>
#include <arch/cpu.h>
#include <arch/memlayout.h>
#include <arch/paging.h>
#include <arch/percpu.h>
#include <arch/trap.h>
#include <kernel/printk.h>
#include <kernel/selftest.h>
#include <kernel/time.h>
#include <lib/string.h>
#include <mm/kmem.h>
#include <mm/page.h>
#include <mm/phys.h>
#include <mm/vm.h>
#include <uapi/errno.h>

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			printk("selftest: check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
			return false;                                                              \
		}                                                                                  \
	} while (0)

static bool test_pages(void)
{
	size_t before = page_free_count();
	paddr_t one = page_alloc(1);
	paddr_t dma = page_alloc_aligned(64, 64 * 1024);
	CHECK(one && dma);
	CHECK(IS_ALIGNED(dma, 64 * 1024UL));
	CHECK(page_free_count() == before - 65);
	memset(phys_to_virt(dma), 0xa5, 64 * PAGE_SIZE);
	CHECK(page_free(dma, 64) == 0);
	CHECK(page_free(one, 1) == 0);
	CHECK(page_free(one, 1) == -EINVAL); /* double free is refused */
	CHECK(page_free_count() == before);
	paddr_t z = page_alloc_zeroed(2);
	CHECK(z);
	const uint64_t *w = phys_to_virt(z);
	for (size_t i = 0; i < 2 * PAGE_SIZE / 8; i++)
		CHECK(w[i] == 0);
	CHECK(page_free(z, 2) == 0);
	return true;
}

static bool test_kmem(void)
{
	void *p[64];
	for (int i = 0; i < 64; i++) {
		size_t size = 1 + (size_t)i * 97;
		p[i] = kmalloc(size);
		CHECK(p[i] && IS_ALIGNED((uintptr_t)p[i], (uintptr_t)KMEM_ALIGN));
		memset(p[i], i, size);
	}
	for (int i = 0; i < 64; i++) {
		const uint8_t *b = p[i];
		for (size_t j = 0; j < 1 + (size_t)i * 97; j++)
			CHECK(b[j] == i);
		kfree(p[i]);
	}
	CHECK(kmalloc((size_t)-1) == NULL);
	return true;
}

extern const char _text[], _etext[], _rodata[], _erodata[], _data[];

/* Leaves of the kernel half that are writable and executable; with a count
 * of all leaves seen (4 KiB and 2 MiB pages). */
static size_t count_wx(const uint64_t *table, int shift, size_t *leaves)
{
	size_t bad = 0;
	int first = shift == PML4_SHIFT ? PT_ENTRIES / 2 : 0;
	for (int i = first; i < PT_ENTRIES; i++) {
		uint64_t e = table[i];
		if (!(e & PTE_P))
			continue;
		if (shift == PT_SHIFT || (e & PTE_PS)) {
			(*leaves)++;
			bad += (e & PTE_W) && !(e & PTE_NX);
			continue;
		}
		bad += count_wx(phys_to_virt(e & PTE_ADDR_MASK), shift - 9, leaves);
	}
	return bad;
}

/* Every alias of the kernel's text and read-only data is read-only: the
 * image at -2 GiB and the direct map of the same physical pages. */
static bool check_ro_aliases(const char *start, const char *end, bool exec)
{
	for (uintptr_t va = (uintptr_t)start; va < (uintptr_t)end; va += PAGE_SIZE) {
		paddr_t pa;
		uint64_t img = pt_lookup(vm_kernel_pml4(), va, &pa);
		CHECK((img & PTE_P) && !(img & PTE_W) && !(img & PTE_NX) == exec);
		uint64_t alias = pt_lookup(vm_kernel_pml4(), (uintptr_t)phys_to_virt(pa), NULL);
		CHECK((alias & PTE_P) && !(alias & PTE_W) && (alias & PTE_NX));
	}
	return true;
}

static bool test_paging(void)
{
	paddr_t pa;
	uint64_t text = pt_lookup(vm_kernel_pml4(), (uintptr_t)_text, &pa);
	uint64_t data = pt_lookup(vm_kernel_pml4(), (uintptr_t)_data, &pa);
	uint64_t direct = pt_lookup(vm_kernel_pml4(), DIRECT_MAP_BASE + 0x100000, &pa);
	CHECK((text & PTE_P) && !(text & PTE_W) && !(text & PTE_NX));
	CHECK((data & PTE_P) && (data & PTE_W) && (data & PTE_NX));
	CHECK((direct & PTE_P) && (direct & PTE_NX) && pa == 0x100000);
	CHECK(pt_lookup(vm_kernel_pml4(), 0x1000, NULL) == 0); /* no identity map */
	CHECK(check_ro_aliases(_text, _etext, true));
	CHECK(check_ro_aliases(_rodata, _erodata, false));
	size_t leaves = 0;
	/* Every kernel stack sits above an unmapped guard page. */
	struct cpu *c = this_cpu();
	CHECK(vm_stack_guard(c->kstack_top - KSTACK_SIZE - 1));
	CHECK(!vm_stack_guard(c->kstack_top - KSTACK_SIZE));
	CHECK(!(pt_lookup(vm_kernel_pml4(), c->kstack_top - KSTACK_SIZE - 1, NULL) & PTE_P));
	for (int i = 0; i < 3; i++) {
		uint64_t base = c->ist_top[i] - IST_STACK_SIZE;
		uint64_t e = pt_lookup(vm_kernel_pml4(), base, NULL);
		CHECK((e & PTE_P) && (e & PTE_W) && (e & PTE_NX));
		CHECK(!(pt_lookup(vm_kernel_pml4(), base - 1, NULL) & PTE_P));
		CHECK(vm_stack_guard(base - 1));
	}
	CHECK(count_wx(vm_kernel_pml4(), PML4_SHIFT, &leaves) == 0);
	printk("selftest: %zu kernel mappings, none writable and executable\n", leaves);
	return true;
}

static volatile uint64_t test_ticks;

static void count_tick(struct trap_frame *tf, void *ctx)
{
	(void)tf;
	(void)ctx;
	test_ticks++;
}

static bool test_timer(void)
{
	const unsigned hz = 100, want = 20;
	CHECK(irq_register(VEC_TIMER, count_tick, NULL) == 0);
	uint64_t t0 = time_ns(), last = t0;
	apic_timer_periodic(hz);
	irq_enable();
	while (test_ticks < want) {
		uint64_t now = time_ns();
		CHECK(now >= last); /* monotonic */
		last = now;
		cpu_halt();
	}
	irq_disable();
	apic_timer_stop();
	irq_unregister(VEC_TIMER);
	uint64_t ms = (time_ns() - t0) / NSEC_PER_MSEC;
	printk("selftest: %u ticks at %u Hz took %lu ms\n", want, hz, ms);
	/* Loose bounds: emulation is slow and the host is shared. */
	CHECK(ms >= 100 && ms <= 2000);
	return true;
}

static bool test_delay(void)
{
	uint64_t t0 = time_ns();
	time_delay_us(5000);
	uint64_t d = time_ns() - t0;
	CHECK(d >= 5000 * NSEC_PER_USEC);
	return true;
}

__attribute__((noinline)) static void selftest_fault(void)
{
	printk("selftest: writing to an unmapped address\n");
	*(volatile uint64_t *)0xdead000 = 1;
}

__attribute__((noinline)) static void selftest_ud(void)
{
	printk("selftest: executing ud2\n");
	__asm__ volatile("ud2");
}

static bool test_fault(void)
{
	selftest_fault();
	return false; /* not reached */
}

static bool test_ud(void)
{
	selftest_ud();
	return false;
}

/* Writing kernel text through its direct-map alias must fault. */
static bool test_text_alias(void)
{
	volatile uint8_t *alias = phys_to_virt((uintptr_t)_text - KERNEL_VMA);
	printk("selftest: writing kernel text through the direct map at %p\n", (void *)alias);
	*alias = *alias;
	return false; /* not reached */
}

/*
 * Recurse until the stack runs into its guard page: the page fault cannot
 * push its frame there, so it becomes a double fault, taken on its own
 * (guarded) IST stack, whose report must name the overflow.
 */
static volatile uint64_t overflow_depth = ~0UL; /* deeper than any stack */

__attribute__((noinline)) static uint64_t deeper(uint64_t n)
{
	volatile uint8_t frame[256];
	frame[0] = (uint8_t)n;
	if (n >= overflow_depth)
		return n;
	return deeper(n + 1) + frame[0]; /* not a tail call: the frame stays */
}

static bool test_stack_overflow(void)
{
	printk("selftest: recursing until the stack overflows\n");
	return deeper(0) == 0; /* not reached */
}

/* Write past a local array, over the stack protector's guard. */
__attribute__((noinline)) static void scribble(volatile uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = 0x5a;
}

__attribute__((noinline)) static int smashed_frame(void)
{
	uint8_t buf[16];
	scribble(buf, 16 + 8); /* the array, then the guard above it */
	return buf[0];
}

static bool test_canary(void)
{
	printk("selftest: overwriting a stack protector guard\n");
	return smashed_frame() == 0; /* the return is where it is caught */
}

static bool test_panic(void)
{
	panic("selftest: deliberate panic %d", 42);
}

struct selftest {
	const char *name;
	bool (*fn)(void);
	bool in_all; /* fatal tests are run only by name */
};

static const struct selftest tests[] = {
    {"pages", test_pages, true},
    {"kmem", test_kmem, true},
    {"paging", test_paging, true},
    {"delay", test_delay, true},
    {"timer", test_timer, true},
    {"fault", test_fault, false},
    {"ud", test_ud, false},
    {"panic", test_panic, false},
    {"textalias", test_text_alias, false},
    {"stackoverflow", test_stack_overflow, false},
    {"canary", test_canary, false},
};

static bool run_one(const struct selftest *t)
{
	bool ok = t->fn();
	printk("selftest %s: %s\n", t->name, ok ? "ok" : "FAILED");
	return ok;
}

bool selftest_run(const char *name)
{
	bool all = strcmp(name, "all") == 0, ok = true, found = false;
	for (size_t i = 0; i < ARRAY_SIZE(tests); i++) {
		if (all ? tests[i].in_all : strcmp(name, tests[i].name) == 0) {
			found = true;
			ok = run_one(&tests[i]) && ok;
		}
	}
	if (!found)
		printk("selftest: no test named '%s'\n", name);
	printk("selftest: %s\n", found && ok ? "PASS" : "FAIL");
	return found && ok;
}
