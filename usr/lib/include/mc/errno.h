/* errno: the error of the last failing libc call, in uapi/errno.h numbers. */
#pragma once

#include <uapi/errno.h>

/* One per thread (mc/thread.h). Never reset by libc. */
int *mc_errno_location(void);
#define errno (*mc_errno_location())

/* A message for an errno value; "unknown error" for values it lacks. */
const char *strerror(int err);

/*
 * Turn a raw system-call result into the libc convention: a negative errno
 * becomes -1 with errno set; anything else passes through.
 */
static inline long mc_syscall_ret(long rc)
{
	if (rc < 0 && rc >= -4095) {
		errno = (int)-rc;
		return -1;
	}
	return rc;
}
