/* x86-64 CPU helpers: port I/O, MMIO, MSRs, control registers, CPUID. */
#pragma once

#include <kernel/types.h>

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t mmio_read32(const volatile void *addr)
{
	return *(const volatile uint32_t *)addr;
}

static inline void mmio_write32(volatile void *addr, uint32_t v)
{
	*(volatile uint32_t *)addr = v;
}

static inline uint16_t mmio_read16(const volatile void *addr)
{
	return *(const volatile uint16_t *)addr;
}

static inline void mmio_write16(volatile void *addr, uint16_t v)
{
	*(volatile uint16_t *)addr = v;
}

static inline uint8_t mmio_read8(const volatile void *addr)
{
	return *(const volatile uint8_t *)addr;
}

static inline void mmio_write8(volatile void *addr, uint8_t v)
{
	*(volatile uint8_t *)addr = v;
}

static inline uint64_t mmio_read64(const volatile void *addr)
{
	return *(const volatile uint64_t *)addr;
}

static inline void mmio_write64(volatile void *addr, uint64_t v)
{
	*(volatile uint64_t *)addr = v;
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c,
			 uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

#define DEFINE_CR(n)                                                                               \
	static inline uint64_t read_cr##n(void)                                                    \
	{                                                                                          \
		uint64_t v;                                                                        \
		__asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));                                  \
		return v;                                                                          \
	}                                                                                          \
	static inline void write_cr##n(uint64_t v)                                                 \
	{                                                                                          \
		__asm__ volatile("mov %0, %%cr" #n : : "r"(v) : "memory");                         \
	}
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)
#undef DEFINE_CR

static inline void invlpg(uintptr_t va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

/* Write back and evict the cache lines of [p, p + len) (SDM vol. 2, CLFLUSH),
 * for memory a device reads without snooping the CPU's caches. */
static inline void cpu_cache_flush(const volatile void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p & ~63UL, end = (uintptr_t)p + len;
	for (; a < end; a += 64)
		__asm__ volatile("clflush (%0)" : : "r"(a) : "memory");
	__asm__ volatile("mfence" : : : "memory");
}

static inline void cpu_relax(void)
{
	__builtin_ia32_pause();
}

static inline void irq_enable(void)
{
	__asm__ volatile("sti" : : : "memory");
}

static inline void irq_disable(void)
{
	__asm__ volatile("cli" : : : "memory");
}

static inline void cpu_halt(void)
{
	__asm__ volatile("hlt" : : : "memory");
}

/* Enable interrupts and halt until one arrives, then disable them again. STI
 * takes effect after the next instruction, so no interrupt slips in between
 * and is missed by the HLT. */
static inline void cpu_idle_wait(void)
{
	__asm__ volatile("sti; hlt; cli" : : : "memory");
}

static inline uint64_t read_rflags(void)
{
	uint64_t f;
	__asm__ volatile("pushfq; popq %0" : "=r"(f));
	return f;
}

/* Model-specific registers (Intel SDM vol. 4). */
#define MSR_APIC_BASE	   0x1b
#define MSR_EFER	   0xc0000080
#define MSR_STAR	   0xc0000081
#define MSR_LSTAR	   0xc0000082
#define MSR_FMASK	   0xc0000084
#define MSR_FS_BASE	   0xc0000100
#define MSR_GS_BASE	   0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_TSC_AUX	   0xc0000103
#define MSR_TSC_DEADLINE   0x6e0

#define EFER_SCE (1UL << 0)
#define EFER_LME (1UL << 8)
#define EFER_NXE (1UL << 11)

/* RFLAGS (SDM vol. 1, 3.4.3). */
#define RFLAGS_CF   (1UL << 0)
#define RFLAGS_PF   (1UL << 2)
#define RFLAGS_AF   (1UL << 4)
#define RFLAGS_ZF   (1UL << 6)
#define RFLAGS_SF   (1UL << 7)
#define RFLAGS_TF   (1UL << 8)
#define RFLAGS_IF   (1UL << 9)
#define RFLAGS_DF   (1UL << 10)
#define RFLAGS_OF   (1UL << 11)
#define RFLAGS_IOPL (3UL << 12)
#define RFLAGS_NT   (1UL << 14)
#define RFLAGS_RF   (1UL << 16)
#define RFLAGS_VM   (1UL << 17)
#define RFLAGS_AC   (1UL << 18)
#define RFLAGS_VIF  (1UL << 19)
#define RFLAGS_VIP  (1UL << 20)
#define RFLAGS_ID   (1UL << 21)

#define CR4_PGE	       (1UL << 7)
#define CR4_UMIP       (1UL << 11)
#define CR4_OSFXSR     (1UL << 9)
#define CR4_OSXMMEXCPT (1UL << 10)
#define CR4_FSGSBASE   (1UL << 16)
#define CR4_SMEP       (1UL << 20)
#define CR4_SMAP       (1UL << 21)
#define CR0_MP	       (1UL << 1)
#define CR0_EM	       (1UL << 2)
#define CR0_TS	       (1UL << 3)
#define CR0_WP	       (1UL << 16)
#define CR0_AM	       (1UL << 18)

void __noreturn cpu_halt_forever(void);

/* Set by cpu_protect_init (arch/x86_64/cpu.c). */
extern bool cpu_smap, cpu_smep, cpu_umip;
/* Turn on SMEP, SMAP and UMIP where this CPU has them. */
void cpu_protect_init(void);
/* Program SYSCALL's MSRs on this CPU: entry point, selectors, flag mask. */
void cpu_syscall_init(void);
/* Make RDTSCP (and RDPID) tell user code which CPU it runs on. */
void cpu_set_tsc_aux(uint32_t value);
/* A random 64-bit value from RDRAND; false if the CPU has none or it failed. */
bool cpu_random64(uint64_t *out);

/* Open and close the window in which the kernel may touch user pages (SMAP). */
static inline void user_access_begin(void)
{
	if (cpu_smap)
		__asm__ volatile("stac" : : : "memory");
}

static inline void user_access_end(void)
{
	if (cpu_smap)
		__asm__ volatile("clac" : : : "memory");
}
