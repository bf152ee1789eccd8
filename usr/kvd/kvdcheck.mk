# kvdcheck: the kvd engine inside a Manticore process on scripted sessions (see kvdcheck.c).
PROG := kvdcheck
SRCS := kvdcheck.c $(patsubst $(dir $(lastword $(MAKEFILE_LIST)))%,%,$(wildcard $(dir $(lastword $(MAKEFILE_LIST)))engine/*.c))
include $(dir $(lastword $(MAKEFILE_LIST)))../prog.mk
