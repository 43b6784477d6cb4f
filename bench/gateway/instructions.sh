#!/usr/bin/env bash
# What a proxied request costs `llmo gateway` in user space, counted in
# instructions rather than timed, so that two builds compare on a busy machine:
# for each llmo binary given (an old build and a new one, in the same command),
# one inference-sim backend at zero latency, the gateway in front of it under
# valgrind's callgrind (counting only inside the event loop, so start-up and
# exit are left out), and wrk with CONNS connections for DURATION seconds.
# Prints instructions per request and the functions that took the most, and
# the ratio of each binary to the first. Kernel time (the system calls) is not
# in these counts: see run.sh for throughput and CPU time.
#
# Usage: bench/gateway/instructions.sh LLMO [LLMO...]   (CONNS=16 DURATION=8 TOP=12)
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,12p' "$0"; exit 2; }
CONNS=${CONNS:-16}
DURATION=${DURATION:-8}
TOP=${TOP:-12}
command -v wrk >/dev/null || { echo "instructions: needs wrk (bench/gateway/run.sh installs it)"; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need "valgrind callgrind_annotate" valgrind
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
work_dir
post_lua "$WORK/post.lua"
echo "instructions: load average $(cut -d' ' -f1-3 /proc/loadavg); $CONNS connections, ${DURATION}s each"
first=
for llmo in "$@"; do
	GW_WRAP=(valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out"
		--toggle-collect=event_base_loop)
	start_pair "$llmo"
	# under valgrind the gateway answers some 20 times slower: wait for it to answer
	for _ in $(seq 1 100); do
		curl -sf -o /dev/null "$GW_URL/healthz" && break
		sleep 0.2
	done
	n=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" -s "$WORK/post.lua" "$GW_URL/v1/chat/completions" |
		awk '/requests in/ { print $1 }')
	kill -INT "$GW"
	wait "$GW" 2>/dev/null || true
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	PIDS=()
	total=$(callgrind_annotate "$WORK/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
	per=$(awk -v t="$total" -v n="$n" 'BEGIN { printf "%.0f", t / n }')
	[ -n "$first" ] || first=$per
	echo "== $llmo: $n requests, $per instructions a request ($(awk -v a="$per" -v b="$first" 'BEGIN { printf "%.3f", a / b }')x the first)"
	# the functions (self cost), a request's share each
	callgrind_annotate "$WORK/cg.out" 2>/dev/null | awk -v n="$n" -v top="$TOP" '
		/^-+$/ { sep++; next }
		sep >= 6 && /^ *[0-9,]+ +\(/ && shown < top {
			c = $1; gsub(",", "", c); f = $0
			sub(/^ *[0-9,]+ +\( *[0-9.]+%\) +/, "", f); sub(/ \[.*$/, "", f)
			printf "  %7.0f  %s\n", c / n, f; shown++
		}'
	rm -f "$WORK/cg.out"
done
