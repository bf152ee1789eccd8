#!/usr/bin/env python3
"""The server's share of request latency, seen at a tap: request in to reply out.

    tap-latency.py IFACE SECONDS [PORT]      (inside the tap's namespace; root)

Every TCP segment with data to the server's PORT (11211) is a request,
every one from it a reply; times are the kernel's (SO_TIMESTAMPNS), so this
script's own speed does not enter them. On each connection a reply answers
the requests whose bytes its ACK covers (requests pipelined behind an
unanswered one are matched to the earlier reply: fine at low rates, where
this is meant to be used). Prints one line: the count and percentiles in
µs. Used by bench/kv-tail.py --tap."""
import socket
import struct
import sys
import time

iface, secs = sys.argv[1], float(sys.argv[2])
port = int(sys.argv[3]) if len(sys.argv) > 3 else 11211
ETH_P_ALL = 3
SO_TIMESTAMPNS = 35
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind((iface, 0))
s.settimeout(0.2)
pending = {}  # client port -> list of (seq_end, t)
lat = []
end = time.monotonic() + secs
while time.monotonic() < end:
    try:
        data, anc, _, _ = s.recvmsg(256, 64)
    except socket.timeout:
        continue
    t = None
    for lvl, typ, d in anc:
        if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS:
            sec, ns = struct.unpack("qq", d[:16])
            t = sec * 1e9 + ns
    if t is None or len(data) < 54 or data[12:14] != b"\x08\x00" or data[23] != 6:
        continue
    ihl = (data[14] & 15) * 4
    tl = struct.unpack("!H", data[16:18])[0]
    th = 14 + ihl
    sport, dport, seq, ack = struct.unpack("!HHII", data[th:th + 12])
    doff = (data[th + 12] >> 4) * 4
    plen = tl - ihl - doff
    if plen <= 0:
        continue
    if dport == port:  # a request
        pending.setdefault(sport, []).append(((seq + plen) & 0xffffffff, t))
    elif sport == port:  # a reply: answers the requests its ACK covers
        q = pending.get(dport, [])
        while q and ((ack - q[0][0]) & 0xffffffff) < (1 << 31):
            lat.append((t - q[0][1]) / 1000)
            q.pop(0)
lat.sort()
if lat:
    pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
    print(f"tap: n {len(lat)} p50 {pct(.5):.0f} p90 {pct(.9):.0f} p99 {pct(.99):.0f} "
          f"p999 {pct(.999):.0f} max {lat[-1]:.0f}")
else:
    print("tap: nothing")
