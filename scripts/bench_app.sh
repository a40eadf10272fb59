#!/usr/bin/env bash
# bench_app.sh — run one real application once under one allocator and print
# a result line; the runner of bench/suite.txt's `apps` group (bench_compare.sh
# and bench_smoke.sh call it; docs/BENCHMARKS.md, "Applications").
#
#   BENCH_ALLOC=NAME scripts/bench_app.sh APP [KEY=VALUE...]
#   scripts/bench_app.sh --prepare APP [KEY=VALUE...]
#
# APP and its parameters (defaults in brackets):
#   redis   d=BYTES [200] n=REQUESTS [500000] r=KEYSPACE [100000]
#           P=PIPELINE [16] c=CLIENTS [50] keys=CHECKED_KEYS [3000]
#           redis-server (preloaded) on a unix socket, no persistence;
#           redis-benchmark (not preloaded) over SET GET LPUSH LPOP SADD HSET
#           ZADD; time = sum over the 7 tests of requests / (requests/s);
#           peak RSS = the server's VmHWM
#   sqlite  rows=N [300000]      sqlite3 on a fresh database, generated script
#   python  records=N [50000] rounds=N [3] malloc=pymalloc|malloc [pymalloc]
#           /usr/bin/python3 bench/apps/work.py (malloc: PYTHONMALLOC=malloc)
#   gcc     funcs=N [300]        gcc -O2 -c of a generated C file
#   perl    mb=N [20]            perl bench/apps/work.pl over N MB of text
#   jq      records=N [75000]    jq -f bench/apps/work.jq over a JSON array
#
# BENCH_ALLOC is glibc, hakmem, mimalloc, jemalloc or tcmalloc (bench_lib.sh).
# The allocator is preloaded into the application only (this script, the
# timer and redis-benchmark run without it). "glibc" preloads libc.so.6
# itself: nothing changes for programs that use libc's malloc anyway, and
# redis-server, which Debian links with libjemalloc, then uses libc's.
#
# Checks, every run: (1) the preload took: a probe library
# ($BUILD/bench/libapp_probe.so, after the allocator in LD_PRELOAD) records
# which object `malloc` binds to in every process the run starts (gcc's cc1
# and as too); `malloc=` in the result line names that allocator, or
# "mixed:..."; bench_compare.sh rejects a run whose `malloc=` is not the one
# asked for. (2) The output is the same as without a preload: sha256 of the
# program's stdout (gcc: and of the object file; redis: DEBUG DIGEST of a
# known data set loaded before the benchmark and edited after it) against a
# reference made once, without LD_PRELOAD, by --prepare (cached under
# $BUILD/bench-apps/ref/, keyed by the input, the workload scripts and the
# program's package version). A different output fails the run (exit 3).
#
# --prepare installs the Debian packages the application needs
# (bench_install), generates its input with bench/apps/gen.py (fixed seeds,
# cached under $BUILD/bench-apps/inputs/) and makes the reference. A run
# prepares by itself when something is missing, but then its wall time
# (not time_s) includes that.
#
# BENCH_APP_WRAP (optional): a command put in front of the application
# (and of nothing else: not the timer, not redis-benchmark), split on blanks;
# for instruction counts, e.g.
#   BENCH_APP_WRAP="valgrind --tool=callgrind --trace-children=yes
#     --callgrind-out-file=/tmp/cg.%p" BENCH_ALLOC=hakmem scripts/bench_app.sh sqlite rows=20000
# (docs/PERFORMANCE.md, "Applications"). The output is still checked; the
# probe's check that the application's own processes were seen is skipped
# (under valgrind they carry the tool's name), and the times are the
# wrapper's.
#
# Result line (stdout):
#   bench=APP ops_per_s=F time_s=F peak_rss_kib=N ops=N unit=U malloc=NAME
#   check=SHA12 user_s=F sys_s=F [app-specific keys]
# redis adds <test>_rps for each test and the server's final RSS
# (final_rss_kib, VmRSS after the benchmark).
set -euo pipefail
# shellcheck source=scripts/bench_lib.sh
source "$(dirname "$0")/bench_lib.sh"

prepare_only=0
if [ "${1:-}" = --prepare ]; then prepare_only=1; shift; fi
case ${1:-} in -h|--help|'') bench_help; exit 0 ;; esac
app=$1; shift
declare -A P=()
for kv in "$@"; do
    [[ $kv == *=* ]] || bench_die "expected KEY=VALUE, got '$kv'"
    P[${kv%%=*}]=${kv#*=}
done
param() { echo "${P[$1]:-$2}"; }

APPS_DIR=$BENCH_ROOT/bench/apps
wrap=()
if [ -n "${BENCH_APP_WRAP:-}" ]; then read -r -a wrap <<<"$BENCH_APP_WRAP"; fi
CACHE=$BUILD/bench-apps
PROBE=$BENCH_BIN_DIR/libapp_probe.so
RUNNER=$BENCH_BIN_DIR/app_run
PY=/usr/bin/python3
[ -x $PY ] || PY=python3
LIBC=$BENCH_LIBDIR/libc.so.6

# What each application needs: Debian packages, the program names that
# must show up in the probe log, the unit of ops.
case $app in
    redis)  pkgs=(redis-server redis-tools); comms=(redis-server); unit=requests ;;
    sqlite) pkgs=(sqlite3); comms=(sqlite3); unit=rows ;;
    python) pkgs=(python3); comms=(python3); unit=records ;;
    gcc)    pkgs=(gcc); comms=(gcc cc1 as); unit=functions ;;
    perl)   pkgs=(perl); comms=(perl); unit=bytes ;;
    jq)     pkgs=(jq); comms=(jq); unit=records ;;
    *) bench_die "unknown application '$app' (redis sqlite python gcc perl jq)" ;;
esac
if [ ! -x "$RUNNER" ] || [ ! -e "$PROBE" ]; then
    bench_die "$RUNNER or $PROBE not built (make bench-build)"
fi

short_hash() { sha256sum "$@" | cut -c1-12; }

# The input file of this run (generated when missing). Its name carries a
# hash of gen.py, so a changed generator never reuses an old input.
input_file() {
    local kind=$1 n=$2 ext=$3 f
    f=$CACHE/inputs/$kind-$n-$(short_hash "$APPS_DIR/gen.py").$ext
    if [ ! -e "$f" ]; then
        mkdir -p "$CACHE/inputs"
        rm -f "$CACHE/inputs/$kind-$n-"*
        echo "bench_app: generating $f" >&2
        "$PY" "$APPS_DIR/gen.py" "$kind" "$n" "$f" >&2
    fi
    echo "$f"
}

# A scratch directory per run: tmpfs when there is one with room (sqlite's
# database and redis' socket; the page cache, not the disk, is then measured).
scratch_base() {
    if [ -d /dev/shm ] && [ -w /dev/shm ] &&
       [ "$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }')" -gt 2097152 ]; then
        echo /dev/shm
    else
        mkdir -p "$CACHE/tmp"; echo "$CACHE/tmp"
    fi
}
# Long children run through run_child (in the background, then `wait`, which a
# signal interrupts: a trap waits for a foreground child to finish).
tmp='' srv='' child=''
run_child() {
    "$@" <&0 &      # (without <&0 a background command reads /dev/null)
    child=$!
    local rc=0
    wait "$child" || rc=$?
    child=''
    return $rc
}
cleanup() {
    # only processes this script started, by PID
    if [ -n "$child" ]; then kill "$child" 2>/dev/null || true; fi
    if [ -n "$srv" ] && kill -0 "$srv" 2>/dev/null; then
        kill "$srv" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$srv" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$srv" 2>/dev/null || true
    fi
    [ -z "$tmp" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
tmp=$(mktemp -d "$(scratch_base)/hakmem-app.XXXXXX")

# ---------------------------------------------------------------- the apps
# run_app PRELOAD: runs the application once with LD_PRELOAD=PRELOAD (unset
# when PRELOAD is "-"), the probe logging to $tmp/probe.log. Leaves the
# measurement line in $tmp/measure, the output to compare in $tmp/out
# (hashed), the result line's extra keys in $tmp/extra, and sets ops.
run_app() {
    local pre=$1
    rm -f "$tmp/probe.log" "$tmp/out" "$tmp/extra"; : >"$tmp/extra"
    # env's options (-u) must come before its assignments
    local -a envs=(env -u LD_PRELOAD -u BENCH_RUN_PRELOAD -u PYTHONMALLOC -u PYTHONPATH
                   -u PYTHONHOME -u PYTHONSTARTUP)
    [ "$pre" = - ] || envs+=("BENCH_RUN_PRELOAD=$pre" "BENCH_PROBE_LOG=$tmp/probe.log")
    case $app in
        sqlite)
            local rows f
            rows=$(param rows 300000)
            f=$(input_file sqlite "$rows" sql)
            rm -f "$tmp/db"
            run_child "${envs[@]}" "$RUNNER" "$tmp/stdout" "${wrap[@]}" /usr/bin/sqlite3 -bail "$tmp/db" <"$f" >"$tmp/measure"
            cp "$tmp/stdout" "$tmp/out"
            ops=$rows ;;
        python)
            local records rounds mode
            records=$(param records 50000) rounds=$(param rounds 3) mode=$(param malloc pymalloc)
            case $mode in
                pymalloc) ;;
                malloc) envs+=(PYTHONMALLOC=malloc) ;;
                *) bench_die "python: malloc=pymalloc or malloc" ;;
            esac
            run_child "${envs[@]}" PYTHONHASHSEED=0 \
                "$RUNNER" "$tmp/stdout" "${wrap[@]}" /usr/bin/python3 -s -S "$APPS_DIR/work.py" "$records" "$rounds" >"$tmp/measure"
            cp "$tmp/stdout" "$tmp/out"
            echo "pythonmalloc=$mode" >"$tmp/extra"
            ops=$((records * rounds)) ;;
        gcc)
            local funcs f
            funcs=$(param funcs 300)
            f=$(input_file csrc "$funcs" c)
            run_child "${envs[@]}" TMPDIR="$tmp" "$RUNNER" "$tmp/stdout" "${wrap[@]}" /usr/bin/gcc -O2 -c "$f" -o "$tmp/gen.o" >"$tmp/measure"
            cat "$tmp/stdout" "$tmp/gen.o" >"$tmp/out" 2>/dev/null || true
            ops=$funcs ;;
        perl)
            local mb f
            mb=$(param mb 20)
            f=$(input_file text "$mb" txt)
            run_child "${envs[@]}" "$RUNNER" "$tmp/stdout" "${wrap[@]}" /usr/bin/perl "$APPS_DIR/work.pl" "$f" >"$tmp/measure"
            cp "$tmp/stdout" "$tmp/out"
            ops=$(stat -c %s "$f") ;;
        jq)
            local records f
            records=$(param records 75000)
            f=$(input_file json "$records" json)
            run_child "${envs[@]}" "$RUNNER" "$tmp/stdout" "${wrap[@]}" /usr/bin/jq -c -f "$APPS_DIR/work.jq" "$f" >"$tmp/measure"
            cp "$tmp/stdout" "$tmp/out"
            ops=$records ;;
        redis) run_redis "$pre" ;;
    esac
}

# redis: the server under the allocator, the benchmark without it.
run_redis() {
    local pre=$1 d n r pp c keys data sock
    d=$(param d 200) n=$(param n 500000) r=$(param r 100000) pp=$(param P 16) c=$(param c 50)
    keys=$(param keys 3000)
    data=$(input_file redis "$keys" resp)
    sock=$tmp/redis.sock
    cli() { timeout 60 env -u LD_PRELOAD redis-cli -s "$sock" "$@"; }
    local -a senv=(env -u LD_PRELOAD)
    [ "$pre" = - ] || senv+=("LD_PRELOAD=$pre" "BENCH_PROBE_LOG=$tmp/probe.log")
    "${senv[@]}" "${wrap[@]}" redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 \
        --save '' --appendonly no --enable-debug-command local --dir "$tmp" \
        --logfile "$tmp/server.log" --daemonize no &
    srv=$!
    local up=0
    for _ in $(seq 100); do
        [ -S "$sock" ] && [ "$(cli ping 2>/dev/null)" = PONG ] && { up=1; break; }
        kill -0 "$srv" 2>/dev/null || { tail -n 5 "$tmp/server.log" >&2; bench_die "redis-server exited at start"; }
        sleep 0.1
    done
    [ $up = 1 ] || bench_die "redis-server does not answer on $sock"
    cli --pipe <"$data" >"$tmp/load.log" 2>&1 || { cat "$tmp/load.log" >&2; bench_die "loading the data set failed"; }
    if [ "$n" -gt 0 ]; then
        run_child env -u LD_PRELOAD redis-benchmark -s "$sock" -c "$c" -P "$pp" -r "$r" -d "$d" -n "$n" \
            -t set,get,lpush,lpop,sadd,hset,zadd --csv >"$tmp/bench.csv" 2>"$tmp/bench.err" ||
            { cat "$tmp/bench.err" >&2; bench_die "redis-benchmark failed"; }
        [ ! -s "$tmp/bench.err" ] || { cat "$tmp/bench.err" >&2; bench_die "redis-benchmark reported errors"; }
    else
        : >"$tmp/bench.csv"
    fi
    local hwm rss cpu
    hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$srv/status")
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$srv/status")
    # the server's CPU time so far (utime and stime, fields 14 and 15; the
    # command name in field 2 has no blanks here)
    cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "user_s=%.2f sys_s=%.2f", $14 / hz, $15 / hz }' "/proc/$srv/stat")
    cli --pipe <"$data.edit" >>"$tmp/load.log" 2>&1 || { cat "$tmp/load.log" >&2; bench_die "editing the data set failed"; }
    cli -n 0 flushdb >/dev/null
    { cli -n 9 dbsize; cli debug digest; } >"$tmp/out"
    grep -q '^[0-9a-f]\{40\}$' "$tmp/out" || { cat "$tmp/out" >&2; bench_die "no DEBUG DIGEST"; }
    kill "$srv"
    wait "$srv" || true
    srv=''
    # time = the sum of each test's requests / its requests per second
    local line
    line=$(awk -F'"' -v n="$n" '
        NR > 1 && $4 > 0 { t += n / $4; k++; extra = extra sprintf(" %s_rps=%s", tolower($2), $4) }
        END { if (k) printf "time_s=%.6f tests=%d%s", t, k, extra }' "$tmp/bench.csv")
    if [ "$n" -gt 0 ]; then
        [ "$(bench_field "$line" tests)" = 7 ] || { cat "$tmp/bench.csv" >&2; bench_die "redis-benchmark: expected 7 tests"; }
    fi
    echo "time_s=$(bench_field "$line" time_s || echo 0) $cpu peak_rss_kib=$hwm status=0" >"$tmp/measure"
    echo "final_rss_kib=$rss d=$d n=$n r=$r P=$pp c=$c${line#* tests=7}" >"$tmp/extra"
    ops=$((n * 7))
}

# ------------------------------------------------------------ the reference
# Keyed by the application, its parameters, the workload scripts, the
# generator and the program's package version.
ref_file() {
    local key
    key=$({ echo "$app $*"; cat "$APPS_DIR/gen.py" "$APPS_DIR"/work.*
           dpkg-query -W -f='${Version}\n' "${pkgs[@]}" 2>/dev/null || true; } | short_hash)
    echo "$CACHE/ref/$app-$key.sha256"
}

prepare() {
    bench_install "${pkgs[@]}" || exit 1
    local ref
    ref=$(ref_file "$@")
    [ -s "$ref" ] && return 0
    echo "bench_app: reference output of $app $* (no preload)" >&2
    local ops n_saved=${P[n]:-} wrap_saved=("${wrap[@]}")
    [ "$app" != redis ] || P[n]=0      # the digest does not depend on the benchmark
    wrap=()
    run_app -
    wrap=("${wrap_saved[@]}")
    if [ -n "$n_saved" ]; then P[n]=$n_saved; else unset 'P[n]'; fi
    local st
    st=$(bench_field "$(cat "$tmp/measure")" status)
    [ "$st" = 0 ] || bench_die "$app exited with status $st without a preload"
    [ -s "$tmp/out" ] || bench_die "$app printed nothing without a preload"
    mkdir -p "$CACHE/ref"
    sha256sum <"$tmp/out" | cut -d' ' -f1 >"$ref.tmp"
    mv "$ref.tmp" "$ref"
}

prepare "$@"
[ $prepare_only = 1 ] && exit 0

alloc=${BENCH_ALLOC:?BENCH_ALLOC=glibc|hakmem|mimalloc|jemalloc|tcmalloc}
lib=$(bench_alloc_lib "$alloc") || bench_die "unknown allocator '$alloc'"
[ "$alloc" = glibc ] && lib=$LIBC
[ -e "$lib" ] || bench_die "$alloc: $lib not found"

ops=0
run_app "$lib:$PROBE"
m=$(cat "$tmp/measure")
st=$(bench_field "$m" status)
[ "$st" = 0 ] || { tail -n 20 "$tmp/stdout" >&2 2>/dev/null || true; bench_die "$app exited with status $st under $alloc"; }

# (1) which allocator every process bound malloc to
found=$(awk -F'\t' '{
        n = $3; sub(/.*\//, "", n)
        if (n ~ /^libhakmem/) a = "hakmem"; else if (n ~ /^libmimalloc/) a = "mimalloc"
        else if (n ~ /^libjemalloc/) a = "jemalloc"; else if (n ~ /^libtcmalloc/) a = "tcmalloc"
        else if (n ~ /^libc\.so/) a = "glibc"; else a = n
        seen[a] = 1
    } END { s = ""; for (a in seen) s = s (s ? "," : "") a; print s }' "$tmp/probe.log" 2>/dev/null || true)
[ ${#wrap[@]} -eq 0 ] || comms=()
for comm in "${comms[@]}"; do
    grep -q $'\t'"$comm"$'\t' "$tmp/probe.log" 2>/dev/null || { found="none($comm)"; break; }
done
case $found in *,*) found="mixed:$found" ;; '') found=none ;; esac
procs=0
[ ! -e "$tmp/probe.log" ] || procs=$(wc -l <"$tmp/probe.log")

# (2) the output against the reference
[ -s "$tmp/out" ] || bench_die "$app printed nothing under $alloc"
sum=$(sha256sum <"$tmp/out" | cut -d' ' -f1)
expected=$(cat "$(ref_file "$@")")
if [ "$sum" != "$expected" ]; then
    echo "bench_app: $app under $alloc: output differs from the run without a preload (sha256 $sum, expected $expected)" >&2
    head -c 2000 "$tmp/out" >&2 || true
    exit 3
fi

time_s=$(bench_field "$m" time_s)
ops_per_s=$(awk -v o="$ops" -v t="$time_s" 'BEGIN { printf "%.1f", (t > 0 ? o / t : 0) }')
echo "bench=$app ops_per_s=$ops_per_s time_s=$time_s peak_rss_kib=$(bench_field "$m" peak_rss_kib)" \
    "ops=$ops unit=$unit malloc=$found check=${sum:0:12} user_s=$(bench_field "$m" user_s)" \
    "sys_s=$(bench_field "$m" sys_s) procs=$procs $(cat "$tmp/extra")"
