#!/usr/bin/env bash
# bench_smoke.sh — run benchmarks of bench/suite.txt once each with their
# smoke arguments and fail if any exits non-zero, prints no result line, or
# runs under the wrong allocator (a silently ignored LD_PRELOAD). For
# `make test`: no timing is judged.
#
#   scripts/bench_smoke.sh [--only NAME,...] [--allocators NAME,...] [--timeout SECONDS] [--suite FILE]
#
#   --only        benchmarks and groups, as in bench_compare.sh (default:
#                 every group not marked opt-in, i.e. the micro benchmarks);
#                 `make bench-apps-smoke` is --only apps with all five
#                 allocators, where every run also compares the
#                 application's output with its output without a preload
#   --allocators  default hakmem (--allocator NAME is accepted too)
#   --timeout     per run, default 30 s (runners' --prepare is not limited)
#   --suite FILE  the benchmark table (default bench/suite.txt)
#
# The last line is "N passed, N failed".
set -uo pipefail
# shellcheck source=scripts/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"

allocs=hakmem only='' limit=30
while [ $# -gt 0 ]; do
    case $1 in
        --allocator|--allocators) allocs=${2:?}; shift 2 ;;
        --only) only=${2:?}; shift 2 ;;
        --timeout) limit=${2:?}; shift 2 ;;
        --suite) bench_set_suite "${2:?}"; shift 2 ;;
        -h|--help) bench_help; exit 0 ;;
        *) bench_die "unknown argument '$1'" ;;
    esac
done
IFS=, read -r -a alist <<<"$allocs"
bench_need_allocs "${alist[@]}"
bench_check_only "$only"

pass=0 fail=0
while IFS=$'\t' read -r name bin smoke _quick _full group optin; do
    bench_selected "$only" "$name" "$group" "$optin" || continue
    exe=$(bench_exe "$bin")
    if [ ! -x "$exe" ]; then
        echo "FAIL $name: $exe not built (make bench-build)"
        fail=$((fail + 1))
        continue
    fi
    # shellcheck disable=SC2086 # the argument list is meant to be split
    if bench_is_runner "$bin" && ! prep=$("$exe" --prepare $smoke 2>&1 </dev/null); then
        echo "FAIL $name (--prepare failed): $exe --prepare $smoke"
        printf '%s\n' "$prep" | tail -n 20 | sed 's/^/    /'
        fail=$((fail + 1))
        continue
    fi
    for alloc in "${alist[@]}"; do
        out=$(bench_run_one "$alloc" "$bin" "$smoke" "$limit" 2>&1 </dev/null)
        rc=$?
        line=$(grep '^bench=' <<<"$out" | tail -n 1)
        got=$(bench_field "$line" malloc)
        label=$name
        [ ${#alist[@]} -eq 1 ] || label="$name/$alloc"
        if [ $rc -ne 0 ] || [ -z "$line" ] || [ "$got" != "$alloc" ]; then
            why="exit $rc"
            [ $rc -eq 124 ] && why="timed out after ${limit}s"
            [ $rc -eq 0 ] && [ -z "$line" ] && why="no result line"
            [ $rc -eq 0 ] && [ -n "$line" ] && why="ran under '$got', not '$alloc'"
            if bench_is_runner "$bin"; then cmd="BENCH_ALLOC=$alloc $exe $smoke"
            else cmd="LD_PRELOAD=$(bench_alloc_lib "$alloc") $exe $smoke"; fi
            echo "FAIL $label ($why): $cmd"
            printf '%s\n' "$out" | tail -n 20 | sed 's/^/    /'
            fail=$((fail + 1))
        else
            echo "ok   $label  $(bench_field "$line" time_s)s"
            pass=$((pass + 1))
        fi
    done
done < <(bench_suite)

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
