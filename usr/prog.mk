# Build rules for one user program; its Makefile sets PROG, SRCS (and PIE) and includes this.
#
#   PROG := hello            program name
#   SRCS := hello.c          C or assembly (.S) sources, relative to the Makefile
#   PIE := yes               also build a static PIE, build/$(PROG)-pie.elf
#   PIE := only              build only the static PIE
#   PROG_CFLAGS := ...       extra compiler flags (optional)
#   include $(dir $(lastword $(MAKEFILE_LIST)))../prog.mk   (path to this file)
#
# Outputs: build/$(PROG).elf (ET_EXEC at 0x400000) and/or build/$(PROG)-pie.elf.

PROG_DIR := $(abspath $(dir $(firstword $(MAKEFILE_LIST))))
include $(dir $(lastword $(MAKEFILE_LIST)))lib/flags.mk

ifeq ($(strip $(PROG)),)
$(error prog.mk: set PROG before including it)
endif
ifeq ($(strip $(SRCS)),)
$(error prog.mk: set SRCS before including it)
endif

PROG_BUILD := $(PROG_DIR)/build
prog_objs = $(patsubst %,$(PROG_BUILD)/$(1)/%.o,$(basename $(SRCS)))
PROG_OBJS := $(call prog_objs,exec)
PROG_PIE_OBJS := $(call prog_objs,pie)
PROG_ELF := $(PROG_BUILD)/$(PROG).elf
PROG_PIE_ELF := $(PROG_BUILD)/$(PROG)-pie.elf

ifeq ($(PIE),only)
PROG_OUTPUTS := $(PROG_PIE_ELF)
else ifeq ($(PIE),yes)
PROG_OUTPUTS := $(PROG_ELF) $(PROG_PIE_ELF)
else
PROG_OUTPUTS := $(PROG_ELF)
endif

.DEFAULT_GOAL := all
.PHONY: all clean mc-lib
all: $(PROG_OUTPUTS)

# The runtime is another make's business: always ask it, relink only if
# the archive really changed.
mc-lib:
	$(Q)$(MAKE) --no-print-directory -C $(MC_LIBDIR)
$(MC_LIB) $(MC_LIB_PIE): mc-lib ;

$(PROG_ELF): $(PROG_OBJS) $(MC_LIB)
	@echo "  LD      $(patsubst $(MC_ROOT)/%,%,$@)"
	$(Q)$(LD) $(USER_LDFLAGS_EXEC) -o $@ $(PROG_OBJS) $(MC_LIB) $(LIBGCC)

$(PROG_PIE_ELF): $(PROG_PIE_OBJS) $(MC_LIB_PIE)
	@echo "  LD      $(patsubst $(MC_ROOT)/%,%,$@)"
	$(Q)$(LD) $(USER_LDFLAGS_PIE) -o $@ $(PROG_PIE_OBJS) $(MC_LIB_PIE) $(LIBGCC)

# $(1): variant, $(2): compiler flags.
define prog_variant_rules
$(PROG_BUILD)/$(1)/%.o: $(PROG_DIR)/%.c $(MC_FLAGS_MK)
	@mkdir -p $$(dir $$@)
	@echo "  CC      $$(patsubst $(MC_ROOT)/%,%,$$<) [$(1)]"
	$(Q)$(CC) $(2) $(PROG_CFLAGS) -c $$< -o $$@

$(PROG_BUILD)/$(1)/%.o: $(PROG_DIR)/%.S $(MC_FLAGS_MK)
	@mkdir -p $$(dir $$@)
	@echo "  AS      $$(patsubst $(MC_ROOT)/%,%,$$<) [$(1)]"
	$(Q)$(CC) $(2) $(PROG_CFLAGS) -c $$< -o $$@
endef
$(eval $(call prog_variant_rules,exec,$(USER_CFLAGS_EXEC)))
$(eval $(call prog_variant_rules,pie,$(USER_CFLAGS_PIE)))

clean:
	rm -rf $(PROG_BUILD)

-include $(PROG_OBJS:.o=.d) $(PROG_PIE_OBJS:.o=.d)
