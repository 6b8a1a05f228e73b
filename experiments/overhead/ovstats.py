"""Statistics and parsers shared by cpu_http.py and summarise.py.

Pure Python on purpose: the overhead evaluation must run where numpy is
missing. Everything here is deterministic for a given seed and is covered by
test_stats.py (run it with `cpu_http.py --self-test`).
"""

import math
import random
import re


def median(values):
    """Median of a non-empty sequence (mean of the two middle values when even)."""
    s = sorted(values)
    if not s:
        raise ValueError("median of nothing")
    n = len(s)
    mid = n // 2
    return s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2.0


def quantile(values, q):
    """Linear-interpolation quantile (numpy's default), q in [0, 1]."""
    s = sorted(values)
    if not s:
        raise ValueError("quantile of nothing")
    if not 0.0 <= q <= 1.0:
        raise ValueError("q outside [0, 1]")
    pos = q * (len(s) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def bootstrap_ci(values, stat=median, n_boot=10000, level=0.95, seed=1):
    """Percentile bootstrap interval of stat(values).

    values are independent units (here: rounds, each already a paired
    comparison of the configurations run in that round), so resampling them
    with replacement keeps the noise that hit a whole round together.
    Returns (lo, hi); a single value gives a zero-width interval.
    """
    vals = list(values)
    if not vals:
        raise ValueError("bootstrap of nothing")
    if len(vals) == 1:
        return (vals[0], vals[0])
    rng = random.Random(seed)
    n = len(vals)
    stats = sorted(stat([vals[rng.randrange(n)] for _ in range(n)]) for _ in range(n_boot))
    alpha = (1.0 - level) / 2.0
    return (quantile(stats, alpha), quantile(stats, 1.0 - alpha))


def summarise_values(values, scale=1.0, n_boot=10000, seed=1):
    """{"median", "ci95", "rounds", "values"} of values * scale; None if empty."""
    vals = [v * scale for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return None
    lo, hi = bootstrap_ci(vals, n_boot=n_boot, seed=seed)
    return {"median": median(vals), "ci95": [lo, hi], "rounds": len(vals), "values": vals}


def paired_ratio_ci(num, den, n_boot=10000, seed=1):
    """median(num)/median(den) with a bootstrap interval resampling the pairs
    (num[i], den[i]) together (same round). None when the ratio is undefined."""
    pairs = [(a, b) for a, b in zip(num, den) if a is not None and b is not None]
    if not pairs:
        return None

    def ratio(ps):
        d = median([b for _, b in ps])
        return math.nan if d == 0 else median([a for a, _ in ps]) / d

    point = ratio(pairs)
    if not math.isfinite(point):
        return None
    rng = random.Random(seed)
    n = len(pairs)
    boots = []
    for _ in range(n_boot):
        r = ratio([pairs[rng.randrange(n)] for _ in range(n)])
        if math.isfinite(r):
            boots.append(r)
    lo, hi = (quantile(boots, 0.025), quantile(boots, 0.975)) if boots else (point, point)
    return {"median": point, "ci95": [lo, hi], "rounds": n}


# ---------------------------------------------------------------- parsers


def parse_cpu_stat(text):
    """cgroup v2 cpu.stat -> {key: int} (usage_usec, user_usec, system_usec, ...)."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


PROC_STAT_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def parse_proc_stat(text):
    """First 'cpu ' line of /proc/stat -> {field: ticks} for PROC_STAT_FIELDS.
    guest/guest_nice are already inside user/nice, so they are not added."""
    for line in text.splitlines():
        if line.startswith("cpu "):
            nums = [int(x) for x in line.split()[1:]]
            nums += [0] * (len(PROC_STAT_FIELDS) - len(nums))
            return dict(zip(PROC_STAT_FIELDS, nums))
    raise ValueError("no aggregate 'cpu' line in /proc/stat text")


def proc_stat_busy(fields):
    """Every tick that is neither idle nor iowait (user, nice, system, irq,
    softirq, steal): it includes softirq work done for the transfer."""
    return sum(v for k, v in fields.items() if k not in ("idle", "iowait"))


def iperf3_received_bytes(doc):
    """Bytes the receiver got, from iperf3 -J output (a dict). Raises on an
    iperf3 error or a missing figure."""
    if doc.get("error"):
        raise ValueError("iperf3: " + str(doc["error"]))
    try:
        return int(doc["end"]["sum_received"]["bytes"])
    except (KeyError, TypeError) as e:
        raise ValueError("iperf3 JSON without end.sum_received.bytes") from e


def parse_ab_percentiles(text):
    """ab -e CSV ('Percentage served,Time in ms' then 'P,ms' for P = 0..100)
    -> list of 101 times in ms (index = percentile). ab writes them with
    microsecond resolution, unlike -g's whole milliseconds."""
    out = {}
    for line in text.splitlines():
        m = re.fullmatch(r"\s*(\d+)\s*,\s*([0-9.]+)\s*", line)
        if m:
            out[int(m.group(1))] = float(m.group(2))
    if sorted(out) != list(range(101)):
        raise ValueError("ab percentile file without the 101 rows 0..100")
    return [out[i] for i in range(101)]


def parse_ab_summary(text):
    """Figures of ab's summary: complete, failed, non_2xx (0 when not printed),
    mean_ms (Time per request, mean)."""
    def figure(label):
        m = re.search(r"^" + label + r":\s+([0-9]+)", text, re.M)
        return int(m.group(1)) if m else None

    m = re.search(r"^Time per request:\s+([0-9.]+) \[ms\] \(mean\)", text, re.M)
    return {
        "complete": figure("Complete requests"),
        "failed": figure("Failed requests"),
        "non_2xx": figure("Non-2xx responses") or 0,
        "mean_ms": float(m.group(1)) if m else None,
    }


def parse_agent_exit_line(text):
    """Counters of the agent's last statistics line: profiles, events, lost."""
    out = {}
    for line in text.splitlines():
        m = re.search(r"(\d+) profiles, kernel events (\d+) \(lost (\d+)\)", line)
        if m:
            out = {"profiles": int(m.group(1)), "events": int(m.group(2)),
                   "lost": int(m.group(3))}
    return out
