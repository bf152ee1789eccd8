/* badptr: system calls with bad pointers and bad values must fail cleanly with the right errno. */
#include <stdbool.h>
#include <stdint.h>

#include <lib/string.h>
#include <mc/errno.h>
#include <mc/event.h>
#include <mc/stdio.h>
#include <mc/sys.h>

#define PAGE	      4096UL
#define KERNEL_TEXT   0xffffffff80000000UL
#define KERNEL_DIRECT 0xffff800000000000UL
#define UNMAPPED_USER 0x0000010000000000UL
#define NONCANONICAL  0x0000800000000000UL
#define TOP_PAGE      0xfffffffffffff000UL
#define NET_NAME      "eth0"

static int checks, failed;

static void report(const char *what, long got, bool ok, const char *want)
{
	checks++;
	if (!ok)
		failed++;
	printf("badptr: %s: got %ld want %s %s\n", what, got, want, ok ? "ok" : "FAIL");
}

static void expect(const char *what, long got, long want)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%ld", want);
	report(what, got, got == want, buf);
}

/* Either of two results is right (e.g. -ENOMEM or -EINVAL for huge sizes). */
static void expect2(const char *what, long got, long want1, long want2)
{
	char buf[48];

	snprintf(buf, sizeof(buf), "%ld|%ld", want1, want2);
	report(what, got, got == want1 || got == want2, buf);
}

struct bad_ptr {
	const char *name;
	uintptr_t addr;
};

/* Filled in by main: pointers no system call may read through. */
static struct bad_ptr bad_read[8];
static int n_bad_read;
/* ... and ones it may not write through (the above plus read-only memory). */
static struct bad_ptr bad_write[12];
static int n_bad_write;

static void add_bad(struct bad_ptr *list, int *n, const char *name, uintptr_t addr)
{
	list[*n].name = name;
	list[*n].addr = addr;
	(*n)++;
}

static void setup_bad_pointers(char *rw_end, char *ro)
{
	static const struct bad_ptr common[] = {
	    {"NULL", 0},
	    {"kernel text 0xffffffff80000000", KERNEL_TEXT},
	    {"kernel direct map 0xffff800000000000", KERNEL_DIRECT},
	    {"unmapped user 0x10000000000", UNMAPPED_USER},
	    {"non-canonical 0x800000000000", NONCANONICAL},
	    {"top page 0xfffffffffffff000", TOP_PAGE},
	};

	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++) {
		add_bad(bad_read, &n_bad_read, common[i].name, common[i].addr);
		add_bad(bad_write, &n_bad_write, common[i].name, common[i].addr);
	}
	/* 8 bytes before the end of a mapping: 16-byte objects straddle it. */
	add_bad(bad_read, &n_bad_read, "straddling mapping end", (uintptr_t)(rw_end - 8));
	add_bad(bad_write, &n_bad_write, "straddling mapping end", (uintptr_t)(rw_end - 8));
	add_bad(bad_write, &n_bad_write, "PROT_READ mapping", (uintptr_t)ro);
	add_bad(bad_write, &n_bad_write, "own text", (uintptr_t)&setup_bad_pointers & ~(PAGE - 1));
}

static void check_console_write(char *rw_end)
{
	char what[96];

	for (int i = 0; i < n_bad_read; i++) {
		snprintf(what, sizeof(what), "console_write(%s, 16)", bad_read[i].name);
		expect(what, sys_console_write((void *)bad_read[i].addr, 16), -EFAULT);
	}
	/*
	 * The buffers start 16 bytes before the end of the mapping, so they
	 * are bad whether the kernel checks the whole length or first
	 * truncates it to CONSOLE_WRITE_MAX.
	 */
	expect("console_write(end - 16, SIZE_MAX)", sys_console_write(rw_end - 16, SIZE_MAX),
	       -EFAULT);
	expect("console_write(end - 16, 1 << 47)", sys_console_write(rw_end - 16, 1UL << 47),
	       -EFAULT);
	expect("console_write(end - 16, CONSOLE_WRITE_MAX)",
	       sys_console_write(rw_end - 16, CONSOLE_WRITE_MAX), -EFAULT);
	expect("console_write(-16, 32) wrapping", sys_console_write((void *)-16L, 32), -EFAULT);
}

static void check_clock_gettime(void)
{
	struct mc_timespec ts;
	char what[96];

	for (int i = 0; i < n_bad_write; i++) {
		snprintf(what, sizeof(what), "clock_gettime(MONOTONIC, %s)", bad_write[i].name);
		expect(what,
		       sys_clock_gettime(CLOCK_MONOTONIC, (struct mc_timespec *)bad_write[i].addr),
		       -EFAULT);
	}
	expect("clock_gettime(99, &ts)", sys_clock_gettime(99, &ts), -EINVAL);
	expect("clock_gettime(-1, &ts)", sys_clock_gettime(-1, &ts), -EINVAL);
	expect("clock_gettime(MONOTONIC, &ts) (control)", sys_clock_gettime(CLOCK_MONOTONIC, &ts),
	       0);
}

/* A result that should have been an error but is a mapping: give it back. */
static void undo_alloc(long rc, size_t len)
{
	if (rc > 0)
		sys_vmspace_free((void *)rc, len);
}

static void check_alloc(const char *what, size_t len, int prot, long want1, long want2)
{
	long rc = sys_vmspace_alloc(len, prot);

	expect2(what, rc, want1, want2);
	undo_alloc(rc, len);
}

static void check_vmspace_alloc(void)
{
	check_alloc("vmspace_alloc(4096, W|X)", PAGE, PROT_WRITE | PROT_EXEC, -EINVAL, -EINVAL);
	check_alloc("vmspace_alloc(4096, R|W|X)", PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, -EINVAL,
		    -EINVAL);
	check_alloc("vmspace_alloc(4096, unknown prot 8)", PAGE, 8, -EINVAL, -EINVAL);
	check_alloc("vmspace_alloc(4096, prot -1)", PAGE, -1, -EINVAL, -EINVAL);
	check_alloc("vmspace_alloc(0, RW)", 0, PROT_READ | PROT_WRITE, -EINVAL, -EINVAL);
	check_alloc("vmspace_alloc(1 << 36, RW)", 1UL << 36, PROT_READ | PROT_WRITE, -ENOMEM,
		    -EINVAL);
	check_alloc("vmspace_alloc(1 << 47, RW)", 1UL << 47, PROT_READ | PROT_WRITE, -ENOMEM,
		    -EINVAL);
	check_alloc("vmspace_alloc(1 << 62, RW)", 1UL << 62, PROT_READ | PROT_WRITE, -ENOMEM,
		    -EINVAL);
	/* Rounding this up to whole pages overflows to 0. */
	check_alloc("vmspace_alloc(SIZE_MAX - 4095, RW)", SIZE_MAX - 4095, PROT_READ | PROT_WRITE,
		    -ENOMEM, -EINVAL);
	check_alloc("vmspace_alloc(SIZE_MAX, RW)", SIZE_MAX, PROT_READ | PROT_WRITE, -ENOMEM,
		    -EINVAL);
	check_alloc("vmspace_alloc(SIZE_MAX, PROT_NONE)", SIZE_MAX, PROT_NONE, -ENOMEM, -EINVAL);

	/* PROT_NONE reserves without backing: no system call may use it. */
	long none = sys_vmspace_alloc(1UL << 30, PROT_NONE);
	expect("vmspace_alloc(1 GiB, PROT_NONE) succeeds beyond mem=", none > 0 ? 0 : none, 0);
	if (none > 0) {
		expect("console_write(PROT_NONE page)", sys_console_write((void *)none, 1),
		       -EFAULT);
		expect("clock_gettime(MONOTONIC, PROT_NONE page)",
		       sys_clock_gettime(CLOCK_MONOTONIC, (struct mc_timespec *)none), -EFAULT);
		expect("vmspace_free(half a reservation)",
		       sys_vmspace_free((void *)none, 1UL << 29), -EINVAL);
		expect("vmspace_free(PROT_NONE reservation) (control)",
		       sys_vmspace_free((void *)none, 1UL << 30), 0);
	}
}

static void check_vmspace_free(void)
{
	uintptr_t text = (uintptr_t)&check_vmspace_free & ~(PAGE - 1);
	uintptr_t stack = (uintptr_t)__builtin_frame_address(0) & ~(PAGE - 1);
	long two, one;
	char *m;

	expect("vmspace_free(NULL, 4096)", sys_vmspace_free(NULL, PAGE), -EINVAL);
	expect("vmspace_free(never allocated 0x10000000000, 4096)",
	       sys_vmspace_free((void *)UNMAPPED_USER, PAGE), -EINVAL);
	expect("vmspace_free(kernel text, 4096)", sys_vmspace_free((void *)KERNEL_TEXT, PAGE),
	       -EINVAL);
	expect("vmspace_free(non-canonical, 4096)", sys_vmspace_free((void *)NONCANONICAL, PAGE),
	       -EINVAL);
	expect("vmspace_free(own text, 4096)", sys_vmspace_free((void *)text, PAGE), -EINVAL);
	expect("vmspace_free(own stack, 4096)", sys_vmspace_free((void *)stack, PAGE), -EINVAL);
	if (mc_event_ring())
		expect("vmspace_free(event ring, 4096)", sys_vmspace_free(mc_event_ring(), PAGE),
		       -EINVAL);

	two = sys_vmspace_alloc(2 * PAGE, PROT_READ | PROT_WRITE);
	if (two <= 0) {
		report("vmspace_alloc(8192, RW) (control)", two, false, "an address");
		return;
	}
	m = (char *)two;
	expect("vmspace_free(mapping + 1, 8192) misaligned", sys_vmspace_free(m + 1, 2 * PAGE),
	       -EINVAL);
	expect("vmspace_free(mapping, SIZE_MAX)", sys_vmspace_free(m, SIZE_MAX), -EINVAL);
	expect("vmspace_free(mapping, 0)", sys_vmspace_free(m, 0), -EINVAL);
	expect("vmspace_free(first half of a 2-page mapping)", sys_vmspace_free(m, PAGE), -EINVAL);
	expect("vmspace_free(second half of a 2-page mapping)", sys_vmspace_free(m + PAGE, PAGE),
	       -EINVAL);
	expect("vmspace_free(2-page mapping) (control)", sys_vmspace_free(m, 2 * PAGE), 0);
	expect("vmspace_free(same mapping again)", sys_vmspace_free(m, 2 * PAGE), -EINVAL);

	one = sys_vmspace_alloc(PAGE, PROT_READ);
	if (one <= 0) {
		report("vmspace_alloc(4096, R) (control)", one, false, "an address");
		return;
	}
	expect("vmspace_free(PROT_READ mapping) (control)", sys_vmspace_free((void *)one, PAGE), 0);
}

/*
 * Names are C strings: every byte up to the NUL must be readable. The
 * straddling name is two bytes without a NUL just before the end of the
 * mapping: shorter than any device-name limit, so the read runs off the
 * mapping before the kernel could give up on the length.
 */
static void check_net(char *rw_end)
{
	char out[512]; /* bigger than the kernel's structures */
	char what[96];

	memcpy(rw_end - 2, "et", 2);
	for (int i = 0; i < n_bad_read; i++) {
		uintptr_t name = bad_read[i].addr;

		if (name == (uintptr_t)(rw_end - 8))
			name = (uintptr_t)(rw_end - 2);
		snprintf(what, sizeof(what), "net_attach(name %s)", bad_read[i].name);
		expect(what, sys_net_attach((const char *)name, 0, (struct mc_net_layout *)out),
		       -EFAULT);
		snprintf(what, sizeof(what), "net_info(name %s)", bad_read[i].name);
		expect(what, sys_net_info((const char *)name, (struct mc_net_info *)out), -EFAULT);
	}
	for (int i = 0; i < n_bad_write; i++) {
		snprintf(what, sizeof(what), "net_attach(\"%s\", 0, %s)", NET_NAME,
			 bad_write[i].name);
		expect(what, sys_net_attach(NET_NAME, 0, (struct mc_net_layout *)bad_write[i].addr),
		       -EFAULT);
		snprintf(what, sizeof(what), "net_info(\"%s\", %s)", NET_NAME, bad_write[i].name);
		expect(what, sys_net_info(NET_NAME, (struct mc_net_info *)bad_write[i].addr),
		       -EFAULT);
	}
}

static void check_syscall_numbers(void)
{
	expect("syscall 9999", mc_syscall0(9999), -ENOSYS);
	expect("syscall SYS_MAX", mc_syscall0(SYS_MAX), -ENOSYS);
	expect("syscall -1", mc_syscall0(-1), -ENOSYS);
	expect("syscall INT32_MIN", mc_syscall0(INT32_MIN), -ENOSYS);
	expect("syscall INT64_MIN", mc_syscall0(INT64_MIN), -ENOSYS);
	expect("syscall 0x80000000", mc_syscall0(0x80000000L), -ENOSYS);
	/* The whole of rax is the number: high bits do not fall away. */
	expect("syscall (1 << 32) | SYS_getpid", mc_syscall0((1L << 32) | SYS_getpid), -ENOSYS);
	/* Test hooks exist only in kernels booted with `testhooks`. */
	expect("test_hook(1) without testhooks", mc_syscall2(SYS_test_hook, 1, 0), -ENOSYS);
}

int main(void)
{
	long rw = sys_vmspace_alloc(PAGE, PROT_READ | PROT_WRITE);
	long ro = sys_vmspace_alloc(PAGE, PROT_READ);
	long pid = sys_getpid();

	if (rw <= 0 || ro <= 0) {
		printf("badptr: cannot set up: vmspace_alloc gave %ld, %ld\n", rw, ro);
		printf("badptr: 0 checks, 1 failed\n");
		return 1;
	}
	/* No NUL anywhere: a string or buffer read runs into the end. */
	memset((char *)rw, 'X', PAGE);
	setup_bad_pointers((char *)rw + PAGE, (char *)ro);

	check_console_write((char *)rw + PAGE);
	check_clock_gettime();
	check_vmspace_alloc();
	check_vmspace_free();
	check_net((char *)rw + PAGE);
	check_syscall_numbers();
	expect("getpid() unchanged after all that", sys_getpid(), pid);

	printf("badptr: %d checks, %d failed\n", checks, failed);
	return failed ? 1 : 0;
}
