#!/usr/bin/env python3
"""Plot the latency CDFs of the echo benchmark (bench/run.py calls this).

    plot.py RESULTS.json OUT.png

Reads the per-sample sockperf logs that RESULTS.json lists (raw_logs) and
draws, for each message size, the cumulative distribution of the latency of
every guest, all boots merged. Needs matplotlib (Debian: python3-matplotlib).
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

COLOURS = {"manticore": "tab:red", "linux": "tab:blue", "dpdk": "tab:green"}


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: plot.py RESULTS.json OUT.png")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(sys.argv[1]) as f:
        res = json.load(f)
    base = os.path.dirname(os.path.abspath(sys.argv[1]))
    sizes = sorted({int(s) for g in res["raw_logs"].values() for s in g})
    if not sizes:
        sys.exit("plot.py: no latency samples in the results")
    fig, axes = plt.subplots(1, len(sizes), figsize=(6.5 * len(sizes), 4.8), squeeze=False)
    for ax, size in zip(axes[0], sizes):
        for key in ("manticore", "linux", "dpdk"):
            logs = res["raw_logs"].get(key, {}).get(str(size), [])
            samples = []
            for rel in logs:
                samples += lib.read_full_log(os.path.join(base, rel))
            if not samples:
                continue
            samples.sort()
            n = len(samples)
            ys = [(i + 1) / n for i in range(n)]
            label = res["guests"][key]["label"]
            p50 = samples[n // 2]
            ax.plot(samples, ys, color=COLOURS[key], lw=1.4,
                    label=f"{label} (p50 {p50:.0f} µs, n={n})")
        ax.set_xscale("log")
        ax.set_xlabel("latency, µs (sockperf: half the round trip; log scale)")
        ax.set_ylabel("fraction of requests ≤ x")
        ax.set_title(f"UDP echo, {size}-byte messages ({res['meta']['accel'].upper()}, "
                     f"{res['meta']['boots']} boot(s) each)")
        ax.set_ylim(0, 1.0)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
