# The kvd engine's sources (transport-neutral), shared by the guest build and the host test build.
KVD_ENGINE_SRCS := arena.c store.c conn.c text.c meta.c binary.c stats.c
