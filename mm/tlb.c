/*
 * TLB shootdown. The CPU that changes an address space clears the page
 * table entries, then asks every other CPU that may cache them (those in
 * the space's `active` set) to flush, by a per-CPU request word and an
 * IPI, and waits until each has answered before the pages are reused. One
 * shootdown runs at a time. Kernel code runs with interrupts off, so a CPU
 * that spins on a lock the requester may hold answers requests while it
 * spins (tlb_service); nothing waits for a requester with interrupts off
 * otherwise. No PCIDs: loading CR3 flushes every non-global translation.
 */
#include <arch/apic.h>
#include <arch/cpu.h>
#include <arch/percpu.h>
#include <arch/trap.h>
#include <kernel/spinlock.h>
#include <mm/tlb.h>
#include <mm/vm.h>
#include <mm/vmspace.h>

#define TLB_REQ_FLUSH 1
#define TLB_REQ_LEAVE 2

static struct spinlock shootdown_lock = SPINLOCK_INIT;

void tlb_service(void)
{
	struct cpu *c = this_cpu();
	uint32_t req = __atomic_load_n(&c->tlb_req, __ATOMIC_ACQUIRE);
	if (!req)
		return;
	if (c->vs_loaded == c->tlb_req_vs) {
		if (req == TLB_REQ_LEAVE)
			vmspace_activate_kernel();
		else
			write_cr3(read_cr3()); /* flushes all non-global entries */
	}
	__atomic_store_n(&c->tlb_req, 0, __ATOMIC_RELEASE);
}

static void tlb_ipi(struct trap_frame *tf, void *ctx)
{
	(void)tf;
	(void)ctx;
	tlb_service();
}

void tlb_init(void)
{
	irq_register(VEC_IPI_TLB, tlb_ipi, NULL);
}

static void request(const struct vmspace *vs, uint32_t kind)
{
	struct cpu *me = this_cpu();
	/* The entries are cleared before the set is read: a CPU that joins
	 * after this loads CR3 afresh and cannot see them (vmspace_activate). */
	uint64_t targets = __atomic_load_n(&vs->active, __ATOMIC_SEQ_CST) & ~(1ULL << me->id);
	if (!targets)
		return;
	while (!spin_trylock(&shootdown_lock)) {
		tlb_service();
		cpu_relax();
	}
	for (unsigned i = 0; i < MAX_CPUS; i++) {
		if (!(targets & (1ULL << i)))
			continue;
		cpus[i].tlb_req_vs = vs;
		__atomic_store_n(&cpus[i].tlb_req, kind, __ATOMIC_RELEASE);
		apic_send_ipi(cpus[i].apic_id, APIC_ICR_FIXED | VEC_IPI_TLB);
	}
	for (unsigned i = 0; i < MAX_CPUS; i++) {
		while ((targets & (1ULL << i)) &&
		       __atomic_load_n(&cpus[i].tlb_req, __ATOMIC_ACQUIRE)) {
			tlb_service();
			cpu_relax();
		}
	}
	spin_unlock(&shootdown_lock);
}

void tlb_shootdown(const struct vmspace *vs)
{
	request(vs, TLB_REQ_FLUSH);
}

void tlb_leave(const struct vmspace *vs)
{
	request(vs, TLB_REQ_LEAVE);
}
