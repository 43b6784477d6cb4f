#!/usr/bin/env python3
"""What a clairvoyant could do: the cheapest replica schedule found for a trace.

Knowing every request in advance (arrival and token counts), a scaler could
run any schedule of replica counts. This script searches for the cheapest one
that reaches a given SLO attainment, replaying each candidate through
`llmo sim autoscale --schedule FILE` (the same capacity model, cold start and
warm-up as the policies), and compares it with Knative's KPA run in the same
command on the same trace. It is a search, not a proof: the schedule it finds
is one a clairvoyant could run, so its cost bounds the clairvoyant optimum from
above; nothing it does not find is shown impossible.

The schedule: from the warm-up on, one replica count per slot of SLOT_S
seconds (before the warm-up a fixed PRE replicas, not counted); each replica a
slot wants is created a cold start ahead, so it is Ready when the slot starts.
The search: from a fixed fleet (START replicas), or from a schedule an
earlier search wrote (--from, the same warm-up and slots), coordinate descent on
cost + lambda x missed requests, with moves that add or remove one replica
over 1, 3 or 6 consecutive slots, for each lambda in LAMBDAS (GPU-hours a
missed request is worth) in turn, each starting from where the last ended.
Every schedule evaluated is kept: the answer is the cheapest one at or above
the goal's attainment (KPA's, by default).

Usage: bench/autoscale/clairvoyant.py --llmo build/llmo --trace FILE
           [--warmup-s 600] [--slot-s 10] [--start 4] [--pre 5]
           [--lambdas 5e-5,1e-4,2e-4,4e-4] [--sweeps 4] [--jobs 2]
           [--from best.csv] [--out best.csv] [-- more flags for llmo sim autoscale]
Prints progress on standard error, then a table; writes the best schedule
to --out when given.
"""
import argparse
import concurrent.futures as cf
import itertools
import json
import os
import subprocess
import sys
import tempfile


def run_sim(llmo, trace, extra, warmup, schedule=None, policy=None):
    cmd = [llmo, "sim", "autoscale", "--trace", trace, "--warmup-s", str(warmup)] + extra
    if schedule is not None:
        cmd += ["--schedule", schedule]
    else:
        cmd += policy
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def read_schedule(path, a, nslots):
    """The slots of a schedule written by write(): the count in force at each slot's start."""
    steps = []
    with open(path) as f:
        for line in f.read().split("\n")[1:]:
            if line.strip():
                t, v = line.split(",")
                steps.append((int(t), int(v)))
    r = []
    for k in range(nslots):
        t = a.warmup_s + k * a.slot_s
        r.append([v for st, v in steps if st <= t][-1])
    return r


class Search:
    def __init__(self, a):
        self.a = a
        self.cache = {}
        self.tmp = tempfile.TemporaryDirectory(prefix="clairvoyant.")
        self.files = itertools.count()  # a file per replay: the jobs run at once

    def write(self, r, path):
        with open(path, "w") as f:
            f.write("t_s,replicas\n")
            last = None
            if self.a.warmup_s > 0:
                f.write("0,%d\n" % self.a.pre)
                last = self.a.pre
            for k, v in enumerate(r):
                t = self.a.warmup_s + k * self.a.slot_s
                if v != last or t == 0:
                    f.write("%d,%d\n" % (t, v))
                    last = v

    def eval(self, r):
        key = tuple(r)
        if key in self.cache:
            return self.cache[key]
        path = os.path.join(self.tmp.name, "s%d.csv" % next(self.files))
        self.write(r, path)
        j = run_sim(self.a.llmo, self.a.trace, self.a.extra, self.a.warmup_s, schedule=path)
        os.unlink(path)
        res = (j["gpu_hours"], j["slo_attainment_pct"], j["requests"])
        self.cache[key] = res
        return res


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--llmo", required=True)
    p.add_argument("--trace", required=True)
    p.add_argument("--warmup-s", type=int, default=600)
    p.add_argument("--slot-s", type=int, default=10)
    p.add_argument("--start", type=int, default=4)
    p.add_argument("--pre", type=int, default=5)
    p.add_argument("--lambdas", default="5e-5,1e-4,2e-4,4e-4")
    p.add_argument("--sweeps", type=int, default=4)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--goal-att", type=float, help="attainment to reach (default: KPA's)")
    p.add_argument("--from", dest="seed", help="start from this schedule (an earlier --out)")
    p.add_argument("--out")
    p.add_argument("extra", nargs="*", help="after --: flags for llmo sim autoscale")
    a = p.parse_args()

    kpa = run_sim(a.llmo, a.trace, a.extra, a.warmup_s, policy=["--policy", "kpa"])
    goal = a.goal_att if a.goal_att is not None else kpa["slo_attainment_pct"]
    # slots from the warm-up to the last completion (duration_s counts from the warm-up)
    span = kpa["duration_s"]
    nslots = max(1, int(span // a.slot_s) + 1)
    s = Search(a)
    r = [a.start] * nslots
    fixed = s.eval(r)
    if a.seed:
        r = read_schedule(a.seed, a, nslots)
    print("clairvoyant: %d slots of %d s; KPA %.4f GPU-h at %.3f%%; fixed %d: %.4f at %.3f%%"
          % (nslots, a.slot_s, kpa["gpu_hours"], kpa["slo_attainment_pct"], a.start,
             fixed[0], fixed[1]), file=sys.stderr)

    def score(res, lam):
        return res[0] + lam * res[2] * (100 - res[1]) / 100

    moves = [(k, L, d) for L in (1, 3, 6) for d in (1, -1) for k in range(nslots)]
    with cf.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        for lam in (float(x) for x in a.lambdas.split(",")):
            cur = s.eval(r)
            for sweep in range(a.sweeps):
                changed = 0
                i = 0
                while i < len(moves):
                    batch = []
                    while i < len(moves) and len(batch) < a.jobs:
                        k, L, d = moves[i]
                        i += 1
                        cand = list(r)
                        for j in range(k, min(nslots, k + L)):
                            cand[j] += d
                        if min(cand) < 0:
                            continue
                        batch.append(cand)
                    results = list(ex.map(s.eval, batch))
                    best = min(range(len(batch)), key=lambda b: score(results[b], lam),
                               default=None)
                    if best is not None and score(results[best], lam) < score(cur, lam) - 1e-9:
                        r, cur = batch[best], results[best]
                        changed += 1
                print("clairvoyant: lambda %g sweep %d: %d moves, now %.4f GPU-h at %.3f%% (%d runs)"
                      % (lam, sweep + 1, changed, cur[0], cur[1], len(s.cache)), file=sys.stderr)
                if not changed:
                    break

    feasible = [(v[0], v[1], k) for k, v in s.cache.items() if v[1] >= goal]
    print("trace: %s, warm-up %d s, slots of %d s, %d schedules replayed"
          % (a.trace, a.warmup_s, a.slot_s, len(s.cache)))
    print("%-34s %10s %10s %14s" % ("", "gpu_h", "slo_%", "gpu_h / KPA"))
    print("%-34s %10.4f %10.3f %14.3f" % ("kpa (Knative defaults)", kpa["gpu_hours"],
                                           kpa["slo_attainment_pct"], 1.0))
    print("%-34s %10.4f %10.3f %14.3f" % ("fixed %d replicas" % a.start, fixed[0], fixed[1],
                                           fixed[0] / kpa["gpu_hours"]))
    if not feasible:
        print("no schedule found at or above %.3f%%" % goal)
        return 1
    g, att, key = min(feasible)
    print("%-34s %10.4f %10.3f %14.3f" % ("cheapest found at >= %.3f%%" % goal, g, att,
                                           g / kpa["gpu_hours"]))
    print("its replicas per slot: min %d, max %d, mean %.3f"
          % (min(key), max(key), sum(key) / len(key)))
    if a.out:
        s.write(list(key), a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
