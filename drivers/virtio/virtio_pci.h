/* Modern virtio-pci transport registers (virtio 1.2 §4.1.4). */
#pragma once

#include <drivers/pci.h>
#include <kernel/types.h>

#define VIRTIO_PCI_VENDOR     0x1af4
#define VIRTIO_PCI_DEVICE_NET 0x1041 /* 0x1040 + device type 1 */

/* struct virtio_pci_cap fields, as offsets from the capability. */
#define VIRTIO_CAP_CFG_TYPE    3
#define VIRTIO_CAP_BAR	       4
#define VIRTIO_CAP_OFFSET      8
#define VIRTIO_CAP_LENGTH      12
#define VIRTIO_CAP_NOTIFY_MULT 16

#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG	  3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4

/* struct virtio_pci_common_cfg (§4.1.4.3) */
#define VIRTIO_COMMON_DFSELECT	    0x00
#define VIRTIO_COMMON_DF	    0x04
#define VIRTIO_COMMON_GFSELECT	    0x08
#define VIRTIO_COMMON_GF	    0x0c
#define VIRTIO_COMMON_MSIX	    0x10
#define VIRTIO_COMMON_NUMQ	    0x12
#define VIRTIO_COMMON_STATUS	    0x14
#define VIRTIO_COMMON_CFGGENERATION 0x15
#define VIRTIO_COMMON_Q_SELECT	    0x16
#define VIRTIO_COMMON_Q_SIZE	    0x18
#define VIRTIO_COMMON_Q_MSIX	    0x1a
#define VIRTIO_COMMON_Q_ENABLE	    0x1c
#define VIRTIO_COMMON_Q_NOFF	    0x1e
#define VIRTIO_COMMON_Q_DESC	    0x20
#define VIRTIO_COMMON_Q_AVAIL	    0x28
#define VIRTIO_COMMON_Q_USED	    0x30
#define VIRTIO_COMMON_Q_NOTIFY_DATA 0x38
#define VIRTIO_COMMON_Q_RESET	    0x3a /* with VIRTIO_F_RING_RESET (§4.1.4.3) */

#define VIRTIO_MSI_NO_VECTOR 0xffff

/* Device status (§2.1) */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER	  2
#define VIRTIO_STATUS_DRIVER_OK	  4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED	  128

/* Feature bits (§6, §5.1.3) */
#define VIRTIO_NET_F_CSUM	0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU	3
#define VIRTIO_NET_F_MAC	5
#define VIRTIO_NET_F_STATUS	16
#define VIRTIO_NET_F_CTRL_VQ	17
#define VIRTIO_NET_F_MQ		22
#define VIRTIO_F_RING_RESET	40
#define VIRTIO_NET_F_RSS	60
#define VIRTIO_F_RING_EVENT_IDX 29
#define VIRTIO_F_VERSION_1	32

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
