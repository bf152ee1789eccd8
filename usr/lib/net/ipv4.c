/* IPv4 (RFC 791): routing to the next hop. */
#include "ipv4.h"

bool net_next_hop(const struct net_stack *s, uint32_t dst, uint32_t *hop)
{
	uint32_t mask = s->cfg.netmask;

	if (dst == 0 || s->cfg.ip == 0)
		return false;
	if ((dst & mask) == (s->cfg.ip & mask)) {
		*hop = dst;
		return true;
	}
	if (s->cfg.gateway == 0)
		return false;
	*hop = s->cfg.gateway;
	return true;
}
