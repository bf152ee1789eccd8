/* C start-up: record argc/argv/envp/auxv, run main, exit with its result. */
#include <stddef.h>
#include <stdint.h>

#include <lib/string.h>
#include <mc/runtime.h>
#include <mc/stdlib.h>

int main(int argc, char **argv, char **envp);
__attribute__((noreturn)) void __mc_start(uint64_t *sp);

int mc_argc;
char **mc_argv;
char **mc_envp;
static uint64_t *auxv; /* type/value pairs ending with AT_NULL */

/* Called once from crt0.S with the stack pointer the kernel started us with. */
void __mc_start(uint64_t *sp)
{
	char **p;

	mc_argc = (int)sp[0];
	mc_argv = (char **)(sp + 1);
	mc_envp = mc_argv + mc_argc + 1;
	for (p = mc_envp; *p; p++)
		;
	auxv = (uint64_t *)(p + 1);
	exit(main(mc_argc, mc_argv, mc_envp));
}

uint64_t mc_getauxval(uint64_t type)
{
	const uint64_t *a;

	if (!auxv || type == AT_NULL)
		return 0;
	for (a = auxv; a[0] != AT_NULL; a += 2) {
		if (a[0] == type)
			return a[1];
	}
	return 0;
}

uint64_t mc_page_size(void)
{
	uint64_t sz = mc_getauxval(AT_PAGESZ);

	return sz ? sz : 4096;
}

unsigned int mc_cpu(void)
{
	return (unsigned int)mc_getauxval(AT_MC_CPU);
}

const uint8_t *mc_random_bytes(void)
{
	return (const uint8_t *)(uintptr_t)mc_getauxval(AT_RANDOM);
}

char *getenv(const char *name)
{
	size_t n = strlen(name);
	char **e;

	if (!mc_envp)
		return NULL;
	for (e = mc_envp; *e; e++) {
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	}
	return NULL;
}
