# Manticore top-level build: kernel.elf, kernel.iso, unit and system tests.
#   make            build kernel.elf and kernel.iso
#   make check      run every test (unit tests on the host, system tests in QEMU)
#   make fuzz       run every fuzz target for FUZZ_S seconds (default 60) each
#   make run        build and boot the echo server (usr/echod/echod.iso)
#   make bench      the echo benchmark against Linux guests (QUICK=1: short)
#   make format     reformat the C sources with clang-format

.DEFAULT_GOAL := all
Q ?= @
BUILD := build

HOST_CC ?= gcc
CC := gcc
LD := ld
NM := nm

TOOLS_OK := $(shell scripts/install-toolchain --check >/dev/null 2>&1 && echo yes)
ifneq ($(TOOLS_OK),yes)
$(info toolchain incomplete: running scripts/install-toolchain)
$(shell scripts/install-toolchain >&2)
endif

INCLUDES := -Iinclude -Iarch/x86_64/include
WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wstrict-prototypes \
	-Wmissing-prototypes -Wshadow -Wvla
KERNEL_CFLAGS := -std=gnu11 -O2 -g -ffreestanding -nostdinc \
	-isystem $(shell $(CC) -print-file-name=include) \
	-fstack-protector-strong -mstack-protector-guard=global \
	-fno-pic -fno-pie -mno-red-zone -mcmodel=kernel \
	-mno-sse -mno-mmx -mno-sse2 -mno-avx -mno-80387 -mgeneral-regs-only \
	-fno-omit-frame-pointer -fno-asynchronous-unwind-tables \
	-fno-strict-aliasing -fno-common -MMD -MP $(WARN) $(INCLUDES)
KERNEL_ASFLAGS := -D__ASSEMBLER__ -MMD -MP $(INCLUDES)
KERNEL_LDFLAGS := -nostdlib -z max-page-size=4096 -z noexecstack \
	--no-warn-rwx-segments -T arch/x86_64/kernel.ld

KERNEL_SRCS := $(wildcard arch/x86_64/*.c arch/x86_64/*.S kernel/*.c mm/*.c \
	drivers/*/*.c lib/*.c)
KERNEL_OBJS := $(patsubst %,$(BUILD)/kernel/%.o,$(KERNEL_SRCS))

.PHONY: all run check bench unit-tests fuzz-targets fuzz host-progs programs format clean toolchain
all: kernel.elf kernel.iso

# Objects depend on this Makefile too: a change of flags rebuilds them.
$(BUILD)/kernel/%.c.o: %.c Makefile
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(KERNEL_CFLAGS) -c $< -o $@

$(BUILD)/kernel/%.S.o: %.S Makefile
	@mkdir -p $(dir $@)
	@echo "  AS      $<"
	$(Q)$(CC) $(KERNEL_ASFLAGS) -c $< -o $@

# Two links: the first gives the addresses for the symbol table that the
# second one embeds (in .ksyms, after .text, so no function moves).
$(BUILD)/kernel.0.elf: $(KERNEL_OBJS) arch/x86_64/kernel.ld
	$(Q)$(LD) $(KERNEL_LDFLAGS) -o $@ $(KERNEL_OBJS)

$(BUILD)/ksyms.S: $(BUILD)/kernel.0.elf scripts/gen-ksyms
	$(Q)$(NM) -n $< | scripts/gen-ksyms > $@

$(BUILD)/ksyms.o: $(BUILD)/ksyms.S
	$(Q)$(CC) -c $< -o $@

kernel.elf: $(KERNEL_OBJS) $(BUILD)/ksyms.o arch/x86_64/kernel.ld
	@echo "  LD      $@"
	$(Q)$(LD) $(KERNEL_LDFLAGS) -o $@ $(KERNEL_OBJS) $(BUILD)/ksyms.o
	$(Q)diff -q <($(NM) -n $@ | grep ' [tT] ') <($(NM) -n $(BUILD)/kernel.0.elf | grep ' [tT] ') >/dev/null \
		|| (echo "ksyms: symbol addresses moved between links" && rm -f $@ && false)

kernel.iso: kernel.elf scripts/mkiso
	@echo "  ISO     $@"
	$(Q)scripts/mkiso -o $@ kernel.elf

# ---------------------------------------------------------------- tests
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
UNIT_CFLAGS := -std=gnu11 -g -O1 -Wall -Wextra -Werror -fsanitize=address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer -DHOST_TEST $(INCLUDES)

unit-sources = $(shell sed -n 's|^/\* unit-sources: \(.*\) \*/$$|\1|p' $(1))
unit-cflags = $(shell sed -n 's|^/\* unit-cflags: \(.*\) \*/$$|\1|p' $(1))

.SECONDEXPANSION:
$(BUILD)/tests/%: tests/unit/%.c $$(call unit-sources,tests/unit/%.c) $$(wildcard include/*/*.h arch/x86_64/include/arch/*.h tests/unit/*.h usr/lib/*.h usr/lib/*/*.h usr/kvd/*.h usr/kvd/*/*.h)
	@mkdir -p $(dir $@)
	@echo "  HOSTCC  $@"
	$(Q)$(HOST_CC) $(UNIT_CFLAGS) $(call unit-cflags,$<) -o $@ $< $(call unit-sources,$<) -lcmocka

unit-tests: $(UNIT_BINS)

# Fuzz targets (tests/fuzz/fuzz_*.c): clang's libFuzzer over the real sources
# named by `/* fuzz-sources: ... */`, under ASan and UBSan, like unit tests.
FUZZ_CC ?= clang
FUZZ_S ?= 60
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
FUZZ_CFLAGS := -std=gnu11 -g -O1 -Wall -Wextra -Werror -Wno-unknown-attributes \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer -DHOST_TEST -DFUZZ_TEST $(INCLUDES)

fuzz-sources = $(shell sed -n 's|^/\* fuzz-sources: \(.*\) \*/$$|\1|p' $(1))
fuzz-cflags = $(shell sed -n 's|^/\* fuzz-cflags: \(.*\) \*/$$|\1|p' $(1))

$(BUILD)/fuzz/%: tests/fuzz/%.c $$(call fuzz-sources,tests/fuzz/%.c) $$(wildcard include/*/*.h arch/x86_64/include/arch/*.h tests/fuzz/*.h tests/unit/*.h usr/lib/*.h usr/lib/*/*.h usr/kvd/*.h usr/kvd/*/*.h)
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(call fuzz-cflags,$<) -o $@ $< $(call fuzz-sources,$<)

fuzz-targets: $(FUZZ_BINS)

# Every target for FUZZ_S seconds, from its committed corpus plus what earlier
# runs found (build/fuzz/work/); crashes land in build/fuzz/crashes/.
fuzz: fuzz-targets
	$(Q)python3 tests/fuzz/run.py --seconds $(FUZZ_S) $(if $(TARGETS),--only "$(TARGETS)")

# TEST-ONLY: the kvd engine served over Linux sockets (tests/kvd/kvd_host.c),
# with the sanitizers, for the memcached clients in tests/system/test_kvd.py.
KVD_HOST_SRCS := tests/kvd/kvd_host.c $(wildcard usr/kvd/engine/*.c)
$(BUILD)/kvd-host: $(KVD_HOST_SRCS) $(wildcard usr/kvd/*.h usr/kvd/engine/*.h)
	@mkdir -p $(dir $@)
	@echo "  HOSTCC  $@"
	$(Q)$(HOST_CC) -std=gnu11 -g -O1 -Wall -Wextra -Werror -fsanitize=address,undefined \
		-fno-sanitize-recover=all -fno-omit-frame-pointer -o $@ $(KVD_HOST_SRCS) -lpthread

# The user-space stack and tcpecho built for the host, over a tap device
# (tests/tap/tapdev.c stands in for the kernel and the NIC), with ASan and
# UBSan: the TCP tests against Linux run it in a network namespace.
HOST_STACK_SRCS := tests/tap/tapdev.c usr/tests/tcpecho/tcpecho.c usr/lib/netif.c usr/lib/vnet.c \
	lib/virtq.c $(wildcard usr/lib/net/*.c)
HOST_CFLAGS := -std=gnu11 -g -O2 -Wall -Wextra -Werror -fsanitize=address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer -DHOST_TEST $(INCLUDES) \
	-Iusr/lib -Iusr/lib/include

$(BUILD)/host/tcpecho: $(HOST_STACK_SRCS) $(wildcard include/*/*.h usr/lib/*.h usr/lib/*/*.h)
	@mkdir -p $(dir $@)
	@echo "  HOSTCC  $@"
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $(HOST_STACK_SRCS)

host-progs: $(BUILD)/host/tcpecho

# User programs the system tests boot.
PROGRAM_DIRS := usr/hello usr/tests usr/echod usr/kvd
programs:
	$(Q)for d in $(PROGRAM_DIRS); do $(MAKE) --no-print-directory -C $$d || exit 1; done

check: all programs unit-tests fuzz-targets $(BUILD)/kvd-host host-progs
	$(Q)python3 tests/run.py $(if $(TESTS),--only "$(TESTS)")

# The echo benchmark against Linux and Linux+DPDK guests (bench/README.md);
# QUICK=1 for the short form.
bench: all programs
	python3 bench/run.py $(if $(QUICK),--quick)
	python3 bench/run.py --kv $(if $(QUICK),--quick)

# Boot the echo server with user networking: host port 5555 -> guest port 7.
run: all programs
	scripts/run usr/echod/echod.iso

format:
	clang-format -i $$(git ls-files '*.c' '*.h' ':!:*_asm.h')

clean:
	rm -rf $(BUILD) kernel.elf kernel.iso
	$(Q)for d in usr/lib $(PROGRAM_DIRS); do $(MAKE) --no-print-directory -C $$d clean; done

SHELL := /bin/bash
-include $(KERNEL_OBJS:.o=.d)
