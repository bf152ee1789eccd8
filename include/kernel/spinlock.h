/* Spinlocks; the _irqsave forms also keep local interrupts off while held. */
#pragma once

#include <kernel/types.h>

struct spinlock {
	volatile uint32_t locked;
};

#define SPINLOCK_INIT                                                                              \
	{                                                                                          \
		0                                                                                  \
	}

static inline void spin_lock(struct spinlock *l)
{
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE)) {
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
	}
}

static inline bool spin_trylock(struct spinlock *l)
{
	return !__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE);
}

static inline void spin_unlock(struct spinlock *l)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

#ifdef HOST_TEST
static inline unsigned long irq_save(void)
{
	return 0;
}
static inline void irq_restore(unsigned long f)
{
	(void)f;
}
#else
/* Disable local interrupts and return the previous RFLAGS. */
static inline unsigned long irq_save(void)
{
	unsigned long f;
	__asm__ volatile("pushfq; popq %0; cli" : "=r"(f) : : "memory");
	return f;
}

static inline void irq_restore(unsigned long f)
{
	if (f & (1UL << 9))
		__asm__ volatile("sti" : : : "memory");
}
#endif

static inline unsigned long spin_lock_irqsave(struct spinlock *l)
{
	unsigned long f = irq_save();
	spin_lock(l);
	return f;
}

static inline void spin_unlock_irqrestore(struct spinlock *l, unsigned long f)
{
	spin_unlock(l);
	irq_restore(f);
}
