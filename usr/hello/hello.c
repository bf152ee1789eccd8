/* hello: print the pid and arguments, optionally numbered lines and the auxv. */
#include <stdbool.h>
#include <stdint.h>

#include <lib/string.h>
#include <mc/errno.h>
#include <mc/event.h>
#include <mc/runtime.h>
#include <mc/stdio.h>
#include <mc/stdlib.h>
#include <mc/sys.h>

__attribute__((noreturn)) static void usage(void)
{
	printf("usage: hello [--count N] [--aux] [args...]\n");
	exit(2);
}

static void print_aux(void)
{
	const uint8_t *rnd = mc_random_bytes();

	printf("hello: AT_PAGESZ %lu AT_MC_CPU %u AT_MC_EVENT_RING %p\n",
	       (unsigned long)mc_page_size(), mc_cpu(), (void *)mc_event_ring());
	printf("hello: AT_ENTRY %#lx AT_PHDR %#lx AT_PHNUM %lu\n",
	       (unsigned long)mc_getauxval(AT_ENTRY), (unsigned long)mc_getauxval(AT_PHDR),
	       (unsigned long)mc_getauxval(AT_PHNUM));
	printf("hello: AT_MC_TSC_HZ %lu\n", (unsigned long)mc_getauxval(AT_MC_TSC_HZ));
	if (rnd)
		printf("hello: AT_RANDOM %02x%02x%02x%02x...\n", rnd[0], rnd[1], rnd[2], rnd[3]);
	for (char **e = mc_envp; *e; e++)
		printf("hello: env %s\n", *e);
}

int main(int argc, char **argv)
{
	long count = 0, pid = getpid();
	bool aux = false;
	char *end;
	int i;

	/* "hello from pid N: argv[0] argv[1] ..." as one line */
	printf("hello from pid %ld:", pid);
	for (i = 0; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n");

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--count") == 0) {
			if (++i == argc)
				usage();
			count = strtol(argv[i], &end, 10);
			if (*end || end == argv[i] || count < 0)
				usage();
		} else if (strcmp(argv[i], "--aux") == 0) {
			aux = true;
		}
	}
	if (aux)
		print_aux();
	for (i = 1; i <= count; i++)
		printf("hello %d/%ld\n", i, count);
	return 0;
}
