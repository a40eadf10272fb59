#!/usr/bin/env bash
# bench_instr.sh — `make bench-instr`: instructions per operation of the Mixed
# workload under callgrind, the noise-free measure of fast-path work.
#
#   scripts/bench_instr.sh [--allocators a,b,...] [--short ITERS] [--long ITERS]
#                          [--ws WS] [--seed SEED]
#
# Defaults: glibc,hakmem,mimalloc; ITERS 200000 and 1200000; WS 400; seed 1.
# Each allocator runs bench_random_mixed twice under callgrind, a short and a
# long run. Start-up, initialisation and exit cost the same in both, so
#
#     Ir/op = (Ir_long - Ir_short) / (ops_long - ops_short)
#
# where ops is the program's total_ops: every malloc and every free it made,
# the untimed prefault pass and both drains included (callgrind counts the
# whole process, so the op count must too). The same difference is split by
# shared object (scripts/bench_callgrind.py): "benchmark" is what ran inside
# bench_random_mixed itself (loop, PRNG, checks, PLT stubs: the same for
# every allocator), "allocator" everything else, i.e. malloc and free and
# whatever they call. (Splitting by the allocator's own library does not
# work for every peer: tcmalloc keeps malloc/free in a separate ELF section
# that callgrind attributes to no object.)
set -euo pipefail
# shellcheck source=scripts/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"

allocs=glibc,hakmem,mimalloc short=200000 long=1200000 ws=400 seed=1
while [ $# -gt 0 ]; do
    case $1 in
        --allocators) allocs=${2:?}; shift 2 ;;
        --short) short=${2:?}; shift 2 ;;
        --long) long=${2:?}; shift 2 ;;
        --ws) ws=${2:?}; shift 2 ;;
        --seed) seed=${2:?}; shift 2 ;;
        -h|--help) bench_help; exit 0 ;;
        *) bench_die "unknown argument '$1' (see --help)" ;;
    esac
done
[ "$long" -gt "$short" ] || bench_die "--long must be larger than --short"
IFS=, read -r -a alist <<<"$allocs"
bench_need_allocs "${alist[@]}"
command -v valgrind >/dev/null || bench_install valgrind || exit 1
exe=$BENCH_BIN_DIR/bench_random_mixed
[ -x "$exe" ] || bench_die "$exe not built (make bench-build)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# measure ALLOC ITERS -> "total_ops Ir_total Ir_benchmark"
measure() {
    local a=$1 iters=$2 out=$tmp/$1.$2 line
    line=$(LD_PRELOAD=$(bench_alloc_lib "$a") valgrind --tool=callgrind \
        --callgrind-out-file="$out.cg" "$exe" "$iters" "$ws" "$seed" 2>"$out.log" |
        grep '^bench=') || { cat "$out.log" >&2; bench_die "$a: bench_random_mixed failed under callgrind"; }
    [ "$(bench_field "$line" malloc)" = "$a" ] || bench_die "$a: LD_PRELOAD was not applied"
    python3 "$BENCH_ROOT/scripts/bench_callgrind.py" "$out.cg" >"$out.obj"
    awk -F'\t' -v ops="$(bench_field "$line" total_ops)" -v bin="/$(basename "$exe")" '
        $2 == "TOTAL" { total = $1; next }
        substr($2, length($2) - length(bin) + 1) == bin { be += $1 }
        END { printf "%s %s %d\n", ops, total, be }' "$out.obj"
}

echo "bench_random_mixed ITERS $ws $seed under callgrind, ITERS = $short and $long"
printf '%-9s %10s %10s %10s\n' allocator "Ir/op" allocator benchmark
for a in "${alist[@]}"; do
    read -r o1 t1 b1 <<<"$(measure "$a" "$short")"
    read -r o2 t2 b2 <<<"$(measure "$a" "$long")"
    awk -v n="$a" -v o1="$o1" -v o2="$o2" -v t1="$t1" -v t2="$t2" -v b1="$b1" -v b2="$b2" 'BEGIN {
        d = o2 - o1; t = (t2 - t1) / d; be = (b2 - b1) / d
        printf "%-9s %10.2f %10.2f %10.2f\n", n, t, t - be, be }'
done
echo "(ops = every malloc and free, prefault and drains included; Ir/op = allocator + benchmark)"
