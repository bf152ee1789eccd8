/* Ethernet: frame padding for the stack's builders (the inline helpers are in eth.h). */
#include "eth.h"

size_t eth_pad(uint8_t *frame, size_t len, size_t room)
{
	if (len < ETH_ZLEN && room >= ETH_ZLEN) {
		memset(frame + len, 0, ETH_ZLEN - len);
		len = ETH_ZLEN;
	}
	return len;
}
