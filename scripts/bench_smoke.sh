#!/usr/bin/env bash
# bench_smoke.sh — run every benchmark of bench/suite.txt once with its smoke
# arguments under one allocator (default hakmem) and fail if any exits
# non-zero, prints no result line, or runs under the wrong allocator (a
# silently ignored LD_PRELOAD). For `make test`: no timing is judged.
#
#   scripts/bench_smoke.sh [--allocator NAME] [--timeout SECONDS] [--suite FILE]
#
# The last line is "N passed, N failed".
set -uo pipefail
# shellcheck source=scripts/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"

alloc=hakmem
limit=30
while [ $# -gt 0 ]; do
    case $1 in
        --allocator) alloc=${2:?}; shift 2 ;;
        --timeout) limit=${2:?}; shift 2 ;;
        --suite) bench_set_suite "${2:?}"; shift 2 ;;
        -h|--help) bench_help; exit 0 ;;
        *) bench_die "unknown argument '$1'" ;;
    esac
done
bench_need_allocs "$alloc"
lib=$(bench_alloc_lib "$alloc")

pass=0 fail=0
while IFS=$'\t' read -r name bin smoke _quick _full; do
    exe=$BENCH_BIN_DIR/$bin
    if [ ! -x "$exe" ]; then
        echo "FAIL $name: $exe not built (make bench-build)"
        fail=$((fail + 1))
        continue
    fi
    # shellcheck disable=SC2086 # the argument list is meant to be split
    out=$(LD_PRELOAD=$lib timeout "$limit" "$exe" $smoke 2>&1)
    rc=$?
    line=$(grep '^bench=' <<<"$out" | tail -n 1)
    got=$(bench_field "$line" malloc)
    if [ $rc -ne 0 ] || [ -z "$line" ] || [ "$got" != "$alloc" ]; then
        why="exit $rc"
        [ $rc -eq 124 ] && why="timed out after ${limit}s"
        [ $rc -eq 0 ] && [ -z "$line" ] && why="no result line"
        [ $rc -eq 0 ] && [ -n "$line" ] && why="ran under '$got', not '$alloc'"
        echo "FAIL $name ($why): LD_PRELOAD=$lib $exe $smoke"
        printf '%s\n' "$out" | tail -n 20 | sed 's/^/    /'
        fail=$((fail + 1))
    else
        echo "ok   $name  $(bench_field "$line" time_s)s"
        pass=$((pass + 1))
    fi
done < <(bench_suite)

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
