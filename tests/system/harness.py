"""Helpers for system tests: build images, boot them in QEMU, read results."""
import hashlib
import os
import subprocess
import threading

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

    def __init__(self, status, log, logfile):
        self.status = status
        self.log = log
        self.logfile = logfile

    def expect(self, *needles):
        for n in needles:
            assert n in self.log, f"{n!r} not in serial log {self.logfile}"

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
    p = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True)
    log = ""
    if os.path.exists(logfile):
        with open(logfile, errors="replace") as f:
            log = f.read().replace("\r\n", "\n")
    return Boot(p.returncode, log, logfile)
