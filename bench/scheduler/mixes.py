#!/usr/bin/env python3
"""Writes openb-format pod lists with other workload mixes, drawn from a
default pod list, so that scheduling policies are compared on more than the
one trace (bench/scheduler/README.md). Deterministic: the same inputs give
the same files. Standard library only.

    mixes.py --nodes NODES.csv --pods PODS.csv --out DIR

Each mix keeps the default list's pods without GPUs and redraws its GPU pods
(as many as it has), with replacement, from a subset:

  gpushareN   N% of the GPU pods are sharing pods (a share of one GPU)
  multigpuN   N% of the GPU pods ask for 2, 4 or 8 GPUs
  gpuspecN    the default pods, with N% of the GPU pods constrained to one
              GPU model (70%) or two (30%), drawn in proportion to the
              cluster's GPUs of each model
  cpuN        the default GPU pods with N% as many pods without GPUs

The upstream trace repository publishes mixes of the same names built its
own way; these are ours and are not meant to match them row for row.
"""
import argparse
import csv
import os
import random


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", required=True)
    ap.add_argument("--pods", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    with open(args.pods, newline="") as f:
        rows = list(csv.DictReader(f))
    with open(args.nodes, newline="") as f:
        nodes = list(csv.DictReader(f))
    fields = list(rows[0].keys())
    cpu = [r for r in rows if r["num_gpu"] == "0"]
    share = [r for r in rows if r["num_gpu"] == "1" and int(r["gpu_milli"]) < 1000]
    whole1 = [r for r in rows if r["num_gpu"] == "1" and int(r["gpu_milli"]) == 1000]
    multi = [r for r in rows if int(r["num_gpu"]) > 1]
    single = share + whole1
    gpu = single + multi
    models = {}
    for n in nodes:
        if int(n["gpu"]) > 0:
            models[n["model"]] = models.get(n["model"], 0) + int(n["gpu"])
    os.makedirs(args.out, exist_ok=True)

    def write(name, pods):
        path = os.path.join(args.out, name + ".csv")
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
            w.writeheader()
            for i, p in enumerate(pods):
                p = dict(p)
                p["name"] = "%s-pod-%05d" % (name, i)
                w.writerow(p)

    def redraw(seed, parts):
        rnd = random.Random(seed)
        pods = list(cpu)
        for frac, pool in parts:
            pods += [rnd.choice(pool) for _ in range(round(len(gpu) * frac))]
        rnd.shuffle(pods)
        return pods

    for pct in (60, 80, 100):
        write("gpushare%d" % pct,
              redraw(pct, [(pct / 100, share), (1 - pct / 100, whole1 + multi)]))
    for pct in (20, 30, 50):
        write("multigpu%d" % pct,
              redraw(1000 + pct, [(pct / 100, multi), (1 - pct / 100, single)]))
    names = sorted(models)
    weights = [models[m] for m in names]
    for pct in (10, 20, 33):
        rnd = random.Random(2000 + pct)
        pods = []
        for r in rows:
            r = dict(r)
            if r["num_gpu"] != "0" and rnd.random() < pct / 100:
                k = 1 if rnd.random() < 0.7 else 2
                chosen = set()
                while len(chosen) < min(k, len(names)):
                    chosen.add(rnd.choices(names, weights)[0])
                r["gpu_spec"] = "|".join(sorted(chosen))
            pods.append(r)
        write("gpuspec%d" % pct, pods)
    for pct in (50, 200):
        rnd = random.Random(3000 + pct)
        pods = [rnd.choice(cpu) for _ in range(round(len(cpu) * pct / 100))] + gpu
        rnd.shuffle(pods)
        write("cpu%d" % pct, pods)


if __name__ == "__main__":
    main()
