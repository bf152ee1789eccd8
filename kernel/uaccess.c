/*
 * User-memory access for system calls. A pointer is used only after the
 * current process's page tables show every byte mapped with the needed
 * rights. Another thread of the process may unmap the range on another CPU
 * between the check and the copy; the pages themselves cannot be reused
 * until this CPU has answered that unmap's shootdown (mm/tlb.c), which it
 * does only after the call, so the copy may find the entries gone but never
 * someone else's page: it then returns -EFAULT (arch/x86_64/extable.c).
 * With SMAP the kernel can touch user pages only inside these functions.
 */
#include <arch/extable.h>
#include <kernel/proc.h>
#include <kernel/uaccess.h>
#include <mm/phys.h>
#include <uapi/errno.h>

int copy_from_user(void *dst, uintptr_t usrc, size_t len)
{
	if (!vmspace_check(&proc_current()->vs, usrc, len, false))
		return -EFAULT;
	return copy_user_bytes(dst, (const void *)usrc, len);
}

int copy_to_user(uintptr_t udst, const void *src, size_t len)
{
	if (!vmspace_check(&proc_current()->vs, udst, len, true))
		return -EFAULT;
	return copy_user_bytes((void *)udst, src, len);
}

long strncpy_from_user(char *dst, uintptr_t usrc, size_t size)
{
	const struct vmspace *vs = &proc_current()->vs;
	for (size_t i = 0; i < size; i++) {
		/* check each page once, when the copy enters it */
		if ((i == 0 || ((usrc + i) & (PAGE_SIZE - 1)) == 0) &&
		    !vmspace_check(vs, usrc + i, 1, false))
			return -EFAULT;
		uint8_t ch;
		if (get_user_u8(&ch, usrc + i))
			return -EFAULT;
		dst[i] = (char)ch;
		if (!ch)
			return (long)i;
	}
	return -EINVAL;
}
