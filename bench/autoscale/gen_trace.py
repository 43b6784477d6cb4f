#!/usr/bin/env python3
"""Writes a synthetic LLM inference trace in the Azure LLM inference trace
format (TIMESTAMP,ContextTokens,GeneratedTokens), for `llmo sim autoscale`.

Arrivals are a non-homogeneous Poisson process (thinning) with a rate curve
chosen by --shape; token counts are log-normal with medians and spreads close
to the Azure 2023 conversation trace (context ~1000, generated ~200), except
for code (context ~1500, generated ~20).
Deterministic for a given --seed.

  diurnal  base * (1 + 0.8 sin(2 pi t / period)), period 1 h: a day compressed
  bursty   base, plus bursts of 3x base lasting 30-90 s at random (about one
           every 5 minutes)
  ramp     from 0.2 base up to 2 base over the first half, back down over the second
  step     base for a third of the run, 3x base for a third, base again
  code     code completion: short generations (median 20 tokens, prompts
           median 1500) at 2x base, base * 2 * (1 + 0.6 sin(2 pi t / 20 min)):
           a shorter season and requests that hold a slot about 0.6 s
"""
import argparse
import datetime
import math
import random
import sys


def bursts(rng, duration, base, mult, gap, lo, hi):
    """base, plus bursts of mult x base lasting lo to hi seconds (uniform), the
    gaps between them exponential with mean gap seconds: (rate(t), peak)."""
    spans = []
    t = rng.expovariate(1 / gap)
    while t < duration:
        spans.append((t, t + rng.uniform(lo, hi)))
        t = spans[-1][1] + rng.expovariate(1 / gap)

    def f(t):
        for a, b in spans:
            if a <= t < b:
                return mult * base
        return base
    return f, mult * base


def rate_fn(shape, base, duration, rng):
    if shape == "diurnal":
        period = 3600.0
        return lambda t: base * (1 + 0.8 * math.sin(2 * math.pi * t / period)), 1.8 * base
    if shape == "bursty":
        return bursts(rng, duration, base, 3, 300.0, 30, 90)
    if shape == "ramp":
        half = duration / 2
        return (lambda t: base * (0.2 + 1.8 * (t / half if t < half else (duration - t) / half))), 2 * base
    if shape == "step":
        third = duration / 3
        return (lambda t: 3 * base if third <= t < 2 * third else base), 3 * base
    if shape == "code":
        period = 1200.0
        return lambda t: 2 * base * (1 + 0.6 * math.sin(2 * math.pi * t / period)), 3.2 * base
    raise SystemExit("unknown shape %s (want diurnal, bursty, ramp, step or code)" % shape)


# Token counts per shape: (median context, sigma, median generated, sigma).
TOKENS = {"code": (1500, 0.7, 20, 0.8)}
CONV_TOKENS = (1000, 0.8, 200, 0.7)


def main(shapes=None):
    """shapes: another rate_fn(shape, base, duration, rng) -> (rate(t), peak), for
    gen_heldout.py; this file's own by default."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shape", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--duration-s", type=float, default=3600)
    ap.add_argument("--base-rate", type=float, default=4.0, help="requests per second")
    ap.add_argument("--out", default="-")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    rate, peak = (shapes or rate_fn)(a.shape, a.base_rate, a.duration_s, rng)
    cm, cs, gm, gs = TOKENS.get(a.shape, CONV_TOKENS)
    start = datetime.datetime(2024, 1, 1)
    out = sys.stdout if a.out == "-" else open(a.out, "w")
    out.write("TIMESTAMP,ContextTokens,GeneratedTokens\n")
    t = 0.0
    while True:
        t += rng.expovariate(peak)
        if t >= a.duration_s:
            break
        if rng.random() * peak > rate(t):
            continue
        ctx = max(1, min(16000, int(rng.lognormvariate(math.log(cm), cs))))
        gen = max(1, min(1000, int(rng.lognormvariate(math.log(gm), gs))))
        ts = start + datetime.timedelta(microseconds=round(t * 1e6))
        out.write("%s,%d,%d\n" % (ts.strftime("%Y-%m-%d %H:%M:%S.%f"), ctx, gen))
    if out is not sys.stdout:
        out.close()


if __name__ == "__main__":
    main()
