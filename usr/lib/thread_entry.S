/* Where a thread started by mc_thread_start begins (mc/thread.h). */

/*
 * The kernel enters with rdi = the start block, rsi = the thread's event
 * ring, rdx = its core, rcx = its id, and rsp = the 16-byte aligned top of its stack; a
 * call from here gives the C function the alignment the psABI wants.
 */
	.text
	.globl mc_thread_entry
	.type mc_thread_entry, @function
mc_thread_entry:
	xorl %ebp, %ebp
	call __mc_thread_main
	ud2
	.size mc_thread_entry, . - mc_thread_entry
