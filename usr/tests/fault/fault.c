/* fault MODE: announce, then die by the named CPU exception; never prints after. */
#include <stdint.h>

#include <lib/string.h>
#include <mc/stdio.h>
#include <mc/stdlib.h>

#define KERNEL_ADDR	  0xffffffff80000000UL
#define NONCANONICAL_ADDR 0x0000800000000000UL
#define RET_OPCODE	  0xc3

/* Accesses go through asm so the compiler cannot turn them into ud2. */
static uint64_t read64(uintptr_t addr)
{
	uint64_t v;

	__asm__ volatile("movq (%1), %0" : "=r"(v) : "r"(addr) : "memory");
	return v;
}

static void write8(uintptr_t addr, uint8_t v)
{
	__asm__ volatile("movb %1, (%0)" : : "r"(addr), "r"(v) : "memory");
}

/* Jump to code the page tables mark no-execute: a "ret" in data. */
static void exec_at(uint8_t *code)
{
	code[0] = RET_OPCODE;
	((void (*)(void))(uintptr_t)code)();
}

static uint8_t data_code[16] = {1}; /* .data, RW and NX */
static const char rodata_text[] = "read-only";

/*
 * Each frame hands its buffer to the next, so no frame can be reused or
 * turned into a loop; only the impossible depth limit stops it.
 */
static volatile unsigned long depth_limit = ~0UL;

__attribute__((noinline, noipa)) static unsigned long recurse(unsigned long depth,
							      volatile char *prev)
{
	volatile char pad[512];

	pad[0] = (char)depth;
	if (depth == depth_limit)
		return prev[0];
	return recurse(depth + 1, pad) + prev[0];
}

static void fault_null(void)
{
	read64(0);
}

static void fault_write_ro(void)
{
	write8((uintptr_t)&read64, 0xcc);
}

static void fault_write_rodata(void)
{
	write8((uintptr_t)rodata_text, 0);
}

static void fault_kernel(void)
{
	read64(KERNEL_ADDR);
}

static void fault_kernel_write(void)
{
	write8(KERNEL_ADDR, 0);
}

static void fault_noncanonical(void)
{
	read64(NONCANONICAL_ADDR);
}

static void fault_exec_data(void)
{
	exec_at(data_code);
}

static void fault_exec_stack(void)
{
	uint8_t code[16];

	exec_at(code);
}

static void fault_exec_heap(void)
{
	uint8_t *code = malloc(16);

	if (code)
		exec_at(code);
}

static void fault_ud(void)
{
	__asm__ volatile("ud2");
}

static void fault_div0(void)
{
	__asm__ volatile("xorl %%ecx, %%ecx\n\t"
			 "movl $1, %%eax\n\t"
			 "xorl %%edx, %%edx\n\t"
			 "divl %%ecx"
			 :
			 :
			 : "rax", "rcx", "rdx");
}

static void fault_gp(void)
{
	__asm__ volatile("hlt"); /* privileged at CPL 3: #GP(0) */
}

static void fault_cli(void)
{
	__asm__ volatile("cli"); /* #GP(0) at CPL 3 unless IOPL = 3 */
}

static void fault_stack(void)
{
	volatile char base = 0;

	recurse(0, &base);
}

static void fault_int3(void)
{
	__asm__ volatile("int3");
}

static const struct {
	const char *name;
	void (*fn)(void);
	const char *what;
} modes[] = {
    {"null", fault_null, "read address 0 (#PF)"},
    {"write-ro", fault_write_ro, "write into its own text (#PF)"},
    {"write-rodata", fault_write_rodata, "write into .rodata (#PF)"},
    {"kernel", fault_kernel, "read 0xffffffff80000000 (#PF)"},
    {"kernel-write", fault_kernel_write, "write 0xffffffff80000000 (#PF)"},
    {"noncanonical", fault_noncanonical, "read 0x0000800000000000 (#GP)"},
    {"exec-data", fault_exec_data, "jump into .data (#PF, NX)"},
    {"exec-stack", fault_exec_stack, "jump into the stack (#PF, NX)"},
    {"exec-heap", fault_exec_heap, "jump into malloc memory (#PF, NX)"},
    {"ud", fault_ud, "ud2 (#UD)"},
    {"div0", fault_div0, "divide by zero (#DE)"},
    {"gp", fault_gp, "hlt at CPL 3 (#GP)"},
    {"cli", fault_cli, "cli at CPL 3 (#GP)"},
    {"stack", fault_stack, "overflow the stack (#PF)"},
    {"int3", fault_int3, "int3 (#BP)"},
};

__attribute__((noreturn)) static void usage(void)
{
	printf("usage: fault MODE; modes:\n");
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		printf("  %-14s %s\n", modes[i].name, modes[i].what);
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		usage();
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(argv[1], modes[i].name) == 0) {
			printf("fault: about to %s\n", modes[i].name);
			modes[i].fn();
			printf("fault: survived %s\n", modes[i].name);
			return 1;
		}
	}
	printf("fault: unknown mode '%s'\n", argv[1]);
	usage();
}
