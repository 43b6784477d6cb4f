#!/usr/bin/env bash
# Benchmark of `llmo gateway` against Debian's nginx (proxy_pass to a keep-alive
# upstream) and against no proxy at all, in front of the same `llmo inference-sim`
# backends set to zero latency, all driven by wrk over loopback. Also the cost of
# reading "model" from a body (the gateway's scanner against jansson). See
# bench/gateway/README.md.
#
# Usage: bench/gateway/run.sh                 (from anywhere; about 6 minutes)
# Settings (environment):
#   DURATION=10      seconds of each wrk run
#   ROUNDS=3         rounds of direct / nginx / gateway runs, alternated so that
#                    background load falls on all three; the table shows medians
#   CONNS=64         connections of the throughput runs
#   LIGHT_CONNS=4    connections of the light-load (latency) runs
#   BIG_CONNS=1000   connections of the memory run
#   HALF=1           also the paced runs at half of the gateway's peak (0: skip)
#   RT=0             1: the paced runs in the real-time class (SCHED_FIFO 1: wrk, the
#                    backends and the proxies; needs root), so that other tenants of a
#                    shared machine do not make the tail; the kernel still leaves them 5%
#   THREADS=1        wrk threads
#   BACKENDS=1       inference-sim backends behind the proxies (direct uses the first)
#   NGINX_WORKERS=1  nginx worker processes (the gateway is one thread)
#   WRK_CPUS=0       CPUs wrk runs on, and SRV_CPUS=1-(N-1) those of the backends
#                    and proxies (taskset lists; with one CPU nothing is pinned);
#                    PROXY_CPUS=SRV_CPUS those of the proxies alone (PROXY_CPUS=0 on two
#                    CPUs: the proxy shares wrk's CPU instead of the backend's)
#   BUILDDIR=build-gwrel   where llmo is built (RelWithDebInfo, no sanitizers)
#   LLMO=PATH        run this llmo binary instead of building one (to compare two
#                    builds: run the script for each, alternated, and compare the tables)
# Writes nothing into the repository but the build directory.
set -euo pipefail

cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-64}
LIGHT_CONNS=${LIGHT_CONNS:-4}
BIG_CONNS=${BIG_CONNS:-1000}
HALF=${HALF:-1}
RT=${RT:-0}
THREADS=${THREADS:-1}
BACKENDS=${BACKENDS:-1}
NGINX_WORKERS=${NGINX_WORKERS:-1}
BUILDDIR=${BUILDDIR:-build-gwrel}
NCPU=$(nproc)
if [ "$NCPU" -ge 2 ]; then
	WRK_CPUS=${WRK_CPUS:-0}
	SRV_CPUS=${SRV_CPUS:-1-$((NCPU - 1))}
	WRK_PIN=(taskset -c "$WRK_CPUS")
	SRV_PIN=(taskset -c "$SRV_CPUS")
	PROXY_CPUS=${PROXY_CPUS:-$SRV_CPUS}
	PROXY_PIN=(taskset -c "$PROXY_CPUS")
else
	WRK_CPUS=all SRV_CPUS=all PROXY_CPUS=all WRK_PIN=() SRV_PIN=() PROXY_PIN=()
fi

# ---- what it needs: the build packages, wrk, nginx ------------------------------
scripts/setup.sh
. bench/lib.sh
need "wrk nginx" wrk nginx-light
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# ---- build (optimised, no sanitizers, no tests), unless LLMO names a binary -------
if [ -z "${LLMO:-}" ]; then
	cmake -S . -B "$BUILDDIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLMO_SANITIZE=OFF -DLLMO_FUZZ=OFF \
		-DLLMO_TESTS=OFF >/dev/null
	cmake --build "$BUILDDIR" -j"$(nproc)" --target llmo >/dev/null
	LLMO=$PWD/$BUILDDIR/llmo
fi

WORK=$(mktemp -d)
PIDS=()
cleanup() {
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

# The parse benchmark is built from its sources alone (no need for the whole library).
cc -O2 -D_GNU_SOURCE -std=c11 -Isrc -o "$WORK/parse" bench/gateway/parse.c src/gateway/body.c \
	src/base/buf.c src/base/clock.c src/base/error.c src/base/str.c src/base/vec.c $(pkg-config --libs jansson)

. bench/gateway/lib.sh # run from the repository root (the cd above)

# ---- backends, the gateway, nginx ------------------------------------------------
SIM_PORTS=()
for i in $(seq 1 "$BACKENDS"); do
	"${SRV_PIN[@]}" "$LLMO" inference-sim --port 0 --model llama2:7b --ttft-base 0 --ttft-per-token 0 --itl 0 \
		--max-batch 0 --log-level warn >"$WORK/sim$i.out" 2>"$WORK/sim$i.err" &
	PIDS+=($!)
	url=$(wait_line "$WORK/sim$i.out" 's/^inference-sim listening on //p')
	SIM_PORTS+=("${url##*:}")
done
{
	echo "models:"
	echo "  - name: llama2:7b"
	echo "    endpoints:"
	for p in "${SIM_PORTS[@]}"; do echo "      - address: 127.0.0.1:$p"; done
} >"$WORK/backends.yaml"
"${PROXY_PIN[@]}" "$LLMO" gateway --listen 127.0.0.1:0 --backends "$WORK/backends.yaml" --log-level warn \
	>"$WORK/gw.out" 2>"$WORK/gw.err" &
GW_PID=$!
PIDS+=($GW_PID)
GW_URL=$(wait_line "$WORK/gw.out" 's/^llmo gateway listening on //p')

NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx"
{
	echo "worker_processes $NGINX_WORKERS;"
	echo "worker_rlimit_nofile 65536;"
	echo "daemon off;"
	echo "pid $WORK/nginx/nginx.pid;"
	echo "error_log $WORK/nginx/error.log warn;"
	echo "events { worker_connections 16384; }"
	echo "http {"
	echo "  access_log off;"
	for t in client_body proxy fastcgi uwsgi scgi; do echo "  ${t}_temp_path $WORK/nginx/$t;"; done
	echo "  keepalive_requests 1000000;"
	echo "  upstream sims {"
	for p in "${SIM_PORTS[@]}"; do echo "    server 127.0.0.1:$p;"; done
	echo "    keepalive 1024;"
	echo "    keepalive_requests 1000000;"
	echo "  }"
	echo "  server {"
	echo "    listen 127.0.0.1:$NGINX_PORT;"
	echo "    client_max_body_size 1m;"
	echo "    location / {"
	echo "      proxy_pass http://sims;"
	echo "      proxy_http_version 1.1;"
	echo "      proxy_set_header Connection \"\";"
	echo "      proxy_buffering off;"
	echo "    }"
	echo "  }"
	echo "}"
} >"$WORK/nginx/nginx.conf"
"${PROXY_PIN[@]}" nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" 2>"$WORK/nginx/stderr" &
NGINX_PID=$!
PIDS+=($NGINX_PID)

post_lua "$WORK/post.lua"
declare -A URL=(
	[direct]="http://127.0.0.1:${SIM_PORTS[0]}/v1/chat/completions"
	[nginx]="http://127.0.0.1:$NGINX_PORT/v1/chat/completions"
	[gateway]="$GW_URL/v1/chat/completions"
)
for t in direct nginx gateway; do
	for _ in $(seq 1 100); do
		code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
			-d '{"model":"llama2:7b","prompt":"x","max_tokens":1}' "${URL[$t]/chat\//}" || true)
		[ "$code" = 200 ] && break
		sleep 0.1
	done
	[ "$code" = 200 ] || { echo "bench: $t answers $code"; exit 1; }
done

# ---- measuring -------------------------------------------------------------------
# CPU time (clock ticks, user + system) of the proxy under test: nothing for direct
proxy_ticks() {
	local total=0 p pids=()
	case $1 in
	gateway) pids=("$GW_PID") ;;
	nginx) pids=("$NGINX_PID" $(pgrep -P "$NGINX_PID" || true)) ;;
	esac
	for p in "${pids[@]}"; do
		total=$((total + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$total"
}
HZ=$(getconf CLK_TCK)
# run_wrk NAME CONNS [LABEL SCRIPT]: one wrk run; appends "NAME LABEL rps p50ms p99ms errors
# cpu_us_per_req" to results (LABEL: CONNS unless given; SCRIPT: post.lua unless given)
run_wrk() {
	local label=${3:-$2} script=${4:-$WORK/post.lua}
	local out="$WORK/wrk-$1-$label.txt" t0 t1
	t0=$(proxy_ticks "$1")
	"${WRK_PIN[@]}" wrk -t"$THREADS" -c"$2" -d"${DURATION}s" --latency -s "$script" \
		"${URL[$1]}" >"$out" 2>&1
	t1=$(proxy_ticks "$1")
	awk -v name="$1" -v conns="$label" -v ticks=$((t1 - t0)) -v hz="$HZ" '
		function ms(v) {
			if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
			if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
			if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
			return v
		}
		/Latency Distribution/ { dist = 1 }
		dist && $1 == "50%" { p50 = ms($2) }
		dist && $1 == "99%" { p99 = ms($2) }
		/Requests\/sec:/ { rps = $2 }
		/requests in/ { reqs = $1 }
		/Non-2xx or 3xx responses:/ { errors += $NF }
		/Socket errors:/ { gsub(",", ""); errors += $4 + $6 + $8 + $10 }
		END { printf "%s %s %.0f %.3f %.3f %d %.2f\n", name, conns, rps, p50, p99, errors,
			(reqs > 0) ? ticks / hz * 1e6 / reqs : 0 }
	' "$out" >>"$WORK/results"
	tail -n 1 "$WORK/results" | awk '{ printf "  %-8s c=%-5s %8s req/s  p50 %s ms  p99 %s ms  errors %s  proxy CPU %s us/req\n", $1, $2, $3, $4, $5, $6, $7 }'
}
# column_median COLUMN NAME CONNS
column_median() {
	awk -v n="$2" -v c="$3" -v col="$1" '$1 == n && $2 == c { print $col }' "$WORK/results" | median
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# the RSS of nginx: master and workers
nginx_rss_kb() {
	local total=0 p
	for p in $NGINX_PID $(pgrep -P "$NGINX_PID" || true); do total=$((total + $(rss_kb "$p"))); done
	echo "$total"
}
# "PSS ANON" kB of the proxy under test (nginx: summed over its processes; PSS counts a page
# shared by n processes as 1/n, so shared-library pages weigh what they cost the machine)
pss_anon_kb() {
	local pids=("$GW_PID") p
	[ "$1" = nginx ] && pids=("$NGINX_PID" $(pgrep -P "$NGINX_PID" || true))
	for p in "${pids[@]}"; do cat "/proc/$p/smaps_rollup" 2>/dev/null; done |
		awk '/^Pss:/ { pss += $2 } /^Anonymous:/ { anon += $2 } END { print pss + 0, anon + 0 }'
}

echo "bench: load average $(cut -d' ' -f1-3 /proc/loadavg) before the runs"
echo "bench: $NCPU CPUs (wrk on $WRK_CPUS, backends on $SRV_CPUS, proxies on $PROXY_CPUS), $BACKENDS backend(s), wrk -t$THREADS, ${DURATION}s per run, $ROUNDS rounds"
GW_IDLE_KB=$(rss_kb "$GW_PID")
GW_IDLE_ANON_KB=$(awk '/^RssAnon:/ { print $2 }' "/proc/$GW_PID/status")
for r in $(seq 1 "$ROUNDS"); do
	echo "round $r"
	for t in direct nginx gateway; do run_wrk "$t" "$CONNS"; done
	for t in direct nginx gateway; do run_wrk "$t" "$LIGHT_CONNS"; done
done

# Added latency at half of the peak: Debian's wrk 4.1 has no -R (that is wrk2), but its
# script may pace each connection with delay() (ms before the next request). CONNS
# connections, each waiting CONNS/RATE s on average (drawn so the mean is exact at ms
# resolution), offer about RATE requests/s where RATE is half the gateway's median peak at
# CONNS; a little less in fact (the service time adds to each cycle), which the table shows.
# wrk's latency excludes the delay, and no request waits behind another: the p99 is the
# path's own. Direct, nginx and gateway alternate over the rounds, like the peak runs.
if [ "$HALF" = 1 ]; then
	HALF_RATE=$(column_median 3 gateway "$CONNS" | awk '{ printf "%d", $1 / 2 }')
	awk -v c="$CONNS" -v r="$HALF_RATE" 'BEGIN { printf "local d = %.4f\n", c * 1000 / r }' \
		>"$WORK/paced.lua"
	cat "$WORK/post.lua" >>"$WORK/paced.lua"
	echo 'function delay() return math.floor(d + math.random()) end' >>"$WORK/paced.lua"
	echo "paced at about $HALF_RATE requests/s (half the gateway's peak), $CONNS connections"
	SAVED_PIN=("${WRK_PIN[@]}")
	if [ "$RT" = 1 ]; then
		# every thread of the servers and wrk at SCHED_FIFO 1 for these runs only
		for p in "${PIDS[@]}" $(pgrep -P "$NGINX_PID" || true); do chrt -a -f -p 1 "$p" >/dev/null; done
		WRK_PIN=(chrt -f 1 "${WRK_PIN[@]}")
		echo "paced runs in the real-time class (SCHED_FIFO 1)"
	fi
	for r in $(seq 1 "$ROUNDS"); do
		for t in direct nginx gateway; do run_wrk "$t" "$CONNS" half "$WORK/paced.lua"; done
	done
	if [ "$RT" = 1 ]; then
		for p in "${PIDS[@]}" $(pgrep -P "$NGINX_PID" || true); do chrt -a -o -p 0 "$p" >/dev/null; done
		WRK_PIN=("${SAVED_PIN[@]}")
	fi
fi

# memory with BIG_CONNS connections open: sample while wrk runs
echo "memory, $BIG_CONNS connections"
for t in nginx gateway; do
	peak=0 peak_pss="0 0"
	run_wrk "$t" "$BIG_CONNS" &
	wpid=$!
	while kill -0 "$wpid" 2>/dev/null; do
		if [ "$t" = gateway ]; then kb=$(rss_kb "$GW_PID"); else kb=$(nginx_rss_kb); fi
		if [ "$kb" -gt "$peak" ]; then peak=$kb peak_pss=$(pss_anon_kb "$t"); fi
		sleep 0.2
	done
	wait "$wpid"
	eval "PEAK_$t=$peak"
	eval "PSS_$t=${peak_pss% *} ANON_$t=${peak_pss#* }"
done
GW_HWM_KB=$(awk '/^VmHWM:/ { print $2 }' "/proc/$GW_PID/status")
GW_END_ANON_KB=$(awk '/^RssAnon:/ { print $2 }' "/proc/$GW_PID/status")

# ---- the table -------------------------------------------------------------------
f2() { awk -v a="$1" 'BEGIN { printf "%.2f", a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
for c in "$CONNS" "$LIGHT_CONNS" "$BIG_CONNS" half; do
	for t in direct nginx gateway; do
		eval "RPS_${t}_$c=$(column_median 3 "$t" "$c")"
		eval "P50_${t}_$c=$(column_median 4 "$t" "$c")"
		eval "P99_${t}_$c=$(column_median 5 "$t" "$c")"
		eval "CPU_${t}_$c=$(column_median 7 "$t" "$c")"
	done
done
v() { eval "echo \${$1:-}"; }
ERRORS=$(awk '{ s += $6 } END { print s + 0 }' "$WORK/results")

echo
echo "## llmo gateway vs nginx vs direct ($(date -u +%Y-%m-%d), $NCPU CPUs, medians of $ROUNDS rounds)"
echo
echo "| | direct | nginx | llmo gateway | gateway/nginx |"
echo "| --- | --- | --- | --- | --- |"
for c in "$CONNS" "$LIGHT_CONNS"; do
	echo "| requests/s, $c connections | $(v RPS_direct_$c) | $(v RPS_nginx_$c) | $(v RPS_gateway_$c) | $(ratio "$(v RPS_gateway_$c)" "$(v RPS_nginx_$c)") |"
	echo "| p50 / p99 ms, $c connections | $(f2 "$(v P50_direct_$c)") / $(f2 "$(v P99_direct_$c)") | $(f2 "$(v P50_nginx_$c)") / $(f2 "$(v P99_nginx_$c)") | $(f2 "$(v P50_gateway_$c)") / $(f2 "$(v P99_gateway_$c)") | |"
	echo "| proxy CPU µs per request, $c connections | | $(v CPU_nginx_$c) | $(v CPU_gateway_$c) | $(ratio "$(v CPU_gateway_$c)" "$(v CPU_nginx_$c)") |"
done
echo "| requests/s, $BIG_CONNS connections | | $(v RPS_nginx_$BIG_CONNS) | $(v RPS_gateway_$BIG_CONNS) | $(ratio "$(v RPS_gateway_$BIG_CONNS)" "$(v RPS_nginx_$BIG_CONNS)") |"
echo "| p50 / p99 ms, $BIG_CONNS connections | | $(f2 "$(v P50_nginx_$BIG_CONNS)") / $(f2 "$(v P99_nginx_$BIG_CONNS)") | $(f2 "$(v P50_gateway_$BIG_CONNS)") / $(f2 "$(v P99_gateway_$BIG_CONNS)") | |"
echo "| RSS MB, $BIG_CONNS connections (peak sampled) | | $(mb "$PEAK_nginx") | $(mb "$PEAK_gateway") | |"
echo "| PSS / anonymous MB at that sample | | $(mb "$PSS_nginx") / $(mb "$ANON_nginx") | $(mb "$PSS_gateway") / $(mb "$ANON_gateway") | |"
if [ "$HALF" = 1 ]; then
	echo "| requests/s, $CONNS connections paced to half the gateway's peak ($HALF_RATE) | $(v RPS_direct_half) | $(v RPS_nginx_half) | $(v RPS_gateway_half) | |"
	echo "| p50 / p99 ms, paced to half the peak | $(f2 "$(v P50_direct_half)") / $(f2 "$(v P99_direct_half)") | $(f2 "$(v P50_nginx_half)") / $(f2 "$(v P99_nginx_half)") | $(f2 "$(v P50_gateway_half)") / $(f2 "$(v P99_gateway_half)") | |"
	echo "| proxy CPU µs per request, paced | | $(v CPU_nginx_half) | $(v CPU_gateway_half) | $(ratio "$(v CPU_gateway_half)" "$(v CPU_nginx_half)") |"
fi
echo
echo "Gateway RSS: $(mb "$GW_IDLE_KB") MB idle ($(mb "$GW_IDLE_ANON_KB") MB of it anonymous, the rest the shared libraries' pages)," \
	"$(mb "$GW_HWM_KB") MB high-water mark over the whole run ($(mb "$GW_END_ANON_KB") MB anonymous at the end)."
for c in "$CONNS" "$LIGHT_CONNS"; do
	echo "Added over direct at $c connections: gateway p50 +$(f2 "$(awk -v a="$(v P50_gateway_$c)" -v b="$(v P50_direct_$c)" 'BEGIN { print a - b }')") ms," \
		"p99 +$(f2 "$(awk -v a="$(v P99_gateway_$c)" -v b="$(v P99_direct_$c)" 'BEGIN { print a - b }')") ms;" \
		"nginx p50 +$(f2 "$(awk -v a="$(v P50_nginx_$c)" -v b="$(v P50_direct_$c)" 'BEGIN { print a - b }')") ms," \
		"p99 +$(f2 "$(awk -v a="$(v P99_nginx_$c)" -v b="$(v P99_direct_$c)" 'BEGIN { print a - b }')") ms."
done
if [ "$HALF" = 1 ]; then
	echo "Added over direct at half the peak ($HALF_RATE requests/s offered, $CONNS connections):" \
		"gateway p50 +$(f2 "$(awk -v a="$(v P50_gateway_half)" -v b="$(v P50_direct_half)" 'BEGIN { print a - b }')") ms," \
		"p99 +$(f2 "$(awk -v a="$(v P99_gateway_half)" -v b="$(v P99_direct_half)" 'BEGIN { print a - b }')") ms;" \
		"nginx p50 +$(f2 "$(awk -v a="$(v P50_nginx_half)" -v b="$(v P50_direct_half)" 'BEGIN { print a - b }')") ms," \
		"p99 +$(f2 "$(awk -v a="$(v P99_nginx_half)" -v b="$(v P99_direct_half)" 'BEGIN { print a - b }')") ms." \
		"p99 ms per round (direct / nginx / gateway):" \
		"$(awk '$2 == "half" { printf "%s%s", (n % 3) ? " / " : (n ? "; " : ""), $5; n++ }' "$WORK/results")."
fi
echo "Non-2xx answers and socket errors over all runs: $ERRORS."
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)$([ "$RT" = 1 ] && [ "$HALF" = 1 ] && echo "; the paced runs ran at SCHED_FIFO 1")."
echo
echo "## Reading \"model\": the gateway's scanner against jansson"
echo
"$WORK/parse"
