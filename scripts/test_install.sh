#!/usr/bin/env bash
# Test `make install` / `make uninstall`, hakmem.pc, the hakmem launcher and
# linking against the installed library (dynamic and -static).
# Prints one PASS/FAIL line per check and ends with exactly one line
# "N passed, N failed"; exits 0 when nothing failed, else 1.
#
# BUILD (environment) is the build directory, default "build"; MAKE the make
# to run.  Installs pkg-config with apt-get if it is missing (when root).
set -u
cd "$(dirname "$0")/.." || exit 1
root=$(pwd)

BUILD=${BUILD:-build}
MAKE=${MAKE:-make}
export BUILD
# A clean environment: no stray hakmem settings or preloads from the caller.
for v in $(compgen -e); do case $v in HAKMEM_*) unset "$v" ;; esac; done
unset LD_PRELOAD

# Until the top-level Makefile includes scripts/install.mk, name it here.
mk=("$MAKE" --no-print-directory -C "$root")
grep -q 'scripts/install.mk' Makefile || mk+=(-f Makefile -f scripts/install.mk)

tmp=$(mktemp -d /tmp/hakmem-install-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
log="$tmp/log"

passed=0
failed=0
pass() { echo "PASS  $1"; passed=$((passed + 1)); }
fail() {
    echo "FAIL  $1${2:+  ($2)}"
    failed=$((failed + 1))
    if [ -s "$log" ]; then tail -n 20 "$log" | sed 's/^/      | /'; fi
}
# check NAME COMMAND...: PASS if COMMAND succeeds; its output goes to $log.
check() {
    local name=$1; shift
    if "$@" >"$log" 2>&1; then pass "$name"; else fail "$name"; fi
}

version=$(sed -n 's/^#define HAKMEM_VERSION_STRING "\(.*\)"$/\1/p' include/hakmem.h)
prefix="/opt/hakmem-test-$$"
stage="$tmp/stage"
P="$stage$prefix"

# --- pkg-config -----------------------------------------------------------
if ! command -v pkg-config >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pkg-config; } >"$tmp/apt.log" 2>&1
fi

# --- install --------------------------------------------------------------
check "make install DESTDIR=... PREFIX=$prefix" "${mk[@]}" install DESTDIR="$stage" PREFIX="$prefix"

expected_files() {
    local d
    printf '%s\n' "bin/hakmem" "include/hakmem.h" "lib/libhakmem.a" "lib/libhakmem.so" \
        "lib/libhakmem.so.0" "lib/libhakmem.so.$version" "lib/pkgconfig/hakmem.pc"
    for d in docs/*.md; do [ -f "$d" ] && echo "share/doc/hakmem/${d#docs/}"; done
}
file_list() {
    diff <(expected_files | sort) <(cd "$P" 2>/dev/null && find . \( -type f -o -type l \) | sed 's|^\./||' | sort) &&
        [ -z "$(cd "$stage" && find . \( -type f -o -type l \) ! -path ".$prefix/*")" ]
}
check "installed file list is exact" file_list

lib_links() {
    [ -f "$P/lib/libhakmem.so.$version" ] && [ ! -L "$P/lib/libhakmem.so.$version" ] &&
        [ "$(readlink "$P/lib/libhakmem.so.0")" = "libhakmem.so.$version" ] &&
        [ "$(readlink "$P/lib/libhakmem.so")" = "libhakmem.so.0" ] &&
        [ -x "$P/bin/hakmem" ] &&
        readelf -d "$P/lib/libhakmem.so.$version" | grep -q 'SONAME.*\[libhakmem\.so\.0\]'
}
check "libhakmem.so.$version real file, .so.0 and .so links, soname libhakmem.so.0" lib_links

# --- pkg-config -----------------------------------------------------------
pc() { PKG_CONFIG_PATH="$P/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$stage" pkg-config "$@"; }
pc_file() {
    command -v pkg-config || { echo "pkg-config is not installed"; return 1; }
    ! grep -n '@' "$P/lib/pkgconfig/hakmem.pc" &&
        [ "$(pc --modversion hakmem)" = "$version" ] &&
        pc --libs hakmem | grep -q -- "-L$P/lib -lhakmem" &&
        pc --static --libs hakmem | grep -q -- '-lpthread' &&
        pc --cflags hakmem | grep -q -- "-I$P/include"
}
check "hakmem.pc: version $version, -lhakmem, -lpthread (static), -I" pc_file

cat >"$tmp/app.c" <<'EOF'
#include <hakmem.h>
#include <stdio.h>
#include <stdlib.h>
int main(void) {
    void *p = malloc(16);
    int owns = hak_owns(p);
    printf("hakmem %s owns=%d\n", HAKMEM_VERSION_STRING, owns);
    free(p);
    return owns ? 0 : 1;
}
EOF

pc_build() {
    # shellcheck disable=SC2046
    cc -o "$tmp/app_dyn" "$tmp/app.c" $(pc --cflags --libs hakmem) &&
        readelf -d "$tmp/app_dyn" | grep -q 'NEEDED.*\[libhakmem\.so\.0\]' &&
        LD_LIBRARY_PATH="$P/lib" "$tmp/app_dyn" | grep -q "owns=1"
}
check "cc app.c \$(pkg-config --cflags --libs hakmem): runs on hakmem" pc_build

static_build() {
    cc -o "$tmp/app_static" "$tmp/app.c" -I"$P/include" -static -L"$P/lib" -lhakmem -lpthread &&
        ! readelf -d "$tmp/app_static" | grep -q NEEDED &&
        "$tmp/app_static" | grep -q "owns=1"
}
check "cc app.c -static -lhakmem -lpthread: runs on hakmem" static_build

static_pc_build() {
    # shellcheck disable=SC2046
    cc -o "$tmp/app_static_pc" "$tmp/app.c" -static $(pc --static --cflags --libs hakmem) &&
        "$tmp/app_static_pc" | grep -q "owns=1"
}
check "cc app.c -static \$(pkg-config --static ...): runs on hakmem" static_pc_build

# --- the launcher ---------------------------------------------------------
H="$P/bin/hakmem"
cat >"$tmp/probe.c" <<'EOF'
/* Not linked with hakmem: reports whether it runs on hakmem anyway. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    int (*owns)(const void *) = (int (*)(const void *))dlsym(RTLD_DEFAULT, "hak_owns");
    int r = owns && owns(malloc(16));
    const char *pre = getenv("LD_PRELOAD");
    printf("owns=%d argc=%d argv1=%s preload=%s\n", r, argc, argc > 1 ? argv[1] : "", pre ? pre : "");
    return r ? 0 : 1;
}
EOF
cc -o "$tmp/probe" "$tmp/probe.c" 2>"$log" || fail "build the launcher probe"
cc -shared -fPIC -o "$tmp/other.so" -x c /dev/null

# run_h OUT ERR ARGS...: run the installed launcher, keep stdout/stderr/status.
run_h() { local o=$1 e=$2; shift 2; "$@" >"$o" 2>"$e"; echo $? >"$o.rc"; }
one_hakmem_line() { [ "$(wc -l <"$1")" -eq 1 ] && grep -q '^hakmem: ' "$1"; }

check "launcher --version prints $version" bash -c '[ "$("$1" --version)" = "$2" ]' _ "$H" "$version"

help_ok() {
    "$H" --help >"$tmp/help" || return 1
    local p
    for p in SPEED BALANCED LEAN DEBUG SECURE --profile --stats --verbose --env --version; do
        grep -q -- "$p" "$tmp/help" || { echo "--help lacks $p"; return 1; }
    done
}
check "launcher --help lists options and profiles SPEED BALANCED LEAN DEBUG SECURE" help_ok

env_ok() {
    "$H" --env >"$tmp/env" || return 1
    local v
    for v in HAKMEM_PROFILE HAKMEM_STATS HAKMEM_VERBOSE; do
        grep -q "^$v=" "$tmp/env" || { echo "--env lacks $v"; cat "$tmp/env"; return 1; }
    done
}
check "launcher --env lists HAKMEM_PROFILE, HAKMEM_STATS, HAKMEM_VERBOSE" env_ok

env_all() {
    local v n=0
    for v in $(sed -n 's/^[[:space:]]*X(\([A-Z0-9_]*\),.*/HAKMEM_\1/p' core/config/env_registry.h); do
        n=$((n + 1))
        grep -q "^$v=" "$tmp/env" || { echo "--env lacks $v"; return 1; }
    done
    [ "$n" -gt 0 ] && [ "$(wc -l <"$tmp/env")" -eq "$n" ]
}
check "launcher --env lists exactly the registry's variables" env_all

run_ok() {
    LD_PRELOAD="$tmp/other.so" "$H" "$tmp/probe" "two words" >"$tmp/out" 2>&1 &&
        grep -q "owns=1 argc=2 argv1=two words preload=$P/lib/libhakmem.so.$version:$tmp/other.so\$" "$tmp/out" ||
        { cat "$tmp/out"; return 1; }
}
check "launcher runs COMMAND on hakmem, args intact, LD_PRELOAD prepended" run_ok

check "launcher passes on the command's exit status" bash -c '"$1" sh -c "exit 7"; [ $? -eq 7 ]' _ "$H"

stats_ok() {
    run_h "$tmp/o" "$tmp/e" "$H" --stats "$tmp/probe"
    [ "$(cat "$tmp/o.rc")" = 0 ] && grep -q '^hakmem: stats' "$tmp/e" && ! grep -q '^hakmem: stats' "$tmp/o" &&
        "$H" --stats=json "$tmp/probe" 2>&1 >/dev/null | grep -q '^{"hakmem_stats":'
}
check "launcher --stats / --stats=json report on stderr" stats_ok

# sort closes stderr in an atexit handler, before the report (issue 16).
stats_sort_ok() {
    printf 'b\na\n' >"$tmp/sort.in"
    run_h "$tmp/o" "$tmp/e" "$H" --stats -- sort "$tmp/sort.in"
    [ "$(cat "$tmp/o.rc")" = 0 ] && [ "$(cat "$tmp/o")" = "$(printf 'a\nb')" ] && grep -q '^hakmem: stats' "$tmp/e" ||
        { cat "$tmp/e"; return 1; }
    rm -f "$tmp"/stats.*
    # two sorts, a file each (dash itself leaves with _exit: no report)
    local n
    "$H" --stats-file="$tmp/stats.%p" -- sh -c 'sort "$1" >/dev/null; sort "$1" >/dev/null; exit 0' _ "$tmp/sort.in" 2>"$tmp/e" &&
        n=$(ls "$tmp"/stats.* | wc -l) && [ "$n" -ge 2 ] && [ "$(cat "$tmp"/stats.* | grep -c '^hakmem: stats')" -eq "$n" ] &&
        [ ! -s "$tmp/e" ] || { ls "$tmp"; cat "$tmp/e"; return 1; }
}
check "launcher --stats with sort (closes stderr first); --stats-file PATH.%p: one file per process" stats_sort_ok

verbose_ok() {
    "$H" --profile BALANCED --verbose "$tmp/probe" 2>&1 >/dev/null |
        grep -q '^hakmem: config HAKMEM_PROFILE=BALANCED (environment)'
}
check "launcher --profile BALANCED shows in --verbose output" verbose_ok

missing_cmd() {
    run_h "$tmp/o" "$tmp/e" "$H" "$tmp/no-such-command"
    [ "$(cat "$tmp/o.rc")" = 127 ] && one_hakmem_line "$tmp/e" || { cat "$tmp/e"; return 1; }
}
check "launcher: missing command exits 127 with one 'hakmem:' line" missing_cmd

missing_lib() {
    run_h "$tmp/o" "$tmp/e" env HAKMEM_LIB="$tmp/no-such-lib.so" "$H" "$tmp/probe"
    [ "$(cat "$tmp/o.rc")" = 127 ] && one_hakmem_line "$tmp/e" && [ ! -s "$tmp/o" ] || { cat "$tmp/e"; return 1; }
}
check "launcher: missing library exits 127 with one 'hakmem:' line" missing_lib

bad_opt() {
    run_h "$tmp/o" "$tmp/e" "$H" --no-such-option "$tmp/probe"
    [ "$(cat "$tmp/o.rc")" = 2 ] && grep -q '^hakmem: ' "$tmp/e" && [ ! -s "$tmp/o" ] || return 1
    run_h "$tmp/o" "$tmp/e" "$H" --stats
    [ "$(cat "$tmp/o.rc")" = 2 ]
}
check "launcher: unknown option or no command exits 2" bad_opt

hakmem_lib_ok() {
    cp "$P/lib/libhakmem.so.$version" "$tmp/copy.so" &&
        HAKMEM_LIB="$tmp/copy.so" "$H" "$tmp/probe" | grep -q "owns=1 .*preload=$tmp/copy.so\$"
}
check "launcher honours HAKMEM_LIB" hakmem_lib_ok

repo_launcher() {
    [ "$(scripts/hakmem --version)" = "$version" ] &&
        scripts/hakmem "$tmp/probe" | grep -q "owns=1 .*preload=$root/$BUILD/libhakmem.so.0\$"
}
if [ "$BUILD" = build ]; then
    check "scripts/hakmem in the repository uses the build tree" repo_launcher
fi

# --- uninstall ------------------------------------------------------------
nothing_left() {
    "${mk[@]}" uninstall DESTDIR="$stage" PREFIX="$prefix" &&
        { [ ! -e "$stage" ] || { echo "left behind:"; find "$stage"; return 1; }; }
}
check "make uninstall removes every file and every directory install created" nothing_left

# Directories that existed before install stay, with anything else in them.
keep_foreign() {
    local s="$tmp/stage2" q="$tmp/stage2$prefix"
    mkdir -p "$q/bin" "$q/lib" && echo x >"$q/bin/other-tool" &&
        "${mk[@]}" install DESTDIR="$s" PREFIX="$prefix" &&
        "${mk[@]}" uninstall DESTDIR="$s" PREFIX="$prefix" &&
        [ "$(cd "$s" && find . | sort | tr '\n' ' ')" = ". ./opt ./opt/${prefix#/opt/} ./opt/${prefix#/opt/}/bin ./opt/${prefix#/opt/}/bin/other-tool ./opt/${prefix#/opt/}/lib " ] ||
        { (cd "$s" && find . | sort); return 1; }
}
check "make uninstall keeps directories and files it did not create" keep_foreign

# A multiarch LIBDIR: the launcher looks in ../lib/x86_64-linux-gnu too.
multiarch() {
    local s="$tmp/stage3" q="$tmp/stage3$prefix"
    "${mk[@]}" install DESTDIR="$s" PREFIX="$prefix" LIBDIR="$prefix/lib/x86_64-linux-gnu" &&
        [ -f "$q/lib/x86_64-linux-gnu/pkgconfig/hakmem.pc" ] &&
        "$q/bin/hakmem" "$tmp/probe" | grep -q "owns=1 .*preload=$q/lib/x86_64-linux-gnu/libhakmem.so.$version\$" &&
        "${mk[@]}" uninstall DESTDIR="$s" PREFIX="$prefix" LIBDIR="$prefix/lib/x86_64-linux-gnu" &&
        [ ! -e "$s" ]
}
check "LIBDIR=PREFIX/lib/x86_64-linux-gnu: launcher finds it; uninstall is clean" multiarch

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
