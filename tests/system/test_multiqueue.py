"""echod across two cores and two queue pairs of a multiqueue virtio-net, on a
multiqueue tap inside a throwaway network namespace: 64 flows from Linux's own
UDP sockets, every datagram of every flow echoed unchanged, and both queue
pairs carrying traffic. Once with the device's RSS steering the flows, once
with the tap steering them."""
import contextlib
import os
import re
import shutil
import subprocess
import time

from harness import ROOT, Guest, Skip, boot, iso

ECHOD = os.path.join(ROOT, "usr/echod/build/echod.elf")
HOST_IP, GUEST_IP = "10.98.0.1", "10.98.0.2"
TAP = "mcmq0"
FLOWS, PER_FLOW = 64, 8

# Runs inside the namespace: FLOWS sockets (FLOWS source ports), PER_FLOW
# datagrams each with contents naming flow and sequence; each must come back
# unchanged on its own socket. Lost datagrams are resent, a few times.
CLIENT = r"""
import os, select, socket, sys
flows, per, ip = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
attempts = int(sys.argv[4]) if len(sys.argv) > 4 else 6
socks = []
for f in range(flows):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 0))
    s.setblocking(False)
    socks.append(s)
want = {(f, i): b"flow %d seq %d " % (f, i) + os.urandom(16 + (f * 7 + i) % 200)
        for f in range(flows) for i in range(per)}
pending = dict(want)
bad = 0
for attempt in range(attempts):
    for (f, i), data in pending.items():
        socks[f].sendto(data, (ip, 7))
    deadline = 2.0 + attempt
    while pending:
        r, _, _ = select.select(socks, [], [], deadline)
        if not r:
            break
        for s in r:
            f = socks.index(s)
            while True:
                try:
                    data = s.recv(2048)
                except BlockingIOError:
                    break
                i = int(data.split()[3])
                if want.get((f, i)) != data:
                    bad += 1
                pending.pop((f, i), None)
    if not pending:
        break
print("lost", len(pending), "bad", bad, "ports", len({s.getsockname()[1] for s in socks}))
"""


def _ns(ns, *cmd, **kw):
    return subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True,
                          text=True, timeout=kw.pop("timeout", 60), **kw)


class MultiqueueNetns:
    def __init__(self, tag):
        self.name = f"mcmq{os.getpid()}-{tag}"  # tests run two at a time: names differ

    def __enter__(self):
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        for cmd in (["link", "set", "lo", "up"],
                    ["tuntap", "add", "dev", TAP, "mode", "tap", "multi_queue"],
                    ["link", "set", TAP, "up"],
                    ["addr", "add", f"{HOST_IP}/24", "dev", TAP]):
            subprocess.run(["ip", "-n", self.name, *cmd], check=True)
        return self

    def __exit__(self, *exc):
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


def _queue_counts(log):
    counts = {}
    for qp, rx in re.findall(r"echod: stats queue (\d+) cpu \d+ rx (\d+)", log):
        counts[int(qp)] = int(rx)
    return counts


def _echo_on_two_queues(name, rss):
    if os.geteuid() != 0:
        raise Skip("needs root for network namespaces and tap devices")
    if not shutil.which("ip") or not os.path.exists("/dev/net/tun"):
        raise Skip("no iproute2 or /dev/net/tun here")
    image = iso("", [(ECHOD, f"cpus=1-2 net=eth0:0-1 echod --ip {GUEST_IP} --gw {HOST_IP} "
                             f"--stats 1")])
    extra = ["--queues", "2"] + (["--rss"] if rss else [])
    with MultiqueueNetns(name[3:]) as ns:
        with Guest(image, name, net=f"tap:{TAP}", cpus=3, extra=extra,
                   prefix=["ip", "netns", "exec", ns.name]) as g:
            g.wait_for("echod ready")
            log = g.log()
            want = "device RSS" if rss else "automatic (the backend steers each flow)"
            assert f"flows steered by {want}" in log, f"steering not {want!r}: {g.logfile}"
            assert "echod: 2 workers on queue pairs 0-1" in log
            out = _ns(ns.name, "python3", "-c", CLIENT, str(FLOWS), str(PER_FLOW), GUEST_IP)
            assert out.returncode == 0, out.stderr
            assert out.stdout.split() == ["lost", "0", "bad", "0", "ports", str(FLOWS)], \
                out.stdout
            # both queue pairs carried traffic (the stats print every second)
            end = time.monotonic() + 20
            counts = {}
            while time.monotonic() < end:
                counts = _queue_counts(g.log())
                if sum(counts.values()) >= FLOWS * PER_FLOW and all(
                        counts.get(q, 0) > 0 for q in (0, 1)):
                    break
                time.sleep(0.3)
            assert counts.get(0, 0) > 0 and counts.get(1, 0) > 0, \
                f"a queue pair carried nothing: {counts} ({g.logfile})"
            ping = _ns(ns.name, "ping", "-c", "2", "-i", "0.2", "-W", "3", GUEST_IP)
            assert ping.returncode == 0, ping.stdout


def test_two_queues_rss():
    _echo_on_two_queues("mq-rss", rss=True)


def test_two_queues_tap_steering():
    _echo_on_two_queues("mq-tap", rss=False)


def test_pair_nobody_serves_holds_up_no_flow():
    # echod serves pair 0 of two; pair 1 is nobody's. The tap spreads new
    # flows over both of its queues, and QEMU reads a tap queue only for its
    # own pair and, when RSS sends a frame to a pair short of buffers, holds
    # it until that tap queue's own pair rings its doorbell. The kernel tells
    # the device it uses one pair (max_tx_vq), so the tap keeps one queue:
    # 4,096 datagrams at once overrun the ring, and the resends get through.
    if os.geteuid() != 0:
        raise Skip("needs root for network namespaces and tap devices")
    image = iso("", [(ECHOD, f"cpus=1 net=eth0:0 echod --ip {GUEST_IP} --gw {HOST_IP}")])
    with MultiqueueNetns("lone") as ns:
        with Guest(image, "mq-lone", net=f"tap:{TAP}", cpus=2,
                   extra=["--queues", "2", "--rss"],
                   prefix=["ip", "netns", "exec", ns.name]) as g:
            g.wait_for("echod ready")
            for _ in range(3):
                out = _flows(ns.name, FLOWS, 64)
                assert out == ["lost", "0", "bad", "0", "ports", str(FLOWS)], \
                    f"client: {' '.join(out)} ({g.logfile})"


def _flows(ns, flows, per, attempts=6):
    out = _ns(ns, "python3", "-c", CLIENT, str(flows), str(per), GUEST_IP, str(attempts))
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@contextlib.contextmanager
def _handover(name, nic_opts, b_args):
    if os.geteuid() != 0:
        raise Skip("needs root for network namespaces and tap devices")
    net = f"--ip {GUEST_IP} --gw {HOST_IP}"
    image = iso("", [(ECHOD, f"cpus=1 net=eth0:0 echod {net} --exit-after 16"),
                     (ECHOD, f"cpus=2 net=eth0:1 echod --qp 1 {net} {b_args}"),
                     (ECHOD, f"net=eth0:0 echod {net} --delay 1000 --retry 120")])
    extra = ["--queues", "2", "--rss"] + (["--nic-opts", nic_opts] if nic_opts else [])
    if name.endswith("q"):  # the tap steers: flows of a dirty pair wait in their own queue
        extra.remove("--rss")
    with MultiqueueNetns(name[3:]) as ns:
        with Guest(image, name, net=f"tap:{TAP}", cpus=3, extra=extra,
                   prefix=["ip", "netns", "exec", ns.name]) as g:
            g.wait_for(r"pid 1 \(echod\) attached eth0 queue pair 0")
            g.wait_for(r"pid 2 \(echod\) attached eth0 queue pair 1")
            # flows on queue pair 0 end pid 1; those on 1 keep pid 2 busy
            _flows(ns.name, FLOWS, 1)
            g.wait_for(r"pid 1 \(echod\) exited with status 0")
            yield g, ns.name


def test_queue_pair_changes_hands_alone():
    # VIRTIO_F_RING_RESET: pid 1's queue pair is reset alone when it exits;
    # pid 3 takes it while pid 2 goes on serving the other pair undisturbed.
    with _handover("mq-handover-r", None, "") as (g, ns):
        g.wait_for(r"pid 3 \(echod\) attached eth0 queue pair 0")
        assert _flows(ns, FLOWS, 4) == ["lost", "0", "bad", "0", "ports", str(FLOWS)]
        log = g.log()
        assert "reset alone (VIRTIO_F_RING_RESET)" in log
        assert "reset after queue pair" not in log
        assert log.count("pid 2 (echod) attached") == 1 and "pid 2 (echod) exited" not in log


def test_queue_pair_waits_for_device_reset():
    # Without VIRTIO_F_RING_RESET only a device reset makes the device forget
    # a queue pair, and that would disturb the owner of the other pair: pid 3
    # waits (-EBUSY) until pid 2 has let go of its pair too.
    if os.geteuid() != 0:
        raise Skip("needs root for network namespaces and tap devices")
    holder = os.path.join(ROOT, "usr/tests/qholder/build/qholder.elf")
    image = iso("", [(holder, "net=eth0:0 qholder eth0 0 100"),
                     (holder, "net=eth0:1 qholder eth0 1 2500"),
                     (ECHOD, f"net=eth0:0 echod --ip {GUEST_IP} --gw {HOST_IP} --delay 600 "
                             f"--retry 60")])
    extra = ["--queues", "2", "--nic-opts", "queue_reset=off"]
    with MultiqueueNetns("hq") as ns:
        with Guest(image, "mq-handover-q", net=f"tap:{TAP}", cpus=3, extra=extra,
                   prefix=["ip", "netns", "exec", ns.name]) as g:
            g.wait_for(r"pid 1 \(qholder\) exited with status 0")
            g.wait_for(r"echod\[3\]: echod: queue pair 0 is busy")  # refused: not reset yet
            assert "pid 2 (qholder) exited" not in g.log(), "pid 2 let go too early to tell"
            assert "reset with the device, once no pair is owned" in g.log()
            g.wait_for(r"pid 3 \(echod\) attached eth0 queue pair 0")
            log = g.log()
            assert log.index("pid 2 (qholder) exited") < log.index("pid 3 (echod) attached"), \
                "queue pair 0 was handed out before the device could forget it"
            g.wait_for("echod ready")
            # Pair 1 has no server, and the tap may steer ARP there: no ARP.
            _ns(ns.name, "ip", "neigh", "replace", GUEST_IP, "lladdr", "52:54:00:12:34:56",
                "dev", TAP)
            out = _flows(ns.name, FLOWS, 1, attempts=1)  # pair 1's flows are lost
            assert int(out[1]) < FLOWS, f"pid 3 answered nothing: {out}"


def test_queue_range_beyond_the_device_is_refused():
    # QEMU's user networking: one device, eth0, with one queue pair.
    image = iso("", [(ECHOD, "net=eth0:0-3 echod"), (ECHOD, "net=eth1:0 echod"),
                     (ECHOD, "cpus=1-2 net=eth0:0-1 echod"),
                     (os.path.join(ROOT, "usr/hello/build/hello.elf"), "net=eth0:0 hello ok")])
    b = boot(image, "mq-refused", net="user", cpus=3)
    b.expect("refused module 1 (net=eth0:0-3 echod): manifest: net= names queue pair 3 of "
             "eth0, which has 1",
             "refused module 2 (net=eth1:0 echod): manifest: net= names eth1, which this "
             "machine lacks",
             "refused module 3 (cpus=1-2 net=eth0:0-1 echod): manifest: net= names queue "
             "pair 1 of eth0, which has 1",
             "hello from pid 1: hello ok")
