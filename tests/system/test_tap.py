"""echod on a tap device inside a network namespace that the test creates
and removes: ARP resolves, ping is answered, a flood of malformed frames is
dropped and counted while echod keeps answering, and datagrams larger than
the MTU travel as Linux's own IPv4 fragments both ways."""
import os
import re
import shutil
import socket
import subprocess
import time

from harness import ROOT, Guest, Skip, iso

ECHOD = os.path.join(ROOT, "usr/echod/build/echod.elf")
HOST_IP, GUEST_IP, GUEST_MAC = "10.99.0.1", "10.99.0.2", "52:54:00:12:34:56"
TAP = "mctap0"
FLOOD = 60


def _ns(ns, *cmd, **kw):
    return subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True,
                          text=True, timeout=kw.pop("timeout", 30), **kw)


class Netns:
    def __init__(self, tag=""):
        self.name = f"mcsys{os.getpid()}{tag}"

    def __enter__(self):
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        for cmd in (["link", "set", "lo", "up"],
                    ["tuntap", "add", "dev", TAP, "mode", "tap"],
                    ["link", "set", TAP, "up"],
                    ["addr", "add", f"{HOST_IP}/24", "dev", TAP]):
            subprocess.run(["ip", "-n", self.name, *cmd], check=True)
        return self

    def __exit__(self, *exc):
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


def _drop_counters(log):
    """The last value echod printed of each drop counter (its 'stats drop' lines)."""
    lines = re.findall(r"echod: stats drop (\d+) (.*)", log)
    if not lines:
        return {}
    total, _ = lines[-1]
    counters = {}
    for line in re.findall(r"echod: stats drop (.*)", log):
        counters.update({k: int(v) for k, v in re.findall(r"([a-z_]+) (\d+)", line)})
    counters["total"] = int(total)
    return counters


def test_tap_arp_ping_and_malformed_flood():
    if os.geteuid() != 0:
        raise Skip("needs root for network namespaces and tap devices")
    if not shutil.which("ip") or not os.path.exists("/dev/net/tun"):
        raise Skip("no iproute2 or /dev/net/tun here")
    image = iso("", [(ECHOD, f"net=eth0:0 echod --ip {GUEST_IP} --gw {HOST_IP} --stats 1")])
    with Netns() as ns:
        with Guest(image, "net-tap", net=f"tap:{TAP}",
                   prefix=["ip", "netns", "exec", ns.name]) as g:
            g.wait_for("echod ready")
            ping = _ns(ns.name, "ping", "-c", "3", "-i", "0.2", "-W", "3", GUEST_IP)
            assert ping.returncode == 0, f"ping failed:\n{ping.stdout}{ping.stderr}"
            neigh = _ns(ns.name, "ip", "neigh", "show", GUEST_IP)
            assert GUEST_MAC in neigh.stdout, f"ARP did not resolve: {neigh.stdout!r}"

            sent = _ns(ns.name, "python3", os.path.join(ROOT, "tests/system/rawframes.py"),
                       TAP, GUEST_MAC, GUEST_IP, HOST_IP, str(FLOOD))
            assert sent.returncode == 0, sent.stderr
            kinds = sent.stdout.split()

            echo = _ns(ns.name, "python3", "-c",
                       "import socket; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);"
                       "s.settimeout(3);"
                       f"[s.sendto(b'alive %d' % i, ('{GUEST_IP}', 7)) for i in range(20)];"
                       "print(sorted(s.recv(100) for _ in range(20)) =="
                       " sorted(b'alive %d' % i for i in range(20)))")
            assert echo.stdout.strip() == "True", f"echo after flood: {echo.stdout}{echo.stderr}"

            end = time.monotonic() + 30
            while time.monotonic() < end:
                c = _drop_counters(g.log())
                if c and all(c.get(k, 0) >= FLOOD for k in kinds):
                    break
                time.sleep(0.3)
            c = _drop_counters(g.log())
            short = {k: c.get(k) for k in kinds if c.get(k, 0) < FLOOD}
            assert not short, f"drops not counted: {short} (all: {c})"
            assert c["total"] >= FLOOD * len(kinds)


def test_tap_fragmented_echo_with_linux():
    # Linux fragments the datagrams its UDP socket sends over the tap's
    # 1500-byte MTU and reassembles echod's fragmented replies.
    if os.geteuid() != 0:
        raise Skip("needs root for network namespaces and tap devices")
    if not shutil.which("ip") or not os.path.exists("/dev/net/tun"):
        raise Skip("no iproute2 or /dev/net/tun here")
    image = iso("", [(ECHOD, f"net=eth0:0 echod --ip {GUEST_IP} --gw {HOST_IP} --stats 1")])
    with Netns("f") as ns:
        with Guest(image, "net-tap-frag", net=f"tap:{TAP}",
                   prefix=["ip", "netns", "exec", ns.name]) as g:
            g.wait_for("echod ready")
            code = ("import random, socket\n"
                    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                    "s.settimeout(3)\n"
                    "rng = random.Random(5)\n"
                    "bad = []\n"
                    "for n in [8000, 1473, 3000, 8000, 20000, 65507] + [8000] * 20:\n"
                    "    p = rng.randbytes(n)\n"
                    f"    s.sendto(p, ('{GUEST_IP}', 7))\n"
                    "    try:\n"
                    "        r = s.recv(70000)\n"
                    "    except socket.timeout:\n"
                    "        r = b''\n"
                    "    if r != p:\n"
                    "        bad.append(n)\n"
                    "print('bad', bad)\n")
            out = _ns(ns.name, "python3", "-c", code)
            assert out.stdout.strip() == "bad []", f"echo of big datagrams: {out.stdout}{out.stderr}"
            # The counters as printed last (echod prints them every second).
            end = time.monotonic() + 30
            last = None
            while time.monotonic() < end:
                found = re.findall(r"echod: stats frag rx \d+ reassembled (\d+) .* "
                                   r"tx (\d+) tx_errors (\d+)", g.log())
                last = found[-1] if found else None
                if last and int(last[0]) >= 25 and int(last[1]) >= 25 * 6:
                    break
                time.sleep(0.3)
            assert last and int(last[0]) >= 25 and int(last[1]) >= 25 * 6, last
            assert last[2] == "0", f"fragments not sent: {last}"
