/*
 * DMA attacks by a queue owner (hostile dma-tx, dma-rx) and the process
 * whose memory they aim at (hostile dma-victim). The owner writes its own
 * descriptors with device addresses outside what it was given: a page of
 * kernel data, another process's page, an address next to its pool. With
 * the IOMMU the device faults and the kernel kills the owner; the victim
 * checks that neither page changed. Needs a kernel booted with `testhooks`
 * (the targets' physical addresses and checksums come from SYS_test_hook).
 *
 *   hostile dma-tx|dma-rx kernel|victim|unmapped|msi|zero-length [--qp N] [--after K]
 *                                                  [--delay MS] [--ask A.B.C.D]
 *   hostile dma-victim K [MS]
 *
 * --after K: wait until K owners were killed for DMA before attacking (so
 * several attackers take the queue pair in turn), then --delay MS more.
 * dma-rx provokes a frame
 * by asking for --ask (default 10.0.2.2, QEMU's user-network gateway) by
 * ARP. dma-victim waits for K kills (or MS milliseconds), then compares.
 */
#include <stdint.h>

#include <lib/string.h>
#include <lib/virtq.h>
#include <mc/event.h>
#include <mc/stdio.h>
#include <mc/stdlib.h>
#include <mc/sys.h>
#include <uapi/errno.h>
#include <uapi/net.h>
#include <uapi/testhook.h>

#include "hostile.h"

#define MS	      1000000ULL
#define PAGE	      4096U
#define VNET_HDR_LEN  12
#define ARP_FRAME_LEN 42
#define RX_BUF_LEN    2048
#define ATTACH_TRIES  4000 /* 5 ms apart: 20 s */
#define KILL_WAIT_MS  60000
#define SURVIVE_MS    5000

struct dma_opts {
	unsigned qp;
	long after;
	long delay_ms;
	uint8_t ask[4];
};

static long hook(long op, long arg)
{
	return mc_syscall2(SYS_test_hook, op, arg);
}

static uint64_t now_ns(void)
{
	struct mc_timespec ts;
	sys_clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.sec * 1000000000ULL + (uint64_t)ts.nsec;
}

/* Sleep, whatever events (the queue pair's interrupts) come meanwhile. */
static void sleep_ms(uint64_t ms)
{
	uint64_t end = now_ns() + ms * MS;
	struct mc_event ev;
	for (uint64_t t = now_ns(); t < end; t = now_ns()) {
		while (mc_event_pop(&ev))
			;
		sys_wait(end - t);
	}
}

static bool parse_ip(const char *s, uint8_t ip[4])
{
	for (int i = 0; i < 4; i++) {
		char *end;
		long v = strtol(s, &end, 10);
		if (end == s || v < 0 || v > 255 || (i < 3 ? *end != '.' : *end != '\0'))
			return false;
		ip[i] = (uint8_t)v;
		s = end + 1;
	}
	return true;
}

static int parse_opts(int argc, char **argv, struct dma_opts *o)
{
	*o = (struct dma_opts){.qp = 0, .after = 0, .ask = {10, 0, 2, 2}};
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--qp") == 0 && i + 1 < argc)
			o->qp = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--after") == 0 && i + 1 < argc)
			o->after = atoi(argv[++i]);
		else if (strcmp(argv[i], "--delay") == 0 && i + 1 < argc)
			o->delay_ms = atoi(argv[++i]);
		else if (strcmp(argv[i], "--ask") == 0 && i + 1 < argc &&
			 parse_ip(argv[i + 1], o->ask))
			i++;
		else
			return -1;
	}
	return 0;
}

static bool wait_kills(long n, long limit_ms)
{
	for (long ms = 0; ms < limit_ms; ms += 5) {
		if (hook(TH_DMA_KILLS, 0) >= n)
			return true;
		sleep_ms(5);
	}
	return false;
}

static long attach(unsigned qp, struct mc_net_layout *l)
{
	long rc = -EBUSY;
	for (int i = 0; i < ATTACH_TRIES && rc == -EBUSY; i++) {
		rc = sys_net_attach("eth0", qp, l);
		if (rc == -EBUSY)
			sleep_ms(5);
	}
	return rc;
}

static uint64_t target(const char *which, const struct mc_net_layout *l)
{
	if (strcmp(which, "kernel") == 0)
		return (uint64_t)hook(TH_DMA_TARGET, TH_TARGET_KERNEL);
	if (strcmp(which, "victim") == 0) {
		long pa = -ENOENT;
		for (int i = 0; i < 1000 && pa == -ENOENT; i++, sleep_ms(5))
			pa = hook(TH_DMA_TARGET, TH_TARGET_VICTIM);
		return pa < 0 ? 0 : (uint64_t)pa;
	}
	if (strcmp(which, "unmapped") == 0)
		return l->pool_dma + l->pool_size; /* just past its own pool */
	if (strcmp(which, "msi") == 0)
		return 0xfee00000; /* where DMA writes are interrupt messages */
	if (strcmp(which, "zero-length") == 0)
		return l->pool_dma; /* its own pool, but with length 0 */
	return 0;
}

/* Publish one descriptor per entry of a queue and ring its doorbell. */
static void publish(const struct mc_net_queue *q, unsigned n, uint64_t addr, uint32_t len,
		    uint16_t flags)
{
	struct virtq_desc *desc = (struct virtq_desc *)(uintptr_t)q->desc;
	struct virtq_avail *avail = (struct virtq_avail *)(uintptr_t)q->avail;
	uint16_t idx = avail->idx;
	for (unsigned i = 0; i < n; i++) {
		desc[i] = (struct virtq_desc){.addr = addr, .len = len, .flags = flags};
		avail->ring[(uint16_t)(idx + i) % q->size] = (uint16_t)i;
	}
	__atomic_store_n(&avail->idx, (uint16_t)(idx + n), __ATOMIC_RELEASE);
	*(volatile uint16_t *)(uintptr_t)q->notify = q->index;
}

/* An ARP request for ip, in the pool, sent the honest way: the reply is what
 * the device will try to write through the hostile RX descriptors. */
static void send_arp(const struct mc_net_layout *l, const uint8_t ip[4])
{
	uint8_t *b = (uint8_t *)(uintptr_t)l->pool;
	static const uint8_t head[] = {0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1};
	static const uint8_t our_ip[4] = {10, 0, 2, 15};
	memset(b, 0, VNET_HDR_LEN + ARP_FRAME_LEN);
	uint8_t *f = b + VNET_HDR_LEN;
	memset(f, 0xff, 6);
	memcpy(f + 6, l->mac, 6);
	memcpy(f + 12, head, sizeof(head));
	memcpy(f + 22, l->mac, 6);
	memcpy(f + 28, our_ip, 4);
	memcpy(f + 38, ip, 4);
	publish(&l->tx, 1, l->pool_dma, VNET_HDR_LEN + ARP_FRAME_LEN, 0);
}

int dma_attack(int argc, char **argv)
{
	struct dma_opts o;
	struct mc_net_layout l;
	bool rx = strcmp(argv[1], "dma-rx") == 0;
	if (argc < 3 || parse_opts(argc, argv, &o)) {
		printf(
		    "usage: hostile dma-tx|dma-rx kernel|victim|unmapped|msi|zero-length [--qp N] "
		    "[--after K] [--delay MS] [--ask IP]\n");
		return 2;
	}
	if (o.after && !wait_kills(o.after, KILL_WAIT_MS)) {
		printf("hostile %s %s: the attacks before mine did not end\n", argv[1], argv[2]);
		return 1;
	}
	sleep_ms((uint64_t)o.delay_ms);
	long rc = attach(o.qp, &l);
	if (rc < 0) {
		printf("hostile %s %s: net_attach: %ld\n", argv[1], argv[2], rc);
		return 1;
	}
	uint64_t dev_addr = target(argv[2], &l);
	if (!dev_addr) {
		printf("hostile %s %s: no such target\n", argv[1], argv[2]);
		return 1;
	}
	printf("hostile %s %s: descriptors at device address %#lx on queue pair %u\n", argv[1],
	       argv[2], (unsigned long)dev_addr, o.qp);
	/* §2.7.5 leaves no room for a zero-length buffer: QEMU stops the
	 * whole device for one (NEEDS_RESET), whatever the IOMMU. */
	bool zero = strcmp(argv[2], "zero-length") == 0;
	if (rx) {
		publish(&l.rx, 8, dev_addr, zero ? 0 : RX_BUF_LEN, VIRTQ_DESC_F_WRITE);
		send_arp(&l, o.ask);
	} else {
		publish(&l.tx, 1, dev_addr, zero ? 0 : VNET_HDR_LEN + 1500, 0);
	}
	sleep_ms(SURVIVE_MS);
	printf("hostile %s %s: survived (the device did as told)\n", argv[1], argv[2]);
	return 1;
}

int dma_victim(int argc, char **argv)
{
	long kills = argc > 2 ? atoi(argv[2]) : 1;
	long limit_ms = argc > 3 ? atoi(argv[3]) : KILL_WAIT_MS;
	uint8_t *page = vmspace_alloc(PAGE, PROT_READ | PROT_WRITE);
	if (!page)
		return 1;
	for (unsigned i = 0; i < PAGE; i++)
		page[i] = (uint8_t)(i * 37 + 5);
	if (hook(TH_DMA_PUBLISH, (long)page) < 0) {
		printf("hostile dma-victim: cannot publish (testhooks?)\n");
		return 1;
	}
	long ksum = hook(TH_DMA_SUM, TH_TARGET_KERNEL), vsum = hook(TH_DMA_SUM, TH_TARGET_VICTIM);
	printf("hostile dma-victim: page published, checksums kernel %#lx victim %#lx\n", ksum,
	       vsum);
	bool all = wait_kills(kills, limit_ms);
	bool own = true;
	for (unsigned i = 0; i < PAGE; i++)
		own &= page[i] == (uint8_t)(i * 37 + 5);
	long ksum2 = hook(TH_DMA_SUM, TH_TARGET_KERNEL), vsum2 = hook(TH_DMA_SUM, TH_TARGET_VICTIM);
	bool same = own && ksum2 == ksum && vsum2 == vsum;
	printf("hostile dma-victim: after %ld kill(s)%s: own page %s, kernel page %s (%#lx)\n",
	       hook(TH_DMA_KILLS, 0), all ? "" : " (fewer than awaited)",
	       own && vsum2 == vsum ? "unchanged" : "CHANGED",
	       ksum2 == ksum ? "unchanged" : "CHANGED", ksum2);
	return same ? 0 : 1;
}
