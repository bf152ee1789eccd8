# Compiler and linker settings for libmc and user programs (included by usr/lib/Makefile and usr/prog.mk).

# Absolute paths, so this works from any directory and through make -C.
MC_USR := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
MC_ROOT := $(abspath $(MC_USR)/..)
MC_LIBDIR := $(MC_USR)/lib
MC_BUILD := $(MC_LIBDIR)/build
MC_LIB := $(MC_BUILD)/libmc.a
MC_LIB_PIE := $(MC_BUILD)/libmc-pie.a
MC_FLAGS_MK := $(MC_LIBDIR)/flags.mk

Q ?= @
CC := gcc
LD := ld
AR := ar

# Freestanding: no host headers or libraries; SSE is fine in user space.
# User programs see only the ABI and the shared library's headers: include/
# (the kernel's, mm's and drivers' headers too) is not on their path;
# usr/lib/include/uapi and usr/lib/include/lib link to its two public parts.
USER_CFLAGS := -std=gnu11 -O2 -g -ffreestanding -fno-stack-protector \
	-nostdlib -nostdinc -isystem $(shell $(CC) -print-file-name=include) \
	-I$(MC_LIBDIR)/include -I$(MC_LIBDIR) \
	-fno-common -fno-asynchronous-unwind-tables \
	-ffunction-sections -fdata-sections \
	-Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes \
	-Wshadow -Wvla -MMD -MP
USER_CFLAGS_EXEC := $(USER_CFLAGS) -fno-pic -fno-pie
USER_CFLAGS_PIE := $(USER_CFLAGS) -fpie

# W^X layout: separate-code puts the headers, text, read-only data and
# writable data each on their own pages; no RELRO (the kernel does not
# re-protect after relocating), no executable stack.
USER_LDFLAGS := -static -nostdlib -z max-page-size=4096 -z noexecstack \
	-z separate-code -z norelro --gc-sections -u _start
USER_LDFLAGS_EXEC := $(USER_LDFLAGS) -Ttext-segment=0x400000
# Static PIE: ET_DYN, no interpreter; -z text forbids relocations in text,
# so only R_X86_64_RELATIVE ones in writable data remain for the kernel.
USER_LDFLAGS_PIE := $(USER_LDFLAGS) -pie --no-dynamic-linker -z text

LIBGCC := $(shell $(CC) -print-libgcc-file-name)
