#!/usr/bin/env bash
# The embedded gateway's memory per LLMWorkload: for each llmo binary given (say
# an old build and a new one, in the same command), `llmo server` (controller,
# scheduler, agent and registry off, so nothing acts on the workloads) with the
# gateway and without it (--disable ...,gateway), N LLMWorkloads created through
# the API by llmo-loadgen (no pods), then VmRSS once the gateway's routing table
# has all N models (the server's log says so) and a few seconds more. The
# difference of the two runs, divided by N, is the gateway's cost per workload;
# the difference at start (libcurl, threads) is printed apart, and each
# binary's total against the first one's. Also the creates' rate and the
# server's CPU time (user + system, all threads) from the first create until
# the table has all N models: with the gateway, what its table updates cost.
# Give binaries alternated (OLD NEW OLD NEW) to compare them on a busy machine.
# With PODS=P (default 0), after the memory is read: a pod for each of the
# first P workloads, created and then made Ready through the API one after
# another (curl), and the time and server CPU until the gateway's table has
# their P endpoints: what a pod's change costs next to N workloads.
#
# Usage: bench/gateway/workloads.sh LOADGEN LLMO [LLMO...]   (N=10000 CONC=8 SETTLE=3 PODS=0)
# LOADGEN is build/bench/llmo-loadgen (configure with -DLLMO_BENCH=ON).
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,12p' "$0"; exit 2; }
N=${N:-10000}
CONC=${CONC:-8}
SETTLE=${SETTLE:-3}
PODS=${PODS:-0}
LOADGEN=$1
shift
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
work_dir
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# user + system CPU seconds of a process, all its threads
cpu_s() { sed 's/^.*) //' "/proc/$1/stat" | awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($12 + $13) / hz }'; }

# wait_table DIR WHAT: until the server's log says the gateway's table has WHAT (2 minutes at most)
wait_table() {
	for _ in $(seq 1 2400); do
		grep -q "routing table.*$2" "$1/log" && return 0
		sleep 0.05
	done
	echo "bench: the gateway's table never had $2" >&2
	tail -3 "$1/log" >&2
	exit 1
}

# pods PID URL DIR DISABLE: PODS pods of the first workloads made Ready, timed (on stderr)
pods() {
	local pid=$1 url=$2 dir=$3 disable=$4 tok c0 c1 t0 t1 i n api
	tok=$(cat "$dir/token")
	api="$url/api/v1/namespaces/llm-workloads/pods"
	c0=$(cpu_s "$pid")
	t0=$(date +%s.%N)
	for ((i = 0; i < PODS; i++)); do
		n=$(printf 'bench-%06d' "$i")
		curl -sf -o /dev/null -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
			-d '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"'"$n"'-pod","labels":{"llm.orchestrator.io/workload":"'"$n"'"}},"spec":{"containers":[{"name":"m","image":"x","ports":[{"name":"http","containerPort":8000}]}]}}' \
			"$api" --next -sf -o /dev/null -X PATCH -H "Authorization: Bearer $tok" \
			-H 'Content-Type: application/merge-patch+json' \
			-d '{"status":{"phase":"Running","podIP":"10.1.'"$((i / 250)).$((i % 250 + 1))"'","conditions":[{"type":"Ready","status":"True"}]}}' \
			"$api/$n-pod/status" || { echo "bench: pod $n not created" >&2; exit 1; }
	done
	[[ $disable == *gateway* ]] || wait_table "$dir" "endpoints=$PODS "
	c1=$(cpu_s "$pid")
	t1=$(date +%s.%N)
	awk -v p="$PODS" -v d="$disable" -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" \
		'BEGIN { printf "  %d pods created and made Ready with %s off: %.2f s, server CPU %.2f s\n", p, d, t1 - t0, c1 - c0 }' >&2
}

# run LLMO DISABLE: prints the server's VmRSS in kB at start and after N workloads
run() {
	local llmo=$1 disable=$2 dir pid url
	dir=$(mktemp -d "$WORK/srv.XXXXXX")
	: >"$dir/stdout"
	"$llmo" server --insecure-http --data-dir "$dir" --listen 127.0.0.1:0 \
		--gateway-listen 127.0.0.1:0 --disable "$disable" --log-level info \
		>"$dir/stdout" 2>"$dir/log" &
	pid=$!
	PIDS+=("$pid")
	url=$(wait_line "$dir/stdout" 's/^llmo server listening on //p')
	echo -n "$(rss_kb "$pid") "
	cpu0=$(cpu_s "$pid")
	"$LOADGEN" --mode llmo --url "$url" --token-file "$dir/token" -n "$N" -c "$CONC" \
		--phases create >"$dir/loadgen.txt" ||
		{ cat "$dir/loadgen.txt" >&2; exit 1; }
	# the creates' rate: the gateway rebuilds its table on the server's threads meanwhile
	rate=$(sed -n 's/.* per_sec=\([0-9.]*\).*/\1/p' "$dir/loadgen.txt")
	# the table changes after each batch of changes; wait for the last one
	[[ $disable == *gateway* ]] || wait_table "$dir" "models=$N "
	cpu1=$(cpu_s "$pid")
	echo "  creates/s with $disable off: $rate; server CPU $(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }') s" >&2
	sleep "$SETTLE"
	rss_kb "$pid"
	[ "$PODS" -gt 0 ] && pods "$pid" "$url" "$dir" "$disable"
	kill "$pid"
	wait "$pid" || true
	PIDS=()
}

echo "workloads: $N LLMWorkloads, no pods; load average $(cut -d' ' -f1-3 /proc/loadavg)"
first=
for llmo in "$@"; do
	echo "== $llmo"
	with=$(run "$llmo" controller,scheduler,agent,registry)
	without=$(run "$llmo" controller,scheduler,agent,registry,gateway)
	# "START END" of each run: the gateway's share at start, and its growth with the workloads
	read -r w0 w1 <<<"$with"
	read -r o0 o1 <<<"$without"
	gw=$((w1 - o1))
	[ -n "$first" ] || first=$gw
	awk -v w0="$w0" -v w1="$w1" -v o0="$o0" -v o1="$o1" -v n="$N" -v first="$first" 'BEGIN {
		gw = w1 - o1; start = w0 - o0
		printf "  server with the gateway %.1f MB, without %.1f MB: the gateway %.1f MB (%.2fx the first binary'"'"'s),\n",
			w1 / 1024, o1 / 1024, gw / 1024, gw / first
		printf "  %.0f bytes per workload; %.1f MB of it at start, %.0f bytes per workload on top\n",
			gw * 1024 / n, start / 1024, (gw - start) * 1024 / n }'
done
