/* String and memory functions: the shared lib/string.c plus strerror. */
#pragma once

#include <lib/string.h>

const char *strerror(int err);
