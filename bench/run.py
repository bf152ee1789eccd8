#!/usr/bin/env python3
"""The echo benchmark: Manticore (echod) against a Linux sockets guest and a
Linux + DPDK guest on identical virtual hardware. See bench/README.md.

    bench/run.py [--quick] [--boots N] [--accel tcg|kvm] [--echod-iso PATH]
                 [--guests manticore,linux,dpdk,manticore-iommu] [--net tap|user] [--out DIR]
                 [--echod-args ARGS] [--linux-args WORDS] [--dpdk-args WORDS]
    bench/run.py --multiqueue [--quick] [--boots N]
    bench/run.py --kv [--quick] [--boots N] [--kv-p99-us US] [--kv-rate R]

Boots every guest --boots times, alternating (Manticore, Linux, DPDK,
Manticore, ...), measures each boot, prints a side-by-side table with the
ratios Manticore/Linux and Manticore/DPDK, and writes DIR/results.json and
DIR/latency-cdf.png (default DIR: bench/out). Latencies are full round
trips. Last comes Manticore again behind a VT-d IOMMU (the ratio IOMMU
on/off). --multiqueue compares one core and queue pair with two, for echod
and for the Linux sockets guest (DIR/multiqueue.json). --kv runs the
key-value benchmark, kvd against memcached (bench/kv.py, DIR/kv.json).
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kv  # noqa: E402
import lib  # noqa: E402
from lib import BenchError, log  # noqa: E402

ORDER = ["manticore", "linux", "dpdk", "manticore-iommu"]

# The baselines' settings, chosen with bench/tune.py (bench/README.md,
# "Choosing the baselines' settings"): what a latency-minded user would run.
LINUX_ARGS = "mc.busy=50"
DPDK_ARGS = ""

# key, label, unit, which way is better
FIGURES = [
    ("boot_s", "boot-to-ready", "s", "lower"),
    ("boot_direct_s", "boot-to-ready, -kernel", "s", "lower"),
    ("boot_qboot_s", "boot-to-ready, -kernel, qboot", "s", "lower"),
    ("lat64_avg", "round trip 64 B avg", "µs", "lower"),
    ("lat64_p50", "round trip 64 B p50", "µs", "lower"),
    ("lat64_p99", "round trip 64 B p99", "µs", "lower"),
    ("lat64_p999", "round trip 64 B p99.9", "µs", "lower"),
    ("lat1024_avg", "round trip 1024 B avg", "µs", "lower"),
    ("lat1024_p50", "round trip 1024 B p50", "µs", "lower"),
    ("lat1024_p99", "round trip 1024 B p99", "µs", "lower"),
    ("lat1024_p999", "round trip 1024 B p99.9", "µs", "lower"),
    ("tput_w1", "throughput W=1", "req/s", "higher"),
    ("tput_w16", "throughput W=16", "req/s", "higher"),
    ("tput_w64", "throughput W=64", "req/s", "higher"),
    ("loss_w1", "loss W=1", "%", "lower"),
    ("loss_w16", "loss W=16", "%", "lower"),
    ("loss_w64", "loss W=64", "%", "lower"),
    ("idle_cpu", "idle CPU (QEMU)", "% core", "lower"),
    ("mem_guest", "memory used (guest)", "MiB", "lower"),
    ("mem_rss", "memory (QEMU RSS)", "MiB", "lower"),
]

SIZES = (64, 1024)
WINDOWS = (1, 16, 64)


def params(args):
    if args.quick:
        p = dict(boots=1, lat_s=2, tput_s=2, idle_s=10)
    else:
        p = dict(boots=3, lat_s=5, tput_s=5, idle_s=10)
    if args.boots:
        p["boots"] = args.boots
    return p


def measure(guest, net, rnd, p, accel, outdir, echod_args=""):
    """One boot of one guest: every figure, in the order boot, memory, idle,
    latency, throughput (so that the idle figure follows no traffic)."""
    raw = os.path.join(outdir, "raw")
    os.makedirs(raw, exist_ok=True)
    serial = os.path.join(raw, f"{guest.key}-{rnd}.serial")
    fig, logs = {}, {}
    with lib.Qemu(guest, net, serial, accel=accel) as q:
        fig["boot_s"] = q.wait_ready(timeout=120)
        log(f"  {guest.label}: ready after {fig['boot_s']:.3f} s")
        # The Linux guests report their memory two seconds after they serve;
        # waiting for that also lets boot-time work finish before idle.
        used = q.guest_mem_kib(timeout=6)
        fig["mem_guest"] = used / 1024 if used else None
        time.sleep(1)
        fig["idle_cpu"] = lib.idle_cpu(q, p["idle_s"])
        log(f"  {guest.label}: idle CPU {fig['idle_cpu']:.1f} % of a core")
        for size in SIZES:
            rel = os.path.join("raw", f"{guest.key}-{rnd}-{size}.csv")
            r = lib.sockperf_pingpong(net, size, p["lat_s"], full_log=os.path.join(outdir, rel))
            for k in ("avg", "p50", "p99", "p999"):
                fig[f"lat{size}_{k}"] = r[k]
            logs[size] = rel
            log(f"  {guest.label}: {size} B latency avg {r['avg']:.1f} p50 {r['p50']:.1f} "
                f"p99 {r['p99']:.1f} p99.9 {r['p999']:.1f} µs ({r['observations']} samples)")
        for w in WINDOWS:
            r = lib.echo_load(net, w, size=64, seconds=p["tput_s"])
            fig[f"tput_w{w}"] = r["rate"]
            fig[f"loss_w{w}"] = 100.0 * r["loss"]
            log(f"  {guest.label}: W={w}: {r['rate']:.0f} req/s, loss {100 * r['loss']:.3f} %")
        fig["mem_rss"] = q.rss_kib() / 1024
    fig["boot_direct_s"] = boot_direct(guest, net, rnd, accel, raw, fig["boot_s"], echod_args)
    if guest.key == "manticore":
        fig["boot_qboot_s"] = boot_direct(guest, net, rnd, accel, raw, fig["boot_s"], echod_args,
                                          qboot=True)
    return fig, logs


def boot_direct(guest, net, rnd, accel, raw, boot_s, echod_args="", qboot=False):
    """Boot-to-ready through QEMU's direct kernel boot (-kernel, no boot
    loader). The Linux guests boot that way already; Manticore boots its ISO
    above and, for this figure, once more with kernel.elf's PVH entry."""
    if guest.key != "manticore":
        return boot_s if guest.kernel else None
    direct = lib.manticore_direct_guest(net, extra=echod_args, qboot=qboot)
    if direct is None:
        return None
    fw = "qboot" if qboot else "seabios"
    with lib.Qemu(direct, net, os.path.join(raw, f"manticore-direct-{fw}-{rnd}.serial"),
                  accel=accel) as q:
        t = q.wait_ready(timeout=120)
    log(f"  {guest.label}: ready after {t:.3f} s through -kernel (PVH, {fw})")
    return t


def summarise(runs):
    out = {}
    for key, *_ in FIGURES:
        vals = [r[key] for r in runs if r.get(key) is not None]
        if vals:
            out[key] = {"median": statistics.median(vals), "min": min(vals), "max": max(vals),
                        "n": len(vals)}
    return out


def fmt(v, unit):
    if v is None:
        return "n/a"
    if unit == "req/s":
        return f"{v:,.0f}"
    if unit == "s":
        return f"{v:.2f}"
    if unit == "%":
        return f"{v:.2f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.1f}"


def cell(summary, key, unit):
    s = summary.get(key)
    if not s:
        return "n/a"
    if s["n"] == 1:
        return fmt(s["median"], unit)
    return f"{fmt(s['median'], unit)} [{fmt(s['min'], unit)}-{fmt(s['max'], unit)}]"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def table(res):
    cols = [g for g in ORDER if g in res["guests"]]
    labels = {g: res["guests"][g]["label"] for g in cols}
    rows = [["figure", "unit"] + [labels[g] for g in cols] +
            ["Mant/Linux", "Mant/DPDK", "IOMMU on/off"]]
    for key, label, unit, better in FIGURES:
        row = [label + (" ↓" if better == "lower" else " ↑"), unit]
        for g in cols:
            row.append(cell(res["results"].get(g, {}).get("summary", {}), key, unit))
        for other in ("manticore/linux", "manticore/dpdk", "manticore-iommu/manticore"):
            r = res["ratios"].get(key, {}).get(other)
            row.append("n/a" if r is None else f"{r:.3g}")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def plot(results_json, png):
    """Draw the CDF with an interpreter that has matplotlib (the Debian one
    if the current python lacks it; installing python3-matplotlib if root)."""
    script = os.path.join(lib.BENCH, "plot.py")
    candidates = [sys.executable]
    if os.path.exists("/usr/bin/python3") and os.path.realpath("/usr/bin/python3") != \
            os.path.realpath(sys.executable):
        candidates.append("/usr/bin/python3")

    def has_mpl(py):
        return subprocess.run([py, "-c", "import matplotlib"], capture_output=True).returncode == 0

    py = next((c for c in candidates if has_mpl(c)), None)
    if py is None and lib.apt_install("python3-matplotlib"):
        py = next((c for c in candidates if has_mpl(c)), None)
    if py is None:
        log("no matplotlib (apt-get install python3-matplotlib): no plot")
        return False
    p = subprocess.run([py, script, results_json, png], capture_output=True, text=True)
    if p.returncode != 0:
        log(f"plot failed: {p.stderr.strip()[-600:]}")
        return False
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 boot each, 2 s runs (< 4 min)")
    ap.add_argument("--boots", type=int, help="boots of each guest (default 3; quick 1)")
    ap.add_argument("--accel", choices=["tcg", "kvm"], default="tcg",
                    help="QEMU accelerator (default tcg; see bench/README.md, KVM)")
    ap.add_argument("--force-baselines", action="store_true",
                    help="under --accel kvm, boot the Linux guests anyway")
    ap.add_argument("--echod-iso", help="Manticore image to boot as it is (default: "
                    "usr/echod/echod.iso if its echod options fit, else one assembled "
                    "from kernel.elf and usr/echod/build/echod.elf)")
    ap.add_argument("--guests", default=",".join(ORDER),
                    help="comma-separated subset of manticore,linux,dpdk,manticore-iommu")
    ap.add_argument("--net", choices=["tap", "user"],
                    help="tap in a netns (default as root) or QEMU user networking")
    ap.add_argument("--out", default=lib.OUT, help="output folder (default bench/out)")
    ap.add_argument("--echod-args", default="", help="more echod options")
    ap.add_argument("--linux-args", default=LINUX_ARGS,
                    help=f"the Linux guest's mc.* words (default {LINUX_ARGS!r})")
    ap.add_argument("--dpdk-args", default=DPDK_ARGS,
                    help=f"the DPDK guest's mc.* words (default {DPDK_ARGS!r})")
    ap.add_argument("--multiqueue", action="store_true",
                    help="one core and queue pair against two, echod and Linux")
    ap.add_argument("--rt", dest="rt", action="store_true", default=lib.is_root(),
                    help="QEMU and the clients under SCHED_FIFO, RT throttling off meanwhile, "
                         "so other work on the host cannot preempt a measurement (default as "
                         "root)")
    ap.add_argument("--no-rt", dest="rt", action="store_false", help="the default scheduler")
    cpus = sorted(os.sched_getaffinity(0))
    ap.add_argument("--pin", type=int, metavar="CPU", default=cpus[0] if len(cpus) > 1 else None,
                    help="QEMU's vCPU thread alone on host CPU CPU, QEMU's other threads and "
                         "the clients on the other CPUs (default: the first CPU, with two or "
                         "more; not with --multiqueue)")
    ap.add_argument("--no-pin", dest="pin", action="store_const", const=None,
                    help="leave the threads' placement to the host's scheduler")
    kv.add_args(ap)
    args = ap.parse_args()
    if args.multiqueue:
        args.pin = None  # two vCPU threads: one host CPU would not hold both
    lib.set_pinning(args.pin)
    restore_rt = lib.set_realtime(args.rt)
    try:
        return run(args)
    finally:
        restore_rt()


def run(args):
    if args.kv:
        return kv.main(args, params(args))
    if args.multiqueue:
        import multiqueue
        return multiqueue.main(args, params(args))
    p = params(args)
    wanted = [g for g in ORDER if g in args.guests.split(",")]
    outdir = os.path.abspath(args.out)
    os.makedirs(outdir, exist_ok=True)
    lib.install_signal_cleanup()
    started = time.monotonic()

    notes = []
    lib.ensure_qemu()
    lib.ensure_sockperf()
    lib.echo_load_binary()
    if args.accel == "kvm" and not args.force_baselines:
        for g in ("linux", "dpdk"):
            if g in wanted:
                wanted.remove(g)
        notes.append("KVM here is a software hypervisor on which a Linux guest does not "
                     "finish booting: Manticore alone, absolute figures; "
                     "compare with a TCG run")
    builders = {"linux": "linux", "dpdk": "dpdk"}
    for g in list(wanted):
        if g in builders:
            log(f"building the {g} guest (bench/{g}/build.sh)")
            try:
                lib.build_guest(builders[g])
            except BenchError as e:
                notes.append(f"{g} guest skipped: {e}")
                log(f"SKIP {g}: {e}")
                wanted.remove(g)

    res = {"meta": {}, "figures": [dict(key=k, label=l, unit=u, better=b)
                                   for k, l, u, b in FIGURES],
           "guests": {}, "results": {}, "ratios": {}, "raw_logs": {}, "errors": [],
           "notes": notes}
    with lib.Network(mode=args.net) as net:
        guests = {}
        for g in wanted:
            if g == "dpdk" and net.mode == "user":
                notes.append("dpdk skipped: under user networking testpmd's 5tswap "
                             "answers no ARP, which slirp needs before it forwards to the guest")
                continue
            try:
                if g == "manticore":
                    guests[g] = lib.manticore_guest(net, args.echod_iso, extra=args.echod_args)
                elif g == "manticore-iommu":
                    guests[g] = lib.manticore_iommu_guest(net, args.echod_iso,
                                                          extra=args.echod_args)
                elif g == "linux":
                    guests[g] = lib.linux_guest(args.linux_args)
                else:
                    guests[g] = lib.dpdk_guest(args.dpdk_args)
            except BenchError as e:
                notes.append(f"{g} skipped: {e}")
                log(f"SKIP {g}: {e}")
        if net.mode == "user":
            notes.append("QEMU user networking instead of a tap in a netns"
                         + ("" if lib.is_root() else " (not root)"))
        qemu_version = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                                      text=True).stdout.splitlines()[0]
        cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                    if l.startswith("model name")), platform.processor())
        res["meta"] = {
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "host": {"cpus": os.cpu_count(), "cpu": cpu, "kernel": platform.release()},
            "qemu": qemu_version, "accel": args.accel, "network": net.describe(),
            "network_mode": net.mode, "boots": p["boots"], "quick": args.quick,
            "latency_seconds": p["lat_s"], "throughput_seconds": p["tput_s"],
            "idle_seconds": p["idle_s"], "memory_mb": lib.MEM_MB, "vcpus": lib.CPUS,
            "qemu_args_example": None,
            "realtime": args.rt, "pin_vcpu": args.pin,
            "settings": {"echod": args.echod_args, "linux": args.linux_args,
                         "dpdk": args.dpdk_args},
        }
        for key, g in guests.items():
            res["guests"][key] = {"label": g.label, "note": g.note, "ready": g.ready,
                                  "image": g.iso or g.initrd}
            res["results"][key] = {"runs": []}
            res["raw_logs"][key] = {str(s): [] for s in SIZES}
        if guests:
            first = next(iter(guests.values()))
            res["meta"]["qemu_args_example"] = " ".join(
                lib.qemu_args(first, net, "SERIAL", args.accel))
        log(f"network: {net.describe()}; accel {args.accel}; {p['boots']} boot(s) each")
        for rnd in range(p["boots"]):
            for key, g in guests.items():
                log(f"round {rnd + 1}/{p['boots']}: {g.label}")
                try:
                    fig, logs = measure(g, net, rnd, p, args.accel, outdir, args.echod_args)
                except BenchError as e:
                    res["errors"].append(f"{g.label} round {rnd + 1}: {e}")
                    log(f"ERROR {g.label} round {rnd + 1}: {e}")
                    continue
                res["results"][key]["runs"].append(fig)
                for s, rel in logs.items():
                    res["raw_logs"][key][str(s)].append(rel)

    for key in res["results"]:
        res["results"][key]["summary"] = summarise(res["results"][key]["runs"])
    for fkey, *_ in FIGURES:
        m = res["results"].get("manticore", {}).get("summary", {}).get(fkey, {}).get("median")
        res["ratios"][fkey] = {}
        for other in ("linux", "dpdk"):
            o = res["results"].get(other, {}).get("summary", {}).get(fkey, {}).get("median")
            res["ratios"][fkey][f"manticore/{other}"] = ratio(m, o)
        i = res["results"].get("manticore-iommu", {}).get("summary", {}).get(fkey, {})
        res["ratios"][fkey]["manticore-iommu/manticore"] = ratio(i.get("median"), m)
    res["meta"]["elapsed_s"] = round(time.monotonic() - started, 1)

    results_json = os.path.join(outdir, "results.json")
    with open(results_json, "w") as f:
        json.dump(res, f, indent=1)
    png = os.path.join(outdir, "latency-cdf.png")
    plotted = any(res["raw_logs"].get(g, {}).get("64") for g in res["raw_logs"]) and \
        plot(results_json, png)

    print()
    print(f"Echo benchmark, {res['meta']['date']}: {args.accel.upper()}, {lib.CPUS} vCPU, "
          f"{lib.MEM_MB} MiB, virtio-net-pci (modern) on {net.describe()}")
    print(f"{p['boots']} boot(s) of each guest, alternating; median [min-max] over boots; "
          f"round trip = sockperf ping-pong UDP --full-rtt (the client clears sockperf's "
          f"flag: bench/sockperf-shim.c)")
    print("host scheduling: " + ("QEMU and clients SCHED_FIFO" if args.rt else "default")
          + (f"; vCPU thread alone on CPU {args.pin}, the rest on the others"
             if args.pin is not None else "; threads placed by the host"))
    print(table(res))
    print("↓ lower is better, ↑ higher is better; Mant/X = Manticore ÷ X (medians).")
    print("memory used (guest) is the guest's own report (MemTotal-MemFree for Linux, "
          "hugepages included for DPDK); QEMU RSS is the host's view.")
    for n in notes:
        print(f"note: {n}")
    for e in res["errors"]:
        print(f"error: {e.splitlines()[0]}")
    print(f"results: {results_json}" + (f"; plot: {png}" if plotted else "; no plot"))
    print(f"elapsed {res['meta']['elapsed_s']:.0f} s")
    return 1 if res["errors"] or not any(r["runs"] for r in res["results"].values()) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print(f"bench: error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("bench: interrupted; QEMU stopped and the namespace removed", file=sys.stderr)
        sys.exit(130)
