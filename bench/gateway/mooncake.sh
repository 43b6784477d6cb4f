#!/usr/bin/env bash
# Mooncake trace replay: prefix affinity against least load, in one run.
#
# For each policy (p2c, then prefix) it starts REPLICAS fresh `llmo inference-sim`
# replicas with a prefix cache (empty caches for each policy), one `llmo gateway`
# in front of them (static backends file, --balance POLICY), and replays the same
# slice of the Mooncake trace through the gateway with bench/gateway/mooncake.py,
# which builds each prompt from the trace's hash_ids (equal ids, equal blocks).
# It prints the time to first token (p50, p95, as the client sees it) and the
# prefix-cache hit rate the replicas reported (cached prompt tokens over prompt
# tokens, from the answers' usage), and the gateway's prefix lookups.
#
# Usage: bench/gateway/mooncake.sh             (from anywhere; about 3 minutes)
# Settings (environment):
#   TRACE=../shared/data/mooncake/synthetic_trace.jsonl (relative to the repository)
#   START=3000 COUNT=993   the slice of the trace replayed (its last 993 requests)
#   SPEED=4                trace time runs this many times faster
#   REPLICAS=4             inference-sim replicas behind the gateway
#   CACHE_BLOCKS=100000    each replica's prefix cache, in 16-token blocks
#   SIM_FLAGS              the replicas' latency model (see the default below)
#   GW_FLAGS               more gateway flags (such as --prefix-busy 4)
#   BUILDDIR=build-gwrel   where llmo is built (RelWithDebInfo, no sanitizers)
set -euo pipefail

cd "$(dirname "$0")/../.."
TRACE=${TRACE:-../shared/data/mooncake/synthetic_trace.jsonl}
START=${START:-3000}
COUNT=${COUNT:-993}
SPEED=${SPEED:-4}
REPLICAS=${REPLICAS:-4}
CACHE_BLOCKS=${CACHE_BLOCKS:-100000}
SIM_FLAGS=${SIM_FLAGS:---ttft-base 5ms --ttft-per-token 20us --itl 2ms --max-batch 16}
GW_FLAGS=${GW_FLAGS:-}
BUILDDIR=${BUILDDIR:-build-gwrel}

[ -f "$TRACE" ] || { echo "bench: no trace at $TRACE" >&2; exit 1; }
cmake -S . -B "$BUILDDIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLMO_SANITIZE=OFF -DLLMO_FUZZ=OFF \
	-DLLMO_TESTS=OFF >/dev/null
cmake --build "$BUILDDIR" -j2 --target llmo >/dev/null
LLMO=$PWD/$BUILDDIR/llmo

WORK=$(mktemp -d)
PIDS=()
stop_all() {
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	PIDS=()
}
trap 'stop_all; rm -rf "$WORK"' EXIT

wait_line() { # wait_line FILE SED-EXPR: prints the first match, waiting up to 10 s
	for _ in $(seq 1 200); do
		local v
		v=$(sed -n "$2" "$1" 2>/dev/null || true) # the file may not exist yet
		[ -n "$v" ] && { echo "$v"; return 0; }
		sleep 0.05
	done
	echo "bench: nothing in $1" >&2; cat "$1" >&2; exit 1
}

run_policy() { # run_policy POLICY: prints the replay's JSON and the gateway's prefix lookups
	local policy=$1 ports=() i url gw
	for i in $(seq 1 "$REPLICAS"); do
		# shellcheck disable=SC2086
		"$LLMO" inference-sim --port 0 --model llama2:7b $SIM_FLAGS --max-model-len 262144 \
			--prefix-cache-blocks "$CACHE_BLOCKS" --log-level warn \
			>"$WORK/$policy-sim$i.out" 2>"$WORK/$policy-sim$i.err" &
		PIDS+=($!)
		url=$(wait_line "$WORK/$policy-sim$i.out" 's/^inference-sim listening on //p')
		ports+=("${url##*:}")
	done
	{
		echo "models:"
		echo "  - name: llama2:7b"
		echo "    endpoints:"
		for p in "${ports[@]}"; do echo "      - address: 127.0.0.1:$p"; done
	} >"$WORK/$policy.yaml"
	# shellcheck disable=SC2086
	"$LLMO" gateway --listen 127.0.0.1:0 --backends "$WORK/$policy.yaml" --balance "$policy" \
		--seed 7 --log-level warn $GW_FLAGS >"$WORK/$policy-gw.out" 2>"$WORK/$policy-gw.err" &
	PIDS+=($!)
	gw=$(wait_line "$WORK/$policy-gw.out" 's/^llmo gateway listening on //p')
	python3 bench/gateway/mooncake.py "$gw" "$TRACE" --start "$START" --count "$COUNT" \
		--speed "$SPEED" >"$WORK/$policy.json"
	curl -s "$gw/metrics" | grep '^llmo_gateway_prefix_lookups_total' >"$WORK/$policy.prom" || true
	stop_all
}

echo "mooncake replay: requests $START..$((START + COUNT - 1)) of $TRACE at ${SPEED}x," \
	"$REPLICAS replicas ($SIM_FLAGS, prefix cache $CACHE_BLOCKS blocks of 16 tokens)"
for policy in p2c prefix; do
	run_policy "$policy"
done
python3 - "$WORK" <<'EOF'
import json, sys
work = sys.argv[1]
print("%-8s %8s %6s %10s %10s %11s %9s" % ("policy", "requests", "errors", "ttft p50", "ttft p95",
                                           "ttft mean", "hit rate"))
for p in ("p2c", "prefix"):
    r = json.load(open("%s/%s.json" % (work, p)))
    print("%-8s %8d %6d %8.1fms %8.1fms %9.1fms %8.1f%%" % (
        p, r["requests"], r["errors"], r["ttft_p50_ms"], r["ttft_p95_ms"], r["ttft_mean_ms"],
        100 * r["hit_rate"]))
for p in ("p2c", "prefix"):
    lines = open("%s/%s.prom" % (work, p)).read().split()
    if lines:
        print("%s gateway: %s" % (p, " ".join(lines)))
EOF
