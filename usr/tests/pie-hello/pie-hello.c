/* pie-hello: a static PIE checks that its pointer tables were relocated to where it runs. */
#include <stdbool.h>
#include <stdint.h>

#include <lib/string.h>
#include <mc/runtime.h>
#include <mc/stdio.h>

#define ET_DYN 3

/* The ELF header, wherever the kernel loaded us (a linker-defined symbol). */
extern const struct {
	uint8_t ident[16];
	uint16_t type;
} __ehdr_start;

extern char _start[]; /* crt0.S */

static int counter = 5;
static const char greeting[] = "relocated";

int main(void);
static int helper(int x);

/*
 * Initialised with addresses, so the linker leaves R_X86_64_RELATIVE
 * relocations for them; global, so the compiler cannot assume their
 * contents and must load what the kernel wrote.
 */
void *pie_table[] = {&counter, (void *)greeting, (void *)&main, (void *)&helper};
int (*pie_helper)(int) = helper;
static const char pie_two[] = "two";
const char *pie_names[] = {"zero", "one", pie_two};

static bool failed;

static void check(const char *what, bool ok)
{
	if (!ok) {
		printf("pie-hello: FAIL %s\n", what);
		failed = true;
	}
}

__attribute__((noinline)) static int helper(int x)
{
	return x * 3;
}

int main(void)
{
	uintptr_t base = (uintptr_t)&__ehdr_start;

	printf("pie-hello: running at %p (base %#lx)\n", (void *)&main, (unsigned long)base);
	check("not an ET_DYN image", __ehdr_start.type == ET_DYN);
	check("loaded at address 0", base != 0);
	check("base not page-aligned", base % 4096 == 0);
	/* &x below is computed pc-relative, the table entries by relocation. */
	check("pie_table[0] != &counter", pie_table[0] == &counter);
	check("pie_table[1] != greeting", pie_table[1] == greeting);
	check("pie_table[2] != main", pie_table[2] == (void *)&main);
	check("pie_table[3] != helper", pie_table[3] == (void *)&helper);
	check("pie_helper != helper", pie_helper == helper);
	check("pie_names[2] != \"two\"", pie_names[2] == pie_two);
	if (failed)
		return 1; /* following the pointers would only fault */
	check("*pie_table[0] wrong", *(int *)pie_table[0] == 5);
	check("pie_table[1] string wrong", strcmp(pie_table[1], "relocated") == 0);
	check("call through relocated pointer", pie_helper(7) == 21);
	check("pie_names[1] wrong", strcmp(pie_names[1], "one") == 0);
	if (mc_getauxval(AT_ENTRY))
		check("AT_ENTRY is not _start", mc_getauxval(AT_ENTRY) == (uintptr_t)_start);
	if (failed)
		return 1;
	printf("pie-hello: PASS\n");
	return 0;
}
