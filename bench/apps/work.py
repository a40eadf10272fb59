"""work.py — the python3 application benchmark (scripts/bench_app.sh):
allocation-heavy work on many small objects, with a deterministic summary on
stdout (run it with PYTHONHASHSEED=0 so that set and dict orders, and with
them the allocation pattern, are the same every run).

    python3 work.py RECORDS [ROUNDS]

Each round builds RECORDS records (dicts of small strings, ints, floats,
lists and tuples, and instances of a small class), indexes them in dicts,
round-trips them through JSON, sorts them by several keys, deletes a random
part, joins and splits strings, groups them, and drops everything.
Standard library only; runs on any Python 3.
"""

import hashlib
import json
import random
import sys


class Point:
    def __init__(self, x, y, label):
        self.x = x
        self.y = y
        self.label = label
        self.seen = []


SYL = "ka ro mi ta en si lo ve na tu re ga pi mo de sa li fo bu ne".split()


def word(r):
    return "".join(SYL[int(r.random() * len(SYL))] for _ in range(1 + int(r.random() * 3)))


def one_round(n, seed, h):
    r = random.Random(seed)
    recs = []
    for i in range(n):
        recs.append({
            "id": i,
            "name": word(r) + "-" + word(r),
            "group": int(r.random() * 97),
            "score": int(r.random() * 1000000) / 1000.0,
            "tags": [word(r) for _ in range(int(r.random() * 5))],
            "pos": (int(r.random() * 1000), int(r.random() * 1000)),
            "note": " ".join(word(r) for _ in range(int(r.random() * 12))),
        })
    by_name = {}
    for rec in recs:
        by_name.setdefault(rec["name"], []).append(rec)
    points = {i: Point(rec["pos"][0], rec["pos"][1], rec["name"]) for i, rec in enumerate(recs)}
    for i in range(0, n, 3):
        points[i].seen.append(points[(i * 7) % n])

    # JSON round trips, in chunks
    back = []
    for k in range(0, n, 2000):
        back.extend(json.loads(json.dumps(recs[k:k + 2000])))
    assert len(back) == n and back[-1]["name"] == recs[-1]["name"]

    # sorts by several keys
    order = sorted(back, key=lambda x: (x["group"], -x["score"], x["name"], x["id"]))
    by_note = sorted(recs, key=lambda x: (len(x["note"]), x["note"], x["id"]))
    h.update(("%d %d %d" % (order[0]["id"], order[-1]["id"], by_note[n // 2]["id"])).encode())

    # deletes: a random 40 % of the records leave every index
    for i in range(n):
        if r.random() < 0.4:
            rec = recs[i]
            lst = by_name[rec["name"]]
            lst.remove(rec)
            if not lst:
                del by_name[rec["name"]]
            del points[i]
            recs[i] = None
    live = [x for x in recs if x is not None]

    # joins and splits
    text = "\n".join("%s;%s;%s" % (x["name"], ",".join(x["tags"]), x["note"]) for x in live)
    words = {}
    for line in text.split("\n"):
        for w in line.replace(";", " ").replace(",", " ").split():
            words[w] = words.get(w, 0) + 1
    top = sorted(words.items(), key=lambda kv: (-kv[1], kv[0]))[:10]

    # grouping and aggregates
    groups = {}
    for x in live:
        g = groups.setdefault(x["group"], {"n": 0, "score": 0.0, "tags": set()})
        g["n"] += 1
        g["score"] += x["score"]
        g["tags"].update(x["tags"])
    summary = sorted((k, v["n"], round(v["score"], 3), len(v["tags"])) for k, v in groups.items())
    far = sum(1 for p in points.values() if p.x * p.x + p.y * p.y > 500000)
    h.update(repr((len(live), len(by_name), len(text), top, summary[:5], far)).encode())
    return len(live)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    h = hashlib.sha256()
    live = 0
    for k in range(rounds):
        live += one_round(n, 1000 + k, h)
    print("records %d rounds %d live %d digest %s" % (n, rounds, live, h.hexdigest()))


if __name__ == "__main__":
    main()
