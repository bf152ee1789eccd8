/*
 * The boot manifest: a module command line starts with key=value words that
 * say what the process is given, then its argv:
 *   cpus=1-2 mem=64M net=eth0:0-1 echod --port 7
 * cpus=LIST gives the process those cores exclusively (LIST: numbers and
 * ranges, "1-2", "1,3", "0-1,4"); cpu=N is the one-core form. Without
 * either the process shares the cores nobody owns. mem= bounds its user
 * memory, stack= sizes its first thread's stack, net=DEV:QP or DEV:FIRST-LAST
 * grants it NIC queue pairs (repeatable).
 */
#include <kernel/proc.h>
#include <lib/string.h>
#include <mm/phys.h>
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

/* A decimal number below `limit` from s[0..len). */
static int parse_small(const char *s, size_t len, uint64_t limit, uint64_t *out)
{
	char num[8];
	if (len == 0 || len >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, len);
	num[len] = '\0';
	if (str_to_u64(num, NULL, 10, out) || *out >= limit)
		return -EINVAL;
	return 0;
}

/* "A" or "A-B" with A <= B < limit. */
static int parse_range(const char *s, size_t len, uint64_t limit, uint64_t *a, uint64_t *b)
{
	const char *dash = memchr(s, '-', len);
	if (!dash)
		return parse_small(s, len, limit, a) ?: (*b = *a, 0);
	if (parse_small(s, (size_t)(dash - s), limit, a) ||
	    parse_small(dash + 1, len - (size_t)(dash - s) - 1, limit, b) || *a > *b)
		return -EINVAL;
	return 0;
}

static int parse_net(const char *v, size_t len, struct manifest *mf, const char **why)
{
	const char *colon = memchr(v, ':', len);
	uint64_t first, last;

	if (mf->net_count >= PROC_NET_MAX) {
		*why = "too many net= grants";
		return -EINVAL;
	}
	size_t dl = colon ? (size_t)(colon - v) : 0;
	if (!colon || dl == 0 || dl >= sizeof(mf->net[0].dev)) {
		*why = "net= wants DEVICE:QUEUEPAIRS, e.g. net=eth0:0 or net=eth0:0-1";
		return -EINVAL;
	}
	if (parse_range(colon + 1, len - dl - 1, 256, &first, &last)) {
		*why = "net= queue pairs are not a number or a range of small numbers (0-255)";
		return -EINVAL;
	}
	struct proc_net_grant *g = &mf->net[mf->net_count++];
	memcpy(g->dev, v, dl);
	g->dev[dl] = '\0';
	g->first = (int)first;
	g->last = (int)last;
	return 0;
}

/* "1", "1-2", "1,3", "0-1,4": a set of cores below MAX_CPUS. */
static int parse_cpus(const char *v, size_t len, uint64_t *mask)
{
	*mask = 0;
	while (len) {
		const char *comma = memchr(v, ',', len);
		size_t n = comma ? (size_t)(comma - v) : len;
		uint64_t a, b;
		if (parse_range(v, n, MAX_CPUS, &a, &b))
			return -EINVAL;
		for (uint64_t c = a; c <= b; c++) {
			if (*mask & (1ULL << c))
				return -EINVAL; /* listed twice */
			*mask |= 1ULL << c;
		}
		if (!comma)
			return 0;
		v += n + 1;
		len -= n + 1;
		if (!len)
			return -EINVAL; /* trailing comma */
	}
	return -EINVAL;
}

static int parse_word(const char *k, size_t kl, const char *v, size_t vl, struct manifest *mf,
		      const char **why)
{
	uint64_t n;

	if (kl == 3 && !memcmp(k, "cpu", 3)) {
		if (mf->cpus || parse_small(v, vl, MAX_CPUS, &n)) {
			*why = "cpu= wants one core number (and no cpus= besides)";
			return -EINVAL;
		}
		mf->cpus = 1ULL << n;
		return 0;
	}
	if (kl == 4 && !memcmp(k, "cpus", 4)) {
		if (mf->cpus || parse_cpus(v, vl, &mf->cpus)) {
			*why = "cpus= wants core numbers and ranges, each once, e.g. cpus=1-2 or "
			       "cpus=1,3 (and no cpu= besides)";
			return -EINVAL;
		}
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
	*why = "unknown manifest key (known: cpu= cpus= mem= stack= net=)";
	return -EINVAL;
}

int manifest_parse(const char *cmdline, struct manifest *mf, const char **argv_start,
		   const char **why)
{
	*mf = (struct manifest){.mem_pages = DEFAULT_MEM / PAGE_SIZE, .stack_bytes = DEFAULT_STACK};
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
