/* Process entry: hand the initial stack (argc, argv, envp, auxv) to C. */

/*
 * The kernel enters here with rsp pointing at argc, followed by argv[],
 * NULL, envp[], NULL and the auxv pairs up to AT_NULL (System V x86-64 psABI
 * §3.4.1), and DF clear. The System V ABI wants rsp + 8 to be 16-byte
 * aligned at a function's entry, so align rsp before the call. For a static
 * PIE the kernel has already applied the relocations: nothing to do here.
 */
	.cfi_sections .debug_frame	/* unwind info for debuggers only */
	.text
	.globl _start
	.type _start, @function
_start:
	.cfi_startproc
	.cfi_undefined rip		/* outermost frame: debuggers stop here */
	xorl %ebp, %ebp
	movq %rsp, %rdi			/* __mc_start(uint64_t *sp) */
	andq $-16, %rsp
	call __mc_start
	ud2				/* __mc_start never returns */
	.cfi_endproc
	.size _start, . - _start

	.section .note.GNU-stack, "", @progbits
