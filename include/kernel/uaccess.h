/* The one checked way to touch user memory from a system call. */
#pragma once

#include <kernel/types.h>

/* Each returns 0 or -EFAULT when any byte is not mapped for the access. */
int copy_from_user(void *dst, uintptr_t usrc, size_t len);
int copy_to_user(uintptr_t udst, const void *src, size_t len);
/* Copy a NUL-terminated string of at most size-1 bytes: returns its length,
 * -EFAULT, or -ENAMETOOLONG-like -EINVAL when no NUL fits. */
long strncpy_from_user(char *dst, uintptr_t usrc, size_t size);
