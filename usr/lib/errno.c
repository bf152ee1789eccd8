/* errno and strerror for the error numbers of include/uapi/errno.h. */
#include <stddef.h>

#include <mc/errno.h>

static const char *const messages[] = {
    [0] = "success",
    [EPERM] = "operation not permitted",
    [ENOENT] = "no such file or directory",
    [ESRCH] = "no such process",
    [EINTR] = "interrupted",
    [EIO] = "input/output error",
    [E2BIG] = "argument list too long",
    [ENOEXEC] = "exec format error",
    [EBADF] = "bad descriptor",
    [ECHILD] = "no child processes",
    [EAGAIN] = "resource temporarily unavailable",
    [ENOMEM] = "out of memory",
    [EACCES] = "permission denied",
    [EFAULT] = "bad address",
    [EBUSY] = "device or resource busy",
    [EEXIST] = "already exists",
    [ENODEV] = "no such device",
    [EINVAL] = "invalid argument",
    [ENOSPC] = "no space left",
    [EPIPE] = "broken pipe",
    [ERANGE] = "result out of range",
    [ENOSYS] = "function not implemented",
    [EOVERFLOW] = "value too large",
    [EMSGSIZE] = "message too long",
    [ENOTSUP] = "operation not supported",
    [EADDRINUSE] = "address in use",
    [EADDRNOTAVAIL] = "address not available",
    [ECONNRESET] = "connection reset",
    [ENOTCONN] = "not connected",
    [ETIMEDOUT] = "timed out",
    [ECONNREFUSED] = "connection refused",
    [EHOSTUNREACH] = "no route to host",
};

const char *strerror(int err)
{
	/* Accept raw system-call results (negative) too. */
	unsigned int e = err < 0 ? -(unsigned int)err : (unsigned int)err;

	if (e >= sizeof(messages) / sizeof(messages[0]) || !messages[e])
		return "unknown error";
	return messages[e];
}
