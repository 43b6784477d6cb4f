#!/usr/bin/env bash
# Where the memory of `llmo gateway` goes with many open connections: for each llmo
# binary given (say an old build and a new one, in the same command), one
# inference-sim backend at zero latency, the gateway in front of it, and wrk with
# CONNS busy connections for DURATION seconds; /proc/PID/smaps_rollup idle and a
# second before wrk ends (RSS, PSS, anonymous), and the biggest mappings then.
#
# Usage: bench/gateway/rss.sh LLMO [LLMO...]     (CONNS=1000 DURATION=5 TOP=12)
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,9p' "$0"; exit 2; }
CONNS=${CONNS:-1000}
DURATION=${DURATION:-5}
TOP=${TOP:-12}
command -v wrk >/dev/null || { echo "rss: needs wrk (bench/gateway/run.sh installs it)"; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
work_dir
GW_WRAP=()
rollup() { # rollup PID: "RSS PSS ANON" in MB
	awk '/^Rss:/ { r = $2 } /^Pss:/ { p = $2 } /^Anonymous:/ { a = $2 }
		END { printf "RSS %.1f MB  PSS %.1f MB  anonymous %.1f MB", r / 1024, p / 1024, a / 1024 }' \
		"/proc/$1/smaps_rollup"
}
post_lua "$WORK/post.lua"
echo "rss: load average $(cut -d' ' -f1-3 /proc/loadavg); $CONNS connections, ${DURATION}s"
for llmo in "$@"; do
	start_pair "$llmo"
	gw=$GW gw_url=$GW_URL
	echo "== $llmo ($(ldd "$llmo" | wc -l) shared objects)"
	echo "idle:      $(rollup "$gw")"
	wrk -t1 -c"$CONNS" -d"${DURATION}s" -s "$WORK/post.lua" "$gw_url/v1/chat/completions" \
		>"$WORK/wrk.txt" 2>&1 &
	wpid=$!
	sleep $((DURATION - 1))
	echo "$CONNS busy: $(rollup "$gw")"
	awk '/^[0-9a-f]+-[0-9a-f]+ / { n = ($6 == "") ? "[anon]" : $6 }
		/^Rss:/ { r[n] += $2 } /^Anonymous:/ { a[n] += $2 }
		END { for (n in r) if (r[n] > 0) printf "  %6d kB  (%5d kB anonymous)  %s\n", r[n], a[n], n }' \
		"/proc/$gw/smaps" | sort -rn | head -n "$TOP"
	wait "$wpid"
	echo "  $(grep -E 'Requests/sec' "$WORK/wrk.txt"); high-water mark $(awk '/^VmHWM:/ { printf "%.1f MB", $2 / 1024 }' "/proc/$gw/status")"
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	PIDS=()
done
