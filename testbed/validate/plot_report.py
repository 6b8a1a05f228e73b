#!/usr/bin/python3
"""Plots of a validation run: reads RUN_DIR/validation-details.csv and
RUN_DIR/validation.csv (written by `flowcorder validate`), writes
RUN_DIR/plots/{rtt,retrans,abs_error_cdf,verdicts}.png, which report.html embeds."""
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RTT_KPIS = ("srtt_us", "min_rtt_us", "rtt_mean_us")
RETRANS_KPIS = ("retrans_segs",)
# Pass/fail verdict colours, the same in the heat map and the HTML tables.
PASS, FAIL, ABSENT = 1.0, 0.0, 0.5


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def exported(details):
    """Comparisons with an exported value (a KPI not exported leaves it empty)."""
    return [d for d in details if d["exported"] != ""]


def exported_vs_true(details, kpis, title, unit, out, log=False):
    fig, ax = plt.subplots(figsize=(5.5, 5))
    lo, hi = None, None
    for kpi in kpis:
        for source in sorted({d["truth_source"] for d in details if d["kpi"] == kpi}):
            rows = [d for d in details if d["kpi"] == kpi and d["truth_source"] == source]
            x = [float(d["true"]) for d in rows]
            y = [float(d["exported"]) for d in rows]
            if log:
                pairs = [(a, b) for a, b in zip(x, y) if a > 0 and b > 0]
                x, y = [a for a, _ in pairs], [b for _, b in pairs]
            if not x:
                continue
            ax.scatter(x, y, s=14, alpha=0.7, label=f"{kpi} vs {source}")
            lo = min([lo] + x + y) if lo is not None else min(x + y)
            hi = max([hi] + x + y) if hi is not None else max(x + y)
    if lo is None:
        ax.text(0.5, 0.5, "no comparisons", ha="center", transform=ax.transAxes)
    else:
        ax.plot([lo, hi], [lo, hi], "k--", linewidth=1, label="y = x")
        ax.legend(fontsize=7)
    if log:
        # RTTs span 50 us (a bare veth) to 500 ms (backed-off handshakes).
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel(f"true ({unit})")
    ax.set_ylabel(f"exported ({unit})")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def error_cdf(details, out):
    fig, ax = plt.subplots(figsize=(7, 5))
    keys = sorted({(d["kpi"], d["truth_source"]) for d in details})
    for kpi, source in keys:
        errs = sorted(float(d["abs_error"]) for d in details
                      if d["kpi"] == kpi and d["truth_source"] == source)
        n = len(errs)
        ax.step(errs, [(i + 1) / n for i in range(n)], where="post", label=f"{kpi}/{source}")
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("|exported - true| (KPI units)")
    ax.set_ylabel("fraction of comparisons")
    ax.set_title("Absolute error CDF per KPI")
    if keys:
        ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def verdict_map(rows, out):
    rows = [r for r in rows if r["experiment"] != "*"]
    exps = sorted({r["experiment"] for r in rows})
    cols = sorted({f'{r["kpi"]}/{r["truth_source"]}' for r in rows})
    grid = [[ABSENT] * len(cols) for _ in exps]
    for r in rows:
        i = exps.index(r["experiment"])
        j = cols.index(f'{r["kpi"]}/{r["truth_source"]}')
        grid[i][j] = PASS if r["verdict"] == "pass" else FAIL
    fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(cols) + 2), max(2.5, 0.4 * len(exps) + 2)))
    if exps and cols:
        ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(cols)), cols, rotation=90, fontsize=7)
        ax.set_yticks(range(len(exps)), exps, fontsize=8)
    ax.set_title("Verdicts (green pass, red fail, yellow not compared)")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: plot_report.py RUN_DIR")
    run = sys.argv[1]
    details = exported(read_csv(os.path.join(run, "validation-details.csv")))
    rows = read_csv(os.path.join(run, "validation.csv"))
    plots = os.path.join(run, "plots")
    os.makedirs(plots, exist_ok=True)
    exported_vs_true(details, RTT_KPIS, "Exported vs true RTT", "us",
                     os.path.join(plots, "rtt.png"), log=True)
    exported_vs_true(details, RETRANS_KPIS, "Retransmissions per connection", "segments",
                     os.path.join(plots, "retrans.png"))
    error_cdf(details, os.path.join(plots, "abs_error_cdf.png"))
    verdict_map(rows, os.path.join(plots, "verdicts.png"))


if __name__ == "__main__":
    main()
