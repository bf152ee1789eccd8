/* The kernel command line: space-separated words, `key` or `key=value`. */
#pragma once

#include <kernel/types.h>

void cmdline_init(const char *s);
/* Value of key=value (copied into buf), "" for a bare key; false if absent. */
bool cmdline_get(const char *key, char *buf, size_t size);
bool cmdline_has(const char *key);
const char *cmdline_raw(void);
