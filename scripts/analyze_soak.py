#!/usr/bin/env python3
"""analyze_soak.py — judge a soak run's CSV (from bench_soak / scripts/soak.sh).

    scripts/analyze_soak.py CSV [--warmup-epochs N] [--max-drift PCT]
                            [--max-cv PCT] [--max-calls-per-op X]
                            [--drift-metric fit|endpoints|both] [--quiet]

The CSV has a header and one row per epoch:
epoch,ops_per_s,rss_kib,os_calls,ops,ops_per_cpu_s,cpu_s,steal_s
(ops and os_calls counted within the epoch; os_calls -1 when the allocator
has no counters; ops_per_s = ops / the epoch's wall-clock length;
ops_per_cpu_s = ops / cpu_s, the CPU time the process ran in the epoch;
steal_s the hypervisor's steal time of all CPUs in the epoch, -1 unknown).
The last three columns are optional: CSVs written before they existed are
read, and judged on ops_per_s.  The first N epochs (default: a tenth of
them, at least 1) are warm-up and left out of everything below.

Reported, over the epochs after warm-up:
  rss drift       last epoch's RSS vs the first's, in % of the first; and the
                  least-squares line through every epoch's RSS, its rise over
                  the run in % of the mean RSS (robust to one noisy epoch)
  throughput      for the CPU-time throughput (ops_per_cpu_s) and the
                  wall-clock one (ops_per_s): mean, coefficient of variation
                  (sample stdev / mean, %), epoch percentiles p50 p90 p99
                  (linear interpolation) and min; the CPU seconds per wall
                  second the process got (overall and the range over the
                  epochs), the steal time, and the correlation between the
                  epochs' CPU-time throughput and the CPUs they got (near
                  +1: other processes on the machine slow each CPU-second
                  too, through caches and context switches)
  os calls        total OS calls / total ops

Checks (only those asked for; each prints one PASS/FAIL/SKIP line):
  --max-drift PCT         RSS growth <= PCT, measured by --drift-metric:
                          fit (default: the linear fit, which one noisy epoch
                          cannot swing), endpoints (last vs first epoch),
                          both, or fit-lower (the lower end of the fit's 95 %
                          confidence interval: fails only when growth above
                          PCT is beyond the noise; for short CI runs);
                          shrinking always passes
  --max-cv PCT            throughput CV <= PCT, judged on the CPU-time
                          throughput (ops_per_cpu_s): on a shared machine
                          the wall-clock one moves with what other
                          processes and the hypervisor take (10-15 % here),
                          the CPU-time one only with the allocator and the
                          hardware; the wall-clock CV is printed too.  CSVs
                          without ops_per_cpu_s are judged on ops_per_s
  --max-calls-per-op X    OS calls per op <= X (SKIP when there are no counters)

Exit status: 0 every check passed (or was skipped), 1 a check failed,
2 the CSV could not be used.  Python 3 standard library only.
"""
import argparse
import csv
import math
import sys

COLUMNS = ("epoch", "ops_per_s", "rss_kib", "os_calls", "ops")
CPU_COLUMNS = ("ops_per_cpu_s", "cpu_s", "steal_s")  # optional (newer CSVs)


def die(msg):
    print(f"analyze_soak: {msg}", file=sys.stderr)
    sys.exit(2)


def read_rows(path):
    try:
        with open(path, newline="") as f:
            lines = [l for l in f if l.strip() and not l.lstrip().startswith("#")]
    except OSError as e:
        die(f"{path}: {e.strerror}")
    reader = csv.DictReader(lines)
    if reader.fieldnames is None or any(c not in reader.fieldnames for c in COLUMNS):
        die(f"{path}: expected a header with columns {','.join(COLUMNS)}")
    has_cpu = all(c in reader.fieldnames for c in CPU_COLUMNS)
    rows = []
    for n, r in enumerate(reader, start=2):
        try:
            row = {
                "epoch": int(r["epoch"]),
                "ops_per_s": float(r["ops_per_s"]),
                "rss_kib": float(r["rss_kib"]),
                "os_calls": int(r["os_calls"]),
                "ops": int(r["ops"]),
            }
            if has_cpu:
                row.update({c: float(r[c]) for c in CPU_COLUMNS})
            rows.append(row)
        except (TypeError, ValueError):
            die(f"{path}: line {n} is not a complete row: {r}")
    return rows


def percentile(sorted_vals, p):
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_vals:
        return float("nan")
    k = (len(sorted_vals) - 1) * p / 100.0
    lo = math.floor(k)
    hi = math.ceil(k)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (k - lo)


def linear_fit(xs, ys):
    """Slope, intercept and the slope's standard error of the least-squares line."""
    n = len(xs)
    mx = sum(xs) / n
    my = sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0, my, 0.0
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    icept = my - slope * mx
    if n <= 2:
        return slope, icept, float("inf")
    rss = sum((y - (icept + slope * x)) ** 2 for x, y in zip(xs, ys))
    return slope, icept, math.sqrt(rss / (n - 2) / sxx)


# Two-sided 95 % Student t quantiles by degrees of freedom.
T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26,
       10: 2.23, 12: 2.18, 15: 2.13, 20: 2.09, 30: 2.04, 60: 2.00}


def t95(dof):
    for d in sorted(T95):
        if dof <= d:
            return T95[d]
    return 1.96


def pearson(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else float("nan")


def throughput(vals):
    """Mean, CV (%), p50, p90, p99 and min of epoch throughputs."""
    mean = sum(vals) / len(vals)
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
    s = sorted(vals)
    return {"mean": mean, "cv": sd / mean * 100.0 if mean > 0 else float("nan"),
            "p50": percentile(s, 50), "p90": percentile(s, 90), "p99": percentile(s, 99),
            "min": s[0]}


def analyze(rows, warmup):
    post = rows[warmup:]
    res = {"epochs": len(rows), "warmup": warmup, "used": len(post)}
    rss = [r["rss_kib"] for r in post]
    ops_s = [r["ops_per_s"] for r in post]
    res["rss_first_kib"] = rss[0]
    res["rss_last_kib"] = rss[-1]
    res["rss_min_kib"] = min(rss)
    res["rss_max_kib"] = max(rss)
    res["rss_mean_kib"] = sum(rss) / len(rss)
    res["drift_pct"] = (rss[-1] - rss[0]) / rss[0] * 100.0 if rss[0] > 0 else float("nan")
    if len(post) >= 2:
        xs = [r["epoch"] for r in post]
        slope, _, se = linear_fit(xs, rss)
        scale = (xs[-1] - xs[0]) / res["rss_mean_kib"] * 100.0
        res["fit_drift_pct"] = slope * scale
        res["fit_drift_ci_pct"] = t95(len(xs) - 2) * se * scale if len(xs) > 2 else float("inf")
    else:
        res["fit_drift_pct"] = 0.0
        res["fit_drift_ci_pct"] = float("inf")
    res["wall"] = throughput(ops_s)
    # The CPU-time throughput, when every analysed epoch has it.
    if all(r.get("ops_per_cpu_s", -1) > 0 for r in post):
        res["cpu"] = throughput([r["ops_per_cpu_s"] for r in post])
        wall_s = sum(r["ops"] / r["ops_per_s"] for r in post if r["ops_per_s"] > 0)
        res["cpu_s"] = sum(r["cpu_s"] for r in post)
        res["cpu_per_wall"] = res["cpu_s"] / wall_s if wall_s > 0 else float("nan")
        res["wall_s"] = wall_s
        steal = [r["steal_s"] for r in post]
        res["steal_s"] = sum(steal) if all(v >= 0 for v in steal) else None
        # Does the CPU-time throughput still follow the machine's load?
        # Its correlation with the CPUs the process got per epoch.
        share = [r["cpu_s"] * r["ops_per_s"] / r["ops"] if r["ops"] else 0.0 for r in post]
        res["cpu_share_min"], res["cpu_share_max"] = min(share), max(share)
        res["corr_share"] = pearson([r["ops_per_cpu_s"] for r in post], share)
    else:
        res["cpu"] = None
    # What --max-cv judges: the CPU-time throughput when there is one.
    res["judged"] = "cpu" if res["cpu"] is not None else "wall"
    if any(r["os_calls"] < 0 for r in post):
        res["calls_per_op"] = None
    else:
        calls = sum(r["os_calls"] for r in post)
        ops = sum(r["ops"] for r in post)
        res["os_calls"] = calls
        res["ops"] = ops
        res["calls_per_op"] = calls / ops if ops else float("nan")
    return res


def main():
    ap = argparse.ArgumentParser(
        description="Judge a soak CSV: RSS drift, throughput CV and percentiles, OS calls per op.")
    ap.add_argument("csv")
    ap.add_argument("--warmup-epochs", type=int, default=None,
                    help="epochs to leave out at the start (default: a tenth, at least 1)")
    ap.add_argument("--max-drift", type=float, default=None, metavar="PCT")
    ap.add_argument("--drift-metric", choices=("fit", "endpoints", "both", "fit-lower"), default="fit",
                    help="which drift measure --max-drift judges (default: fit)")
    ap.add_argument("--max-cv", type=float, default=None, metavar="PCT")
    ap.add_argument("--max-calls-per-op", type=float, default=None, metavar="X")
    ap.add_argument("--quiet", action="store_true", help="print only the check lines")
    a = ap.parse_args()

    rows = read_rows(a.csv)
    if not rows:
        die(f"{a.csv}: no epochs")
    warmup = a.warmup_epochs if a.warmup_epochs is not None else max(1, len(rows) // 10)
    if warmup < 0:
        die("--warmup-epochs must be >= 0")
    if len(rows) - warmup < 2:
        die(f"{a.csv}: {len(rows)} epochs, {warmup} of warm-up: need at least 2 after it")
    r = analyze(rows, warmup)

    if not a.quiet:
        print(f"file        {a.csv}")
        print(f"epochs      {r['epochs']} ({r['warmup']} warm-up, {r['used']} analysed)")
        print(f"rss_kib     first {r['rss_first_kib']:.0f}  last {r['rss_last_kib']:.0f}  "
              f"min {r['rss_min_kib']:.0f}  max {r['rss_max_kib']:.0f}  mean {r['rss_mean_kib']:.0f}")
        print(f"rss_drift   last-vs-first {r['drift_pct']:+.2f}%  linear-fit {r['fit_drift_pct']:+.2f}% "
              f"(95% CI ±{r['fit_drift_ci_pct']:.2f}%) over the run")
        def tline(name, t, note):
            print(f"{name} mean {t['mean']:.0f}  cv {t['cv']:.2f}%  p50 {t['p50']:.0f}  "
                  f"p90 {t['p90']:.0f}  p99 {t['p99']:.0f}  min {t['min']:.0f}  ({note})")
        if r["cpu"] is not None:
            tline("ops_cpu_s  ", r["cpu"], "ops per CPU-second of the process: the CV check's")
            tline("ops_per_s  ", r["wall"], "wall clock: moves with the machine's other load")
            steal = "n/a" if r["steal_s"] is None else f"{r['steal_s']:.2f} s"
            print(f"cpu_time    {r['cpu_s']:.1f} s over {r['wall_s']:.1f} s of wall clock "
                  f"({r['cpu_per_wall']:.2f} CPUs, per epoch {r['cpu_share_min']:.2f}-"
                  f"{r['cpu_share_max']:.2f}); steal of all CPUs {steal}; "
                  f"corr(ops_cpu_s, CPUs) {r['corr_share']:+.2f}")
        else:
            tline("ops_per_s  ", r["wall"], "wall clock; no CPU-time column in this CSV")
        if r["calls_per_op"] is None:
            print("os_calls    n/a (no hakmem counters)")
        else:
            print(f"os_calls    {r['os_calls']} over {r['ops']} ops = {r['calls_per_op']:.3g} per op")

    failed = 0

    def check(name, ok, detail):
        nonlocal failed
        word = "SKIP" if ok is None else "PASS" if ok else "FAIL"
        if ok is False:
            failed += 1
        print(f"{word} {name}: {detail}")

    if a.max_drift is not None:
        judged = {"fit": [r["fit_drift_pct"]], "endpoints": [r["drift_pct"]],
                  "both": [r["fit_drift_pct"], r["drift_pct"]],
                  "fit-lower": [r["fit_drift_pct"] - r["fit_drift_ci_pct"]]}[a.drift_metric]
        check("rss_drift", max(judged) <= a.max_drift,
              f"linear-fit {r['fit_drift_pct']:+.2f}% ±{r['fit_drift_ci_pct']:.2f}%, "
              f"last-vs-first {r['drift_pct']:+.2f}% (max {a.max_drift:g}%, judged on {a.drift_metric})")
    if a.max_cv is not None:
        j = r[r["judged"]]
        what = ("of ops per CPU-second; wall-clock CV {:.2f}% not judged".format(r["wall"]["cv"])
                if r["judged"] == "cpu" else "of wall-clock ops/s: the CSV has no CPU time")
        check("throughput_cv", j["cv"] <= a.max_cv, f"{j['cv']:.2f}% (max {a.max_cv:g}%) {what}")
    if a.max_calls_per_op is not None:
        if r["calls_per_op"] is None:
            check("os_calls_per_op", None, "no OS call counters for this allocator")
        else:
            check("os_calls_per_op", r["calls_per_op"] <= a.max_calls_per_op,
                  f"{r['calls_per_op']:.3g} (max {a.max_calls_per_op:g})")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
