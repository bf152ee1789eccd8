/* Basic kernel types: fixed-width integers, physical addresses, helpers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t paddr_t;

#define ARRAY_SIZE(a)		      (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a)		      (((x) + ((a)-1)) & ~((__typeof__(x))(a)-1))
#define ALIGN_DOWN(x, a)	      ((x) & ~((__typeof__(x))(a)-1))
#define IS_ALIGNED(x, a)	      (((x) & ((__typeof__(x))(a)-1)) == 0)
#define MIN(a, b)		      ((a) < (b) ? (a) : (b))
#define MAX(a, b)		      ((a) > (b) ? (a) : (b))
#define STATIC_ASSERT(c, m)	      _Static_assert(c, m)
#define likely(x)		      __builtin_expect(!!(x), 1)
#define unlikely(x)		      __builtin_expect(!!(x), 0)
#define __packed		      __attribute__((packed))
#define __noreturn		      __attribute__((noreturn))
#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))
