/* What the process was started with: arguments, environment, auxiliary vector. */
#pragma once

#include <stdint.h>

#include <uapi/auxv.h>

extern int mc_argc;
extern char **mc_argv;
extern char **mc_envp;

/* The value of auxiliary-vector entry type, or 0 if the kernel gave none. */
uint64_t mc_getauxval(uint64_t type);

/* Shortcuts for the entries the runtime keeps. */
uint64_t mc_page_size(void);	      /* AT_PAGESZ, 4096 if absent */
unsigned int mc_cpu(void);	      /* AT_MC_CPU */
const uint8_t *mc_random_bytes(void); /* AT_RANDOM: 16 bytes, or NULL */

/* The value of environment variable name, or NULL. */
char *getenv(const char *name);
