/*
 * Test hooks: a system call that makes the kernel misbehave on purpose, so
 * system tests can prove the defences (bad-IRET recovery, per-CPU data
 * found without GS, SMAP in interrupts, SMEP). Off unless the kernel command
 * line says `testhooks`: a production boot answers -ENOSYS.
 */
#include <arch/cpu.h>
#include <arch/extable.h>
#include <arch/paging.h>
#include <arch/memlayout.h>
#include <arch/percpu.h>
#include <arch/trap.h>
#include <kernel/cmdline.h>
#include <kernel/printk.h>
#include <kernel/proc.h>
#include <kernel/testhook.h>
#include <kernel/time.h>
#include <mm/phys.h>
#include <mm/vm.h>
#include <uapi/errno.h>
#include <uapi/testhook.h>

static bool enabled;

static bool user_addr(uint64_t a)
{
	return a >= USER_MIN && a < USER_MAX;
}

/* Kernel data a hostile queue owner aims its NIC at (TH_DMA_TARGET). */
static uint8_t dma_target[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static paddr_t dma_victim; /* a process's page (TH_DMA_PUBLISH), 0 until then */

void testhook_init(void)
{
	enabled = cmdline_has("testhooks");
	if (!enabled)
		return;
	for (size_t i = 0; i < sizeof(dma_target); i++)
		dma_target[i] = (uint8_t)(i * 31 + 7);
	printk("testhooks: on (test kernels only)\n");
}

static paddr_t dma_target_pa(uint64_t which)
{
	if (which == TH_TARGET_KERNEL)
		return (uintptr_t)dma_target - KERNEL_VMA; /* the image is at KERNEL_VMA + pa */
	return which == TH_TARGET_VICTIM ? dma_victim : 0;
}

/* FNV-1a over the page, through the direct map. */
static long page_sum(paddr_t pa)
{
	const uint8_t *p = phys_to_virt(pa);
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < PAGE_SIZE; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return (long)(h >> 1);
}

static long dma_publish(struct thread *t, uint64_t addr)
{
	paddr_t pa;
	if (!user_addr(addr) || addr % PAGE_SIZE ||
	    (pt_lookup(t->proc->vs.pml4, addr, &pa) & (PTE_P | PTE_U | PTE_W)) !=
		(PTE_P | PTE_U | PTE_W) ||
	    !vm_direct_mapped(pa, PAGE_SIZE))
		return -EINVAL;
	dma_victim = pa;
	return 0;
}

__attribute__((noinline)) static void fault_with_user_gs(void)
{
	__asm__ volatile("swapgs; ud2" : : : "memory");
}

long sys_test_hook(struct thread *p, struct trap_frame *tf, uint64_t op, uint64_t arg)
{
	if (!enabled)
		return -ENOSYS;
	switch (op) {
	case TH_NT_ON_RETURN:
		/* a fresh slice: this very return must go to p, not another */
		p->slice_end = time_ns() + NSEC_PER_SEC;
		__asm__ volatile("pushfq; orq %0, (%%rsp); popfq" : : "i"(RFLAGS_NT) : "memory");
		return 0;
	case TH_NULL_SS_ON_RETURN:
		tf->ss = 3; /* null selector, RPL 3 */
		return 0;
	case TH_FAULT_USER_GS:
		fault_with_user_gs();
		return 0;
	case TH_IRQ_READ_USER:
		if (!user_addr(arg))
			return -EINVAL;
		p->probe_uaddr = arg;
		p->probe_result = TH_PROBE_PENDING;
		return 0;
	case TH_IRQ_RESULT:
		return p->probe_result;
	case TH_KERNEL_READ_USER:
		if (!user_addr(arg))
			return -EINVAL;
		return (long)*(volatile uint64_t *)arg;
	case TH_DMA_TARGET: {
		paddr_t pa = dma_target_pa(arg);
		return pa ? (long)pa : (arg <= TH_TARGET_VICTIM ? -ENOENT : -EINVAL);
	}
	case TH_DMA_PUBLISH:
		return dma_publish(p, arg);
	case TH_DMA_SUM: {
		paddr_t pa = dma_target_pa(arg);
		return pa ? page_sum(pa) : -ENOENT;
	}
	case TH_DMA_KILLS:
		return (long)net_dma_kills();
	case TH_KERNEL_EXEC_USER:
		if (!user_addr(arg))
			return -EINVAL;
		((void (*)(void))arg)();
		return 0;
	default:
		return -EINVAL;
	}
}

void testhook_user_interrupt(struct trap_frame *tf)
{
	(void)tf;
	if (!enabled)
		return;
	struct thread *p = this_cpu()->current;
	if (!p || !p->probe_uaddr)
		return;
	uint64_t addr = p->probe_uaddr, v;
	p->probe_uaddr = 0;
	if (probe_read64(addr, &v) == 0) {
		p->probe_result = TH_PROBE_READ;
		printk("testhooks: interrupt handler read user address %#lx: SMAP was off\n", addr);
	} else {
		p->probe_result = TH_PROBE_BLOCKED;
		printk("testhooks: interrupt handler read of user address %#lx was stopped\n",
		       addr);
	}
}
