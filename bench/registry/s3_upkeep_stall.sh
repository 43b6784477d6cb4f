#!/usr/bin/env bash
# How long other requests wait while `llmo registry` (storageType s3) restores its records at
# start and, with maxVersions 1, prunes and collects after a push, for two builds in one run
# (BEFORE and AFTER a change), alternating. s3rver 3.7.1 on loopback (scripts/setup.sh --tests
# installs it into .cache/s3rver) behind tests/integration/slow_proxy.py holding every piece sent
# to S3 for DELAY seconds (a slow store's round trip).
#
# Each round, for each build, on a bucket prefix of its own: two versions of a model (a config
# and a layer each) are stored straight into s3rver, all but the second version's manifest; the
# cache is emptied; the registry is started behind the proxy: START is the time from its launch
# to the first GET /v2/ answered (sent every 50 ms). Once its records are restored (a tags list
# answers), the second version's manifest is pushed, which prunes the first (its revision, tag,
# links and three blobs deleted in the bucket, after a listing of it), and a GET /v2/ is sent
# every 0.2 s while the push runs: V2MAX is the longest wait of those. Prints each round, then
# the median and range of START, V2MAX and the push for each build, and the ratios of the
# medians. See docs/registry.md ("Cost and limits").
#
# Usage: bench/registry/s3_upkeep_stall.sh BEFORE_LLMO AFTER_LLMO   (from the repository root)
# Settings (environment): DELAY=0.5, ROUNDS=3
set -euo pipefail
BEFORE=$1
AFTER=$2
DELAY=${DELAY:-0.5}
ROUNDS=${ROUNDS:-3}

. "$(dirname "$0")/s3_common.sh"
s3rver_start
proxy_start 0 "$DELAY"
now() { date +%s.%N; }
blob() { # blob FILE: a monolithic upload into bench/p
	curl -sf -o /dev/null -X POST --data-binary @"$1" \
		"$U/v2/bench/p/blobs/uploads/?digest=sha256:$(sha256sum "$1" | cut -d' ' -f1)"
}
version() { # version N: its blobs stored, its manifest written to $W/mN.json
	printf '{"version":"%s","round":"%s"}' "$1" "$n" >"$W/c$1"
	head -c 100000 /dev/urandom >"$W/l$1"
	blob "$W/c$1" && blob "$W/l$1"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.llmo.model.v1","config":{"mediaType":"application/vnd.llmo.model.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/octet-stream","digest":"sha256:%s","size":100000}]}' \
		"$(sha256sum "$W/c$1" | cut -d' ' -f1)" "$(wc -c <"$W/c$1")" \
		"$(sha256sum "$W/l$1" | cut -d' ' -f1)" >"$W/m$1.json"
}
manifest() { # manifest N: PUT mN.json as tag vN, printing the time it took
	curl -sf -o /dev/null -w '%{time_total}\n' -X PUT --data-binary @"$W/m$1.json" \
		-H 'Content-Type: application/vnd.oci.image.manifest.v1+json' "$U/v2/bench/p/manifests/v$1"
}
: >"$W/before" && : >"$W/after"
n=0
for r in $(seq 1 "$ROUNDS"); do
	for which in before after; do
		bin=$BEFORE && [ "$which" = after ] && bin=$AFTER
		n=$((n + 1))
		# the versions go into the bucket directly, not through the proxy
		s3_config "$S3URL" "r$n"
		printf '  maxVersions: 1\n' >>"$W/s3.yaml"
		rm -rf "$W/cache"
		start_registry "$bin" --storage "$W/cache" --config "$W/s3.yaml"
		version 1 && manifest 1 >/dev/null && version 2
		stop
		rm -rf "$W/cache"
		s3_config "$PXURL" "r$n"
		printf '  maxVersions: 1\n' >>"$W/s3.yaml"
		: >"$W/out"
		t0=$(now)
		"$bin" registry --listen 127.0.0.1:0 --storage "$W/cache" --config "$W/s3.yaml" \
			--anonymous '*' >"$W/out" 2>>"$W/log" &
		PID=$!
		U=
		until [ -n "$U" ] && curl -sf -o /dev/null "$U/v2/"; do
			sleep 0.05
			U=$(sed -n 's/^llmo registry listening on //p' "$W/out")
			kill -0 "$PID" || { echo "registry did not start" >&2; tail "$W/log" >&2; exit 1; }
		done
		start=$(python3 -c "print('%.3f' % ($(now) - $t0))")
		curl -sf -o /dev/null "$U/v2/bench/p/tags/list" # the records are restored
		manifest 2 >"$W/push" &
		P=$!
		: >"$W/probes"
		while kill -0 "$P" 2>/dev/null; do
			curl -s -o /dev/null -w '%{time_total}\n' "$U/v2/" >>"$W/probes"
			sleep 0.2
		done
		wait "$P"
		v2max=$(sort -g "$W/probes" | tail -1)
		echo "$start $v2max $(cat "$W/push")" >>"$W/$which"
		echo "round $r $which: start ${start}s; longest /v2/ ${v2max}s of $(wc -l <"$W/probes") during a pruning push that took $(cat "$W/push")s"
		stop
	done
done
python3 - "$W/before" "$W/after" <<'PY'
import statistics, sys
runs = [[list(map(float, l.split())) for l in open(f) if l.strip()] for f in sys.argv[1:]]
meds = []
for name, rows in zip(("before", "after"), runs):
    cols = list(zip(*rows))
    meds.append([statistics.median(c) for c in cols])
    print("%s: start %.3fs (%.3f to %.3f), longest /v2/ %.4fs (%.4f to %.4f), push %.3fs (%.3f to %.3f)"
          % ((name,) + tuple(x for c, m in zip(cols, meds[-1]) for x in (m, min(c), max(c)))))
b, a = meds
print("after/before of the medians: start %.3f, longest /v2/ %.5f, push %.2f" % (a[0] / b[0], a[1] / b[1], a[2] / b[2]))
PY
