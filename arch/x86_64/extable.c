/*
 * Exception fixups: a kernel instruction that may fault on purpose (a probe)
 * names, in section .extable, where execution continues if it does. A fault
 * anywhere else in kernel mode is a kernel bug.
 */
#include <arch/extable.h>
#include <arch/trap.h>
#include <uapi/errno.h>

struct extable_entry {
	uint64_t insn;	/* address of the instruction that may fault */
	uint64_t fixup; /* where to continue when it does */
};

extern const struct extable_entry __extable_start[], __extable_end[];

bool extable_fixup(struct trap_frame *tf)
{
	for (const struct extable_entry *e = __extable_start; e < __extable_end; e++) {
		if (e->insn == tf->rip) {
			tf->rip = e->fixup;
			return true;
		}
	}
	return false;
}

int probe_read64(uintptr_t addr, uint64_t *val)
{
	int err = 0;
	uint64_t v = 0;
	__asm__ volatile("1:	movq (%[addr]), %[v]\n"
			 "2:\n"
			 "	.pushsection .extable, \"a\"\n"
			 "	.balign 8\n"
			 "	.quad 1b, 3f\n"
			 "	.popsection\n"
			 "	.pushsection .text.fixup, \"ax\"\n"
			 "3:	movl %[efault], %[err]\n"
			 "	jmp 2b\n"
			 "	.popsection\n"
			 : [v] "+r"(v), [err] "+r"(err)
			 : [addr] "r"(addr), [efault] "i"(-EFAULT)
			 : "memory");
	*val = v;
	return err;
}
