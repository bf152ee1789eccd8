/*
 * Protection features every CPU turns on when it has them (Intel SDM vol. 3,
 * 2.5 "Control registers" and 4.6 "Access rights"): SMEP (the kernel never
 * executes user pages), SMAP (the kernel touches user pages only inside
 * stac/clac) and UMIP (user code cannot read the GDT/IDT/LDT/TR bases).
 */
#include <arch/cpu.h>

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
