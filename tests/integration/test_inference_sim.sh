#!/usr/bin/env bash
# `llmo inference-sim` as a process on loopback, driven with curl: the OpenAI
# shapes, streaming, the latency model (lower bounds only), the batch queue
# in /metrics, start-up delay, error rate, bad input, $PORT and signals.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SIM_PID=
SIM_LOG="$LLMO_DATA/sim.log"
C=(curl -s --max-time 30)
J='Content-Type: application/json'

sim_stop() { # SIGTERM; any exit status but 0 (a crash, a sanitizer report) fails
	[ -n "$SIM_PID" ] || return 0
	kill "${1:--TERM}" "$SIM_PID" 2>/dev/null
	wait "$SIM_PID"
	local rc=$?
	if [ "$rc" -eq 0 ]; then ok; else bad "inference-sim exited with status $rc"; tail -40 "$SIM_LOG"; fi
	SIM_PID=
}
sim_start() { # flags for llmo inference-sim (--port 0 unless given); sets SIM_URL
	sim_stop
	: >"$LLMO_DATA/sim.out"
	"$LLMO" inference-sim "$@" >"$LLMO_DATA/sim.out" 2>>"$SIM_LOG" &
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
status() { # status METHOD-ARGS... : prints the HTTP status only
	"${C[@]}" -o /dev/null -w '%{http_code}' "$@"
}
expect_status() { # expect_status CODE description curl-args...
	local want=$1 what=$2; shift 2
	local got
	got=$(status "$@")
	[ "$got" = "$want" ] && ok || bad "$what: got $got, want $want"
}
metric() { # metric SERIES: its value in /metrics
	"${C[@]}" "$SIM_URL/metrics" | awk -v s="$1" '$1 == s { print $2 }'
}
wait_metric() { # wait_metric SERIES VALUE: polls for up to 10s
	for _ in $(seq 1 200); do
		[ "$(metric "$1")" = "$2" ] && return 0
		sleep 0.05
	done
	return 1
}
M=llama2:7b
RUNNING="vllm:num_requests_running{model_name=\"$M\"}"
WAITING="vllm:num_requests_waiting{model_name=\"$M\"}"

# ---- shapes, zero latency, two models ----
sim_start --port 0 --model "$M" --model mistral:7b --ttft-base 0 --ttft-per-token 0 --itl 0
[[ "$SIM_URL" == http://127.0.0.1:* ]] && ok || bad "listening line: $SIM_URL"
check "GET /v1/models lists both models" bash -c "${C[*]} $SIM_URL/v1/models | $PY -c '
import json, sys
o = json.load(sys.stdin)
assert o[\"object\"] == \"list\", o
assert [m[\"id\"] for m in o[\"data\"]] == [\"llama2:7b\", \"mistral:7b\"], o
assert all(m[\"object\"] == \"model\" for m in o[\"data\"]), o'"
# "Hello, world!" is 4 tokens (Hello , world !)
check "non-streaming completion: OpenAI shape and usage" bash -c "${C[*]} -H '$J' \
	-d '{\"model\":\"$M\",\"prompt\":\"Hello, world!\",\"max_tokens\":5}' $SIM_URL/v1/completions | $PY -c '
import json, sys
o = json.load(sys.stdin)
assert o[\"object\"] == \"text_completion\" and o[\"id\"].startswith(\"cmpl-\"), o
assert o[\"model\"] == \"llama2:7b\" and isinstance(o[\"created\"], int), o
c = o[\"choices\"][0]
assert c[\"index\"] == 0 and c[\"finish_reason\"] == \"length\" and isinstance(c[\"text\"], str), o
assert o[\"usage\"] == {\"prompt_tokens\": 4, \"completion_tokens\": 5, \"total_tokens\": 9}, o'"
# chat: (Hi ! = 2) + 1 for the role = 3
check "non-streaming chat completion" bash -c "${C[*]} -H '$J' \
	-d '{\"model\":\"mistral:7b\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi!\"}],\"max_tokens\":2}' \
	$SIM_URL/v1/chat/completions | $PY -c '
import json, sys
o = json.load(sys.stdin)
assert o[\"object\"] == \"chat.completion\" and o[\"model\"] == \"mistral:7b\", o
assert o[\"choices\"][0][\"message\"][\"role\"] == \"assistant\", o
assert o[\"usage\"] == {\"prompt_tokens\": 3, \"completion_tokens\": 2, \"total_tokens\": 5}, o'"
"${C[@]}" -N -H "$J" -d "{\"model\":\"$M\",\"stream\":true,\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"Hi!\"}]}" \
	"$SIM_URL/v1/chat/completions" >"$LLMO_DATA/stream"
# the role chunk, 5 tokens, the finish chunk, then [DONE]
check "streaming chat: 7 chunks then [DONE]" $PY -c '
import json, sys
events = open(sys.argv[1]).read().split("\n\n")
assert events[-1] == "", events
events = events[:-1]
assert all(e.startswith("data: ") for e in events), events
assert events[-1] == "data: [DONE]", events
chunks = [json.loads(e[6:]) for e in events[:-1]]
assert len(chunks) == 7, len(chunks)
assert all(c["object"] == "chat.completion.chunk" for c in chunks)
assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
assert chunks[-1]["choices"][0]["finish_reason"] == "length"
assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])' "$LLMO_DATA/stream"
check "embeddings" bash -c "${C[*]} -H '$J' -d '{\"model\":\"$M\",\"input\":[\"a\",\"b\"],\"dimensions\":16}' \
	$SIM_URL/v1/embeddings | $PY -c '
import json, sys, math
o = json.load(sys.stdin)
assert [d[\"index\"] for d in o[\"data\"]] == [0, 1], o
for d in o[\"data\"]:
    assert len(d[\"embedding\"]) == 16
    assert abs(math.sqrt(sum(x * x for x in d[\"embedding\"])) - 1) < 1e-5
assert o[\"usage\"][\"prompt_tokens\"] == 2, o'"
expect_status 404 "unknown model" -H "$J" -d '{"model":"gpt-4","prompt":"x"}' "$SIM_URL/v1/completions"
check "unknown model: OpenAI error body" bash -c "${C[*]} -H '$J' -d '{\"model\":\"gpt-4\",\"prompt\":\"x\"}' \
	$SIM_URL/v1/completions | $PY -c '
import json, sys
e = json.load(sys.stdin)[\"error\"]
assert set(e) == {\"message\", \"type\", \"param\", \"code\"}, e
assert e[\"code\"] == \"model_not_found\" and e[\"param\"] == \"model\", e'"
expect_status 400 "malformed JSON" -H "$J" -d '{"model":' "$SIM_URL/v1/completions"
expect_status 400 "wrong type" -H "$J" -d "{\"model\":\"$M\",\"prompt\":\"x\",\"max_tokens\":\"many\"}" "$SIM_URL/v1/completions"
expect_status 400 "missing messages" -H "$J" -d "{\"model\":\"$M\"}" "$SIM_URL/v1/chat/completions"
head -c $((1024 * 1024 + 10)) /dev/zero | tr '\0' 'a' >"$LLMO_DATA/big"
expect_status 413 "body over 1 MiB" -H "$J" --data-binary @"$LLMO_DATA/big" "$SIM_URL/v1/completions"
expect_status 200 "/health" "$SIM_URL/health"
[ "$(metric "$RUNNING")" = 0 ] && ok || bad "running after the requests: $(metric "$RUNNING")"
[ "$(metric "vllm:request_success_total{finished_reason=\"length\",model_name=\"$M\"}")" = 2 ] && ok ||
	bad "request_success_total: $(metric "vllm:request_success_total{finished_reason=\"length\",model_name=\"$M\"}")"
"${C[@]}" "$SIM_URL/metrics" >"$LLMO_DATA/metrics"
for name in vllm:num_requests_running vllm:num_requests_waiting vllm:gpu_cache_usage_perc \
	vllm:prompt_tokens_total vllm:generation_tokens_total vllm:request_success_total; do
	grep -q "^# TYPE $name " "$LLMO_DATA/metrics" && ok || bad "/metrics lacks $name"
done
for name in vllm:time_to_first_token_seconds vllm:e2e_request_latency_seconds; do
	grep -q "^# TYPE $name histogram" "$LLMO_DATA/metrics" &&
		grep -q "^${name}_bucket{le=\"+Inf\",model_name=\"$M\"} " "$LLMO_DATA/metrics" && ok ||
		bad "/metrics lacks the histogram $name"
done

# ---- latency: 5 tokens at 20ms take at least 100ms (curl's time_total is monotonic) ----
sim_start --port 0 --ttft-base 0 --ttft-per-token 0 --itl 20ms
for stream in false true; do
	t=$("${C[@]}" -o /dev/null -w '%{time_total}' -H "$J" \
		-d "{\"model\":\"$M\",\"prompt\":\"x\",\"max_tokens\":5,\"stream\":$stream}" "$SIM_URL/v1/completions")
	$PY -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 0.1 else 1)" "$t" && ok ||
		bad "stream=$stream: 5 tokens at 20ms took ${t}s"
done

# ---- max-batch 1: the second request waits while the first runs ----
sim_start --port 0 --max-batch 1 --ttft-base 0 --itl 50ms
pids=()
for i in 1 2; do
	"${C[@]}" -o "$LLMO_DATA/q$i" -w '%{http_code}' -H "$J" \
		-d "{\"model\":\"$M\",\"prompt\":\"x\",\"max_tokens\":10}" "$SIM_URL/v1/completions" >"$LLMO_DATA/q$i.code" &
	pids+=($!)
done
wait_metric "$WAITING" 1 && ok || bad "num_requests_waiting never showed 1"
[ "$(metric "$RUNNING")" = 1 ] && ok || bad "num_requests_running with max-batch 1: $(metric "$RUNNING")"
wait "${pids[@]}"
for i in 1 2; do [ "$(cat "$LLMO_DATA/q$i.code")" = 200 ] && ok || bad "queued request $i: $(cat "$LLMO_DATA/q$i.code")"; done
[ "$(metric "$WAITING")" = 0 ] && ok || bad "waiting after both: $(metric "$WAITING")"

# ---- start-up delay: 503 until it has passed, then 200 ----
sim_start --port 0 --startup-delay 500ms
expect_status 503 "/health while loading" "$SIM_URL/health"
expect_status 503 "completion while loading" -H "$J" -d "{\"model\":\"$M\",\"prompt\":\"x\"}" "$SIM_URL/v1/completions"
up=
for _ in $(seq 1 200); do
	[ "$(status "$SIM_URL/health")" = 200 ] && { up=1; break; }
	sleep 0.05
done
[ -n "$up" ] && ok || bad "/health never became 200"

# ---- error rate 1: every request fails with 500 ----
sim_start --port 0 --error-rate 1 --itl 0
for _ in 1 2 3; do
	expect_status 500 "--error-rate 1" -H "$J" -d "{\"model\":\"$M\",\"prompt\":\"x\"}" "$SIM_URL/v1/completions"
done

# ---- $PORT when --port is not given; SIGINT stops it cleanly ----
port=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sim_stop
PORT=$port sim_start --itl 0
[ "$SIM_URL" = "http://127.0.0.1:$port" ] && ok || bad "\$PORT=$port: listening on $SIM_URL"
expect_status 200 "/health on \$PORT" "$SIM_URL/health"
sim_stop -INT

# ---- usage errors ----
"$LLMO" inference-sim --bogus >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "unknown flag: want exit 2"
"$LLMO" inference-sim --itl 20 >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "duration without unit: want exit 2"
"$LLMO" inference-sim --error-rate 2 >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "--error-rate 2: want exit 2"
finish
