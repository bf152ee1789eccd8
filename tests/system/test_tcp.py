"""TCP in the guest, driven from outside: tcpecho (usr/tests/tcpecho) on
netif's TCP answers nc, socat and Python's sockets through QEMU's user
networking (host port -> guest port 7), many connections at once, opens a
connection out to the host, and its counters return to zero when every
connection is gone."""
import hashlib
import os
import random
import re
import socket
import subprocess
import threading
import time

from harness import ROOT, Guest, iso

TCPECHO = os.path.join(ROOT, "usr/tests/tcpecho/build/tcpecho.elf")
READY = r"tcpecho ready"
IDLE = (r"tcpecho: stats conns 0 established 0 time_wait 0 rx_held 0 snd_bytes 0 "
        r"snd_chunks 0 sessions 0 echoed (\d+)")


def _image(args=""):
    return iso("", [(TCPECHO, f"net=eth0:0 tcpecho --stats 1 {args}".strip())])


def wait_idle(g, min_echoed, timeout=30):
    """Wait until tcpecho's latest stats line shows no connection, nothing held, and at
    least min_echoed bytes echoed; returns that line's numbers."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        lines = re.findall(r"tcpecho: stats conns .*", g.log())
        if lines:
            last = lines[-1]
            m = re.fullmatch(IDLE, last)
            if m and int(m.group(1)) >= min_echoed:
                return m
        time.sleep(0.2)
    raise AssertionError(f"not idle within {timeout}s: {last}")


def _echo(port, data, chunk=65536, timeout=30):
    """Send data on a new connection while reading its echo; half-close, read to EOF."""
    got = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        def reader():
            while True:
                b = s.recv(1 << 16)
                if not b:
                    return
                got.extend(b)
        t = threading.Thread(target=reader)
        t.start()
        for i in range(0, len(data), chunk):
            s.sendall(data[i:i + chunk])
        s.shutdown(socket.SHUT_WR)
        t.join(timeout)
    return bytes(got)


def test_tcp_echo_nc_socat_python():
    with Guest(_image(), "tcp-echo") as g:
        g.wait_for(READY)
        out = subprocess.run(["nc", "-N", "127.0.0.1", str(g.port)], input=b"hello over tcp\n",
                             capture_output=True, timeout=20)
        assert out.stdout == b"hello over tcp\n", f"nc got {out.stdout!r} {out.stderr!r}"
        blob = random.Random(1).randbytes(300000)
        out = subprocess.run(["socat", "-t", "5", "-", f"TCP:127.0.0.1:{g.port}"], input=blob,
                             capture_output=True, timeout=60)
        assert out.stdout == blob, f"socat: {len(out.stdout)} of {len(blob)} bytes came back"
        for size in (0, 1, 1459, 1460, 1461, 65535, 65536, 2 * 1024 * 1024):
            data = random.Random(size).randbytes(size)
            got = _echo(g.port, data)
            assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest(), \
                f"{size} bytes: {len(got)} came back, not equal"
        wait_idle(g, 2 * 1024 * 1024 + 300000)


def test_tcp_many_connections():
    # Forty connections at once, each echoing 64 KiB in odd-sized writes.
    # They start 20 ms apart: slirp's host-side listener has a backlog of
    # one, and Linux resets what overflows it before the guest sees a SYN.
    with Guest(_image(), "tcp-many") as g:
        g.wait_for(READY)
        results = {}

        def one(i):
            data = random.Random(i).randbytes(65536)
            try:
                results[i] = _echo(g.port, data, chunk=1000 + i * 37) == data
            except OSError as e:
                results[i] = e
        threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
        for t in threads:
            t.start()
            time.sleep(0.02)
        for t in threads:
            t.join(120)
        bad = {i: r for i, r in results.items() if r is not True}
        if bad or len(results) != 40:
            time.sleep(1.5)  # the guest's counters, for the report
            stats = "\n".join(re.findall(r"tcpecho: stats .*", g.log())[-3:])
            raise AssertionError(f"connections that failed: {bad}\n{stats}")
        wait_idle(g, 40 * 65536)
        log = g.log()
        last = re.findall(r"tcpecho: stats tcp passive (\d+) active \d+ accepted (\d+)", log)[-1]
        assert int(last[1]) >= 40, f"accepted {last}"


def test_tcp_active_open_to_host():
    # The guest connects out (its SYN waits for ARP of the gateway first):
    # through slirp to a Python echo server on the host's loopback, 200 KB
    # each way, half-closed, then closed by the server.
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(60)
    port = srv.getsockname()[1]
    echoed = []

    def serve():
        c, _ = srv.accept()
        c.settimeout(60)
        n = 0
        while True:
            b = c.recv(65536)
            if not b:
                break
            c.sendall(b)
            n += len(b)
        c.close()
        echoed.append(n)
    t = threading.Thread(target=serve)
    t.start()
    try:
        with Guest(_image(f"--time-wait-ms 500 --connect 10.0.2.2:{port} --bytes 200000"), "tcp-active") as g:
            m = g.wait_for(r"tcpecho: client sent (\d+) got (\d+) mismatches (\d+)")
            assert m.groups() == ("200000", "200000", "0"), m.group(0)
            t.join(30)
            assert echoed == [200000], echoed
            wait_idle(g, 0)
    finally:
        srv.close()
