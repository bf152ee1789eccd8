/* What every file of the network stack shares: libc, errno values, drop and transmit counting. */
#pragma once

#ifdef HOST_TEST
#include <stdlib.h>
#include <string.h>
#else
#include <lib/string.h>
#include <mc/stdlib.h>
#endif
#include <uapi/errno.h>

#include "net.h"

/* Count a dropped frame under its reason; returns NET_RX_DROP (0). */
static inline int net_drop(struct net_stack *s, uint64_t *reason)
{
	(*reason)++;
	s->stats.rx_dropped++;
	return NET_RX_DROP;
}

static inline void net_tx_count(struct net_stack *s, size_t len)
{
	s->stats.tx_frames++;
	s->stats.tx_bytes += len;
}
