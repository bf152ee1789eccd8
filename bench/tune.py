#!/usr/bin/env python3
"""Try settings of one guest against each other, boot by boot, alternating,
and print the medians [min-max] of what a latency-minded user looks at:
sockperf ping-pong round trips (64 B) and throughput at windows 1, 16 and 64.

    bench/tune.py dpdk "" "mc.tp=--burst=1" "mc.tp=--no-lsc-interrupt" ...
    bench/tune.py linux "" "mc.busy=50"
    bench/tune.py manticore "" "--poll-us 2000"       (echod options)
    bench/tune.py --rounds 3 --seconds 3 ...

Each variant is the guest's extra kernel-command-line words (mc.* for the
Linux guests, see bench/linux/init and bench/dpdk/init) or, for manticore,
extra echod options. Used to choose the baselines' settings
(bench/README.md, "Choosing the baselines' settings").
"""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402
from lib import log  # noqa: E402


def guest_for(kind, net, variant, i):
    key = f"{kind}-v{i}"
    if kind == "dpdk":
        return lib.dpdk_guest(variant, label=variant or "(default)", key=key)
    if kind == "linux":
        return lib.linux_guest(variant, label=variant or "(default)", key=key)
    return lib.manticore_guest(net, extra=variant, label=variant or "(default)", key=key)


def one_boot(g, net, seconds, outdir, rnd):
    serial = os.path.join(outdir, "raw", f"tune-{g.key}-{rnd}.serial")
    with lib.Qemu(g, net, serial) as q:
        q.wait_ready(timeout=120)
        q.guest_mem_kib(timeout=4)
        r = lib.sockperf_pingpong(net, 64, seconds)
        fig = {"p50": r["p50"], "p99": r["p99"]}
        for w in (1, 16, 64):
            fig[f"w{w}"] = lib.echo_load(net, w, seconds=seconds)["rate"]
    return fig


def cell(vals, fmt):
    if not vals:
        return "n/a"
    m = statistics.median(vals)
    return f"{fmt(m)} [{fmt(min(vals))}-{fmt(max(vals))}]" if len(vals) > 1 else fmt(m)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kind", choices=["dpdk", "linux", "manticore"])
    ap.add_argument("variants", nargs="+")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--rt", action="store_true", help="as bench/run.py --rt")
    ap.add_argument("--pin", type=int, metavar="CPU", help="as bench/run.py --pin")
    args = ap.parse_args()
    lib.set_pinning(args.pin)
    restore = lib.set_realtime(args.rt)
    try:
        return run(args)
    finally:
        restore()


def run(args):
    outdir = lib.OUT
    os.makedirs(os.path.join(outdir, "raw"), exist_ok=True)
    lib.install_signal_cleanup()
    if args.kind != "manticore":
        lib.build_guest(args.kind)
    lib.ensure_sockperf()
    results = {v: [] for v in args.variants}
    with lib.Network() as net:
        guests = [guest_for(args.kind, net, v, i) for i, v in enumerate(args.variants)]
        for rnd in range(args.rounds):
            for v, g in zip(args.variants, guests):
                try:
                    fig = one_boot(g, net, args.seconds, outdir, rnd)
                except lib.BenchError as e:
                    log(f"{v or '(default)'} round {rnd + 1}: {str(e).splitlines()[0]}")
                    continue
                results[v].append(fig)
                log(f"round {rnd + 1} {v or '(default)'}: p50 {fig['p50']:.1f} p99 "
                    f"{fig['p99']:.1f} µs RTT, W1 {fig['w1']:.0f} W16 {fig['w16']:.0f} "
                    f"W64 {fig['w64']:.0f} req/s")
    print(f"{args.kind}: {args.rounds} boots each, alternating; median [min-max]")
    print("variant | RTT p50 µs | RTT p99 µs | W=1 req/s | W=16 req/s | W=64 req/s")
    for v in args.variants:
        rs = results[v]
        print(f"{v or '(default)'} | {cell([r['p50'] for r in rs], lambda x: f'{x:.1f}')} | "
              f"{cell([r['p99'] for r in rs], lambda x: f'{x:.1f}')} | "
              f"{cell([r['w1'] for r in rs], lambda x: f'{x:,.0f}')} | "
              f"{cell([r['w16'] for r in rs], lambda x: f'{x:,.0f}')} | "
              f"{cell([r['w64'] for r in rs], lambda x: f'{x:,.0f}')}")


if __name__ == "__main__":
    sys.exit(main())
