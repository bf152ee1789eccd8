/*
 * User-memory access for system calls. A pointer is used only after the
 * current process's page tables show every byte mapped with the needed
 * rights; the process is single-threaded and the call runs with interrupts
 * off, so the mapping cannot change between the check and the copy. With
 * SMAP the kernel can touch user pages only inside these functions.
 */
#include <arch/cpu.h>
#include <kernel/phys.h>
#include <kernel/proc.h>
#include <kernel/uaccess.h>
#include <lib/string.h>
#include <uapi/errno.h>

int copy_from_user(void *dst, uintptr_t usrc, size_t len)
{
	if (!vmspace_check(&proc_current()->vs, usrc, len, false))
		return -EFAULT;
	user_access_begin();
	memcpy(dst, (const void *)usrc, len);
	user_access_end();
	return 0;
}

int copy_to_user(uintptr_t udst, const void *src, size_t len)
{
	if (!vmspace_check(&proc_current()->vs, udst, len, true))
		return -EFAULT;
	user_access_begin();
	memcpy((void *)udst, src, len);
	user_access_end();
	return 0;
}

long strncpy_from_user(char *dst, uintptr_t usrc, size_t size)
{
	const struct vmspace *vs = &proc_current()->vs;
	for (size_t i = 0; i < size; i++) {
		/* check each page once, when the copy enters it */
		if ((i == 0 || ((usrc + i) & (PAGE_SIZE - 1)) == 0) &&
		    !vmspace_check(vs, usrc + i, 1, false))
			return -EFAULT;
		user_access_begin();
		char ch = *(const volatile char *)(usrc + i);
		user_access_end();
		dst[i] = ch;
		if (!ch)
			return (long)i;
	}
	return -EINVAL;
}
