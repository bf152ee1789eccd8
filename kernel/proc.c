/*
 * Process lifecycle: spawn from a boot module (manifest, ELF image, first
 * thread), the end of a process (every thread stops, then the last one out
 * releases its memory and devices), and fault reports. Threads, their event
 * rings and their system calls are in kernel/thread.c; scheduling in
 * kernel/sched.c.
 */
#include <arch/cpu.h>
#include <arch/paging.h>
#include <arch/percpu.h>
#include <kernel/exec.h>
#include <kernel/printk.h>
#include <kernel/proc.h>
#include <kernel/sched.h>
#include <kernel/thread.h>
#include <kernel/time.h>
#include <lib/format.h>
#include <lib/string.h>
#include <mm/page.h>
#include <mm/phys.h>
#include <mm/tlb.h>
#include <mm/vm.h>
#include <uapi/errno.h>
#include <uapi/syscall.h>

struct process procs[PROC_MAX];
static struct spinlock procs_lock = SPINLOCK_INIT;
static int next_pid = 1;

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

/* Release everything the process holds; its slot stays for the summary.
 * No thread of p is on a CPU any more. */
static void proc_release(struct process *p)
{
	proc_net_release(p); /* the device forgets its queues first */
	if (p->vs.pml4) {
		tlb_leave(&p->vs); /* no CPU keeps its page tables loaded */
		vmspace_destroy(&p->vs);
	}
	for (unsigned i = 0; i < p->nthreads; i++) {
		if (p->threads[i])
			thread_free(p->threads[i]);
		p->threads[i] = NULL;
	}
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
	struct thread *t = NULL;
	int err = manifest_parse(cmdline, &mf, &argv, &why);
	if (err) {
		printk("refused %s: manifest: %s\n", what, why);
		return err;
	}
	err = net_check_grants(&mf, &why);
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
	int cpu = sched_place(p, &why);
	if (cpu < 0) {
		err = cpu;
		goto fail;
	}
	err = -ENOMEM;
	why = "out of memory";
	if (vmspace_init(&p->vs, mf.mem_pages))
		goto fail;
	err = thread_create(p, (unsigned)cpu, &t);
	if (err) {
		why = err == -EAGAIN ? "too many threads in the system" : "out of memory";
		goto fail;
	}
	err = exec_load(t, image, size, argv, &why);
	if (err)
		goto fail;
	p->start_ns = time_ns();
	p->pid = __atomic_fetch_add(&next_pid, 1, __ATOMIC_RELAXED);
	fmt_snprintf(p->out_tag, sizeof(p->out_tag), "%s[%d]: ", p->name, p->pid);
	p->live_threads = 1;
	p->state = PROC_LIVE;
	printk("started pid %d (%s) on CPU %u: %s\n", p->pid, p->name, t->cpu, argv);
	sched_enqueue(t);
	return 0;
fail:
	printk("refused %s: %s (%d)\n", what, why ? why : "error", err);
	sched_unplace(p);
	proc_release(p);
	p->state = PROC_FREE;
	return err;
}

void proc_console_write(struct process *p, const char *buf, size_t n)
{
	unsigned long f = spin_lock_irqsave(&p->out_lock);
	conout_write(&p->out, buf, n, p->out_tag, console_write_line, NULL);
	spin_unlock_irqrestore(&p->out_lock, f);
}

/* The last thread has stopped: release the process, report, account. */
static void proc_finish(struct process *p)
{
	uint64_t now = time_ns();
	unsigned long f = spin_lock_irqsave(&p->out_lock);
	conout_flush(&p->out, p->out_tag, console_write_line, NULL);
	spin_unlock_irqrestore(&p->out_lock, f);
	proc_release(p);
	printk("pid %d (%s) %s %d after %lu ms, %lu ms CPU, %lu syscalls\n", p->pid, p->name,
	       p->killed ? "killed, status" : "exited with status", p->exit_status,
	       (now - p->start_ns) / NSEC_PER_MSEC, p->cpu_ns / NSEC_PER_MSEC, p->syscalls);
	p->state = PROC_DEAD;
	sched_process_gone(p);
}

void proc_thread_gone(struct thread *t)
{
	struct process *p = t->proc;
	unsigned long f = spin_lock_irqsave(&p->lock);
	p->cpu_ns += t->cpu_ns;
	p->syscalls += t->syscalls;
	bool last = --p->live_threads == 0;
	spin_unlock_irqrestore(&p->lock, f);
	if (last)
		proc_finish(p);
}

void proc_exit(struct process *p, int status)
{
	struct thread *me = thread_current();
	struct thread *gone[PROC_THREADS];
	unsigned n = 0;

	unsigned long f = spin_lock_irqsave(&p->lock);
	if (!p->exiting) {
		p->exiting = true;
		p->exit_status = status;
	}
	for (unsigned i = 0; i < p->nthreads; i++) {
		struct thread *t = p->threads[i];
		if (t && t != me && sched_stop(t))
			gone[n++] = t; /* was off its CPU: counted out here */
	}
	spin_unlock_irqrestore(&p->lock, f);
	sched_stop_current(me);
	for (unsigned i = 0; i < n; i++)
		proc_thread_gone(gone[i]);
	proc_thread_gone(me);
}

void proc_kill(struct process *p, int status)
{
	struct thread *gone[PROC_THREADS];
	unsigned n = 0;

	unsigned long f = spin_lock_irqsave(&p->lock);
	if (p->exiting || p->state == PROC_DEAD) {
		spin_unlock_irqrestore(&p->lock, f);
		return; /* on its way out already */
	}
	p->exiting = true;
	p->killed = true;
	p->exit_status = status;
	for (unsigned i = 0; i < p->nthreads; i++) {
		struct thread *t = p->threads[i];
		if (t && sched_stop(t))
			gone[n++] = t; /* was off its CPU: counted out here */
	}
	spin_unlock_irqrestore(&p->lock, f);
	for (unsigned i = 0; i < n; i++)
		proc_thread_gone(gone[i]);
}

void thread_exit(struct thread *t, int status)
{
	struct process *p = t->proc;
	unsigned long f = spin_lock_irqsave(&p->lock);
	if (p->live_threads == 1 && !p->exiting)
		p->exit_status = status; /* the last thread's status is the process's */
	spin_unlock_irqrestore(&p->lock, f);
	sched_stop_current(t);
	proc_thread_gone(t);
}

struct thread *thread_current(void)
{
	return this_cpu()->current;
}

struct process *proc_current(void)
{
	struct thread *t = this_cpu()->current;
	return t ? t->proc : NULL;
}

static const char *fault_kind(struct process *p, const struct trap_frame *tf)
{
	if (tf->vector != VEC_PF)
		return trap_name(tf->vector);
	if (tf->error & PFERR_RSVD)
		return "page fault (reserved bit)";
	if (!(tf->error & PFERR_P)) {
		int prot = vmspace_prot_at(&p->vs, read_cr2());
		if (prot == PROT_NONE)
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

void proc_report_fault(struct thread *t, const struct trap_frame *tf, const char *note)
{
	struct process *p = t->proc;
	char bytes[3 * 16 + 1] = "unavailable (not in the process's RAM)";
	char who[32] = "";
	uint8_t code[16];

	size_t n = read_code(p, tf->rip, code, sizeof(code));
	for (size_t i = 0; i < n; i++)
		fmt_snprintf(bytes + 3 * i, 4, "%02x ", code[i]);
	if (n)
		bytes[3 * n - 1] = '\0';
	if (p->nthreads > 1)
		fmt_snprintf(who, sizeof(who), " in thread %d on CPU %u", t->tid, t->cpu);
	uint64_t addr = tf->vector == VEC_PF ? read_cr2() : tf->rip;
	printk("pid %d (%s) killed%s: %s%s%s at address 0x%lx, RIP 0x%lx, instruction: %s\n",
	       p->pid, p->name, who, fault_kind(p, tf), note ? " " : "", note ? note : "", addr,
	       tf->rip, bytes);
	printk("  RSP %#lx RAX %#lx RDI %#lx RSI %#lx RFLAGS %#lx error %#lx\n", tf->rsp, tf->rax,
	       tf->rdi, tf->rsi, tf->rflags, tf->error);
}
