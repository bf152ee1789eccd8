/* qholder DEV QP MS: take queue pair QP of DEV, hold it MS milliseconds, exit. */
#include <stdint.h>

#include <mc/errno.h>
#include <mc/event.h>
#include <mc/stdio.h>
#include <mc/stdlib.h>
#include <mc/sys.h>

int main(int argc, char **argv)
{
	struct mc_net_layout l;

	if (argc != 4) {
		printf("usage: qholder DEV QP MS\n");
		return 2;
	}
	unsigned qp = (unsigned)strtoul(argv[2], NULL, 10);
	uint64_t ms = strtoul(argv[3], NULL, 10);
	long r = sys_net_attach(argv[1], qp, &l);
	if (r) {
		printf("qholder: net_attach %s %u: %s\n", argv[1], qp, strerror((int)r));
		return 1;
	}
	printf("qholder: holding %s queue pair %u for %lu ms\n", argv[1], qp, (unsigned long)ms);
	uint64_t end = mc_now_ns() + ms * 1000000ULL;
	for (uint64_t now; (now = mc_now_ns()) < end;)
		sys_wait(end - now);
	return 0;
}
