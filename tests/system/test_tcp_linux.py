"""The user-space TCP against Linux's own TCP, over a tap device in a
throwaway network namespace, through a seeded shim that drops, duplicates
and reorders frames (this kernel has no netem).

The stack runs on the host: build/host/tcpecho is usr/tests/tcpecho
compiled with the real netif, vnet and net/ sources and tests/tap/tapdev.c,
which stands in for the kernel and the virtio-net device and carries the
shim. Linux's side is tests/system/tcpclient.py, run in the namespace.

make check moves 4 MB each way under 2 % loss, 1 % duplication and 2 %
reordering; MC_TCP_BIG=1 makes it 100 MB each way (about a minute here)."""
import os
import re
import shutil
import subprocess
import time

from harness import ROOT, Skip

TCPECHO = os.path.join(ROOT, "build/host/tcpecho")
CLIENT = os.path.join(ROOT, "tests/system/tcpclient.py")
HOST_IP, STACK_IP, MAC = "10.98.0.1", "10.98.0.2", "52:54:00:98:00:02"
TAP = "mctcp0"
LOSSY = {"TAPDEV_LOSS": "0.02", "TAPDEV_DUP": "0.01", "TAPDEV_REORDER": "0.02"}
IDLE = (r"tcpecho: stats conns 0 established 0 time_wait 0 rx_held 0 snd_bytes 0 "
        r"snd_chunks 0 sessions 0 echoed (\d+)")


def _need_root():
    if os.geteuid() != 0:
        raise Skip("needs root for network namespaces and tap devices")
    if not shutil.which("ip") or not os.path.exists("/dev/net/tun"):
        raise Skip("no iproute2 or /dev/net/tun here")
    if not os.path.exists("/usr/bin/python3"):
        raise Skip("no /usr/bin/python3")


class HostStack:
    """A namespace with a tap, and tcpecho built for the host attached to it."""

    def __init__(self, name, args="", env=None):
        self.ns = f"mc{os.getpid()}-{name}"
        self.logfile = os.path.join(ROOT, "build", "systest", name + ".log")
        self.args = args
        self.env = dict(os.environ, TAPDEV=TAP, TAPDEV_MAC=MAC, **(env or {}))
        self.proc = None

    def __enter__(self):
        os.makedirs(os.path.dirname(self.logfile), exist_ok=True)
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        for cmd in (["link", "set", "lo", "up"],
                    ["tuntap", "add", "dev", TAP, "mode", "tap"],
                    ["link", "set", TAP, "up"],
                    ["addr", "add", f"{HOST_IP}/24", "dev", TAP]):
            subprocess.run(["ip", "-n", self.ns, *cmd], check=True)
        self.start(self.args)
        return self

    def start(self, args):
        self.stop()
        self.log_fh = open(self.logfile, "a")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, TCPECHO, "--ip", STACK_IP, "--gw", HOST_IP,
             "--poll-us", "0", "--stats", "1", *args.split()],
            env=self.env, stdout=self.log_fh, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
        self.wait_for(r"tcpecho ready")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log_fh.close()
        self.proc = None

    def __exit__(self, *exc):
        self.stop()
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)

    def log(self):
        with open(self.logfile, errors="replace") as f:
            return f.read()

    def wait_for(self, pattern, timeout=60, after=0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = re.search(pattern, self.log()[after:])
            if m:
                return m
            if self.proc and self.proc.poll() is not None:
                break
            time.sleep(0.1)
        tail = "\n    ".join(self.log().splitlines()[-8:])
        raise AssertionError(f"{pattern!r} not in {self.logfile} within {timeout}s:\n    {tail}")

    def client(self, *args, timeout=300):
        p = subprocess.run(["ip", "netns", "exec", self.ns, "/usr/bin/python3", CLIENT,
                            *map(str, args)], capture_output=True, text=True, timeout=timeout)
        return (p.stdout.strip().splitlines() or [p.stderr.strip()])[-1]

    def wait_idle(self, min_echoed=0, timeout=30):
        """The latest stats line: no connection, nothing held, min_echoed echoed."""
        end = time.monotonic() + timeout
        last = None
        while time.monotonic() < end:
            lines = re.findall(r"tcpecho: stats conns .*", self.log())
            if lines:
                last = lines[-1]
                m = re.fullmatch(IDLE, last)
                if m and int(m.group(1)) >= min_echoed:
                    return last
            time.sleep(0.2)
        raise AssertionError(f"counters not back to zero within {timeout}s: {last}")

    def counters(self, kind):
        """The last 'tcpecho: stats KIND' line as a dict of name -> value."""
        lines = re.findall(rf"tcpecho: stats {kind} (.*)", self.log())
        return {k: int(v) for k, v in re.findall(r"([a-z_]+) (\d+)", lines[-1])} \
            if lines else {}


def test_linux_lossy_transfer():
    _need_root()
    size = 100_000_000 if os.environ.get("MC_TCP_BIG") else 4_000_000
    with HostStack("tcp-linux-lossy", env=dict(LOSSY, TAPDEV_SEED="12")) as st:
        out = st.client("echo", STACK_IP, 7, size, 5, timeout=900)
        assert out.startswith("ok"), out
        st.wait_idle(size)
        tcp = st.counters("tcp")
        assert tcp["retransmits"] > 0 and tcp["ooo"] > 0, f"no loss seen? {tcp}"


def test_linux_1000_connections():
    # A thousand connections open at once (the backlog of 128 spills into
    # SYN cookies), each echoing 3000 bytes, under 1 % loss and reordering.
    _need_root()
    env = {"TAPDEV_LOSS": "0.01", "TAPDEV_REORDER": "0.01", "TAPDEV_SEED": "3"}
    with HostStack("tcp-linux-1000", env=env) as st:
        out = st.client("many", STACK_IP, 7, 1000, 3000, timeout=600)
        if not out.startswith("ok 1000 connections"):
            time.sleep(1.5)  # the stack's counters, for the report
            raise AssertionError(out + "\n" + "\n".join(
                re.findall(r"tcpecho: stats (?:tcp|drop) .*", st.log())[-2:]))
        st.wait_idle(1000 * 3000, timeout=60)
        tcp = st.counters("tcp")
        assert tcp["accepted"] >= 1000, tcp


def test_linux_close_paths():
    # Every way a connection ends, against Linux, under loss; afterwards
    # nothing of any connection is left (TIME-WAIT shortened to 500 ms).
    _need_root()
    env = dict(LOSSY, TAPDEV_SEED="4")
    with HostStack("tcp-linux-close", "--time-wait-ms 500", env=env) as st:
        # Linux closes first (its FIN, our CLOSE-WAIT and LAST-ACK); half-close too.
        out = st.client("echo", STACK_IP, 7, 100000, 1)
        assert out.startswith("ok"), out
        # We close first (FIN-WAIT, TIME-WAIT).
        out = st.client("closefirst", STACK_IP, 8)
        assert out.startswith("ok"), out
        # We reset; Linux resets.
        out = st.client("reset", STACK_IP, 9)
        assert out == "ok ECONNRESET", out
        out = st.client("linger", STACK_IP, 7)
        assert out.startswith("ok"), out
        st.wait_idle(100000, timeout=30)
        tcp = st.counters("tcp")
        assert tcp["resets_rx"] >= 1 and tcp["resets_tx"] >= 1, tcp

        # Our active open and close, to Linux's server; then a refused one.
        srv = subprocess.Popen(["ip", "netns", "exec", st.ns, "/usr/bin/python3", CLIENT,
                                "serve", "5000", "1"], stdout=subprocess.PIPE, text=True)
        assert srv.stdout.readline().strip() == "listening"
        mark = len(st.log())
        st.start(f"--time-wait-ms 500 --connect {HOST_IP}:5000 --bytes 300000")
        m = st.wait_for(r"tcpecho: client sent (\d+) got (\d+) mismatches (\d+)", after=mark)
        assert m.groups() == ("300000", "300000", "0"), m.group(0)
        assert srv.wait(60) == 0 and srv.stdout.read().startswith("ok"), "Linux's server"
        st.wait_idle(0, timeout=30)
        mark = len(st.log())
        st.start(f"--connect {HOST_IP}:5001 --bytes 10")
        m = st.wait_for(r"tcpecho: client closed: error (-?\d+)", after=mark)
        assert m.group(1) == "-111", f"connect to a closed port: {m.group(0)}"  # ECONNREFUSED
        st.wait_idle(0, timeout=30)
