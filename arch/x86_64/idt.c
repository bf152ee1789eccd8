/* The IDT: gates for all 256 vectors and the table of registered handlers. */
#include <arch/gdt.h>
#include <arch/trap.h>
#include <kernel/spinlock.h>
#include <uapi/errno.h>

struct idt_gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t reserved;
} __packed;
STATIC_ASSERT(sizeof(struct idt_gate) == 16, "IDT gate layout");

#define GATE_INTERRUPT 0x8e /* present, DPL 0, 64-bit interrupt gate */
#define GATE_DPL3      0x60

extern const uint64_t vector_table[256];

static struct idt_gate idt[256] __attribute__((aligned(16)));
static struct {
	irq_handler_t fn;
	void *ctx;
} handlers[256];
static struct spinlock handlers_lock = SPINLOCK_INIT;

static void set_gate(unsigned v, uint64_t addr, uint8_t ist, uint8_t attr)
{
	idt[v] = (struct idt_gate){
	    .offset_lo = addr & 0xffff,
	    .selector = SEL_KCODE,
	    .ist = ist,
	    .type_attr = attr,
	    .offset_mid = (addr >> 16) & 0xffff,
	    .offset_hi = addr >> 32,
	};
}

void idt_init(void)
{
	for (unsigned v = 0; v < 256; v++)
		set_gate(v, vector_table[v], 0, GATE_INTERRUPT);
	idt[VEC_DF].ist = IST_DF;
	idt[VEC_NMI].ist = IST_NMI;
	idt[VEC_MC].ist = IST_MC;
	/* int3 is allowed from user mode (debuggers, tests). */
	idt[VEC_BP].type_attr = GATE_INTERRUPT | GATE_DPL3;
}

void idt_load(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __packed p = {sizeof(idt) - 1, (uint64_t)idt};
	__asm__ volatile("lidt %0" : : "m"(p));
}

int irq_register(unsigned vector, irq_handler_t fn, void *ctx)
{
	int ret = 0;

	if (vector < VEC_TIMER || vector > 255)
		return -EINVAL;
	unsigned long f = spin_lock_irqsave(&handlers_lock);
	if (handlers[vector].fn) {
		ret = -EBUSY;
	} else {
		handlers[vector].ctx = ctx;
		__atomic_store_n(&handlers[vector].fn, fn, __ATOMIC_RELEASE);
	}
	spin_unlock_irqrestore(&handlers_lock, f);
	return ret;
}

void irq_unregister(unsigned vector)
{
	if (vector >= 256)
		return;
	unsigned long f = spin_lock_irqsave(&handlers_lock);
	__atomic_store_n(&handlers[vector].fn, NULL, __ATOMIC_RELEASE);
	handlers[vector].ctx = NULL;
	spin_unlock_irqrestore(&handlers_lock, f);
}

int irq_alloc_vector(void)
{
	int ret = -ENOSPC;
	unsigned long f = spin_lock_irqsave(&handlers_lock);
	for (unsigned v = VEC_DEVICE_FIRST; v <= VEC_DEVICE_LAST; v++) {
		if (!handlers[v].fn && !handlers[v].ctx) {
			handlers[v].ctx = (void *)1; /* reserved until registered */
			ret = (int)v;
			break;
		}
	}
	spin_unlock_irqrestore(&handlers_lock, f);
	return ret;
}

/* Run the registered handler; returns false if there is none. */
bool irq_run_handler(struct trap_frame *tf)
{
	irq_handler_t fn = __atomic_load_n(&handlers[tf->vector].fn, __ATOMIC_ACQUIRE);
	if (!fn)
		return false;
	fn(tf, handlers[tf->vector].ctx);
	return true;
}
