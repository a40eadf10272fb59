#!/usr/bin/env bash
# Real programs give the same output with LD_PRELOAD=$BUILD/libhakmem.so as
# without it, and hakmem really was in them.
#
#   BUILD=build scripts/test_real_programs.sh [NAME...]
#
# Programs: preload (sanity), python3, perl, gcc, g++, git, sqlite3, sort,
# bash. Each is one test: "PASS name" / "FAIL name", and the last line is
# "N passed, N failed". Exit status is non-zero if any failed.
#
# Proof that hakmem was used: every process started under the preload also
# loads a tiny checker library (built here from the C source below, listed
# after libhakmem in LD_PRELOAD). Its constructor looks at /proc/self/maps for
# libhakmem, asks the dynamic linker which object `malloc` resolves to, and
# calls hak_owns() on a fresh malloc'd block; it appends one line per process
# to a log. A program passes only if the log shows at least one process and
# every process had libhakmem mapped, bound malloc to it, and got a hakmem
# block.
#
# Missing tools: sqlite3 is installed with apt-get when absent (as the issue
# requires); any other missing program is a failure, not a skip.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${BUILD:-build}
LIB=$(readlink -f "$BUILD/libhakmem.so" 2>/dev/null || true)
PROG_TIMEOUT=${PROG_TIMEOUT:-180}

passed=0
failed=0
pass() { echo "PASS  real:$1${2:+  ($2)}"; passed=$((passed + 1)); }
fail() { echo "FAIL  real:$1  ($2)"; failed=$((failed + 1)); }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }

if [ -z "$LIB" ] || [ ! -f "$LIB" ]; then
    fail library "$BUILD/libhakmem.so not built"
    finish
fi

# tmpfs when there is one (git and sort write many files), else /tmp
TMPBASE=/tmp
if [ -d /dev/shm ] && [ -w /dev/shm ] &&
   [ "$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')" -gt 1048576 ] 2>/dev/null; then
    TMPBASE=/dev/shm
fi
WORK=$(mktemp -d "$TMPBASE/hakmem-real.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------- the checker
cat >"$WORK/hakcheck.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One line per process to $HAKCHECK_LOG:
 *   "<pid> maps=<0|1> bound=<0|1> owns=<0|1> <exe>"                         */
__attribute__((constructor)) static void hakcheck(void)
{
    const char *log = getenv("HAKCHECK_LOG");
    if (!log)
        return;
    int mapped = 0, bound = 0, owns = 0;
    /* scan /proc/self/maps for "libhakmem.so", keeping the last 15 bytes of
     * each read in front of the next so a match cannot be split */
    static char buf[15 + 65536];
    size_t keep = 0;
    int fd = open("/proc/self/maps", O_RDONLY);
    if (fd >= 0) {
        ssize_t n;
        while (!mapped && (n = read(fd, buf + keep, sizeof buf - keep)) > 0) {
            size_t len = keep + (size_t)n;
            if (memmem(buf, len, "libhakmem.so", 12))
                mapped = 1;
            keep = len < 15 ? len : 15;
            memmove(buf, buf + len - keep, keep);
        }
        close(fd);
    }
    void *m = dlsym(RTLD_DEFAULT, "malloc");
    Dl_info info;
    if (m && dladdr(m, &info) && info.dli_fname && strstr(info.dli_fname, "libhakmem"))
        bound = 1;
    int (*owns_fn)(const void *) = (int (*)(const void *))dlsym(RTLD_DEFAULT, "hak_owns");
    void *p = malloc(40);
    if (owns_fn && p && owns_fn(p))
        owns = 1;
    free(p);
    char exe[512];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[el > 0 ? el : 0] = 0;
    char line[700];
    int len = snprintf(line, sizeof line, "%d maps=%d bound=%d owns=%d %s\n", (int)getpid(),
                       mapped, bound, owns, exe);
    int lf = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (lf >= 0) {
        if (write(lf, line, (size_t)len) < 0) { /* nothing to do */ }
        close(lf);
    }
}
EOF
CHECKER="$WORK/hakcheck.so"
if ! cc -shared -fPIC -O1 -o "$CHECKER" "$WORK/hakcheck.c" 2>"$WORK/hakcheck.err"; then
    fail checker "could not build the checker library: $(head -c 300 "$WORK/hakcheck.err")"
    finish
fi

# run_pair NAME DIR CMD...: run CMD in DIR/plain and DIR/hak (fresh copies of
# DIR/src when it exists), without and with the preload; stdout+stderr go to
# DIR/plain.out and DIR/hak.out, the checker log to DIR/check.log.
run_pair() {
    local name=$1 dir=$2; shift 2
    local side
    for side in plain hak; do
        rm -rf "$dir/$side"
        if [ -d "$dir/src" ]; then cp -a "$dir/src" "$dir/$side"; else mkdir -p "$dir/$side"; fi
        if [ $side = plain ]; then
            (cd "$dir/$side" && timeout -k 5 "$PROG_TIMEOUT" "$@") >"$dir/$side.out" 2>&1
        else
            (cd "$dir/$side" && HAKCHECK_LOG="$dir/check.log" LD_PRELOAD="$LIB:$CHECKER" \
                timeout -k 5 "$PROG_TIMEOUT" "$@") >"$dir/$side.out" 2>&1
        fi
        echo $? >"$dir/$side.rc"
    done
}

# verdict NAME DIR [MINPROCS]: compare the two runs and the checker log.
verdict() {
    local name=$1 dir=$2 minprocs=${3:-1}
    local rp rh
    rp=$(cat "$dir/plain.rc"); rh=$(cat "$dir/hak.rc")
    if [ "$rp" != 0 ]; then
        fail "$name" "the run without hakmem failed (exit $rp): $(tail -c 400 "$dir/plain.out")"
        return
    fi
    if [ "$rh" != 0 ]; then
        local why="exit $rh"
        [ "$rh" = 124 ] && why="timed out after ${PROG_TIMEOUT}s"
        [ "$rh" -gt 128 ] 2>/dev/null && [ "$rh" != 124 ] && why="killed by signal $((rh - 128))"
        fail "$name" "under hakmem: $why; output tail: $(tail -c 600 "$dir/hak.out")"
        return
    fi
    # hakmem's own diagnostics ("hakmem: ...") are not the program's output
    if ! diff <(grep -v '^hakmem:' "$dir/plain.out") <(grep -v '^hakmem:' "$dir/hak.out") \
            >"$dir/diff" 2>&1; then
        fail "$name" "output differs under hakmem: $(head -c 600 "$dir/diff")"
        return
    fi
    if grep -q '^hakmem:' "$dir/hak.out"; then
        fail "$name" "hakmem reported problems: $(grep '^hakmem:' "$dir/hak.out" | head -3)"
        return
    fi
    if [ ! -s "$dir/check.log" ]; then
        fail "$name" "no process reported loading hakmem (checker log empty)"
        return
    fi
    local total bad
    total=$(wc -l <"$dir/check.log")
    bad=$(grep -v ' maps=1 bound=1 owns=1 ' "$dir/check.log" || true)
    if [ -n "$bad" ]; then
        fail "$name" "processes without hakmem in use: $(echo "$bad" | head -3 | tr '\n' ';')"
        return
    fi
    if [ "$total" -lt "$minprocs" ]; then
        fail "$name" "only $total process(es) checked, expected at least $minprocs"
        return
    fi
    pass "$name" "$total processes with hakmem, output identical"
}

need() { # need NAME TOOL: fail the test when the tool is missing
    command -v "$2" >/dev/null 2>&1 && return 0
    fail "$1" "$2 not installed"
    return 1
}

want() { [ $# -eq 0 ] && return 0; local n; for n in "${SELECT[@]}"; do [ "$n" = "$1" ] && return 0; done; return 1; }
SELECT=("$@")
sel() { [ ${#SELECT[@]} -eq 0 ] || want "$1"; }

# ------------------------------------------------------------------- preload
if sel preload; then
    d="$WORK/preload"; mkdir -p "$d"
    out=$(LD_PRELOAD="$LIB" cat /proc/self/maps 2>&1)
    if echo "$out" | grep -q libhakmem; then
        run_pair preload "$d" sh -c 'cat /proc/self/maps >/dev/null; echo ok'
        verdict preload "$d" 2
    else
        fail preload "LD_PRELOAD=$LIB cat /proc/self/maps shows no libhakmem"
    fi
fi

# ------------------------------------------------------------------- python3
if sel python3 && need python3 python3; then
    d="$WORK/python3"; mkdir -p "$d"
    cat >"$d/work.py" <<'EOF'
import hashlib, json, random, collections
rng = random.Random(12345)
h = hashlib.sha256()
# dicts of lists of strings, growing and shrinking
d = {}
for i in range(200000):
    k = "key%d" % rng.randrange(50000)
    d.setdefault(k, []).append("v" * rng.randrange(1, 80) + str(i))
    if i % 7 == 0:
        d.pop("key%d" % rng.randrange(50000), None)
for k in sorted(d):
    h.update(k.encode()); h.update(str(len(d[k])).encode()); h.update(d[k][-1].encode())
# big strings, bytes, joins
s = "".join(chr(65 + (i * 7) % 26) for i in range(1_000_000))
h.update(s[::3].encode())
b = bytearray()
for i in range(100000):
    b += bytes([i % 251]) * (i % 13)
h.update(bytes(b))
# a JSON round trip of nested data
obj = [{"id": i, "tags": [str(j) for j in range(i % 10)], "x": i * 0.5} for i in range(50000)]
txt = json.dumps(obj, sort_keys=True)
h.update(txt.encode())
assert json.loads(txt) == obj
# sets, counters, sorting
c = collections.Counter(rng.randrange(1000) for _ in range(300000))
h.update(repr(sorted(c.items())).encode())
big = sorted((rng.random(), str(i)) for i in range(200000))
h.update(repr(big[:10] + big[-10:]).encode())
print(len(d), len(s), len(b), len(txt))
print(h.hexdigest())
EOF
    run_pair python3 "$d" python3 "$d/work.py"
    verdict python3 "$d"
fi

# ---------------------------------------------------------------------- perl
if sel perl && need perl perl; then
    d="$WORK/perl"; mkdir -p "$d"
    cat >"$d/work.pl" <<'EOF'
use strict; use warnings; use Digest::MD5;
my $ctx = Digest::MD5->new;
my $x = 1;
sub rnd { $x = ($x * 1103515245 + 12345) % 2147483648; return $x; }
my %h;
for my $i (0 .. 199999) {
    my $k = "k" . (rnd() % 40000);
    push @{ $h{$k} }, ("z" x (rnd() % 60)) . $i;
    delete $h{"k" . (rnd() % 40000)} if $i % 5 == 0;
}
for my $k (sort keys %h) { $ctx->add($k, scalar(@{ $h{$k} }), $h{$k}[-1]); }
my $s = "";
$s .= chr(97 + $_ % 26) for 0 .. 999999;
$ctx->add(scalar reverse $s);
my @a = map { [ $_, "x$_" x ($_ % 5) ] } 0 .. 99999;
@a = sort { $b->[0] <=> $a->[0] } @a;
$ctx->add(join ",", map { $_->[1] } @a[0 .. 999]);
my $t = join("\n", map { "line $_ " . ("ab" x ($_ % 17)) } 1 .. 100000);
my @w = split /\s+/, $t;
$ctx->add(scalar(@w));
(my $u = $t) =~ s/(ab)+/<$1>/g;
$ctx->add($u);
print scalar(keys %h), " ", length($s), " ", scalar(@w), "\n", $ctx->hexdigest, "\n";
EOF
    run_pair perl "$d" perl "$d/work.pl"
    verdict perl "$d"
fi

# ----------------------------------------------------------------------- gcc
if sel gcc && need gcc gcc; then
    d="$WORK/gcc"; mkdir -p "$d/src"
    cat >"$d/src/prog.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct node { struct node *l, *r; int key; char name[24]; };
static struct node *insert(struct node *t, int key)
{
    if (!t) {
        t = calloc(1, sizeof *t);
        t->key = key;
        snprintf(t->name, sizeof t->name, "n%d", key);
        return t;
    }
    if (key < t->key) t->l = insert(t->l, key);
    else if (key > t->key) t->r = insert(t->r, key);
    return t;
}
static unsigned long walk(const struct node *t, unsigned long h)
{
    if (!t) return h;
    h = walk(t->l, h);
    for (const char *c = t->name; *c; c++) h = h * 131 + (unsigned char)*c;
    return walk(t->r, h);
}
static void drop(struct node *t) { if (t) { drop(t->l); drop(t->r); free(t); } }
int main(void)
{
    struct node *t = NULL;
    unsigned x = 7;
    for (int i = 0; i < 100000; i++) { x = x * 1664525u + 1013904223u; t = insert(t, (int)(x % 1000000)); }
    char *buf = NULL; size_t len = 0;
    for (int i = 0; i < 1000; i++) { buf = realloc(buf, len + 100); len += (size_t)sprintf(buf + len, "%d,", i); }
    printf("%lu %zu %.20s\n", walk(t, 0), len, buf);
    drop(t); free(buf);
    return 0;
}
EOF
    run_pair gcc "$d" sh -c 'gcc -O2 -Wall -S -o prog.s prog.c && gcc -o prog prog.s && ./prog && cat prog.s'
    verdict gcc "$d" 3
fi

# ----------------------------------------------------------------------- g++
if sel g++ && need g++ g++; then
    d="$WORK/gxx"; mkdir -p "$d/src"
    cat >"$d/src/prog.cc" <<'EOF'
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>
struct Shape { virtual ~Shape() = default; virtual double area() const = 0; };
struct Sq : Shape { double s; explicit Sq(double v) : s(v) {} double area() const override { return s * s; } };
struct Rect : Shape { double w, h; Rect(double a, double b) : w(a), h(b) {} double area() const override { return w * h; } };
int main()
{
    std::vector<std::unique_ptr<Shape>> v;
    for (int i = 0; i < 100000; i++) {
        if (i % 3) v.push_back(std::make_unique<Sq>(i % 17));
        else v.push_back(std::make_unique<Rect>(i % 5, i % 11));
    }
    double total = 0;
    for (auto &s : v) total += s->area();
    std::map<std::string, int> words;
    std::unordered_map<int, std::vector<std::string>> buckets;
    for (int i = 0; i < 200000; i++) {
        std::ostringstream os;
        os << "w" << (i * 7919) % 30011;
        words[os.str()]++;
        buckets[i % 1000].push_back(os.str());
    }
    std::vector<int> nums(500000);
    std::iota(nums.begin(), nums.end(), 0);
    std::sort(nums.begin(), nums.end(), [](int a, int b) { return (a * 31) % 1009 < (b * 31) % 1009 || ((a * 31) % 1009 == (b * 31) % 1009 && a < b); });
    long acc = 0;
    for (size_t i = 0; i < nums.size(); i += 997) acc += nums[i];
    std::cout << total << " " << words.size() << " " << buckets[7].size() << " " << acc << "\n";
    return 0;
}
EOF
    run_pair g++ "$d" sh -c 'g++ -std=c++17 -O2 -Wall -S -o prog.s prog.cc && g++ -o prog prog.s && ./prog && cat prog.s'
    verdict g++ "$d" 3
fi

# ----------------------------------------------------------------------- git
if sel git && need git git; then
    d="$WORK/git"; mkdir -p "$d"
    cat >"$d/work.sh" <<'EOF'
set -e
export HOME=$PWD GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=T GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=T GIT_COMMITTER_EMAIL=t@example.com
git init -q -b main repo
cd repo
git config gc.auto 0
for c in $(seq 1 20); do
    export GIT_AUTHOR_DATE="2024-01-01T00:00:$(printf %02d $c)Z" GIT_COMMITTER_DATE="2024-01-01T00:00:$(printf %02d $c)Z"
    mkdir -p "dir$((c % 4))"
    awk -v c=$c 'BEGIN { for (f = 1; f <= 20; f++) { out = "f" f ".txt"
        for (i = c * f; i <= c * f + 200 + c; i++) print "file " f " commit " c " line " i > out
        close(out) }
        out = "dir" (c % 4) "/blob" c; for (i = 0; i < c * 50; i++) printf "x" > out; close(out) }'
    git add -A
    git commit -q -m "commit $c"
done
git gc -q
git repack -q -a -d -f --window=100 --depth=50
git fsck --full --strict 2>&1
git log --format='%H %s' | head -40
git rev-parse HEAD^{tree}
git count-objects -v | grep -v -e size -e garbage
git diff HEAD~10 HEAD --stat | tail -1
git log -p -3 --format=%s | md5sum
EOF
    run_pair git "$d" bash "$d/work.sh"
    verdict git "$d" 5
fi

# ------------------------------------------------------------------- sqlite3
if sel sqlite3; then
    if ! command -v sqlite3 >/dev/null 2>&1; then
        echo "installing sqlite3 (apt-get)" >&2
        SUDO=; [ "$(id -u)" -ne 0 ] && SUDO="sudo -n"
        export DEBIAN_FRONTEND=noninteractive
        $SUDO apt-get install -y -q sqlite3 >/dev/null 2>&1 ||
            { $SUDO apt-get update -q >/dev/null 2>&1; $SUDO apt-get install -y -q sqlite3 >/dev/null 2>&1; }
    fi
    if need sqlite3 sqlite3; then
        d="$WORK/sqlite3"; mkdir -p "$d"
        cat >"$d/work.sql" <<'EOF'
CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, val REAL);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)
INSERT INTO t(grp, name, val) SELECT x % 97, 'name' || (x * 7919 % 100003) || substr('abcdefghijklmnopqrstuvwxyz', 1 + x % 26), (x % 1000) / 7.0 FROM c;
CREATE INDEX t_grp ON t(grp, name);
SELECT count(*), sum(grp), round(sum(val), 3), max(length(name)) FROM t;
SELECT grp, count(*), round(avg(val), 4), min(name), max(name) FROM t GROUP BY grp ORDER BY grp LIMIT 20;
SELECT name, val FROM t WHERE grp = 42 ORDER BY name DESC LIMIT 5;
SELECT count(DISTINCT name) FROM t;
CREATE TABLE u AS SELECT grp, group_concat(name, ',') AS names FROM t GROUP BY grp;
SELECT grp, length(names) FROM u ORDER BY length(names) DESC LIMIT 5;
DELETE FROM t WHERE id % 3 = 0;
VACUUM;
SELECT count(*), sum(id) FROM t;
EOF
        run_pair sqlite3 "$d" sh -c "sqlite3 test.db < '$d/work.sql'"
        verdict sqlite3 "$d" 1
    fi
fi

# ---------------------------------------------------------------------- sort
if sel sort && need sort sort; then
    d="$WORK/sort"; mkdir -p "$d"
    # 2M lines, made without hakmem
    awk 'BEGIN { x = 1; for (i = 0; i < 2000000; i++) { x = (x * 1103515245 + 12345) % 2147483648;
         printf "%d %s line-%d\n", x % 100000, substr("qwertyuiopasdfghjklzxcvbnm", 1 + x % 20, 1 + x % 7), i } }' \
        >"$d/input.txt"
    run_pair sort "$d" sh -c "LC_ALL=C sort --parallel=2 -S 64M -k1,1n -k2 '$d/input.txt' | md5sum; LC_ALL=C sort -u -t' ' -k2,2 '$d/input.txt' | head -20; LC_ALL=C sort -S 8M -T . -k3,3 '$d/input.txt' | md5sum"
    verdict sort "$d" 3
fi

# ---------------------------------------------------------------------- bash
if sel bash && need bash bash; then
    d="$WORK/bash"; mkdir -p "$d"
    cat >"$d/work.sh" <<'EOF'
declare -A map
declare -a arr
for ((i = 0; i < 30000; i++)); do
    map["k$((i * 7 % 5003))"]+="v$i,"
    arr+=("item-$i-$((i * i % 977))")
done
echo "${#map[@]} ${#arr[@]}"
s=""
for ((i = 0; i < 20000; i++)); do s+="${arr[i]:0:6}"; done
echo "${#s} ${s:1000:40}"
total=0
for k in "${!map[@]}"; do v=${map[$k]}; total=$((total + ${#v})); done
echo "$total"
words=$(for ((i = 0; i < 5000; i++)); do echo "w$((i % 97))"; done | sort | uniq -c | sort -rn | head -5)
echo "$words"
f() { local x=$1; [ "$x" -le 0 ] && { echo 0; return; }; echo $(( x + $(f $((x - 1))) )); }
echo "$(f 60)"
str=$(printf '%s\n' "${arr[@]:0:2000}" | tr 'a-z' 'A-Z' | sed 's/ITEM/I/' | md5sum)
echo "$str"
unset 'arr[5]' 'arr[10]'; arr=("${arr[@]}")
echo "${#arr[@]} ${arr[5]} ${arr[9]}"
EOF
    run_pair bash "$d" bash "$d/work.sh"
    verdict bash "$d" 5
fi

finish
