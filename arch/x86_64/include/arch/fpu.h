/* x87/SSE state for user code (Intel SDM vol. 1, 10.5: FXSAVE/FXRSTOR). */
#pragma once

#include <arch/cpu.h>

#define FPU_AREA_SIZE  512
#define FPU_AREA_ALIGN 16
#define MXCSR_DEFAULT  0x1f80 /* all SIMD exceptions masked (SDM 10.2.3) */

/* Let user code use x87 and SSE on this CPU (the kernel itself never does). */
static inline void fpu_enable(void)
{
	write_cr0((read_cr0() & ~(CR0_EM | CR0_TS)) | CR0_MP);
	write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT);
}

/* The clean state every new thread starts with, into a 16-aligned area. */
static inline void fpu_init_state(void *area)
{
	uint32_t mxcsr = MXCSR_DEFAULT;
	__asm__ volatile("fninit; ldmxcsr %1; fxsave64 %0"
			 : "=m"(*(uint8_t(*)[FPU_AREA_SIZE])area)
			 : "m"(mxcsr));
}

static inline void fpu_save(void *area)
{
	__asm__ volatile("fxsave64 %0" : "=m"(*(uint8_t(*)[FPU_AREA_SIZE])area));
}

static inline void fpu_restore(const void *area)
{
	__asm__ volatile("fxrstor64 %0" : : "m"(*(const uint8_t(*)[FPU_AREA_SIZE])area));
}
