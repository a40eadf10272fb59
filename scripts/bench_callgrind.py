#!/usr/bin/env python3
"""bench_callgrind.py — instructions (Ir) per shared object, or per function,
from callgrind output files, exclusive of callees: how much of a run was
spent inside the allocator library, the program itself, libc, ld.so.

    scripts/bench_callgrind.py FILE...                 "Ir<TAB>object" lines, then
                                                       "Ir<TAB>TOTAL"
    scripts/bench_callgrind.py --functions OBJ FILE... "Ir<TAB>function<TAB>object"
                                                       for the objects whose path
                                                       contains OBJ, then their total
    scripts/bench_callgrind.py --alloc NAME FILE...    one line: the allocator's
                                                       instructions, the run's total
                                                       and libc's memcpy/memset/
                                                       memmove (see ALLOC_OBJ)

Several files (one per process: gcc, cc1 and as) are added up. It reads the
callgrind format directly (callgrind_annotate has no per-object view): cost
lines belong to the current fn= of the current ob=, except the line right
after a calls= line, which is the inclusive cost of that call and is
already counted in the callee. Names may be compressed as "(id) name" on
first use and "(id)" afterwards (objects and functions have separate ids).

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


def costs(paths):
    """{(object, function): Ir} over all files, and the sum of their totals."""
    out, total = {}, 0
    for path in paths:
        obs, fns = {}, {}
        file_total = None   # "totals:" and "summary:" say the same: count it once
        ob, fn = "?", "?"
        skip_next = False
        with open(path, errors="replace") as f:
            for line in f:
                c = line[:1]
                if c.isdigit() or c in "+-*":
                    if skip_next:
                        skip_next = False
                        continue
                    parts = line.split()
                    if len(parts) >= 2:
                        out[(ob, fn)] = out.get((ob, fn), 0) + int(parts[1])
                    continue
                if line.startswith("ob="):
                    ob = resolve(line[3:].strip(), obs)
                elif line.startswith("fn="):
                    fn = resolve(line[3:].strip(), fns)
                elif line.startswith("cob="):
                    resolve(line[4:].strip(), obs)   # defines a name; no context change
                elif line.startswith("cfn="):
                    resolve(line[4:].strip(), fns)
                elif line.startswith("calls="):
                    skip_next = True
                elif line.startswith("totals:") or line.startswith("summary:"):
                    file_total = int(line.split()[1])
        total += file_total or 0
    return out, total


def resolve(text, names):
    if text.startswith("("):
        num, _, rest = text.partition(")")
        rest = rest.strip()
        if rest:
            names[num] = rest
        return names.get(num, text)
    return text


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # quiet under | head
    args = sys.argv[1:]
    mode, key = "objects", None
    if args and args[0] in ("--functions", "--alloc") and len(args) >= 2:
        mode, key, args = args[0][2:], args[1], args[2:]
    if not args or (mode == "alloc" and key not in ALLOC_OBJ):
        sys.exit(__doc__.split("\n\n")[1])
    c, total = costs(args)
    summed = sum(c.values())
    if total and total != summed:
        print(f"bench_callgrind: costs sum to {summed}, totals say {total}", file=sys.stderr)
    if mode == "objects":
        per = {}
        for (ob, _), ir in c.items():
            per[ob] = per.get(ob, 0) + ir
        for ob, ir in sorted(per.items(), key=lambda kv: -kv[1]):
            print(f"{ir}\t{ob}")
        print(f"{total or summed}\tTOTAL")
    elif mode == "functions":
        sel = {k: v for k, v in c.items() if key in k[0]}
        for (ob, fn), ir in sorted(sel.items(), key=lambda kv: -kv[1]):
            print(f"{ir}\t{fn}\t{ob}")
        print(f"{sum(sel.values())}\tTOTAL\t{key}")
    else:
        obj = ALLOC_OBJ[key]
        if key == "glibc":
            alloc = sum(v for (ob, fn), v in c.items() if obj in ob and GLIBC_MALLOC.match(fn))
        else:
            alloc = sum(v for (ob, _), v in c.items() if obj in ob)
        mem = sum(v for (ob, fn), v in c.items() if "libc.so" in ob and MEMOPS.match(fn))
        print(f"allocator={alloc} total={total or summed} libc_memops={mem}")


if __name__ == "__main__":
    main()
