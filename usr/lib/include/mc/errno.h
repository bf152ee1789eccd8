/* errno: the error of the last failing libc call, in uapi/errno.h numbers. */
#pragma once

#include <uapi/errno.h>

/* Single-threaded processes: one global suffices. Never reset by libc. */
extern int errno;

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
