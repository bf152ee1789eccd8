/* Per-CPU GDT and TSS, and the GS base that points at struct cpu. */
#include <arch/apic.h>
#include <arch/cpu.h>
#include <arch/gdt.h>
#include <arch/percpu.h>
#include <kernel/printk.h>
#include <mm/vm.h>

struct cpu cpus[MAX_CPUS];
unsigned cpu_count;

/* Descriptor bits (SDM 3.4.5): P, DPL, S, type, L, G. */
#define SEG_P	     (1UL << 47)
#define SEG_DPL3     (3UL << 45)
#define SEG_S	     (1UL << 44)
#define SEG_CODE     (0xaUL << 40) /* execute/read */
#define SEG_DATA     (0x2UL << 40) /* read/write */
#define SEG_L	     (1UL << 53)
#define SEG_G	     (1UL << 55)
#define SEG_DB	     (1UL << 54)
#define SEG_LIMIT_4G (0xffffUL | (0xfUL << 48))
#define TSS_AVAIL    (0x9UL << 40)

static uint64_t tss_low(uint64_t base, uint32_t limit)
{
	return (limit & 0xffff) | ((base & 0xffffff) << 16) | TSS_AVAIL | SEG_P |
	       ((uint64_t)(limit >> 16 & 0xf) << 48) | ((base >> 24 & 0xff) << 56);
}

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __packed;

void gdt_init_cpu(struct cpu *c)
{
	uint64_t tss = (uint64_t)&c->tss;

	c->gdt[0] = 0;
	c->gdt[GDT_KCODE / 8] = SEG_P | SEG_S | SEG_CODE | SEG_L | SEG_G | SEG_LIMIT_4G;
	c->gdt[GDT_KDATA / 8] = SEG_P | SEG_S | SEG_DATA | SEG_DB | SEG_G | SEG_LIMIT_4G;
	c->gdt[GDT_UDATA / 8] = SEG_P | SEG_DPL3 | SEG_S | SEG_DATA | SEG_DB | SEG_G | SEG_LIMIT_4G;
	c->gdt[GDT_UCODE / 8] = SEG_P | SEG_DPL3 | SEG_S | SEG_CODE | SEG_L | SEG_G | SEG_LIMIT_4G;
	c->gdt[GDT_TSS / 8] = tss_low(tss, sizeof(c->tss) - 1);
	c->gdt[GDT_TSS / 8 + 1] = tss >> 32;

	c->tss.iomap_base = sizeof(c->tss); /* no I/O bitmap: all ports trap */
	c->tss.rsp[0] = c->kstack_top;
	for (int i = 0; i < 3; i++)
		c->tss.ist[i] = c->ist_top[i];

	struct desc_ptr p = {sizeof(c->gdt) - 1, (uint64_t)c->gdt};
	__asm__ volatile("lgdt %0\n\t"
			 "movw %w1, %%ds\n\t"
			 "movw %w1, %%es\n\t"
			 "movw %w1, %%ss\n\t"
			 "pushq %2\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:"
			 :
			 : "m"(p), "r"((uint64_t)SEL_KDATA), "i"(SEL_KCODE)
			 : "rax", "memory");
	__asm__ volatile("ltr %w0" : : "r"((uint16_t)GDT_TSS));
	/* fs/gs selectors null; GS base set by percpu_init. */
	__asm__ volatile("movw %w0, %%fs; movw %w0, %%gs" : : "r"(0));
}

/*
 * The CPU this code runs on, found from its local APIC id rather than GS
 * (a fault between swapgs and iretq, or in a broken entry path, arrives with
 * a user's GS base), and made GS's base again. For fatal paths.
 */
struct cpu *percpu_recover(void)
{
	struct cpu *c = &cpus[0];
	if (apic_ready()) {
		uint32_t id = apic_id();
		for (unsigned i = 0; i < MAX_CPUS; i++) {
			if (cpus[i].self == &cpus[i] && cpus[i].apic_id == id) {
				c = &cpus[i];
				break;
			}
		}
	}
	wrmsr(MSR_GS_BASE, (uint64_t)c);
	return c;
}

void percpu_init(struct cpu *c)
{
	c->self = c;
	/* Each IST stack on its own guard page: the boot CPU's early ones
	 * (static, unguarded) are replaced here too. */
	for (int i = 0; i < 3; i++) {
		c->ist_top[i] = vm_stack_alloc(IST_STACK_SIZE);
		BUG_ON(!c->ist_top[i]);
	}
	gdt_init_cpu(c);
	wrmsr(MSR_GS_BASE, (uint64_t)c);
	wrmsr(MSR_KERNEL_GS_BASE, 0);
}

void percpu_early_init(struct cpu *c)
{
	c->self = c;
	wrmsr(MSR_GS_BASE, (uint64_t)c);
}
