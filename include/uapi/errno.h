/* Error numbers shared by the kernel and user space (values follow Linux). */
#pragma once

#define EPERM	      1
#define ENOENT	      2
#define ESRCH	      3
#define EINTR	      4
#define EIO	      5
#define E2BIG	      7
#define ENOEXEC	      8
#define EBADF	      9
#define ECHILD	      10
#define EAGAIN	      11
#define ENOMEM	      12
#define EACCES	      13
#define EFAULT	      14
#define EBUSY	      16
#define EEXIST	      17
#define ENODEV	      19
#define EINVAL	      22
#define ENOSPC	      28
#define EPIPE	      32
#define ERANGE	      34
#define ENOSYS	      38
#define EOVERFLOW     75
#define EMSGSIZE      90
#define ENOTSUP	      95
#define EADDRINUSE    98
#define EADDRNOTAVAIL 99
#define ECONNRESET    104
#define ENOTCONN      107
#define ETIMEDOUT     110
#define ECONNREFUSED  111
#define EHOSTUNREACH  113
