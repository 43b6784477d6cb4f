#!/usr/bin/env python3
"""The live scheduler on the API path: fake Nodes and pending pods created through
llmo server's API, bound pods/s measured from the first pod create to the last binding
(seen on a watch). Driven by bench/scheduler/api.sh; see bench/README.md.

Usage: api_bench.py --url http://127.0.0.1:PORT --token-file FILE [--nodes 1000]
                    [--pods 1000] [--gpus 8]
Prints one line: RESULT nodes=... pods=... create_s=... bind_s=... bound_per_s=...
server_cpu_s=... (with --server-pid: the server's CPU seconds from the first pod create
until the last binding was seen, API server and scheduler together; less sensitive to other
load on the machine than the rates)
"""
import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse

NS = "default"


class Api:
    def __init__(self, url, token):
        u = urllib.parse.urlparse(url)
        self.host, self.port = u.hostname, u.port
        self.headers = {"Authorization": "Bearer " + token}
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def call(self, method, path, body=None, ctype="application/json"):
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = ctype
        self.conn.request(method, path, body=data, headers=headers)
        r = self.conn.getresponse()
        text = r.read()
        if r.status >= 300:
            raise RuntimeError(f"{method} {path}: {r.status} {text[:300]!r}")
        return json.loads(text) if text else None


def make_nodes(api, n, gpus):
    for i in range(n):
        name = f"fake-{i:05d}"
        api.call("POST", "/api/v1/nodes",
                 {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
        api.call("PATCH", f"/api/v1/nodes/{name}/status",
                 {"status": {"allocatable": {"cpu": "64", "memory": "512Gi", "pods": "110",
                                             "nvidia.com/gpu": str(gpus)},
                             "capacity": {"cpu": "64", "memory": "512Gi", "pods": "110",
                                          "nvidia.com/gpu": str(gpus)},
                             "conditions": [{"type": "Ready", "status": "True"}]}},
                 ctype="application/merge-patch+json")


def pod(i):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"bench-{i:06d}", "labels": {"bench": "sched"}},
            "spec": {"schedulerName": "llmo-scheduler",
                     "containers": [{"name": "main", "image": "vllm",
                                     "resources": {"requests": {"cpu": "1", "memory": "4Gi",
                                                                "nvidia.com/gpu": "1"}}}]}}


class Watcher(threading.Thread):
    """Counts bench pods that get a spec.nodeName, with the time of the last one."""

    def __init__(self, api, rv, want):
        super().__init__(daemon=True)
        self.api, self.rv, self.want = api, rv, want
        self.bound = set()
        self.last = None
        self.done = threading.Event()
        self.error = None

    def run(self):
        try:
            conn = http.client.HTTPConnection(self.api.host, self.api.port, timeout=600)
            conn.request("GET", f"/api/v1/namespaces/{NS}/pods?watch=1&labelSelector=bench%3Dsched"
                         f"&resourceVersion={self.rv}", headers=self.api.headers)
            r = conn.getresponse()
            while len(self.bound) < self.want:
                line = r.readline()
                if not line:
                    raise RuntimeError("watch ended")
                ev = json.loads(line)
                obj = ev.get("object", {})
                if obj.get("spec", {}).get("nodeName"):
                    name = obj["metadata"]["name"]
                    if name not in self.bound:
                        self.bound.add(name)
                        self.last = time.monotonic()
        except Exception as e:  # reported by the main thread
            self.error = e
        self.done.set()


def cpu_seconds(pid):
    """user + system CPU seconds of process pid (all its threads), or 0 without one."""
    if not pid:
        return 0.0
    import os
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--gpus", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--server-pid", type=int, default=0,
                    help="llmo server's pid: report its CPU seconds over the pods phase")
    a = ap.parse_args()
    with open(a.token_file) as f:
        api = Api(a.url, f.read().strip())

    t = time.monotonic()
    make_nodes(api, a.nodes, a.gpus)
    nodes_s = time.monotonic() - t
    rv = api.call("GET", f"/api/v1/namespaces/{NS}/pods?labelSelector=bench%3Dsched")["metadata"][
        "resourceVersion"]
    w = Watcher(api, rv, a.pods)
    w.start()
    cpu0 = cpu_seconds(a.server_pid)
    t0 = time.monotonic()
    for i in range(a.pods):
        api.call("POST", f"/api/v1/namespaces/{NS}/pods", pod(i))
    create_s = time.monotonic() - t0
    w.done.wait(a.timeout)
    if w.error or len(w.bound) < a.pods:
        print(f"bench: {len(w.bound)} of {a.pods} pods bound ({w.error or 'timeout'})",
              file=sys.stderr)
        return 1
    bind_s = w.last - t0
    cpu = cpu_seconds(a.server_pid) - cpu0
    print(f"RESULT nodes={a.nodes} pods={a.pods} nodes_create_s={nodes_s:.2f} "
          f"create_s={create_s:.2f} create_per_s={a.pods / create_s:.1f} bind_s={bind_s:.2f} "
          f"bound_per_s={a.pods / bind_s:.1f} server_cpu_s={cpu:.2f} "
          f"server_cpu_ms_per_pod={1000 * cpu / a.pods:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
