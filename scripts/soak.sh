#!/usr/bin/env bash
# soak.sh — run the soak workload (bench_soak) under one allocator and write
# its per-epoch CSV; with --check, judge it with scripts/analyze_soak.py.
#
#   scripts/soak.sh [--duration S] [--epoch S] [--profile NAME]
#                   [--allocator hakmem|glibc|mimalloc|jemalloc|tcmalloc]
#                   [--out FILE.csv] [--check] [--warmup-epochs N]
#                   [--max-drift PCT] [--max-cv PCT] [--max-calls-per-op X]
#                   [--drift-metric fit|endpoints|both] [-- BENCH_SOAK_ARGS...]
#
# Defaults: --duration 600 --epoch 5 --allocator hakmem, the library's own
# profile (SPEED) unless --profile is given; --out
# $BUILD/soak/soak-ALLOCATOR[-PROFILE]-YYYYmmdd-HHMMSS.csv.  --profile sets
# HAKMEM_PROFILE (hakmem only; other HAKMEM_* variables in the environment
# pass through).  Peer allocators are the Debian packages, installed with
# apt-get when missing; hakmem is build/libhakmem.so (built if missing).
# Arguments after -- go to bench_soak (--threads, --seed, --huge-every,
# --remote-every).
#
# The CSV is written as the run goes, one row per epoch:
#   epoch,ops_per_s,rss_kib,os_calls,ops,ops_per_cpu_s,cpu_s,steal_s
# ops_per_s is ops per wall-clock second; ops_per_cpu_s is ops per second of
# CPU time the process ran (cpu_s, CLOCK_PROCESS_CPUTIME_ID), which does not
# count time other processes or the hypervisor (steal, steal_s from
# /proc/stat) took from it: the throughput that a shared machine's noise
# does not move (bench/bench_soak.c says more).  The run's summary line
# goes to stderr.  --check runs analyze_soak.py with the issue's targets
# unless overridden: --max-drift 1 --max-cv 2 --max-calls-per-op 1e-7
# (warm-up and drift metric: analyze_soak.py's defaults, a tenth of the
# epochs and the linear fit, unless given); its CV check judges
# ops_per_cpu_s and prints the wall-clock CV beside it.  Exit status:
# non-zero if the run fails (corruption, a NULL from malloc, the wrong
# allocator loaded) or, with --check, a check fails.
set -uo pipefail
# shellcheck source=scripts/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"

duration=600 epoch=5 profile='' alloc=hakmem out='' check=0
warmup='' max_drift=1 max_cv=2 max_calls=1e-7 metric=''
bench_args=()
while [ $# -gt 0 ]; do
    case $1 in
        --duration) duration=${2:?}; shift 2 ;;
        --epoch) epoch=${2:?}; shift 2 ;;
        --profile) profile=${2:?}; shift 2 ;;
        --allocator) alloc=${2:?}; shift 2 ;;
        --out) out=${2:?}; shift 2 ;;
        --check) check=1; shift ;;
        --warmup-epochs) warmup=${2:?}; shift 2 ;;
        --max-drift) max_drift=${2:?}; shift 2 ;;
        --max-cv) max_cv=${2:?}; shift 2 ;;
        --max-calls-per-op) max_calls=${2:?}; shift 2 ;;
        --drift-metric) metric=${2:?}; shift 2 ;;
        --) shift; bench_args=("$@"); break ;;
        -h|--help) bench_help; exit 0 ;;
        *) bench_die "unknown argument '$1' (--help)" ;;
    esac
done
if [ -n "$profile" ] && [ "$alloc" != hakmem ]; then
    bench_die "--profile applies to hakmem only (allocator is $alloc)"
fi

exe=$BENCH_BIN_DIR/bench_soak
if [ ! -x "$exe" ] || { [ "$alloc" = hakmem ] && [ ! -e "$BUILD/libhakmem.so" ]; }; then
    echo "soak: building bench_soak and the library" >&2
    make -s -C "$BENCH_ROOT" BUILD="$BUILD" "$BUILD/libhakmem.so" "$exe" >&2 ||
        bench_die "build failed"
fi
bench_need_allocs "$alloc"
lib=$(bench_alloc_lib "$alloc")

if [ -z "$out" ]; then
    out=$BUILD/soak/soak-$alloc${profile:+-$profile}-$(date +%Y%m%d-%H%M%S).csv
fi
mkdir -p "$(dirname "$out")" || bench_die "cannot create $(dirname "$out")"

envs=()
[ -n "$lib" ] && envs+=("LD_PRELOAD=$lib")
[ -n "$profile" ] && envs+=("HAKMEM_PROFILE=$profile")
echo "soak: $alloc${profile:+ ($profile)}, ${duration}s in ${epoch}s epochs -> $out" >&2

errf=$(mktemp)
trap 'rm -f "$errf"' EXIT
env "${envs[@]}" "$exe" --duration "$duration" --epoch "$epoch" "${bench_args[@]}" >"$out" 2>"$errf"
rc=$?
cat "$errf" >&2
if [ $rc -ne 0 ]; then
    echo "soak: bench_soak failed (exit $rc)" >&2
    exit 1
fi
line=$(grep '^bench=soak' "$errf" | tail -n 1)
got=$(bench_field "$line" malloc)
if [ "$got" != "$alloc" ]; then
    echo "soak: ran under '${got:-?}', not '$alloc' (LD_PRELOAD ignored?)" >&2
    exit 1
fi

[ $check -eq 1 ] || exit 0
args=("$out" --max-drift "$max_drift" --max-cv "$max_cv" --max-calls-per-op "$max_calls")
[ -n "$warmup" ] && args+=(--warmup-epochs "$warmup")
[ -n "$metric" ] && args+=(--drift-metric "$metric")
python3 "$BENCH_ROOT/scripts/analyze_soak.py" "${args[@]}"
