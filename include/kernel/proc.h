/*
 * Processes and their threads: the only things that run; the kernel owns no
 * threads. A process is an address space and what the manifest granted it
 * (cores, memory, NIC queues); a thread is a register set that runs on one
 * core. A process starts with one thread and may start one more on each
 * core it owns (thread_start).
 */
#pragma once

#include <arch/percpu.h>
#include <arch/trap.h>
#include <kernel/conout.h>
#include <kernel/spinlock.h>
#include <mm/vmspace.h>
#include <uapi/event.h>
#include <uapi/net.h>

#define PROC_MAX      64
#define THREAD_MAX    128 /* threads in the whole system */
#define PROC_THREADS  MAX_CPUS
#define PROC_NAME_MAX 32
#define PROC_MAX_ARGS 32
#define PROC_NET_MAX  8

enum proc_state {
	PROC_FREE = 0,
	PROC_LIVE, /* has live threads */
	PROC_DEAD, /* exited and released; kept for the summary */
};

enum thread_state {
	THREAD_FREE = 0,
	THREAD_RUNNABLE, /* on its CPU's run queue */
	THREAD_RUNNING,	 /* current on its CPU */
	THREAD_WAITING,	 /* in wait(), until an event or its deadline */
	THREAD_DEAD,	 /* stopped; its slot is freed with the process */
};

/* A range of NIC queue pairs the manifest lets this process attach. */
struct proc_net_grant {
	char dev[8];
	int first, last; /* queue pairs first..last */
};

/* Partition granted by the manifest (leading key=value words of the module
 * command line). */
struct manifest {
	uint64_t cpus;	  /* cores owned exclusively (bit n: core n); 0: share */
	size_t mem_pages; /* user memory budget */
	size_t stack_bytes;
	int net_count;
	struct proc_net_grant net[PROC_NET_MAX];
};

struct process;
struct vnet_qp;

struct thread {
	struct process *proc; /* NULL: slot free */
	int tid;	      /* index in proc->threads; 0 is the first thread */
	enum thread_state state;
	unsigned cpu;		 /* the core it runs on, for its whole life */
	struct trap_frame frame; /* user registers while not running */
	uint8_t *fpu;		 /* FXSAVE area, 512 bytes, 16-aligned */
	struct thread *rq_next;	 /* run queue link, under the queue's lock */
	bool on_cpu;		 /* its CPU uses its frame (running, or switching out) */
	bool stop;		 /* the process is ending: stop at the next entry */

	/* event ring: kernel view and user address; ring under ev_lock */
	struct spinlock ev_lock;
	struct mc_event_ring *ring;
	paddr_t ring_pa;
	uintptr_t ring_uva;

	/* written only on the thread's own CPU */
	uint64_t wait_deadline;	 /* ns, when THREAD_WAITING; 0 = none */
	bool in_wait;		 /* resume with rax = pending events */
	uint64_t timer_deadline; /* timer_set, 0 = none */
	uint64_t timer_cookie;
	uint64_t slice_end; /* ns when its time slice ends */
	uint64_t cpu_ns, last_run_ns;
	uint64_t syscalls;

	/* kernel/testhook.c: a user address to read at the next interrupt */
	uint64_t probe_uaddr;
	int probe_result;
};

struct process {
	int pid;
	enum proc_state state;
	char name[PROC_NAME_MAX];
	struct manifest mf;
	struct vmspace vs;
	bool placed; /* its cores are counted by sched_place */

	struct spinlock lock; /* threads[], live_threads, exiting, net_owned[] */
	struct thread *threads[PROC_THREADS];
	unsigned nthreads;     /* slots used in threads[] */
	unsigned live_threads; /* not yet stopped; the last one out releases */
	bool exiting;	       /* exit or a fatal fault: every thread stops */
	int exit_status;
	bool killed;

	uint64_t start_ns;
	uint64_t cpu_ns, syscalls;		       /* of threads that have stopped */
	struct vnet_qp *net_owned[PROC_NET_MAX];       /* attached queue pairs */
	struct mc_net_layout net_layout[PROC_NET_MAX]; /* as each was given (re-attach) */

	/* console output (kernel/conout.c), under out_lock */
	struct spinlock out_lock;
	struct conout out;
	char out_tag[PROC_NAME_MAX + 16]; /* "name[pid]: " */
};

extern struct process procs[PROC_MAX];
extern struct thread threads[THREAD_MAX];

/* Create a process from an ELF image and its module command line. Prints
 * and returns a negative errno when the module is refused. */
int proc_spawn(const void *image, size_t size, const char *cmdline, const char *what);
/* End p: every thread stops, then its memory and devices are released.
 * Called by one of its threads (exit, or a fatal fault with killed set). */
void proc_exit(struct process *p, int status);
/* End p from outside it (an interrupt, another process): killed with status;
 * its threads stop at once or at their next kernel entry. */
void proc_kill(struct process *p, int status);
/* End only thread t (thread_exit); the last thread out ends the process. */
void thread_exit(struct thread *t, int status);
/* Called by the scheduler when a thread has stopped for good on its CPU (or
 * was never running): counts it out, and releases the process with it. */
void proc_thread_gone(struct thread *t);
/* Queue an event for t and wake it if it waits. Any CPU, any context. */
void thread_post_event(struct thread *t, uint32_t type, uint64_t d0, uint64_t d1, uint64_t d2);
/* Events t has not consumed yet (by its ring's head and tail). */
uint32_t thread_pending_events(struct thread *t);
/* The thread running on this CPU, and its process. */
struct thread *thread_current(void);
struct process *proc_current(void);
/* Print why a user exception kills p: address, RIP and instruction bytes;
 * `note`, if not NULL, says more about the kind of fault. */
void proc_report_fault(struct thread *t, const struct trap_frame *tf, const char *note);
/* Write process output to the console as tagged, escaped lines. */
void proc_console_write(struct process *p, const char *buf, size_t n);
/* Whether every net= grant names a device and queue pairs it has (-ENODEV,
 * -EINVAL with a reason). */
int net_check_grants(const struct manifest *mf, const char **why);
/* Processes killed so far because their queue pair made the NIC fault. */
uint64_t net_dma_kills(void);
/* Give back the NIC queue pairs p attached. */
void proc_net_release(struct process *p);
void proc_fpu_init(void);

/* System calls of kernel/thread.c. */
long sys_thread_start(struct thread *t, uint64_t cpu, uint64_t entry, uint64_t arg, uint64_t stack);
long sys_thread_wake(struct thread *t, uint64_t tid, uint64_t value);

/* Parse leading key=value words; *argv_start gets the rest. Returns 0 or
 * -EINVAL with a reason. */
int manifest_parse(const char *cmdline, struct manifest *mf, const char **argv_start,
		   const char **why);
