/* Auxiliary-vector types (System V ABI values) and Manticore's own. */
#pragma once

#define AT_NULL	  0
#define AT_PHDR	  3
#define AT_PHENT  4
#define AT_PHNUM  5
#define AT_PAGESZ 6
#define AT_BASE	  7
#define AT_ENTRY  9
#define AT_RANDOM 25
#define AT_EXECFN 31
/* Manticore: address of the process's struct mc_event_ring. */
#define AT_MC_EVENT_RING 0x4d430001
/* Manticore: the CPU the process's first thread runs on. RDTSCP's TSC_AUX
 * (and RDPID) hold the current CPU's number in every thread. */
#define AT_MC_CPU 0x4d430002
/* Manticore: TSC ticks per second (the TSC is invariant and shared by all
 * CPUs), so a process can keep time without system calls. */
#define AT_MC_TSC_HZ 0x4d430003
/* Manticore: the cores the process owns (bit n: core n; cpus= in the
 * manifest), where it may start threads; 0 if it shares cores. */
#define AT_MC_CPUS 0x4d430004
