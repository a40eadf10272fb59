#!/usr/bin/env bash
# bench_profiles.sh — hakmem's profiles side by side: Mixed throughput
# (median of interleaved runs, ratio to SPEED), its peak RSS, OS calls per
# operation (HAKMEM_STATS=json, a separate run), and bench_release's RSS one
# second after freeing 600 MB and after malloc_trim.
#
#   scripts/bench_profiles.sh [--runs N] [--profiles "SPEED BALANCED ..."]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
runs=5
profiles="SPEED BALANCED LEAN DEBUG SECURE"
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --profiles) profiles=$2; shift 2 ;;
        *) echo "usage: $0 [--runs N] [--profiles LIST]" >&2; exit 2 ;;
    esac
done
make -s "$BUILD/libhakmem.so" "$BUILD/bench/bench_random_mixed" "$BUILD/bench/bench_release" >/dev/null
lib=$PWD/$BUILD/libhakmem.so
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
field() { grep -o "$1=[0-9.]*" | head -1 | cut -d= -f2; }
for ((r = 1; r <= runs; r++)); do
    for p in $profiles; do
        line=$(HAKMEM_PROFILE=$p LD_PRELOAD=$lib "$BUILD/bench/bench_random_mixed" 20000000 400 1)
        echo "$(echo "$line" | field ops_per_s) $(echo "$line" | field peak_rss_kib)" >> "$tmp/$p"
    done
done
median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
speed=$(cut -d' ' -f1 "$tmp/SPEED" 2>/dev/null | median || echo 0)
printf '| profile | Mixed ops/s (median of %d) | ÷ SPEED | peak RSS KiB | OS calls/op | RSS 1 s after freeing 600 MB (KiB above start) | after malloc_trim |\n' "$runs"
printf '|---|---:|---:|---:|---:|---:|---:|\n'
for p in $profiles; do
    ops=$(cut -d' ' -f1 "$tmp/$p" | median)
    rss=$(cut -d' ' -f2 "$tmp/$p" | median)
    calls=$(HAKMEM_PROFILE=$p HAKMEM_STATS=json LD_PRELOAD=$lib "$BUILD/bench/bench_random_mixed" 2000000 400 1 2>&1 >/dev/null |
            grep -o '"os_calls_per_op":[0-9.]*' | cut -d: -f2)
    rel=$(HAKMEM_PROFILE=$p LD_PRELOAD=$lib "$BUILD/bench/bench_release")
    ratio=$(awk -v a="$ops" -v b="$speed" 'BEGIN { printf "%.2f", b ? a / b : 0 }')
    printf '| %s | %.0f | %s | %s | %s | %s | %s |\n' "$p" "$ops" "$ratio" "$rss" "${calls:-?}" \
        "$(echo "$rel" | field above_start_1s_kib)" "$(echo "$rel" | field above_start_trim_kib)"
done
