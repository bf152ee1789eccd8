/* In-kernel self-tests, chosen with test=NAME on the kernel command line. */
#pragma once

#include <kernel/types.h>

/* Run the named test (or "all"); true if it passed. */
bool selftest_run(const char *name);
