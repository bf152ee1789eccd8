/* Loading an ELF program into a new process. */
#pragma once

#include <kernel/types.h>

struct thread;

/* Where static PIE (ET_DYN) executables are loaded. */
#define EXEC_PIE_BASE 0x0000000010000000UL

/* Validate and map the image into t's process, build its first stack with argv (split from the
 * space-separated `args`), envp and auxv, and set the entry frame. Returns
 * 0 or a negative errno with a reason in *why. */
int exec_load(struct thread *t, const void *image, size_t size, const char *args, const char **why);
