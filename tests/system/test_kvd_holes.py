"""kvd must not stop serving when out-of-order data fills its buffers.

Under heavy load, losses leave holes in many connections' streams at once;
everything a connection receives above its hole waits in receive buffers
until the resend fills it. If that may take every buffer TCP is allowed to
hold, the resends themselves find no room and are dropped, nothing held
can ever be read, and kvd stops for good (seen under open-loop load near
capacity; bench/README.md). A peer can do the same on purpose. Here
hand-played peers (scapy over a tap in a throwaway namespace) leave more
holes than the buffers allow; then a Linux client on a fresh connection
must be served, every peer that fills its holes must get all its replies,
what could not be held must be counted, and nothing may stay held."""
import os
import re
import shutil
import subprocess
import time

from harness import ROOT, Guest, Skip, iso
from test_tap import GUEST_IP, GUEST_MAC, HOST_IP, TAP, Netns, _ns

KVD = os.path.join(ROOT, "usr", "kvd", "build", "kvd.elf")
SCRIPT = os.path.join(ROOT, "tests", "system", "kvdholes.py")
DEBIAN_PY = "/usr/bin/python3"  # sees Debian's python3-scapy
# 12 connections x 64 segments (TCP_OOO_MAX each) = 768 out-of-order
# segments, more than the 512 buffers TCP may hold (half the pool).
PEERS, SEGMENTS = 12, 64


def _buffers(log):
    """kvd's last 'stats buffers' line as a dict."""
    lines = re.findall(r"kvd: stats buffers (.*)", log)
    f = lines[-1].split() if lines else []
    return {k: int(v) for k, v in zip(f[::2], f[1::2])}


def test_kvd_out_of_order_flood_keeps_serving():
    if os.geteuid() != 0:
        raise Skip("needs root for network namespaces and tap devices")
    if not shutil.which("ip") or not os.path.exists("/dev/net/tun"):
        raise Skip("no iproute2 or /dev/net/tun here")
    if not os.access(KVD, os.X_OK):
        raise Skip("usr/kvd/build/kvd.elf not built")
    if subprocess.run([DEBIAN_PY, "-c", "import scapy"], capture_output=True).returncode:
        raise Skip("no python3-scapy (scripts/install-toolchain installs it)")
    image = iso("", [(KVD, f"net=eth0:0 mem=64M kvd --ip {GUEST_IP} --gw {HOST_IP} -m 16 "
                           f"--stats 1")])
    with Netns("holes") as ns:
        with Guest(image, "kvd-holes", net=f"tap:{TAP}",
                   prefix=["ip", "netns", "exec", ns.name]) as g:
            g.wait_for("kvd ready on port 11211")
            p = _ns(ns.name, DEBIAN_PY, SCRIPT, TAP, GUEST_MAC, GUEST_IP, "11211", str(PEERS),
                    str(SEGMENTS), timeout=300)
            lines = p.stdout.splitlines()
            assert lines and lines[-1] == "done", f"{p.stdout}\n{p.stderr}\n{g.logfile}"
            failed = [l for l in lines if l.startswith("FAIL")]
            assert not failed, "\n".join(failed) + f"\n{_buffers(g.log())} ({g.logfile})"
            # What could not be held was dropped and counted; once the peers
            # are gone, nothing stays held.
            end = time.monotonic() + 20
            while time.monotonic() < end:
                b = _buffers(g.log())
                if b.get("rx_held", 1) == 0 and "sessions 0 " in g.log().rsplit("kvd: stats", 1)[-1]:
                    break
                time.sleep(0.3)
            assert b.get("rx_held") == 0 and b.get("ooo_held") == 0, f"{b} ({g.logfile})"
            assert b.get("rx_tcp_ooo_full", 0) > 0, f"no drop counted: {b} ({g.logfile})"
