/*
 * Kernel-bypass NIC access. net_attach(name, qp, &layout) grants the caller
 * one queue pair of a virtio-net device, if its manifest allows it (net=),
 * and maps into its address space:
 *   - the RX and TX split virtqueues (virtio 1.2 §2.7): descriptor table,
 *     driver (avail) ring, device (used) ring, read-write;
 *   - each queue's doorbell, one uncached page: write the queue's index as
 *     a 16-bit value at `notify` to kick the device (virtio 1.2 §4.1.4.4);
 *   - a pool of physically contiguous DMA buffers, read-write.
 * Descriptors carry device addresses: for a pointer p into the pool, the
 * address is pool_dma + (p - pool). Nothing else is safe to give the
 * device (see HACKING.md, "threat model").
 * The queue pair's interrupt becomes an EV_NET event (data[0] = qp).
 */
#pragma once

#include <stdint.h>

#define MC_NET_LAYOUT_VERSION 1

struct mc_net_queue {
	uint64_t desc;	 /* user address of the descriptor table */
	uint64_t avail;	 /* driver ring */
	uint64_t used;	 /* device ring */
	uint64_t notify; /* user address of the doorbell (16-bit write) */
	uint16_t size;	 /* entries, a power of two */
	uint16_t index;	 /* virtqueue index to write to the doorbell */
	uint32_t pad;
};
_Static_assert(sizeof(struct mc_net_queue) == 40, "ABI");

/* Negotiated device features, as virtio feature bits. */
#define MC_NET_F_CSUM	    (1ULL << 0)
#define MC_NET_F_GUEST_CSUM (1ULL << 1) /* rx frames may carry a partial checksum */
#define MC_NET_F_MAC	    (1ULL << 5)
#define MC_NET_F_STATUS	    (1ULL << 16)
#define MC_NET_F_EVENT_IDX  (1ULL << 29)
#define MC_NET_F_VERSION_1  (1ULL << 32)

struct mc_net_layout {
	uint32_t version; /* MC_NET_LAYOUT_VERSION */
	uint32_t qp;
	struct mc_net_queue rx;
	struct mc_net_queue tx;
	uint64_t pool;	    /* user address of the DMA buffer pool */
	uint64_t pool_size; /* bytes */
	uint64_t pool_dma;  /* device address of pool byte 0 */
	uint64_t features;  /* negotiated virtio feature bits */
	uint32_t hdr_len;   /* virtio-net header before each frame: 12 */
	uint32_t buf_size;  /* suggested buffer size within the pool */
	uint8_t mac[6];
	uint16_t mtu;
	uint32_t pad;
};
_Static_assert(sizeof(struct mc_net_layout) == 144, "ABI");

struct mc_net_info {
	uint8_t mac[6];
	uint16_t link_up;
	uint16_t queue_pairs;
	uint16_t mtu;
	uint32_t pad;
	uint64_t features;
};
_Static_assert(sizeof(struct mc_net_info) == 24, "ABI");
