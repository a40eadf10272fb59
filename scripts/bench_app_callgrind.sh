#!/usr/bin/env bash
# bench_app_callgrind.sh — instruction counts of one application under every
# allocator (callgrind: exact and repeatable, unlike times on a shared
# machine), through scripts/bench_app.sh (same inputs and output checks as
# the timed runs; BENCH_APP_WRAP puts valgrind in front of the application).
#
#   scripts/bench_app_callgrind.sh [--allocators LIST] [--out DIR] [--top N] APP [KEY=VALUE...]
#
# Use small parameters: callgrind runs 50-100 times slower. For example
#   scripts/bench_app_callgrind.sh sqlite rows=20000
#   scripts/bench_app_callgrind.sh redis d=2000 n=20000 keys=300
# Prints, per allocator: the run's instructions (every process: gcc, cc1
# and as), the allocator's own (scripts/bench_callgrind.py --alloc: its
# library; for glibc, the malloc functions in libc), libc's memcpy, memmove
# and memset, and each as a ratio to hakmem's. Then hakmem's functions with
# the most instructions (exclusive). The callgrind files stay in DIR
# (default $BUILD/bench-apps/callgrind/APP-<params>/), one per process,
# for callgrind_annotate.
set -euo pipefail
# shellcheck source=scripts/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"

allocs=glibc,hakmem,mimalloc,jemalloc,tcmalloc out='' top=25
while [ $# -gt 0 ]; do
    case $1 in
        --allocators) allocs=${2:?}; shift 2 ;;
        --out) out=${2:?}; shift 2 ;;
        --top) top=${2:?}; shift 2 ;;
        -h|--help) bench_help; exit 0 ;;
        -*) bench_die "unknown option '$1'" ;;
        *) break ;;
    esac
done
[ $# -ge 1 ] || bench_die "usage: bench_app_callgrind.sh [options] APP [KEY=VALUE...]"
IFS=, read -r -a alist <<<"$allocs"
bench_need_allocs "${alist[@]}"
bench_install valgrind || exit 1
tag=$(IFS=-; echo "$*" | tr -c 'A-Za-z0-9=.-' '_')
[ -n "$out" ] || out=$BUILD/bench-apps/callgrind/$tag
mkdir -p "$out"
PY=/usr/bin/python3
[ -x $PY ] || PY=python3
CG=$BENCH_ROOT/scripts/bench_callgrind.py

"$BENCH_ROOT/scripts/bench_app.sh" --prepare "$@"
declare -A res
for a in "${alist[@]}"; do
    rm -f "$out/$a".*
    echo "bench_app_callgrind: $* under $a" >&2
    line=$(BENCH_ALLOC=$a BENCH_APP_WRAP="valgrind --tool=callgrind --trace-children=yes --callgrind-out-file=$out/$a.%p" \
        "$BENCH_ROOT/scripts/bench_app.sh" "$@" 2>"$out/$a.log") ||
        { tail -n 20 "$out/$a.log" >&2; bench_die "$a: the run failed (log: $out/$a.log)"; }
    [ "$(bench_field "$line" malloc)" = "$a" ] || bench_die "$a: ran under '$(bench_field "$line" malloc)'"
    res[$a]=$("$PY" "$CG" --alloc "$a" "$out/$a".[0-9]*)
done

ref=${res[hakmem]:-}
printf '%-10s %15s %15s %15s %10s %10s\n' allocator total_Ir allocator_Ir libc_memops "÷hakmem" "alloc÷hk"
for a in "${alist[@]}"; do
    r=${res[$a]}
    t=$(bench_field "$r" total) al=$(bench_field "$r" allocator) m=$(bench_field "$r" libc_memops)
    if [ -n "$ref" ]; then
        rt=$(awk -v x="$t" -v y="$(bench_field "$ref" total)" 'BEGIN { printf "%.3f", x / y }')
        ra=$(awk -v x="$al" -v y="$(bench_field "$ref" allocator)" 'BEGIN { printf "%.2f", (y > 0 ? x / y : 0) }')
    else rt=- ra=-; fi
    printf '%-10s %15s %15s %15s %10s %10s\n' "$a" "$t" "$al" "$m" "$rt" "$ra"
done
if [ -n "$ref" ]; then
    echo
    echo "hakmem, exclusive instructions per function (top $top):"
    "$PY" "$CG" --functions "$out/hakmem".[0-9]* | awk -F"\t" '$2 ~ /libhakmem/ { print $1 "\t" $3 }' | head -n "$top"
fi
echo "callgrind files: $out" >&2
