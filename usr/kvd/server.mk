# kvd: the memcached-protocol server, the engine over netif's TCP (see kvd.c).
PROG := kvd
SRCS := kvd.c $(patsubst $(dir $(lastword $(MAKEFILE_LIST)))%,%,$(wildcard $(dir $(lastword $(MAKEFILE_LIST)))engine/*.c))
include $(dir $(lastword $(MAKEFILE_LIST)))../prog.mk
