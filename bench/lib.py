"""Building blocks of the echo benchmark (bench/run.py) and its smoke test.

Python 3 standard library only. Everything runs on this machine: the guests
are QEMU processes inside a network namespace that this module creates and
removes, reached through a tap device in it; the clients run in the same
namespace. Without root, QEMU user networking with a forwarded host port is
the fallback (say so in the output: `Network.describe()`).

The pieces:
  Network(name)          netns + tap (or user networking), a context manager
  linux_guest(), dpdk_guest(), manticore_guest()   what to boot
  Qemu(guest, net, ...)  one boot with the common QEMU options, a context manager:
                         wait_ready(), cpu_seconds(), rss_kib(), guest_mem_kib()
  sockperf_pingpong()    latency (sockperf's avg, percentiles, per-sample log)
  echo_load()            throughput with a window of requests in flight
  idle_cpu()             QEMU's CPU time over an interval with no traffic
  udp_probe()            a few datagrams, checked byte by byte (smoke test)
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
CACHE = os.path.join(BENCH, "cache")
OUT = os.path.join(BENCH, "out")

# The one QEMU configuration every guest gets.
MEM_MB = 512
CPUS = 1
GUEST_MAC = "52:54:00:4d:43:02"
PORT = 7  # echod's default port; every guest serves it

# The tap network: host side and guest addresses.
TAP = "mctap0"
HOST_IP = "10.77.0.1"
GUEST_IP = "10.77.0.2"
PREFIX = 24
# QEMU user networking's fixed addresses (the fallback).
USER_GUEST_IP = "10.0.2.15"
USER_GW = "10.0.2.2"

ECHOD_ELF = os.path.join(ROOT, "usr", "echod", "build", "echod.elf")
KERNEL_ELF = os.path.join(ROOT, "kernel.elf")


# --rt (bench/run.py): QEMU and the clients run SCHED_FIFO, so that other work on
# the host (compilers, other test suites) cannot preempt them mid-measurement.
RT = []


def set_realtime(on):
    """Run what the benchmark starts under SCHED_FIFO priority 10, with the
    kernel's RT throttling off meanwhile (restored by the returned function)."""
    global RT
    if not on:
        RT = []
        return lambda: None
    path = "/proc/sys/kernel/sched_rt_runtime_us"
    with open(path) as f:
        old = f.read().strip()
    with open(path, "w") as f:
        f.write("-1")
    RT = ["chrt", "-f", "10"]

    def restore():
        with open(path, "w") as f:
            f.write(old)
    return restore


# --pin CPU (bench/run.py): QEMU's vCPU thread alone on host CPU CPU, its other
# threads and the clients on the remaining ones. Unpinned, the host places
# the three busy threads (vCPU, QEMU's I/O thread, client) as it likes, and a
# boot's latency depends on where they land.
PIN = None
CLIENT_CPUS = []


def set_pinning(cpu):
    """Pin from now on (cpu: the vCPU's host CPU), or not (None)."""
    global PIN, CLIENT_CPUS
    PIN = cpu
    CLIENT_CPUS = []
    if cpu is None:
        return
    others = sorted(os.sched_getaffinity(0) - {cpu})
    if cpu not in os.sched_getaffinity(0) or not others:
        raise BenchError(f"--pin {cpu}: this host has CPUs {sorted(os.sched_getaffinity(0))}; "
                         f"the vCPU needs one of them and the rest at least one more")
    CLIENT_CPUS = ["taskset", "-c", ",".join(map(str, others))]


def pin_qemu(pid):
    """Put QEMU's vCPU threads ('CPU n/TCG', -name debug-threads=on) on PIN
    and its other threads on the other CPUs."""
    others = os.sched_getaffinity(0) - {PIN}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                comm = f.read().strip()
            os.sched_setaffinity(int(tid), {PIN} if comm.startswith("CPU ") else others)
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that just ended


class BenchError(Exception):
    """Something the benchmark cannot go on without, with the reason."""


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def run(args, check=True, **kw):
    """subprocess.run with text output captured; raises BenchError on failure."""
    p = subprocess.run(args, capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise BenchError(f"{' '.join(args)} failed ({p.returncode}): "
                         f"{(p.stderr or p.stdout).strip()[-800:]}")
    return p


def is_root():
    return os.geteuid() == 0


# ------------------------------------------------------------------ tools

def apt_install(*pkgs):
    """Install Debian packages when root (quietly); False when not possible."""
    if not is_root() or not shutil.which("apt-get"):
        return False
    log(f"installing {' '.join(pkgs)} with apt-get")
    p = subprocess.run(["apt-get", "install", "-y", "-q", *pkgs], capture_output=True,
                       text=True, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    return p.returncode == 0


def ensure_sockperf():
    if not shutil.which("sockperf") and not apt_install("sockperf"):
        raise BenchError("sockperf is missing (apt-get install sockperf)")
    return shutil.which("sockperf")


def ensure_qemu():
    if not shutil.which("qemu-system-x86_64") and not apt_install("qemu-system-x86"):
        raise BenchError("qemu-system-x86_64 is missing (apt-get install qemu-system-x86)")


def _cached_build(source, name, flags):
    """bench/SOURCE compiled with gcc FLAGS into bench/cache/NAME, again when
    the source is newer; each build writes a temporary file of its own, so
    that tests running side by side (threads of one process included) cannot
    trip over one another."""
    src = os.path.join(BENCH, source)
    out = os.path.join(CACHE, name)
    if not os.path.exists(out) or os.path.getmtime(src) > os.path.getmtime(out):
        os.makedirs(CACHE, exist_ok=True)
        if not shutil.which("gcc") and not apt_install("gcc", "libc6-dev"):
            raise BenchError("gcc is missing (apt-get install gcc libc6-dev)")
        fd, tmp = tempfile.mkstemp(prefix=name + ".", suffix=".tmp", dir=CACHE)
        os.close(fd)
        try:
            run(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", *flags[0], "-o", tmp, src,
                 *flags[1]])
            os.chmod(tmp, 0o755)
            os.replace(tmp, out)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return out


def sockperf_shim():
    """bench/sockperf-shim.c as an LD_PRELOAD library (bench/cache): clears
    sockperf's client flag in what sockperf receives, so servers just echo."""
    return _cached_build("sockperf-shim.c", "sockperf-shim.so", (["-shared", "-fPIC"], ["-ldl"]))


def echo_load_binary():
    """bench/echo-load.c, built (again when the source is newer) in bench/cache."""
    return _cached_build("echo-load.c", "echo-load", ([], []))


def build_guest(kind, cached_only=False):
    """Run bench/<kind>/build.sh. With cached_only (DPDK), never download:
    returns False when the packages are not cached."""
    args = [os.path.join(BENCH, kind, "build.sh")]
    if cached_only:
        args.append("--cached")
    p = subprocess.run(args, capture_output=True, text=True)
    if cached_only and p.returncode == 3:
        return False
    if p.returncode != 0:
        raise BenchError(f"bench/{kind}/build.sh failed:\n{(p.stderr + p.stdout).strip()[-1500:]}")
    return True


# ---------------------------------------------------------------- network

class Network:
    """Where the guests and the clients meet.

    mode "tap": a network namespace NAME holding a tap device (TAP, host side
    HOST_IP/PREFIX) and a permanent neighbour entry for the guest's MAC, so no
    ARP is needed (testpmd's 5tswap would echo an ARP request, not answer it).
    QEMU and every client run inside the namespace (`ip netns exec`).
    mode "user": QEMU user networking, the guest's port forwarded from a free
    UDP port on 127.0.0.1; no root needed, but slirp sits on the data path.
    """

    def __init__(self, name=None, mode=None, multiqueue=False):
        # One namespace per run: two benchmarks at once must not tear down
        # each other's (the tap's name is per namespace).
        self.name = name or f"mcbench-{os.getpid()}"
        self.multiqueue = multiqueue  # a multi_queue tap (QEMU then needs queues > 1)
        if mode is None:
            mode = "tap" if is_root() and shutil.which("ip") and os.path.exists("/dev/net/tun") \
                else "user"
        self.mode = mode
        self.host_port = None
        self.active = False

    def describe(self):
        if self.mode == "tap":
            return (f"tap {TAP} in netns {self.name}: host {HOST_IP}/{PREFIX}, "
                    f"guest {GUEST_IP}:{PORT}")
        return (f"QEMU user networking, guest port {PORT} "
                f"forwarded from 127.0.0.1:{self.host_port}; slirp adds its own cost "
                f"to every figure")

    # The guest's view of the network.
    @property
    def guest_ip(self):
        return GUEST_IP if self.mode == "tap" else USER_GUEST_IP

    @property
    def gateway(self):
        return HOST_IP if self.mode == "tap" else USER_GW

    # Where clients send.
    @property
    def target(self):
        if self.mode == "tap":
            return GUEST_IP, PORT
        return "127.0.0.1", self.host_port

    def prefix(self):
        """Command prefix that runs a program inside the namespace."""
        return ["ip", "netns", "exec", self.name] if self.mode == "tap" else []

    def netdev(self):
        if self.mode == "tap":
            return f"tap,id=net0,ifname={TAP},script=no,downscript=no"
        return f"user,id=net0,hostfwd=udp:127.0.0.1:{self.host_port}-:{PORT}"

    def __enter__(self):
        if self.mode == "tap":
            self._remove()  # a namespace left by a run that was killed
            try:
                run(["ip", "netns", "add", self.name])
                self.active = True
                ns = ["ip", "netns", "exec", self.name]
                run(ns + ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                          "net.ipv6.conf.default.disable_ipv6=1"], check=False)
                run(ns + ["ip", "link", "set", "lo", "up"])
                run(ns + ["ip", "tuntap", "add", "dev", TAP, "mode", "tap"]
                    + (["multi_queue"] if self.multiqueue else []))
                run(ns + ["ip", "addr", "add", f"{HOST_IP}/{PREFIX}", "dev", TAP])
                run(ns + ["ip", "link", "set", TAP, "up"])
                run(ns + ["ip", "neigh", "replace", GUEST_IP, "lladdr", GUEST_MAC,
                          "dev", TAP, "nud", "permanent"])
            except BaseException:
                self._remove()
                raise
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            self.host_port = s.getsockname()[1]
            s.close()
        return self

    def __exit__(self, *exc):
        if self.mode == "tap":
            self._remove()
        return False

    def _remove(self):
        if subprocess.run(["ip", "netns", "pids", self.name], capture_output=True).returncode:
            self.active = False
            return  # no such namespace
        # Only processes this module started live in its namespace (QEMU, clients).
        pids = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True,
                              text=True).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        self.active = False


# ----------------------------------------------------------------- guests

class Guest:
    """What to boot. kind "iso" (a GRUB image) or "kernel" (QEMU's direct
    kernel boot: -kernel/-initrd/-append). ready: the serial line (regex) that
    says the echo server serves."""

    def __init__(self, key, label, ready, iso=None, kernel=None, initrd=None, append=None,
                 note="", cpus=CPUS, queues=1):
        self.key, self.label, self.ready = key, label, ready
        self.iso, self.kernel, self.initrd, self.append = iso, kernel, initrd, append
        self.note = note
        self.cpus, self.queues = cpus, queues  # vCPUs, NIC queue pairs
        self.rss = False  # the device steers flows by RSS (queues > 1)
        self.bios = None  # firmware other than QEMU's default SeaBIOS
        self.iommu = False  # a VT-d IOMMU in front of the NIC (Manticore+IOMMU)

    def media_args(self, net):
        if self.iso:
            return ["-boot", "d", "-cdrom", self.iso]
        append = self.append(net) if callable(self.append) else self.append
        return ["-kernel", self.kernel, "-initrd", self.initrd, "-append", append]


def linux_guest(extra="", label="Linux", key="linux"):
    """The Linux sockets guest; extra: more mc.* words for its /init."""
    d = os.path.join(CACHE, "linux")
    return Guest(
        key, label, r"echo ready",
        kernel=os.path.join(d, "vmlinuz"), initrd=os.path.join(d, "initrd.gz"),
        append=lambda net: (f"console=ttyS0 quiet panic=-1 mc.ip={net.guest_ip}/{PREFIX} "
                            f"mc.gw={net.gateway} mc.port={PORT} {extra}").strip(),
        note="Debian cloud kernel, busybox initramfs, udp-echo (recvmmsg/sendmmsg, batch 32)"
             + (f"; {extra}" if extra else ""))


def dpdk_guest(extra="", label="Linux+DPDK", key="dpdk"):
    """The Linux + DPDK guest; extra: more mc.* words for its /init."""
    d = os.path.join(CACHE, "dpdk")
    return Guest(
        key, label, r"Press enter to exit",
        kernel=os.path.join(d, "vmlinuz"), initrd=os.path.join(d, "initrd.gz"),
        append=f"console=ttyS0 quiet panic=-1 {extra}".strip(),
        note="same kernel, uio_pci_generic, dpdk-testpmd --forward-mode=5tswap"
             + (f"; {extra}" if extra else ""))


def echod_cmdline(net, manifest="net=eth0:0", extra=""):
    return (f"{manifest} echod --ip {net.guest_ip} --gw {net.gateway} --port {PORT} "
            f"{extra}").strip()


QBOOT = "/usr/share/qemu/qboot.rom"


def manticore_direct_guest(net, manifest="net=eth0:0", extra="", qboot=False):
    """Manticore through QEMU's direct kernel boot: kernel.elf's PVH entry,
    echod as the one module, its command line after ' -- '. None without
    the built files."""
    if not (os.path.exists(KERNEL_ELF) and os.path.exists(ECHOD_ELF)):
        return None
    if qboot and not os.path.exists(QBOOT):
        return None
    g = Guest("manticore", "Manticore (-kernel)", r"echod ready", kernel=KERNEL_ELF,
              initrd=ECHOD_ELF, append=lambda n: "-- " + echod_cmdline(n, manifest, extra),
              note="kernel.elf (PVH) + echod.elf as -initrd")
    g.bios = QBOOT if qboot else None
    return g


def manticore_guest(net, iso=None, manifest="net=eth0:0", extra="", label="Manticore",
                    key="manticore", out=None):
    """The Manticore guest: with iso, that image as it is; otherwise an ISO
    that scripts/mkiso assembles from the built kernel.elf and
    usr/echod/build/echod.elf with this network's echod command line
    (bench/out/<key>.iso, or out). Raises BenchError without the built files."""
    if iso:
        if not os.path.exists(iso):
            raise BenchError(f"no such image {iso}")
        return Guest(key, label, r"echod ready", iso=iso, note=f"{iso} as given")
    if not (os.path.exists(ECHOD_ELF) and os.path.exists(KERNEL_ELF)):
        raise BenchError("no kernel.elf or usr/echod/build/echod.elf (make; make -C usr/echod)")
    out = out or os.path.join(OUT, f"{key}.iso")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    cmd = echod_cmdline(net, manifest, extra)
    run([os.path.join(ROOT, "scripts", "mkiso"), "-s", "-o", out + ".tmp", KERNEL_ELF, ECHOD_ELF,
         cmd])
    os.replace(out + ".tmp", out)
    return Guest(key, label, r"echod ready", iso=out,
                 note=f"kernel.elf + echod.elf: '{cmd}'")


def manticore_iommu_guest(net, iso=None, extra=""):
    """The same Manticore guest on the same machine plus a VT-d IOMMU with
    interrupt remapping, the NIC's DMA through it (as scripts/run does)."""
    g = manticore_guest(net, iso, extra=extra)
    g.key, g.label, g.iommu = "manticore-iommu", "Manticore+IOMMU", True
    g.note += "; -device intel-iommu,intremap=on, iommu_platform=on"
    return g


# ------------------------------------------------------------------- QEMU

def accel_args(accel):
    if accel == "kvm":
        return ["-accel", "kvm", "-cpu", "host,-arch-capabilities"]
    return ["-accel", "tcg", "-cpu", "max"]


def qemu_args(guest, net, serial, accel="tcg", mem=MEM_MB):
    """The one command line: only the boot media differ between guests (and,
    in the multiqueue comparison, the vCPUs and queue pairs)."""
    netdev, nic = net.netdev(), ""
    if guest.queues > 1:  # a multiqueue tap and device; 1024-entry RX rings (scripts/run)
        netdev += f",queues={guest.queues}"
        nic = f",mq=on,vectors={2 * guest.queues + 2},rx_queue_size=1024"
        if guest.rss:
            nic += ",rss=on,hash=on"
    bios = ["-bios", guest.bios] if guest.bios else []
    # Manticore+IOMMU: the IOMMU before the NIC, so that the NIC is behind it
    # (KVM's interrupt remapping needs the split irqchip).
    iommu = ["-device", "intel-iommu,intremap=on"] if guest.iommu else []
    if guest.iommu:
        nic += ",iommu_platform=on"
    machine = "q35,kernel-irqchip=split" if guest.iommu and accel == "kvm" else "q35"
    return (["qemu-system-x86_64", "-name", "guest,debug-threads=on", "-machine", machine,
             *accel_args(accel), *bios, *iommu,
             "-m", str(mem), "-smp", str(guest.cpus), "-no-reboot",
             "-display", "none", "-vga", "none", "-monitor", "none",
             "-serial", f"file:{serial}",
             "-netdev", netdev,
             "-device", f"virtio-net-pci,netdev=net0,disable-legacy=on,page-per-vq=on,"
                        f"romfile=,mac={GUEST_MAC}{nic}",
             "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
            + guest.media_args(net))


class Qemu:
    """One boot of a guest. Use as a context manager: QEMU is killed on exit,
    whatever happened."""

    def __init__(self, guest, net, serial, accel="tcg", mem=MEM_MB):
        self.guest, self.net, self.serial = guest, net, serial
        self.args = net.prefix() + RT + qemu_args(guest, net, serial, accel, mem)
        self.proc = None
        self.t0 = None
        self._pos = 0
        self.text = ""

    def start(self):
        os.makedirs(os.path.dirname(self.serial) or ".", exist_ok=True)
        if os.path.exists(self.serial):
            os.unlink(self.serial)
        self.stderr_path = self.serial + ".qemu"
        err = open(self.stderr_path, "w")
        self.t0 = time.monotonic()
        # `ip netns exec` execs QEMU in place: self.proc.pid is QEMU's pid.
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=err,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        err.close()
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def read(self):
        """Serial output so far (CR LF made LF)."""
        try:
            with open(self.serial, "rb") as f:
                f.seek(self._pos)
                new = f.read()
        except FileNotFoundError:
            new = b""
        self._pos += len(new)
        self.text += new.decode(errors="replace").replace("\r\n", "\n")
        return self.text

    def tail(self, n=15):
        return "\n".join("    " + l for l in self.read().splitlines()[-n:])

    def wait_for(self, pattern, timeout):
        """Wait for pattern on the serial console; the match or None."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.read())
            if m:
                return m
            if self.proc.poll() is not None or time.monotonic() > deadline:
                return None
            time.sleep(0.002)

    def wait_ready(self, timeout=90):
        """Seconds from QEMU's start to the guest's ready line."""
        rx = re.compile(self.guest.ready)
        deadline = self.t0 + timeout
        while True:
            if rx.search(self.read()):
                secs = time.monotonic() - self.t0
                if PIN is not None:
                    pin_qemu(self.proc.pid)
                return secs
            if self.proc.poll() is not None:
                err = open(self.stderr_path).read().strip()[-500:]
                raise BenchError(f"{self.guest.label}: QEMU ended ({self.proc.returncode}) "
                                 f"before '{self.guest.ready}'\n{err}\n{self.tail()}")
            if time.monotonic() > deadline:
                raise BenchError(f"{self.guest.label}: no '{self.guest.ready}' within "
                                 f"{timeout} s; serial {self.serial}:\n{self.tail()}")
            time.sleep(0.002)

    def cpu_seconds(self):
        """utime + stime of QEMU (all its threads), from /proc/PID/stat."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5)
        return ticks / os.sysconf("SC_CLK_TCK")

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return None

    def guest_mem_kib(self, timeout=0):
        """The guest's own report, a serial line 'guest-mem: ... used_kib=N'
        (the Linux guests print one two seconds after they serve; echod may),
        or None."""
        m = self.wait_for(r"guest-mem:[^\n]*used_kib=(\d+)", timeout)
        return int(m.group(1)) if m else None


# ---------------------------------------------------------------- clients

_SOCKPERF_PCT = re.compile(r"percentile\s+([\d.]+)\s*=\s*([\d.]+)")


def sockperf_pingpong(net, size, seconds, full_log=None, mps=None):
    """sockperf ping-pong over UDP, full round trips (--full-rtt), in
    microseconds, through the client-side shim that clears sockperf's client
    flag (sockperf_shim). Returns avg, p50, p99, p999, min, max,
    observations, dropped and, with full_log, the samples."""
    exe = ensure_sockperf()
    ip, port = net.target
    args = net.prefix() + RT + CLIENT_CPUS + ["env", f"LD_PRELOAD={sockperf_shim()}",
                           exe, "ping-pong", "-i", ip, "-p", str(port), "-m", str(size),
                           "-t", str(seconds), "--full-rtt"]
    if mps:
        args += ["--mps", str(mps)]
    if full_log:
        args += ["--full-log", full_log]
    p = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60)
    out = re.sub(r"\x1b\[[0-9;]*m", "", p.stdout + p.stderr)
    res = {"size": size, "seconds": seconds}
    m = re.search(r"avg-(?:rtt|latency)=([\d.]+)", out)
    if not m:
        raise BenchError(f"sockperf gave no latency (exit {p.returncode}); no replies "
                         f"accepted?\n{out.strip()[-1200:]}")
    res["avg"] = float(m.group(1))
    pct = {float(a): float(b) for a, b in _SOCKPERF_PCT.findall(out)}
    res["p50"], res["p99"], res["p999"] = pct.get(50.0), pct.get(99.0), pct.get(99.9)
    m = re.search(r"<MAX> observation\s*=\s*([\d.]+)", out)
    res["max"] = float(m.group(1)) if m else None
    m = re.search(r"<MIN> observation\s*=\s*([\d.]+)", out)
    res["min"] = float(m.group(1)) if m else None
    m = re.search(r"Total (\d+) observations", out)
    res["observations"] = int(m.group(1)) if m else None
    m = re.search(r"# dropped messages = (\d+)", out)
    res["dropped"] = int(m.group(1)) if m else None
    if full_log:
        res["samples"] = read_full_log(full_log)
    return res


def read_full_log(path):
    """Per-sample round trips (µs) from sockperf --full-log (with --full-rtt)."""
    samples = []
    rx = re.compile(r"^\s*\d+\s*,\s*[\d.]+\s*,\s*[\d.]+\s*,\s*([\d.]+)\s*$")
    try:
        with open(path) as f:
            for line in f:
                m = rx.match(line)
                if m:
                    samples.append(float(m.group(1)))
    except FileNotFoundError:
        pass
    return samples


def echo_load(net, window, size=64, seconds=5, warmup=0.5, timeout_ms=200, flows=1):
    """bench/echo-load with WINDOW requests in flight over FLOWS sockets;
    dict of its figures."""
    exe = echo_load_binary()
    ip, port = net.target
    args = net.prefix() + RT + CLIENT_CPUS + [exe, "-a", ip, "-p", str(port), "-w", str(window),
                           "-s", str(size), "-t", str(seconds), "-W", str(warmup),
                           "-T", str(timeout_ms), "-f", str(flows)]
    p = run(args, timeout=seconds + warmup + 30)
    res = {}
    for k, v in re.findall(r"(\w+)=([\d.]+)", p.stdout):
        res[k] = float(v) if "." in v else int(v)
    if "rate" not in res:
        raise BenchError(f"echo-load printed no rate: {p.stdout} {p.stderr}")
    return res


def idle_cpu(q, seconds=10):
    """QEMU's CPU time over `seconds` with no traffic, as % of one core."""
    c0, t0 = q.cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    c1, t1 = q.cpu_seconds(), time.monotonic()
    return 100.0 * (c1 - c0) / (t1 - t0)


_PROBE = r"""
import socket, sys
ip, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2.0)
ok = 0
for i in range(n):
    # 20+ bytes, byte 9 with sockperf's client bit (bit 0) set: an echo
    # server sends it back as it is (the client clears it: sockperf-shim.c).
    msg = bytes([0x4d, 0x43, i & 0xff, 0, 0, 0, 0, 0, 0, 0x81]) + b"probe-%03d-" % i + bytes(range(i % 50))
    want = msg
    for attempt in range(3):
        s.sendto(msg, (ip, port))
        try:
            data, addr = s.recvfrom(2048)
        except socket.timeout:
            continue
        if data == want:
            ok += 1
            break
        print("bad reply %r for %r" % (data, msg))
        break
print("probe-ok %d/%d" % (ok, n))
"""


def udp_probe(net, count=5):
    """Send `count` datagrams from the host side; how many came back exactly
    as sent. Returns (ok, output)."""
    ip, port = net.target
    py = shutil.which("python3") or sys.executable
    p = subprocess.run(net.prefix() + [py, "-c", _PROBE, ip, str(port), str(count)],
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"probe-ok (\d+)/", p.stdout)
    return (int(m.group(1)) if m else 0), (p.stdout + p.stderr).strip()


def install_signal_cleanup():
    """Make SIGTERM and SIGHUP unwind like Ctrl-C, so that every context
    manager (QEMU, the namespace) cleans up."""
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, handler)
