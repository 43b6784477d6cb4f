#!/usr/bin/env bash
# What the collection after a manifest DELETE costs: two `llmo registry` on stores filled alike
# (N model versions in one repository, each a config and a layer of its own, plus N image
# manifests in another), one with `autoCleanup: true` (the DELETE collects before its 202),
# one with `autoCleanup: false` (the baseline: the DELETE alone); then D DELETEs by digest on
# each, alternating one at a time. Prints the median and p90 latency of each, their ratio, and
# the blobs in the store. Plain HTTP over loopback, local storage. See docs/registry.md
# ("Versions, aliases and garbage collection").
#
# Usage: bench/registry/delete_gc.sh [LLMO]   (default build/llmo)
# Settings (environment): N=1000 (versions, and image manifests), D=50 (DELETEs on each)
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
LLMO=${1:-build/llmo}
N=${N:-1000}
D=${D:-50}
W=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$W"' EXIT
start() { # start NAME AUTOCLEANUP: a registry on W/NAME; prints its port
	local port
	port=$(free_port)
	printf 'modelRegistry:\n  autoCleanup: %s\n  maxVersions: 10000\n  gcInterval: 0s\n' "$2" \
		>"$W/$1.yaml"
	"$LLMO" registry --listen "127.0.0.1:$port" --storage "$W/$1" --config "$W/$1.yaml" \
		--anonymous '*' >/dev/null 2>"$W/$1.log" &
	PIDS+=($!)
	for _ in $(seq 1 100); do
		curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && { echo "$port"; return 0; }
		sleep 0.05
	done
	echo "bench: llmo registry did not start" >&2
	cat "$W/$1.log" >&2
	exit 1
}
A=$(start gc true)
B=$(start plain false)
python3 - "$A" "$B" "$N" "$D" "$W" <<'PY'
import hashlib, http.client, json, os, statistics, sys, time

ports, n, d, work = sys.argv[1:3], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
MODEL = "application/vnd.llmo.model.v1"
OCI = "application/vnd.oci.image.manifest.v1+json"


def call(c, method, path, body=None, headers=None):
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    if r.status >= 300:
        raise SystemExit(f"bench: {method} {path}: {r.status} {data[:200]!r}")
    return r


def blob(c, repo, data):
    dg = "sha256:" + hashlib.sha256(data).hexdigest()
    call(c, "POST", f"/v2/{repo}/blobs/uploads/?digest={dg}", data,
         {"Content-Type": "application/octet-stream"})
    return dg, len(data)


def manifest(c, repo, tag, art, cfg, layer):
    m = {"schemaVersion": 2, "mediaType": OCI,
         "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": cfg[0], "size": cfg[1]},
         "layers": [{"mediaType": "application/octet-stream", "digest": layer[0],
                     "size": layer[1]}]}
    if art:
        m["artifactType"] = art
    body = json.dumps(m).encode()
    call(c, "PUT", f"/v2/{repo}/manifests/{tag}", body, {"Content-Type": OCI})
    return "sha256:" + hashlib.sha256(body).hexdigest()


# the same content in both stores, so that their walks are alike
seeds = [os.urandom(16) for _ in range(2 * n)]
digests = {}
for port in ports:
    c = http.client.HTTPConnection("127.0.0.1", int(port))
    digests[port] = []
    for i in range(n):
        cfg = blob(c, "models/m", b'{"v":%d}' % i + seeds[i])
        layer = blob(c, "models/m", seeds[i] * 256)
        digests[port].append(manifest(c, "models/m", f"v{i}", MODEL, cfg, layer))
    for i in range(n):
        cfg = blob(c, "images/x", b'{"i":%d}' % i + seeds[n + i])
        layer = blob(c, "images/x", seeds[n + i] * 256)
        manifest(c, "images/x", f"t{i}", None, cfg, layer)
    c.close()

lat = {p: [] for p in ports}
conns = {p: http.client.HTTPConnection("127.0.0.1", int(p)) for p in ports}
for k in range(d):
    for p in (ports if k % 2 == 0 else ports[::-1]):
        t = time.perf_counter()
        call(conns[p], "DELETE", f"/v2/models/m/manifests/{digests[p][k]}")
        lat[p].append((time.perf_counter() - t) * 1000)


def p90(v):
    return sorted(v)[int(0.9 * (len(v) - 1))]


blobs = sum(len(f) for _, _, f in os.walk(os.path.join(work, "gc", "blobs")))
print(f"store: {2 * n} manifests, {blobs} blobs left in the collected store after {d} deletes")
print(f"{'registry':<28}{'median ms':>12}{'p90 ms':>10}")
for name, p in (("autoCleanup true (collects)", ports[0]), ("autoCleanup false", ports[1])):
    print(f"{name:<28}{statistics.median(lat[p]):>12.2f}{p90(lat[p]):>10.2f}")
print(f"ratio (median): {statistics.median(lat[ports[0]]) / statistics.median(lat[ports[1]]):.1f}")
PY
