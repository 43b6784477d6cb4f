#!/usr/bin/env bash
# Hashed pulls over loopback with and without sendfile(): two `llmo registry`
# of one binary side by side, both hashing every read (--reverify-interval
# 0s), one with --sendfile always, one with --sendfile auto (which writes
# from memory to loopback peers); a blob of SIZE_MB pushed to each, then N
# curl pulls from each, alternating. Prints each side's pulls (MB/s, sorted),
# their medians and `openssl speed sha256` as the limit. See
# docs/registry.md, "sendfile() or not".
#
# Usage: bench/registry/sendfile.sh LLMO      (e.g. build/llmo; about a minute)
# Settings (environment): SIZE_MB=1024, N=6
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

LLMO=$(realpath "${1:?usage: bench/registry/sendfile.sh LLMO}")
SIZE_MB=${SIZE_MB:-1024}
N=${N:-6}
W=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait; rm -rf "$W"' EXIT

head -c $((SIZE_MB << 20)) /dev/urandom >"$W/blob"
D=$(sha256sum "$W/blob" | cut -d' ' -f1)
declare -A PORT
for mode in always auto; do
	PORT[$mode]=$(free_port)
	"$LLMO" registry --listen "127.0.0.1:${PORT[$mode]}" --storage "$W/$mode" --anonymous '*' \
		--reverify-interval 0s --sendfile "$mode" >/dev/null 2>&1 &
	PIDS+=($!)
done
for mode in always auto; do
	for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:${PORT[$mode]}/v2/" >/dev/null && break; sleep 0.05; done
	code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/octet-stream' \
		-T - "http://127.0.0.1:${PORT[$mode]}/v2/bench/blob/blobs/uploads/?digest=sha256:$D" <"$W/blob")
	[ "$code" = 201 ] || { echo "bench: push to --sendfile $mode answered $code" >&2; exit 1; }
done
for _ in $(seq 1 "$N"); do
	for mode in always auto; do
		s=$(curl -sf -o /dev/null -w '%{speed_download}' "http://127.0.0.1:${PORT[$mode]}/v2/bench/blob/blobs/sha256:$D")
		echo "$mode $(echo "$s / 1000000" | bc -l)"
	done
done >"$W/pulls"
sha=$(openssl speed -seconds 2 -bytes 16384 sha256 2>/dev/null | awk '/^sha256/ {v=$NF} END {sub(/k$/, "", v); print v * 1000 / 1000000}')
for mode in always auto; do
	m=$(awk -v k="$mode" '$1 == k {print $2}' "$W/pulls" | median)
	printf -- '--sendfile %-6s pulls %s MB/s; median %.1f MB/s = %.0f%% of SHA-256\n' "$mode" \
		"$(awk -v k="$mode" '$1 == k {printf "%.0f ", $2}' "$W/pulls")" "$m" "$(echo "100 * $m / $sha" | bc -l)"
done
printf 'SHA-256 (openssl speed, one core, 16 KiB blocks): %.1f MB/s\n' "$sha"
