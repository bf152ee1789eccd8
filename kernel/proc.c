/*
 * Process lifecycle: spawn from a boot module (manifest, ELF image, stack,
 * event ring), events, and exit. Scheduling is in kernel/sched.c.
 */
#include <arch/cpu.h>
#include <arch/fpu.h>
#include <arch/gdt.h>
#include <arch/percpu.h>
#include <kernel/exec.h>
#include <kernel/kmem.h>
#include <kernel/page.h>
#include <kernel/phys.h>
#include <kernel/printk.h>
#include <kernel/proc.h>
#include <kernel/sched.h>
#include <kernel/time.h>
#include <kernel/vm.h>
#include <arch/paging.h>
#include <lib/format.h>
#include <lib/string.h>
#include <uapi/errno.h>
#include <uapi/syscall.h>

#define RING_PAGES (ALIGN_UP(sizeof(struct mc_event_ring), PAGE_SIZE) / PAGE_SIZE)

struct process procs[PROC_MAX];
static struct spinlock procs_lock = SPINLOCK_INIT;
static int next_pid = 1;
static uint8_t fpu_initial[FPU_AREA_SIZE] __attribute__((aligned(16)));

/* Capture the clean FPU state every new process starts with. */
void proc_fpu_init(void)
{
	fpu_init_state(fpu_initial);
}

static struct process *proc_alloc(void)
{
	unsigned long f = spin_lock_irqsave(&procs_lock);
	struct process *p = NULL;
	for (int i = 0; i < PROC_MAX; i++) {
		if (procs[i].state == PROC_FREE) {
			p = &procs[i];
			memset(p, 0, sizeof(*p));
			p->state = PROC_DEAD; /* not schedulable until set up */
			break;
		}
	}
	spin_unlock_irqrestore(&procs_lock, f);
	return p;
}

/* Release everything the process holds; its slot stays for the summary. */
static void proc_release(struct process *p)
{
	proc_net_release(p);
	if (p->vs.pml4)
		vmspace_destroy(&p->vs);
	/* An interrupt on another CPU may be posting right now: take the ring
	 * away under the lock proc_post_event holds while it writes. */
	unsigned long f = spin_lock_irqsave(&p->ev_lock);
	p->ring = NULL;
	spin_unlock_irqrestore(&p->ev_lock, f);
	if (p->ring_pa)
		page_free(p->ring_pa, RING_PAGES);
	p->ring_pa = 0;
	kfree(p->fpu);
	p->fpu = NULL;
}

static int setup_ring(struct process *p)
{
	p->ring_pa = page_alloc_zeroed(RING_PAGES);
	if (!p->ring_pa)
		return -ENOMEM;
	p->ring = phys_to_virt(p->ring_pa);
	p->ring->entries = EVENT_RING_ENTRIES;
	long va = vmspace_map_phys(&p->vs, 0, p->ring_pa, RING_PAGES * PAGE_SIZE,
				   PROT_READ | PROT_WRITE, false, VMR_SHARED);
	if (va < 0)
		return (int)va;
	p->ring_uva = (uintptr_t)va;
	return 0;
}

static void set_name(struct process *p, const char *argv0)
{
	const char *base = argv0;
	for (const char *s = argv0; *s && *s != ' '; s++)
		if (*s == '/')
			base = s + 1;
	size_t n = 0;
	while (base[n] && base[n] != ' ' && n < PROC_NAME_MAX - 1)
		n++;
	memcpy(p->name, base, n);
	p->name[n] = '\0';
}

int proc_spawn(const void *image, size_t size, const char *cmdline, const char *what)
{
	const char *why = NULL, *argv;
	struct manifest mf;
	int err = manifest_parse(cmdline, &mf, &argv, &why);
	if (err) {
		printk("refused %s: manifest: %s\n", what, why);
		return err;
	}
	struct process *p = proc_alloc();
	if (!p) {
		printk("refused %s: too many processes\n", what);
		return -EAGAIN;
	}
	p->mf = mf;
	set_name(p, argv);
	err = sched_place(p, &why);
	if (err)
		goto fail;
	p->fpu = kmalloc(FPU_AREA_SIZE);
	err = -ENOMEM;
	why = "out of memory";
	if (!p->fpu || vmspace_init(&p->vs, mf.mem_pages))
		goto fail;
	memcpy(p->fpu, fpu_initial, FPU_AREA_SIZE);
	err = setup_ring(p);
	if (err)
		goto fail;
	err = exec_load(p, image, size, argv, &why);
	if (err)
		goto fail;
	p->start_ns = time_ns();
	p->pid = __atomic_fetch_add(&next_pid, 1, __ATOMIC_RELAXED);
	fmt_snprintf(p->out_tag, sizeof(p->out_tag), "%s[%d]: ", p->name, p->pid);
	printk("started pid %d (%s) on CPU %u: %s\n", p->pid, p->name, p->cpu, argv);
	sched_enqueue(p);
	return 0;
fail:
	printk("refused %s: %s (%d)\n", what, why ? why : "error", err);
	sched_unplace(p);
	proc_release(p);
	p->state = PROC_FREE;
	return err;
}

uint32_t proc_pending_events(struct process *p)
{
	uint32_t head = __atomic_load_n(&p->ring->head, __ATOMIC_ACQUIRE);
	uint32_t tail = __atomic_load_n(&p->ring->tail, __ATOMIC_ACQUIRE);
	uint32_t n = head - tail;
	return n > EVENT_RING_ENTRIES ? EVENT_RING_ENTRIES : n;
}

void proc_post_event(struct process *p, uint32_t type, uint64_t d0, uint64_t d1, uint64_t d2)
{
	unsigned long f = spin_lock_irqsave(&p->ev_lock);
	struct mc_event_ring *r = p->ring;
	if (!r || p->state == PROC_DEAD || p->state == PROC_FREE) {
		spin_unlock_irqrestore(&p->ev_lock, f);
		return;
	}
	uint32_t head = r->head;
	/* tail is the process's to write: trust it only to decide "full". */
	if (head - __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) >= EVENT_RING_ENTRIES) {
		r->dropped++;
	} else {
		struct mc_event *e = &r->ev[head & (EVENT_RING_ENTRIES - 1)];
		e->type = type;
		e->flags = 0;
		e->data[0] = d0;
		e->data[1] = d1;
		e->data[2] = d2;
		__atomic_store_n(&r->head, head + 1, __ATOMIC_RELEASE);
	}
	spin_unlock_irqrestore(&p->ev_lock, f);
	sched_wake(p);
}

void proc_console_write(struct process *p, const char *buf, size_t n)
{
	unsigned long f = spin_lock_irqsave(&p->out_lock);
	conout_write(&p->out, buf, n, p->out_tag, console_write_line, NULL);
	spin_unlock_irqrestore(&p->out_lock, f);
}

void proc_exit(struct process *p, int status)
{
	uint64_t now = time_ns();
	unsigned long f = spin_lock_irqsave(&p->out_lock);
	conout_flush(&p->out, p->out_tag, console_write_line, NULL);
	spin_unlock_irqrestore(&p->out_lock, f);
	p->exit_status = status;
	sched_remove(p); /* it will never run again */
	if (this_cpu()->current == p)
		vmspace_activate_kernel();
	proc_release(p);
	printk("pid %d (%s) %s %d after %lu ms, %lu ms CPU, %lu syscalls\n", p->pid, p->name,
	       p->killed ? "killed, status" : "exited with status", status,
	       (now - p->start_ns) / NSEC_PER_MSEC, p->cpu_ns / NSEC_PER_MSEC, p->syscalls);
	sched_process_gone(p);
}

struct process *proc_current(void)
{
	return this_cpu()->current;
}

static const char *fault_kind(const struct process *p, const struct trap_frame *tf)
{
	if (tf->vector != VEC_PF)
		return trap_name(tf->vector);
	if (tf->error & PFERR_RSVD)
		return "page fault (reserved bit)";
	if (!(tf->error & PFERR_P)) {
		const struct vm_region *r = vmspace_find(&p->vs, read_cr2());
		if (r && r->prot == PROT_NONE)
			return tf->error & PFERR_I   ? "page fault: execute of a PROT_NONE page"
			       : tf->error & PFERR_W ? "page fault: write to a PROT_NONE page"
						     : "page fault: read of a PROT_NONE page";
		return tf->error & PFERR_I   ? "page fault: execute of an unmapped page"
		       : tf->error & PFERR_W ? "page fault: write to an unmapped page"
					     : "page fault: read of an unmapped page";
	}
	if (tf->error & PFERR_I)
		return "page fault: execute of a no-execute page";
	return tf->error & PFERR_W ? "page fault: write to a read-only page"
				   : "page fault: read of a protected page";
}

/*
 * Copy up to `max` instruction bytes at va from p's own RAM. The page
 * tables alone are not enough: a queue owner's doorbell is device memory,
 * and reading MMIO through the direct map (which covers only RAM) would
 * fault in the kernel. Returns how many bytes were read.
 */
static size_t read_code(const struct process *p, uintptr_t va, uint8_t *code, size_t max)
{
	size_t n = 0;
	paddr_t pa;
	while (n < max && va + n >= va &&
	       (pt_lookup(p->vs.pml4, va + n, &pa) & (PTE_P | PTE_U)) == (PTE_P | PTE_U) &&
	       vm_direct_mapped(pa, 1)) {
		code[n] = *(const uint8_t *)phys_to_virt(pa);
		n++;
	}
	return n;
}

void proc_report_fault(struct process *p, const struct trap_frame *tf, const char *note)
{
	char bytes[3 * 16 + 1] = "unavailable (not in the process's RAM)";
	uint8_t code[16];

	size_t n = read_code(p, tf->rip, code, sizeof(code));
	for (size_t i = 0; i < n; i++)
		fmt_snprintf(bytes + 3 * i, 4, "%02x ", code[i]);
	if (n)
		bytes[3 * n - 1] = '\0';
	uint64_t addr = tf->vector == VEC_PF ? read_cr2() : tf->rip;
	printk("pid %d (%s) killed: %s%s%s at address 0x%lx, RIP 0x%lx, instruction: %s\n", p->pid,
	       p->name, fault_kind(p, tf), note ? " " : "", note ? note : "", addr, tf->rip, bytes);
	printk("  RSP %#lx RAX %#lx RDI %#lx RSI %#lx RFLAGS %#lx error %#lx\n", tf->rsp, tf->rax,
	       tf->rdi, tf->rsi, tf->rflags, tf->error);
}
