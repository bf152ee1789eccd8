"""Smoke test of the key-value benchmark's parts (bench/kv.py, bench/kv-load.c,
bench/memcached/), so that they don't rot: kvd and, when its packages are
cached, the memcached guest boot under TCG in a network namespace, take a
preload and a short closed-loop and open-loop load from kv-load without an
error or a miss, and a few connection cycles. The benchmark itself is
`bench/run.py --kv` (make bench), not part of make check."""
import os
import sys

from harness import ROOT, Skip

sys.path.insert(0, os.path.join(ROOT, "bench"))
import kv  # noqa: E402
import lib  # noqa: E402


def _drive(make_guest, name):
    if not lib.is_root():
        raise Skip("needs root for the network namespace and tap device")
    with lib.Network(f"mcsmoke-{name}-{os.getpid()}", mode="tap") as net:
        try:
            guest = make_guest(net)
        except lib.BenchError as e:
            raise Skip(str(e))
        serial = os.path.join(ROOT, "build", "systest", f"bench-kv-{name}.log")
        with lib.Qemu(guest, net, serial) as q:
            try:
                q.wait_ready(timeout=120)
                pre = kv.kv_load(net, "preload", 0, c=4, w=8, s=100, k=500)
                closed = kv.kv_load(net, "closed", 0.5, W=0.2, c=8, w=2, g=0.5, s=100, k=500)
                opened = kv.kv_load(net, "open", 0.5, W=0.2, r=200, c=8, g=0.9, s=100, k=500)
                cycles = kv.kv_load(net, "connect", 0.5, W=0.2, c=4, k=500)
            except lib.BenchError as e:
                raise AssertionError(f"{e}\nserial {serial}:\n{q.tail()}")
    assert pre["done"] == 500 and pre["errors"] == 0, pre
    # No speed is asked of anyone here (that is the benchmark's business),
    # only that every reply parsed and every GET hit.
    for r in (closed, opened):
        assert r["done"] > 0 and r["errors"] == 0 and r["misses"] == 0, r
    assert cycles["done"] > 0 and cycles["errors"] == 0 and cycles["misses"] == 0, cycles


def test_kvd_guest_takes_kv_load():
    out = os.path.join(ROOT, "build", "systest")
    os.makedirs(out, exist_ok=True)
    _drive(lambda net: kv.kvd_guest(net, out), "kvd")


def test_memcached_guest_takes_kv_load():
    if not lib.is_root():
        raise Skip("needs root for the network namespace and tap device")
    try:
        if not lib.build_guest("memcached", cached_only=True):
            raise Skip("memcached guest packages not cached (run bench/memcached/build.sh once)")
    except lib.BenchError as e:
        raise AssertionError(str(e))
    _drive(lambda net: kv.memcached_guest("mc.busy=50"), "memcached")
