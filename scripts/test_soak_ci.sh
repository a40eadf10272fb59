#!/usr/bin/env bash
# test_soak_ci.sh — CI's soak check (issue 5, target 3): bench_soak under
# hakmem's SPEED and BALANCED profiles, 10 s of warm-up then 20 s judged in
# 1 s epochs: RSS drift at most 1 % and at most 1e-7 OS calls per operation.
# Throughput CV is not judged: a shared 2-core machine is too noisy for 2 %.
#
# Drift is judged on the lower end of the linear fit's 95 % confidence
# interval (analyze_soak.py --drift-metric fit-lower): over 20 epochs RSS
# steps by a few % either way as spans are freed, reused and decommitted, so
# the point estimate alone would fail at random; growth that clears the noise
# still fails.  --drift-metric fit makes it strict.
#
#   scripts/test_soak_ci.sh [--duration S] [--epoch S] [--warmup-epochs N]
#                           [--profiles P1,P2] [--drift-metric M]
#                           [--max-drift PCT] [--max-calls-per-op X]
#
# Per profile, three checks: the run (no corruption, no NULL, the right
# allocator loaded), rss_drift and os_calls_per_op; one PASS/FAIL line each.
# The CSVs are kept in $BUILD/soak/ci-PROFILE.csv.  The last line is exactly
# "N passed, N failed"; the exit status is non-zero when a check failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
BUILD=${BUILD:-build}

duration=30 epoch=1 warmup=10 profiles=SPEED,BALANCED metric=fit-lower
max_drift=1 max_calls=1e-7
while [ $# -gt 0 ]; do
    case $1 in
        --duration) duration=${2:?}; shift 2 ;;
        --epoch) epoch=${2:?}; shift 2 ;;
        --warmup-epochs) warmup=${2:?}; shift 2 ;;
        --profiles) profiles=${2:?}; shift 2 ;;
        --drift-metric) metric=${2:?}; shift 2 ;;
        --max-drift) max_drift=${2:?}; shift 2 ;;
        --max-calls-per-op) max_calls=${2:?}; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "test_soak_ci: unknown argument '$1'" >&2; exit 2 ;;
    esac
done

pass=0 fail=0
ok() { echo "PASS $*"; pass=$((pass + 1)); }
ko() { echo "FAIL $*"; fail=$((fail + 1)); }

IFS=, read -r -a plist <<<"$profiles"
for p in "${plist[@]}"; do
    csv=$BUILD/soak/ci-$p.csv
    log=$BUILD/soak/ci-$p.log
    mkdir -p "$BUILD/soak"
    if BUILD=$BUILD scripts/soak.sh --duration "$duration" --epoch "$epoch" --profile "$p" \
        --out "$csv" >"$log" 2>&1; then
        ok "soak $p run: $(grep -o 'ops_per_s=[0-9]*' "$log" | tail -n 1) $(grep -o 'os_calls=[-0-9]*' "$log" | tail -n 1)"
    else
        ko "soak $p run (see $log):"
        tail -n 5 "$log" | sed 's/^/    /'
        ko "soak $p rss_drift: no data"
        ko "soak $p os_calls_per_op: no data"
        continue
    fi
    out=$(python3 scripts/analyze_soak.py "$csv" --warmup-epochs "$warmup" --drift-metric "$metric" \
        --max-drift "$max_drift" --max-calls-per-op "$max_calls" --quiet 2>&1)
    for check in rss_drift os_calls_per_op; do
        line=$(grep -E "^(PASS|FAIL|SKIP) $check:" <<<"$out")
        case $line in
            PASS*) ok "soak $p ${line#PASS }" ;;
            FAIL*) ko "soak $p ${line#FAIL }" ;;
            *) ko "soak $p $check: analyze_soak.py said: $(tr '\n' ' ' <<<"$out")" ;;
        esac
    done
done

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
