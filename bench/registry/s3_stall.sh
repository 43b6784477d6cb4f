#!/usr/bin/env bash
# How long other requests wait while `llmo registry` (storageType s3) fetches a blob from S3,
# for two builds in one run (BEFORE and AFTER a change), alternating. s3rver 3.7.1 on loopback
# (scripts/setup.sh --tests installs it into .cache/s3rver) behind
# tests/integration/slow_proxy.py at RATE bytes/s each way, so that the fetch of a SIZE_MB blob
# lasts about SIZE_MB*10^6/RATE seconds. Each round starts a registry on an empty cache, pulls
# the blob (the fetch from S3 comes first), and one second into it times a GET /v2/. Prints
# each round, then the medians of the /v2/ times and of the pulls, and their ratios.
# See docs/registry.md ("Cost and limits").
#
# Usage: bench/registry/s3_stall.sh BEFORE_LLMO AFTER_LLMO   (from the repository root)
# Settings (environment): SIZE_MB=24, RATE=4000000, ROUNDS=3
set -euo pipefail
BEFORE=$1
AFTER=$2
SIZE_MB=${SIZE_MB:-24}
RATE=${RATE:-4000000}
ROUNDS=${ROUNDS:-3}

. "$(dirname "$0")/s3_common.sh"
head -c $((SIZE_MB * 1000000)) /dev/urandom >"$W/blob"
D=sha256:$(sha256sum "$W/blob" | cut -d' ' -f1)
s3rver_start
proxy_start "$RATE"
start() { rm -rf "$W/cache"; start_registry "$1" --storage "$W/cache" --config "$W/s3.yaml"; }

# the blob goes into the bucket directly, not through the proxy
s3_config "$S3URL"
start "$AFTER"
curl -sf -o /dev/null -X POST --data-binary @"$W/blob" "$U/v2/bench/b/blobs/uploads/?digest=$D"
stop
s3_config "$PXURL"
: >"$W/before" && : >"$W/after"
for r in $(seq 1 "$ROUNDS"); do
	for which in before after; do
		bin=$BEFORE && [ "$which" = after ] && bin=$AFTER
		start "$bin"
		curl -sf -o /dev/null -w '%{time_total}\n' "$U/v2/bench/b/blobs/$D" >"$W/pull" &
		P=$!
		sleep 1 # into the fetch, which lasts several seconds at RATE
		v2=$(curl -s -o /dev/null -w '%{time_total}' "$U/v2/")
		wait "$P"
		echo "$v2 $(cat "$W/pull")" >>"$W/$which"
		echo "round $r $which: /v2/ ${v2}s during a pull of ${SIZE_MB} MB that took $(cat "$W/pull")s"
		stop
	done
done
stall_report pull
