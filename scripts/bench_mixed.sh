#!/usr/bin/env bash
# bench_mixed.sh — `make bench`: the Mixed benchmark under glibc and hakmem
# (or any allocators), interleaved, with medians and hakmem's ratio to each.
#
#   scripts/bench_mixed.sh [--runs N] [--allocators a,b,...] [-- ITERS WS SEED [MIN MAX]]
#
# Defaults: 3 runs each of `bench_random_mixed 20000000 400 1`, allocators
# glibc,hakmem. Prints every result line, the medians, and hakmem's ratio
# to each other allocator (ops/s above 1 = hakmem faster; RSS below 1 =
# hakmem smaller). Runs alternate between allocators (a b a b ...) so that a
# slow phase of the machine hits both alike.
set -euo pipefail
# shellcheck source=scripts/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"

runs=3
allocs=glibc,hakmem
args=(20000000 400 1)
while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=${2:?}; shift 2 ;;
        --allocators) allocs=${2:?}; shift 2 ;;
        --) shift; args=("$@"); break ;;
        -h|--help) bench_help; exit 0 ;;
        *) bench_die "unknown argument '$1'" ;;
    esac
done
IFS=, read -r -a alist <<<"$allocs"
bench_need_allocs "${alist[@]}"
exe=$BENCH_BIN_DIR/bench_random_mixed
[ -x "$exe" ] || bench_die "$exe not built (make bench-build)"

declare -A ops rss
echo "bench_random_mixed ${args[*]}, $runs run(s) per allocator"
for ((r = 1; r <= runs; r++)); do
    for a in "${alist[@]}"; do
        line=$(LD_PRELOAD=$(bench_alloc_lib "$a") "$exe" "${args[@]}" | grep '^bench=') ||
            bench_die "$a: bench_random_mixed failed"
        [ "$(bench_field "$line" malloc)" = "$a" ] ||
            bench_die "$a: ran under $(bench_field "$line" malloc) (LD_PRELOAD ignored?)"
        printf '%-9s %s\n' "$a" "$line"
        ops[$a]+="$(bench_field "$line" ops_per_s) "
        rss[$a]+="$(bench_field "$line" peak_rss_kib) "
    done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
echo
printf '%-9s %14s %14s\n' allocator "median ops/s" "peak RSS KiB"
for a in "${alist[@]}"; do
    printf '%-9s %14.0f %14.0f\n' "$a" "$(median <<<"${ops[$a]}")" "$(median <<<"${rss[$a]}")"
done
# Ratios: hakmem against every other allocator when it was run, otherwise
# every allocator against the first one listed.
subject=${alist[0]}
[[ " ${alist[*]} " == *" hakmem "* ]] && subject=hakmem
for a in "${alist[@]}"; do
    [ "$a" = "$subject" ] && continue
    if [ "$subject" = hakmem ]; then x=hakmem y=$a; else x=$a y=$subject; fi
    awk -v x="$x" -v y="$y" -v xo="$(median <<<"${ops[$x]}")" -v yo="$(median <<<"${ops[$y]}")" \
        -v xr="$(median <<<"${rss[$x]}")" -v yr="$(median <<<"${rss[$y]}")" \
        'BEGIN { printf "%s/%s: ops/s %.2fx, peak RSS %.2fx\n", x, y, xo / yo, xr / yr }'
done
