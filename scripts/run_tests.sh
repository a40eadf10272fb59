#!/usr/bin/env bash
# Run hakmem's test binaries and the real-programs script; print one result
# line per test and end with exactly one line "N passed, N failed".
#
#   scripts/run_tests.sh [--no-programs] [NAME...]
#
# NAME: a test binary name in $BUILD/tests (default: every test_* there).
# BUILD (environment) is the build directory, default "build".
# TEST_TIMEOUT (environment) is the per-test limit in seconds, default 120.
# Failing tests' output is printed; all output is kept in $BUILD/tests/logs/.
set -u
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
TEST_TIMEOUT=${TEST_TIMEOUT:-120}
programs=1
names=()
for a in "$@"; do
    case "$a" in
        --no-programs) programs=0 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) names+=("$a") ;;
    esac
done

tdir="$BUILD/tests"
logs="$tdir/logs"
mkdir -p "$logs"

if [ ${#names[@]} -eq 0 ]; then
    # every built test whose source still exists (a stale binary is skipped)
    for f in "$tdir"/test_*; do
        n=$(basename "$f")
        [ -f "$f" ] && [ -x "$f" ] || continue
        [ -f "tests/$n.c" ] || [ -f "tests/$n.cc" ] || continue
        names+=("$n")
    done
fi

passed=0
failed=0
failures=()

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fs", b - a }'; }

for n in "${names[@]}"; do
    bin="$tdir/$n"
    log="$logs/$n.log"
    if [ ! -x "$bin" ]; then
        echo "FAIL  $n  (binary $bin missing)"
        failed=$((failed + 1)); failures+=("$n"); continue
    fi
    t0=$(now)
    timeout -k 10 "$TEST_TIMEOUT" "$bin" >"$log" 2>&1 </dev/null
    rc=$?
    t1=$(now)
    if [ $rc -eq 0 ]; then
        echo "PASS  $n  ($(elapsed "$t0" "$t1"))"
        passed=$((passed + 1))
    else
        why="exit $rc"
        [ $rc -eq 124 ] && why="timed out after ${TEST_TIMEOUT}s"
        [ $rc -gt 128 ] && [ $rc -ne 124 ] && why="killed by signal $((rc - 128))"
        echo "FAIL  $n  ($why, $(elapsed "$t0" "$t1"))"
        echo "----- $log (last 60 lines) -----"
        tail -n 60 "$log"
        echo "-----"
        failed=$((failed + 1)); failures+=("$n")
    fi
done

if [ $programs -eq 1 ]; then
    log="$logs/real_programs.log"
    t0=$(now)
    # The script prints its own PASS/FAIL lines and ends with "N passed, N failed".
    BUILD="$BUILD" timeout -k 10 900 scripts/test_real_programs.sh 2>&1 | tee "$log" |
        grep -v -E '^[0-9]+ passed, [0-9]+ failed$'
    rc=${PIPESTATUS[0]}
    t1=$(now)
    summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    if [ -n "$summary" ]; then
        p=${summary%% passed*}
        f=${summary#*, }; f=${f%% failed*}
        passed=$((passed + p)); failed=$((failed + f))
        [ "$f" -gt 0 ] && failures+=("real programs ($f)")
        if [ "$f" -eq 0 ] && [ $rc -ne 0 ]; then
            echo "FAIL  test_real_programs.sh  (exit $rc)"
            failed=$((failed + 1)); failures+=("test_real_programs.sh")
        fi
    else
        echo "FAIL  test_real_programs.sh  (no summary line, exit $rc)"
        failed=$((failed + 1)); failures+=("test_real_programs.sh")
    fi
    echo "(real programs: $(elapsed "$t0" "$t1"))"
fi

[ $failed -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
