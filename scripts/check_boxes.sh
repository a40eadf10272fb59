#!/usr/bin/env bash
# check_boxes.sh — `make check-boxes`: a box switched off at build time is
# gone, and the library without it still works.
#
#   scripts/check_boxes.sh            (BUILD, default build: the full build)
#
# For every switchable box (the Makefile's SWITCHABLE_BOXES), and for
# BOXES=none, it builds the library in $BUILD/boxcheck/<variant> and checks:
#   - the box's object was not built;
#   - no symbol the box's object defines in the full build (functions and
#     data, static ones included, unless another object defines the same
#     name) is in the variant's libhakmem.so (nm);
#   - the variant runs the Mixed benchmark's smoke, one thread and four,
#     under each profile, and ls (a real program) with output
#     identical to a run without it.
# CI also runs every core test under BOXES=none (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
MAKE=${MAKE:-make}
boxes=$($MAKE -s --no-print-directory print-switchable-boxes)
full=$BUILD/obj/core/box
[ -f "$BUILD/libhakmem.so" ] || { echo "check_boxes: $BUILD/libhakmem.so not built" >&2; exit 1; }
[ -x "$BUILD/bench/bench_random_mixed" ] && [ -x "$BUILD/bench/bench_random_mixed_mt" ] ||
    { echo "check_boxes: benchmarks not built (make bench-build)" >&2; exit 1; }

fail=0
bad() { echo "FAIL  check_boxes: $*"; fail=1; }

# Names defined by object $1 and by no other object of the full build.
own_symbols() {
    local obj=$1 others
    others=$(find "$BUILD/obj/core" -name '*.o' ! -path "$obj" -exec nm --defined-only {} + 2>/dev/null |
             awk 'NF == 3 { print $3 }' | sort -u)
    nm --defined-only "$obj" | awk 'NF == 3 && $3 !~ /^\./ { print $3 }' | sort -u |
        comm -23 - <(printf '%s\n' "$others")
}

smoke() {   # smoke VARIANT_DIR
    local lib=$1/libhakmem.so p want got
    for p in SPEED BALANCED LEAN DEBUG SECURE; do
        HAKMEM_PROFILE=$p HAKMEM_ON_ERROR=report LD_PRELOAD=$lib "$BUILD/bench/bench_random_mixed" --smoke >/dev/null ||
            { bad "$1: bench_random_mixed --smoke failed under $p"; return; }
        HAKMEM_PROFILE=$p HAKMEM_ON_ERROR=report LD_PRELOAD=$lib "$BUILD/bench/bench_random_mixed_mt" 20000 400 1 4 >/dev/null ||
            { bad "$1: bench_random_mixed_mt failed under $p"; return; }
    done
    want=$(ls -la /usr/lib 2>&1 | sha256sum)
    got=$(LD_PRELOAD=$lib ls -la /usr/lib 2>&1 | sha256sum)
    [ "$want" = "$got" ] || bad "$1: ls output differs"
}

check_variant() {   # check_variant NAME MAKE-ARGS BOX...
    # No "=" in the directory: make would read the objects' .d lines as
    # variable assignments and miss header changes (stale objects).
    local name=$1 args=$2 dir=$BUILD/boxcheck/${1//=/-} b obj left
    shift 2
    $MAKE -s --no-print-directory BUILD="$dir" $args "$dir/libhakmem.so" >/dev/null ||
        { bad "$name: build failed"; return; }
    for b in "$@"; do
        obj=$full/${b}_box.o
        [ -f "$obj" ] || { bad "$name: $obj missing from the full build"; continue; }
        [ ! -e "$dir/obj/core/box/${b}_box.o" ] || bad "$name: ${b}_box.c was compiled"
        left=$(comm -12 <(own_symbols "$obj") <(nm "$dir/libhakmem.so" | awk 'NF == 3 { print $3 }' | sort -u))
        [ -z "$left" ] || bad "$name: symbols of the $b box still in the library: $(echo $left)"
    done
    smoke "$dir"
    local text
    text=$(size -A "$dir/libhakmem.so" | awk '$1 == ".text" { print $2 }')
    [ $fail -ne 0 ] || echo "PASS  check_boxes: $name (.text $text bytes; box symbols absent; smoke and ls pass)"
}

for b in $boxes; do
    B=$(echo "$b" | tr a-z A-Z)
    check_variant "BOX_$B=0" "BOX_$B=0" "$b"
done
# shellcheck disable=SC2086
check_variant "BOXES=none" "BOXES=none" $boxes
full_text=$(size -A "$BUILD/libhakmem.so" | awk '$1 == ".text" { print $2 }')
echo "(full build: .text $full_text bytes)"
exit $fail
