# shellcheck shell=bash disable=SC2034 # the variables are for the sourcing scripts
# scripts/bench_lib.sh — shared by the bench_*.sh scripts (source it; not a
# program): where things are, which library each allocator name means, how
# to install missing peers, and how to read bench/suite.txt.

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$BENCH_ROOT/$BUILD ;; esac
BENCH_BIN_DIR=$BUILD/bench
BENCH_SUITE=$BENCH_ROOT/bench/suite.txt   # --suite FILE changes it (bench_set_suite)
BENCH_LIBDIR=/usr/lib/x86_64-linux-gnu

bench_die() { echo "${0##*/}: $*" >&2; exit 1; }

# The LD_PRELOAD value for an allocator name ("" for glibc: nothing preloaded).
bench_alloc_lib() {
    case $1 in
        glibc)    echo "" ;;
        hakmem)   echo "$BUILD/libhakmem.so" ;;
        mimalloc) echo "$BENCH_LIBDIR/libmimalloc.so.2" ;;
        jemalloc) echo "$BENCH_LIBDIR/libjemalloc.so.2" ;;
        tcmalloc) echo "$BENCH_LIBDIR/libtcmalloc_minimal.so.4" ;;
        floor)    echo "$BUILD/bench/libfloor_malloc.so" ;;    # Mixed's yardsticks, bench/floor_malloc.c
        floor1)   echo "$BUILD/bench/libfloor1_malloc.so" ;;   # (the same, one thread at a time)
        *) return 1 ;;
    esac
}

# The Debian package that provides an allocator ("" when none is needed).
bench_alloc_pkg() {
    case $1 in
        mimalloc) echo libmimalloc2.0 ;;
        jemalloc) echo libjemalloc2 ;;
        tcmalloc) echo libtcmalloc-minimal4 ;;
        *) echo "" ;;
    esac
}

# bench_install PKG... — apt-get install what is missing; on failure refresh
# the package lists once and retry (a fresh CI machine has stale lists).
# Returns non-zero when it could not; the caller decides if that is fatal.
bench_install() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null ||
            { echo "${0##*/}: need root (or sudo) to install: ${missing[*]}" >&2; return 1; }
        sudo=sudo
    fi
    echo "installing: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y -q "${missing[@]}" >&2 ||
        { $sudo apt-get update -q >&2 && $sudo apt-get install -y -q "${missing[@]}" >&2; } ||
        { echo "${0##*/}: could not install: ${missing[*]}" >&2; return 1; }
}

# bench_need_allocs NAME... — check names, install peers, require the hakmem
# library to be built.
bench_need_allocs() {
    local a pkgs=()
    for a in "$@"; do
        bench_alloc_lib "$a" >/dev/null || bench_die "unknown allocator '$a' (glibc hakmem mimalloc jemalloc tcmalloc floor floor1)"
        [ -n "$(bench_alloc_pkg "$a")" ] && pkgs+=("$(bench_alloc_pkg "$a")")
    done
    if [ ${#pkgs[@]} -gt 0 ]; then bench_install "${pkgs[@]}" || exit 1; fi
    for a in "$@"; do
        local lib
        lib=$(bench_alloc_lib "$a")
        [ -z "$lib" ] || [ -e "$lib" ] || bench_die "$a: $lib not found (run 'make' first)"
    done
}

# bench_set_suite FILE — read the benchmarks from FILE instead of
# bench/suite.txt (a path relative to the current directory or the tree).
bench_set_suite() {
    if [ -f "$1" ]; then BENCH_SUITE=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
    elif [ -f "$BENCH_ROOT/$1" ]; then BENCH_SUITE=$BENCH_ROOT/$1
    else bench_die "--suite: no file '$1'"; fi
}

# Prints the suite as tab-separated "name bin smoke quick full group optin"
# lines, trimmed, without comments; group is the name of the last "[GROUP]"
# line above (micro before any), optin 1 under "[GROUP opt-in]", else 0.
bench_suite() {
    local name bin smoke quick full group=micro optin=0 head
    while IFS='|' read -r name bin smoke quick full; do
        name=$(bench_trim "$name")
        case $name in
            ''|'#'*) continue ;;
            '['*']')
                head=${name#[}; head=${head%]}
                read -r group head <<<"$head"
                optin=0; [ "$head" = opt-in ] && optin=1
                continue ;;
        esac
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$(bench_trim "$bin")" \
            "$(bench_trim "$smoke")" "$(bench_trim "$quick")" "$(bench_trim "$full")" "$group" "$optin"
    done <"$BENCH_SUITE"
}

# bench_selected ONLY NAME GROUP OPTIN — is this benchmark selected by the
# --only list ONLY (comma-separated benchmark and group names, or "all";
# empty: every group that is not opt-in)?
bench_selected() {
    local only=$1 name=$2 group=$3 optin=$4
    if [ -z "$only" ]; then [ "$optin" = 0 ]; return; fi
    [[ ",$only," == *",all,"* || ",$only," == *",$name,"* || ",$only," == *",$group,"* ]]
}

# bench_check_only ONLY — every word of ONLY names a benchmark or a group.
bench_check_only() {
    [ -n "$1" ] || return 0
    local known w want
    known=" all $(bench_suite | cut -f1,6 | tr '\t\n' '  ') "
    IFS=, read -r -a want <<<"$1"
    for w in "${want[@]}"; do
        [[ $known == *" $w "* ]] || bench_die "--only: no benchmark or group '$w' in ${BENCH_SUITE#"$BENCH_ROOT"/}"
    done
}

# A runner (a suite binary with a slash: a script of the repository) or a
# benchmark binary in $BENCH_BIN_DIR.
bench_is_runner() { [[ $1 == */* ]]; }
bench_exe() { if bench_is_runner "$1"; then echo "$BENCH_ROOT/$1"; else echo "$BENCH_BIN_DIR/$1"; fi; }

# bench_run_one ALLOC BIN ARGS TIMEOUT — one run: a benchmark binary with
# the allocator in LD_PRELOAD, or a runner with BENCH_ALLOC (it preloads the
# allocator into its application itself).
bench_run_one() {
    local a=$1 bin=$2 args=$3 limit=$4 exe
    exe=$(bench_exe "$bin")
    if bench_is_runner "$bin"; then
        # shellcheck disable=SC2086 # the argument list is meant to be split
        BENCH_ALLOC=$a timeout "$limit" "$exe" $args
    else
        # shellcheck disable=SC2086
        LD_PRELOAD=$(bench_alloc_lib "$a") timeout "$limit" "$exe" $args
    fi
}

bench_trim() {
    local s=$1
    s=${s#"${s%%[![:space:]]*}"}
    printf '%s' "${s%"${s##*[![:space:]]}"}"
}

# A field of a result line: bench_field LINE KEY
bench_field() {
    local kv
    for kv in $1; do
        [ "${kv%%=*}" = "$2" ] && { echo "${kv#*=}"; return 0; }
    done
    return 1
}

# Milliseconds since the epoch.
bench_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# --help: the calling script's opening comment block, without the '#'.
bench_help() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
