/* virtio-net's feature bits, configuration and control commands (virtio 1.2 §5.1). */
#pragma once

#define VIRTIO_PCI_DEVICE_NET 0x1041 /* 0x1040 + device type 1 (§4.1.2) */

/* Feature bits (§5.1.3) */
#define VIRTIO_NET_F_CSUM	0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU	3
#define VIRTIO_NET_F_MAC	5
#define VIRTIO_NET_F_STATUS	16
#define VIRTIO_NET_F_CTRL_VQ	17
#define VIRTIO_NET_F_MQ		22
#define VIRTIO_NET_F_RSS	60

/* struct virtio_net_config (§5.1.4) */
#define VIRTIO_NET_CFG_MAC	   0
#define VIRTIO_NET_CFG_STATUS	   6
#define VIRTIO_NET_S_LINK_UP	   1
#define VIRTIO_NET_CFG_MAX_QP	   8
#define VIRTIO_NET_CFG_MTU	   10
#define VIRTIO_NET_CFG_RSS_KEY_MAX 17 /* u8 rss_max_key_size */
#define VIRTIO_NET_CFG_RSS_TBL_MAX 18 /* le16 rss_max_indirection_table_length */
#define VIRTIO_NET_CFG_HASH_TYPES  20 /* le32 supported_hash_types */

/* The control virtqueue (§5.1.6.5): class, command, data, then the ack byte. */
#define VIRTIO_NET_OK			0
#define VIRTIO_NET_CTRL_MQ		4
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET 0
#define VIRTIO_NET_CTRL_MQ_RSS_CONFIG	1

/* Hash types (§5.1.6.4.3.1) */
#define VIRTIO_NET_HASH_TYPE_IPv4  (1U << 0)
#define VIRTIO_NET_HASH_TYPE_TCPv4 (1U << 1)
#define VIRTIO_NET_HASH_TYPE_UDPv4 (1U << 2)

#define VIRTIO_NET_HDR_LEN 12 /* struct virtio_net_hdr with num_buffers */
