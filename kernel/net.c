/*
 * NIC queue-pair grants (kernel bypass): net_attach maps a queue pair's
 * rings, buffers and doorbell into the one process the manifest allows.
 * Until a NIC driver registers a device, every name is unknown (-ENODEV),
 * after the arguments have been checked like any other call's.
 */
#include <kernel/proc.h>
#include <kernel/syscall.h>
#include <kernel/uaccess.h>
#include <uapi/errno.h>

#define NET_NAME_MAX 16

static long check_name(uint64_t uname, char *name)
{
	long n = strncpy_from_user(name, uname, NET_NAME_MAX);
	if (n < 0)
		return n;
	return n == 0 ? -EINVAL : 0;
}

long sys_net_attach(struct process *p, uint64_t uname, uint64_t qp, uint64_t ulayout)
{
	char name[NET_NAME_MAX];
	long err = check_name(uname, name);
	if (err)
		return err;
	if (!vmspace_check(&p->vs, ulayout, 1, true))
		return -EFAULT;
	(void)qp;
	return -ENODEV;
}

long sys_net_info(struct process *p, uint64_t uname, uint64_t uinfo)
{
	char name[NET_NAME_MAX];
	long err = check_name(uname, name);
	if (err)
		return err;
	if (!vmspace_check(&p->vs, uinfo, 1, true))
		return -EFAULT;
	return -ENODEV;
}

long sys_net_kick(struct process *p, uint64_t qp, uint64_t queue)
{
	(void)p;
	(void)qp;
	(void)queue;
	return -ENODEV;
}

void proc_net_release(struct process *p)
{
	(void)p;
}
