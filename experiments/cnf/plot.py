#!/usr/bin/python3
"""Plots of the Consistent NetFlow study from summary.json and errors_gt*.csv.

Usage: plot.py RESULTS_DIR  (writes the PNGs next to summary.json)
"""
import csv
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

METHODS = [("multiflow", "Multiflow", "tab:blue", "o"),
           ("naive", "naive", "tab:red", "s"),
           ("trajectory", "trajectory sampling", "tab:green", "^")]


def caption(summary):
    p = summary["parameters"]
    run = p["runs"][0]
    return (f"{run['bottleneck_rate_bps'] / 1e6:.0f} Mbps bottleneck, queue {run['queue_size']}, "
            f"{run['duration_s']:.0f} s per run, Multiflow variant {p['multiflow_variant']}")


def finish(fig, ax, summary, path):
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.text(0.01, 0.01, caption(summary), fontsize=7, color="0.4")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_cdf(out, summary, gt):
    errors = {m: [] for m, *_ in METHODS}
    with open(out / f"errors{gt}.csv") as f:
        for row in csv.DictReader(f):
            errors[row["method"]].append(float(row["rel_err"]))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method, label, color, _ in METHODS:
        values = sorted(errors[method])
        if not values:
            continue
        n = len(values)
        median = summary[f"{method}_median_rel_err{gt}"]
        ax.step(values, [(i + 1) / n for i in range(n)], where="post", color=color,
                label=f"{label} (median {100 * median:.1f} %, n={n})")
    ax.axvline(0.2, color="0.5", linestyle=":", label="20 % (published Multiflow median bound)")
    ax.set_xlim(0, 1.0)
    ax.set_ylim(0, 1)
    ax.set_xlabel("relative error of the flow's mean delay")
    ax.set_ylabel("fraction of flows")
    frac = summary["parameters"]["reference_fraction"]
    ax.set_title(f"Flows over {summary['parameters']['min_packets']} packets, "
                 f"sampling fraction {frac}, all utilisations")
    finish(fig, ax, summary, out / "cdf_rel_err_gt100.png")


def plot_series(out, summary, key, x_field, xlabel, title, path, logx=False, categorical=False):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    table = summary[key]
    for method, label, color, marker in METHODS:
        rows = [r for r in table.get(method, []) if r["median"] is not None]
        xs = [r[x_field] for r in rows]
        ys = [100 * r["median"] for r in rows]
        if categorical:
            positions = {r[x_field]: i for i, r in enumerate(table["multiflow"])}
            xs = [positions[x] for x in xs]
        ax.plot(xs, ys, marker=marker, color=color, label=label)
    if categorical:
        labels = [r[x_field] for r in table["multiflow"]]
        ax.set_xticks(range(len(labels)), labels)
    if logx:
        ax.set_xscale("log")
        ticks = [r[x_field] for r in table["multiflow"]]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
    ax.set_xlabel(xlabel)
    ax.set_ylabel("median relative error (%)")
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    finish(fig, ax, summary, out / path)


def plot_variants(out, summary, gt):
    variants = summary[f"multiflow_variants_median_rel_err{gt}"]
    names = sorted(variants, key=lambda n: variants[n])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    chosen = summary["parameters"]["multiflow_variant"]
    colors = ["tab:blue" if n == chosen else "0.6" for n in names]
    ax.barh(range(len(names)), [100 * variants[n] for n in names], color=colors,
            label="all flows")
    lossy = summary.get(f"multiflow_variants_median_rel_err{gt}_lossy_flows", {})
    if lossy:
        n = next(iter(lossy.values()))["n"]
        ax.plot([100 * lossy[name]["median"] for name in names], range(len(names)), "k|",
                markersize=14, label=f"lossy flows only (n={n})")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xlim(0, 1.9 * max(100 * v for v in variants.values()))
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("median relative error (%), flows over "
                  f"{summary['parameters']['min_packets']} packets")
    ax.set_title("Multiflow variants, window/weighting/loss policy (blue: reported)",
                 fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    fig.text(0.01, 0.01, caption(summary), fontsize=7, color="0.4")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(out / "multiflow_variants.png", dpi=120)
    plt.close(fig)


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "results/cnf")
    summary = json.loads((out / "summary.json").read_text())
    gt = f"_gt{summary['parameters']['min_packets']}"
    frac = summary["parameters"]["reference_fraction"]
    plot_cdf(out, summary, gt)
    plot_series(out, summary, "median_rel_err_by_flow_size", "bin", "flow size (packets)",
                f"Median relative error by flow size (fraction {frac}, all utilisations)",
                "rel_err_vs_flow_size.png", categorical=True)
    plot_series(out, summary, f"median_rel_err{gt}_by_fraction", "fraction",
                "flow sampling fraction (trajectory: same packet budget)",
                "Flows over 100 packets, all utilisations", "rel_err_vs_fraction.png", logx=True)
    plot_series(out, summary, f"median_rel_err{gt}_by_utilisation", "utilisation",
                "offered bottleneck utilisation", f"Flows over 100 packets, fraction {frac}",
                "rel_err_vs_utilisation.png")
    plot_variants(out, summary, gt)


if __name__ == "__main__":
    main()
