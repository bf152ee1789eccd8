"""kvd, the memcached-protocol engine (usr/kvd), driven by clients nobody
here wrote: memccapable, memcaslap and memcslap (Debian libmemcached-tools),
python3-pymemcache and python3-binary-memcached.

Until the guest has TCP these run against build/kvd-host, a TEST-ONLY
adapter (tests/kvd/kvd_host.c) that serves the real engine over Linux
sockets with epoll, one thread per simulated core sharing one store, built
with ASan and UBSan. Every test ends by stopping the server, which closes
all connections and audits that no item reference or arena byte outlived
them (kvd_store_audit)."""
import concurrent.futures
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time

from harness import EXIT_PASS, ROOT, Skip, boot, free_port, iso

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


def _clients(check, port, seed=1, timeout=120, extra=()):
    if not os.access(DEBIAN_PY, os.X_OK):
        raise Skip("no /usr/bin/python3")
    p = subprocess.run([DEBIAN_PY, CLIENTS, check, str(port), str(seed), *extra],
                       capture_output=True, text=True, timeout=timeout)
    if "ModuleNotFoundError" in p.stderr:
        raise Skip(p.stderr.strip().splitlines()[-1])
    assert p.returncode == 0, f"{check}: {p.stdout}{p.stderr[-3000:]}"
    return p.stdout


def _no_refusals(st):
    bad = {k: v for k, v in st.items() if k.startswith("kvd_err_") and v != "0"}
    assert not bad, f"well-formed traffic counted as malformed: {bad}"


def _memccapable(port, timeout, where=""):
    """Run memccapable against port with verbose failures: every ASCII and
    binary test must pass. A failure names the tests that did not pass and
    the assertion memccapable printed for each."""
    p = subprocess.run(["memccapable", "-v", "-h", "127.0.0.1", "-p", str(port),
                        "-t", str(timeout)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout * 15)
    out = p.stdout
    passed = re.findall(r"^(ascii|binary) .*\[pass\]$", out, re.M)
    bad = [l for l in out.splitlines() if l.strip() and not l.endswith("[pass]")]
    assert p.returncode == 0 and "All tests passed" in out, \
        f"memccapable exit {p.returncode}; lines other than [pass]: {bad} {where}"
    assert "[FAIL]" not in out and "[skip]" not in out, out
    assert passed.count("ascii") >= 25 and passed.count("binary") >= 25, out


def test_memccapable_ascii_and_binary():
    _need("memccapable")
    with KvdHost() as k:
        _memccapable(k.port, 10)
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


KVDCHECK = os.path.join(ROOT, "usr", "kvd", "build", "kvdcheck.elf")


def test_guest_engine_on_manticore_runtime():
    # The same engine inside a Manticore process: item memory from
    # vmspace_alloc, first within its --mem budget, then with a budget larger
    # than the manifest's mem= leaves, where vmspace_alloc's refusal caps it.
    for name, manifest in (("kvd-check", "mem=32M kvdcheck --mem 8"),
                           ("kvd-check-mem", "mem=12M kvdcheck --mem 64")):
        b = boot(iso("", [(KVDCHECK, manifest)]), name)
        b.expect("kvdcheck: PASS", "pid 1 (kvdcheck) exited with status 0")
        b.expect_status(EXIT_PASS)
        m = re.search(r"kvdcheck: (\d+) sets of 100 KB, (\d+) evictions, arena (\d+) regions", b.log)
        assert m and int(m.group(2)) > 0, b.logfile
        if manifest.startswith("mem=12M"):
            assert int(m.group(3)) < 12, f"arena grew past the manifest's budget: {m.group(0)}"


class Memcached:
    """Debian's memcached 1.6 on a free loopback port: the reference."""

    def __enter__(self):
        _need("memcached")
        self.port = free_port()
        args = ["memcached", "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", "-m", "64"]
        if os.geteuid() == 0:
            args += ["-u", "root"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise AssertionError(f"memcached exited: {self.proc.stderr.read()}")
                time.sleep(0.05)
        raise AssertionError("memcached did not start")

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        return False


def test_replies_match_memcached():
    # The same requests, most of them malformed, in the same order to kvd and
    # to memcached itself: every reply must be the same bytes (CAS values,
    # TTLs and the version string aside).
    sys.path.insert(0, os.path.join(ROOT, "tests", "kvd"))
    import corpus

    def both(req, binary=False):
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            a = pool.submit(corpus.exchange, mc.port, req, binary)
            b = pool.submit(corpus.exchange, k.port, req, binary)
            return a.result(), b.result()

    with Memcached() as mc, KvdHost() as k:
        diffs = []
        for req in corpus.TEXT:
            want, got = map(corpus.normal_text, both(req))
            if got != want:
                diffs.append(f"{req[:80]!r}: memcached {want[:200]!r} kvd {got[:200]!r}")
        for req in corpus.BINARY:
            want, got = map(corpus.normal_binary, both(req, True))
            if got != want:
                diffs.append(f"binary {req[:40].hex()}: memcached {want!r:.300} kvd {got!r:.300}")
        assert not diffs, f"{len(diffs)} of {len(corpus.TEXT) + len(corpus.BINARY)} differ:\n" + \
            "\n".join(diffs[:10])


def _junk(rng):
    """One hostile request: random bytes, or a real command broken somewhere."""
    valid = [b"set k%d 0 0 5\r\nhello\r\n", b"get k%d k1 k2\r\n", b"incr k%d 1\r\n",
             b"ms k%d 3 T10 F1 c\r\nabc\r\n", b"mg k%d v c f t k\r\n", b"md k%d I T1\r\n",
             b"ma k%d N0 J5 v\r\n", b"gat 10 k%d\r\n", b"cas k%d 0 0 1 99\r\nx\r\n"]
    r = rng.random()
    if r < 0.2:
        return rng.randbytes(rng.randint(1, 3000))
    if r < 0.4:  # a binary header with random fields, a random body
        return bytes([0x80, rng.randrange(256)]) + rng.randbytes(22) + \
            rng.randbytes(rng.randint(0, 600))
    req = bytearray(rng.choice(valid) % rng.randrange(100))
    for _ in range(rng.randint(1, 4)):
        if not req:
            break
        op = rng.randrange(4)
        i = rng.randrange(len(req))
        if op == 0:
            req[i] = rng.randrange(256)
        elif op == 1:
            del req[i:i + rng.randint(1, 5)]
        elif op == 2:
            req[i:i] = rng.choice([b" ", b"\r\n", b"99999999999", b"-1", b"\x00", b"noreply"])
        else:
            req = req[:i]  # cut short, then the connection closes
    return bytes(req)


def test_hostile_input_keeps_serving():
    # Garbage and broken commands on many connections while a client checks
    # its own data: the server answers it throughout, counts the refusals,
    # and at exit no connection's memory has outlived it.
    rng = random.Random(12)
    with KvdHost(mem_mb=8, threads=2) as k:
        good = socket.create_connection(("127.0.0.1", k.port), timeout=10)
        for round_ in range(40):
            socks = []
            for _ in range(16):
                s = socket.create_connection(("127.0.0.1", k.port), timeout=10)
                try:
                    s.sendall(b"".join(_junk(rng) for _ in range(rng.randint(1, 8))))
                except OSError:
                    pass
                socks.append(s)
            val = b"%d" % rng.randrange(1 << 40)
            good.sendall(b"set mine 0 0 %d\r\n%s\r\nget mine\r\n" % (len(val), val))
            want = b"STORED\r\nVALUE mine 0 %d\r\n%s\r\nEND\r\n" % (len(val), val)
            got = b""
            while len(got) < len(want):
                d = good.recv(4096)
                assert d, "the well-behaved connection was closed"
                got += d
            assert got == want, f"round {round_}: {got!r}"
            for s in socks:
                s.close()
        good.close()
        st = k.stats()
        refused = sum(int(v) for n, v in st.items() if n.startswith("kvd_err_"))
        assert refused > 100, f"junk was not counted: {st}"
        assert int(st["curr_connections"]) <= 2 + 32, st


# ---------------------------------------------------------------- the guest server
# usr/kvd/kvd.c serves the engine over netif's TCP; it is built once the stack
# has TCP (usr/lib/net/tcp.h), and these tests skip until then.

KVD_GUEST = os.path.join(ROOT, "usr", "kvd", "build", "kvd.elf")


def _guest(name, manifest):
    if not os.access(KVD_GUEST, os.X_OK):
        raise Skip("usr/kvd/build/kvd.elf not built: the stack has no TCP here yet")
    from harness import Guest
    g = Guest(iso("", [(KVD_GUEST, f"net=eth0:0 {manifest} --port 7 --stats 1")]), name)
    return g


def _guest_idle(g, timeout=60):
    """kvd's stats (printed every second) once a line shows traffic done and
    every session gone, as a dict."""
    end = time.monotonic() + timeout
    st = {}
    while time.monotonic() < end:
        lines = re.findall(r"kvd: stats (.*)", g.log())
        if lines:
            st = dict(zip(lines[-1].split()[::2], lines[-1].split()[1::2]))
            if st["sessions"] == "0" and st["curr_connections"] == "1" and \
                    st["cmd_set"] != "0":
                return st
        time.sleep(0.3)
    raise AssertionError(f"kvd not idle after its clients: {st}")


def _path_wakeups(g):
    """The wakeups counter of kvd's latest `kvd: stats path` line."""
    lines = re.findall(r"kvd: stats path .*\bwakeups (\d+)", g.log())
    return int(lines[-1]) if lines else None


def _spaced_requests(port, n, gap_s):
    """n set+get exchanges on one connection, gap_s apart, each checked."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        for i in range(n):
            s.sendall(b"set p%d 0 0 3\r\n%03d\r\nget p%d\r\n" % (i, i, i))
            want = b"STORED\r\nVALUE p%d 0 3\r\n%03d\r\nEND\r\n" % (i, i)
            got = b""
            while len(got) < len(want):
                d = s.recv(4096)
                assert d, "kvd closed the connection"
                got += d
            assert got == want, f"request {i}: {got!r}"
            time.sleep(gap_s)


def _wakeups_over(g, n, gap_s):
    """How many times kvd slept and woke while n spaced requests ran."""
    g.wait_for(r"kvd: stats path")
    before = _path_wakeups(g)
    _spaced_requests(g.port, n, gap_s)
    seen = g.log().count("kvd: stats path")
    end = time.monotonic() + 30
    while g.log().count("kvd: stats path") <= seen:  # a line printed after the last reply
        assert time.monotonic() < end, "kvd printed no stats after the requests"
        time.sleep(0.1)
    return _path_wakeups(g) - before


def test_guest_poll_window():
    """--poll-us sets how long a worker polls before it sleeps: with 0 every
    request spaced 20 ms apart finds it asleep and the interrupt wakes it
    (and each is answered); with 10 s it never sleeps in the run."""
    n = 30
    with _guest("kvd-guest-poll0", "mem=32M kvd -m 4 --poll-us 0") as g:
        g.wait_for(r"kvd ready")
        woke = _wakeups_over(g, n, 0.02)
        assert woke >= n, f"--poll-us 0: {woke} wake-ups for {n} spaced requests"
    with _guest("kvd-guest-poll10s", "mem=32M kvd -m 4 --poll-us 10000000") as g:
        g.wait_for(r"kvd ready")
        woke = _wakeups_over(g, n, 0.02)
        assert woke == 0, f"--poll-us 10000000: {woke} wake-ups while polling"


def test_guest_memccapable():
    _need("memccapable")
    with _guest("kvd-guest-capable", "mem=64M kvd -m 16") as g:
        g.wait_for(r"kvd ready")
        _memccapable(g.port, 20, f"kvd log {g.logfile}")


def test_guest_clients_random_cas_binary():
    with _guest("kvd-guest-clients", "mem=200M kvd -m 160") as g:
        g.wait_for(r"kvd ready")
        _clients("random", g.port, seed=random.randrange(1 << 30), timeout=300,
                 extra=["--small"])
        _clients("cas-race", g.port)
        _clients("binary", g.port)
        st = _guest_idle(g)
        assert all(v == "0" for k, v in st.items() if k.startswith("kvd_err_")), st


def test_guest_expiry_and_verified_load():
    _need("memcaslap")
    with _guest("kvd-guest-load", "mem=64M kvd -m 32") as g:
        g.wait_for(r"kvd ready")
        _clients("expiry", g.port, extra=["--no-wallclock"])
        # No eviction here: memcaslap counts a binary miss as a failed verification.
        args = ["memcaslap", "-s", f"127.0.0.1:{g.port}", "-T", "2", "-c", "64",
                "-x", "8000", "-v", "1", "-d", "4"]
        for proto in ([], ["-B"]):
            p = subprocess.run(args + proto, capture_output=True, text=True, timeout=300)
            got = dict(re.findall(r"^(\w+): (\d+)$", p.stdout + p.stderr, re.M))
            assert p.returncode == 0 and got.get("verify_failed") == "0", \
                f"memcaslap {proto}: {got} {p.stderr[-500:]}"
        st = _guest_idle(g)
        assert all(v == "0" for k, v in st.items() if k.startswith("kvd_err_")), st


def test_guest_eviction():
    with _guest("kvd-guest-evict", "mem=32M kvd -m 4") as g:
        g.wait_for(r"kvd ready")
        _clients("eviction", g.port, seed=3, timeout=300)
        st = _guest_idle(g)
        assert int(st["evictions"]) > 0 and int(st["bytes"]) <= 4 << 20, st


def test_guest_replies_match_memcached_and_hostile_input():
    sys.path.insert(0, os.path.join(ROOT, "tests", "kvd"))
    import corpus

    guest = _guest("kvd-guest-corpus", "mem=64M kvd -m 16")  # skips before memcached starts
    with Memcached() as mc, guest as g:
        g.wait_for(r"kvd ready")
        diffs = []
        for req in corpus.TEXT:
            want = corpus.normal_text(corpus.exchange(mc.port, req))
            got = corpus.normal_text(corpus.exchange(g.port, req))
            if got != want:
                diffs.append(f"{req[:80]!r}: memcached {want[:200]!r} kvd {got[:200]!r}")
        for req in corpus.BINARY:
            want = corpus.normal_binary(corpus.exchange(mc.port, req, True))
            got = corpus.normal_binary(corpus.exchange(g.port, req, True))
            if got != want:
                diffs.append(f"binary {req[:40].hex()}: memcached {want!r:.300} kvd {got!r:.300}")
        assert not diffs, f"{len(diffs)} differ:\n" + "\n".join(diffs[:10])
        # then garbage on many connections while one client checks its data
        rng = random.Random(5)
        good = socket.create_connection(("127.0.0.1", g.port), timeout=20)
        for round_ in range(10):
            socks = []
            for _ in range(8):
                s = socket.create_connection(("127.0.0.1", g.port), timeout=20)
                try:
                    s.sendall(b"".join(_junk(rng) for _ in range(rng.randint(1, 8))))
                except OSError:
                    pass
                socks.append(s)
            good.sendall(b"set mine 0 0 2\r\n%02d\r\nget mine\r\n" % round_)
            want = b"STORED\r\nVALUE mine 0 2\r\n%02d\r\nEND\r\n" % round_
            got = b""
            while len(got) < len(want):
                d = good.recv(4096)
                assert d, "the well-behaved connection was closed"
                got += d
            assert got == want, f"round {round_}: {got!r}"
            for s in socks:
                s.close()
        good.close()
        st = _guest_idle(g)
        assert int(st["kvd_err_unknown_command"]) > 0, st
