#!/usr/bin/env python3
"""Where kvd's latency at a fixed open-loop rate goes: one boot, several runs.

    bench/kv-tail.py                          # 2,000 req/s, 4 runs of 3 s
    bench/kv-tail.py --kvd-args "--poll-us 0" --rt --tap
    bench/kv-tail.py --rate 500 --runs 2 --get 1.0 --size 1024

Boots kvd as bench/kv.py does (one core and queue pair on the bench tap),
preloads the keys, then per run prints kv-load's percentiles (from when
each request was due to its reply, µs), the host's busy, idle and steal
seconds, the CPU seconds of each QEMU thread and of kv-load, and with
--stats the counters of kvd's `kvd: stats path` line that moved (wake-ups,
retransmissions ...). --tap adds the server's share, seen at the tap with
kernel timestamps (bench/tap-latency.py): request in to reply out, which
leaves the client's own stack and scheduling out. --rt runs QEMU and
kv-load under SCHED_FIFO as bench/run.py --rt does. Root (the tap).
"""
import argparse
import os
import re
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
import kv  # noqa: E402
import lib  # noqa: E402


def thread_cpu(pid):
    """CPU seconds of each thread of pid, by 'name/tid'."""
    out = {}
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/stat") as f:
                s = f.read()
        except (FileNotFoundError, ProcessLookupError):
            continue
        fields = s.rsplit(")", 1)[1].split()
        out[f"{s[s.index('(') + 1:s.rindex(')')]}/{t}"] = \
            (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def host_cpu():
    """The first line of /proc/stat, in seconds."""
    with open("/proc/stat") as f:
        return [int(x) / os.sysconf("SC_CLK_TCK") for x in f.readline().split()[1:]]


def path_stats(text):
    lines = re.findall(r"kvd: stats path (.*)", text)
    words = lines[-1].split() if lines else []
    return {k: int(v) for k, v in zip(words[::2], words[1::2])}


def one_run(args, net, q):
    st0, th0, h0 = path_stats(q.read()), thread_cpu(q.proc.pid), host_cpu()
    c0 = os.times()
    sniff = None
    if args.tap:
        sniff = subprocess.Popen(net.prefix() + [sys.executable,
                                                 os.path.join(BENCH, "tap-latency.py"),
                                                 lib.TAP, str(args.seconds + 1.0)],
                                 stdout=subprocess.PIPE, text=True)
        time.sleep(0.3)
    res = kv.kv_load(net, "open", args.seconds, r=args.rate, c=args.conns, g=args.get,
                     s=args.size, k=kv.KEYS)
    c1, h1 = os.times(), host_cpu()
    time.sleep(1.2 if args.stats else 0.2)  # the next stats line
    st1, th1 = path_stats(q.read()), thread_cpu(q.proc.pid)
    d = [b - a for a, b in zip(h0, h1)]
    cpu = {}
    for k in th1:
        if th1[k] - th0.get(k, 0) > 0.05:
            name = k.rsplit("/", 1)[0]
            cpu[name] = round(cpu.get(name, 0) + th1[k] - th0.get(k, 0), 2)
    cpu["kv-load"] = round(c1.children_user + c1.children_system
                           - c0.children_user - c0.children_system, 2)
    print(f"rate {res['rate']:.0f}/s: p50 {res['p50_us']:.0f} p90 {res['p90_us']:.0f} "
          f"p99 {res['p99_us']:.0f} p999 {res['p999_us']:.0f} max {res['max_us']:.0f} µs",
          flush=True)
    if sniff:
        print("  " + sniff.communicate()[0].strip(), flush=True)
    print(f"  host busy {sum(d[:3]) + sum(d[5:7]):.2f} idle {d[3]:.2f} steal {d[7]:.2f} s; "
          f"CPU s {cpu}", flush=True)
    moved = {k: v - st0.get(k, 0) for k, v in st1.items() if v != st0.get(k, 0)}
    if moved:
        print(f"  kvd path counters moved (the run and up to a second around it): {moved}",
              flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kvd-args", default="", help="extra kvd options, e.g. '--poll-us 0'")
    ap.add_argument("--rate", type=float, default=2000.0, help="requests per second (2000)")
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=3.0, help="measured seconds per run")
    ap.add_argument("--get", type=float, default=0.9, help="GET fraction (0.9)")
    ap.add_argument("--size", type=int, default=64, help="value bytes (64)")
    ap.add_argument("--conns", type=int, default=kv.CONNS)
    ap.add_argument("--rt", action="store_true", help="QEMU and kv-load under SCHED_FIFO")
    ap.add_argument("--tap", action="store_true", help="the server's share, seen at the tap")
    ap.add_argument("--stats", action="store_true",
                    help="kvd --stats 1 (its console lines cost the guest time)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("kv-tail: root is needed (the tap)")
    restore = lib.set_realtime(args.rt)
    out = os.path.join(lib.OUT, "kv-tail")
    os.makedirs(out, exist_ok=True)
    lib.install_signal_cleanup()
    try:
        with lib.Network(f"kvtail-{os.getpid()}", mode="tap") as net:
            iso = os.path.join(out, "kvd.iso")
            cmd = (f"net=eth0:0 mem=256M kvd --ip {net.guest_ip} --gw {net.gateway} "
                   f"--port {kv.PORT} -m 64 --max-conns 8192 "
                   f"{'--stats 1 ' if args.stats else ''}{args.kvd_args}").strip()
            lib.run([os.path.join(lib.ROOT, "scripts", "mkiso"), "-s", "-o", iso,
                     lib.KERNEL_ELF, kv.KVD_ELF, cmd])
            g = lib.Guest("kvd", "kvd", r"kvd ready on port", iso=iso)
            q = lib.Qemu(g, net, os.path.join(out, "kvd.serial"))
            q.args += ["-name", "kvd,debug-threads=on"]  # thread names for the CPU split
            with q:
                q.wait_ready(120)
                print(f"kvd: '{cmd}'{' (SCHED_FIFO)' if args.rt else ''}", flush=True)
                kv.kv_load(net, "preload", 0, c=8, w=16, s=args.size, k=kv.KEYS)
                for _ in range(args.runs):
                    time.sleep(0.5)
                    one_run(args, net, q)
    finally:
        restore()


if __name__ == "__main__":
    main()
