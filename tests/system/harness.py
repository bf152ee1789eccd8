"""Helpers for system tests: build images, boot them in QEMU, read results."""
import hashlib
import os
import re
import socket
import subprocess
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORK = os.path.join(ROOT, "build", "systest")
KERNEL = os.path.join(ROOT, "kernel.elf")

# QEMU's status for each isa-debug-exit code (kernel/power.h): (code << 1) | 1
EXIT_PASS = 33
EXIT_FAIL = 35
EXIT_PANIC = 37
EXIT_TIMEOUT = 124

_iso_lock = threading.Lock()


class Skip(Exception):
    """Raised (or returned) by a test that cannot run here, with the reason."""


def iso(cmdline="", modules=()):
    """Build (once) an ISO of the kernel with this command line and modules,
    given as (path, argv-string) pairs; returns its path."""
    os.makedirs(WORK, exist_ok=True)
    cmdline = ("debugexit " + cmdline).strip()  # verdicts via isa-debug-exit
    key = hashlib.sha1()
    for path in [KERNEL] + [m[0] for m in modules]:
        with open(path, "rb") as f:
            key.update(f.read())
    key.update(repr((cmdline, list(modules))).encode())
    out = os.path.join(WORK, key.hexdigest()[:16] + ".iso")
    with _iso_lock:
        if not os.path.exists(out):
            args = [os.path.join(ROOT, "scripts/mkiso"), "-o", out + ".tmp",
                    "-c", cmdline, KERNEL]
            for path, argv in modules:
                args += [path, argv]
            subprocess.run(args, check=True)
            os.rename(out + ".tmp", out)
    return out


class Boot:
    """A finished QEMU run: its exit status and the serial log."""

    def __init__(self, status, log, logfile, stderr=""):
        self.status = status
        self.log = log
        self.logfile = logfile
        self.stderr = stderr

    def expect(self, *needles):
        for n in needles:
            assert n in self.log, (f"{n!r} not in serial log {self.logfile} "
                                   f"(QEMU status {self.status}{'; ' + self.stderr if self.stderr else ''})")

    def expect_status(self, want):
        assert self.status == want, (
            f"QEMU exit status {self.status}, wanted {want}; log {self.logfile}\n"
            + "\n".join("    " + l for l in self.log.splitlines()[-15:]))


def boot_direct(module, cmdline, name, **kw):
    """Boot kernel.elf directly (PVH) with one module; cmdline is the kernel's,
    then " -- " and the module's manifest and argv."""
    extra = list(kw.pop("extra", ())) + ["--append", ("debugexit " + cmdline).strip()]
    if module:
        extra += ["--module", module]
    return boot(KERNEL, name, extra=extra, **kw)


def boot(image, name, timeout=60, mem=256, cpus=2, net="none", extra=()):
    """Boot image under TCG with isa-debug-exit; wait for QEMU to end."""
    os.makedirs(WORK, exist_ok=True)
    logfile = os.path.join(WORK, name + ".log")
    if os.path.exists(logfile):
        os.unlink(logfile)
    args = [os.path.join(ROOT, "scripts/run"), "--test", "--tcg", "-m", str(mem),
            "-c", str(cpus), "-n", net, "--serial", logfile,
            "--timeout", str(timeout), *extra, image]
    if net == "user":  # a port of its own: other boots may run at the same time
        args[1:1] = ["-p", f"{free_port()}:7"]
    p = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True)
    log = ""
    if os.path.exists(logfile):
        with open(logfile, errors="replace") as f:
            log = f.read().replace("\r\n", "\n")
    err = p.stderr.decode(errors="replace").strip().splitlines()
    err = "; ".join(l for l in err if not l.startswith("run: "))
    if log and not log.endswith("\n"):
        log += "\n"
    return Boot(p.returncode, log, logfile, err)


def free_port():
    """A host UDP and TCP port nobody uses right now."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            try:
                t.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue


class Guest:
    """A QEMU guest that runs while the test talks to it. Use as a context
    manager; the serial log is read with log() and wait_for()."""

    def __init__(self, image, name, net="user", mem=256, cpus=2, timeout=300,
                 prefix=(), extra=()):
        os.makedirs(WORK, exist_ok=True)
        self.logfile = os.path.join(WORK, name + ".log")
        if os.path.exists(self.logfile):
            os.unlink(self.logfile)
        self.port = free_port() if net == "user" else None
        args = [*prefix, os.path.join(ROOT, "scripts/run"), "--test", "--tcg",
                "-m", str(mem), "-c", str(cpus), "-n", net, "--serial", self.logfile,
                "--timeout", str(timeout), *extra]
        if self.port:
            args += ["-p", f"{self.port}:7"]
        self.errfile = self.logfile + ".stderr"
        with open(self.errfile, "w") as err:
            self.proc = subprocess.Popen(args + [image], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read().replace("\r\n", "\n")
        except FileNotFoundError:
            return ""

    def wait_for(self, pattern, timeout=60):
        """Wait until the serial log matches the regex; returns the match."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = re.search(pattern, self.log())
            if m:
                return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        tail = "\n".join("    " + l for l in self.log().splitlines()[-12:])
        with open(self.errfile, errors="replace") as f:
            err = f.read().strip()
        raise AssertionError(f"{pattern!r} not in {self.logfile} within {timeout}s\n{tail}"
                             + (f"\n    QEMU: {err}" if err else ""))

    def wait_exit(self, timeout=60):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"QEMU did not exit within {timeout}s; log {self.logfile}")


def udp_roundtrips(port, payloads, burst=8, host="127.0.0.1", timeout=3.0):
    """Send payloads in bursts of `burst` outstanding datagrams and collect the
    replies; returns the list of payloads that did not come back unchanged."""
    missing = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.connect((host, port))
        for i in range(0, len(payloads), burst):
            chunk = payloads[i:i + burst]
            for p in chunk:
                s.send(p)
            want = list(chunk)
            try:
                while want:
                    r = s.recv(65536)
                    if r in want:
                        want.remove(r)
            except socket.timeout:
                pass
            missing += want
    return missing
