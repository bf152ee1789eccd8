#!/usr/bin/python3
"""Write the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/seed-*).

Deterministic: run it again after changing an input format and commit the
result. Files named crash-* (inputs that once crashed a target) are never
touched. The ELF target's seeds are tests/elf/corpus (see fuzz_elf.c).
Formats: ACPI tables (ACPI 6.5 ch. 5), Multiboot2 boot information
(Multiboot2 spec §3.6), Ethernet/ARP/IPv4/ICMP/UDP (RFC 826, 791, 792, 768)
and each target's operation bytes (its fuzz_*.c).
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def csum16(data):
    """RFC 1071 one's complement checksum."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f">{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def fix8(data, at, end=None):
    """Set byte `at` so that data[:end] sums to 0 mod 256 (ACPI checksums)."""
    data = bytearray(data)
    data[at] = 0
    data[at] = -sum(data[:end]) & 0xFF
    return bytes(data)


# ---------------------------------------------------------------- ACPI

MEM_BASE = 0x7FFE0000  # fuzz_acpi.c: the image sits at this physical address


def sdt(sig, rev, body):
    """A System Description Table (ACPI 6.5 §5.2.6) with its checksum."""
    hdr = struct.pack("<4sIBB6s8sI4sI", sig, 36 + len(body), rev, 0, b"BOCHS ",
                      b"BXPC    ", 1, b"BXPC", 1)
    return fix8(hdr + body, 9)


def madt(x2apic=False, override=False, cpus=2):
    body = struct.pack("<II", 0xFEE00000, 1)
    for i in range(cpus):
        if x2apic:
            body += struct.pack("<BBHIII", 9, 16, 0, 0x100 + i, 1, i)
        else:
            body += struct.pack("<BBBBI", 0, 8, i, i, 1)
    body += struct.pack("<BBBBII", 1, 12, 0, 0, 0xFEC00000, 0)
    body += struct.pack("<BBBBIH", 2, 10, 0, 0, 2, 0)
    body += struct.pack("<BBBBIH", 2, 10, 0, 9, 9, 0xD)
    body += struct.pack("<BBBHB", 4, 6, 0xFF, 0, 1)
    if override:
        body += struct.pack("<BBHQ", 5, 12, 0, 0xFEE00000)
    return sdt(b"APIC", 1, body)


def mcfg(n=1):
    body = bytes(8)
    for i in range(n):
        body += struct.pack("<QHBBI", 0xB0000000 + i * 0x10000000, i, 0, 255, 0)
    return sdt(b"MCFG", 1, body)


def fadt(dsdt_pa, facs_pa, length=244):
    f = bytearray(length - 36)

    def put(off, fmt, v):
        struct.pack_into(fmt, f, off - 36, v)

    put(36, "<I", facs_pa)
    put(40, "<I", dsdt_pa)
    put(46, "<H", 9)
    put(48, "<I", 0xB2)
    put(56, "<I", 0x600)
    put(64, "<I", 0x604)
    put(76, "<I", 0x608)
    put(108, "<B", 0x32)
    put(112, "<I", 0x84A5)
    if length >= 148:
        put(140, "<Q", dsdt_pa)
    if length >= 184:
        struct.pack_into("<BBBBQ", f, 172 - 36, 1, 16, 0, 2, 0x604)
    return sdt(b"FACP", 3 if length >= 244 else 1, bytes(f))


S5_PACKAGES = [
    bytes([0x08, 0x04, 0x0A, 0x05, 0x0A, 0x06, 0x00, 0x00]),  # Package(4){5, 6, 0, 0}
    bytes([0x04, 0x02, 0x00, 0x01]),                        # Package(2){Zero, One}
    bytes([0x4B, 0x00, 0x02, 0x0B, 0x05, 0x00, 0x0C, 0x06, 0, 0, 0]),  # 2-byte PkgLength
]


def dsdt(pkg):
    aml = bytes([0x10, 0x12]) + b"_SB_" + bytes([0x5B, 0x82, 0x0C]) + b"PCI0"
    aml += bytes([0x08]) + b"_S5_" + bytes([0x12]) + pkg
    return sdt(b"DSDT", 1, aml)


def dmar_scope(typ, bus, path, enum_id=0):
    hops = b"".join(bytes([d, f]) for d, f in path)
    return bytes([typ, 6 + len(hops), 0, 0, enum_id, bus]) + hops


def dmar_struct(typ, body):
    return struct.pack("<HH", typ, 4 + len(body)) + body


def dmar_body(rmrr=False, units=1):
    """QEMU's DMAR (VT-d 4.1 ch. 8): 39-bit DMA, one DRHD for every device
    with the IOAPIC in its scope, an ATSR; optionally more units and an RMRR."""
    body = bytes([38, 1]) + bytes(10)
    for i in range(units - 1):
        body += dmar_struct(0, struct.pack("<BBHQ", 0, 0, 0, 0xFED91000 + 0x1000 * i)
                            + dmar_scope(1, 0, [(2 + i, 0)]) + dmar_scope(2, 0, [(0x1C, 0), (0, 1)]))
    body += dmar_struct(0, struct.pack("<BBHQ", 1, 0, 0, 0xFED90000)
                        + dmar_scope(3, 0xFF, [(0, 0)]))
    if rmrr:
        body += dmar_struct(1, struct.pack("<HHQQ", 0, 0, 0x7F000000, 0x7F0FFFFF)
                            + dmar_scope(1, 0, [(0x1D, 0)]))
    body += dmar_struct(2, struct.pack("<BBH", 1, 0, 0))
    return body


def acpi_image(rev=2, x2apic=False, override=False, fadt_len=244, s5=0, nmcfg=1, wide=None,
               dmar=False):
    """RSDP at offset 0, then RSDT, XSDT, FACP, APIC, MCFG, DSDT, FACS (and DMAR)."""
    off = {"rsdt": 0x30, "xsdt": 0x60, "facp": 0xA0, "apic": 0x1A0, "mcfg": 0x240,
           "dsdt": 0x290, "facs": 0x300, "dmar": 0x340}
    if dmar:  # root tables with a fourth entry do not fit their usual places
        off.update(rsdt=0x3C0, xsdt=0x400)
    pa = {k: MEM_BASE + v for k, v in off.items()}
    img = bytearray(0x450 if dmar else 0x340)
    tables = [pa["facp"], pa["apic"], pa["mcfg"]] + ([pa["dmar"]] if dmar else [])
    parts = {
        "rsdt": sdt(b"RSDT", 1, b"".join(struct.pack("<I", t) for t in tables)),
        "xsdt": sdt(b"XSDT", 1, b"".join(struct.pack("<Q", t) for t in tables)),
        "facp": fadt(pa["dsdt"], pa["facs"], fadt_len),
        "apic": madt(x2apic, override),
        "mcfg": mcfg(nmcfg),
        "dsdt": dsdt(S5_PACKAGES[s5]),
        "facs": b"FACS" + struct.pack("<I", 64) + bytes(56),
    }
    if dmar:
        parts["dmar"] = sdt(b"DMAR", 1, dmar_body())
    for k, v in parts.items():
        img[off[k]:off[k] + len(v)] = v
    rsdp = struct.pack("<8sB6sBIIQB3s", b"RSD PTR ", 0, b"BOCHS ", rev, pa["rsdt"], 36,
                       pa["xsdt"] if rev >= 2 else 0, 0, bytes(3))
    rsdp = fix8(rsdp, 8, 20)
    if rev >= 2:
        rsdp = fix8(rsdp, 32)
    img[0:36] = rsdp
    return bytes(img)


F_FIX_SUMS, F_RSDP_COPY, F_RSDP_V1 = 1, 2, 4


def acpi_seeds():
    return {
        "q35-xsdt": bytes([F_FIX_SUMS]) + acpi_image(),
        "q35-xsdt-copy": bytes([F_FIX_SUMS | F_RSDP_COPY]) + acpi_image(),
        "rsdt-v1-copy": bytes([F_FIX_SUMS | F_RSDP_COPY | F_RSDP_V1]) + acpi_image(rev=0),
        "x2apic-override": bytes([F_FIX_SUMS]) + acpi_image(x2apic=True, override=True),
        "fadt-v1-short": bytes([F_FIX_SUMS]) + acpi_image(fadt_len=116, s5=1, nmcfg=2),
        "s5-long-pkglen": bytes([F_FIX_SUMS]) + acpi_image(s5=2),
        "raw-sums": bytes([0]) + acpi_image(),
        "q35-dmar": bytes([F_FIX_SUMS]) + acpi_image(dmar=True),
    }


def dmar_seeds():
    """Whole DMAR tables, header included, as fuzz_dmar.c takes them."""
    return {
        "qemu": sdt(b"DMAR", 1, dmar_body()),
        "units-rmrr": sdt(b"DMAR", 1, dmar_body(rmrr=True, units=3)),
    }


# ---------------------------------------------------------------- Multiboot2

def mb2_tag(t, payload):
    body = struct.pack("<II", t, 8 + len(payload)) + payload
    return body + bytes(-len(body) % 8)


def mbi(tags):
    body = b"".join(tags) + mb2_tag(0, b"")
    return struct.pack("<II", 8 + len(body), 0) + body


def multiboot2_seeds():
    rsdp_v0 = fix8(struct.pack("<8sB6sBI", b"RSD PTR ", 0, b"BOCHS ", 0, 0x7FFE1700), 8)
    rsdp_v2 = struct.pack("<8sB6sBIIQB3s", b"RSD PTR ", 0, b"BOCHS ", 2, 0x7FFE1700, 36,
                          0x7FFE1800, 0, bytes(3))
    rsdp_v2 = fix8(fix8(rsdp_v2, 8, 20), 32)
    mmap = struct.pack("<II", 24, 0) + b"".join(struct.pack("<QQII", b, l, t, 0) for b, l, t in [
        (0, 0x9FC00, 1), (0x9FC00, 0x400, 2), (0xF0000, 0x10000, 2),
        (0x100000, 0xFEE0000, 1), (0xFFE0000, 0x20000, 2), (0xFFFC0000, 0x40000, 2)])
    grub = [
        mb2_tag(1, b"debugexit test=all\0"),
        mb2_tag(2, b"GRUB 2.06\0"),
        mb2_tag(3, struct.pack("<II", 0x200000, 0x210000) + b"cpu=1 mem=64M echod --port 7\0"),
        mb2_tag(3, struct.pack("<II", 0x210000, 0x211000) + b"hello\0"),
        mb2_tag(10, bytes(20)),
        mb2_tag(4, struct.pack("<II", 639, 261120)),
        mb2_tag(5, struct.pack("<III", 0xE0, 0xFFFFFFFF, 0xFFFFFFFF)),
        mb2_tag(6, mmap),
        mb2_tag(9, struct.pack("<HHH", 0, 64, 0) + bytes(2)),
        mb2_tag(14, rsdp_v0),
        mb2_tag(15, rsdp_v2),
        mb2_tag(21, struct.pack("<I", 0x200000)),
    ]
    many = [mb2_tag(3, struct.pack("<II", 0x200000 + i, 0x200001 + i) + b"m%d\0" % i)
            for i in range(34)]
    return {
        "grub": mbi(grub),
        "minimal": mbi([]),
        "pvh-like": mbi([grub[0], grub[2], grub[7], grub[10]]),
        "acpi-old-only": mbi([grub[5], grub[7], grub[9]]),
        "many-modules": mbi(many),
        "repeated-tags": mbi([grub[0], grub[0], grub[7], grub[7], grub[10], grub[9]]),
    }


# ---------------------------------------------------------------- command lines

def manifest_seeds():
    lines = ["cpu=1 mem=64M net=eth0:0 echod --port 7", "hello", "mem=512K stack=64K hello a b",
             "net=eth0:0 net=eth0:1 net=eth1:255 stack=1M x", "colour=blue hello",
             "  cpu=0   mem=1G   spin  a   300000000 ", "mem=16g stack=4k net=e:3 p",
             "cpu=63 mem=18446744073709551615 x"]
    return {f"line{i}": l.encode() for i, l in enumerate(lines)}


def cmdline_seeds():
    pairs = [("test", "debugexit test=all nosmp"), ("nosmp", "nosmp"),
             ("test", "test= test=pages"), ("console", "console=ttyS0,115200 quiet")]
    return {f"{k}-{i}": bytes([len(k)]) + k.encode() + l.encode()
            for i, (k, l) in enumerate(pairs)}


# ---------------------------------------------------------------- network (fuzz_net.c)

OUR_MAC = bytes.fromhex("525400123456")
PEER_MAC = bytes.fromhex("020000000064")
GW_MAC = bytes.fromhex("020000000002")
BCAST = b"\xff" * 6
OUR_IP, PEER_IP, GW_IP = 0x0A00020F, 0x0A000264, 0x0A000202
OP_FRAME, OP_POLL, OP_APP, OP_SEND, OP_TRANSMIT, OP_TIME, OP_WAIT, OP_PORT, OP_HELD = \
    0, 2, 3, 4, 5, 6, 7, 8, 9
FR_FIX_SUMS, FR_DATA_VALID, FR_NEEDS_CSUM = 1, 2, 4


def eth(dst, src, etype, payload):
    f = dst + src + struct.pack(">H", etype) + payload
    return f + bytes(max(0, 60 - len(f)))


def ipv4(src, dst, proto, payload, options=b"", frag=0x4000):
    ihl = 5 + len(options) // 4
    h = struct.pack(">BBHHHBBHII", 0x40 | ihl, 0, ihl * 4 + len(payload), 0x1234, frag, 64,
                    proto, 0, src, dst) + options
    h = h[:10] + struct.pack(">H", csum16(h)) + h[12:]
    return h + payload


def udp(src, dst, sport, dport, data):
    u = struct.pack(">HHHH", sport, dport, 8 + len(data), 0) + data
    pseudo = struct.pack(">IIBBH", src, dst, 0, 17, len(u))
    c = csum16(pseudo + u) or 0xFFFF
    return u[:6] + struct.pack(">H", c) + u[8:]


def icmp_echo(seq, data):
    m = struct.pack(">BBHHH", 8, 0, 0, 0x77, seq) + data
    return m[:2] + struct.pack(">H", csum16(m)) + m[4:]


def arp(op, sha, spa, tha, tpa, dst):
    p = struct.pack(">HHBBH6sI6sI", 1, 0x0800, 6, 4, op, sha, spa, tha, tpa)
    return eth(dst, sha, 0x0806, p)


def udp_frame(dport, data, src=PEER_IP, options=b"", dst=OUR_IP, dmac=OUR_MAC):
    return eth(dmac, PEER_MAC, 0x0800,
               ipv4(src, dst, 17, udp(src, dst, 40000, dport, data), options))


def frame_op(f, flags=FR_FIX_SUMS, cs=None):
    out = bytes([OP_FRAME, flags]) + struct.pack("<H", len(f))
    if cs is not None:
        out += struct.pack("<HH", *cs)
    return out + f


def net_seeds():
    ping = eth(OUR_MAC, PEER_MAC, 0x0800, ipv4(PEER_IP, OUR_IP, 1, icmp_echo(1, b"abcdefgh" * 4)))
    arp_req = arp(1, PEER_MAC, PEER_IP, bytes(6), OUR_IP, BCAST)
    arp_gw = arp(2, GW_MAC, GW_IP, OUR_MAC, OUR_IP, OUR_MAC)
    poll_tx = bytes([OP_POLL, OP_TRANSMIT, 64])
    echo_all = bytes([OP_APP, 3, 0, 3, 0])  # both endpoints: up to 4 datagrams, echo the first
    send = lambda ep, port, n: bytes([OP_SEND, 0, ep]) + struct.pack("<HH", port, n)
    return {
        "arp-request": b"\x00" + frame_op(arp_req) + poll_tx,
        "ping": b"\x00" + frame_op(ping) + poll_tx,
        "udp-echo": b"\x00" + frame_op(udp_frame(7, b"hello")) + bytes([OP_POLL]) + echo_all
        + poll_tx,
        "udp-reply": b"\x01" + frame_op(udp_frame(5555, b"x" * 100)) + bytes([OP_POLL, OP_APP, 0,
                                                                                 0, 1])
        + struct.pack("<H", 300) + poll_tx,
        "ip-options": b"\x02" + frame_op(udp_frame(7, b"opt", options=b"\x01\x01\x01\x00"))
        + bytes([OP_POLL]) + echo_all + poll_tx,
        "send-arp-send": b"\x00" + send(0, 9999, 32) + poll_tx + frame_op(arp_gw)
        + bytes([OP_POLL]) + send(0, 9999, 32) + poll_tx + bytes([OP_TIME]) + b"\xff" * 4
        + send(0, 9999, 32) + poll_tx,
        "partial-csum": b"\x21" + frame_op(udp_frame(7, b"partial"), FR_NEEDS_CSUM, (34, 6))
        + bytes([OP_POLL]) + echo_all + poll_tx,
        "data-valid": b"\x03" + frame_op(udp_frame(7, b"v" * 40), FR_DATA_VALID)
        + bytes([OP_WAIT, 0, 1]) + echo_all + poll_tx,
        "mixed": b"\x04" + frame_op(udp_frame(7, b"f", dst=0x0A0002FF, dmac=BCAST))
        + frame_op(eth(OUR_MAC, PEER_MAC, 0x86DD, bytes(40)))
        + frame_op(eth(OUR_MAC, PEER_MAC, 0x0800, ipv4(PEER_IP, OUR_IP, 17, bytes(16),
                                                           frag=0x2000)))
        + frame_op(udp_frame(9, b"no port")) + bytes([OP_PORT, 2]) + frame_op(udp_frame(9, b"9"))
        + bytes([OP_POLL, OP_APP, 0, 0, 0, 0, 3, 3, OP_HELD, 1, 0]) + poll_tx,
    }


# ---------------------------------------------------------------- virtio-net driver (fuzz_vnet.c)

(V_DEV_RX, V_DEV_TX, V_DEV_USED, V_DEV_IDX, V_DEV_FLAGS, V_SCRIBBLE, V_RX_BURST, V_TX_BURST,
 V_RECLAIM, V_REFILL, V_FREE, V_ALLOC, V_IRQ) = range(13)


def vnet_setup(rx_exp, tx_exp, nbufs, big_bufs, features, event_idx):
    return bytes([rx_exp, tx_exp]) + struct.pack("<H", nbufs - 2) + bytes(
        [big_bufs, features, event_idx])


def dev_rx(flags=0, cs=0, co=0, used_len=None, frame=b""):
    hdr = struct.pack("<BBHHHHH", flags, 0, 0, 0, cs, co, 1)
    n = 12 + len(frame) if used_len is None else used_len
    return bytes([V_DEV_RX]) + hdr + struct.pack("<HH", n, len(frame)) + frame


def vnet_seeds():
    frame = udp_frame(7, b"ping")[:60]
    tx_pkt = bytes([1, 1]) + struct.pack("<H", 46) + bytes([1]) + struct.pack("<HH", 0, 0)
    honest = (dev_rx(frame=frame) * 3 + bytes([V_RX_BURST, 8]) + bytes([V_TX_BURST, 3]) + tx_pkt * 3
              + bytes([V_DEV_TX]) + b"\0" * 4 + bytes([V_RECLAIM, V_REFILL, V_IRQ, 1])
              + dev_rx(frame=frame) + bytes([V_IRQ, 0, V_RX_BURST, 1, V_FREE, 0, 0, 0, 0, 0, 1]))
    hostile = (dev_rx(frame=frame, used_len=9000) + bytes([V_DEV_USED, 0, 0, 3, 0, 0, 0, 0])
               + bytes([V_DEV_USED, 1, 1]) + b"\xff" * 8 + bytes([V_DEV_IDX, 0, 0x40, 0])
               + bytes([V_DEV_FLAGS, 0, 1, 0, 5, 0]) + dev_rx(2 | 1, 40, 200, frame=frame)
               + bytes([V_RX_BURST, 64, V_SCRIBBLE, 0, 8, 0, 0xff]) + dev_rx(frame=frame)
               + bytes([V_RX_BURST, 64, V_ALLOC, V_TX_BURST, 2]))
    return {
        "honest-event-idx": vnet_setup(6, 6, 256, 1, 0, 1) + honest,
        "honest-small": vnet_setup(2, 1, 8, 0, 3, 0) + honest,
        "hostile": vnet_setup(3, 3, 24, 1, 3, 1) + hostile,
    }


# ---------------------------------------------------------------- kvd protocols (fuzz_kvd.c)

K_FEED, K_BULK, K_DRAIN, K_DRAIN_ALL, K_CLOCK, K_CLOSE, K_COPY = 0, 2, 3, 4, 5, 6, 7


def k_feed(data, conn=0):
    """data in reads of at most 4096 bytes (fuzz_kvd.c's FEED_MAX)."""
    return b"".join(bytes([conn << 3 | K_FEED]) + struct.pack("<H", len(data[i:i + 4096]))
                    + data[i:i + 4096] for i in range(0, max(len(data), 1), 4096))


def k_bulk(key, size, conn=0):
    return bytes([conn << 3 | K_BULK]) + struct.pack("<IB", size, key)


def k_all(conn=0):
    return bytes([conn << 3 | K_DRAIN_ALL])


def k_clock(ms):
    return bytes([K_CLOCK]) + struct.pack("<H", ms)


def k_split(data, conn=0, piece=7):
    """data fed in small pieces: commands split anywhere."""
    return b"".join(k_feed(data[i:i + piece], conn) for i in range(0, len(data), piece))


def bin_req(op, key=b"", extras=b"", value=b"", cas=0, opaque=0):
    """protocol_binary.txt "Request header": magic 0x80, then the fields."""
    body = extras + key + value
    return struct.pack(">BBHBBHIIQ", 0x80, op, len(key), len(extras), 0, 0, len(body),
                       opaque, cas) + body


def kvd_seeds():
    text = (b"set a 5 0 3\r\nabc\r\nget a b\r\ngets a\r\nappend a 0 0 2\r\nde\r\n"
            b"prepend a 0 0 1\r\nz\r\ncas a 0 0 1 1\r\nq\r\nadd a 0 0 1\r\nx\r\n"
            b"replace b 0 0 1\r\ny\r\nset n 0 0 2 noreply\r\n10\r\nincr n 5\r\n"
            b"decr n 100\r\ntouch a 10\r\ngat 100 a n\r\ngats 0 a\r\ndelete a\r\n"
            b"delete a noreply\r\nversion\r\nverbosity 1\r\nstats\r\nstats settings\r\n"
            b"stats items\r\nstats slabs\r\nflush_all 10\r\nflush_all\r\nbogus\r\nquit\r\n")
    meta = (b"ms m1 3 T10 F7 c\r\nabc\r\nmg m1 v c f t k s O123 q\r\nmg m2 v\r\n"
            b"ma m3 N0 J5 v\r\nma m3 MD D2 v\r\nmd m1 I T30\r\nmg m1 v c\r\n"
            b"ms m1 S2 I C1\r\nxy\r\nms bWtleQ== 2 b\r\nhi\r\nmn\r\nme m1\r\n"
            b"mg m1 h l u E99\r\nms m4 2 MA\r\nzz\r\nms m4 2 MP N30\r\naa\r\n")
    setx = struct.pack(">II", 0xdeadbeef, 0)
    binary = (bin_req(0x01, b"k", setx, b"value") + bin_req(0x00, b"k") + bin_req(0x0c, b"k")
              + bin_req(0x09, b"missing") + bin_req(0x0d, b"k") + bin_req(0x02, b"k", setx, b"v")
              + bin_req(0x03, b"k", setx, b"w") + bin_req(0x0e, b"k", b"", b"++")
              + bin_req(0x0f, b"k", b"", b"--")
              + bin_req(0x05, b"c", struct.pack(">QQI", 3, 10, 0))
              + bin_req(0x06, b"c", struct.pack(">QQI", 1, 0, 0))
              + bin_req(0x1c, b"k", struct.pack(">I", 10)) + bin_req(0x1d, b"k", struct.pack(">I", 0))
              + bin_req(0x11, b"q", setx, b"quiet") + bin_req(0x04, b"q") + bin_req(0x0a)
              + bin_req(0x0b) + bin_req(0x10) + bin_req(0x10, b"settings")
              + bin_req(0x08, b"", struct.pack(">I", 5)) + bin_req(0x01, b"k", setx, b"v", cas=99)
              + bin_req(0x07))
    evict = b"".join(k_bulk(i, 200000) for i in range(14)) + k_bulk(99, 1048000) \
        + k_bulk(98, 1100000)
    return {
        "text": b"\x00" + k_split(text, piece=5) + k_all(),
        "text-whole": b"\x01" + k_feed(text, 1) + bytes([1 << 3 | K_DRAIN, 3, 0x40, 0]) + k_all(1),
        "meta": b"\x00" + k_feed(meta) + k_all(),
        "binary": b"\x01" + k_feed(binary, 2) + k_all(2),
        "binary-split": b"\x00" + k_split(binary, 3, 11) + bytes([3 << 3 | K_COPY, 100]) + k_all(3),
        "two-workers": b"\x01" + k_feed(b"set x 0 0 1\r\n1\r\n", 0)
        + k_feed(b"get x\r\nmg x v\r\n", 1) + k_all(1) + k_all(0),
        "expiry": b"\x00" + k_feed(b"set t 0 2 1\r\nt\r\nflush_all 5\r\n") + k_clock(3000)
        + k_feed(b"get t\r\nmg t v\r\n") + k_clock(9000) + k_all(),
        "big-value": b"\x02" + k_bulk(1, 70000) + k_feed(b"get bulk1 bulk1 bulk1\r\nmg bulk1 v\r\n")
        + bytes([K_DRAIN, 2, 0xff, 0x7f]) + bytes([K_CLOSE]),
        "evict": b"\x04" + evict + k_feed(b"get bulk0 bulk13\r\nstats items\r\n") + k_all(),
    }


# ---------------------------------------------------------------- TCP (fuzz_tcp.c)

T_SEG, T_TX, T_APP, T_CALL, T_TIME, T_WAIT, T_ARP = 0, 2, 3, 4, 5, 6, 7
MSS = b"\x02\x04\x05\xb4"
SYN_OPTS = (MSS + b"\x04\x02\x01\x01" + b"\x01\x03\x03\x07"  # MSS, SACK-permitted, wscale
            + b"\x01\x01\x08\x0a\x00\x00\x00\x01\x00\x00\x00\x00")  # timestamps


def t_seg(peer, how, flags=0, opts=b"", plen=0, seq=b"\x00", ack=b"\x00", extra=b""):
    """how: bits 0-1 flag mode (0 ACK+PSH/FIN from flags, 1 SYN or ACK, 2 the
    five flags, 3 any), 0x10 window follows, 0x20 to the closed port, 0x40
    payload on SYN/RST, 0x80 a stranger's port; seq/ack: pick byte (0 exact,
    2 + int16 delta, 3 + uint32)."""
    assert len(opts) % 4 == 0
    return (bytes([T_SEG, peer, how, flags, len(opts) // 4]) + struct.pack("<H", plen) + opts
            + extra + seq + ack)


def t_tx(n=64):
    return bytes([T_TX, n])


def t_call(what, i=0, rest=b""):
    return bytes([T_CALL, what, i]) + rest


def tcp_seeds():
    hs = t_seg(0, 1, 0, SYN_OPTS) + t_tx() + t_seg(0, 0, 0)  # handshake
    talk = (hs + t_seg(0, 0, 0x08, plen=300) + bytes([T_APP, 0]) + t_call(0, 0, b"\xf4\x01")
            + t_tx() + t_seg(0, 0, 0x08, plen=1460) + t_seg(0, 0, 0x08, plen=1460)
            + bytes([T_APP, 1]) + t_tx() + t_seg(0, 0, 0x01) + bytes([T_APP, 2])
            + t_call(2) + t_tx() + t_seg(0, 0, 0) + bytes([T_TIME]) + struct.pack("<H", 2000))
    active = (t_call(0x86) + t_tx() + bytes([T_ARP]) + t_tx() + bytes([T_WAIT, 0xff, 0x0f])
              + t_tx() + bytes([T_TIME, 0xb0, 0x04, T_WAIT, 0, 1]) + t_tx()  # RTO: the SYN
              + t_seg(4, 2, 0x12, MSS) + bytes([T_APP, 0]) + t_tx() + t_call(0, 0, b"\x00\x10")
              + t_tx() + t_seg(4, 0, 0x09, plen=10) + bytes([T_APP, 0]) + t_call(1) + t_tx()
              + t_seg(4, 0, 0) + bytes([T_TIME, 0xff, 0x7f, T_WAIT, 0xff, 0xff]))
    hostile = (hs + t_seg(0, 2, 0x04, seq=b"\x02\x10\x00") + t_seg(0, 2, 0x02, seq=b"\x03abcd")
               + t_seg(0, 0, 0x08, b"\x05\x0a\x00\x00\x00\x10\x00\x00\x00\x20\x01\x01", 200,
                       seq=b"\x02\x00\x02") + t_seg(0, 0x0c, 0x08, plen=50)
               + t_seg(1, 0x80, 0x10, plen=10, extra=b"\x07") + t_seg(2, 0x21, 0x02)
               + t_seg(0, 3, 0xff, b"\x03\x03\x0e\x00\x02\x00\x00\x00") + t_seg(0, 0x10, 0x00,
                                                                                    extra=b"\x00\x00")
               + t_tx() + bytes([T_APP, 0, T_APP, 1]) + t_call(3) + t_tx())
    many = b"".join(t_seg(i, 1, 0, MSS) for i in range(4)) + t_tx() + b"".join(
        t_seg(i, 0, 0x08, plen=64) for i in range(4)) + bytes([T_APP, 0, T_APP, 1]) + t_tx() \
        + t_call(7) + t_seg(3, 1, 0, MSS) + t_tx() + t_call(7, 5)
    return {
        "talk": b"\x00" + talk,
        "talk-offload": b"\x03" + talk,
        "active-open": b"\x00" + active,
        "hostile": b"\x01" + hostile,
        "many-small": b"\xf4" + many,
    }


def main():
    sets = {"kvd": kvd_seeds(), "tcp": tcp_seeds(), "acpi": acpi_seeds(), "dmar": dmar_seeds(),
            "multiboot2": multiboot2_seeds(),
            "manifest": manifest_seeds(), "cmdline": cmdline_seeds(), "net": net_seeds(),
            "vnet": vnet_seeds()}
    for target, seeds in sets.items():
        d = os.path.join(HERE, "corpus", target)
        os.makedirs(d, exist_ok=True)
        for old in os.listdir(d):
            if old.startswith("seed-") and old[5:] not in seeds:
                os.remove(os.path.join(d, old))
        for name, data in seeds.items():
            with open(os.path.join(d, "seed-" + name), "wb") as f:
                f.write(data)
        print(f"{target}: {len(seeds)} seeds")


if __name__ == "__main__":
    main()
