#!/usr/bin/env python3
"""Send malformed Ethernet frames out of a tap interface (run inside the
test's network namespace): usage rawframes.py IFACE DST_MAC DST_IP SRC_IP COUNT.
Prints one line per kind: the counter echod should raise for it."""
import socket
import struct
import sys


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ipv4(src, dst, proto, payload, ihl=5, total=None, flags_frag=0, bad_csum=False):
    total = 20 + len(payload) if total is None else total
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, 0x1234, flags_frag, 64,
                      proto, 0, socket.inet_aton(src), socket.inet_aton(dst))
    c = csum(hdr) ^ (0x5555 if bad_csum else 0)
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def udp(sport, dport, payload, length=None, csum_value=0):
    length = 8 + len(payload) if length is None else length
    return struct.pack("!HHHH", sport, dport, length, csum_value) + payload


def main():
    iface, dst_mac, dst_ip, src_ip, count = sys.argv[1:6]
    count = int(count)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    src_mac = s.getsockname()[4]
    eth = bytes.fromhex(dst_mac.replace(":", "")) + src_mac
    good_udp = udp(4000, 7, b"x" * 16)
    kinds = {
        "short": eth + b"\x08\x00" + b"\x45\x00\x00",  # IPv4 cut inside its header
        "ethertype": eth + b"\x88\xb5" + b"\0" * 46,
        "ip_csum": eth + b"\x08\x00" + ipv4(src_ip, dst_ip, 17, good_udp, bad_csum=True),
        "ip_hlen": eth + b"\x08\x00" + ipv4(src_ip, dst_ip, 17, good_udp, ihl=4),
        "ip_len": eth + b"\x08\x00" + ipv4(src_ip, dst_ip, 17, good_udp, total=1400),
        # Only UDP is reassembled; a fragment past 65535 bytes (ping of death) is bad.
        "ip_fragment": eth + b"\x08\x00" + ipv4(src_ip, dst_ip, 1, good_udp, flags_frag=0x2000),
        "frag_bad": eth + b"\x08\x00" + ipv4(src_ip, dst_ip, 17, good_udp, flags_frag=0x1fff),
        "ip_proto": eth + b"\x08\x00" + ipv4(src_ip, dst_ip, 99, good_udp),
        "udp_len": eth + b"\x08\x00" + ipv4(src_ip, dst_ip, 17, udp(4000, 7, b"x" * 16, length=4)),
        "udp_csum": eth + b"\x08\x00" + ipv4(src_ip, dst_ip, 17,
                                             udp(4000, 7, b"x" * 16, csum_value=0x1234)),
    }
    for _ in range(count):
        for frame in kinds.values():
            s.send(frame)
    for k in kinds:
        print(k)


if __name__ == "__main__":
    main()
