#!/usr/bin/env bash
# Paired pulls of one blob from two `llmo registry` binaries running side by
# side (BEFORE and AFTER a change), alternating one pull each, so that both
# see the same load on a shared machine. Plain HTTP over loopback, curl to
# /dev/null, checksum validation on (the default). Prints each pair, the
# medians in MB/s (10^6 bytes), their ratio, how many pairs AFTER won, and
# `openssl speed -bytes 16384 sha256` (one core) as the hashing limit.
# See docs/registry.md ("Throughput").
#
# Usage: bench/registry/pair.sh BEFORE_LLMO AFTER_LLMO
# Settings (environment): SIZE_MB=1024, PAIRS=8, BLOB=FILE (use this file),
#   ARGS="..." (more flags for both registries; "--reverify-interval 0s" hashes
#   every pull, else a pull after the first is served by the cache of verified blobs)
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
BEFORE=$1
AFTER=$2
SIZE_MB=${SIZE_MB:-1024}
PAIRS=${PAIRS:-8}
ARGS=${ARGS:-}

W=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$W"' EXIT
B=${BLOB:-$W/blob}
[ -n "${BLOB:-}" ] || head -c $((SIZE_MB << 20)) /dev/urandom >"$B"
D=sha256:$(sha256sum "$B" | cut -d' ' -f1)
start() { # start BINARY: a registry holding the blob; prints its URL
	local port u loc
	port=$(free_port)
	u=http://127.0.0.1:$port
	# shellcheck disable=SC2086
	"$1" registry --listen "127.0.0.1:$port" --storage "$W/store-$port" --anonymous '*' $ARGS \
		>/dev/null 2>"$W/log-$port" &
	PIDS+=($!)
	for _ in $(seq 1 200); do curl -sf "$u/v2/" >/dev/null && break; sleep 0.05; done
	loc=$(curl -s -X POST -D - -o /dev/null "$u/v2/bench/blob/blobs/uploads/" |
		tr -d '\r' | awk 'tolower($1) == "location:" {print $2}')
	curl -sf -o /dev/null -T "$B" "$u$loc?digest=$D"
	U=$u
}
start "$BEFORE"; UB=$U
start "$AFTER"; UA=$U
pull() { curl -sf -o /dev/null -w '%{speed_download}' "$1/v2/bench/blob/blobs/$D" | awk '{print $1 / 1e6}'; }
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
BS= AS= WON=0
for i in $(seq 1 "$PAIRS"); do
	b=$(pull "$UB")
	a=$(pull "$UA")
	BS+="$b " AS+="$a "
	WON=$((WON + $(echo "$a > $b" | bc -l)))
	printf 'pair %d  before %7.1f MB/s  after %7.1f MB/s\n' "$i" "$b" "$a"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
mb=$(echo "$BS" | median) ma=$(echo "$AS" | median)
sha=$(openssl speed -seconds 2 -bytes 16384 sha256 2>/dev/null | awk '/^sha256/ {v=$NF} END {sub(/k$/, "", v); print v * 1000 / 1000000}')
printf 'medians: before %.1f MB/s, after %.1f MB/s, ratio %.2f; after faster in %d of %d pairs\n' \
	"$mb" "$ma" "$(echo "$ma / $mb" | bc -l)" "$WON" "$PAIRS"
printf 'SHA-256 (openssl speed, one core, 16 KiB blocks): %.1f MB/s; after = %.0f%% of it\n' \
	"$sha" "$(echo "100 * $ma / $sha" | bc -l)"
