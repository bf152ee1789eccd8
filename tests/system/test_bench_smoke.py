"""Smoke test of the echo benchmark's scripts (bench/), so that they don't
rot: echod and each baseline guest boot under TCG in a network namespace and echo a
few UDP datagrams from the host side unchanged (sockperf's client flag included: the
benchmark's client clears it, bench/sockperf-shim.c), then bench/echo-load's
requests for half a second, none lost.
The benchmark itself is `make bench` (bench/run.py), not part of make check.

The Linux sockets guest is built here (bench/linux/build.sh downloads its
Debian packages into bench/cache/ the first time); the DPDK guest only when
its packages are already cached (bench/dpdk/build.sh once, by hand or by
make bench)."""
import os
import sys

from harness import ROOT, Skip

sys.path.insert(0, os.path.join(ROOT, "bench"))
import lib  # noqa: E402


def _echo(guest, netns):
    if not lib.is_root():
        raise Skip("needs root for the network namespace and tap device")
    with lib.Network(netns, mode="tap") as net:
        serial = os.path.join(ROOT, "build", "systest", f"bench-{guest.key}.log")
        with lib.Qemu(guest, net, serial) as q:
            try:
                secs = q.wait_ready(timeout=120)
            except lib.BenchError as e:
                raise AssertionError(str(e))
            ok, out = lib.udp_probe(net, count=5)
            assert ok == 5, f"{guest.label}: {ok}/5 datagrams echoed correctly (ready after " \
                            f"{secs:.1f} s):\n{out}\nserial {serial}:\n{q.tail()}"
            # The throughput client, both ways it waits: in recvmmsg (one
            # socket) and in poll (several).
            for window, flows in ((1, 1), (8, 2)):
                r = lib.echo_load(net, window, seconds=0.5, warmup=0.1, flows=flows)
                assert r["received"] > 0 and r["lost"] == 0 and r["stray"] == 0, \
                    f"{guest.label}: echo-load -w {window} -f {flows}: {r}\n{q.tail()}"


def test_linux_guest_echoes():
    if not lib.is_root():
        raise Skip("needs root for the network namespace and tap device")
    try:
        lib.build_guest("linux")
    except lib.BenchError as e:
        raise AssertionError(str(e))
    _echo(lib.linux_guest(), f"mcsmoke-linux-{os.getpid()}")


def test_dpdk_guest_echoes():
    if not lib.is_root():
        raise Skip("needs root for the network namespace and tap device")
    try:
        if not lib.build_guest("dpdk", cached_only=True):
            raise Skip("DPDK packages not cached (run bench/dpdk/build.sh once)")
    except lib.BenchError as e:
        raise AssertionError(str(e))
    _echo(lib.dpdk_guest(), f"mcsmoke-dpdk-{os.getpid()}")


def test_echod_echoes():
    if not lib.is_root():
        raise Skip("needs root for the network namespace and tap device")
    with lib.Network(f"mcsmoke-echod-{os.getpid()}", mode="tap") as net:
        try:
            guest = lib.manticore_guest(
                net, out=os.path.join(ROOT, "build", "systest", "echod-bench.iso"))
        except lib.BenchError as e:
            raise Skip(f"no echod image: {e}")
    _echo(guest, f"mcsmoke-echod-{os.getpid()}")
