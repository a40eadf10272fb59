#!/usr/bin/env python3
"""bench_callgrind.py — instructions (Ir) per shared object from a callgrind
output file, exclusive of callees: how much of a run was spent inside the
allocator library, the benchmark itself, libc, ld.so.

    scripts/bench_callgrind.py callgrind.out.PID     prints "Ir<TAB>object" lines,
                                                     then "Ir<TAB>TOTAL"

It reads the callgrind format directly (callgrind_annotate has no per-object
view): cost lines belong to the current fn= of the current ob=, except the
line right after a calls= line, which is the inclusive cost of that call and
is already counted in the callee. Names may be compressed as "(id) name" on
first use and "(id)" afterwards.
"""

import sys


def per_object(path):
    names = {}           # compressed id -> object name
    costs = {}
    ob = "?"
    skip_next = False    # the cost line after calls= is the call's inclusive cost
    total = None
    with open(path, errors="replace") as f:
        for line in f:
            c = line[:1]
            if c.isdigit() or c in "+-*":
                if skip_next:
                    skip_next = False
                    continue
                parts = line.split()
                if len(parts) >= 2:
                    costs[ob] = costs.get(ob, 0) + int(parts[1])
                continue
            if line.startswith("ob="):
                ob = resolve(line[3:].strip(), names)
            elif line.startswith("cob="):
                resolve(line[4:].strip(), names)  # defines a name; no context change
            elif line.startswith("calls="):
                skip_next = True
            elif line.startswith("totals:") or line.startswith("summary:"):
                total = int(line.split()[1])
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
    if len(sys.argv) != 2:
        sys.exit(__doc__.split("\n\n")[1])
    costs, total = per_object(sys.argv[1])
    for ob, ir in sorted(costs.items(), key=lambda kv: -kv[1]):
        print(f"{ir}\t{ob}")
    print(f"{total if total is not None else sum(costs.values())}\tTOTAL")
    if total is not None and total != sum(costs.values()):
        print(f"bench_callgrind: objects sum to {sum(costs.values())}, totals say {total}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
