/* Kernel command-line lookup. */
#include <kernel/cmdline.h>
#include <lib/string.h>

#define CMDLINE_MAX 512

static char cmdline[CMDLINE_MAX];

void cmdline_init(const char *s)
{
	strlcpy(cmdline, s ? s : "", sizeof(cmdline));
}

const char *cmdline_raw(void)
{
	return cmdline;
}

/* Find `key` as a whole word; returns a pointer just past it or NULL. */
static const char *find_key(const char *key)
{
	size_t klen = strlen(key);
	for (const char *p = cmdline; *p;) {
		while (*p == ' ')
			p++;
		const char *w = p;
		while (*p && *p != ' ')
			p++;
		if ((size_t)(p - w) >= klen && memcmp(w, key, klen) == 0 &&
		    (w[klen] == '=' || w[klen] == ' ' || w[klen] == '\0'))
			return w + klen;
	}
	return NULL;
}

bool cmdline_get(const char *key, char *buf, size_t size)
{
	const char *v = find_key(key);
	if (!v)
		return false;
	size_t n = 0;
	if (*v == '=') {
		v++;
		while (v[n] && v[n] != ' ')
			n++;
	}
	if (size) {
		size_t c = MIN(n, size - 1);
		memcpy(buf, v, c);
		buf[c] = '\0';
	}
	return true;
}

bool cmdline_has(const char *key)
{
	return find_key(key) != NULL;
}
