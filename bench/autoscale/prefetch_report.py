#!/usr/bin/env python3
"""The table of bench/autoscale/prefetch.sh from its results file.

Each line: ARM ROUND JSON (prefetch_round.py's output). Prints per round the
cold start (created -> Ready) and its parts, then per arm the median and the
range (min..max) of each, and the ratio of the medians, off over on.
"""
import json
import statistics
import sys

rows = []
for line in open(sys.argv[1]):
    arm, n, js = line.split(" ", 2)
    r = json.loads(js)
    row = {"arm": arm, "round": int(n), "total": r["ready"] - r["created"]}
    if "cmd" in r:
        row["to_cmd"] = r["cmd"] - r["created"]
        row["cmd_to_ready"] = r["ready"] - r["cmd"]
    # with prefetch: when node cold was asked and held the model, against the pod's creation
    if "asked" in r:
        row["asked"] = r["asked"] - r["created"]
    if "cached" in r:
        row["cached"] = r["cached"] - r["created"]
    row["fetch_line"] = r.get("fetch_line", "")
    rows.append(row)


def f(v):
    return "-" if v is None else "%.2f" % v


print("\n%-4s %5s %9s %9s %13s %12s %12s  %s" % (
    "arm", "round", "total_s", "to_cmd_s", "cmd_ready_s", "asked_at_s", "cached_at_s",
    "the fetch step's last progress line"))
for r in rows:
    print("%-4s %5d %9s %9s %13s %12s %12s  %s" % (
        r["arm"], r["round"], f(r["total"]), f(r.get("to_cmd")), f(r.get("cmd_to_ready")),
        f(r.get("asked")), f(r.get("cached")), r["fetch_line"]))
print("(asked_at_s, cached_at_s: when node cold was asked to prefetch / listed the model, "
      "seconds after the pod was created; negative = before)\n")

med = {}
print("%-12s %-28s %-28s %s" % ("", "prefetch on: median (range)", "off: median (range)",
                                 "off/on"))
for key, label in (("total", "cold start s"), ("to_cmd", "created->cmd s"),
                   ("cmd_to_ready", "cmd->Ready s")):
    cells = []
    for arm in ("on", "off"):
        v = [r[key] for r in rows if r["arm"] == arm and key in r]
        if not v:
            cells.append(("-", None))
            continue
        m = statistics.median(v)
        cells.append(("%.2f (%.2f..%.2f) n=%d" % (m, min(v), max(v), len(v)), m))
    ratio = "-"
    if cells[0][1] and cells[1][1] is not None:
        ratio = "%.2f" % (cells[1][1] / cells[0][1])
    print("%-14s %-28s %-28s %s" % (label, cells[0][0], cells[1][0], ratio))
    med[key] = (cells[0][1], cells[1][1])
on, off = med["total"]
if on is not None and off is not None:
    print("\nRESULT cold_start_on_s=%.2f cold_start_off_s=%.2f saved_s=%.2f ratio_off_on=%.2f"
          % (on, off, off - on, off / on if on else float("nan")))
