/* The user-space virtio-net driver: buffer pool, RX/TX bursts, doorbells, interrupt arming. */
#ifdef HOST_TEST
#include <stdlib.h>
#include <string.h>
#else
#include <lib/string.h>
#include <mc/stdlib.h>
#include <mc/sys.h>
#endif
#include <uapi/errno.h>

#include "vnet.h"

#ifdef HOST_TEST
/* Host unit tests stand in for the kernel. */
long sys_net_attach(const char *name, unsigned int qp, struct mc_net_layout *layout);
#endif

/*
 * Buffer ownership. Every buffer is in exactly one place; each move is
 * checked, so a confused caller or device cannot make one buffer live in
 * two places (a frame sent while the device writes into it).
 */
enum vnet_owner {
	OWN_FREE = 0,
	OWN_RX,
	OWN_TX,
	OWN_APP,
};

#define VNET_TX_RESERVE 64	   /* free buffers refills leave for new frames */
#define VNET_BUFS_MAX	(1u << 16) /* more than any pair of rings can hold */
#define ETH_FRAME_MIN	14	   /* an Ethernet header */
#define ETH_FRAME_MAX	1514	   /* header + 1500-byte MTU, no FCS */

/* Virtqueue cookies must not be NULL: buffer id + 1. */
static inline void *id_cookie(uint32_t id)
{
	return (void *)(uintptr_t)(id + 1);
}

static inline uint32_t cookie_id(void *cookie)
{
	return (uint32_t)((uintptr_t)cookie - 1);
}

static inline uint8_t *buf_addr(const struct vnet *vn, uint32_t id)
{
	return vn->pool + (size_t)id * vn->buf_size;
}

/* The device address of a buffer: pool_dma + offset in the pool (uapi/net.h). */
static inline uint64_t buf_dma(const struct vnet *vn, uint32_t id)
{
	return vn->pool_dma + (uint64_t)id * vn->buf_size;
}

static inline void buf_put(struct vnet *vn, uint32_t id)
{
	vn->owner[id] = OWN_FREE;
	vn->free_ids[vn->nfree++] = id;
}

static inline uint32_t buf_get(struct vnet *vn, enum vnet_owner to)
{
	uint32_t id = vn->free_ids[--vn->nfree];

	vn->owner[id] = (uint8_t)to;
	return id;
}

/* §4.1.4.4: without NOTIFICATION_DATA a notification is the queue index, 16 bits. */
static inline void doorbell(volatile uint16_t *notify, uint16_t queue_index)
{
	*notify = queue_index;
}

/* What this driver relies on; the kernel is trusted, but checked is cheaper than debugged. */
static bool layout_ok(const struct mc_net_layout *l)
{
	uint32_t frame_max = ETH_FRAME_MAX;

	if (l->version != MC_NET_LAYOUT_VERSION || !(l->features & MC_NET_F_VERSION_1))
		return false;
	if (l->hdr_len != sizeof(struct vnet_hdr))
		return false;
	if (l->mtu > 1500)
		frame_max = ETH_FRAME_MIN + l->mtu;
	if (l->buf_size < l->hdr_len + frame_max || l->buf_size > (1u << 20))
		return false;
	if (!l->pool || l->pool_size / l->buf_size < 2)
		return false;
	if (!l->rx.desc || !l->rx.notify || !l->tx.desc || !l->tx.notify)
		return false;
	return l->rx.notify % 2 == 0 && l->tx.notify % 2 == 0;
}

static void vnet_free_arrays(struct vnet *vn)
{
	free(vn->rx_slots);
	free(vn->tx_slots);
	free(vn->free_ids);
	free(vn->owner);
}

static int vnet_alloc_arrays(struct vnet *vn)
{
	vn->rx_slots = calloc(vn->layout.rx.size, sizeof(*vn->rx_slots));
	vn->tx_slots = calloc(vn->layout.tx.size, sizeof(*vn->tx_slots));
	vn->free_ids = calloc(vn->nbufs, sizeof(*vn->free_ids));
	vn->owner = calloc(vn->nbufs, sizeof(*vn->owner));
	if (!vn->rx_slots || !vn->tx_slots || !vn->free_ids || !vn->owner) {
		vnet_free_arrays(vn);
		return -ENOMEM;
	}
	return 0;
}

static int vnet_queue_init(struct virtq *vq, const struct mc_net_queue *q,
			   struct virtq_slot *slots, bool event_idx)
{
	return virtq_init(vq, (void *)(uintptr_t)q->desc, (void *)(uintptr_t)q->avail,
			  (void *)(uintptr_t)q->used, q->size, slots, event_idx);
}

int vnet_setup(struct vnet *vn, const struct mc_net_layout *l)
{
	bool event_idx = l->features & MC_NET_F_EVENT_IDX;
	uint64_t nbufs;
	uint32_t i;
	int err;

	memset(vn, 0, sizeof(*vn));
	if (!layout_ok(l))
		return -EINVAL;
	vn->layout = *l;
	vn->pool = (uint8_t *)(uintptr_t)l->pool;
	vn->pool_dma = l->pool_dma;
	vn->buf_size = l->buf_size;
	vn->hdr_len = l->hdr_len;
	nbufs = l->pool_size / l->buf_size;
	vn->nbufs = nbufs > VNET_BUFS_MAX ? VNET_BUFS_MAX : (uint32_t)nbufs;
	vn->tx_reserve = vn->nbufs / 2 < VNET_TX_RESERVE ? vn->nbufs / 2 : VNET_TX_RESERVE;
	vn->rx_notify = (volatile uint16_t *)(uintptr_t)l->rx.notify;
	vn->tx_notify = (volatile uint16_t *)(uintptr_t)l->tx.notify;
	vn->tx_csum = l->features & MC_NET_F_CSUM;

	err = vnet_alloc_arrays(vn);
	if (err)
		return err;
	err = vnet_queue_init(&vn->rx, &l->rx, vn->rx_slots, event_idx);
	if (err)
		goto err_arrays;
	err = vnet_queue_init(&vn->tx, &l->tx, vn->tx_slots, event_idx);
	if (err)
		goto err_arrays;

	/* Lowest ids on top, so buffers go out in pool order. */
	for (i = vn->nbufs; i-- > 0;)
		buf_put(vn, i);
	/* Polling until the application arms interrupts before it sleeps. */
	vnet_irq_disable(vn);
	vnet_rx_refill(vn);
	return 0;

err_arrays:
	vnet_free_arrays(vn);
	return err;
}

int vnet_open(struct vnet *vn, const char *name, unsigned int qp)
{
	struct mc_net_layout l;
	long rc;

	memset(&l, 0, sizeof(l));
	rc = sys_net_attach(name, qp, &l);
	if (rc < 0)
		return (int)rc;
	rc = vnet_setup(vn, &l);
	if (rc == 0) {
		size_t i;
		for (i = 0; i + 1 < sizeof(vn->name) && name[i]; i++)
			vn->name[i] = name[i];
		vn->name[i] = '\0';
	}
	return (int)rc;
}

int vnet_restart(struct vnet *vn)
{
	bool event_idx = vn->layout.features & MC_NET_F_EVENT_IDX;
	struct mc_net_layout l;
	long rc;

	memset(&l, 0, sizeof(l));
	rc = sys_net_attach(vn->name, vn->layout.qp, &l);
	if (rc < 0)
		return (int)rc;
	if (memcmp(&l, &vn->layout, sizeof(l)) != 0)
		return -EINVAL; /* the same pair comes back where it was */
	/* Cannot fail: the same areas and sizes vnet_setup accepted. */
	vnet_queue_init(&vn->rx, &l.rx, vn->rx_slots, event_idx);
	vnet_queue_init(&vn->tx, &l.tx, vn->tx_slots, event_idx);
	for (uint32_t id = 0; id < vn->nbufs; id++) {
		if (vn->owner[id] == OWN_TX)
			vn->stats.reset_lost++;
		if (vn->owner[id] == OWN_RX || vn->owner[id] == OWN_TX)
			buf_put(vn, id);
	}
	vn->stats.resets++;
	vn->rx_dry = false;
	vnet_irq_disable(vn);
	vnet_rx_refill(vn);
	return 0;
}

void vnet_close(struct vnet *vn)
{
	vnet_free_arrays(vn);
	vn->rx_slots = NULL;
	vn->tx_slots = NULL;
	vn->free_ids = NULL;
	vn->owner = NULL;
	vn->nbufs = 0;
	vn->nfree = 0;
}

unsigned int vnet_rx_refill(struct vnet *vn)
{
	unsigned int n = 0;
	uint32_t id;

	/*
	 * An empty ring means the device has had nowhere to put frames
	 * (QEMU holds them back, real NICs drop them): count each time it
	 * runs dry, not each look at a dry ring.
	 */
	if (virtq_inflight(&vn->rx) == 0 && !vn->rx_dry && vn->stats.rx_packets) {
		vn->stats.rx_ring_empty++;
		vn->rx_dry = true;
	}
	while (virtq_free_count(&vn->rx) && vn->nfree > vn->tx_reserve) {
		id = buf_get(vn, OWN_RX);
		/* Cannot fail: a descriptor is free and the cookie is not NULL. */
		virtq_add(&vn->rx, buf_dma(vn, id), vn->buf_size, true, id_cookie(id));
		n++;
	}
	if (!n)
		return 0;
	vn->rx_dry = false;
	virtq_publish(&vn->rx);
	if (virtq_kick_needed(&vn->rx)) {
		doorbell(vn->rx_notify, vn->layout.rx.index);
		vn->stats.rx_kicks++;
	}
	return n;
}

/* A used entry's buffer, if it really is one the queue holds. */
static bool used_buf(struct vnet *vn, void *cookie, enum vnet_owner where, uint32_t *id)
{
	*id = cookie_id(cookie);
	if (*id >= vn->nbufs || vn->owner[*id] != where) {
		vn->stats.dev_errors++;
		return false;
	}
	return true;
}

unsigned int vnet_rx_burst(struct vnet *vn, struct vnet_pkt *pkts, unsigned int max)
{
	/*
	 * An honest device has at most a ring's worth of entries pending; one
	 * that moves used->idx further only gets that many looked at per call.
	 */
	unsigned int n = 0, budget = virtq_size(&vn->rx);
	struct vnet_hdr hdr;
	void *cookie;
	uint32_t len, id;
	int r;

	while (n < max && budget--) {
		r = virtq_get_used(&vn->rx, &cookie, &len);
		if (r == 0)
			break;
		if (r < 0) {
			vn->stats.dev_errors++;
			continue;
		}
		if (!used_buf(vn, cookie, OWN_RX, &id))
			continue;
		if (len < vn->hdr_len) {
			vn->stats.rx_short++;
			buf_put(vn, id);
			continue;
		}
		memcpy(&hdr, buf_addr(vn, id), sizeof(hdr));
		len -= vn->hdr_len;
		pkts[n].flags = hdr.flags & VNET_HDR_F_DATA_VALID ? VNET_PKT_F_CSUM_VALID : 0;
		pkts[n].csum_start = 0;
		pkts[n].csum_offset = 0;
		if (hdr.flags & VNET_HDR_F_NEEDS_CSUM) {
			if ((uint32_t)hdr.csum_start + hdr.csum_offset + 2 > len) {
				vn->stats.rx_bad_hdr++;
				buf_put(vn, id);
				continue;
			}
			pkts[n].flags |= VNET_PKT_F_CSUM_PARTIAL;
			pkts[n].csum_start = hdr.csum_start;
			pkts[n].csum_offset = hdr.csum_offset;
		}
		vn->owner[id] = OWN_APP;
		pkts[n].data = buf_addr(vn, id) + vn->hdr_len;
		pkts[n].len = len;
		pkts[n].buf = id;
		vn->stats.rx_packets++;
		vn->stats.rx_bytes += pkts[n].len;
		n++;
	}
	/* Polling for long: keep the suppressed-interrupt index from coming round. */
	if (n && !vn->irq_on)
		virtq_disable_irq(&vn->rx);
	return n;
}

static bool tx_pkt_ok(const struct vnet *vn, const struct vnet_pkt *p)
{
	if (p->buf >= vn->nbufs || vn->owner[p->buf] != OWN_APP)
		return false;
	if (p->len < ETH_FRAME_MIN || p->len > vnet_frame_cap(vn))
		return false;
	if (p->flags & ~VNET_PKT_F_TX_CSUM)
		return false;
	if (p->flags & VNET_PKT_F_TX_CSUM)
		return vn->tx_csum && (uint32_t)p->csum_start + p->csum_offset + 2 <= p->len;
	return true;
}

/* §5.1.6.2: no offload unless asked for; num_buffers is 0 on transmit. */
static void tx_hdr_fill(struct vnet *vn, const struct vnet_pkt *p)
{
	struct vnet_hdr hdr = {.gso_type = VNET_HDR_GSO_NONE};

	if (p->flags & VNET_PKT_F_TX_CSUM) {
		hdr.flags = VNET_HDR_F_NEEDS_CSUM;
		hdr.csum_start = p->csum_start;
		hdr.csum_offset = p->csum_offset;
	}
	memcpy(buf_addr(vn, p->buf), &hdr, sizeof(hdr));
}

unsigned int vnet_tx_burst(struct vnet *vn, const struct vnet_pkt *pkts, unsigned int n)
{
	const struct vnet_pkt *p;
	unsigned int i;

	vnet_prof(vn, VNET_TX);
	if (virtq_free_count(&vn->tx) < n)
		vnet_tx_reclaim(vn);
	for (i = 0; i < n; i++) {
		p = &pkts[i];
		if (!tx_pkt_ok(vn, p)) {
			vn->stats.tx_invalid++;
			break;
		}
		if (!virtq_free_count(&vn->tx)) {
			vn->stats.tx_ring_full++;
			break;
		}
		tx_hdr_fill(vn, p);
		virtq_add(&vn->tx, buf_dma(vn, p->buf), vn->hdr_len + p->len, false,
			  id_cookie(p->buf));
		vn->owner[p->buf] = OWN_TX;
		vn->stats.tx_packets++;
		vn->stats.tx_bytes += p->len;
	}
	if (!i) {
		vnet_prof(vn, VNET_IDLE);
		return 0;
	}
	virtq_publish(&vn->tx);
	if (virtq_kick_needed(&vn->tx)) {
		vnet_prof(vn, VNET_KICK);
		doorbell(vn->tx_notify, vn->layout.tx.index);
		vn->stats.tx_kicks++;
	}
	vnet_prof(vn, VNET_IDLE);
	return i;
}

unsigned int vnet_tx_reclaim(struct vnet *vn)
{
	unsigned int n = 0, budget = virtq_size(&vn->tx); /* as in vnet_rx_burst */
	void *cookie;
	uint32_t len, id;
	int r;

	while (budget-- && (r = virtq_get_used(&vn->tx, &cookie, &len)) != 0) {
		if (r < 0) {
			vn->stats.dev_errors++;
			continue;
		}
		if (!used_buf(vn, cookie, OWN_TX, &id))
			continue;
		buf_put(vn, id);
		n++;
	}
	if (n && !vn->tx_irq_on)
		virtq_disable_irq(&vn->tx);
	return n;
}

int vnet_alloc_tx_buf(struct vnet *vn, struct vnet_pkt *pkt)
{
	uint32_t id;

	if (!vn->nfree && !vnet_tx_reclaim(vn)) {
		vn->stats.no_buffers++;
		return -EAGAIN;
	}
	id = buf_get(vn, OWN_APP);
	pkt->data = buf_addr(vn, id) + vn->hdr_len;
	pkt->len = vnet_frame_cap(vn);
	pkt->buf = id;
	pkt->flags = 0;
	pkt->csum_start = 0;
	pkt->csum_offset = 0;
	return 0;
}

int vnet_buf_free(struct vnet *vn, uint32_t buf)
{
	if (buf >= vn->nbufs || vn->owner[buf] != OWN_APP) {
		vn->stats.buf_errors++;
		return -EINVAL;
	}
	buf_put(vn, buf);
	return 0;
}

bool vnet_irq_enable(struct vnet *vn, bool want_tx)
{
	bool pending;

	vn->stats.irq_arms++;
	vn->irq_on = true;
	pending = virtq_enable_irq(&vn->rx);
	/*
	 * Listen for transmit completions too when they are what the caller
	 * waits for: with no RX buffer left at the device no frame can wake
	 * us, with the TX ring full nothing more can be sent, and a caller
	 * with frames or output waiting for room or buffers needs the ones
	 * the device gives back.
	 */
	if (virtq_inflight(&vn->tx) > 0 &&
	    (want_tx || virtq_inflight(&vn->rx) == 0 || virtq_free_count(&vn->tx) == 0)) {
		vn->tx_irq_on = true;
		pending |= virtq_enable_irq(&vn->tx);
	}
	if (pending)
		vn->stats.irq_races++;
	return pending;
}

void vnet_irq_disable(struct vnet *vn)
{
	vn->irq_on = false;
	vn->tx_irq_on = false;
	virtq_disable_irq(&vn->rx);
	virtq_disable_irq(&vn->tx);
}
