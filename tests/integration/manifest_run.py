#!/usr/bin/env python3
"""Runs every container of k8s/llm-orchestrator/deployment.yaml as a kubelet would, closely
enough to catch a manifest that cannot work: the container's own command and environment
($(VAR) expanded, the downward API's fields filled in), its ConfigMap volumes written out, its
other volumes as empty directories (absolute paths under a mount, in the command and in the
mounted configuration, moved under them), the API of `llmo server` as the cluster's. Then,
on the pod's address (10.77.0.1, an address of this network namespace's loopback, so that a
server listening on 127.0.0.1 only is caught), every probe's path must answer 200, every
Service's targetPort must be a port of the pods it selects that accepts connections, and
SIGTERM must end the process with status 0.

Each container gets a token of its pod's ServiceAccount (kubectl create token), so what
rbac.yaml grants is what it has; a log line saying "forbidden" or 403 fails it.

Usage (inside a network namespace of its own; test_manifests.sh arranges it):
    manifest_run.py LLMO KUBECONFIG WORKDIR
Prints "ok WHAT" or "FAIL WHAT: why" lines; exits 1 when any failed.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import yaml

POD_IP = "10.77.0.1"
NODE = "manifest-node"

llmo, kubeconfig, work = sys.argv[1:4]
docs = [d for d in yaml.safe_load_all(open("k8s/llm-orchestrator/deployment.yaml")) if d]
configmaps = {(d["metadata"]["namespace"], d["metadata"]["name"]): d for d in docs
              if d["kind"] == "ConfigMap"}
failed = 0


def report(ok, what, why=""):
    global failed
    if ok:
        print("ok", what)
    else:
        failed += 1
        print("FAIL %s: %s" % (what, why))


def get(port, path):
    try:
        with urllib.request.urlopen("http://%s:%d%s" % (POD_IP, port, path), timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except Exception:
        return None


def connects(port):
    try:
        socket.create_connection((POD_IP, port), timeout=2).close()
        return True
    except OSError:
        return False


def port_number(container, port):
    if isinstance(port, int):
        return port
    for p in container.get("ports", []):
        if p.get("name") == port:
            return p["containerPort"]
    return None


def sa_kubeconfig(ns, sa):
    """A kubeconfig with a token of the ServiceAccount ns/sa (TokenRequest, as a projected
    service account token), so that the component has exactly what rbac.yaml grants it."""
    path = os.path.join(work, "kubeconfig-%s-%s" % (ns, sa))
    if os.path.exists(path):
        return path
    kenv = dict(os.environ, KUBECONFIG=kubeconfig)
    subprocess.run(["kubectl", "create", "serviceaccount", sa, "-n", ns], env=kenv,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    token = subprocess.run(["kubectl", "create", "token", sa, "-n", ns], env=kenv, check=True,
                           capture_output=True, text=True).stdout.strip()
    cfg = yaml.safe_load(open(kubeconfig))
    cfg["users"] = [{"name": sa, "user": {"token": token}}]
    for c in cfg["contexts"]:
        c["context"]["user"] = sa
    yaml.safe_dump(cfg, open(path, "w"))
    return path


def run(workload):
    ns = workload["metadata"]["namespace"]
    spec = workload["spec"]["template"]["spec"]
    what = "%s %s/%s" % (workload["kind"], ns, workload["metadata"]["name"])
    volumes = {}
    for v in spec.get("volumes", []):
        d = os.path.join(work, workload["metadata"]["name"], "vol", v["name"])
        os.makedirs(d, exist_ok=True)
        volumes[v["name"]] = (v, d)
    for c in spec["containers"]:
        cwhat = "%s container %s" % (what, c["name"])
        mounts = sorted(((m["mountPath"], volumes[m["name"]]) for m in c.get("volumeMounts", [])),
                        key=lambda m: -len(m[0]))

        # one pass, longest mount first, whole path components only (/tmp not /tmpx)
        where = {path: d for path, (_, d) in mounts}
        under = re.compile("|".join(re.escape(m) for m, _ in mounts) + r"(?=/|\b|$)") if mounts else None

        def moved(s):
            return under.sub(lambda m: where[m.group(0)], s) if under else s

        for path, (v, d) in mounts:
            if "configMap" in v:
                cm = configmaps.get((ns, v["configMap"]["name"]))
                if cm is None:
                    report(v["configMap"].get("optional", False),
                           "%s: ConfigMap %s/%s, not in deployment.yaml, is optional" % (
                               cwhat, ns, v["configMap"]["name"]), "it is not")
                    continue
                for item in v["configMap"].get("items") or [{"key": k, "path": k} for k in cm["data"]]:
                    open(os.path.join(d, item["path"]), "w").write(moved(cm["data"][item["key"]]))
        env = {"KUBECONFIG": sa_kubeconfig(ns, spec.get("serviceAccountName", "default")),
               "HOME": os.path.join(work, "home"),
               "PATH": os.path.dirname(llmo) + ":" + os.environ["PATH"]}
        fields = {"metadata.namespace": ns, "metadata.name": workload["metadata"]["name"] + "-0",
                  "spec.nodeName": NODE, "metadata.uid": "0-manifest"}
        for e in c.get("env", []):
            if "value" in e:
                env[e["name"]] = e["value"]
            elif "fieldRef" in e.get("valueFrom", {}):
                env[e["name"]] = fields[e["valueFrom"]["fieldRef"]["fieldPath"]]
        cmd = [re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), moved(a))
               for a in c["command"] + c.get("args", [])]
        if cmd[0] == "llmo":
            cmd[0] = llmo
        log = open(os.path.join(work, c["name"] + ".log"), "w")
        p = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        probes = [(k, c[k]["httpGet"]) for k in ("startupProbe", "livenessProbe", "readinessProbe")
                  if "httpGet" in c.get(k, {})]
        end = time.time() + 30
        for kind, g in probes:
            port = port_number(c, g["port"])
            status = None
            while port and time.time() < end and p.poll() is None:
                status = get(port, g["path"])
                if status == 200:
                    break
                time.sleep(0.2)
            report(status == 200, "%s %s GET %s on port %s" % (cwhat, kind, g["path"], g["port"]),
                   "answered %s%s" % (status, "" if p.poll() is None else
                                       " (the process exited with %s)" % p.returncode))
        ann = workload["spec"]["template"]["metadata"].get("annotations", {})
        if ann.get("prometheus.io/scrape") == "true" and c is spec["containers"][0]:
            port, path = int(ann["prometheus.io/port"]), ann.get("prometheus.io/path", "/metrics")
            status = get(port, path)
            report(status == 200, "%s: Prometheus scrapes GET %s on port %d" % (cwhat, path, port),
                   "answered %s" % status)
        for svc in (d for d in docs if d["kind"] == "Service" and d["metadata"]["namespace"] == ns):
            sel = svc["spec"].get("selector", {})
            labels = workload["spec"]["template"]["metadata"]["labels"]
            if not sel or any(labels.get(k) != v for k, v in sel.items()):
                continue
            for sp in svc["spec"]["ports"]:
                port = port_number(c, sp.get("targetPort", sp["port"]))
                report(port is not None and connects(port),
                       "%s: Service %s port %s (targetPort %s)" % (cwhat, svc["metadata"]["name"],
                                                                   sp["port"], sp.get("targetPort")),
                       "no such container port" if port is None else "nothing listens on it")
        log.flush()
        denied = [l.strip() for l in open(log.name) if re.search(r"forbidden|403", l, re.I)]
        report(not denied, cwhat + ": nothing refused by RBAC (its ServiceAccount's token)",
               denied[0] if denied else "")
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                rc = p.wait(timeout=c.get("terminationGracePeriodSeconds", 30))
            except subprocess.TimeoutExpired:
                p.kill()
                rc = "still running after the grace period"
            report(rc == 0, cwhat + " stops on SIGTERM with status 0", "status %s" % rc)
        else:
            report(False, cwhat + " keeps running", "exited with %s" % p.returncode)
        log.close()
        if failed:
            sys.stdout.write("".join("    " + l for l in open(log.name).readlines()[-15:]))


subprocess.run(["kubectl", "apply", "-f", "-"], check=True, stdout=subprocess.DEVNULL,
               input=json.dumps({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}}).encode(),
               env=dict(os.environ, KUBECONFIG=kubeconfig))
for d in docs:
    if d["kind"] in ("Deployment", "DaemonSet"):
        run(d)
sys.exit(1 if failed else 0)
