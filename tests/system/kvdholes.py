#!/usr/bin/python3
"""Peers that leave holes, against kvd (run in the test's namespace with
Debian's /usr/bin/python3 and python3-scapy). Hand-played connections from a
spoofed address each send memcached commands out of order: every second
one, so that each segment waits above a hole of its own and none can be
merged with another. A server must keep what it cannot yet read within
bounds that leave room for data it can: afterwards a Linux client on a
fresh connection must be answered, and when the peers send their streams
again from the first hole, every command must be answered in order.

usage: kvdholes.py TAP GUEST_MAC GUEST_IP PORT PEERS SEGMENTS
Prints `ok NAME detail` or `FAIL NAME detail` per check, then `done`.
"""
import random
import socket
import sys
import time

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

TAP, GUEST_MAC, GUEST_IP = sys.argv[1:4]
PORT, PEERS, SEGMENTS = (int(a) for a in sys.argv[4:7])
SPOOF_IP, SPOOF_MAC = "10.98.0.77", "02:00:00:00:00:77"
CMD = b"version\r\n"
rng = random.Random(12)


def report(ok, name, detail=""):
    print(f"{'ok' if ok else 'FAIL'} {name} {detail}".strip(), flush=True)


class Wire:
    """Raw frames in and out of the tap. Linux ignores the guest's answers
    to the spoofed peers (they are not for its MAC), so it sends no RST."""

    def __init__(self):
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
        self.s.bind((TAP, 0))

    def send(self, pkt):
        self.s.send(bytes(pkt))

    def recv(self, match, timeout):
        """The next frame to the spoofed address for which match() holds, or None."""
        end = time.monotonic() + timeout
        want = socket.inet_aton(SPOOF_IP)
        while time.monotonic() < end:
            self.s.settimeout(max(0.01, end - time.monotonic()))
            try:
                data, addr = self.s.recvfrom(65536)
            except socket.timeout:
                return None
            if addr[2] == socket.PACKET_OUTGOING or data[12:14] != b"\x08\x00" or \
                    data[30:34] != want:
                continue
            f = Ether(data)
            if TCP in f and match(f):
                return f
        return None


wire = Wire()


def data_of(f):
    """A segment's data, without the Ethernet padding scapy counts as payload."""
    n = f[IP].len - f[IP].ihl * 4 - f[TCP].dataofs * 4
    return bytes(f[TCP].payload)[:max(n, 0)]


class Peer:
    """One connection played by hand: its stream is CMD, 2 * SEGMENTS times."""

    def __init__(self, sport):
        self.sport = sport

    def mine(self, f):
        return f[TCP].dport == self.sport

    def frame(self, flags, seq, payload=b""):
        f = Ether(src=SPOOF_MAC, dst=GUEST_MAC) / IP(src=SPOOF_IP, dst=GUEST_IP) / TCP(
            sport=self.sport, dport=PORT, flags=flags, seq=seq % (1 << 32), ack=self.ack,
            window=65535)
        return f / payload if payload else f

    def connect(self):
        self.isn = rng.randrange(1 << 32)
        self.ack = 0
        wire.send(Ether(src=SPOOF_MAC, dst=GUEST_MAC) / IP(src=SPOOF_IP, dst=GUEST_IP) /
                  TCP(sport=self.sport, dport=PORT, flags="S", seq=self.isn, window=65535,
                      options=[("MSS", 1460)]))
        f = wire.recv(lambda f: self.mine(f) and f[TCP].flags == "SA", 5)
        if not f:
            return False
        self.ack = (f[TCP].seq + 1) % (1 << 32)
        wire.send(self.frame("A", self.isn + 1))
        return True

    def unit(self, i):
        """Command i of the stream, as a segment."""
        return self.frame("PA", self.isn + 1 + i * len(CMD), CMD)

    def collect(self, lines, timeout):
        """The guest's data to us, in order and acknowledged, until that many lines."""
        got = b""
        end = time.monotonic() + timeout
        while got.count(b"\r\n") < lines and time.monotonic() < end:
            f = wire.recv(lambda f: self.mine(f) and len(data_of(f)) > 0,
                          end - time.monotonic())
            if not f:
                break
            if f[TCP].seq == self.ack:
                got += data_of(f)
                self.ack = (self.ack + len(data_of(f))) % (1 << 32)
            wire.send(self.frame("A", self.isn + 1 + 2 * SEGMENTS * len(CMD)))
        return got

    def reset(self):
        wire.send(self.frame("R", self.isn + 1 + 2 * SEGMENTS * len(CMD)))


def linux_client(timeout):
    """A fresh connection from Linux's own TCP: the reply to one command, or why not."""
    try:
        s = socket.create_connection((GUEST_IP, PORT), timeout=timeout)
        s.settimeout(timeout)
        s.sendall(CMD)
        got = b""
        while not got.endswith(b"\r\n"):
            b = s.recv(4096)
            if not b:
                break
            got += b
        s.close()
        return got
    except OSError as e:
        return f"{type(e).__name__}: {e}".encode()


def main():
    peers = [Peer(42000 + i) for i in range(PEERS)]
    up = [p for p in peers if p.connect()]
    report(len(up) == PEERS, "handshakes", f"{len(up)} of {PEERS}")
    # The odd commands only: each one a segment above a hole of its own.
    for i in range(1, 2 * SEGMENTS, 2):
        for p in up:
            wire.send(p.unit(i))
    time.sleep(1)

    got = linux_client(5)
    report(got.startswith(b"VERSION "), "fresh_client_served", repr(got[:40]))

    # Each peer in turn sends its stream again from the first hole, as a
    # sender does after a timeout (what the guest could not hold it has
    # not acknowledged): every command answered, in order.
    for p in up:
        for i in range(2 * SEGMENTS):
            wire.send(p.unit(i))
        reply = p.collect(2 * SEGMENTS, 10)
        n = reply.count(b"VERSION ")
        report(n == 2 * SEGMENTS, f"peer_{p.sport}_served", f"{n} of {2 * SEGMENTS} replies")
        p.reset()
    print("done", flush=True)


if __name__ == "__main__":
    main()
