/*
 * CPU features the kernel sets up on every CPU: protection (Intel SDM vol. 3,
 * 2.5 and 4.6: SMEP, the kernel never executes user pages; SMAP, it touches
 * user pages only inside stac/clac; UMIP, user code cannot read the
 * descriptor-table registers), the SYSCALL MSRs, and RDRAND.
 */
#include <arch/cpu.h>
#include <arch/gdt.h>

/*
 * RFLAGS bits SYSCALL clears on entry (SDM vol. 2, SYSCALL: RFLAGS &= ~FMASK):
 * every flag user code can set that matters to the kernel. IF: entry runs
 * with interrupts off. DF: string instructions count up. TF: no single-step
 * trap inside the kernel. AC: SMAP stays on. NT: with NT set, the IRETQ that
 * returns to user mode raises #GP in ring 0 (SDM vol. 2, IRET: "IF NT = 1
 * (* task return *) ... IA-32e mode: #GP(0)"). RF, ID and the arithmetic
 * flags go too, so the kernel always starts from the same state.
 */
#define SYSCALL_RFLAGS_MASK                                                                        \
	(RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_TF | RFLAGS_IF |       \
	 RFLAGS_DF | RFLAGS_OF | RFLAGS_IOPL | RFLAGS_NT | RFLAGS_RF | RFLAGS_AC | RFLAGS_ID)

#define CPUID1_ECX_RDRAND	  (1U << 30)
#define CPUID_80000001_EDX_RDTSCP (1U << 27)

extern char syscall_entry[]; /* arch/x86_64/syscall.S */

#define CPUID7_EBX_SMEP (1U << 7)
#define CPUID7_EBX_SMAP (1U << 20)
#define CPUID7_ECX_UMIP (1U << 2)

/* Written identically by every CPU at bring-up; entry.S reads cpu_smap to
 * know whether clac exists (it raises #UD without SMAP). */
bool cpu_smap;
bool cpu_smep;
bool cpu_umip;

void cpu_protect_init(void)
{
	uint32_t a, b, c, d;
	cpuid(0, 0, &a, &b, &c, &d);
	if (a < 7)
		return;
	cpuid(7, 0, &a, &b, &c, &d);
	uint64_t cr4 = read_cr4();
	if (b & CPUID7_EBX_SMEP) {
		cr4 |= CR4_SMEP;
		cpu_smep = true;
	}
	if (b & CPUID7_EBX_SMAP) {
		cr4 |= CR4_SMAP;
		cpu_smap = true;
	}
	if (c & CPUID7_ECX_UMIP) {
		cr4 |= CR4_UMIP;
		cpu_umip = true;
	}
	write_cr4(cr4);
}

void cpu_syscall_init(void)
{
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
	/* SYSRET would load CS from STAR[63:48] + 16 and SS from + 8. */
	wrmsr(MSR_STAR, ((uint64_t)(GDT_UDATA - 8) << 48) | ((uint64_t)GDT_KCODE << 32));
	wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
	wrmsr(MSR_FMASK, SYSCALL_RFLAGS_MASK);
}

void cpu_set_tsc_aux(uint32_t value)
{
	uint32_t a, b, c, d;
	cpuid(0x80000000, 0, &a, &b, &c, &d);
	if (a < 0x80000001)
		return;
	cpuid(0x80000001, 0, &a, &b, &c, &d);
	if (d & CPUID_80000001_EDX_RDTSCP)
		wrmsr(MSR_TSC_AUX, value);
}

bool cpu_random64(uint64_t *out)
{
	uint32_t a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & CPUID1_ECX_RDRAND))
		return false;
	unsigned char ok;
	__asm__ volatile("rdrand %0; setc %1" : "=r"(*out), "=qm"(ok));
	return ok;
}
