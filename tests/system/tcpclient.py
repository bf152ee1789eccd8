#!/usr/bin/env python3
"""Linux's own TCP, as the peer of the user-space stack in the TCP system
tests (run inside the test's network namespace). Each command prints one
line `ok ...` or `FAIL ...`.

  echo HOST PORT BYTES SEED      send BYTES pseudo-random bytes, half-close, read the
                                 echo to EOF; compare SHA-256
  many HOST PORT CONNS BYTES     CONNS connections at once, each echoing BYTES
  closefirst HOST PORT           the server closes first: read the echo, then EOF
  reset HOST PORT                the server resets at the first data: ECONNRESET
  linger HOST PORT               we reset (SO_LINGER 0) with the echo unread
  serve PORT COUNT               an echo server for COUNT connections (the stack's
                                 active opens), each closed after the peer's EOF
"""
import hashlib
import random
import selectors
import socket
import struct
import sys
import threading
import time


def data_of(n, seed):
    return random.Random(seed).randbytes(n)


def cmd_echo(host, port, nbytes, seed):
    data = data_of(int(nbytes), int(seed))
    got = bytearray()
    t0 = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=120) as s:
        def reader():
            while True:
                b = s.recv(1 << 16)
                if not b:
                    return
                got.extend(b)
        t = threading.Thread(target=reader)
        t.start()
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        t.join()
    secs = time.monotonic() - t0
    a, b = hashlib.sha256(data).hexdigest(), hashlib.sha256(bytes(got)).hexdigest()
    if a != b:
        return f"FAIL sent {len(data)} sha {a[:16]} got {len(got)} sha {b[:16]}"
    return f"ok {len(data)} bytes each way in {secs:.2f}s sha256 {a[:16]}"


def cmd_many(host, port, conns, nbytes):
    """CONNS connections, all open at once before any data flows."""
    conns, nbytes = int(conns), int(nbytes)
    sel = selectors.DefaultSelector()
    socks = []
    for i in range(conns):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex((host, int(port)))
        st = {"i": i, "data": data_of(nbytes, i), "sent": 0, "got": bytearray(),
              "connected": False, "done": False}
        socks.append((s, st))
        sel.register(s, selectors.EVENT_WRITE, st)
    end = time.monotonic() + 180
    open_now = 0
    peak = 0
    left = conns
    while left and time.monotonic() < end:
        for key, ev in sel.select(timeout=1):
            s, st = key.fileobj, key.data
            if not st["connected"]:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    return f"FAIL connection {st['i']}: connect error {err}"
                st["connected"] = True
                open_now += 1
                peak = max(peak, open_now)
            if ev & selectors.EVENT_WRITE and st["sent"] < nbytes:
                try:
                    st["sent"] += s.send(st["data"][st["sent"]:st["sent"] + 65536])
                except BlockingIOError:
                    pass
                if st["sent"] == nbytes:
                    s.shutdown(socket.SHUT_WR)
                    sel.modify(s, selectors.EVENT_READ, st)
            if ev & selectors.EVENT_READ:
                try:
                    b = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError as e:
                    return f"FAIL connection {st['i']}: {e}"
                if b:
                    st["got"].extend(b)
                else:
                    if bytes(st["got"]) != st["data"]:
                        return (f"FAIL connection {st['i']}: {len(st['got'])} of "
                                f"{nbytes} bytes came back, or not equal")
                    sel.unregister(s)
                    s.close()
                    open_now -= 1
                    left -= 1
    if left:
        return f"FAIL {left} of {conns} connections unfinished"
    return f"ok {conns} connections, {peak} open at once, {nbytes} bytes each"


def cmd_closefirst(host, port):
    """One segment's worth, echoed, then the server's FIN; we close after it."""
    data = b"the server closes first\n" * 40
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(data)
        got = bytearray()
        while True:
            b = s.recv(65536)
            if not b:
                break
            got.extend(b)
    if bytes(got) != data:
        return f"FAIL echo before the server's FIN: {len(got)} of {len(data)} bytes"
    return f"ok {len(got)} bytes then EOF"


def cmd_reset(host, port):
    """The server resets at our first data. A RST lost on the way is not resent:
    more data then meets the closed port, which resets again."""
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.settimeout(2)
        s.sendall(b"reset me")
        for _ in range(15):
            try:
                if not s.recv(100):
                    return "FAIL EOF instead of a reset"
            except ConnectionResetError:
                return "ok ECONNRESET"
            except socket.timeout:
                try:
                    s.sendall(b"again")
                except ConnectionResetError:
                    return "ok ECONNRESET"
        return "FAIL no reset"


def cmd_linger(host, port):
    s = socket.create_connection((host, int(port)), timeout=30)
    s.sendall(b"x" * 5000)
    time.sleep(0.3)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()  # RST: the echo is unread
    return "ok reset sent"


def cmd_serve(port, count):
    with socket.socket() as ls:
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("0.0.0.0", int(port)))
        ls.listen(16)
        print("listening", flush=True)
        ls.settimeout(60)
        total = 0
        for _ in range(int(count)):
            c, _ = ls.accept()
            with c:
                c.settimeout(60)
                while True:
                    b = c.recv(65536)
                    if not b:
                        break
                    c.sendall(b)
                    total += len(b)
    return f"ok served {count} echoing {total} bytes"


def main():
    cmds = {"echo": cmd_echo, "many": cmd_many, "closefirst": cmd_closefirst,
            "reset": cmd_reset, "linger": cmd_linger, "serve": cmd_serve}
    try:
        print(cmds[sys.argv[1]](*sys.argv[2:]), flush=True)
    except Exception as e:  # a failure is a result, printed for the test
        print(f"FAIL {type(e).__name__}: {e}", flush=True)


if __name__ == "__main__":
    main()
