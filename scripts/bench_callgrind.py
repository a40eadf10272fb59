#!/usr/bin/env python3
"""bench_callgrind.py — instructions (Ir) per shared object, or per function,
from a callgrind output file, exclusive of callees: how much of a run was
spent inside the allocator library, the benchmark itself, libc, ld.so.

    scripts/bench_callgrind.py callgrind.out.PID     prints "Ir<TAB>object" lines,
                                                     then "Ir<TAB>TOTAL"
    scripts/bench_callgrind.py --functions FILE      prints "Ir<TAB>object<TAB>function"
                                                     lines, then "Ir<TAB>TOTAL"
    scripts/bench_callgrind.py --source FILE         the same, by the function of the
                                                     source line (inlined ones apart)
    scripts/bench_callgrind.py --inclusive FILE      per function, callees included
                                                     (TOTAL stays the exclusive sum)
    scripts/bench_callgrind.py --alloc NAME FILE     one line: the allocator's
                                                     instructions, the run's total
                                                     and libc's memcpy/memset/
                                                     memmove (see ALLOC_OBJ)

Several files (one per process: gcc, cc1 and as) are added up.

It reads the callgrind format directly (callgrind_annotate has no per-object
view): cost lines belong to the current fn= of the current ob=, except the
line right after a calls= line, which is the inclusive cost of that call and
is already counted in the callee. Names may be compressed as "(id) name" on
first use and "(id)" afterwards, with one set of ids for objects (ob=, cob=),
one for functions (fn=, cfn=) and one for files (fl=, fi=, fe=, cfi=, cfl=).
A function inlined into another is counted in the one it was inlined into,
as callgrind records it; --source instead reads each cost's source file and
line (the library must have debug information, and its sources must be where
it was built) and names the function whose definition holds that line,
"name (in host)" when it was inlined into host; costs in files it cannot
read keep callgrind's function name. --inclusive adds to each function the
cost of the calls it made (the line after calls=); a recursive function
counts its recursion more than once.

--alloc: hakmem, mimalloc, jemalloc and tcmalloc count their library's
instructions; glibc counts the malloc functions inside libc.so (GLIBC_MALLOC
below). tcmalloc's malloc and free sit in a separate ELF section that
callgrind may not attribute to the library (docs/BENCHMARKS.md); the total
then tells more than its share.
"""

import re
import signal
import sys

ALLOC_OBJ = {"hakmem": "libhakmem", "mimalloc": "libmimalloc", "jemalloc": "libjemalloc",
             "tcmalloc": "libtcmalloc", "glibc": "libc.so"}
GLIBC_MALLOC = re.compile(
    r"^(__libc_)?(malloc|free|calloc|realloc|cfree|valloc|pvalloc|memalign|"
    r"posix_memalign|aligned_alloc|malloc_usable_size|malloc_trim)$|"
    r"^__(posix_memalign|malloc_\w+|libc_\w*alloc\w*|libc_free)$|"
    r"^_int_(malloc|free|realloc|memalign)|^(malloc_consolidate|unlink_chunk|sysmalloc|"
    r"systrim|alloc_perturb|free_perturb|tcache_\w+|arena_get2|_int_free_\w+|"
    r"mremap_chunk|munmap_chunk|heap_trim|new_heap|grow_heap|shrink_heap|ptmalloc_init\w*)$")
MEMOPS = re.compile(r"^__(memcpy|memmove|memset|mempcpy)\w*$|^(memcpy|memmove|memset)$")


def source_functions(path):
    """{line number: function name} for a C file, from a rough parse: a
    function starts where a line at column 0 names `ident(` outside any
    braces, and ends where its braces close. None if the file is unreadable."""
    try:
        with open(path, errors="replace") as f:
            lines = f.read().split("\n")
    except OSError:
        return None
    where, depth, cand, cont, start = {}, 0, None, False, 0
    for i, raw in enumerate(lines, 1):
        line = re.sub(r'"(\\.|[^"\\])*"|\'(\\.|[^\'\\])*\'', '""', raw)
        line = re.sub(r"//.*|/\*.*?\*/", "", line)
        line = re.sub(r"__attribute__\s*\(\(.*?\)\)\s*", "", line)
        if cont or line.startswith("#"):
            cont = line.rstrip().endswith("\\")
            continue
        if depth == 0 and line[:1] not in ("", " ", "\t", "{", "}", "/", "*"):
            m = re.match(r"[^=({;]*?\b([A-Za-z_]\w*)\s*\(", line)
            if m and m.group(1) not in ("_Static_assert", "static_assert"):
                cand, start = m.group(1), i
        opened = depth
        depth += line.count("{") - line.count("}")
        if cand and (opened > 0 or "{" in line):
            where[i] = cand
        if depth <= 0:
            depth = 0
            if cand and ("}" in line or line.rstrip().endswith(";")):
                if "}" in line:
                    for j in range(start, i + 1):
                        where.setdefault(j, cand)
                cand = None
    return where


def per_function(path, by_source=False, inclusive=False):
    """{(object, function): exclusive (or inclusive) Ir}, and the file's
    total (or None)."""
    names = {"ob": {}, "fn": {}, "fl": {}}
    costs = {}
    ob = fn = "?"
    fl = "?"
    line_no = 0
    parsed = {}
    calls = {}
    skip_next = False    # the cost line after calls= is the call's inclusive cost
    total = None
    with open(path, errors="replace") as f:
        for line in f:
            c = line[:1]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                pos = parts[0]
                if pos[0] in "+-":
                    line_no += int(pos)
                elif pos != "*":
                    line_no = int(pos, 0)
                if skip_next:
                    skip_next = False
                    if inclusive and len(parts) >= 2:
                        calls[(ob, fn)] = calls.get((ob, fn), 0) + int(parts[1])
                    continue
                if len(parts) >= 2:
                    name = fn
                    if by_source:
                        if fl not in parsed:
                            parsed[fl] = source_functions(fl)
                        src = parsed[fl] and parsed[fl].get(line_no)
                        if src and src != fn:
                            name = f"{src} (in {fn})"
                    key = (ob, name)
                    costs[key] = costs.get(key, 0) + int(parts[1])
                continue
            if line.startswith("ob="):
                ob = resolve(line[3:].strip(), names["ob"])
            elif line.startswith("cob="):
                resolve(line[4:].strip(), names["ob"])  # defines a name; no context change
            elif line.startswith("fn="):
                fn = resolve(line[3:].strip(), names["fn"])
            elif line.startswith("cfn=") or line.startswith("jfn="):
                resolve(line[4:].strip(), names["fn"])
            elif line[:3] in ("fl=", "fi=", "fe="):
                fl = resolve(line[3:].strip(), names["fl"])
            elif line[:4] in ("cfi=", "cfl=", "jfi="):
                resolve(line[4:].strip(), names["fl"])
            elif line.startswith("calls="):
                skip_next = True
            elif line.startswith("totals:") or line.startswith("summary:"):
                total = int(line.split()[1])
    if inclusive:
        if total is None:
            total = sum(costs.values())
        for key, ir in calls.items():
            costs[key] = costs.get(key, 0) + ir
    return costs, total


def resolve(text, names):
    if text.startswith("("):
        num, _, rest = text.partition(")")
        rest = rest.strip()
        if rest:
            names[num] = rest
        return names.get(num, text)
    return text


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet under | head
    args = sys.argv[1:]
    mode, key = "", None
    if args and args[0] in ("--functions", "--source", "--inclusive"):
        mode, args = args[0], args[1:]
    elif args and args[0] == "--alloc" and len(args) >= 2:
        mode, key, args = "--alloc", args[1], args[2:]
    if not args or (mode == "--alloc" and key not in ALLOC_OBJ):
        sys.exit(__doc__.split("\n\n")[1])
    costs, total, known = {}, 0, True
    for path in args:
        c, t = per_function(path, mode == "--source", mode == "--inclusive")
        for k, v in c.items():
            costs[k] = costs.get(k, 0) + v
        if t is None:
            known = False
        else:
            total += t
    summed = sum(costs.values())
    if not known:
        total = summed
    if mode == "--alloc":
        obj = ALLOC_OBJ[key]
        if key == "glibc":
            alloc = sum(v for (ob, fn), v in costs.items() if obj in ob and GLIBC_MALLOC.match(fn))
        else:
            alloc = sum(v for (ob, _), v in costs.items() if obj in ob)
        mem = sum(v for (ob, fn), v in costs.items() if "libc.so" in ob and MEMOPS.match(fn))
        print(f"allocator={alloc} total={total} libc_memops={mem}")
        return
    if mode:
        rows = [(ir, f"{ob}\t{fn}") for (ob, fn), ir in costs.items()]
    else:
        per_ob = {}
        for (ob, _), ir in costs.items():
            per_ob[ob] = per_ob.get(ob, 0) + ir
        rows = [(ir, ob) for ob, ir in per_ob.items()]
    for ir, name in sorted(rows, key=lambda r: -r[0]):
        print(f"{ir}\t{name}")
    print(f"{total}\tTOTAL")
    if known and total != summed and mode != "--inclusive":
        print(f"bench_callgrind: objects sum to {summed}, totals say {total}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
