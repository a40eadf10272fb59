#!/usr/bin/env python3
"""check_layers.py — `make check-layers`: includes and calls go one way.

    scripts/check_layers.py [BUILD_DIR]

The layer order is docs/ARCHITECTURE.md's: api -> front -> heap -> backend
-> OS, with each box placed where it is called from, config and base at the
bottom.  A file may include, and its object may use symbols of, files of its
own layer or of a layer below.  Checked:

  1. every `#include "..."` of every file under core/;
  2. every undefined symbol of every object in BUILD_DIR/obj/core (nm -u),
     against the object that defines it (nm --defined-only);
  3. docs/ARCHITECTURE.md's table "file -> what it owns" names every file
     under core/ with the layer given here, so the picture cannot go stale.

Calls through a hook registered at init (a function pointer) are how a lower
layer reaches a higher one, and nm does not see them: that is the point.
Exit status 1 and one line per violation when the rule is broken.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (layer, rank, path prefixes), top of the order first.  Files of one layer
# may use each other; a file may use any layer of a higher rank number (a
# lower layer).  Boxes called from the same layers share a rank, and none of
# them may use another.
LAYERS = [
    ("api", 0, ["core/api/", "include/"]),
    ("box:debug", 1, ["core/box/debug_box."]),
    ("front", 2, ["core/front/"]),
    ("box:prewarm", 3, ["core/box/prewarm_box."]),
    ("heap", 4, ["core/heap/"]),
    ("backend", 5, ["core/backend/"]),
    ("box:release", 6, ["core/box/release_box."]),
    ("box:secure", 6, ["core/box/secure_box."]),
    ("box:thp", 6, ["core/box/thp_box."]),
    ("box:stats", 6, ["core/box/stats_box."]),
    ("box:flush_check", 6, ["core/box/flush_check_box."]),
    ("os", 7, ["core/backend/os."]),
    ("box:verbose", 8, ["core/box/verbose_box."]),
    ("config", 9, ["core/config/"]),
    ("base", 10, ["core/base/", "core/box/boxes.h"]),
]
RANK = {name: rank for name, rank, _ in LAYERS}


def layer_of(path):
    best = None
    for name, _, prefixes in LAYERS:
        for p in prefixes:
            if path.startswith(p) and (best is None or len(p) > len(best[1])):
                best = (name, p)
    return best[0] if best else None


def allowed(frm, to):
    """May a file of layer frm use one of layer to?"""
    return frm == to or RANK[to] > RANK[frm]


def core_files():
    out = []
    for base, _, files in os.walk(os.path.join(ROOT, "core")):
        for f in files:
            if f.endswith((".c", ".h")):
                out.append(os.path.relpath(os.path.join(base, f), ROOT))
    return sorted(out)


def resolve_include(inc):
    for d in ("core", "include"):
        if os.path.exists(os.path.join(ROOT, d, inc)):
            return os.path.join(d, inc)
    return None


def check_includes(files, problems):
    pat = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
    for f in files:
        lf = layer_of(f)
        if lf is None:
            problems.append(f"{f}: in no layer (scripts/check_layers.py LAYERS)")
            continue
        with open(os.path.join(ROOT, f), encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                m = pat.match(line)
                if not m:
                    continue
                target = resolve_include(m.group(1))
                if target is None:
                    continue
                lt = layer_of(target)
                if lt and not allowed(lf, lt):
                    problems.append(f"{f}:{n}: includes {target}: {lf} may not reach {lt}")


def nm(args, obj):
    r = subprocess.run(["nm"] + args + [obj], capture_output=True, text=True, check=True)
    return r.stdout.splitlines()


def check_symbols(build, problems):
    objdir = os.path.join(ROOT, build, "obj", "core")
    if not os.path.isdir(objdir):
        problems.append(f"{objdir}: not built (make first)")
        return
    objs = []
    for base, _, files in os.walk(objdir):
        for f in files:
            o = os.path.join(base, f)
            # objects of sources that no longer exist are stale, not ours
            if f.endswith(".o") and os.path.exists(os.path.join(ROOT, os.path.relpath(o, os.path.join(ROOT, build, "obj"))[:-2] + ".c")):
                objs.append(o)
    src_of = {o: os.path.relpath(o, os.path.join(ROOT, build, "obj"))[:-2] + ".c" for o in objs}
    defined = {}
    for o in objs:
        for line in nm(["--defined-only"], o):
            parts = line.split()
            if len(parts) == 3 and parts[1].isupper():
                defined.setdefault(parts[2], src_of[o])
    for o in objs:
        lf = layer_of(src_of[o])
        for line in nm(["-u"], o):
            sym = line.split()[-1]
            target = defined.get(sym)
            if target is None:
                continue        # libc, libpthread, libstdc++
            lt = layer_of(target)
            if not allowed(lf, lt):
                problems.append(f"{src_of[o]}: uses {sym} of {target}: {lf} may not reach {lt}")


def check_doc(files, problems):
    doc = os.path.join(ROOT, "docs", "ARCHITECTURE.md")
    rows = {}
    with open(doc, encoding="utf-8") as fh:
        for line in fh:
            m = re.match(r"^\|\s*`(core/[^`]+)`\s*\|\s*([^|]+?)\s*\|", line)
            if m:
                rows[m.group(1)] = m.group(2)
    for f in files:
        if f not in rows:
            problems.append(f"docs/ARCHITECTURE.md: no row for {f} in the table 'file -> what it owns'")
        elif rows[f] != layer_of(f):
            problems.append(f"docs/ARCHITECTURE.md: {f} listed in layer '{rows[f]}', but it is in '{layer_of(f)}'")
    for f in rows:
        if f not in files:
            problems.append(f"docs/ARCHITECTURE.md: row for {f}, which does not exist")


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    files = core_files()
    problems = []
    check_includes(files, problems)
    check_symbols(build, problems)
    check_doc(files, problems)
    for p in problems:
        print("check_layers: " + p)
    if problems:
        print(f"check_layers: {len(problems)} violation(s) of the layer rule (docs/ARCHITECTURE.md)")
        return 1
    print(f"check_layers: {len(files)} files, includes and symbols go one way")
    return 0


if __name__ == "__main__":
    sys.exit(main())
