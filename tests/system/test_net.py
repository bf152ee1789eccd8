"""Kernel-bypass networking from the outside: echod answers host clients
nobody here wrote (nc, socat) and Python sockets; queue pairs are
partitioned; a queue changes hands cleanly."""
import os
import random
import re
import subprocess
import time

from harness import ROOT, Guest, iso, udp_roundtrips

ECHOD = os.path.join(ROOT, "usr/echod/build/echod.elf")
READY = r"echod ready"


def _echod_image(*cmdlines, kernel=""):
    return iso(kernel, [(ECHOD, c) for c in cmdlines])


def test_echo_nc_socat_and_sizes():
    # echod's default: each request answered inside the poll (a handler).
    _echo_nc_socat_and_sizes("net=eth0:0 echod --stats 2", "net-echo")


def test_echo_through_the_endpoint_queue():
    # echod --queue: the same through netif_recv_batch and netif_echo_batch.
    _echo_nc_socat_and_sizes("net=eth0:0 echod --stats 2 --queue", "net-echo-queue")


def _echo_nc_socat_and_sizes(cmdline, name):
    with Guest(_echod_image(cmdline), name) as g:
        g.wait_for(READY)
        g.wait_for(r"pid 1 \(echod\) attached eth0 queue pair 0")
        out = subprocess.run(["nc", "-u", "-w", "1", "127.0.0.1", str(g.port)],
                             input=b"hello manticore\n", capture_output=True, timeout=10)
        assert out.stdout == b"hello manticore\n", f"nc got {out.stdout!r}"
        out = subprocess.run(["socat", "-t", "1", "-", f"UDP:127.0.0.1:{g.port}"],
                             input=b"from socat\n", capture_output=True, timeout=10)
        assert out.stdout == b"from socat\n", f"socat got {out.stdout!r}"
        rng = random.Random(7)
        sizes = list(range(1, 1473)) + [rng.randint(1, 1472) for _ in range(1528)]
        payloads = [rng.randbytes(n) for n in sizes]
        missing = udp_roundtrips(g.port, payloads, burst=8)
        assert not missing, f"{len(missing)} of {len(payloads)} datagrams lost or changed"
        g.wait_for(r"echod: stats net rx \d+")


def test_queue_pair_partition():
    # The second process asks for the queue the first one holds; the third
    # has no grant in its manifest at all.
    image = _echod_image("net=eth0:0 echod", "net=eth0:0 echod --port 9 --delay 300",
                         "echod --port 10", kernel="nosmp")
    with Guest(image, "net-partition") as g:
        g.wait_for(READY)
        g.wait_for(r"echod: net_attach eth0 qp 0: .*busy")
        g.wait_for(r"echod: net_attach eth0 qp 0: .*not permitted")
        assert not udp_roundtrips(g.port, [b"still mine"] * 4), "owner stopped answering"
        log = g.log()
        assert log.count("attached eth0 queue pair 0") == 1, "a queue pair had two owners"


def test_new_owner_after_exit():
    # pid 1 answers five datagrams and exits; pid 2 waits for the queue,
    # gets it after the reset, and answers from then on.
    image = _echod_image("net=eth0:0 echod --exit-after 5",
                         "net=eth0:0 echod --delay 300 --retry 120", kernel="nosmp")
    with Guest(image, "net-new-owner") as g:
        g.wait_for(r"pid 1 \(echod\) attached")
        g.wait_for(READY)
        assert not udp_roundtrips(g.port, [b"first owner %d" % i for i in range(5)], burst=1)
        g.wait_for(r"pid 1 \(echod\) exited with status 0")
        g.wait_for(r"pid 2 \(echod\) attached eth0 queue pair 0")
        g.wait_for(r"(?s)pid 2 \(echod\) attached.*echod ready")
        missing = udp_roundtrips(g.port, [b"second owner %d" % i for i in range(200)])
        assert not missing, f"new owner lost {len(missing)} datagrams"


def test_echo_fragmented_datagrams():
    # Datagrams over the 1500-byte MTU reach echod as IPv4 fragments (QEMU's
    # slirp fragments what Linux's UDP socket sends it); echod reassembles
    # them and its replies go out in fragments, which slirp reassembles.
    with Guest(_echod_image("net=eth0:0 echod --stats 1"), "net-frag") as g:
        g.wait_for(READY)
        rng = random.Random(8000)
        sizes = [1473, 1480, 1481, 2952, 2953, 4000, 8000, 8000, 8000, 16000, 30000, 65507]
        payloads = [rng.randbytes(n) for n in sizes]
        missing = udp_roundtrips(g.port, payloads, burst=1)
        assert not missing, f"{[len(p) for p in missing]} not echoed byte for byte"
        end = time.monotonic() + 30
        last = None
        while time.monotonic() < end:
            found = re.findall(r"echod: stats frag rx \d+ reassembled (\d+) .* tx_errors (\d+)",
                               g.log())
            last = found[-1] if found else None
            if last and int(last[0]) >= len(sizes):
                break
            time.sleep(0.3)
        assert last and int(last[0]) >= len(sizes) and last[1] == "0", f"reassembled: {last}"


def test_profile_accounts_for_each_round_trip():
    # echod --profile: every stage of the loop shows up per datagram, and
    # one request at a time each reply rings the doorbell once.
    with Guest(_echod_image("net=eth0:0 echod --stats 1 --profile"), "net-profile") as g:
        g.wait_for(READY)
        missing = udp_roundtrips(g.port, [b"profile %d" % i for i in range(300)], burst=1)
        assert not missing, f"{len(missing)} datagrams lost"
        line = r"echod: profile qp 0 datagrams (\d+) kicks/100 (\d+) cycles/datagram " \
               r"idle (\d+) rx (\d+) app (\d+) tx (\d+) kick (\d+) total (\d+)"
        g.wait_for(line)
        rows = [tuple(map(int, m)) for m in re.findall(line, g.log())]
        assert sum(r[0] for r in rows) >= 300, rows
        busiest = max(rows, key=lambda r: r[0])
        n, kicks, idle, rx, app, tx, kick, total = busiest
        assert 90 <= kicks <= 100, f"{kicks} doorbells per 100 datagrams one at a time"
        # Each answer rung for is watched until the device has sent it (its
        # TX buffer back): that time is what the doorbell's wait is learnt from.
        loop = r"kick_wait (\d+) sent_timed (\d+) request_to_sent_cycles (\d+)"
        at_least_270 = r"kick_wait \d+ sent_timed (\d{4,}|[3-9]\d\d|2[7-9]\d) "
        g.wait_for(at_least_270, timeout=20)
        wait, timed, cycles = map(int, re.findall(loop, g.log())[-1])
        assert cycles > 0 and wait <= 16384, (wait, timed, cycles)
        assert min(idle, rx, app, tx, kick) > 0, busiest
