"""bench/run.py --multiqueue: does a server scale by owning cores and queue
pairs? echod with one core and one queue pair and with two of each, against
the Linux sockets guest with one and two vCPUs (one udp-echo per CPU on one
port, SO_REUSEPORT), on the same multiqueue tap and device (2 queue pairs,
RSS on), boot by boot alternating. Many flows (64 source ports), windows 16
and 64; each figure also as a ratio to the same system's one-core figure,
and echod's TSC cycles per datagram on each core (its --stats).
"""
import json
import os
import re
import statistics
import time

import lib
from lib import BenchError, log

FLOWS = 64
WINDOWS = (16, 64)


def guests(net):
    mq = dict(queues=2)
    m1 = lib.manticore_guest(net, manifest="cpus=0 net=eth0:0", extra="--stats 1",
                             label="echod 1 core", key="mq-echod1")
    m2 = lib.manticore_guest(net, manifest="cpus=0-1 net=eth0:0-1", extra="--stats 1",
                             label="echod 2 cores", key="mq-echod2")
    l1 = lib.linux_guest("mc.busy=50 mc.servers=1", label="Linux 1 vCPU", key="mq-linux1")
    l2 = lib.linux_guest("mc.busy=50 mc.servers=2", label="Linux 2 vCPUs", key="mq-linux2")
    for g, cpus in ((m1, 1), (m2, 2), (l1, 1), (l2, 2)):
        g.cpus, g.queues, g.rss = cpus, mq["queues"], True
    return [m1, m2, l1, l2]


def cycles_per_core(text):
    """echod's per-queue cycles per datagram, from its last stats lines."""
    per = {}
    for qp, cyc in re.findall(r"stats queue (\d+) cpu \d+ rx \d+ tx \d+ echoed \d+ "
                              r"cycles_per_datagram (\d+)", text):
        per[int(qp)] = int(cyc)
    if not per:
        m = re.findall(r"cycles_per_datagram (\d+)\n", text)
        if m:
            per[0] = int(m[-1])
    return per


def one_boot(g, net, p, outdir, rnd):
    serial = os.path.join(outdir, "raw", f"{g.key}-{rnd}.serial")
    fig = {}
    with lib.Qemu(g, net, serial) as q:
        fig["boot_s"] = q.wait_ready(timeout=120)
        q.guest_mem_kib(timeout=4)
        for w in WINDOWS:
            r = lib.echo_load(net, w, seconds=p["tput_s"], flows=FLOWS)
            fig[f"w{w}"] = r["rate"]
            fig[f"loss_w{w}"] = 100.0 * r["loss"]
            log(f"  {g.label}: W={w} x {FLOWS} flows: {r['rate']:.0f} req/s, "
                f"loss {100 * r['loss']:.3f} %")
        time.sleep(1.5)  # echod prints its counters every second
        fig["cycles"] = cycles_per_core(q.read())
    return fig


def med(vals):
    return statistics.median(vals) if vals else None


def main(args, p):
    outdir = os.path.abspath(args.out)
    os.makedirs(os.path.join(outdir, "raw"), exist_ok=True)
    lib.install_signal_cleanup()
    lib.ensure_qemu()
    lib.echo_load_binary()
    lib.build_guest("linux")
    results = {}
    with lib.Network(mode="tap", multiqueue=True) as net:
        gs = guests(net)
        for g in gs:
            results[g.key] = {"label": g.label, "runs": []}
        for rnd in range(p["boots"]):
            for g in gs:
                log(f"round {rnd + 1}/{p['boots']}: {g.label}")
                try:
                    results[g.key]["runs"].append(one_boot(g, net, p, outdir, rnd))
                except BenchError as e:
                    log(f"ERROR {g.label}: {str(e).splitlines()[0]}")
    for key, r in results.items():
        r["summary"] = {f"w{w}": med([x[f"w{w}"] for x in r["runs"]]) for w in WINDOWS}
        r["summary"]["range"] = {f"w{w}": [min(x[f"w{w}"] for x in r["runs"]),
                                           max(x[f"w{w}"] for x in r["runs"])]
                                 for w in WINDOWS} if r["runs"] else {}
        cyc = {}
        for x in r["runs"]:
            for qp, c in x.get("cycles", {}).items():
                cyc.setdefault(qp, []).append(c)
        r["summary"]["cycles"] = {qp: med(v) for qp, v in cyc.items()}
    with open(os.path.join(outdir, "multiqueue.json"), "w") as f:
        json.dump(results, f, indent=1)

    print(f"\nMultiqueue: TCG, {FLOWS} flows, 2 queue pairs (RSS on) on a multiqueue tap; "
          f"{p['boots']} boot(s) each, alternating; medians [min-max]")
    print("system              W=16 req/s            W=64 req/s            "
          "x 1-core W16  W64   cycles/datagram per core")
    base = {"mq-echod2": "mq-echod1", "mq-linux2": "mq-linux1"}
    for key, r in results.items():
        s = r["summary"]
        if s.get("w16") is None:
            print(f"{r['label']:<19} n/a")
            continue
        cells = []
        for w in WINDOWS:
            lo, hi = s["range"][f"w{w}"]
            cells.append(f"{s[f'w{w}']:>8,.0f} [{lo:,.0f}-{hi:,.0f}]")
        ratio = ""
        b = results.get(base.get(key, key), {}).get("summary", {})
        if b.get("w16"):
            ratio = f"{s['w16'] / b['w16']:.2f}  {s['w64'] / b['w64']:.2f}"
        cyc = " ".join(f"q{qp}:{c:,.0f}" for qp, c in sorted(s["cycles"].items())) or "-"
        print(f"{r['label']:<19} {cells[0]:<21} {cells[1]:<21} {ratio:<12} {cyc}")
    print("x 1-core: the median divided by the same system's one-core median.")
    print(f"results: {os.path.join(outdir, 'multiqueue.json')}")
    return 0
