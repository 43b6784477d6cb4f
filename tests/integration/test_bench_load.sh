#!/usr/bin/env bash
# `llmo bench load` against `llmo inference-sim` on loopback. The simulator's
# latency model (docs/inference-sim.md) gives hard lower bounds: with
# --ttft-base 20ms --ttft-per-token 0 --itl 1ms and max_tokens n, a stream's
# first token leaves 20 ms after the request arrives and the answer ends at
# 20 + n ms; with --max-batch far above the concurrency nothing queues. The
# upper bounds allow 40 ms of loopback, scheduling and sanitizer overhead
# (measured: 5 ms on a loaded 2-core machine under ASan).
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SIM_PID=
SIM_LOG="$LLMO_DATA/sim.log"
OUT="$LLMO_DATA/bench.json"
ERR="$LLMO_DATA/bench.err"

sim_stop() {
	[ -n "$SIM_PID" ] || return 0
	kill "$SIM_PID" 2>/dev/null
	wait "$SIM_PID"
	local rc=$?
	if [ "$rc" -eq 0 ]; then ok; else bad "inference-sim exited with status $rc"; tail -40 "$SIM_LOG"; fi
	SIM_PID=
}
sim_start() { # flags for llmo inference-sim; sets SIM_URL
	sim_stop
	: >"$LLMO_DATA/sim.out"
	"$LLMO" inference-sim --port 0 "$@" >"$LLMO_DATA/sim.out" 2>>"$SIM_LOG" &
	SIM_PID=$!
	SIM_URL=
	for _ in $(seq 1 200); do
		SIM_URL=$(sed -n 's/^inference-sim listening on //p' "$LLMO_DATA/sim.out")
		[ -n "$SIM_URL" ] && return 0
		kill -0 "$SIM_PID" 2>/dev/null || { echo "inference-sim exited:"; cat "$SIM_LOG"; exit 1; }
		sleep 0.05
	done
	echo "inference-sim did not start"; cat "$SIM_LOG"; kill "$SIM_PID"; exit 1
}
trap '[ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null' EXIT
bench() { # bench ARGS...: llmo bench load --json into $OUT, stderr into $ERR
	"$LLMO" bench load --json "$@" >"$OUT" 2>"$ERR"
}
successes() { # the simulator's vllm:request_success_total, all models
	curl -s "$SIM_URL/metrics" | awk '$1 ~ /^vllm:request_success_total\{/ { s += $2 } END { print s + 0 }'
}
expect() { # expect "description" PYTHON-ASSERTIONS (r is the report)
	local what=$1 code=$2
	if $PY -c "
import json, math, sys
r = json.load(open('$OUT'))
$code" >"$LLMO_DATA/py.out" 2>&1; then ok; else
		bad "$what"; sed 's/^/    /' "$LLMO_DATA/py.out" "$OUT" "$ERR" | head -60
	fi
}

sim_start --ttft-base 20ms --ttft-per-token 0 --itl 1ms --max-batch 1024

# ---- Poisson, streamed: count, token totals, TTFT and latency bounds, progress ----
# 20/s for 6 s: the count is Poisson with mean 120 (sd 11); seed 3 fixes it,
# and any seed is within 4.5 sd (+-49) but for a chance of 7e-6.
check "bench load --rate --stream runs" bench --target "$SIM_URL" --rate 20 --duration 6s \
	--seed 3 --prompt-tokens 50 --max-tokens 10 --stream --slo-ttft 1s
expect "Poisson count and totals" '
n = r["sent"]
assert abs(n - 120) <= 49, n
assert r["completed"] == n and r["failed"] == 0 and r["in_flight"] == 0, r
assert r["completion_tokens"] == 10 * n, r   # the usage of each stream
assert r["prompt_tokens"] == 50 * n, r
assert r["stream"] is True and r["model"] == "llama2:7b", r
assert r["target"].endswith("/v1/completions"), r
assert r["late"] <= n // 10, r   # a loaded machine may stall the loop past 10 ms now and then
assert 5.0 <= r["duration_s"] < 8, r
assert abs(r["requests_per_second"] - n / r["duration_s"]) < 0.01 * r["requests_per_second"], r
# --slo-ttft 1s: every TTFT is under 20 + 40 ms (below), so all of them are within it
assert r["slo_ttft_ms"] == 1000 and r["within_slo"] == n and r["within_slo_pct"] == 100, r'
expect "streamed TTFT and latency within the simulator's bounds" '
t, l = r["ttft_ms"], r["latency_ms"]
assert t["min"] >= 20, t          # first token: ttft-base
assert t["p50"] <= t["p90"] <= t["p95"] <= t["p99"] <= t["max"], t
assert t["p50"] < 20 + 40, t
assert l["min"] >= 30, l          # 20 ms + 10 tokens x 1 ms
assert l["p50"] < 30 + 40, l
assert l["min"] - t["min"] >= 9, (t, l)   # the last token comes >= 9 itl after the first'
# stderr is not a terminal: one progress line every 5 s
check "progress line on stderr" grep -q '^bench load: 5s sent [0-9]* completed' "$ERR"

# ---- not streamed: TTFT is the first body byte, the answer comes whole at the end ----
check "bench load without --stream runs" bench --target "$SIM_URL" --rate 20 --duration 1s \
	--seed 5 --max-tokens 20 --slo-ttft 10ms
expect "unstreamed TTFT and latency" '
assert r["within_slo"] == 0 and r["within_slo_pct"] == 0, r   # no TTFT is under 40 ms
t, l = r["ttft_ms"], r["latency_ms"]
assert r["completed"] == r["sent"] > 0 and r["completion_tokens"] == 20 * r["sent"], r
assert t["min"] >= 40 and l["min"] >= 40, r   # 20 ms + 20 x 1 ms, sent at once
assert l["p50"] < 40 + 40, r'

# ---- errors: the simulator fails a share of requests; counted by status ----
sim_start --ttft-base 1ms --ttft-per-token 0 --itl 0 --error-rate 0.5 --seed 9
check "bench load with failures runs" bench --target "$SIM_URL" --model llama2:7b \
	--rate 200 --duration 60s --limit 100 --max-tokens 3
expect "failures counted by status" '
assert r["sent"] == 100, r
assert r["completed"] + r["failed"] == 100, r
assert r["failures"]["status"] == {"500": r["failed"]}, r
assert all(v == 0 for v in r["failures"]["kind"].values()), r
# binomial(100, 0.5): sd 5; the simulator seed fixes the draw
assert 25 <= r["failed"] <= 75, r'
SUCC=$(successes)
COMPLETED=$($PY -c "import json; print(json.load(open('$OUT'))['completed'])")
[ "$SUCC" = "$COMPLETED" ] && ok || bad "completed $COMPLETED, the simulator counted $SUCC successes"

# ---- open loop: one connection, requests due every ~20 ms, each takes 50 ms: late ----
sim_start --ttft-base 50ms --ttft-per-token 0 --itl 0
check "bench load --concurrency-max 1 runs" bench --target "$SIM_URL" --rate 50 --duration 1s \
	--seed 2 --max-tokens 1 --concurrency-max 1 --slo-ttft 100ms
expect "late starts counted, none lost" '
# the first request takes 50 ms (within 100 ms), the backlog pushes later ones past it
assert 1 <= r["within_slo"] < r["sent"], r
assert abs(r["within_slo_pct"] - 100 * r["within_slo"] / r["sent"]) < 1e-3, r
assert r["completed"] == r["sent"] > 10, r
assert r["late"] >= r["sent"] // 2, r
assert r["late_max_ms"] > 100, r
# latency counts from the scheduled time: the backlog shows in it
assert r["latency_ms"]["max"] > 100, r'

# ---- trace replay: arrivals, prompts, max_tokens, --speedup, --limit, --max-tokens-cap ----
TRACE="$LLMO_DATA/trace.csv"
cat >"$TRACE" <<'CSV'
TIMESTAMP,ContextTokens,GeneratedTokens
2023-11-16 18:15:46.0000000,100,5
2023-11-16 18:15:46.2000000,200,7
2023-11-16 18:15:46.4000000,0,0
2023-11-16 18:15:46.6000000,50,40
2023-11-16 18:15:46.8000000,10,2
CSV
check "bench load --trace runs" bench --target "$SIM_URL" --trace "$TRACE" --speedup 2
expect "trace replay" '
assert r["sent"] == 5 and r["completed"] == 5, r
assert r["prompt_tokens"] == 100 + 200 + 1 + 50 + 10, r   # an empty prompt is sent as 1 token
assert r["completion_tokens"] == 5 + 7 + 1 + 40 + 2, r
assert r["duration_s"] >= 0.4 + 0.05, r   # last arrival 0.8 s / 2, then a 50 ms answer
assert r["duration_s"] < 0.4 + 2, r'
check "bench load --trace --limit --max-tokens-cap runs" bench --target "$SIM_URL" \
	--trace "$TRACE" --speedup 4 --limit 4 --max-tokens-cap 6 --stream
expect "trace replay with a limit and a cap" '
assert r["sent"] == 4 and r["completed"] == 4, r
assert r["completion_tokens"] == 5 + 6 + 1 + 6, r'
# the same requests as a Mooncake trace (JSON Lines, timestamps in ms, in another order)
cat >"$LLMO_DATA/trace.jsonl" <<'JSONL'
{"timestamp": 1000, "input_length": 200, "output_length": 7, "hash_ids": [0, 1]}
{"timestamp": 800, "input_length": 100, "output_length": 5, "hash_ids": [0]}
{"timestamp": 1200, "input_length": 0, "output_length": 0, "hash_ids": []}
{"timestamp": 1400, "input_length": 50, "output_length": 40, "hash_ids": [2]}
{"timestamp": 1600, "input_length": 10, "output_length": 2, "hash_ids": [3]}
JSONL
check "bench load --trace FILE.jsonl runs" bench --target "$SIM_URL" --trace "$LLMO_DATA/trace.jsonl" \
	--speedup 2
expect "Mooncake trace replay" '
assert r["sent"] == 5 and r["completed"] == 5, r
assert r["prompt_tokens"] == 100 + 200 + 1 + 50 + 10, r
assert r["completion_tokens"] == 5 + 7 + 1 + 40 + 2, r
assert r["duration_s"] >= 0.4 + 0.05, r   # last arrival 0.8 s after the first, / 2
assert r["duration_s"] < 0.4 + 2, r'

# ---- a target that dies during the run: its requests fail, the run goes on ----
printf 'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,1,1\n2023-11-16 18:15:49,1,1\n' >"$LLMO_DATA/two.csv"
BEFORE=$(successes)
bench --target "$SIM_URL" --trace "$LLMO_DATA/two.csv" &
BENCH_PID=$!
# the first request (at 0 s) completes; the simulator is killed before the second (at 3 s)
succeeded_once() { [ "$(successes)" -gt "$BEFORE" ]; }
wait_for 10 succeeded_once && kill -9 "$SIM_PID" && wait "$SIM_PID" 2>/dev/null
SIM_PID=
wait "$BENCH_PID"
rc=$?
[ "$rc" = 0 ] && ok || bad "a run with one completed request exits 0, got $rc"
expect "the requests after the target died failed as connect or closed" '
k = r["failures"]["kind"]
assert r["sent"] == 2 and r["completed"] == 1 and r["failed"] == 1, r
assert k["connect"] + k["closed"] == 1 and r["failures"]["status"] == {}, r'
sim_start --ttft-base 50ms --ttft-per-token 0 --itl 0

# ---- text report ----
check "text report" bash -c "'$LLMO' bench load --target '$SIM_URL' --trace '$TRACE' --speedup 10 2>/dev/null |
	grep -q '^requests    sent 5, completed 5, failed 0'"
check "text report: the share within --slo-ttft" bash -c "'$LLMO' bench load --target '$SIM_URL' \
	--trace '$TRACE' --speedup 10 --slo-ttft 1s 2>/dev/null |
	grep -qx 'slo         ttft <= 1000.0 ms: 5 of 5 sent (100.00%)'"
check "no slo line without --slo-ttft" bash -c "! '$LLMO' bench load --target '$SIM_URL' \
	--trace '$TRACE' --speedup 10 2>/dev/null | grep -q '^slo'"

# ---- bad input and a dead target ----
printf 'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,1,1\n2023-11-16 18:15:47,x,1\n' >"$LLMO_DATA/bad.csv"
"$LLMO" bench load --target "$SIM_URL" --trace "$LLMO_DATA/bad.csv" >"$OUT" 2>"$ERR"
rc=$?
[ "$rc" = 1 ] && grep -q "^$LLMO_DATA/bad.csv:3: ContextTokens" "$ERR" && ok ||
	bad "malformed CSV: status $rc, $(cat "$ERR")"
sim_stop
# the port the simulator had is closed now: nothing listens there
"$LLMO" bench load --target "$SIM_URL" --rate 10 --duration 1s >"$OUT" 2>"$ERR"
rc=$?
[ "$rc" = 1 ] && grep -q "cannot connect to 127.0.0.1:[0-9]*: Connection refused" "$ERR" && ok ||
	bad "dead target: status $rc, $(cat "$ERR")"
"$LLMO" bench load --target "$SIM_URL" --rate 10 >/dev/null 2>&1
[ $? = 2 ] && ok || bad "--rate without --duration is a usage error"
"$LLMO" bench load --target "$SIM_URL" --rate 10 --duration 1s --slo-ttft 0 >/dev/null 2>&1
[ $? = 2 ] && ok || bad "--slo-ttft 0 is a usage error"
"$LLMO" bench load --rate 10 --duration 1s >/dev/null 2>&1
[ $? = 2 ] && ok || bad "no --target is a usage error"
"$LLMO" bench load --target https://127.0.0.1:1 --rate 10 --duration 1s >/dev/null 2>&1
[ $? = 2 ] && ok || bad "https is a usage error"
finish
