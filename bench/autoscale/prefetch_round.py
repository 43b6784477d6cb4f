#!/usr/bin/env python3
"""One round of bench/autoscale/prefetch.sh (python3, standard library only).

Sends requests through the gateway at --rate per second so that the
workload's autoscaler wants a second replica, and watches (API watches, so
the times are those at which the events arrive here, to the millisecond,
not the API's one-second timestamps):

  - the pods of the workload: when the replica on --node appears (created),
    and when it is Ready;
  - the Node --node: when the controller asks it to prefetch (its
    llm.orchestrator.io/prefetch annotation names the workload) and when its
    cache lists the model (llm.orchestrator.io/cached-models has --digest).

When that replica is Ready it reads the replica's log (the pods/log
subresource): the fetch step's lines, then the line "BENCH_CMD_START <epoch
seconds>" that the model's command prints first, and prints one JSON object.
Exit status 1 when the replica is not Ready within --timeout seconds.
"""
import argparse
import json
import ssl
import sys
import threading
import time
import urllib.parse
import urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("--api", required=True)
ap.add_argument("--token", required=True)
ap.add_argument("--cacert", required=True)
ap.add_argument("--gateway", required=True)
ap.add_argument("--ns", required=True)
ap.add_argument("--workload", required=True)
ap.add_argument("--node", required=True)
ap.add_argument("--digest", required=True)
ap.add_argument("--rate", type=float, default=4.0)
ap.add_argument("--timeout", type=float, default=300.0)
a = ap.parse_args()

ctx = ssl.create_default_context(cafile=a.cacert)
hdrs = {"Authorization": "Bearer " + a.token}
lock = threading.Lock()
seen = {}  # times (epoch seconds) of what was seen, first occurrence each
pods = {}  # pod name -> {"first": t, "node": ..., "ready": t}
done = threading.Event()


def mark(key, t):
    with lock:
        seen.setdefault(key, t)


def watch(path, on_event):
    """Follows a watch until done; reconnects when the server ends it."""
    while not done.is_set():
        req = urllib.request.Request(a.api + path, headers=hdrs)
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=a.timeout) as r:
                for line in r:
                    if done.is_set():
                        return
                    line = line.strip()
                    if line:
                        on_event(json.loads(line), time.time())
        except Exception:  # a watch cut: reconnect (a bench, not a client library)
            time.sleep(0.2)


def on_pod(ev, t):
    o = ev.get("object", {})
    name = o.get("metadata", {}).get("name")
    if not name or ev.get("type") == "DELETED":
        return
    with lock:
        p = pods.setdefault(name, {"first": t})
        node = o.get("spec", {}).get("nodeName")
        if node:
            p["node"] = node
        conds = o.get("status", {}).get("conditions") or []
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds):
            p.setdefault("ready", t)
            if p.get("node") == a.node:
                done.set()


def on_node(ev, t):
    o = ev.get("object", {})
    if o.get("metadata", {}).get("name") != a.node:
        return
    ann = o.get("metadata", {}).get("annotations") or {}
    try:
        req = json.loads(ann.get("llm.orchestrator.io/prefetch", "{}"))
    except ValueError:
        req = {}
    if "%s/%s" % (a.ns, a.workload) in req:
        mark("asked", t)
    if a.digest in ann.get("llm.orchestrator.io/cached-models", ""):
        mark("cached", t)


def load():
    body = json.dumps({"model": a.workload, "prompt": "hello", "max_tokens": 1}).encode()
    sent = ok = 0
    start = time.time()
    while not done.is_set():
        sent += 1
        req = urllib.request.Request(a.gateway + "/v1/completions", data=body,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                r.read()
                ok += 1
        except Exception:
            pass
        # paced: the n-th request at start + n / rate, however long the last took
        wait = start + sent / a.rate - time.time()
        if wait > 0:
            done.wait(wait)
    with lock:
        seen["requests"] = sent
        seen["requests_ok"] = ok


sel = urllib.parse.quote("llm.orchestrator.io/workload=" + a.workload)
threads = [
    threading.Thread(target=watch, daemon=True,
                     args=("/api/v1/namespaces/%s/pods?watch=true&labelSelector=%s" % (a.ns, sel),
                           on_pod)),
    threading.Thread(target=watch, daemon=True, args=("/api/v1/nodes?watch=true", on_node)),
]
for th in threads:
    th.start()
time.sleep(1)  # the watches' initial events (the replica already Ready) come first
mark("load", time.time())
lt = threading.Thread(target=load, daemon=True)
lt.start()
if not done.wait(a.timeout):
    print(json.dumps({"error": "no Ready replica on %s within %.0f s" % (a.node, a.timeout),
                      "pods": pods, "seen": seen}))
    sys.exit(1)
lt.join(10)
with lock:
    pod = next(n for n, p in pods.items() if p.get("node") == a.node and "ready" in p)
    out = dict(seen)
    out.update(pod=pod, created=pods[pod]["first"], ready=pods[pod]["ready"])
req = urllib.request.Request(
    a.api + "/api/v1/namespaces/%s/pods/%s/log" % (a.ns, pod), headers=hdrs)
try:
    with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
        log = r.read().decode(errors="replace")
except Exception as e:  # the parts are then missing, the total is not
    log = ""
    out["log_error"] = str(e)
for line in log.splitlines():
    if line.startswith("BENCH_CMD_START "):
        out["cmd"] = float(line.split()[1])
    elif line.startswith("fetch ") and "bytes" in line:
        out["fetch_line"] = line.strip()  # the last progress line of the fetch step
print(json.dumps(out))
