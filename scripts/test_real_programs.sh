#!/usr/bin/env bash
# Real programs give the same output with LD_PRELOAD=$BUILD/libhakmem.so as
# without it, and hakmem really was in them.
#
#   BUILD=build scripts/test_real_programs.sh [NAME...]
#
# Programs: preload (sanity), python3, perl, gcc, g++, git, sqlite3, sort,
# bash, jq, tclsh, node, redis (redis-server + redis-benchmark + redis-cli on
# 127.0.0.1). Each program runs once without hakmem and once under hakmem per
# profile (HAKMEM_PROFILE = SPEED and BALANCED; HAKMEM_REAL_PROFILES="..."
# overrides), and each (program, profile) pair is one test:
# "PASS  real:name/PROFILE" / "FAIL  real:name/PROFILE  (why)". The last line
# is "N passed, N failed". Exit status is non-zero if any failed.
#
# Proof that hakmem was used: every process started under the preload also
# loads a tiny checker library (built here from the C source below, listed
# after libhakmem in LD_PRELOAD). Its constructor looks at /proc/self/maps for
# libhakmem, asks the dynamic linker which object `malloc` resolves to, calls
# hak_owns() on a fresh malloc'd block, and reads the profile in effect from
# hak_config_print(); it appends one line per process to a log. A test passes
# only if the log shows at least one process and every process had libhakmem
# mapped, bound malloc to it, got a hakmem block, and ran the expected profile.
#
# Missing tools: sqlite3, jq, tclsh, node and redis are installed with
# apt-get (packages sqlite3, jq, tcl, nodejs, redis-server, redis-tools; an
# `apt-get update` is tried when the first install fails). Any program still
# missing is a failure, not a skip.
#
# KEEP_WORK=1 keeps the work directory (outputs, checker logs, redis logs).
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
fail_all() { local p; for p in $PROFILES; do fail "$1/$p" "$2"; done; }
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
PROFILES=${HAKMEM_REAL_PROFILES:-SPEED BALANCED}
# A HAKMEM_ name hakmem does not know: the programs under test would warn.
unset HAKMEM_REAL_PROFILES

# On every exit path: kill any redis-server a workload left behind (each one
# writes its pid to .../redis.pid; only a live process named redis-server is
# killed), then remove the work directory.
reap_servers() { # reap_servers PIDFILE...
    local f pid
    for f in "$@"; do
        [ -f "$f" ] || continue
        pid=$(cat "$f" 2>/dev/null)
        case $pid in '' | *[!0-9]*) continue ;; esac
        if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = redis-server ]; then
            kill -9 "$pid" 2>/dev/null
        fi
    done
}
cleanup() {
    reap_servers "$WORK"/*/*/redis.pid
    if [ -n "${KEEP_WORK:-}" ]; then echo "work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- the checker
cat >"$WORK/hakcheck.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/mman.h>

/* One line per process to $HAKCHECK_LOG:
 *   "<pid> maps=<0|1> bound=<0|1> owns=<0|1> profile=<NAME|?> <exe>"
 * The profile is the one hakmem itself reports in effect (hak_config_print
 * into a memfd, line "... HAKMEM_PROFILE=<NAME> ..."), not the environment. */
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
    int (*owns_fn)(const void *) = (int (*)(const void *))dlsym(RTLD_DEFAULT, "hak_owns");
    void *p = malloc(40);
    if (owns_fn && p && owns_fn(p))
        owns = 1;
    free(p);
    /* bound: the global definition of malloc is libhakmem's. A non-PIE
     * executable that takes malloc's address (node) makes its own PLT entry
     * the canonical address: the symbol it exports is then undefined
     * (SHN_UNDEF) and only forwards to the real definition. In that case the
     * global malloc counts as bound when a call through it returns a block
     * hak_owns() recognises. */
    void *m = dlsym(RTLD_DEFAULT, "malloc");
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (m && dladdr1(m, &info, (void **)&sym, RTLD_DL_SYMENT) && info.dli_fname) {
        if (strstr(info.dli_fname, "libhakmem")) {
            bound = 1;
        } else if (sym && sym->st_shndx == SHN_UNDEF && owns_fn) {
            void *q = ((void *(*)(size_t))m)(56);
            if (q && owns_fn(q))
                bound = 1;
            free(q);
        }
    }
    char profile[32] = "?";
    void (*config_fn)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "hak_config_print");
    int mfd = config_fn ? memfd_create("hakcheck", 0) : -1;
    if (mfd >= 0) {
        config_fn(mfd);
        static char cfg[65536];
        ssize_t n = pread(mfd, cfg, sizeof cfg - 1, 0);
        close(mfd);
        cfg[n > 0 ? n : 0] = 0;
        const char *q = strstr(cfg, "HAKMEM_PROFILE=");
        if (q) {
            q += 15;
            size_t k = 0;
            while (k < sizeof profile - 1 && q[k] && q[k] != ' ' && q[k] != '\n')
                profile[k] = q[k], k++;
            profile[k] = 0;
        }
    }
    char exe[512];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[el > 0 ? el : 0] = 0;
    char line[760];
    int len = snprintf(line, sizeof line, "%d maps=%d bound=%d owns=%d profile=%s %s\n",
                       (int)getpid(), mapped, bound, owns, profile, exe);
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

# run_pair NAME DIR CMD...: run CMD once without hakmem in DIR/plain and once
# per profile P under the preload with HAKMEM_PROFILE=P in DIR/hak-P (each a
# fresh copy of DIR/src when it exists); stdout+stderr go to DIR/<side>.out,
# the exit status to DIR/<side>.rc, the checker log to DIR/<side>.check.
run_pair() {
    local name=$1 dir=$2; shift 2
    local side p
    for side in plain $(for p in $PROFILES; do echo "hak-$p"; done); do
        rm -rf "$dir/$side" "$dir/$side.check"
        if [ -d "$dir/src" ]; then cp -a "$dir/src" "$dir/$side"; else mkdir -p "$dir/$side"; fi
        if [ $side = plain ]; then
            (cd "$dir/$side" && timeout -k 5 "$PROG_TIMEOUT" "$@") >"$dir/$side.out" 2>&1
        else
            p=${side#hak-}
            (cd "$dir/$side" && HAKMEM_PROFILE=$p HAKCHECK_LOG="$dir/$side.check" \
                LD_PRELOAD="$LIB:$CHECKER" timeout -k 5 "$PROG_TIMEOUT" "$@") >"$dir/$side.out" 2>&1
        fi
        echo $? >"$dir/$side.rc"
        reap_servers "$dir/$side/redis.pid" # only if the workload could not stop its server
    done
}

# verdict NAME DIR [MINPROCS]: one test per profile, "NAME/PROFILE".
verdict() {
    local p
    for p in $PROFILES; do verdict_one "$1/$p" "$2" "$p" "${3:-1}"; done
}

# verdict_one TESTNAME DIR PROFILE MINPROCS: compare DIR/hak-PROFILE with
# DIR/plain and check DIR/hak-PROFILE.check.
verdict_one() {
    local name=$1 dir=$2 prof=$3 minprocs=$4
    local hak="$dir/hak-$prof" rp rh
    rp=$(cat "$dir/plain.rc"); rh=$(cat "$hak.rc")
    if [ "$rp" != 0 ]; then
        fail "$name" "the run without hakmem failed (exit $rp): $(tail -c 400 "$dir/plain.out")"
        return
    fi
    if [ "$rh" != 0 ]; then
        local why="exit $rh"
        [ "$rh" = 124 ] && why="timed out after ${PROG_TIMEOUT}s"
        [ "$rh" -gt 128 ] 2>/dev/null && [ "$rh" != 124 ] && why="killed by signal $((rh - 128))"
        fail "$name" "under hakmem: $why; output tail: $(tail -c 600 "$hak.out")"
        return
    fi
    # hakmem's own diagnostics ("hakmem: ...") are not the program's output
    if ! diff <(grep -v '^hakmem:' "$dir/plain.out") <(grep -v '^hakmem:' "$hak.out") \
            >"$hak.diff" 2>&1; then
        fail "$name" "output differs under hakmem: $(head -c 600 "$hak.diff")"
        return
    fi
    if grep -q '^hakmem:' "$hak.out"; then
        fail "$name" "hakmem reported problems: $(grep '^hakmem:' "$hak.out" | head -3)"
        return
    fi
    if [ ! -s "$hak.check" ]; then
        fail "$name" "no process reported loading hakmem (checker log empty)"
        return
    fi
    local total bad
    total=$(wc -l <"$hak.check")
    bad=$(grep -v " maps=1 bound=1 owns=1 profile=$prof " "$hak.check" || true)
    if [ -n "$bad" ]; then
        fail "$name" "processes without hakmem (or profile $prof) in use: $(echo "$bad" | head -3 | tr '\n' ';')"
        return
    fi
    if [ "$total" -lt "$minprocs" ]; then
        fail "$name" "only $total process(es) checked, expected at least $minprocs"
        return
    fi
    pass "$name" "$total processes with hakmem, output identical"
}

need() { # need NAME TOOL...: fail the tests (every profile) when a tool is missing
    local name=$1 t p; shift
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 && continue
        for p in $PROFILES; do fail "$name/$p" "$t not installed"; done
        return 1
    done
    return 0
}

want() { [ $# -eq 0 ] && return 0; local n; for n in "${SELECT[@]}"; do [ "$n" = "$1" ] && return 0; done; return 1; }
SELECT=("$@")
sel() { [ ${#SELECT[@]} -eq 0 ] || want "$1"; }

# install_missing TOOL:PACKAGE...: apt-get install the packages of the tools
# that are not on PATH (one apt-get call; `apt-get update` and a retry when it
# fails). Whatever is still missing afterwards fails in need().
install_missing() {
    local tp pkgs=()
    for tp in "$@"; do
        command -v "${tp%%:*}" >/dev/null 2>&1 && continue
        case " ${pkgs[*]-} " in *" ${tp#*:} "*) ;; *) pkgs+=("${tp#*:}") ;; esac
    done
    [ ${#pkgs[@]} -eq 0 ] && return 0
    echo "installing ${pkgs[*]} (apt-get)" >&2
    local SUDO=
    [ "$(id -u)" -ne 0 ] && SUDO="sudo -n"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get install -y -q "${pkgs[@]}" >"$WORK/apt.log" 2>&1 ||
        { $SUDO apt-get update -q >>"$WORK/apt.log" 2>&1 &&
          $SUDO apt-get install -y -q "${pkgs[@]}" >>"$WORK/apt.log" 2>&1; } ||
        echo "apt-get install ${pkgs[*]} failed: $(tail -n 3 "$WORK/apt.log")" >&2
}
toinstall=()
sel sqlite3 && toinstall+=(sqlite3:sqlite3)
sel jq && toinstall+=(jq:jq)
sel tclsh && toinstall+=(tclsh:tcl)
sel node && toinstall+=(node:nodejs)
sel redis && toinstall+=(redis-server:redis-server redis-benchmark:redis-tools redis-cli:redis-tools)
install_missing ${toinstall[@]+"${toinstall[@]}"}

# ------------------------------------------------------------------- preload
if sel preload; then
    d="$WORK/preload"; mkdir -p "$d"
    out=$(LD_PRELOAD="$LIB" cat /proc/self/maps 2>&1)
    if echo "$out" | grep -q libhakmem; then
        run_pair preload "$d" sh -c 'cat /proc/self/maps >/dev/null; echo ok'
        verdict preload "$d" 2
    else
        fail_all preload "LD_PRELOAD=$LIB cat /proc/self/maps shows no libhakmem"
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

# ------------------------------------------------------------------------ jq
if sel jq && need jq jq; then
    d="$WORK/jq"; mkdir -p "$d"
    # 100k objects, one per line (~13 MB), made without hakmem
    awk 'BEGIN { x = 1; for (i = 0; i < 100000; i++) {
        x = (x * 1103515245 + 12345) % 2147483648
        printf "{\"id\":%d,\"name\":\"user-%05d\",\"group\":%d,\"score\":%d,\"tags\":[", i, x % 50000, x % 37, x % 1000
        nt = x % 6
        for (t = 0; t < nt; t++) printf "%s\"t%d\"", (t ? "," : ""), int(x / (t + 3)) % 50
        printf "],\"geo\":{\"lat\":%.4f,\"lon\":%.4f},\"active\":%s,\"note\":\"%s\"}\n",
            (x % 18000) / 100.0 - 90, (x % 36000) / 100.0 - 180, (x % 3 ? "true" : "false"),
            substr("lorem ipsum dolor sit amet consectetur adipiscing elit sed do", 1 + x % 20, 5 + x % 40) } }' \
        >"$d/input.json"
    cat >"$d/work.sh" <<'EOF'
set -e
in=$1
jq -c -s 'length, (map(.score) | add), (map(.tags | length) | add),
    (group_by(.group) | map({g: .[0].group, n: length, top: (max_by(.score) | .name)})),
    (map(select(.group == 7)) | sort_by(.name, .id) | .[0:5] | map(.id))' "$in"
jq -c 'select(.active) | {id, n: (.name | ascii_upcase), t: (.tags | join("+")),
       s: ((.score * 2 + .geo.lat) | floor), b: (.note | @base64)} | tojson' "$in" | md5sum
head -n 5000 "$in" | jq -c --stream 'select(length == 2) | .[0] | map(tostring) | join(".")' |
    LC_ALL=C sort | uniq -c | LC_ALL=C sort -k1,1nr -k2 | head -n 12
EOF
    run_pair jq "$d" bash "$d/work.sh" "$d/input.json"
    verdict jq "$d" 4
fi

# --------------------------------------------------------------------- tclsh
if sel tclsh && need tclsh tclsh; then
    d="$WORK/tclsh"; mkdir -p "$d"
    cat >"$d/work.tcl" <<'EOF'
set x 1
proc rnd {} { global x; set x [expr {($x * 1103515245 + 12345) % 2147483648}] }
set acc {}
# lists: build, sort (stable), slice, reverse, search, replace
set L {}
for {set i 0} {$i < 150000} {incr i} {
    lappend L [list [expr {[rnd] % 100000}] "item$i[string repeat z [expr {$i % 23}]]"]
}
set L [lsort -integer -index 0 $L]
append acc [lindex $L 0] [lindex $L end] [llength $L]
set R [lreverse [lrange $L 1000 60000]]
set R [lreplace $R 10 5000 a b c]
append acc [llength $R] [lindex $R 100] [lsearch -exact -index 1 $L "item777[string repeat z [expr {777 % 23}]]"]
set U [lsort -unique [lmap e $L {lindex $e 0}]]
append acc [llength $U]
# dicts: grow and shrink, nested, iterate
set D [dict create]
for {set i 0} {$i < 200000} {incr i} {
    set k "k[expr {[rnd] % 30000}]"
    dict lappend D $k $i
    if {$i % 5 == 0} { dict unset D "k[expr {[rnd] % 30000}]" }
    if {$i % 11 == 0} { dict set N "g[expr {$i % 97}]" "s[expr {$i % 13}]" [string repeat q [expr {$i % 50}]] }
}
set n 0
dict for {k v} $D { incr n [llength $v] }
append acc [dict size $D] $n [dict size $N] [zlib crc32 [lsort -stride 2 -index 0 $D]]
# arrays
for {set i 0} {$i < 100000} {incr i} { set A([expr {$i * 7 % 50021}]) [string repeat ab [expr {$i % 30}]] }
for {set i 0} {$i < 50021} {incr i 3} { unset -nocomplain A($i) }
set names [lsort -integer [array names A]]
append acc [llength $names] [lindex $names 777] [string length $A([lindex $names 1234])]
# strings: append, format, map, regsub, split/join, case, reverse, binary, utf-8
set s {}
for {set i 0} {$i < 100000} {incr i} { append s [format "%05d:" $i] }
set s2 [string map {0 a 1 bb 2 ccc} $s]
regsub -all {(a)(bb)} $s2 {<\2\1>} s3
set parts [split $s3 :]
set j [join [lrange $parts 0 20000] ,]
append acc [string length $s2] [string length $s3] [llength $parts] [string length $j]
append acc [zlib crc32 [string toupper [string reverse $j]]]
set u [encoding convertto utf-8 [string repeat "\u00e9\u4e2d\u0041" 20000]]
append acc [string length $u] [zlib crc32 [zlib deflate $u]]
binary scan [binary format I* [lrange $U 0 9999]] H* hex
append acc [zlib crc32 $hex]
puts "[llength $L] [dict size $D] [llength $names] [string length $s3] [string length $acc]"
puts [format %08x [zlib crc32 $acc]]
EOF
    run_pair tclsh "$d" tclsh "$d/work.tcl"
    verdict tclsh "$d"
fi

# ---------------------------------------------------------------------- node
if sel node && need node node; then
    d="$WORK/node"; mkdir -p "$d"
    cat >"$d/work.js" <<'EOF'
'use strict';
const crypto = require('crypto');
const zlib = require('zlib');
const h = crypto.createHash('sha256');
let x = 1;
const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8;
// maps of arrays of objects, growing and shrinking
const m = new Map();
for (let i = 0; i < 200000; i++) {
    const k = 'k' + (rnd() % 40000);
    let a = m.get(k);
    if (!a) m.set(k, (a = []));
    a.push({ i, s: 'v'.repeat(rnd() % 60) + i });
    if (i % 7 === 0) m.delete('k' + (rnd() % 40000));
}
for (const k of [...m.keys()].sort()) { const a = m.get(k); h.update(k + a.length + a[a.length - 1].s); }
// plain objects as dictionaries, Sets
const o = {};
for (let i = 0; i < 100000; i++) o['p' + (i * 7919 % 50021)] = { n: i, t: [i, String(i)] };
const st = new Set(Object.keys(o).map(k => k.length + ':' + k.slice(-3)));
h.update(Object.keys(o).length + ' ' + st.size + ' ' + [...st].sort().slice(0, 50).join());
// strings: join, split, reverse, regex replace
const parts = [];
for (let i = 0; i < 300000; i++) parts.push(String.fromCharCode(65 + (i * 7) % 26));
const s = parts.join('');
h.update(s.split('').reverse().join('').slice(0, 100000));
h.update(s.replace(/A(B|C|H)/g, '<$1>'));
// JSON round trip
const obj = [];
for (let i = 0; i < 50000; i++) obj.push({ id: i, tags: Array.from({ length: i % 10 }, (_, j) => 't' + j), x: i / 4 });
const txt = JSON.stringify(obj);
h.update(txt);
if (JSON.stringify(JSON.parse(txt)) !== txt) throw new Error('JSON round trip differs');
// Buffers (native memory), zlib
const bufs = [];
for (let i = 0; i < 20000; i++) bufs.push(Buffer.alloc(1 + (rnd() % 4000), i & 255));
for (let i = 0; i < 20000; i++) bufs.push(Buffer.from('buffer-' + i + '-'.repeat(i % 300), 'utf8'));
const big = Buffer.concat(bufs);
const z = zlib.deflateSync(big, { level: 6 });
if (!zlib.inflateSync(z).equals(big)) throw new Error('zlib round trip differs');
h.update(big); h.update(String(z.length));
// typed arrays
const f = new Float64Array(500000);
for (let i = 0; i < f.length; i++) f[i] = (rnd() % 1000000) / 7;
f.sort();
h.update(Buffer.from(f.buffer));
console.log(m.size, Object.keys(o).length, s.length, txt.length, big.length, z.length);
console.log(h.digest('hex'));
EOF
    run_pair node "$d" node "$d/work.js"
    verdict node "$d"
fi

# --------------------------------------------------------------------- redis
# redis-server on 127.0.0.1 (a free port, nothing else), no persistence; a
# bounded redis-benchmark on loopback, then a known data set loaded with
# redis-cli --pipe and read back deterministically (DBSIZE, DEBUG DIGEST, a
# hash of the sorted key list, a Lua digest of every value, chosen reads), lazy
# frees in the background thread, FLUSHALL ASYNC, SHUTDOWN. The server is
# killed on every exit path (the workload's trap; run_pair after each run;
# cleanup() on exit).
if sel redis && need redis redis-server redis-benchmark redis-cli; then
    d="$WORK/redis"; mkdir -p "$d"
    REDIS_N=${REDIS_N:-20000}
    # the data set, as RESP, made without hakmem
    LC_ALL=C awk 'function cmd(n, a,   i, out) { out = "*" n "\r\n"
            for (i = 1; i <= n; i++) out = out "$" length(a[i]) "\r\n" a[i] "\r\n"
            printf "%s", out }
        function r() { x = (x * 1103515245 + 12345) % 2147483648; return int(x / 256) }
        function str(n,   s) { s = substr(pat, 1 + r() % 50, 50); while (length(s) < n) s = s s; return substr(s, 1, n) }
        BEGIN { x = 7; pat = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_.:abcdefghijklmnopqrstuvwxyz"
            for (i = 0; i < 20000; i++) {
                a[1] = "SET"; a[2] = "s:" i; a[3] = str(i % 1000 == 0 ? 100000 + r() % 150000 : 1 + r() % 600); cmd(3, a) }
            for (i = 0; i < 1500; i++) {
                n = 1 + r() % 200; a[1] = "HSET"; a[2] = "h:" i
                for (j = 0; j < n; j++) { a[3 + 2 * j] = "f" j; a[4 + 2 * j] = str(1 + r() % 90) }
                cmd(2 + 2 * n, a) }
            for (i = 0; i < 800; i++) {
                n = 1 + r() % 300; a[1] = "RPUSH"; a[2] = "l:" i
                for (j = 0; j < n; j++) a[3 + j] = str(1 + r() % 80)
                cmd(2 + n, a) }
            for (i = 0; i < 800; i++) {
                n = 1 + r() % 300; a[1] = "SADD"; a[2] = "set:" i
                for (j = 0; j < n; j++) a[3 + j] = (i % 2 ? r() % 100000 : "m" r() % 5000)
                cmd(2 + n, a) }
            for (i = 0; i < 800; i++) {
                n = 1 + r() % 200; a[1] = "ZADD"; a[2] = "zs:" i
                for (j = 0; j < n; j++) { a[3 + 2 * j] = r() % 10000; a[4 + 2 * j] = "e" j "-" str(1 + r() % 20) }
                cmd(2 + 2 * n, a) }
            for (i = 0; i < 20000; i += 7) { a[1] = "APPEND"; a[2] = "s:" i; a[3] = str(1 + r() % 300); cmd(3, a) }
            for (i = 0; i < 3000; i++) { a[1] = "INCRBY"; a[2] = "c:" (i % 300); a[3] = r() % 1000; cmd(3, a) }
            for (i = 1; i < 20000; i += 11) { a[1] = "DEL"; a[2] = "s:" i; cmd(2, a) }
            for (i = 0; i < 800; i += 3) { a[1] = "LTRIM"; a[2] = "l:" i; a[3] = 5; a[4] = 50; cmd(4, a) }
            for (i = 0; i < 1500; i += 4) { a[1] = "HDEL"; a[2] = "h:" i; a[3] = "f0"; a[4] = "f3"; a[5] = "f7"; cmd(5, a) }
            for (i = 0; i < 800; i += 5) { a[1] = "ZREMRANGEBYRANK"; a[2] = "zs:" i; a[3] = 0; a[4] = 9; cmd(4, a) }
            for (i = 0; i < 400; i += 9) { a[1] = "RENAME"; a[2] = "set:" i; a[3] = "renamed:" i; cmd(3, a) } }' \
        >"$d/load.resp"
    cat >"$d/digest.lua" <<'EOF'
-- sha1 over every key in sorted order with its type and value (members of
-- unordered types sorted)
local ks = redis.call('KEYS', '*')
table.sort(ks)
local out = {}
for _, k in ipairs(ks) do
    local t = redis.call('TYPE', k).ok
    local v
    if t == 'string' then v = redis.call('GET', k)
    elseif t == 'list' then v = table.concat(redis.call('LRANGE', k, 0, -1), '\n')
    elseif t == 'set' then local m = redis.call('SMEMBERS', k); table.sort(m); v = table.concat(m, '\n')
    elseif t == 'zset' then v = table.concat(redis.call('ZRANGE', k, 0, -1, 'WITHSCORES'), '\n')
    elseif t == 'hash' then
        local a = redis.call('HGETALL', k); local m = {}
        for i = 1, #a, 2 do m[#m + 1] = a[i] .. '=' .. a[i + 1] end
        table.sort(m); v = table.concat(m, '\n')
    else v = '?' end
    out[#out + 1] = k .. ' ' .. t .. ' ' .. redis.sha1hex(v)
end
return {#ks, redis.sha1hex(table.concat(out, '\n'))}
EOF
    cat >"$d/work.sh" <<'EOF'
# redis workload: $1 = data set (RESP), $2 = Lua digest script, $3 = requests
set -u
data=$1 lua=$2 n=$3
srv= port=
stop() {
    if [ -n "$srv" ] && kill -0 "$srv" 2>/dev/null; then
        kill -TERM "$srv" 2>/dev/null
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$srv" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$srv" 2>/dev/null
    fi
}
trap stop EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
cli() { timeout 60 redis-cli -h 127.0.0.1 -p "$port" "$@"; }
start() { # a free port on 127.0.0.1; another try when it was taken meanwhile
    local try i
    for try in 1 2 3 4 5 6 7 8; do
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
        : >server.log
        redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
            --daemonize no --dir "$PWD" --logfile "$PWD/server.log" \
            --enable-debug-command local &
        srv=$!
        echo "$srv" >redis.pid
        for i in $(seq 1 150); do
            [ "$(cli ping 2>/dev/null)" = PONG ] && return 0
            kill -0 "$srv" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$srv" 2>/dev/null; then echo "redis-server does not answer"; return 1; fi
        wait "$srv"; srv=
        grep -q 'Address already in use' server.log && continue
        echo "redis-server failed to start: $(tail -n 3 server.log)"
        return 1
    done
    echo "no free port found"
    return 1
}
start || exit 1
echo "== benchmark"
timeout 120 redis-benchmark -h 127.0.0.1 -p "$port" -n "$n" -c 20 -d 64 \
    -t set,get,incr,lpush,lpop --csv >bench.csv 2>bench.err || echo "redis-benchmark exit $?"
cut -d, -f1 bench.csv
cli dbsize
cli get counter:__rand_int__
cli strlen key:__rand_int__
cli exists mylist
echo "== load"
cli flushall
cli --pipe <"$data" | grep -v -e '^All data transferred' -e '^Waiting' -e '^Last reply'
echo "== readback"
cli dbsize
cli debug digest
cli --scan | LC_ALL=C sort | md5sum
cli --eval "$lua"
for k in s:0 s:14 s:2000 s:19999 c:7 c:299; do printf '%s %s ' "$k" "$(cli strlen "$k")"; cli get "$k" | md5sum; done
for k in h:0 h:5 h:1499; do echo "$k $(cli hlen "$k") $(cli object encoding "$k") $(cli hgetall "$k" | paste - - | LC_ALL=C sort | md5sum)"; done
for k in l:0 l:1 l:799; do echo "$k $(cli llen "$k") $(cli object encoding "$k") $(cli lrange "$k" 0 -1 | md5sum)"; done
for k in set:1 set:2 renamed:9; do echo "$k $(cli scard "$k") $(cli object encoding "$k") $(cli smembers "$k" | LC_ALL=C sort | md5sum)"; done
for k in zs:0 zs:3 zs:799; do echo "$k $(cli zcard "$k") $(cli object encoding "$k") $(cli zrange "$k" 0 -1 withscores | md5sum)"; done
cli zrangebyscore zs:3 100 2000 withscores limit 0 6
cli lrange l:2 3 5
cli hmget h:7 f1 f2 f99
echo "== lazy free"
echo "unlinked $(cli --scan --pattern 'h:*' | LC_ALL=C sort | xargs timeout 60 redis-cli -h 127.0.0.1 -p "$port" unlink)"
echo "unlinked $(cli --scan --pattern 'zs:*' | LC_ALL=C sort | xargs timeout 60 redis-cli -h 127.0.0.1 -p "$port" unlink)"
cli dbsize
cli --eval "$lua"
cli flushall async
cli dbsize
cli --pipe <"$data" | grep -v -e '^All data transferred' -e '^Waiting' -e '^Last reply'
cli debug digest
echo "== shutdown"
cli shutdown nosave
wait "$srv"; echo "redis-server exit $?"
srv=
grep -E 'crashed|Guru Meditation|ASSERTION|Bad file format' server.log || true
EOF
    run_pair redis "$d" bash "$d/work.sh" "$d/load.resp" "$d/digest.lua" "$REDIS_N"
    verdict redis "$d" 30
fi

finish
