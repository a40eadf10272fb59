#!/usr/bin/env bash
# glibc's own malloc tests, run against hakmem (make test-glibc).
#
#   scripts/glibc_tests.sh [--fetch-only] [--build-only] [--on-glibc] [NAME...]
#
# NAME: run only these tests (of tests/glibc/tests.list). --on-glibc runs
# them on glibc's own malloc instead (no LD_PRELOAD, the shim's preload check
# off, one pseudo-profile "glibc", no known failures): a check of the shim
# and of our adaptations, which must pass there too.
#
# 1. Fetches glibc's source for this machine's glibc with `apt-get source`
#    (adding a deb-src entry for the suite libc6 came from when there is
#    none, then `apt-get update`; installs dpkg-dev if needed) and keeps it
#    unpacked in $BUILD/glibc-src, so a second run does not fetch again.
# 2. Builds the tests listed in tests/glibc/tests.list from glibc's malloc/
#    as ordinary programs (gcc -D_GNU_SOURCE ... -lpthread) against our shim of
#    glibc's support/ driver (tests/glibc/shim), into $BUILD/glibc-tests.
# 3. Runs each test under LD_PRELOAD=$BUILD/libhakmem.so in every profile of
#    GLIBC_PROFILES, with a timeout; the shim checks at start that malloc is
#    hakmem's (the test fails otherwise). Prints one line per test x profile
#    (PASS, FAIL, XFAIL, XPASS or SKIP, with the reason) and ends with
#    "N passed, N failed"; exits non-zero on any FAIL.
#
# Environment:
#   BUILD              build directory (default build); $BUILD/libhakmem.so must exist
#   GLIBC_PROFILES     profiles to run (default "SPEED BALANCED LEAN DEBUG SECURE")
#   GLIBC_TIMEOUT      most seconds per run (default 100): the shim's driver
#                      ends the test at its own TIMEOUT (as glibc's: 20 s
#                      unless the test says more; 100 at most) or at this,
#                      whichever comes first
#   GLIBC_XFAIL_TIMEOUT the same for a run that is a known failure (default
#                      20), so that a known hang costs little
#   GLIBC_TESTS_XFAIL  more known failures, space-separated: NAME (every
#                      profile) or NAME:PROFILE; added to the xfail lines of
#                      tests/glibc/tests.list. GLIBC_TESTS_XFAIL=none ignores
#                      the list's xfail lines (to see what still fails).
#   GLIBC_SRC          use this unpacked glibc tree instead of fetching one
#
# Known failures (xfail) are reported as XFAIL and not counted as failures;
# one that passes is reported as XPASS (counted as passed) so that its entry
# can go. The tests skipped altogether, with the reason, are the table in
# docs/RELIABILITY.md ("glibc's malloc tests"); this script reads it and
# checks that every test of glibc's malloc/ is either run or listed there.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
GLIBC_PROFILES=${GLIBC_PROFILES:-SPEED BALANCED LEAN DEBUG SECURE}
GLIBC_TIMEOUT=${GLIBC_TIMEOUT:-100}
GLIBC_XFAIL_TIMEOUT=${GLIBC_XFAIL_TIMEOUT:-20}
GLIBC_TESTS_XFAIL=${GLIBC_TESTS_XFAIL:-}
LIST=tests/glibc/tests.list
SHIM=tests/glibc/shim
DOC=docs/RELIABILITY.md

fetch_only=0
build_only=0
on_glibc=0
only=()
for a in "$@"; do
    case "$a" in
        --fetch-only) fetch_only=1 ;;
        --build-only) build_only=1 ;;
        --on-glibc) on_glibc=1 ;;
        -h|--help) sed -n '2,/^set -euo pipefail/{/^set/d;p}' "$0"; exit 0 ;;
        -*) echo "glibc_tests: unknown option $a" >&2; exit 2 ;;
        *) only+=("$a") ;;
    esac
done

say() { echo "glibc_tests: $*" >&2; }
die() { say "$*"; exit 1; }

SUDO=
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; fi
fi

# ---------------------------------------------------------------- fetching

# The (URI, suite, component) triples that the installed libc6 came from,
# one "URI SUITE COMPONENT" a line, read from apt-cache policy's version table.
libc6_origins() {
    apt-cache policy libc6 | awk '
        /^ \*\*\* / { inst = 1; next }
        /^     [^ ]/ { inst = 0 }              # the next version
        inst && $NF == "Packages" && $3 ~ /\// {
            split($3, sc, "/"); print $2, sc[1], sc[2] }'
}

# Writes deb-src entries mirroring the deb entries (one-line .list files and
# deb822 .sources files) whose URI is one that libc6 came from, into
# /etc/apt/sources.list.d/hakmem-glibc-src.{list,sources}.
add_deb_src() {
    local uris=("$@") f out_list out_src
    out_list=$(mktemp) out_src=$(mktemp)
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        case "$f" in */hakmem-glibc-src.list) continue ;; esac
        awk -v uris="${uris[*]}" '
            BEGIN { n = split(uris, u, " "); for (i = 1; i <= n; i++) want[u[i]] = 1 }
            $1 == "deb" {
                for (i = 2; i <= NF; i++) {
                    x = $i; sub(/\/$/, "", x)
                    if (x in want) { sub(/^deb[ \t]/, "deb-src "); print; break }
                }
            }' "$f" >>"$out_list"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        case "$f" in */hakmem-glibc-src.sources) continue ;; esac
        # One stanza per paragraph; keep those with Types "deb" and a wanted URI.
        awk -v uris="${uris[*]}" '
            BEGIN { RS = ""; FS = "\n"; n = split(uris, u, " "); for (i = 1; i <= n; i++) want[u[i]] = 1 }
            {
                deb = 0; hit = 0; out = ""
                for (i = 1; i <= NF; i++) {
                    line = $i
                    if (line ~ /^#/) continue
                    if (tolower(line) ~ /^types:/) {
                        if (line ~ /[ \t]deb([ \t]|$)/) deb = 1
                        line = "Types: deb-src"
                    }
                    if (tolower(line) ~ /^uris:/) {
                        m = split(line, w, /[ \t]+/)
                        for (j = 2; j <= m; j++) { x = w[j]; sub(/\/$/, "", x); if (x in want) hit = 1 }
                    }
                    if (tolower(line) ~ /^enabled:[ \t]*no/) { deb = 0 }
                    out = out line "\n"
                }
                if (deb && hit) printf "%s\n", out
            }' "$f" >>"$out_src"
    done
    if [ -s "$out_list" ]; then
        say "adding deb-src lines to /etc/apt/sources.list.d/hakmem-glibc-src.list:"
        sed 's/^/    /' "$out_list" >&2
        $SUDO cp "$out_list" /etc/apt/sources.list.d/hakmem-glibc-src.list
        $SUDO chmod 644 /etc/apt/sources.list.d/hakmem-glibc-src.list
    fi
    if [ -s "$out_src" ]; then
        say "adding deb-src stanzas to /etc/apt/sources.list.d/hakmem-glibc-src.sources:"
        sed 's/^/    /' "$out_src" >&2
        $SUDO cp "$out_src" /etc/apt/sources.list.d/hakmem-glibc-src.sources
        $SUDO chmod 644 /etc/apt/sources.list.d/hakmem-glibc-src.sources
    fi
    local added=0
    [ -s "$out_list" ] || [ -s "$out_src" ] && added=1
    rm -f "$out_list" "$out_src"
    [ $added -eq 1 ]
}

# Is glibc's source of version $1 known to apt (any version if $1 is empty)?
source_known() {
    local v
    v=$(apt-cache showsrc glibc 2>/dev/null | awk '/^Version:/ { print $2 }') || true
    [ -n "$v" ] || return 1
    [ -z "$1" ] || grep -qxF "$1" <<<"$v"
}

fetch_source() {
    local dest=$1 ver
    ver=$(dpkg-query -W -f '${source:Version}' libc6)
    if [ -f "$dest/.hakmem-glibc-version" ] && [ -d "$dest/malloc" ]; then
        return 0
    fi
    [ -z "$SUDO" ] && [ "$(id -u)" -ne 0 ] && ! source_known "" &&
        die "not root and no sudo: cannot add a deb-src entry; set GLIBC_SRC to an unpacked glibc tree"
    export DEBIAN_FRONTEND=noninteractive
    if ! source_known "$ver"; then
        local -a origins uris=()
        mapfile -t origins < <(libc6_origins)
        [ ${#origins[@]} -gt 0 ] || die "apt-cache policy libc6 names no archive for the installed version"
        local o
        for o in "${origins[@]}"; do uris+=("${o%% *}"); done
        # A deb-src entry for that archive may already exist, its index not
        # yet downloaded; add ours only when there is none.
        local have_src
        # shellcheck disable=SC2016 # $(SITE) is apt's field syntax, not the shell's
        have_src=$(apt-get indextargets --format '$(SITE)' 'Created-By: Sources' 2>/dev/null || true)
        local need=1 u
        for u in "${uris[@]}"; do
            grep -qxF "${u%/}" <<<"$have_src" && need=0
        done
        if [ $need -eq 1 ]; then
            add_deb_src "${uris[@]}" || die "found no deb entry for ${uris[*]} to mirror as deb-src"
        fi
        say "apt-get update"
        $SUDO apt-get update -q >&2 || say "apt-get update reported errors; trying apt-get source all the same"
    fi
    if ! command -v dpkg-source >/dev/null 2>&1; then
        say "installing dpkg-dev (apt-get source unpacks with dpkg-source)"
        $SUDO apt-get install -y -q dpkg-dev >&2
    fi
    local tmp="$dest.tmp"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    say "apt-get source glibc=$ver (into $tmp)"
    if ! (cd "$tmp" && apt-get source -q "glibc=$ver" >&2); then
        # The archive may have moved on to a newer patch level of the same
        # release; its malloc tests are the ones we want all the same.
        say "glibc $ver is no longer in the archive; fetching the suite's glibc instead"
        rm -rf "${tmp:?}"/*
        (cd "$tmp" && apt-get source -q glibc >&2)
    fi
    local dir
    dir=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d -name 'glibc-*' | head -n 1)
    if [ -z "$dir" ] || [ ! -d "$dir/malloc" ]; then die "apt-get source left no glibc-*/malloc in $tmp"; fi
    rm -rf "$dest"
    mv "$dir" "$dest"
    (cd "$tmp" && ls ./*.dsc) | sed 's|^\./||; s|\.dsc$||' >"$dest/.hakmem-glibc-version"
    rm -rf "$tmp"
    say "glibc source $(cat "$dest/.hakmem-glibc-version") unpacked in $dest"
}

if [ -n "${GLIBC_SRC:-}" ]; then
    SRC=$GLIBC_SRC
    [ -d "$SRC/malloc" ] || die "GLIBC_SRC=$SRC has no malloc/"
else
    SRC=$BUILD/glibc-src
    fetch_source "$SRC"
fi
[ $fetch_only -eq 1 ] && exit 0

# ---------------------------------------------------------------- the lists

declare -a TESTS=()              # in list order
declare -A TEST_ENV=()           # NAME -> "VAR=VALUE ..." for its runs
declare -A XFAIL=()              # NAME:PROFILE or NAME:* -> reason
declare -A SKIP=()               # NAME:PROFILE or NAME:* -> reason

while read -r kind name rest; do
    case "$kind" in
        ''|'#'*) continue ;;
        test)
            TESTS+=("$name")
            envs=""
            for w in $rest; do
                case "$w" in
                    env=*=*) envs+="${envs:+ }${w#env=}" ;;
                    *) die "$LIST: test $name: unknown word '$w'" ;;
                esac
            done
            TEST_ENV[$name]=$envs ;;
        xfail|skip)
            profiles=${rest%% *}
            reason=${rest#"$profiles"}
            reason=${reason# }
            if [ -z "$profiles" ] || [ -z "$reason" ]; then die "$LIST: $kind $name: needs PROFILES and a reason"; fi
            IFS=, read -r -a ps <<<"$profiles"
            for p in "${ps[@]}"; do
                if [ "$kind" = xfail ]; then XFAIL[$name:$p]=$reason; else SKIP[$name:$p]=$reason; fi
            done ;;
        *) die "$LIST: unknown line kind '$kind'" ;;
    esac
done <"$LIST"

if [ "$GLIBC_TESTS_XFAIL" = none ]; then
    XFAIL=()
else
    for w in $GLIBC_TESTS_XFAIL; do
        n=${w%%:*}
        if [ "$n" = "$w" ]; then XFAIL[$n:*]="GLIBC_TESTS_XFAIL"; continue; fi
        IFS=, read -r -a ps <<<"${w#*:}"
        for p in "${ps[@]}"; do XFAIL[$n:$p]="GLIBC_TESTS_XFAIL"; done
    done
fi

# The skip table of docs/RELIABILITY.md: rows "| name[, name...] | reason |"
# between the markers <!-- glibc-skip: begin --> and <!-- glibc-skip: end -->.
declare -A DOC_SKIP=()
while IFS='|' read -r _ names reason _; do
    names=${names//\`/}
    reason=$(sed 's/^ *//; s/ *$//' <<<"$reason")
    IFS=, read -r -a ns <<<"$names"
    for n in "${ns[@]}"; do
        n=$(tr -d ' ' <<<"$n")
        [ -n "$n" ] && DOC_SKIP[$n]=$reason
    done
done < <(sed -n '/<!-- glibc-skip: begin -->/,/<!-- glibc-skip: end -->/p' "$DOC" |
         grep -E '^\| *`?[a-z]' | grep -v -E '^\| *test')

# Every test that glibc's malloc/Makefile declares, run or skipped?
mapfile -t GLIBC_ALL < <(awk '
    /^(tests|tests-static|tests-internal|test-srcs)[ \t]*(:=|\+=|=)/ { on = 1; sub(/^[^=]*=/, "") }
    on {
        cont = ($0 ~ /\\[ \t]*$/)
        gsub(/\\/, " ")
        n = split($0, w, /[ \t]+/)
        for (i = 1; i <= n; i++) if (w[i] ~ /^[a-z]/) print w[i]
        if (!cont) on = 0
    }' "$SRC/malloc/Makefile" | sort -u)
[ ${#GLIBC_ALL[@]} -gt 20 ] || die "found only ${#GLIBC_ALL[@]} tests in $SRC/malloc/Makefile"
declare -A LISTED=()
for n in "${TESTS[@]}"; do LISTED[$n]=1; done
unaccounted=()
for n in "${GLIBC_ALL[@]}"; do
    [ -n "${LISTED[$n]:-}" ] || [ -n "${DOC_SKIP[$n]:-}" ] || unaccounted+=("$n")
done
for n in "${TESTS[@]}"; do
    [ -f "$SRC/malloc/$n.c" ] || die "$LIST names $n, but $SRC/malloc/$n.c does not exist"
done

# ---------------------------------------------------------------- building

mkdir -p "$BUILD"
OUT=$(cd "$BUILD" && pwd)/glibc-tests
CC_GLIBC=${GLIBC_CC:-gcc}
# The tests are glibc's, not ours: their warnings are not ours to fix.
TEST_FLAGS=(-std=gnu11 -D_GNU_SOURCE -O2 -g -fno-omit-frame-pointer -w)
SHIM_FLAGS=(-std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror)
mkdir -p "$OUT/src/malloc" "$OUT/bin" "$OUT/logs" "$OUT/tmp"

# Where a test holds only for glibc's own layout, the copy we build is
# adapted; docs/RELIABILITY.md says why for each. Each change must apply
# (a newer glibc whose source moved on fails here, loudly).
adapt_source() {
    local name=$1 file=$2
    case "$name" in
        tst-malloc-usable)
            # glibc's form checks that malloc_usable_size (malloc (7)) is
            # exactly 7 (true under its MALLOC_CHECK_=3); the contract is >= 7.
            sed -i 's/TEST_COMPARE (usable_size, 7);/TEST_VERIFY (usable_size >= 7);/' "$file"
            grep -q 'TEST_VERIFY (usable_size >= 7);' "$file" ||
                die "adapting $name: the usable-size check was not found" ;;
        tst-free-errno)
            # The test maps fresh memory over a 16 MiB block plus the page
            # before and the page after it, and restores only the block's
            # first and last pages. Under glibc the page before is not the
            # block's; under hakmem it is the block's region header (a huge
            # block starts one page into its mapping), so free() would see a
            # pointer that is no longer a block (ignored in SPEED, an abort in
            # DEBUG and SECURE). Save and restore that page too.
            local a1='xmmap (ptr_aligned - pagesize,' a2='memcpy (ptr_aligned, firstpage_backup, pagesize);'
            if [ "$(grep -cF "$a1" "$file")" != 1 ] || [ "$(grep -cF "$a2" "$file")" != 1 ]; then
                die "adapting $name: the remapping code was not found"
            fi
            # (Only when that page is mapped: under glibc it usually is not.)
            sed -i -e "/${a1//\//\\/}/i\\
      void *hakmem_header_backup = NULL; /* hakmem: the block's header page */\\
      if (msync (ptr_aligned - pagesize, pagesize, MS_ASYNC) == 0)\\
        hakmem_header_backup = memcpy (xmalloc (pagesize), ptr_aligned - pagesize, pagesize);" \
                -e "/${a2//\//\\/}/i\\
      if (hakmem_header_backup != NULL) /* hakmem */\\
        memcpy (ptr_aligned - pagesize, hakmem_header_backup, pagesize);" "$file"
            [ "$(grep -c hakmem_header_backup "$file")" = 4 ] ||
                die "adapting $name: the header page's save and restore did not go in" ;;
    esac
}

build_failed=()
shim_obj=$OUT/shim.o
shim_deps=("$SHIM"/*.c "$SHIM"/*.h "$SHIM"/support/* "$0")
newer_than() {   # newer_than TARGET FILE...: is any FILE newer than TARGET (or TARGET missing)?
    local t=$1 f
    shift
    [ -e "$t" ] || return 0
    for f in "$@"; do [ "$f" -nt "$t" ] && return 0; done
    return 1
}
if newer_than "$shim_obj" "${shim_deps[@]}"; then
    "$CC_GLIBC" "${SHIM_FLAGS[@]}" -I"$SHIM" -c "$SHIM/shim.c" -o "$shim_obj"
fi
shim_abs=$(cd "$SHIM" && pwd)
cp -p "$SHIM/test-skeleton.c" "$OUT/src/test-skeleton.c"
for n in "${TESTS[@]}"; do
    src=$OUT/src/malloc/$n.c
    if newer_than "$src" "$SRC/malloc/$n.c" "$0"; then
        cp "$SRC/malloc/$n.c" "$src.tmp"
        adapt_source "$n" "$src.tmp"
        mv "$src.tmp" "$src"
    fi
    bin=$OUT/bin/$n
    if newer_than "$bin" "$src" "$shim_obj" "${shim_deps[@]}"; then
        # (compiled from its directory, so that messages name the file alone)
        if ! (cd "$OUT/src/malloc" && "$CC_GLIBC" "${TEST_FLAGS[@]}" -I"$shim_abs" "$n.c" \
                "$shim_obj" -o "$bin" -lpthread -ldl) >"$OUT/logs/$n.build.log" 2>&1; then
            build_failed+=("$n")
            rm -f "$bin"
        fi
    fi
done
[ $build_only -eq 1 ] && { [ ${#build_failed[@]} -eq 0 ] || die "build failed: ${build_failed[*]}"; exit 0; }

# ---------------------------------------------------------------- running

LIB=$(cd "$BUILD" && pwd)/libhakmem.so
[ -e "$LIB" ] || die "$LIB missing (make first)"
if [ ${#only[@]} -gt 0 ]; then
    for n in "${only[@]}"; do
        [ -n "${LISTED[$n]:-}" ] || die "$n is not in $LIST"
    done
    TESTS=("${only[@]}")
fi
read -r -a PROFILES <<<"$GLIBC_PROFILES"
PRELOAD=(LD_PRELOAD="$LIB")
if [ $on_glibc -eq 1 ]; then
    PROFILES=(glibc)
    PRELOAD=(GLIBC_SHIM_ALLOW_GLIBC=1)
    XFAIL=() SKIP=()
fi

passed=0 failed=0 xfailed=0 xpassed=0 skipped=0
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fs", b - a }'; }
line() { printf '%-5s  %-30s  %-8s  %s\n' "$1" "$2" "$3" "$4"; }

echo "glibc's malloc tests from $(cat "$SRC/.hakmem-glibc-version" 2>/dev/null || echo "$SRC"), ${PRELOAD[*]}"

# The preload check must bite: without LD_PRELOAD a test exits with 99.
probe=$OUT/bin/${TESTS[0]}
if [ -x "$probe" ]; then
    rc=0
    env -u LD_PRELOAD -u GLIBC_SHIM_ALLOW_GLIBC "$probe" >"$OUT/logs/preload-probe.log" 2>&1 </dev/null || rc=$?
    if [ $rc -ne 99 ]; then
        line FAIL preload-check - "without LD_PRELOAD, ${TESTS[0]} exited $rc, not 99: the shim's check does not work"
        failed=$((failed + 1))
    fi
fi

for n in "${!DOC_SKIP[@]}"; do echo "$n"; done | sort | while read -r n; do
    [ -n "${LISTED[$n]:-}" ] && continue
    line SKIP "$n" all "${DOC_SKIP[$n]}"
done
skipped=$((skipped + $(for n in "${!DOC_SKIP[@]}"; do [ -n "${LISTED[$n]:-}" ] || echo "$n"; done | wc -l)))
for n in "${unaccounted[@]}"; do
    line FAIL "$n" all "in glibc's malloc/Makefile but neither in $LIST nor in $DOC's skip table"
    failed=$((failed + 1))
done

for n in "${TESTS[@]}"; do
    bin=$OUT/bin/$n
    read -r -a extra <<<"${TEST_ENV[$n]:-}"
    for p in "${PROFILES[@]}"; do
        why=${SKIP[$n:$p]:-${SKIP[$n:*]:-}}
        if [ -n "$why" ]; then
            line SKIP "$n" "$p" "$why"
            skipped=$((skipped + 1)); continue
        fi
        xf=${XFAIL[$n:$p]:-${XFAIL[$n:*]:-}}
        log=$OUT/logs/$n.$p.log
        if [ ! -x "$bin" ]; then
            result=FAIL reason="did not build: $OUT/logs/$n.build.log"
            cp "$OUT/logs/$n.build.log" "$log" 2>/dev/null || : >"$log"
        else
            tmp=$OUT/tmp/$n.$p
            rm -rf "$tmp"; mkdir -p "$tmp"
            t0=$(now)
            rc=0
            tmo=$GLIBC_TIMEOUT
            [ -n "$xf" ] && [ "$GLIBC_XFAIL_TIMEOUT" -lt "$tmo" ] && tmo=$GLIBC_XFAIL_TIMEOUT
            (cd "$tmp" && env -u GLIBC_SHIM_ALLOW_GLIBC -u LD_PRELOAD "${extra[@]}" HAKMEM_PROFILE="$p" TMPDIR="$tmp" \
                GLIBC_SHIM_TIMEOUT_MAX="$tmo" "${PRELOAD[@]}" \
                timeout -k 5 $((tmo + 15)) "$bin" ) >"$log" 2>&1 </dev/null || rc=$?
            t1=$(now)
            rm -rf "$tmp"
            took=$(elapsed "$t0" "$t1")
            case $rc in
                0) result=PASS reason="($took)" ;;
                77) result=SKIP reason="unsupported here: $(grep -m1 -E '^(warning|error):' "$log" || tail -n 1 "$log") ($took)" ;;
                99) result=FAIL reason="libhakmem.so was not preloaded: $(tail -n 1 "$log")" ;;
                124|137) result=FAIL reason="hung: killed by the outer timeout after $took" ;;
                *)
                    if [ $rc -gt 128 ]; then msg="killed by signal $((rc - 128))"; else msg="exit $rc"; fi
                    first=$(grep -m1 -E '^(error|Error|FAIL)' "$log" || true)
                    [ -n "$first" ] || first=$(grep -v '^ *$' "$log" | tail -n 1 || true)
                    result=FAIL reason="$msg, $took: ${first:0:160}" ;;
            esac
        fi
        case $result in
            PASS)
                if [ -n "$xf" ]; then
                    line XPASS "$n" "$p" "$reason: a known failure passed (if it keeps passing, its xfail line can go: $xf)"
                    xpassed=$((xpassed + 1))
                else
                    line PASS "$n" "$p" "$reason"
                fi
                passed=$((passed + 1)) ;;
            SKIP) line SKIP "$n" "$p" "$reason"; skipped=$((skipped + 1)) ;;
            FAIL)
                if [ -n "$xf" ]; then
                    line XFAIL "$n" "$p" "$reason [known: $xf]"
                    xfailed=$((xfailed + 1))
                else
                    line FAIL "$n" "$p" "$reason"
                    echo "----- $log (last 25 lines) -----"
                    tail -n 25 "$log"
                    echo "-----"
                    failed=$((failed + 1))
                fi ;;
        esac
    done
done

echo "glibc tests: $passed passed ($xpassed of them XPASS), $failed failed, $xfailed known failures (XFAIL), $skipped skipped; logs in $OUT/logs"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
