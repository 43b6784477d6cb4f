#!/usr/bin/env bash
# Benchmark of llmo server's API against etcd, measured by one client
# (llmo-loadgen) over HTTP/1.1 on loopback. See bench/README.md.
#
# Usage: bench/apiserver/run.sh            (from anywhere; about 3 minutes)
# Settings (environment):
#   N=10000        objects created (llmo) / keys put (etcd); also the number of gets
#   ROUNDS=5       the writes are made in this many rounds of N/ROUNDS, alternating
#                  etcd and llmo, so that both see the same background load
#   CONC=8         a second write pass at this concurrency on both sides (0: skip)
#   WATCHERS=100   watch streams for the fan-out phase
#   EVENTS=100     objects created while they watch
#   TLS_N=1000     creates and gets of the separate HTTPS pass (llmo server only)
#   BUILDDIR=build-bench   where llmo and llmo-loadgen are built (RelWithDebInfo, no sanitizers)
#
# Durability is each side's default: etcd fsyncs its WAL before answering a put
# (no --unsafe-no-fsync); llmo server commits each write in one SQLite
# transaction with synchronous=FULL (WAL mode, fsync at every commit).
# Prints a results table; writes nothing into the repository but the build dir.
set -euo pipefail

cd "$(dirname "$0")/../.."
N=${N:-10000}
ROUNDS=${ROUNDS:-5}
CONC=${CONC:-8}
WATCHERS=${WATCHERS:-100}
EVENTS=${EVENTS:-100}
TLS_N=${TLS_N:-1000}
BUILDDIR=${BUILDDIR:-build-bench}
if [ $((N % ROUNDS)) -ne 0 ]; then echo "bench: N must be a multiple of ROUNDS" >&2; exit 2; fi

# ---- what it needs: the build packages, curl, etcd -------------------------
scripts/setup.sh
. bench/lib.sh
need etcd etcd-server

# ---- build (optimised, no sanitizers, no tests) ----------------------------
cmake -S . -B "$BUILDDIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLMO_SANITIZE=OFF \
	-DLLMO_FUZZ=OFF -DLLMO_TESTS=OFF -DLLMO_BENCH=ON >/dev/null
cmake --build "$BUILDDIR" -j"$(nproc)" --target llmo llmo-loadgen >/dev/null
LLMO=$PWD/$BUILDDIR/llmo
LOADGEN=$PWD/$BUILDDIR/bench/llmo-loadgen

# ---- helpers ----------------------------------------------------------------
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

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 30000))
		if port_free "$p"; then echo "$p"; return 0; fi
	done
	echo "bench: no free port" >&2; return 1
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
wait_http() { # URL [curl args]
	local url=$1; shift
	# up to 30 s: etcd's first leader election takes seconds on a loaded machine
	for _ in $(seq 1 600); do
		curl -sf "$@" "$url" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "bench: $url does not answer" >&2; return 1
}

# llmo_start [args]: starts llmo server; sets LLMO_PID, LLMO_URL, LLMO_DIR
llmo_start() {
	LLMO_DIR=$(mktemp -d "$WORK/llmo.XXXXXX")
	: >"$LLMO_DIR/stdout" # exists before the background child opens it
	# the API alone: the controller would act on the workloads the bench creates, and the
	# gateway would follow each one (on this process's CPUs, with its own memory)
	"$LLMO" server --data-dir "$LLMO_DIR" --listen 127.0.0.1:0 --log-level warn \
		--disable controller,scheduler,agent,gateway,registry "$@" \
		>"$LLMO_DIR/stdout" 2>"$LLMO_DIR/log" &
	LLMO_PID=$!
	PIDS+=("$LLMO_PID")
	LLMO_URL=
	for _ in $(seq 1 200); do
		LLMO_URL=$(sed -n 's/^llmo server listening on //p' "$LLMO_DIR/stdout")
		[ -n "$LLMO_URL" ] && break
		kill -0 "$LLMO_PID" 2>/dev/null || { cat "$LLMO_DIR/log"; exit 1; }
		sleep 0.05
	done
	[ -n "$LLMO_URL" ] || { echo "bench: llmo server did not start" >&2; exit 1; }
	wait_http "$LLMO_URL/healthz" --cacert "$LLMO_DIR/pki/ca.crt"
}
llmo_stop() {
	kill "$LLMO_PID"
	wait "$LLMO_PID" || { echo "bench: llmo server exited with an error" >&2; tail "$LLMO_DIR/log"; }
}

# field FILE PHASE KEY: the value of KEY on the last RESULT line of PHASE
field() {
	awk -v ph="phase=$2" -v k="$3" '$1 == "RESULT" && $3 == ph {
		for (i = 4; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] } }' "$1" | tail -1
}
# rate FILE PHASE: successful requests / seconds over all RESULT lines of PHASE
rate() {
	awk -v ph="phase=$2" '$1 == "RESULT" && $3 == ph {
		for (i = 4; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		ok += v["n"] - v["errors"]; s += v["seconds"] }
		END { if (s > 0) printf "%.1f", ok / s }' "$1"
}
# rounds FILE PHASE: the per-round rates, for the spread
rounds() {
	awk -v ph="phase=$2" '$1 == "RESULT" && $3 == ph {
		for (i = 4; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "per_sec") printf "%.0f ", kv[2] } }' "$1"
}
# pct RAWFILE PHASE P: nearest-rank percentile (ms) of the raw latencies of PHASE
pct() {
	awk -v ph="$2" '$1 == ph {print $2}' "$1" | sort -n |
		awk -v p="$3" '{v[NR] = $1} END { if (!NR) exit; r = int((p * NR + 99) / 100); if (r < 1) r = 1;
			printf "%.3f", v[r] / 1e6 }'
}
loadgen() { # OUTFILE args...: runs llmo-loadgen, keeps and shows its RESULT lines
	local out=$1; shift
	"$LOADGEN" "$@" | tee -a "$out"
}

echo "bench: N=$N in $ROUNDS rounds, concurrency 1 and $CONC, $WATCHERS watchers x $EVENTS events, $(nproc) CPUs"

# ---- start etcd and llmo server (HTTP) ------------------------------------------
ETCD_DIR=$(mktemp -d "$WORK/etcd.XXXXXX")
EC=$(free_port)
EP=$(free_port)
while [ "$EP" = "$EC" ]; do EP=$(free_port); done
etcd --name bench --data-dir "$ETCD_DIR/data" \
	--listen-client-urls "http://127.0.0.1:$EC" --advertise-client-urls "http://127.0.0.1:$EC" \
	--listen-peer-urls "http://127.0.0.1:$EP" --initial-advertise-peer-urls "http://127.0.0.1:$EP" \
	--initial-cluster "bench=http://127.0.0.1:$EP" --log-level warn >"$ETCD_DIR/log" 2>&1 &
ETCD_PID=$!
PIDS+=("$ETCD_PID")
wait_http "http://127.0.0.1:$EC/health"
ETCD_VERSION=$(etcd --version | awk '/etcd Version/ {print $3}')
ETCD=(--mode etcd --url "http://127.0.0.1:$EC")

llmo_start --insecure-http
LL=(--url "$LLMO_URL" --token-file "$LLMO_DIR/token")

E=$WORK/etcd.txt L=$WORK/llmo.txt ER=$WORK/etcd.raw LR=$WORK/llmo.raw

# ---- writes, one connection, in alternating rounds ---------------------------
PER=$((N / ROUNDS))
echo "== $N creates (llmo) and $N puts (etcd $ETCD_VERSION), 1 connection, $ROUNDS rounds"
for r in $(seq 0 $((ROUNDS - 1))); do
	args=(-n "$PER" --offset $((r * PER)) --phases create)
	if [ $((r % 2)) -eq 0 ]; then
		loadgen "$E" "${ETCD[@]}" "${args[@]}" --raw "$ER"
		loadgen "$L" "${LL[@]}" "${args[@]}" --raw "$LR"
	else
		loadgen "$L" "${LL[@]}" "${args[@]}" --raw "$LR"
		loadgen "$E" "${ETCD[@]}" "${args[@]}" --raw "$ER"
	fi
done
LLMO_RSS=$(rss_kb "$LLMO_PID")
ETCD_RSS=$(rss_kb "$ETCD_PID")

# ---- gets, lists, watch ------------------------------------------------------------
echo "== $N gets and a list of all, each side; watch fan-out (llmo)"
loadgen "$E" "${ETCD[@]}" -n "$N" --phases get,list --raw "$ER"
loadgen "$L" "${LL[@]}" -n "$N" --phases get,list --raw "$LR"
LLMO_RSS_LIST=$(rss_kb "$LLMO_PID")
loadgen "$L" "${LL[@]}" -n "$N" --watchers "$WATCHERS" --events "$EVENTS" --phases watch

# ---- writes, CONC connections ------------------------------------------------------
if [ "$CONC" -gt 0 ]; then
	EC8=$WORK/etcd-c.txt LC8=$WORK/llmo-c.txt ECR=$WORK/etcd-c.raw LCR=$WORK/llmo-c.raw
	echo "== $N creates and $N puts at concurrency $CONC, $ROUNDS rounds"
	for r in $(seq 0 $((ROUNDS - 1))); do
		args=(-n "$PER" --offset $((r * PER)) -c "$CONC" --prefix benchc --phases create)
		if [ $((r % 2)) -eq 0 ]; then
			loadgen "$EC8" "${ETCD[@]}" "${args[@]}" --raw "$ECR"
			loadgen "$LC8" "${LL[@]}" "${args[@]}" --raw "$LCR"
		else
			loadgen "$LC8" "${LL[@]}" "${args[@]}" --raw "$LCR"
			loadgen "$EC8" "${ETCD[@]}" "${args[@]}" --raw "$ECR"
		fi
	done
fi
# the kernel updates VmHWM lazily: never report a peak below an RSS already read
LLMO_HWM=$(hwm_kb "$LLMO_PID")
LLMO_HWM=$((LLMO_HWM > LLMO_RSS_LIST ? LLMO_HWM : LLMO_RSS_LIST))
ETCD_HWM=$(hwm_kb "$ETCD_PID")
llmo_stop
kill "$ETCD_PID"; wait "$ETCD_PID" 2>/dev/null || true

# ---- llmo server over HTTPS (reported apart: TLS is not in the comparison) ---
S=$WORK/llmo-tls.txt
echo "== llmo server (HTTPS): $TLS_N creates, $TLS_N gets, list"
llmo_start
loadgen "$S" --url "$LLMO_URL" --token-file "$LLMO_DIR/token" --cacert "$LLMO_DIR/pki/ca.crt" \
	-n "$TLS_N" --phases create,get,list
llmo_stop

# ---- results ------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
bytes_mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
row() { printf '%-34s %16s %16s %10s %18s\n' "$@"; }
LC=$(rate "$L" create) ECR1=$(rate "$E" create) LG=$(rate "$L" get) EG=$(rate "$E" get)

echo
echo "Results: N=$N, $(nproc) CPUs, $(date -u +%Y-%m-%d), one client over HTTP/1.1 keep-alive on loopback"
row "" "llmo (HTTP)" "etcd $ETCD_VERSION" "llmo/etcd" "llmo HTTPS n=$TLS_N"
row "creates|puts/s, 1 connection" "$LC" "$ECR1" "$(ratio "$LC" "$ECR1")" "$(field "$S" create per_sec)"
row "  latency p50 / p99 ms" "$(pct "$LR" create 50) / $(pct "$LR" create 99)" \
	"$(pct "$ER" create 50) / $(pct "$ER" create 99)" "" \
	"$(field "$S" create p50_ms) / $(field "$S" create p99_ms)"
row "  per round /s" "$(rounds "$L" create)" "$(rounds "$E" create)" "" ""
if [ "$CONC" -gt 0 ]; then
	LCC=$(rate "$LC8" create) ECC=$(rate "$EC8" create)
	row "creates|puts/s, $CONC connections" "$LCC" "$ECC" "$(ratio "$LCC" "$ECC")" ""
	row "  latency p50 / p99 ms" "$(pct "$LCR" create 50) / $(pct "$LCR" create 99)" \
		"$(pct "$ECR" create 50) / $(pct "$ECR" create 99)" "" ""
	row "  per round /s" "$(rounds "$LC8" create)" "$(rounds "$EC8" create)" "" ""
fi
row "gets/s, 1 connection" "$LG" "$EG" "$(ratio "$LG" "$EG")" "$(field "$S" get per_sec)"
row "  latency p50 / p99 ms" "$(pct "$LR" get 50) / $(pct "$LR" get 99)" \
	"$(pct "$ER" get 50) / $(pct "$ER" get 99)" "" \
	"$(field "$S" get p50_ms) / $(field "$S" get p99_ms)"
row "list of all: p50 ms" "$(field "$L" list p50_ms)" "$(field "$E" list p50_ms)" \
	"$(ratio "$(field "$L" list p50_ms)" "$(field "$E" list p50_ms)")" "$(field "$S" list p50_ms)"
row "  items / MB" "$(field "$L" list items) / $(bytes_mb "$(field "$L" list bytes)")" \
	"$(field "$E" list items) / $(bytes_mb "$(field "$E" list bytes)")" "" \
	"$(field "$S" list items) / $(bytes_mb "$(field "$S" list bytes)")"
row "RSS MB after $N objects" "$(mb "$LLMO_RSS")" "$(mb "$ETCD_RSS")" "$(ratio "$LLMO_RSS" "$ETCD_RSS")" ""
row "  RSS MB after the gets and lists" "$(mb "$LLMO_RSS_LIST")" "" "" ""
row "  peak RSS MB (at the end)" "$(mb "$LLMO_HWM")" "$(mb "$ETCD_HWM")" "" ""
echo
echo "Watch fan-out (llmo, HTTP): $(field "$L" watch watchers) watchers x $(field "$L" watch events) creates," \
	"$(field "$L" watch deliveries) deliveries, $(field "$L" watch missing) missing, $(field "$L" watch duplicates) duplicates"
echo "  lag from create sent to event read, per delivery: p50 $(field "$L" watch lag_p50_ms) ms, p99 $(field "$L" watch lag_p99_ms) ms"
echo "  until the last watcher has it, per event:         p50 $(field "$L" watch all_p50_ms) ms, p99 $(field "$L" watch all_p99_ms) ms"
echo "  create latency while watched:                     p50 $(field "$L" watch create_p50_ms) ms, p99 $(field "$L" watch create_p99_ms) ms"
echo
echo "Durability: etcd fsyncs its WAL before answering each put (default; no --unsafe-no-fsync);"
echo "llmo server commits with synchronous=FULL (fsync per commit); the writes of one event-loop pass share a commit."
echo
goal() { # description, a, b, awk condition on a and b
	if awk -v a="$2" -v b="$3" "BEGIN { exit !($4) }"; then echo "  MET      $1"; else echo "  NOT MET  $1"; fi
}
echo "Goals:"
goal "more creates/s than etcd puts/s at equal durability, 1 connection ($LC vs $ECR1)" \
	"$LC" "$ECR1" "a > b"
if [ "$CONC" -gt 0 ]; then
	goal "  ... and with $CONC connections ($LCC vs $ECC)" "$LCC" "$ECC" "a > b"
fi
goal "p99 get under 1 ms ($(pct "$LR" get 99) ms)" "$(pct "$LR" get 99)" 0 "a < 1"
goal "under 100 MB RSS at $N objects ($(mb "$LLMO_RSS") MB)" "$LLMO_RSS" 0 "a < 100 * 1024"
goal "  ... and still after serving gets and lists of them ($(mb "$LLMO_RSS_LIST") MB)" \
	"$LLMO_RSS_LIST" 0 "a < 100 * 1024"
