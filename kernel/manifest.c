/*
 * The boot manifest: a module command line starts with key=value words that
 * say what the process is given, then its argv:
 *   cpu=1 mem=64M net=eth0:0 echod --port 7
 * cpu=N pins the process to core N exclusively; without it the process
 * shares the cores nobody owns. mem= bounds its user memory, stack= sizes
 * its stack, net=DEV:QP grants it a NIC queue pair (repeatable).
 */
#include <kernel/phys.h>
#include <kernel/proc.h>
#include <lib/string.h>
#include <uapi/errno.h>

#define DEFAULT_MEM   (64UL << 20)
#define DEFAULT_STACK (256UL << 10)
#define MAX_STACK     (64UL << 20)

/* "64M", "512K", "1G" or plain bytes. */
static int parse_size(const char *s, size_t len, uint64_t *out)
{
	char buf[24];
	uint64_t mul = 1;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	switch (buf[len - 1]) {
	case 'K':
	case 'k':
		mul = 1UL << 10;
		break;
	case 'M':
	case 'm':
		mul = 1UL << 20;
		break;
	case 'G':
	case 'g':
		mul = 1UL << 30;
		break;
	}
	if (mul != 1)
		buf[len - 1] = '\0';
	uint64_t v;
	if (str_to_u64(buf, NULL, 10, &v) || v > UINT64_MAX / mul)
		return -EINVAL;
	*out = v * mul;
	return 0;
}

static int parse_net(const char *v, size_t len, struct manifest *mf, const char **why)
{
	const char *colon = memchr(v, ':', len);
	uint64_t qp;
	char num[8];

	if (mf->net_count >= PROC_NET_MAX) {
		*why = "too many net= grants";
		return -EINVAL;
	}
	size_t dl = colon ? (size_t)(colon - v) : 0;
	size_t nl = colon ? len - dl - 1 : 0;
	if (!colon || dl == 0 || dl >= sizeof(mf->net[0].dev) || nl == 0 || nl >= sizeof(num)) {
		*why = "net= wants DEVICE:QUEUEPAIR, e.g. net=eth0:0";
		return -EINVAL;
	}
	memcpy(num, colon + 1, nl);
	num[nl] = '\0';
	if (str_to_u64(num, NULL, 10, &qp) || qp > 255) {
		*why = "net= queue pair is not a small number";
		return -EINVAL;
	}
	struct proc_net_grant *g = &mf->net[mf->net_count++];
	memcpy(g->dev, v, dl);
	g->dev[dl] = '\0';
	g->qp = (int)qp;
	return 0;
}

static int parse_word(const char *k, size_t kl, const char *v, size_t vl, struct manifest *mf,
		      const char **why)
{
	uint64_t n;

	if (kl == 3 && !memcmp(k, "cpu", 3)) {
		char num[8];
		if (vl == 0 || vl >= sizeof(num))
			goto bad_cpu;
		memcpy(num, v, vl);
		num[vl] = '\0';
		if (str_to_u64(num, NULL, 10, &n) || n >= 64)
			goto bad_cpu;
		mf->cpu = (int)n;
		mf->cpu_exclusive = true;
		return 0;
	}
	if (kl == 3 && !memcmp(k, "mem", 3)) {
		if (parse_size(v, vl, &n) || n < PAGE_SIZE * 16) {
			*why = "mem= wants a size of at least 64K, e.g. mem=64M";
			return -EINVAL;
		}
		mf->mem_pages = n / PAGE_SIZE;
		return 0;
	}
	if (kl == 5 && !memcmp(k, "stack", 5)) {
		if (parse_size(v, vl, &n) || n < PAGE_SIZE || n > MAX_STACK) {
			*why = "stack= wants a size from 4K to 64M";
			return -EINVAL;
		}
		mf->stack_bytes = ALIGN_UP(n, PAGE_SIZE);
		return 0;
	}
	if (kl == 3 && !memcmp(k, "net", 3))
		return parse_net(v, vl, mf, why);
	*why = "unknown manifest key (known: cpu= mem= stack= net=)";
	return -EINVAL;
bad_cpu:
	*why = "cpu= wants a core number";
	return -EINVAL;
}

int manifest_parse(const char *cmdline, struct manifest *mf, const char **argv_start,
		   const char **why)
{
	*mf = (struct manifest){
	    .cpu = -1, .mem_pages = DEFAULT_MEM / PAGE_SIZE, .stack_bytes = DEFAULT_STACK};
	const char *p = cmdline, *w;
	for (;;) {
		while (*p == ' ')
			p++;
		w = p;
		while (*p && *p != ' ' && *p != '=')
			p++;
		if (*p != '=' || p == w)
			break; /* first word that is not key=value: argv[0] */
		const char *v = p + 1;
		const char *e = v;
		while (*e && *e != ' ')
			e++;
		int err = parse_word(w, (size_t)(p - w), v, (size_t)(e - v), mf, why);
		if (err)
			return err;
		p = e;
	}
	*argv_start = w;
	if (!*w) {
		*why = "no program name after the manifest";
		return -EINVAL;
	}
	return 0;
}
