"""kvd, the memcached-protocol engine (usr/kvd), driven by clients nobody
here wrote: memccapable, memcaslap and memcslap (Debian libmemcached-tools),
python3-pymemcache and python3-binary-memcached.

Until the guest has TCP these run against build/kvd-host, a TEST-ONLY
adapter (tests/kvd/kvd_host.c) that serves the real engine over Linux
sockets with epoll, one thread per simulated core sharing one store, built
with ASan and UBSan. Every test ends by stopping the server, which closes
all connections and audits that no item reference or arena byte outlived
them (kvd_store_audit)."""
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess

from harness import ROOT, Skip

KVD_HOST = os.path.join(ROOT, "build", "kvd-host")
CLIENTS = os.path.join(ROOT, "tests", "kvd", "clients.py")
DEBIAN_PY = "/usr/bin/python3"  # sees Debian's python3-* packages


class KvdHost:
    """build/kvd-host on a free loopback port, for a with-block."""

    def __init__(self, mem_mb=64, threads=2):
        self.args = [KVD_HOST, "-m", str(mem_mb), "-t", str(threads)]
        self.port = None

    def __enter__(self):
        if not os.access(KVD_HOST, os.X_OK):
            raise Skip("build/kvd-host not built (make check builds it)")
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 20)
        line = self.proc.stdout.readline() if ready else ""
        m = re.match(r"kvd-host ready port (\d+)", line)
        if not m:
            self.proc.kill()
            raise AssertionError(f"kvd-host did not start: {line!r} {self.proc.stderr.read()}")
        self.port = int(m.group(1))
        return self

    def __exit__(self, exc_type, exc, tb):
        self.proc.send_signal(signal.SIGTERM)
        try:
            out, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            if exc_type is None:
                raise AssertionError("kvd-host did not stop on SIGTERM")
        if exc_type is None:
            assert self.proc.returncode == 0 and "kvd-host clean" in out, (
                f"kvd-host exit {self.proc.returncode}: {out.strip()} {err.strip()[-2000:]}")
        return False

    def stats(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        s.sendall(b"stats\r\n")
        buf = b""
        while not buf.endswith(b"END\r\n"):
            d = s.recv(65536)
            assert d, "connection closed during stats"
            buf += d
        s.close()
        return {k: v for k, v in re.findall(r"STAT (\S+) (\S+)", buf.decode())}


def _need(tool):
    if not shutil.which(tool):
        raise Skip(f"{tool} missing (scripts/install-toolchain installs it)")


def _clients(check, port, seed=1, timeout=120):
    if not os.access(DEBIAN_PY, os.X_OK):
        raise Skip("no /usr/bin/python3")
    p = subprocess.run([DEBIAN_PY, CLIENTS, check, str(port), str(seed)],
                       capture_output=True, text=True, timeout=timeout)
    if "ModuleNotFoundError" in p.stderr:
        raise Skip(p.stderr.strip().splitlines()[-1])
    assert p.returncode == 0, f"{check}: {p.stdout}{p.stderr[-3000:]}"
    return p.stdout


def _no_refusals(st):
    bad = {k: v for k, v in st.items() if k.startswith("kvd_err_") and v != "0"}
    assert not bad, f"well-formed traffic counted as malformed: {bad}"


def test_memccapable_ascii_and_binary():
    _need("memccapable")
    with KvdHost() as k:
        p = subprocess.run(["memccapable", "-h", "127.0.0.1", "-p", str(k.port), "-t", "10"],
                           capture_output=True, text=True, timeout=120)
        out = p.stdout + p.stderr
        passed = re.findall(r"^(ascii|binary) .*\[pass\]$", out, re.M)
        assert p.returncode == 0 and "All tests passed" in out, out[-3000:]
        assert passed.count("ascii") >= 25 and passed.count("binary") >= 25, out
        assert "[FAIL]" not in out and "[skip]" not in out, out
        # memccapable sends "get", "delete a b c d e" ... on purpose: those
        # must be answered ERROR and counted, nothing else refused.
        st = k.stats()
        assert int(st.pop("kvd_err_unknown_command")) > 0, st
        _no_refusals(st)


def test_pymemcache_and_bmemcached_random_values():
    with KvdHost(mem_mb=256) as k:
        _clients("random", k.port, seed=random.randrange(1 << 30))
        st = k.stats()
        assert st["evictions"] == "0", "a 256 MiB cache evicted 100 MiB of data"
        _no_refusals(st)


def test_cas_race_two_clients():
    with KvdHost(threads=2) as k:
        _clients("cas-race", k.port)


def test_expiry_touch_gat_delayed_flush():
    with KvdHost() as k:
        _clients("expiry", k.port)


def test_eviction_under_small_budget():
    with KvdHost(mem_mb=4) as k:
        out = _clients("eviction", k.port, seed=7)
        assert "evictions" in out
        st = k.stats()
        assert int(st["bytes"]) <= 4 << 20 and int(st["evictions"]) > 0, st


def test_binary_client_operations():
    with KvdHost() as k:
        _clients("binary", k.port)


def test_memcaslap_verified_load_text_and_binary():
    _need("memcaslap")
    with KvdHost(threads=2) as k:
        for proto in ([], ["-B"]):
            args = ["memcaslap", "-s", f"127.0.0.1:{k.port}", "-T", "2", "-c", "128",
                    "-x", "40000", "-v", "1", "-d", "4", "-e", "0.05"] + proto
            p = subprocess.run(args, capture_output=True, text=True, timeout=120)
            out = p.stdout + p.stderr
            got = dict(re.findall(r"^(\w+): (\d+)$", out, re.M))
            assert p.returncode == 0 and "cmd_get" in got, out[-2000:]
            assert int(got["cmd_get"]) > 10000 and int(got["cmd_set"]) > 1000, got
            assert got["verify_failed"] == "0", f"memcaslap {proto}: {got}"
        st = k.stats()
        assert int(st["total_connections"]) >= 256, st
        _no_refusals(st)


def test_memcslap_many_connections():
    _need("memcslap")
    with KvdHost(threads=2) as k:
        before = int(k.stats()["cmd_set"])
        for extra in ([], ["--binary"]):
            for test in ("set", "get", "mget"):
                args = ["memcslap", f"--servers=127.0.0.1:{k.port}", "--concurrency=32",
                        "--execute-number=300", f"--test={test}"] + extra
                p = subprocess.run(args, capture_output=True, text=True, timeout=120)
                assert p.returncode == 0 and "Time total" in p.stdout, (
                    f"memcslap {test} {extra}: {p.stdout[-1000:]} {p.stderr[-1000:]}")
                assert "error" not in (p.stdout + p.stderr).lower(), p.stdout + p.stderr
        st = k.stats()
        assert int(st["cmd_set"]) - before >= 2 * 32 * 300, st
        assert int(st["get_hits"]) > 0, st
        _no_refusals(st)
