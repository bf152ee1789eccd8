/* The user-space virtio-net driver: a net_attach queue pair driven without system calls. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lib/virtq.h>
#include <uapi/net.h>

/*
 * The header in front of every frame on both queues (virtio 1.2 §5.1.6),
 * 12 bytes with VIRTIO_F_VERSION_1. Little-endian, like the host.
 */
/*
 * NEEDS_CSUM, tx: the device fills the checksum at csum_start + csum_offset;
 * rx (GUEST_CSUM): the sender left it partial there.
 */
#define VNET_HDR_F_NEEDS_CSUM 1
#define VNET_HDR_F_DATA_VALID 2 /* rx: device validated the checksum */
#define VNET_HDR_GSO_NONE     0

struct vnet_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers; /* rx: 1 without MRG_RXBUF; tx: the driver sets 0 */
};
_Static_assert(sizeof(struct vnet_hdr) == 12, "virtio 1.2 §5.1.6");

/* The smallest receive buffer §5.1.6.3.1 asks for without offloads: header + 1514. */
#define VNET_RX_BUF_MIN (sizeof(struct vnet_hdr) + 1514)

/*
 * One frame, received or to transmit. The pool is cut into buffers of
 * layout.buf_size; each starts with the virtio-net header and its frame
 * follows (vnet_frame). A buffer belongs to exactly one of: the driver's
 * free list, the RX queue, the TX queue, or the application (between
 * vnet_rx_burst or vnet_alloc_tx_buf and vnet_tx_burst or vnet_buf_free).
 */
struct vnet_pkt {
	uint8_t *data;	     /* the Ethernet frame (rx; tx: informative, ignored) */
	uint32_t len;	     /* frame bytes, without the virtio-net header */
	uint32_t buf;	     /* buffer id in the pool */
	uint16_t flags;	     /* VNET_PKT_F_* */
	uint16_t csum_start; /* VNET_PKT_F_TX_CSUM, VNET_PKT_F_CSUM_PARTIAL: offsets in the frame */
	uint16_t csum_offset;
};

/*
 * rx: the device checked the L4 checksum. tx: it completes it (needs
 * MC_NET_F_CSUM). rx (MC_NET_F_GUEST_CSUM): the frame's data is known good
 * but its checksum is partial: the 16-bit field at csum_start + csum_offset
 * holds the sum of the pseudo-header only, to be completed over the bytes
 * from csum_start to the end (virtio 1.2 §5.1.6.4) before the frame goes
 * anywhere that checks it. A frame with offsets outside it is dropped
 * (rx_bad_hdr).
 */
#define VNET_PKT_F_CSUM_VALID	0x1
#define VNET_PKT_F_TX_CSUM	0x2
#define VNET_PKT_F_CSUM_PARTIAL 0x4

/* Driver counters; net_stats (usr/lib/net/net.h) counts the protocols. */
struct vnet_stats {
	uint64_t rx_packets;
	uint64_t rx_bytes;
	uint64_t tx_packets;
	uint64_t tx_bytes;
	uint64_t rx_kicks;	/* doorbell writes: RX buffers posted to a waiting device */
	uint64_t tx_kicks;	/* doorbell writes: frames queued for a waiting device */
	uint64_t irq_arms;	/* vnet_irq_enable calls */
	uint64_t irq_races;	/* ... that found work and returned true (no sleep) */
	uint64_t rx_ring_empty; /* refills that found no RX buffer left with the device */
	uint64_t rx_short;	/* RX buffers returned with less than a header: recycled */
	uint64_t rx_bad_hdr;	/* ... with a partial checksum outside the frame: recycled */
	uint64_t tx_ring_full;	/* tx_burst calls that could not queue every frame */
	uint64_t tx_invalid;	/* frames refused: not the caller's buffer, bad length, flags */
	uint64_t no_buffers;	/* vnet_alloc_tx_buf found no free buffer */
	uint64_t buf_errors;	/* vnet_buf_free of a buffer the caller does not hold */
	uint64_t dev_errors;	/* used entries naming no buffer the queue holds */
	uint64_t resets;	/* device resets under the pair (EV_NET_RESET) */
	uint64_t reset_lost;	/* frames queued for TX that a reset threw away */
};

/*
 * Where a polling thread's TSC cycles go between two answers, stage by
 * stage (vnet_prof_on; echod --profile prints them per datagram):
 *  IDLE  after the last doorbell, until a poll finds frames (the waiting,
 *        the cost of noticing, and the RX refill and timers meanwhile);
 *  RX    the driver and the stack on the frames found;
 *  APP   the application, from the poll's return to its transmit;
 *  TX    the driver queueing the replies;
 *  KICK  the doorbell (an MMIO write: a VM exit, or under TCG QEMU's
 *        big lock and the wake-up of its I/O thread).
 */
enum vnet_stage { VNET_IDLE, VNET_RX, VNET_APP, VNET_TX, VNET_KICK, VNET_STAGES };

struct vnet_prof {
	bool on;
	enum vnet_stage cur;
	uint64_t last; /* TSC when cur began */
	uint64_t cycles[VNET_STAGES];
	uint64_t entries[VNET_STAGES]; /* times the stage began */
};

struct vnet {
	struct mc_net_layout layout;
	char name[8]; /* the device, for vnet_restart */
	struct virtq rx;
	struct virtq tx;
	uint8_t *pool;
	uint64_t pool_dma;
	uint32_t buf_size;
	uint32_t hdr_len;
	uint32_t nbufs;		     /* buffers in the pool */
	uint32_t nfree;		     /* entries on free_ids */
	uint32_t tx_reserve;	     /* refills leave this many free for vnet_alloc_tx_buf */
	uint32_t *free_ids;	     /* stack of free buffer ids */
	uint8_t *owner;		     /* owner[id]: enum vnet_owner in vnet.c */
	struct virtq_slot *rx_slots; /* the driver's private record of each descriptor */
	struct virtq_slot *tx_slots;
	volatile uint16_t *rx_notify;
	volatile uint16_t *tx_notify;
	bool tx_csum; /* MC_NET_F_CSUM: VNET_PKT_F_TX_CSUM allowed */
	bool irq_on;
	bool tx_irq_on;
	bool rx_dry; /* the RX ring was found empty and not refilled since */
	struct vnet_stats stats;
	struct vnet_prof prof;
};

/* Enter stage s; costs a load and a branch while profiling is off. */
static inline void vnet_prof(struct vnet *vn, enum vnet_stage s)
{
	if (__builtin_expect(vn->prof.on, 0)) {
		uint64_t t = __builtin_ia32_rdtsc();
		vn->prof.cycles[vn->prof.cur] += t - vn->prof.last;
		vn->prof.entries[s]++;
		vn->prof.cur = s;
		vn->prof.last = t;
	}
}

/* Start (or restart) the profile from zero. */
static inline void vnet_prof_start(struct vnet *vn)
{
	vn->prof = (struct vnet_prof){.on = true, .last = __builtin_ia32_rdtsc()};
}

/*
 * Attach queue pair qp of NIC name (a system call: net_attach), cut the pool
 * into buffers and fill the RX ring. Returns 0 or a negative errno: what
 * net_attach refused with, -EINVAL for a layout this driver cannot use,
 * -ENOMEM.
 */
int vnet_open(struct vnet *vn, const char *name, unsigned int qp);

/* vnet_open after the system call: take over the queues described by l. */
int vnet_setup(struct vnet *vn, const struct mc_net_layout *l);

/*
 * After EV_NET_RESET for this queue pair (the device was reset under it):
 * attach the pair again (a system call) and start over on its wiped rings.
 * Buffers the device held come back to the free list (frames that were
 * queued for TX are lost, counted in reset_lost); buffers the application
 * holds stay its own. 0, or a negative errno: what net_attach refused with,
 * -EINVAL if the kernel handed back a different layout.
 */
int vnet_restart(struct vnet *vn);

/*
 * Free the driver's own memory. The device keeps the queue pair and may
 * still write into buffers posted for RX: the kernel takes it back (and
 * resets the device) when the process ends; there is no detach.
 */
void vnet_close(struct vnet *vn);

/*
 * Take up to max received frames (no system call). The buffers become the
 * caller's: each must go back through vnet_tx_burst (zero-copy reply) or
 * vnet_buf_free. Returns the number of frames.
 */
unsigned int vnet_rx_burst(struct vnet *vn, struct vnet_pkt *pkts, unsigned int max);

/*
 * Queue pkts[0..n) for transmission: buf and len (and flags, csum_*) of
 * each; the frame must be at vnet_frame(vn, buf). The virtio-net header is
 * written here. Publishes once and writes the doorbell only if the device
 * asks for it. Returns how many were queued, a prefix of pkts: the rest
 * (TX ring full, or pkts[ret] invalid) are still the caller's.
 */
unsigned int vnet_tx_burst(struct vnet *vn, const struct vnet_pkt *pkts, unsigned int n);

/* Take back the buffers the device has transmitted. Returns how many. */
unsigned int vnet_tx_reclaim(struct vnet *vn);

/* Give free buffers to the RX queue, keeping the TX reserve. Returns how many. */
unsigned int vnet_rx_refill(struct vnet *vn);

/*
 * A free buffer for a new frame (an ARP request, a datagram built from
 * scratch): pkt->buf, pkt->data (the frame) and pkt->len (its capacity).
 * Refills leave a reserve for this. 0, or -EAGAIN when no buffer is free
 * even after reclaiming transmitted ones.
 */
int vnet_alloc_tx_buf(struct vnet *vn, struct vnet_pkt *pkt);

/* Give back a buffer the caller holds (a dropped frame, an unused TX buffer). 0 or -EINVAL. */
int vnet_buf_free(struct vnet *vn, uint32_t buf);

/*
 * Arm the queue-pair interrupt (an EV_NET event) for received frames, and
 * for transmit completions when frames are out and the caller waits for
 * them (want_tx: it has frames or output that need TX room or buffers),
 * the RX queue has run dry or the TX ring is full. Returns true if work
 * arrived meanwhile: poll again, do not sleep.
 */
bool vnet_irq_enable(struct vnet *vn, bool want_tx);

/* Back to polling: no interrupts. */
void vnet_irq_disable(struct vnet *vn);

/* Whether the device has returned RX buffers not yet taken. */
static inline bool vnet_rx_pending(struct vnet *vn)
{
	return virtq_used_pending(&vn->rx);
}

/* Whether the device wants a doorbell for the next transmit (virtq_kick_wanted). */
static inline bool vnet_tx_kick_wanted(const struct vnet *vn)
{
	return virtq_kick_wanted(&vn->tx);
}

/*
 * The TX ring's published avail index, and whether the device has used
 * every buffer up to avail index idx: that is, sent those frames (QEMU's
 * virtio-net returns a TX buffer right after handing its frame to the tap).
 */
static inline uint16_t vnet_tx_avail_idx(const struct vnet *vn)
{
	return vn->tx.avail_pub;
}

static inline bool vnet_tx_sent(const struct vnet *vn, uint16_t idx)
{
	return virtq_used_reached(&vn->tx, idx);
}

static inline uint8_t *vnet_frame(const struct vnet *vn, uint32_t buf)
{
	return vn->pool + (size_t)buf * vn->buf_size + vn->hdr_len;
}

/* Room for a frame in one buffer. */
static inline uint32_t vnet_frame_cap(const struct vnet *vn)
{
	return vn->buf_size - vn->hdr_len;
}

static inline const uint8_t *vnet_mac(const struct vnet *vn)
{
	return vn->layout.mac;
}

/* Buffers outside the driver's free list: posted for RX, queued for TX, or held. */
static inline uint32_t vnet_bufs_busy(const struct vnet *vn)
{
	return vn->nbufs - vn->nfree;
}
