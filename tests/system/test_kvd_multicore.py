"""kvd across two cores and two queue pairs: `cpus=1-2 net=eth0:0-1 kvd` on a
multiqueue tap inside a throwaway network namespace, driven from Linux by
pymemcache over many connections and by memcaslap with verification. Each
connection asks `stats` which worker serves it (kvd_worker): both workers
must have served connections, both queue pairs carried frames, and every key
set through one core must read back, unchanged, through the other."""
import os
import re
import shutil
import subprocess
import time

from harness import ROOT, Guest, Skip, iso
from test_multiqueue import GUEST_IP, HOST_IP, TAP, MultiqueueNetns, _ns

KVD = os.path.join(ROOT, "usr", "kvd", "build", "kvd.elf")
DEBIAN_PY = "/usr/bin/python3"  # sees Debian's python3-* packages
CONNS, KEYS = 48, 6

# Runs inside the namespace: CONNS pymemcache clients, each asks which
# worker serves it, sets KEYS keys of its own, then reads every client's
# keys and compares. Prints one summary line.
CLIENT = r"""
import os, random, sys
from pymemcache.client.base import Client
ip, conns, keys = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cl = [Client((ip, 11211), connect_timeout=10, timeout=30) for _ in range(conns)]
worker = [int(c.stats()[b"kvd_worker"]) for c in cl]
want, set_by = {}, {}
for i, c in enumerate(cl):
    for j in range(keys):
        k = "c%dk%d" % (i, j)
        want[k] = os.urandom(random.choice((1, 64, 1000, 5000)))
        set_by[k] = worker[i]
        assert c.set(k, want[k], noreply=False), k
cross = bad = 0
for i, c in enumerate(cl):
    got = c.get_many(list(want))
    for k, v in want.items():
        if got.get(k) != v:
            bad += 1
        elif set_by[k] != worker[i]:
            cross += 1
for c in cl:
    c.close()
print("workers", sorted(set(worker)), "on0", worker.count(0), "on1", worker.count(1),
      "cross", cross, "bad", bad)
"""


def _worker_lines(log):
    """The last per-worker stats line of each worker, as dicts."""
    out = {}
    for m in re.finditer(r"kvd: stats worker (\d+) (.*)", log):
        f = m.group(2).split()
        out[int(m.group(1))] = {k: int(v) for k, v in zip(f[::2], f[1::2])}
    return out


def _kvd_two_cores(name, rss):
    if os.geteuid() != 0:
        raise Skip("needs root for network namespaces and tap devices")
    if not shutil.which("ip") or not os.path.exists("/dev/net/tun"):
        raise Skip("no iproute2 or /dev/net/tun here")
    if not os.access(KVD, os.X_OK):
        raise Skip("usr/kvd/build/kvd.elf not built")
    probe = subprocess.run([DEBIAN_PY, "-c", "import pymemcache"], capture_output=True)
    if probe.returncode:
        raise Skip("python3-pymemcache missing (scripts/install-toolchain installs it)")
    image = iso("", [(KVD, f"cpus=1-2 net=eth0:0-1 mem=96M kvd --ip {GUEST_IP} "
                           f"--gw {HOST_IP} -m 32 --stats 1")])
    extra = ["--queues", "2"] + (["--rss"] if rss else [])
    with MultiqueueNetns(name[4:]) as ns:
        with Guest(image, name, net=f"tap:{TAP}", cpus=3, extra=extra,
                   prefix=["ip", "netns", "exec", ns.name]) as g:
            g.wait_for("kvd ready on port 11211")
            assert "kvd: 2 workers on queue pairs 0-1" in g.log(), g.logfile
            out = _ns(ns.name, DEBIAN_PY, "-c", CLIENT, GUEST_IP, str(CONNS), str(KEYS),
                      timeout=240)
            assert out.returncode == 0, out.stderr[-3000:]
            f = out.stdout.split()
            res = dict(zip(f[3::2], map(int, f[4::2])))
            assert f[:3] == ["workers", "[0,", "1]"], \
                f"one worker served every connection: {out.stdout} ({g.logfile})"
            assert res["bad"] == 0, out.stdout
            # every connection read every key: those on one worker read the
            # keys set through the other, on0 * on1 * KEYS of them each way
            assert res["cross"] == 2 * res["on0"] * res["on1"] * KEYS, out.stdout
            conns = CONNS
            if shutil.which("memcaslap"):
                conns += 64
                p = _ns(ns.name, "memcaslap", "-s", f"{GUEST_IP}:11211", "-T", "2",
                        "-c", "64", "-x", "20000", "-v", "1", "-d", "4", timeout=240)
                got = dict(re.findall(r"^(\w+): (\d+)$", p.stdout + p.stderr, re.M))
                assert p.returncode == 0 and got.get("verify_failed") == "0", \
                    f"memcaslap: {got} {p.stderr[-500:]}"
            # both queue pairs carried the connections' frames, and each
            # worker's own counters saw sets and hits
            end = time.monotonic() + 20
            while time.monotonic() < end:
                w = _worker_lines(g.log())
                if len(w) == 2 and all(x["sessions"] == 0 for x in w.values()) and \
                        sum(x["total"] for x in w.values()) >= conns:
                    break
                time.sleep(0.3)
            assert set(w) == {0, 1} and sum(x["total"] for x in w.values()) == conns, \
                f"{w} ({g.logfile})"
            for i, x in w.items():
                assert x["queue"] == i and x["rx"] > 0 and x["get_hits"] > 0 and \
                    x["cmd_set"] > 0 and x["total"] > 0, f"worker {i}: {x}"
            assert w[0]["cpu"] != w[1]["cpu"], w
            st = re.findall(r"kvd: stats sessions .*", g.log())[-1]
            assert all(v == "0" for v in re.findall(r"kvd_err_\w+ (\d+)", st)), st


def test_kvd_two_cores_rss():
    _kvd_two_cores("kvd-mq-rss", rss=True)


def test_kvd_two_cores_tap_steering():
    _kvd_two_cores("kvd-mq-tap", rss=False)
