#!/usr/bin/env python3
"""json_contains.py WANT.json GOT.json: exit 0 when every member of WANT (the
object a client meant to send) is in GOT (what the server stored) with the same
value, recursively; lists must match element by element. Members that are null
in WANT and metadata.creationTimestamp (set by the server) are not compared.
Prints each difference."""
import json
import sys


def diffs(want, got, path):
    if isinstance(want, dict):
        if not isinstance(got, dict):
            yield f"{path}: got {got!r}, want an object"
            return
        for key, value in want.items():
            if value is None or (path == ".metadata" and key == "creationTimestamp"):
                continue
            if key not in got:
                yield f"{path}.{key}: missing"
            else:
                yield from diffs(value, got[key], f"{path}.{key}")
    elif isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            yield f"{path}: got {got!r}, want {want!r}"
            return
        for i, (w, g) in enumerate(zip(want, got)):
            yield from diffs(w, g, f"{path}[{i}]")
    elif want != got:
        yield f"{path}: got {got!r}, want {want!r}"


with open(sys.argv[1]) as f:
    want = json.load(f)
with open(sys.argv[2]) as f:
    got = json.load(f)
problems = list(diffs(want, got, ""))
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
