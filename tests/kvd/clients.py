#!/usr/bin/python3
"""Drive a memcached-protocol server with Debian's python3-pymemcache and
python3-binary-memcached (clients nobody here wrote). Run under
/usr/bin/python3; tests/system/test_kvd.py calls one check per process:

    clients.py CHECK PORT [SEED] [--no-wallclock] [--small]

Each check raises (non-zero exit, with the reason) when the server is wrong
and prints "ok CHECK ..." with what it did when it is right.
"""
import random
import socket
import sys
import threading
import time

import bmemcached
from pymemcache.client.base import Client
from pymemcache.exceptions import MemcacheServerError

# memcached's item limit (1 MiB) counts the item's header and key, so the
# largest value is a little smaller; kvd refuses a full 1 MiB value as
# memcached does (SERVER_ERROR object too large for cache).
VALUE_MAX = (1 << 20) - 1024
KEY_CHARS = [chr(c) for c in range(0x21, 0x7f)]


def client(port, **kw):
    return Client(("127.0.0.1", port), connect_timeout=5, timeout=30, **kw)


def raw(port, request):
    """One request on a fresh connection (for commands pymemcache lacks)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        out = b""
        while not out.endswith(b"\r\n"):
            d = s.recv(65536)
            if not d:
                break
            out += d
        return out


def rand_key(rng, i):
    n = rng.choice([1, 2, 8, 16, 40, 100, 249, 250]) if i % 7 == 0 else rng.randint(1, 250)
    body = "".join(rng.choice(KEY_CHARS) for _ in range(n))
    return (str(i) + "." + body)[:n] if n > len(str(i)) + 1 else str(i)


def rand_size(rng):
    r = rng.random()
    if r < 0.85:
        return rng.randint(0, 1000)
    if r < 0.97:
        return rng.randint(1000, 70000)
    return rng.randint(70000, VALUE_MAX)


EDGE_SIZES = [0, 1, 2, 65535 - 200, 65536 - 100, 65536, 65537, 131072, 524288, VALUE_MAX]


def check_random(port, seed, small=False):
    """Thousands of random keys and values (0 B .. ~1 MiB) through the text
    protocol, read back one by one and in multi-gets, then the same through
    the binary protocol, each read by the other protocol too."""
    rng = random.Random(seed)
    c = client(port)
    data = {}
    n_text, n_bin = (1000, 500) if small else (3000, 1500)
    sizes = [rng.choice(EDGE_SIZES) if i < 40 else rand_size(rng) for i in range(n_text)]
    for i, n in enumerate(sizes):
        k = rand_key(rng, i)
        v = rng.randbytes(n)
        data[k] = v
        # flags 16: python3-binary-memcached's mark for raw bytes
        assert c.set(k, v, noreply=False, flags=16), f"set {k!r} ({n} bytes) not stored"
    keys = list(data)
    for k in keys[:500]:
        got = c.get(k)
        assert got == data[k], f"get {k!r}: {len(got or b'')} bytes, wanted {len(data[k])}"
    for i in range(0, len(keys), 50):
        batch = keys[i:i + 50]
        got = c.get_many(batch)
        for k in batch:
            assert got.get(k) == data[k], f"get_many {k!r} differs"
    try:
        c.set("too-big", b"x" * (1 << 20), noreply=False)
        raise AssertionError("a 1 MiB value was stored; memcached refuses it")
    except MemcacheServerError as e:
        assert b"too large" in str(e).encode(), f"wrong refusal: {e}"

    b = bmemcached.Client(["127.0.0.1:%d" % port])
    bdata = {}
    for i in range(n_bin):
        k = "bin.%d.%s" % (i, rng.randint(0, 1 << 30))
        v = rng.randbytes(rand_size(rng) if i >= 10 else EDGE_SIZES[i])
        bdata[k] = v
        assert b.set(k, v), f"binary set {k} failed"
    for k, v in bdata.items():
        got = b.get(k)
        assert got == v, f"binary get {k}: {len(got or b'')} bytes, wanted {len(v)}"
    # Each protocol reads what the other wrote.
    for k in list(bdata)[:300]:
        assert c.get(k) == bdata[k], f"text read of binary-written {k} differs"
    for k in keys[:300]:
        if len(k) <= 250 and data[k]:
            assert b.get(k) == data[k], f"binary read of text-written {k!r} differs"
    total = sum(map(len, data.values())) + sum(map(len, bdata.values()))
    print(f"ok random {len(data)} text + {len(bdata)} binary items, {total >> 20} MiB")


def check_cas_race(port, seed):
    """Two clients increment one counter with gets/cas; every lost race must
    be answered EXISTS and retried, so no increment is lost."""
    per_client = 300
    c0 = client(port)
    c0.set("counter", b"0", noreply=False)
    conflicts = [0, 0]

    def worker(idx):
        c = client(port)
        done = 0
        while done < per_client:
            v, cas = c.gets("counter")
            if c.cas("counter", str(int(v) + 1).encode(), cas, noreply=False):
                done += 1
            else:
                conflicts[idx] += 1

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    final = int(c0.get("counter"))
    assert final == 2 * per_client, f"counter {final}, wanted {2 * per_client}"
    # Binary protocol: cas with a stale token is refused.
    b = bmemcached.Client(["127.0.0.1:%d" % port])
    b.set("bcas", "a")
    val, token = b.gets("bcas")
    assert b.cas("bcas", "b", token), "binary cas with the current token failed"
    assert not b.cas("bcas", "c", token), "binary cas with a stale token succeeded"
    assert b.get("bcas") == "b"
    print(f"ok cas-race {final} increments, {sum(conflicts)} conflicts retried")


def check_expiry(port, seed, wallclock=True):
    """exptime, touch, gat and a delayed flush_all, seen from the client
    (absolute Unix exptimes only where the server has a wall clock)."""
    c = client(port)
    c.set("short", b"1", expire=1, noreply=False)
    c.set("long", b"2", expire=100, noreply=False)
    c.set("forever", b"3", noreply=False)
    c.set("touched", b"4", expire=1, noreply=False)
    assert c.get("short") == b"1"
    if wallclock:
        c.set("past", b"5", expire=int(time.time()) - 10, noreply=False)  # absolute, past
        c.set("future", b"6", expire=int(time.time()) + 100, noreply=False)  # absolute
        assert c.get("past") is None, "an absolute time in the past did not expire"
        assert c.get("future") == b"6"
    assert c.touch("touched", expire=100, noreply=False)
    assert raw(port, b"gat 1 long\r\n") == b"VALUE long 0 1\r\n2\r\nEND\r\n"
    time.sleep(2.2)
    assert c.get("short") is None, "expired item still served"
    assert c.get("long") is None, "gat did not shorten the exptime"
    assert c.get("touched") == b"4", "touch did not extend the exptime"
    assert c.get("forever") == b"3"
    c.flush_all(delay=2, noreply=False)
    assert c.get("forever") == b"3", "delayed flush_all acted at once"
    time.sleep(3.5)  # not tight: a guest's clock may run a little slow under TCG
    assert c.get("forever") is None, "delayed flush_all did not act"
    c.set("after", b"7", noreply=False)
    assert c.get("after") == b"7", "item stored after the flush was lost"
    c.flush_all(noreply=False)
    c.set("same-second", b"8", noreply=False)
    assert c.get("same-second") == b"8", "flush_all hid an item stored after it"
    st = c.stats()
    assert st[b"get_expired"] >= 1 + wallclock and st[b"get_flushed"] >= 1, st
    print(f"ok expiry get_expired={st[b'get_expired']} get_flushed={st[b'get_flushed']}")


def check_eviction(port, seed):
    """A cache much smaller than the data keeps serving: every set is
    stored, the oldest items go, the newest are intact, and stats say so."""
    rng = random.Random(seed)
    c = client(port)
    limit = int(c.stats()[b"limit_maxbytes"])
    written = {}
    n = 0
    total = 0
    while total < 12 * limit:
        size = rng.choice([100, 1000, 10000, 60000, 200000, 700000])
        v = rng.randbytes(size)
        k = "ev%d" % n
        assert c.set(k, v, noreply=False), f"set {k} ({size} bytes) refused in a full cache"
        written[k] = v
        total += size
        n += 1
    st = c.stats()
    assert st[b"evictions"] > 0, "nothing was evicted"
    assert st[b"bytes"] <= limit, f"bytes {st[b'bytes']} over limit {limit}"
    # The most recent items fit and must be there and intact.
    recent = ["ev%d" % i for i in range(n - 5, n)]
    for k in recent:
        assert c.get(k) == written[k], f"recent item {k} lost or changed"
    assert c.get("ev0") is None, "the oldest item survived 12x the budget"
    # Whatever survived is intact.
    alive = 0
    for k in written:
        got = c.get(k)
        if got is not None:
            assert got == written[k], f"survivor {k} changed"
            alive += 1
    print(f"ok eviction {n} sets of {total >> 20} MiB into {limit >> 20} MiB: "
          f"{st[b'evictions']} evictions, {alive} alive")


def check_binary(port, seed):
    """python3-binary-memcached's operations: add/replace/delete/incr/decr,
    multi-get, touch, flush."""
    b = bmemcached.Client(["127.0.0.1:%d" % port])
    assert b.set("k1", "v1")
    assert not b.add("k1", "v2"), "add over an existing key"
    assert b.add("k2", "v2")
    assert b.replace("k1", "v1b")
    assert not b.replace("nokey", "x"), "replace of a missing key"
    assert b.get("k1") == "v1b"
    assert b.get_multi(["k1", "k2", "nokey"]) == {"k1": "v1b", "k2": "v2"}
    assert b.delete("k2")
    assert b.get("k2") is None
    b.set("n", 10)
    assert b.incr("n", 5) == 15
    assert b.decr("n", 20) == 0, "decr below zero must stop at 0"
    b.set_multi({"m%d" % i: "v%d" % i for i in range(100)})
    got = b.get_multi(["m%d" % i for i in range(100)])
    assert got == {"m%d" % i: "v%d" % i for i in range(100)}, "set_multi/get_multi"
    assert b.flush_all()
    assert b.get("k1") is None
    print("ok binary")


CHECKS = {
    "random": check_random,
    "cas-race": check_cas_race,
    "expiry": check_expiry,
    "eviction": check_eviction,
    "binary": check_binary,
}

if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    name, port = args[0], int(args[1])
    seed = int(args[2]) if len(args) > 2 else 1
    kw = {}
    if "--no-wallclock" in sys.argv:
        kw["wallclock"] = False
    if "--small" in sys.argv:  # a third of the data: for a guest under TCG
        kw["small"] = True
    CHECKS[name](port, seed, **kw)
