#!/usr/bin/env python3
"""Helper of bench/autoscale/e2e_fluid.sh (python3, standard library only).

  e2e_fluid.py sample --api URL --token T --cacert CA --ns NS --workload W --out FILE
      Every second, until SIGTERM: the workload's pods from the API (those that
      exist and have not ended: Ready, starting or draining, each one a GPU's
      worth of cost), how many of them are Ready, and the workload's
      status.replicas. One line per sample: "epoch pods ready desired".
      On SIGTERM it appends the scale events: one line "events UP DOWN" (the
      Events ScaledUp / ScaledDown of the workload, their counts summed).

  e2e_fluid.py arm --samples FILE --phases FILE --enough N --arm NAME
      One JSON object for one arm: from the phases file (lines "NAME START END
      REPORT.json", epochs, bench load --json reports) and the samples.

  e2e_fluid.py report FILE
      The table of both arms (lines "ARM JSON") and the ratios fluid / target.
"""
import json
import signal
import ssl
import sys
import time
import urllib.parse
import urllib.request


def sample(argv):
    import argparse
    ap = argparse.ArgumentParser()
    for k in ("--api", "--token", "--cacert", "--ns", "--workload", "--out"):
        ap.add_argument(k, required=True)
    a = ap.parse_args(argv)
    ctx = ssl.create_default_context(cafile=a.cacert)
    hdrs = {"Authorization": "Bearer " + a.token}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))

    def get(path):
        req = urllib.request.Request(a.api + path, headers=hdrs)
        with urllib.request.urlopen(req, context=ctx, timeout=5) as r:
            return json.load(r)

    sel = urllib.parse.quote("llm.orchestrator.io/workload=" + a.workload)
    pods_path = "/api/v1/namespaces/%s/pods?labelSelector=%s" % (a.ns, sel)
    w_path = "/apis/llm.orchestrator.io/v1/namespaces/%s/llmworkloads/%s" % (a.ns, a.workload)
    with open(a.out, "a") as out:
        nxt = time.time()
        while not stop:
            t = time.time()
            try:
                items = get(pods_path).get("items", [])
                desired = get(w_path).get("status", {}).get("replicas", -1)
            except Exception as e:  # a bench: note the gap and go on
                print("sample failed: %s" % e, file=sys.stderr)
                items, desired = None, -1
            if items is not None:
                pods = ready = 0
                for p in items:
                    st = p.get("status", {})
                    if st.get("phase") in ("Succeeded", "Failed"):
                        continue
                    pods += 1
                    if any(c.get("type") == "Ready" and c.get("status") == "True"
                           for c in st.get("conditions", [])):
                        ready += 1
                out.write("%.3f %d %d %d\n" % (t, pods, ready, desired))
                out.flush()
            nxt += 1.0
            time.sleep(max(0.0, nxt - time.time()))
        up = down = 0
        try:
            for e in get("/api/v1/namespaces/%s/events" % a.ns).get("items", []):
                if e.get("involvedObject", {}).get("name") != a.workload:
                    continue
                n = e.get("count") or 1
                if e.get("reason") == "ScaledUp":
                    up += n
                elif e.get("reason") == "ScaledDown":
                    down += n
        except Exception as e:
            print("events failed: %s" % e, file=sys.stderr)
            up = down = -1
        out.write("events %d %d\n" % (up, down))


def arm(argv):
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", required=True)
    ap.add_argument("--phases", required=True)
    ap.add_argument("--enough", type=int, required=True)
    ap.add_argument("--arm", required=True)
    a = ap.parse_args(argv)
    samples, events = [], (-1, -1)
    for line in open(a.samples):
        f = line.split()
        if f[0] == "events":
            events = (int(f[1]), int(f[2]))
        else:
            samples.append((float(f[0]), int(f[1]), int(f[2]), int(f[3])))
    phases = []
    for line in open(a.phases):
        name, start, end, path = line.split()
        phases.append((name, float(start), float(end), json.load(open(path))))
    t0, t_end = phases[0][1], phases[-1][2]
    win = [s for s in samples if t0 <= s[0] <= t_end]
    # replica-seconds: each sample stands for the second up to the next one
    rs = ready_s = 0.0
    for i, s in enumerate(win):
        dt = (win[i + 1][0] if i + 1 < len(win) else t_end) - s[0]
        rs += s[1] * dt
        ready_s += s[2] * dt
    step = phases[1][1]
    to_enough = next((s[0] - step for s in samples if s[0] >= step and s[2] >= a.enough), None)
    # scale decisions seen in the samples (status.replicas changes) within the window
    changes = sum(1 for i in range(1, len(win)) if win[i][3] != win[i - 1][3])
    sent = sum(p[3]["sent"] for p in phases)
    within = sum(p[3]["within_slo"] for p in phases)
    r = {"arm": a.arm, "window_s": round(t_end - t0, 1), "samples": len(win),
         "replica_s": round(rs, 1), "ready_replica_s": round(ready_s, 1),
         "max_pods": max((s[1] for s in win), default=0),
         "scale_events_up": events[0], "scale_events_down": events[1],
         "status_replica_changes": changes,
         "step_to_enough_s": None if to_enough is None else round(to_enough, 1),
         "enough": a.enough, "sent": sent,
         "within_slo_pct": round(100.0 * within / sent, 2) if sent else 0,
         "failed": sum(p[3]["failed"] for p in phases),
         "late": sum(p[3]["late"] for p in phases), "phases": {}}
    for name, start, end, rep in phases:
        r["phases"][name] = {"sent": rep["sent"], "failed": rep["failed"],
                             "ttft_p50_ms": rep["ttft_ms"]["p50"],
                             "ttft_p95_ms": rep["ttft_ms"]["p95"],
                             "ttft_p99_ms": rep["ttft_ms"]["p99"],
                             "within_slo_pct": round(rep["within_slo_pct"], 2)}
    print(json.dumps(r, sort_keys=True))


def report(argv):
    arms = {}
    for line in open(argv[0]):
        name, js = line.split(" ", 1)
        arms.setdefault(name, []).append(json.loads(js))
    names = list(arms)
    phases = list(arms[names[0]][0]["phases"])
    rows = [("replica-seconds (pods)", lambda r: r["replica_s"]),
            ("replica-seconds (Ready)", lambda r: r["ready_replica_s"]),
            ("max pods", lambda r: r["max_pods"]),
            ("scale events up", lambda r: r["scale_events_up"]),
            ("scale events down", lambda r: r["scale_events_down"]),
            ("step -> enough Ready (s)", lambda r: r["step_to_enough_s"]),
            ("within SLO, all (%)", lambda r: r["within_slo_pct"]),
            ("failed requests", lambda r: r["failed"]),
            ("late starts", lambda r: r["late"])]
    for ph in phases:
        rows.append(("%s: TTFT p50 ms" % ph, lambda r, ph=ph: r["phases"][ph]["ttft_p50_ms"]))
        rows.append(("%s: TTFT p95 ms" % ph, lambda r, ph=ph: r["phases"][ph]["ttft_p95_ms"]))
        rows.append(("%s: within SLO %%" % ph, lambda r, ph=ph: r["phases"][ph]["within_slo_pct"]))
    rounds = min(len(v) for v in arms.values())
    print("%-28s" % "" + "".join("%14s" % ("%s r%d" % (n, i + 1))
                                 for i in range(rounds) for n in names) +
          ("%14s" % "fluid/target" if {"fluid", "target"} <= set(names) else ""))
    for label, f in rows:
        cells, ratios = "", []
        for i in range(rounds):
            for n in names:
                v = f(arms[n][i])
                cells += "%14s" % ("-" if v is None else ("%.1f" % v if isinstance(v, float) else v))
            if {"fluid", "target"} <= set(names):
                fv, tv = f(arms["fluid"][i]), f(arms["target"][i])
                if fv is not None and tv:
                    ratios.append(fv / tv)
        ratios.sort()
        k = len(ratios)
        if not k:
            rat = "%14s" % "-"
        else:
            med = ratios[k // 2] if k % 2 else (ratios[k // 2 - 1] + ratios[k // 2]) / 2
            rat = "%14.3f" % med
            if k > 1:
                rat += "  (%.3f-%.3f)" % (ratios[0], ratios[-1])
        print("%-28s%s%s" % (label, cells, rat))
    if rounds > 1:
        print("(ratio: the median over %d rounds, then the range)" % rounds)


if __name__ == "__main__":
    {"sample": sample, "arm": arm, "report": report}[sys.argv[1]](sys.argv[2:])
