/* Processes: the only things that run. The kernel owns no threads. */
#pragma once

#include <arch/trap.h>
#include <kernel/conout.h>
#include <kernel/spinlock.h>
#include <kernel/vmspace.h>
#include <uapi/event.h>

#define PROC_MAX      64
#define PROC_NAME_MAX 32
#define PROC_MAX_ARGS 32
#define PROC_NET_MAX  4

enum proc_state {
	PROC_FREE = 0,
	PROC_RUNNABLE, /* on its CPU's run queue */
	PROC_RUNNING,  /* current on its CPU */
	PROC_WAITING,  /* in wait(), until an event or its deadline */
	PROC_DEAD,     /* exited; kept for the summary */
};

/* A NIC queue pair the manifest lets this process attach. */
struct proc_net_grant {
	char dev[8];
	int qp;
};

/* Partition granted by the manifest (leading key=value words of the module
 * command line). */
struct manifest {
	int cpu; /* -1: any shared core */
	bool cpu_exclusive;
	size_t mem_pages; /* user memory budget */
	size_t stack_bytes;
	int net_count;
	struct proc_net_grant net[PROC_NET_MAX];
};

struct vnet_qp;

struct process {
	int pid;
	enum proc_state state;
	char name[PROC_NAME_MAX];
	struct manifest mf;
	struct vmspace vs;
	struct trap_frame frame; /* user registers while not running */
	uint8_t *fpu;		 /* FXSAVE area, 512 bytes, 16-aligned */
	unsigned cpu;		 /* CPU it runs on */
	bool placed;		 /* counted on that CPU by sched_place */
	struct process *rq_next; /* run queue link */

	/* event ring: kernel view and user address */
	struct spinlock ev_lock;
	struct mc_event_ring *ring;
	paddr_t ring_pa;
	uintptr_t ring_uva;

	uint64_t wait_deadline;	 /* ns, when PROC_WAITING; 0 = none */
	bool in_wait;		 /* resume with rax = pending events */
	uint64_t timer_deadline; /* timer_set, 0 = none */
	uint64_t timer_cookie;
	uint64_t slice_end; /* ns when its time slice ends */

	int exit_status;
	bool killed;
	uint64_t start_ns, cpu_ns, last_run_ns;
	uint64_t syscalls;
	struct vnet_qp *net_owned[PROC_NET_MAX]; /* attached queue pairs */

	/* console output (kernel/conout.c), under out_lock */
	struct spinlock out_lock;
	struct conout out;
	char out_tag[PROC_NAME_MAX + 16]; /* "name[pid]: " */

	/* kernel/testhook.c: a user address to read at the next interrupt */
	uint64_t probe_uaddr;
	int probe_result;
};

extern struct process procs[PROC_MAX];

/* Create a process from an ELF image and its module command line. Prints
 * and returns a negative errno when the module is refused. */
int proc_spawn(const void *image, size_t size, const char *cmdline, const char *what);
/* Write process output to the console as tagged, escaped lines. */
void proc_console_write(struct process *p, const char *buf, size_t n);
/* End a process: free its memory and devices and mark it dead. */
void proc_exit(struct process *p, int status);
/* Queue an event for p and wake it if it waits. Any CPU, any context. */
void proc_post_event(struct process *p, uint32_t type, uint64_t d0, uint64_t d1, uint64_t d2);
/* Events the process has not consumed yet (by its ring's head and tail). */
uint32_t proc_pending_events(struct process *p);
struct process *proc_current(void);
/* Print why a user exception kills p: address, RIP and instruction bytes;
 * `note`, if not NULL, says more about the kind of fault. */
void proc_report_fault(struct process *p, const struct trap_frame *tf, const char *note);
/* Give back the NIC queue pairs p attached. */
void proc_net_release(struct process *p);
void proc_fpu_init(void);

/* Parse leading key=value words; *argv_start gets the rest. Returns 0 or
 * -EINVAL with a reason. */
int manifest_parse(const char *cmdline, struct manifest *mf, const char **argv_start,
		   const char **why);
