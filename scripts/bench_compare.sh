#!/usr/bin/env bash
# bench_compare.sh — `make bench-compare`: the suite (bench/suite.txt)
# under glibc, hakmem, mimalloc, jemalloc and tcmalloc, in interleaved rounds;
# then a CSV of every run, a Markdown report and a chart (bench_report.py).
# `make bench-apps` is `bench_compare.sh --only apps`: the applications.
#
#   scripts/bench_compare.sh [--quick] [--rounds N] [--only NAME,...]
#                            [--allocators NAME,...] [--out DIR] [--timeout S]
#                            [--suite FILE]
#
#   --quick        small arguments and 3 rounds: about 3 minutes
#                  (default: full arguments and 5 rounds, 30-40 minutes)
#   --rounds N     rounds (each round runs every benchmark under every allocator)
#   --only         benchmarks to run: suite names and group names, or "all"
#                  (default: every group not marked opt-in, i.e. the micro
#                  benchmarks; "apps" is the applications, about 25 minutes)
#   --allocators   default glibc,hakmem,mimalloc,jemalloc,tcmalloc
#   --out DIR      where to write (default bench/results/<date>-<mode>;
#                  bench/results/latest points at the last one)
#   --timeout S    per run (default 600; 120 with --quick)
#   --suite FILE   the benchmark table (default bench/suite.txt;
#                  bench/suite_threads.txt: issue 15's threads at 8-32)
#
# Interleaving: in round r the benchmark order is rotated by r and, for the
# i-th benchmark, the allocator order by r+i, so no allocator always runs
# first, last, or right after a particular neighbour. Progress goes to
# stderr. Missing peer libraries and gnuplot are installed with apt-get.
# A runner's benchmarks (the apps group) are prepared once before the rounds
# (`RUNNER --prepare ARGS`: packages, inputs, reference outputs), untimed.
# Exit status is non-zero when a hakmem run failed; a peer's failure is
# reported in the table but is not ours to fix.
set -uo pipefail
# shellcheck source=scripts/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"

invocation="scripts/bench_compare.sh${*:+ $*}"
mode=full rounds='' only='' allocs=glibc,hakmem,mimalloc,jemalloc,tcmalloc out='' limit=''
while [ $# -gt 0 ]; do
    case $1 in
        --quick) mode=quick; shift ;;
        --full) mode=full; shift ;;
        --rounds) rounds=${2:?}; shift 2 ;;
        --only) only=${2:?}; shift 2 ;;
        --allocators) allocs=${2:?}; shift 2 ;;
        --out) out=${2:?}; shift 2 ;;
        --timeout) limit=${2:?}; shift 2 ;;
        --suite) bench_set_suite "${2:?}"; shift 2 ;;
        -h|--help) bench_help; exit 0 ;;
        *) bench_die "unknown argument '$1' (see --help)" ;;
    esac
done
[ -n "$rounds" ] || { [ $mode = quick ] && rounds=3 || rounds=5; }
[ -n "$limit" ] || { [ $mode = quick ] && limit=120 || limit=600; }
[[ $rounds =~ ^[1-9][0-9]*$ ]] || bench_die "--rounds needs a positive integer"

IFS=, read -r -a alist <<<"$allocs"
bench_need_allocs "${alist[@]}"
bench_install gnuplot-nox || echo "warning: no gnuplot, the chart will be skipped" >&2

# The selected benchmarks: names, binaries and arguments for this mode.
bench_check_only "$only"
names=() bins=() argv=() groups=()
while IFS=$'\t' read -r name bin _smoke quick full group optin; do
    bench_selected "$only" "$name" "$group" "$optin" || continue
    names+=("$name") bins+=("$bin")
    [[ " ${groups[*]} " == *" $group "* ]] || groups+=("$group")
    [ $mode = quick ] && argv+=("$quick") || argv+=("$full")
    [ -x "$(bench_exe "$bin")" ] || bench_die "$(bench_exe "$bin") not built (make bench-build)"
done < <(bench_suite)
nb=${#names[@]} na=${#alist[@]}
[ "$nb" -gt 0 ] || bench_die "no benchmarks selected"

# Runners prepare their benchmarks before anything is timed.
for ((i = 0; i < nb; i++)); do
    bench_is_runner "${bins[$i]}" || continue
    echo "bench-compare: preparing ${names[$i]}" >&2
    # shellcheck disable=SC2086 # the argument list is meant to be split
    "$(bench_exe "${bins[$i]}")" --prepare ${argv[$i]} >&2 || bench_die "${names[$i]}: --prepare failed"
done

[ -n "$out" ] || out=$BENCH_ROOT/bench/results/$(date +%Y%m%d-%H%M%S)-$mode
mkdir -p "$out/logs" || bench_die "cannot create $out"
out=$(cd "$out" && pwd)
csv=$out/runs.csv

# What was measured, on what: read back by bench_report.py.
{
    echo "command=$invocation"
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "mode=$mode"
    echo "suite=$BENCH_SUITE"
    echo "rounds=$rounds"
    echo "groups=${groups[*]}"
    echo "allocators=${alist[*]}"
    echo "hakmem_rev=$(git -C "$BENCH_ROOT" rev-parse --short HEAD 2>/dev/null || echo none)$(git -C "$BENCH_ROOT" status --porcelain 2>/dev/null | grep -q . && echo '+dirty')"
    echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "cpus=$(nproc)"
    echo "memory=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "kernel=$(uname -r)"
    echo "glibc=$(ldd --version 2>/dev/null | head -n 1 | awk '{print $NF}')"
    echo "compiler=$(${CC:-cc} --version 2>/dev/null | head -n 1)"
    for a in "${alist[@]}"; do
        p=$(bench_alloc_pkg "$a")
        [ -n "$p" ] && echo "pkg_$a=$p $(dpkg-query -W -f='${Version}' "$p" 2>/dev/null)"
    done
    echo "thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)"
    echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/meta.txt"

echo "round,bench,allocator,status,exit_code,ops_per_s,time_s,peak_rss_kib,final_rss_kib,wall_s,check,args,line" >"$csv"

# Time-left estimate: the mean wall time of each benchmark so far (over all
# allocators), or of all runs for a benchmark not yet seen.
declare -A sum_ms cnt left
for n in "${names[@]}"; do sum_ms[$n]=0 cnt[$n]=0 left[$n]=$((rounds * na)); done
total_ms=0 done_runs=0 total_runs=$((nb * na * rounds)) hakmem_failed=0
t_begin=$(bench_ms)
fmt_s() { printf '%d:%02d' $(($1 / 60000)) $(($1 / 1000 % 60)); }

echo "bench-compare: $mode, $rounds rounds, $nb benchmarks x $na allocators = $total_runs runs -> $out" >&2
for ((r = 0; r < rounds; r++)); do
    for ((k = 0; k < nb; k++)); do
        i=$(((k + r) % nb))
        name=${names[$i]} bin=${bins[$i]} args=${argv[$i]}
        for ((j = 0; j < na; j++)); do
            a=${alist[$(((j + r + i) % na))]}
            err=$out/logs/$name.$a.r$((r + 1)).err
            t0=$(bench_ms)
            res=$(bench_run_one "$a" "$bin" "$args" "$limit" 2>"$err")
            rc=$?
            wall=$(($(bench_ms) - t0))
            line=$(grep '^bench=' <<<"$res" | tail -n 1)
            status=ok
            if [ $rc -eq 124 ]; then status=timeout
            elif [ $rc -ne 0 ]; then status=failed
            elif [ -z "$line" ]; then status=no_result
            elif [ "$(bench_field "$line" malloc)" != "$a" ]; then status=wrong_malloc
            fi
            [ -s "$err" ] || rm -f "$err"
            [ $status != ok ] && [ "$a" = hakmem ] && hakmem_failed=1
            f() { bench_field "$line" "$1" || true; }
            printf '%d,%s,%s,%s,%d,%s,%s,%s,%s,%d.%03d,%s,%s,"%s"\n' $((r + 1)) "$name" "$a" \
                $status $rc "$(f ops_per_s)" "$(f time_s)" "$(f peak_rss_kib)" \
                "$(f final_rss_kib)" $((wall / 1000)) $((wall % 1000)) "$(f check)" \
                "$args" "$line" >>"$csv"

            sum_ms[$name]=$((sum_ms[$name] + wall)) cnt[$name]=$((cnt[$name] + 1))
            left[$name]=$((left[$name] - 1))
            total_ms=$((total_ms + wall)) done_runs=$((done_runs + 1))
            eta=0
            for n in "${names[@]}"; do
                if [ "${cnt[$n]}" -gt 0 ]; then per=$((sum_ms[$n] / cnt[$n]))
                else per=$((total_ms / done_runs)); fi
                eta=$((eta + left[$n] * per))
            done
            printf '[%*d/%d] round %d/%d  %-15s %-9s %6d ms  %-12s elapsed %s  left ~%s\n' \
                ${#total_runs} $done_runs $total_runs $((r + 1)) "$rounds" "$name" "$a" \
                $wall $status "$(fmt_s $(($(bench_ms) - t_begin)))" "$(fmt_s $eta)" >&2
            if [ $status != ok ] && [ -s "$err" ]; then sed 's/^/      /' "$err" | tail -n 5 >&2; fi
        done
    done
done
echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/meta.txt"
rmdir "$out/logs" 2>/dev/null || true

python3 "$BENCH_ROOT/scripts/bench_report.py" --dir "$out" || bench_die "report failed"
ln -sfn "$out" "$BENCH_ROOT/bench/results/latest" 2>/dev/null || true
echo >&2
cat "$out/report.md"
echo >&2
echo "bench-compare: wrote $csv, $out/report.md and the chart in $out" >&2
[ $hakmem_failed -eq 0 ] || { echo "bench-compare: some hakmem runs FAILED (see the table and $out/logs)" >&2; exit 1; }
