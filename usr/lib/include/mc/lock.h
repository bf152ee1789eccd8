/*
 * A spinlock for the threads of one process. Each thread owns its core (the
 * kernel runs nothing else there), so a holder is never preempted by a
 * waiter and spinning is the right way to wait.
 */
#pragma once

#include <stdbool.h>

struct mc_lock {
	volatile int locked;
};

#define MC_LOCK_INIT                                                                               \
	{                                                                                          \
		0                                                                                  \
	}

static inline void mc_lock(struct mc_lock *l)
{
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE)) {
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
	}
}

static inline bool mc_trylock(struct mc_lock *l)
{
	return !__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE);
}

static inline void mc_unlock(struct mc_lock *l)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}
