/* spin NAME [ITERATIONS]: burn CPU without any system call, to prove preemption. */
#include <stdint.h>

#include <mc/stdio.h>
#include <mc/stdlib.h>

/*
 * About a second of CPU: the loop is bound by the multiply's latency, about
 * 1.25 ns an iteration both natively and under QEMU TCG on the machines here
 * (measured). Tune with the second argument.
 */
#define SPIN_DEFAULT_ITERATIONS 800000000UL

/*
 * A linear congruential step per iteration (Knuth's MMIX constants). The
 * empty asm makes the value opaque to the compiler so it cannot fold or
 * vectorise the loop away; nothing in it touches memory or the kernel.
 */
static uint64_t spin(uint64_t iterations)
{
	uint64_t x = 1;

	for (uint64_t i = 0; i < iterations; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		__asm__ volatile("" : "+r"(x));
	}
	return x;
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "?";
	unsigned long iterations = SPIN_DEFAULT_ITERATIONS;
	char *end;

	if (argc > 2) {
		iterations = strtoul(argv[2], &end, 0);
		if (*end || end == argv[2]) {
			printf("usage: spin NAME [ITERATIONS]\n");
			return 2;
		}
	}
	printf("spin %s start\n", name);
	spin(iterations);
	printf("spin %s done\n", name);
	return 0;
}
