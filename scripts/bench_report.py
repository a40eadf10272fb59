#!/usr/bin/env python3
"""bench_report.py — turn a bench_compare.sh run directory into report.md and
a chart (chart.png and chart.svg, drawn by gnuplot when it is installed).

    scripts/bench_report.py --dir bench/results/latest [--subject hakmem]

Reads DIR/runs.csv (one row per run) and DIR/meta.txt (key=value lines).
For every benchmark and allocator it takes the median over the successful
rounds of ops/s, time and peak RSS; the subject allocator (hakmem unless told
otherwise, or the first allocator when hakmem was not run) is then compared
with every other one as ratios of medians:

    time ratio = subject's median time / peer's median time   (< 1: faster)
    RSS ratio  = subject's median peak RSS / peer's            (< 1: smaller)

and with the best peer of each benchmark (the peer with the lowest median
time, and separately the one with the lowest median peak RSS). Result lines
with a unit= key (the applications) show their ops/s in that unit, and get
tables of median wall time and of median CPU time (user_s + sys_s of their
result line: the application's processes; redis-server's for redis), with
the CPU-time ratio to the best peer: on a loaded machine a process's wall
time includes waiting for a CPU, its CPU time much less so.

Medians, because one run disturbed by the machine should not move the
result; ratios, because absolute numbers on a shared virtual machine say
little, while two allocators measured in alternation see the same machine.
Python standard library only.
"""

import argparse
import csv
import math
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SUITE = os.path.join(HERE, "..", "bench", "suite.txt")

# Ratios worse than this are printed in bold: where the subject is behind.
BEHIND = 1.10


def read_meta(path):
    meta = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    meta[k] = v
    return meta


def suite_order(path):
    names = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                name = line.split("|")[0].strip()
                if name and not name.startswith("#") and not name.startswith("["):
                    names.append(name)
    return names


def number(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def si(x):
    """74600000 -> '74.6M': short, fixed three significant digits."""
    if x is None:
        return "–"
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g}{unit}"
    return f"{x:.3g}"


def mib(kib):
    return "–" if kib is None else f"{kib / 1024:.1f}"


def ratio(x):
    if x is None:
        return "–"
    s = f"{x:.2f}"
    return f"**{s}**" if x > BEHIND else s


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else None


def line_field(row, key):
    for kv in row.get("line", "").split():
        if kv.startswith(key + "="):
            return kv[len(key) + 1:]
    return None


def value(row, key):
    """A CSV column, or "cpu_s": user_s + sys_s from the raw result line."""
    if key == "cpu_s":
        u, s = number(line_field(row, "user_s")), number(line_field(row, "sys_s"))
        return u + s if u is not None and s is not None and u + s > 0 else None
    return number(row.get(key))


class Cell:
    """All runs of one benchmark under one allocator."""

    def __init__(self):
        self.rows = []

    @property
    def ok(self):
        return [r for r in self.rows if r["status"] == "ok"]

    def median(self, key):
        vals = [value(r, key) for r in self.ok]
        vals = [v for v in vals if v is not None]
        return statistics.median(vals) if vals else None

    def spread(self, key):
        """Half the range of the successful runs, as a fraction of the median."""
        vals = [value(r, key) for r in self.ok]
        vals = [v for v in vals if v is not None]
        m = statistics.median(vals) if vals else None
        if not vals or not m:
            return None
        return (max(vals) - min(vals)) / 2 / m

    def failures(self):
        return [r for r in self.rows if r["status"] != "ok"]


def load(csv_path, suite):
    cells, benches, allocs = {}, [], []
    with open(csv_path, newline="") as f:
        for row in csv.DictReader(f):
            b, a = row["bench"], row["allocator"]
            if b not in benches:
                benches.append(b)
            if a not in allocs:
                allocs.append(a)
            cells.setdefault((b, a), Cell()).rows.append(row)
    order = [b for b in suite_order(suite) if b in benches]
    order += [b for b in benches if b not in order]
    return cells, order, allocs


def table(header, rows):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def unit_of(cell):
    """The unit= of a benchmark's result lines (the applications), or None."""
    for r in (cell.ok if cell else []):
        u = line_field(r, "unit")
        if u:
            return u
    return None


def cell_text(cell, key, fmt, with_spread=False):
    if cell is None or not cell.rows:
        return "–"
    if not cell.ok:
        return "FAIL"
    text = fmt(cell.median(key))
    if key == "ops_per_s" and unit_of(cell):
        text += f" {unit_of(cell)}/s"
    if with_spread:
        s = cell.spread(key)
        if s is not None and s >= 0.005:
            text += f" ±{s * 100:.0f}%"
    if cell.failures():
        text += f" ({len(cell.ok)}/{len(cell.rows)} ok)"
    return text


def ratio_of(cells, b, subj, peer, key):
    s, p = cells.get((b, subj)), cells.get((b, peer))
    if not s or not p:
        return None
    sm, pm = s.median(key), p.median(key)
    return sm / pm if sm is not None and pm else None


def best_peer(cells, b, peers, key):
    """(peer, median) of the peer with the lowest median of key, or (None, None)."""
    best = (None, None)
    for p in peers:
        c = cells.get((b, p))
        m = c.median(key) if c else None
        if m and (best[1] is None or m < best[1]):
            best = (p, m)
    return best


def best_ratio(cells, b, subj, peers, key):
    p, pm = best_peer(cells, b, peers, key)
    s = cells.get((b, subj))
    sm = s.median(key) if s else None
    return (sm / pm if p and sm is not None else None), p


def write_chart(d, cells, benches, subj, peers):
    """Clustered bars of log2(ratio) per benchmark, one bar per peer: bars
    grow up from the 1x line when the subject is slower (or larger)."""
    if not peers:
        return None
    lim = 1
    for name, key in (("time", "time_s"), ("rss", "peak_rss_kib")):
        with open(os.path.join(d, f"chart_{name}.dat"), "w") as f:
            f.write("bench " + " ".join(peers) + "\n")
            for b in benches:
                vals = []
                for p in peers:
                    r = ratio_of(cells, b, subj, p, key)
                    if r:
                        lg = math.log2(r)
                        lim = max(lim, math.ceil(abs(lg)))
                        vals.append(f"{lg:.4f}")
                    else:
                        vals.append("?")
                f.write(b + " " + " ".join(vals) + "\n")
    tics = ", ".join(
        f'"{2.0 ** i:g}x" {i}' if i >= 0 else f'"1/{2 ** -i:g}x" {i}'
        for i in range(-lim, lim + 1))
    ncol = len(peers) + 1
    plot = lambda name: ", ".join(
        f"'chart_{name}.dat' using {c}:xtic(1) title columnheader({c})"
        for c in range(2, ncol + 1))
    gp = f"""# Generated by bench_report.py; run from this directory: gnuplot chart.gp
set datafile missing "?"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key outside right top
set grid ytics
set xtics rotate by -40 scale 0 font ",9"
set yrange [{-lim - 0.25}:{lim + 0.25}]
set ytics ({tics})
set xzeroaxis lw 2 lc rgb "black"
set lmargin 10
do for [fmt in "png svg"] {{
  if (fmt eq "png") {{ set terminal pngcairo noenhanced size 1300,1000 font ",10" }} else {{ set terminal svg noenhanced size 1300,1000 dynamic font ",10" }}
  set output "chart.".fmt
  set multiplot layout 2,1 title "{subj} relative to each peer (ratio of medians, log scale; below 1x = {subj} better)"
  set title "time: {subj} / peer"
  plot {plot("time")}
  set title "peak RSS: {subj} / peer"
  plot {plot("rss")}
  unset multiplot
  set output
}}
"""
    with open(os.path.join(d, "chart.gp"), "w") as f:
        f.write(gp)
    if not shutil.which("gnuplot"):
        print("bench_report: gnuplot not found; wrote chart.gp only", file=sys.stderr)
        return None
    res = subprocess.run(["gnuplot", "chart.gp"], cwd=d, capture_output=True, text=True)
    if res.returncode != 0:
        print("bench_report: gnuplot failed:\n" + res.stderr, file=sys.stderr)
        return None
    return "chart.png"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", required=True, help="a bench_compare.sh output directory")
    ap.add_argument("--subject", default="hakmem", help="allocator compared with the others")
    args = ap.parse_args()
    d = args.dir
    meta = read_meta(os.path.join(d, "meta.txt"))
    cells, benches, allocs = load(os.path.join(d, "runs.csv"), meta.get("suite", SUITE))
    if not benches:
        sys.exit("bench_report: no runs in " + d)
    listed = meta.get("allocators", "").split()
    allocs = [a for a in listed if a in allocs] + [a for a in allocs if a not in listed]
    subj = args.subject if args.subject in allocs else allocs[0]
    peers = [a for a in allocs if a != subj]

    md = [f"## Results: {meta.get('mode', '?')} mode, {meta.get('rounds', '?')} rounds, "
          f"{meta.get('date', '')}", ""]
    md.append(f"Machine: {meta.get('cpu', '?')}, {meta.get('cpus', '?')} CPUs, "
              f"{meta.get('memory', '?')}, Linux {meta.get('kernel', '?')}, "
              f"glibc {meta.get('glibc', '?')}; load average {meta.get('load_start', '?')} "
              f"at start, {meta.get('load_end', '?')} at end.  ")
    versions = [f"{a} {meta['pkg_' + a].split(' ', 1)[-1]}" for a in allocs if "pkg_" + a in meta]
    md.append(f"hakmem {meta.get('hakmem_rev', '?')}" +
              (f"; peers from Debian: {', '.join(versions)}." if versions else "."))
    if subj != args.subject:
        md += ["", f"({args.subject} was not run: ratios are relative to {subj}.)"]

    md += ["", "### Throughput: median ops/s (± half the range over rounds); higher is better", ""]
    md += table(["benchmark"] + allocs,
                [[b] + [cell_text(cells.get((b, a)), "ops_per_s", si, True) for a in allocs]
                 for b in benches])

    timed = [b for b in benches if any(unit_of(cells.get((b, a))) for a in allocs)]
    if timed:
        md += ["", "### Applications: median time in seconds (± half the range over rounds); "
                   "lower is better", ""]
        md += table(["benchmark"] + allocs,
                    [[b] + [cell_text(cells.get((b, a)), "time_s", lambda x: f"{x:.3f}", True)
                            for a in allocs] for b in timed])
        md += ["", "### Applications: median CPU time in seconds (user + sys; redis: the "
                   "server's), ± half the range; lower is better", ""]
        md += table(["benchmark"] + allocs,
                    [[b] + [cell_text(cells.get((b, a)), "cpu_s", lambda x: f"{x:.2f}", True)
                            for a in allocs] for b in timed])

    md += ["", "### Peak RSS: median MiB; lower is better", ""]
    md += table(["benchmark"] + allocs,
                [[b] + [cell_text(cells.get((b, a)), "peak_rss_kib", mib) for a in allocs]
                 for b in benches])

    if peers:
        md += ["", f"### {subj} relative to each peer: ratio of medians "
                   f"(below 1 = {subj} faster / smaller; **bold** = {subj} behind by more "
                   f"than {round((BEHIND - 1) * 100)}%)", ""]
        rows, gm = [], {}
        for b in benches:
            row = [b]
            for key in ("time_s", "peak_rss_kib"):
                for p in peers:
                    r = ratio_of(cells, b, subj, p, key)
                    gm.setdefault((key, p), []).append(r)
                    row.append(ratio(r))
            rows.append(row)
        rows.append(["*geometric mean*"] +
                    [ratio(geomean(gm[(k, p)])) for k in ("time_s", "peak_rss_kib") for p in peers])
        md += table(["benchmark"] + [f"time ÷ {p}" for p in peers] +
                    [f"RSS ÷ {p}" for p in peers], rows)

        md += ["", f"### {subj} relative to the best peer of each benchmark (lowest median "
                   f"time; lowest median peak RSS)", ""]
        rows, gt, gr, gc = [], [], [], []
        for b in benches:
            rt, pt = best_ratio(cells, b, subj, peers, "time_s")
            rr, pr = best_ratio(cells, b, subj, peers, "peak_rss_kib")
            gt.append(rt)
            gr.append(rr)
            row = [b, ratio(rt), pt or "–", ratio(rr), pr or "–"]
            if timed:
                rc, pc = best_ratio(cells, b, subj, peers, "cpu_s")
                gc.append(rc)
                row += [ratio(rc), pc or "–"]
            rows.append(row)
        head = ["benchmark", "time ÷ best", "fastest peer", "RSS ÷ best", "smallest peer"]
        last = ["*geometric mean*", ratio(geomean(gt)), "", ratio(geomean(gr)), ""]
        if timed:
            head += ["CPU time ÷ best", "least CPU"]
            last += [ratio(geomean(gc)), ""]
        rows.append(last)
        md += table(head, rows)

    with_final = [b for b in benches
                  if any(number(r["final_rss_kib"]) is not None
                         for a in allocs for r in cells.get((b, a), Cell()).ok)]
    if with_final:
        md += ["", "### Final RSS: median MiB at the end of the run (see docs/BENCHMARKS.md "
                   "for what each benchmark measures there); lower is better", ""]
        md += table(["benchmark"] + allocs,
                    [[b] + [cell_text(cells.get((b, a)), "final_rss_kib", mib) for a in allocs]
                     for b in with_final])

    notes = []
    for b in benches:
        for a in allocs:
            c = cells.get((b, a))
            for r in (c.failures() if c else []):
                notes.append(f"- {b} under {a}, round {r['round']}: {r['status']} "
                             f"(exit {r['exit_code']}); stderr in logs/{b}.{a}.r{r['round']}.err")
        checks = {r["check"] for a in allocs for r in cells.get((b, a), Cell()).ok if r["check"]}
        if len(checks) > 1:
            notes.append(f"- {b}: the work checksum differs between runs ({', '.join(sorted(checks))}): "
                         "the allocators did not all do the same work")
    if notes:
        md += ["", "### Failures and warnings", ""] + notes

    chart = write_chart(d, cells, benches, subj, peers)
    if chart:
        md += ["", f"![{subj} relative time and memory per benchmark]({chart})"]
    md += ["", f"Every run is in `runs.csv`. Command: `{meta.get('command', 'scripts/bench_compare.sh')}`."]
    with open(os.path.join(d, "report.md"), "w") as f:
        f.write("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
