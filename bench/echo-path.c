/*
 * echod's data path on the host, instruction by instruction: one UDP
 * request at a time arrives in a simulated virtio-net queue pair
 * (tests/fuzz/fuzz_nic.h), and netif_poll, netif_recv_batch,
 * netif_echo_batch and netif_flush answer it, as echod's loop does. Under
 * callgrind (bench/echo-path.sh) the instructions between the frame's arrival
 * and its doorbell are counted per function: under TCG a guest instruction
 * costs host time, so fewer of them answer sooner (bench/README.md, "Where
 * echod's time goes"). Without callgrind it checks every reply and prints
 * the host's nanoseconds per round, a figure only for comparing builds.
 */
#include <netif.h>
#include <time.h>

#include "../tests/fuzz/fuzz_nic.h"
#include "../tests/fuzz/fuzz_net.h"

#define OUR_IP	 0x0a00020fu /* 10.0.2.15 */
#define PEER_IP	 0x0a000202u
#define BUF_SIZE 2048
#define PORT	 7

static struct netif nif;
static struct netif_ep *ep;
static uint8_t request[14 + 20 + 8 + 64];

/* A 64-byte UDP datagram from the peer to our port 7, checksums right. */
static void build_request(void)
{
	static const uint8_t peer_mac[6] = {0x02, 0, 0, 0, 0, 1};
	uint8_t *f = request;

	memcpy(f, nic_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	f[14] = 0x45;
	fn_put16(f + 16, 20 + 8 + 64);
	f[22] = 64;
	f[23] = 17;
	fn_put16(f + 26, PEER_IP >> 16);
	fn_put16(f + 28, PEER_IP & 0xffff);
	fn_put16(f + 30, OUR_IP >> 16);
	fn_put16(f + 32, OUR_IP & 0xffff);
	fn_put16(f + 34, 40000);
	fn_put16(f + 36, PORT);
	fn_put16(f + 38, 8 + 64);
	for (int i = 0; i < 64; i++)
		f[42 + i] = (uint8_t)i;
	fn_fix_checksums(f, sizeof(request));
}

/* The device: the request into the next RX buffer, as QEMU's receive does. */
static void device_receive(void)
{
	struct vnet_hdr h = {.num_buffers = 1};
	struct virtq_desc *d;
	uint32_t id;
	uint16_t di;
	uint8_t *b;

	fvq_bell(&nic->rx, NIC_RX_INDEX);
	FUZZ_CHECK(fvq_pending(&nic->rx));
	di = fvq_take(&nic->rx);
	d = &nic->rx.desc[di];
	b = nic_desc_buf(nic, d, &id);
	memcpy(b, &h, sizeof(h));
	memcpy(b + sizeof(h), request, sizeof(request));
	nic_put(&nic->rx, di, (uint32_t)(sizeof(h) + sizeof(request)));
}

/* The device sends what was queued: one reply, the request's mirror. */
static void device_transmit(void)
{
	struct virtq_desc *d;
	uint32_t id, n = 0;
	uint16_t di;
	uint8_t *b;

	fvq_bell(&nic->tx, NIC_TX_INDEX);
	while (fvq_pending(&nic->tx)) {
		di = fvq_take(&nic->tx);
		d = &nic->tx.desc[di];
		b = nic_desc_buf(nic, d, &id) + sizeof(struct vnet_hdr);
		FUZZ_CHECK(d->len - sizeof(struct vnet_hdr) == sizeof(request));
		FUZZ_CHECK(memcmp(b + 42, request + 42, 64) == 0);
		FUZZ_CHECK(memcmp(b, request + 6, 6) == 0 && memcmp(b + 30, request + 26, 4) == 0);
		nic_put(&nic->tx, di, 0);
		n++;
	}
	FUZZ_CHECK(n == 1);
}

/*
 * What echod does between a frame's arrival and its doorbell (echo_all in
 * usr/echod/echod.c): the one function callgrind counts (--toggle-collect).
 */
__attribute__((noinline)) static void guest_path(void)
{
	struct netif_dgram d[32];
	unsigned int n;

	FUZZ_CHECK(netif_poll(&nif) == 1);
	while ((n = netif_recv_batch(ep, d, 32)) > 0)
		FUZZ_CHECK(netif_echo_batch(ep, d, n) == n);
	netif_flush(&nif);
}

int main(int argc, char **argv)
{
	struct net_config cfg = {.ip = OUR_IP, .netmask = 0xffffff00u, .gateway = PEER_IP};
	long rounds = argc > 1 ? atol(argv[1]) : 100000;
	struct timespec t0, t1;

	nic_new(256, 256, 512, BUF_SIZE, MC_NET_F_EVENT_IDX | MC_NET_F_CSUM | MC_NET_F_GUEST_CSUM);
	FUZZ_CHECK(netif_open(&nif, "eth0", NIC_QP, &cfg) == 0);
	FUZZ_CHECK(netif_udp_open(&nif, PORT, &ep) == 0);
	build_request();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < rounds; i++) {
		device_receive();
		guest_path();
		device_transmit();
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("echo-path: %ld rounds, %.0f ns per round on this host (device included)\n", rounds,
	       ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / rounds);
	return 0;
}
