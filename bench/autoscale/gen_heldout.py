#!/usr/bin/env python3
"""Held-out trace shapes for `llmo sim autoscale`: shapes the predictive
policy was NOT developed on (gen_trace.py's are), to check that a change
generalises. Same format, token counts and options as gen_trace.py (which
writes the rows); only the rate curve differs.

  sawtooth  from 0.5 base up to 2.5 base over 10 minutes, then straight back
            down to 0.5 base; again
  drop      2 base; after a third of the run a sudden drop to 0.3 base for
            10 minutes, then a sudden recovery to 2 base
  stairs    unannounced steps up every 10 minutes: base x 1, 1.5, 2.5, 4,
            then straight back to 1 for the rest
  spikes    base, plus short 5x spikes of 10-20 s at random (about one every
            4 minutes)
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_trace  # noqa: E402


def rate_fn(shape, base, duration, rng):
    if shape == "sawtooth":
        period = 600.0
        return (lambda t: base * (0.5 + 2.0 * ((t % period) / period))), 2.5 * base
    if shape == "drop":
        a = duration / 3
        b = a + 600
        return (lambda t: 0.3 * base if a <= t < b else 2 * base), 2 * base
    if shape == "stairs":
        levels = [1, 1.5, 2.5, 4]
        return (lambda t: base * (levels[int(t // 600)] if t < 2400 else 1)), 4 * base
    if shape == "spikes":
        return gen_trace.bursts(rng, duration, base, 5, 240.0, 10, 20)
    raise SystemExit("unknown shape %s (want sawtooth, drop, stairs or spikes)" % shape)


if __name__ == "__main__":
    gen_trace.main(rate_fn)
