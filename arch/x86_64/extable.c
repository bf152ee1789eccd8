/*
 * Exception fixups: a kernel instruction that may fault on purpose (a probe)
 * names, in section .extable, where execution continues if it does. A fault
 * anywhere else in kernel mode is a kernel bug.
 */
#include <arch/cpu.h>
#include <arch/extable.h>
#include <arch/trap.h>
#include <uapi/errno.h>

struct extable_entry {
	uint64_t insn;	/* address of the instruction that may fault */
	uint64_t fixup; /* where to continue when it does */
	uint64_t kind;	/* EXTABLE_* */
};

extern const struct extable_entry __extable_start[], __extable_end[];

int extable_fixup(struct trap_frame *tf)
{
	for (const struct extable_entry *e = __extable_start; e < __extable_end; e++) {
		if (e->insn == tf->rip) {
			tf->rip = e->fixup;
			return (int)e->kind;
		}
	}
	return 0;
}

/*
 * Copy to or from user memory that was checked (vmspace_check) but may be
 * unmapped meanwhile by another thread of the process on another CPU: the
 * pages cannot be reused before this CPU answers the shootdown (after the
 * copy), but the entries may already be gone, so a fault here means
 * -EFAULT, not a kernel bug.
 */
int copy_user_bytes(void *dst, const void *src, size_t len)
{
	int err = 0;
	user_access_begin();
	__asm__ volatile("1:	rep movsb\n"
			 "2:\n"
			 "	.pushsection .extable, \"a\"\n"
			 "	.balign 8\n"
			 "	.quad 1b, 3f, %c[kind]\n"
			 "	.popsection\n"
			 "	.pushsection .text.fixup, \"ax\"\n"
			 "3:	movl %[efault], %[err]\n"
			 "	jmp 2b\n"
			 "	.popsection\n"
			 : "+D"(dst), "+S"(src), "+c"(len), [err] "+r"(err)
			 : [efault] "i"(-EFAULT), [kind] "i"(EXTABLE_UACCESS)
			 : "memory");
	user_access_end();
	return err;
}

int get_user_u8(uint8_t *out, uintptr_t uaddr)
{
	int err = 0;
	uint8_t v = 0;
	user_access_begin();
	__asm__ volatile("1:	movb (%[addr]), %[v]\n"
			 "2:\n"
			 "	.pushsection .extable, \"a\"\n"
			 "	.balign 8\n"
			 "	.quad 1b, 3f, %c[kind]\n"
			 "	.popsection\n"
			 "	.pushsection .text.fixup, \"ax\"\n"
			 "3:	movl %[efault], %[err]\n"
			 "	jmp 2b\n"
			 "	.popsection\n"
			 : [v] "+q"(v), [err] "+r"(err)
			 : [addr] "r"(uaddr), [efault] "i"(-EFAULT), [kind] "i"(EXTABLE_UACCESS)
			 : "memory");
	user_access_end();
	*out = v;
	return err;
}

int probe_read64(uintptr_t addr, uint64_t *val)
{
	int err = 0;
	uint64_t v = 0;
	__asm__ volatile("1:	movq (%[addr]), %[v]\n"
			 "2:\n"
			 "	.pushsection .extable, \"a\"\n"
			 "	.balign 8\n"
			 "	.quad 1b, 3f, %c[kind]\n"
			 "	.popsection\n"
			 "	.pushsection .text.fixup, \"ax\"\n"
			 "3:	movl %[efault], %[err]\n"
			 "	jmp 2b\n"
			 "	.popsection\n"
			 : [v] "+r"(v), [err] "+r"(err)
			 : [addr] "r"(addr), [efault] "i"(-EFAULT), [kind] "i"(EXTABLE_PROBE)
			 : "memory");
	*val = v;
	return err;
}
