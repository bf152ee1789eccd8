#!/usr/bin/python3
"""Hostile TCP against the user-space stack (run in the test's namespace with
Debian's /usr/bin/python3 and python3-scapy): while a Linux client keeps an
established connection busy with round trips, frames crafted with scapy go
out of the tap: a SYN flood from spoofed addresses, blind RSTs and SYNs in
and out of the client's window, out-of-order and overlapping segments,
a zero window, bad options and bad checksums.

usage: tcphostile.py TAP STACK_MAC STACK_IP HOST_IP PORT
Prints `ok NAME detail` or `FAIL NAME detail` per check, then `done`.
"""
import random
import socket
import struct
import sys
import threading
import time

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

TAP, STACK_MAC, STACK_IP, HOST_IP, PORT = sys.argv[1:6]
PORT = int(PORT)
CLIENT_PORT = 45000
SPOOF_IP, SPOOF_MAC = "10.98.0.77", "02:00:00:00:00:77"
rng = random.Random(2026)
results = []


def report(ok, name, detail=""):
    line = f"{'ok' if ok else 'FAIL'} {name} {detail}".strip()
    results.append(line)
    print(line, flush=True)


class Wire:
    """Raw frames in and out of the tap: what goes out reaches the stack."""

    def __init__(self):
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        self.s.bind((TAP, 0))
        self.mac = self.s.getsockname()[4]

    def send(self, pkt):
        self.s.send(bytes(pkt) if not isinstance(pkt, bytes) else pkt)

    def drain(self):
        """Forget what came so far (the flood's answers pile up here)."""
        self.s.setblocking(False)
        try:
            while True:
                self.s.recv(65536)
        except BlockingIOError:
            pass
        self.s.setblocking(True)

    def recv(self, match, timeout=2.0, dst=None):
        """The next frame (as scapy sees it) for which match() is true, or None;
        dst (an IP address) filters cheaply before scapy parses."""
        end = time.monotonic() + timeout
        want = socket.inet_aton(dst) if dst else None
        while time.monotonic() < end:
            self.s.settimeout(max(0.01, end - time.monotonic()))
            try:
                data, addr = self.s.recvfrom(65536)
            except socket.timeout:
                return None
            if addr[2] == socket.PACKET_OUTGOING or data[12:14] != b"\x08\x00":
                continue
            if want and data[30:34] != want:
                continue
            f = Ether(data)
            if IP in f and TCP in f and match(f):
                return f
        return None


wire = Wire()


def data_of(f):
    """A segment's data, without the Ethernet padding scapy counts as payload."""
    n = f[IP].len - f[IP].ihl * 4 - f[TCP].dataofs * 4
    return bytes(f[TCP].payload)[:max(n, 0)]


def to_stack(src_ip, src_mac, sport, **tcp):
    return Ether(src=src_mac, dst=STACK_MAC) / IP(src=src_ip, dst=STACK_IP) / TCP(
        sport=sport, dport=PORT, **tcp)


def csum(data):
    if len(data) % 2:
        data += b"\0"
    v = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while v >> 16:
        v = (v & 0xffff) + (v >> 16)
    return ~v & 0xffff


def syn_with_options(sport, opts):
    """A SYN whose 4 option bytes are given raw (scapy would tidy them up)."""
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 20 + len(opts), 1, 0x4000, 64,
                               6, 0, socket.inet_aton(SPOOF_IP), socket.inet_aton(STACK_IP)))
    ip[10:12] = struct.pack("!H", csum(bytes(ip)))
    th = bytearray(struct.pack("!HHIIBBHHH", sport, PORT, 12345, 0, (20 + len(opts)) // 4 << 4,
                               0x02, 65535, 0, 0)) + opts
    pseudo = ip[12:20] + struct.pack("!BBH", 0, 6, len(th))
    th[16:18] = struct.pack("!H", csum(bytes(pseudo + th)))
    eth = bytes.fromhex(STACK_MAC.replace(":", "")) + bytes.fromhex(SPOOF_MAC.replace(":", "")) \
        + b"\x08\x00"
    return eth + bytes(ip) + bytes(th)


class RawPeer:
    """A TCP peer played by hand at a spoofed address (Linux drops what the
    stack answers it, so nothing interferes)."""

    def __init__(self, sport, window=65535, options=None):
        self.sport, self.window = sport, window
        self.options = options if options is not None else [("MSS", 1460)]

    def mine(self, f):
        return f[IP].dst == SPOOF_IP and f[TCP].dport == self.sport

    def send(self, flags, seq=None, payload=b"", **kw):
        pkt = to_stack(SPOOF_IP, SPOOF_MAC, self.sport, flags=flags,
                       seq=self.seq if seq is None else seq, ack=self.ack,
                       window=kw.pop("window", self.window), **kw)
        wire.send(pkt / payload if payload else pkt)

    def connect(self):
        self.seq = rng.randrange(1 << 32)
        self.ack = 0
        wire.drain()
        wire.send(to_stack(SPOOF_IP, SPOOF_MAC, self.sport, flags="S", seq=self.seq,
                           window=self.window, options=self.options))
        f = wire.recv(lambda f: self.mine(f) and f[TCP].flags == "SA", dst=SPOOF_IP)
        if not f:
            return False
        self.seq = (self.seq + 1) % (1 << 32)
        self.ack = (f[TCP].seq + 1) % (1 << 32)
        self.send("A")
        return True

    def reset(self):
        """The end: a RST at exactly the next sequence number, as a real peer sends."""
        self.send("R")

    def collect(self, want, timeout=5.0):
        """Read the stack's data to us (acknowledging it) until want bytes in order."""
        got = b""
        end = time.monotonic() + timeout
        while len(got) < want and time.monotonic() < end:
            f = wire.recv(lambda f: self.mine(f) and len(data_of(f)) > 0,
                          timeout=end - time.monotonic(), dst=SPOOF_IP)
            if not f:
                break
            if f[TCP].seq == self.ack:
                data = data_of(f)
                got += data
                self.ack = (self.ack + len(data)) % (1 << 32)
            self.send("A")
        return got


def busy_client(stop, stats):
    """An established Linux client doing round trips the whole time."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST_IP, CLIENT_PORT))
    s.connect((STACK_IP, PORT))
    s.settimeout(10)
    stats["connected"] = True
    try:
        while not stop.is_set():
            msg = b"round trip %d " % stats["ok"] * 8
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                b = s.recv(4096)
                if not b:
                    raise ConnectionError("EOF")
                got += b
            if got != msg:
                raise ValueError("echo differs")
            stats["ok"] += 1
            time.sleep(0.005)
    except Exception as e:  # the failure is what the test reports
        stats["error"] = f"{type(e).__name__}: {e}"
    s.close()


def client_seq():
    """The client's next sequence number and the stack's, from a frame on the wire."""
    wire.drain()
    f = wire.recv(lambda f: f[IP].src == STACK_IP and f[TCP].dport == CLIENT_PORT, timeout=3,
                  dst=HOST_IP)
    if not f:
        return None, None
    return f[TCP].ack, f[TCP].seq  # the stack's rcv_nxt (roughly), its snd_nxt


def main():
    stop = threading.Event()
    stats = {"ok": 0, "connected": False}
    t = threading.Thread(target=busy_client, args=(stop, stats), daemon=True)
    t.start()
    while not stats["connected"] and t.is_alive():
        time.sleep(0.05)

    # SYN flood from spoofed addresses and ports.
    for i in range(3000):
        src = f"10.98.0.{rng.randrange(100, 250)}"
        mac = "02:00:00:00:01:%02x" % (i % 256)
        wire.send(to_stack(src, mac, rng.randrange(1024, 65535), flags="S",
                           seq=rng.randrange(1 << 32), options=[("MSS", 1460)]))
    report(stats["ok"] > 0 and "error" not in stats, "syn_flood", f"round trips {stats['ok']}")

    # Blind RSTs and SYNs on the client's connection, in and out of its window.
    rcv_nxt, _ = client_seq()
    if rcv_nxt is None:
        report(False, "blind", "no frame of the client's connection seen")
    else:
        client = (HOST_IP, wire.mac)
        far = (rcv_nxt + 3_000_000_000) % (1 << 32)
        near = (rcv_nxt + 1000) % (1 << 32)
        for seq, name in ((far, "rst_out_of_window"), (near, "rst_in_window")):
            for _ in range(5):
                wire.send(to_stack(*client, CLIENT_PORT, flags="R", seq=seq))
            report("error" not in stats, name)
        for seq, name in ((far, "syn_out_of_window"), (near, "syn_in_window")):
            for _ in range(5):
                wire.send(to_stack(*client, CLIENT_PORT, flags="S", seq=seq))
            report("error" not in stats, name)

    # Out-of-order and overlapping segments from a peer played by hand.
    p = RawPeer(41000)
    if not p.connect():
        report(False, "handshake", "no SYN-ACK")
    else:
        base = p.seq
        p.send("PA", seq=(base + 10) % (1 << 32), payload=b"3333333333")
        p.send("PA", seq=(base + 5) % (1 << 32), payload=b"AAAAAAAAAA")  # overlaps both
        p.send("PA", seq=base, payload=b"11111")
        got = p.collect(20)
        report(got == b"11111AAAAA3333333333", "out_of_order_overlap", repr(got))
        p.seq = (base + 20) % (1 << 32)
        # A bad checksum: dropped, and its bytes never echoed.
        wire.send(to_stack(SPOOF_IP, SPOOF_MAC, p.sport, flags="PA", seq=p.seq, ack=p.ack,
                           chksum=0x1234) / b"bad checksum")
        p.send("PA", payload=b"good")
        got = p.collect(4)
        report(got == b"good", "bad_checksum_dropped", repr(got))
        p.seq = (p.seq + 4) % (1 << 32)

    # A zero window: the echo waits, the stack probes, the window opens.
    z = RawPeer(41001, window=0)
    if z.connect():
        z.send("PA", payload=b"zero window")
        z.seq = (z.seq + 11) % (1 << 32)
        probe = wire.recv(lambda f: z.mine(f) and not data_of(f) and
                          f[TCP].seq == (z.ack - 1) % (1 << 32), timeout=3, dst=SPOOF_IP)
        z.window = 65535
        z.send("A")
        got = z.collect(11)
        report(probe is not None and got == b"zero window", "zero_window",
               f"probe {'seen' if probe else 'missing'}, echo {got!r}")
    else:
        report(False, "zero_window", "no SYN-ACK")

    # Bad options in SYNs: zero length, truncated; a huge window scale is clamped.
    for opts, name in ((b"\x02\x00\x00\x00", "option_zero_length"),
                       (b"\x01\x01\x02\x04", "option_truncated")):
        wire.drain()
        wire.send(syn_with_options(41002, opts))
        ans = wire.recv(lambda f: f[TCP].dport == 41002, timeout=1, dst=SPOOF_IP)
        report(ans is None, name, "answered" if ans else "dropped")
    w = RawPeer(41003, options=[("MSS", 1460), ("WScale", 200), ("Timestamp", (1, 0))])
    report(w.connect(), "wscale_200", "handshake")

    for peer in (p, z, w):
        peer.reset()
    time.sleep(0.5)
    stop.set()
    t.join(15)
    report("error" not in stats and stats["ok"] > 10, "client_served",
           f"{stats['ok']} round trips {stats.get('error', '')}")
    print("done", flush=True)


if __name__ == "__main__":
    main()
