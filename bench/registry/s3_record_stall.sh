#!/usr/bin/env bash
# How long other requests wait while `llmo registry` (storageType s3) stores a manifest push's
# records in S3, for two builds in one run (BEFORE and AFTER a change), alternating. s3rver
# 3.7.1 on loopback (scripts/setup.sh --tests installs it into .cache/s3rver) behind
# tests/integration/slow_proxy.py holding every piece sent to S3 for DELAY seconds (a slow
# store's round trip; a push of a manifest writes three objects: the manifest, its revision,
# its tag). Each round starts a registry, pushes a manifest (a new one each round) and, 0.3 s
# into the push, times a GET /v2/. Prints each round, then the medians of the /v2/ times and
# of the pushes, and their ratios. See docs/registry.md ("Cost and limits").
#
# Usage: bench/registry/s3_record_stall.sh BEFORE_LLMO AFTER_LLMO   (from the repository root)
# Settings (environment): DELAY=0.5, ROUNDS=3
set -euo pipefail
BEFORE=$1
AFTER=$2
DELAY=${DELAY:-0.5}
ROUNDS=${ROUNDS:-3}

. "$(dirname "$0")/s3_common.sh"
s3rver_start
proxy_start 0 "$DELAY"
s3_config "$PXURL"
: >"$W/before" && : >"$W/after"
n=0
for r in $(seq 1 "$ROUNDS"); do
	for which in before after; do
		bin=$BEFORE && [ "$which" = after ] && bin=$AFTER
		start_registry "$bin" --storage "$W/cache" --config "$W/s3.yaml"
		n=$((n + 1))
		# an index without entries: a manifest with nothing to check, new each round
		printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"annotations":{"round":"%d"}}' \
			"$n" >"$W/m.json"
		curl -sf -o /dev/null -w '%{time_total}\n' -X PUT --data-binary @"$W/m.json" \
			-H 'Content-Type: application/vnd.oci.image.index.v1+json' \
			"$U/v2/bench/m/manifests/r$n" >"$W/push" &
		P=$!
		sleep 0.3 # into the push, whose three S3 requests wait DELAY or more each
		v2=$(curl -s -o /dev/null -w '%{time_total}' "$U/v2/")
		wait "$P"
		echo "$v2 $(cat "$W/push")" >>"$W/$which"
		echo "round $r $which: /v2/ ${v2}s during a manifest push that took $(cat "$W/push")s"
		stop
	done
done
stall_report push
