#!/usr/bin/env bash
# bench_instr.sh — `make bench-instr`: instructions per operation under
# callgrind, the noise-free measure of an allocator's work, for Mixed and
# issue 15's free-heavy and cross-thread patterns.
#
#   scripts/bench_instr.sh [--bench NAME,...] [--allocators a,b,...]
#                          [--short N] [--long N]
#                          [--functions K [--source | --inclusive]]
#                          [--repeat R] [--keep DIR] [--list]
#
#   --bench       benchmarks from the table below (default: all of them)
#   --allocators  default glibc,hakmem,mimalloc
#   --short, --long  the two lengths N (default: the table's, per benchmark)
#   --functions K after each row, the allocator share's K costliest functions
#                 per op (exclusive instructions, as callgrind names them)
#   --source      with --functions: by the function of each source line, so
#                 that inlined functions show apart, as "name (in host)"
#                 (bench_callgrind.py --source; needs debug information)
#   --inclusive   with --functions: per function with its callees
#   --repeat R    measure R times and show the run with the median allocator
#                 share, and the range (see below: threaded runs vary)
#   --keep DIR    keep the callgrind files as DIR/NAME.ALLOC.{short,long}R.cg
#                 (for callgrind_annotate)
#   --list        print the table and exit
#
# Each benchmark runs twice per allocator under callgrind, with its length
# argument N at the short and at the long value. Start-up, initialisation,
# set-up outside the loop and exit cost the same in both, so
#
#     Ir/op = (Ir_long - Ir_short) / (ops_long - ops_short)
#
# where ops is the result line's field named in the table: every malloc and
# free whose number grows with N (for Mixed, total_ops: the untimed prefault
# pass grows with N too). The same difference is split by shared object
# (scripts/bench_callgrind.py): "benchmark" is what ran inside the benchmark
# binary itself (loop, PRNG, checks, waiting for other threads, PLT stubs),
# "allocator" everything else, i.e. malloc and free and whatever they call.
# (Splitting by the allocator's own library does not work for every peer:
# tcmalloc keeps malloc/free in a separate ELF section that callgrind
# attributes to no object.) Every op is a malloc or a free and every block
# is allocated once and freed once, so "alloc/block" = 2 x allocator Ir/op
# is the allocator's cost of one block's trip (malloc + free).
#
# callgrind runs one thread at a time, so the threaded benchmarks' counts
# are exact for the interleaving that happened; they do not see contention,
# cache misses or waiting. That interleaving, and an allocator's decisions
# that read the clock (callgrind runs some 50x slower), change between runs:
# mimalloc's count on burst ranged over 46-77 per op in a dozen runs,
# hakmem's over 0.6 %; single-thread benchmarks repeat to within 0.1 %.
# --repeat shows how much.
set -euo pipefail
# shellcheck source=scripts/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"

# name | binary | arguments (N = the length) | short N | long N | ops field
table="
mixed   | bench_random_mixed | N 400 1               | 200000 | 1200000 | total_ops
bulk    | bench_bulk         | N                     | 20000  | 100000  | ops
burst   | bench_burst        | 4 N 4000 1            | 10     | 50      | ops
slots   | bench_slots        | 8 8192 N 1 8 1024 2   | 20000  | 100000  | ops
handoff | bench_handoff      | 4 N 25 1              | 40000  | 200000  | ops
larson  | bench_larson       | 8 10000 N 4 1         | 10000  | 50000   | ops
frag    | bench_frag         | N 1                   | 200000 | 1000000 | ops
"

declare -A t_bin t_args t_short t_long t_ops
all=()
while IFS='|' read -r name bin args short long ops; do
    name=$(bench_trim "$name")
    [ -n "$name" ] || continue
    all+=("$name")
    t_bin[$name]=$(bench_trim "$bin") t_args[$name]=$(bench_trim "$args")
    t_short[$name]=$(bench_trim "$short") t_long[$name]=$(bench_trim "$long")
    t_ops[$name]=$(bench_trim "$ops")
done <<<"$table"

benches=$(IFS=,; echo "${all[*]}") allocs=glibc,hakmem,mimalloc
short='' long='' nfun=0 keep='' view=--functions repeat=1
while [ $# -gt 0 ]; do
    case $1 in
        --bench) benches=${2:?}; shift 2 ;;
        --allocators) allocs=${2:?}; shift 2 ;;
        --short) short=${2:?}; shift 2 ;;
        --long) long=${2:?}; shift 2 ;;
        --functions) nfun=${2:?}; shift 2 ;;
        --keep) keep=${2:?}; shift 2 ;;
        --repeat) repeat=${2:?}; shift 2 ;;
        --source) view=--source; shift ;;
        --inclusive) view=--inclusive; shift ;;
        --list) printf '%s\n' "$table" | sed '/^$/d'; exit 0 ;;
        -h|--help) bench_help; exit 0 ;;
        *) bench_die "unknown argument '$1' (see --help)" ;;
    esac
done
IFS=, read -r -a blist <<<"$benches"
for b in "${blist[@]}"; do
    [ -n "${t_bin[$b]:-}" ] || bench_die "--bench: no '$b' (one of: ${all[*]})"
    [ -x "$BENCH_BIN_DIR/${t_bin[$b]}" ] || bench_die "$BENCH_BIN_DIR/${t_bin[$b]} not built (make bench-build)"
done
[[ $nfun =~ ^[0-9]+$ ]] || bench_die "--functions needs a number"
[[ $repeat =~ ^[1-9][0-9]*$ ]] || bench_die "--repeat needs a positive number"
IFS=, read -r -a alist <<<"$allocs"
bench_need_allocs "${alist[@]}"
command -v valgrind >/dev/null || bench_install valgrind || exit 1
if [ -n "$keep" ]; then mkdir -p "$keep" || bench_die "cannot create $keep"; fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# measure BENCH ALLOC N TAG -> "ops Ir_total Ir_benchmark"; leaves
# $tmp/BENCH.ALLOC.TAG.fn ("Ir<TAB>object<TAB>function" lines, exclusive)
# and, with --functions, $tmp/BENCH.ALLOC.TAG.view (the same in the view asked).
measure() {
    local b=$1 a=$2 n=$3 tag=$4 exe=$BENCH_BIN_DIR/${t_bin[$1]} out line args
    out=$tmp/$b.$a.$tag
    args=${t_args[$b]//N/$n}
    # shellcheck disable=SC2086 # the argument list is meant to be split
    line=$(LD_PRELOAD=$(bench_alloc_lib "$a") valgrind --tool=callgrind \
        --callgrind-out-file="$out.cg" "$exe" $args 2>"$out.log" |
        grep '^bench=') || { cat "$out.log" >&2; bench_die "$a: ${t_bin[$b]} $args failed under callgrind"; }
    [ "$(bench_field "$line" malloc)" = "$a" ] || bench_die "$a: LD_PRELOAD was not applied"
    python3 "$BENCH_ROOT/scripts/bench_callgrind.py" --functions "$out.cg" >"$out.fn"
    if [ "$nfun" -gt 0 ]; then
        if [ "$view" = --functions ]; then cp "$out.fn" "$out.view"
        else python3 "$BENCH_ROOT/scripts/bench_callgrind.py" "$view" "$out.cg" >"$out.view"; fi
    fi
    if [ -n "$keep" ]; then cp "$out.cg" "$keep/$b.$a.$tag.cg"; fi
    rm -f "$out.cg"
    awk -F'\t' -v ops="$(bench_field "$line" "${t_ops[$b]}")" -v bin="/${t_bin[$b]}" '
        $2 == "TOTAL" { total = $1; next }
        substr($2, length($2) - length(bin) + 1) == bin { be += $1 }
        END { printf "%s %s %d\n", ops, total, be }' "$out.fn"
}

# top_functions SHORT.view LONG.view BENCH DOPS MAX: the allocator share's
# costliest functions per op, from the difference of the two runs. (Inclusive,
# a function costing more than the whole allocator share, MAX, is the
# program's caller chain, not the allocator's: left out.)
top_functions() {
    local short_view=$1 long_view=$2 b=$3 d=$4 max=$5
    awk -F'\t' -v bin="/${t_bin[$b]}" -v d="$d" -v max="$max" -v long="$long_view" '
        $2 == "TOTAL" || substr($2, length($2) - length(bin) + 1) == bin { next }
        { ob = $2; sub(/.*\//, "", ob); key = $3 " (" ob ")"; v[key] += (FILENAME == long ? $1 : -$1) }
        END { for (f in v) if ((v[f] / d >= 0.005 || v[f] / d <= -0.005) && v[f] / d <= max) printf "%.3f\t%s\n", v[f] / d, f }' \
        "$short_view" "$long_view" | sort -t$'\t' -k1,1gr | head -n "$nfun" |
        awk -F'\t' '{ printf "%31s %10.2f  %s\n", "", $1, $2 }'
}

echo "callgrind, two lengths per benchmark: Ir/op = (Ir_long - Ir_short) / (ops_long - ops_short)"
printf '%-8s %-9s %10s %10s %10s %12s   %s\n' benchmark allocator "Ir/op" allocator benchmark \
    "alloc/block" "arguments (N short, long)"
for b in "${blist[@]}"; do
    s=${short:-${t_short[$b]}} l=${long:-${t_long[$b]}}
    [ "$l" -gt "$s" ] || bench_die "$b: the long length must be larger than the short one"
    for a in "${alist[@]}"; do
        runs=()
        for ((r = 1; r <= repeat; r++)); do
            read -r o1 t1 b1 <<<"$(measure "$b" "$a" "$s" "short$r")"
            read -r o2 t2 b2 <<<"$(measure "$b" "$a" "$l" "long$r")"
            [ "$o2" -gt "$o1" ] || bench_die "$b: ops did not grow with N ($o1, $o2)"
            runs+=("$(awk -v d=$((o2 - o1)) -v t=$((t2 - t1)) -v be=$((b2 - b1)) \
                'BEGIN { printf "%.4f %.4f %.4f", (t - be) / d, t / d, be / d }') $r $((o2 - o1))")
        done
        # The run whose allocator share is the median (the lower middle one
        # for an even count), and the range over all runs.
        mapfile -t sorted < <(printf '%s\n' "${runs[@]}" | sort -g)
        read -r share total be r d <<<"${sorted[$(((repeat - 1) / 2))]}"
        printf '%-8s %-9s %10.2f %10.2f %10.2f %12.2f   %s\n' "$b" "$a" "$total" "$share" "$be" \
            "$(awk -v x="$share" 'BEGIN { print 2 * x }')" "${t_bin[$b]} ${t_args[$b]} (N $s, $l)"
        if [ "$repeat" -gt 1 ]; then
            printf '%31s allocator share over %d runs: %.2f .. %.2f (median shown)\n' "" "$repeat" \
                "${sorted[0]%% *}" "${sorted[$((repeat - 1))]%% *}"
        fi
        if [ "$nfun" -gt 0 ]; then
            top_functions "$tmp/$b.$a.short$r.view" "$tmp/$b.$a.long$r.view" "$b" "$d" \
                "$(awk -v x="$share" 'BEGIN { print x + 0.01 }')"
        fi
    done
done
echo "(ops = every malloc and free; Ir/op = allocator + benchmark; alloc/block = 2 x allocator: one malloc and one free)"
