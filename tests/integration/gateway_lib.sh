# Helpers for the gateway's integration tests (sourced after lib.sh): start
# inference-sim backends and `llmo gateway` on loopback, and read answers,
# errors and metrics.
PY=/usr/bin/python3
C=(curl -s --max-time 30)
J='Content-Type: application/json'
GW_PID= GW_URL= GW_LOG="$LLMO_DATA/gateway.log"
SIM_PIDS=() SIM_PORTS=()

cleanup() {
	[ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null
	for p in "${SIM_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
}
trap cleanup EXIT

sim_start() { # flags for llmo inference-sim; appends to SIM_PIDS and SIM_PORTS
	local out="$LLMO_DATA/sim${#SIM_PIDS[@]}.out" url=
	"$LLMO" inference-sim --port 0 "$@" >"$out" 2>>"$LLMO_DATA/sim.log" &
	SIM_PIDS+=($!)
	url=$(line_value "$out" "inference-sim listening on") ||
		{ echo "inference-sim did not start"; cat "$LLMO_DATA/sim.log"; exit 1; }
	SIM_PORTS+=("${url##*:}")
}
gateway_start() { # extra flags
	: >"$LLMO_DATA/gw.out"
	"$LLMO" gateway --listen 127.0.0.1:0 --backends "$LLMO_DATA/backends.yaml" "$@" \
		>"$LLMO_DATA/gw.out" 2>>"$GW_LOG" &
	GW_PID=$!
	for _ in $(seq 1 200); do
		GW_URL=$(sed -n 's/^llmo gateway listening on //p' "$LLMO_DATA/gw.out")
		[ -n "$GW_URL" ] && return 0
		kill -0 "$GW_PID" 2>/dev/null || { echo "llmo gateway exited:"; cat "$GW_LOG"; exit 1; }
		sleep 0.05
	done
	echo "llmo gateway did not start"; cat "$GW_LOG"; exit 1
}
gateway_stop() { # SIGTERM; any exit status but 0 (a crash, a sanitizer report) fails
	kill "$GW_PID"; wait "$GW_PID"
	local rc=$?
	[ "$rc" -eq 0 ] && ok || { bad "llmo gateway exited with status $rc"; tail -40 "$GW_LOG"; }
	GW_PID=
}
status() { "${C[@]}" -o /dev/null -w '%{http_code}' "$@"; }
expect_status() { # expect_status CODE description curl-args...
	local want=$1 what=$2; shift 2
	local got
	got=$(status "$@")
	[ "$got" = "$want" ] && ok || bad "$what: got $got, want $want"
}
chat() { # chat MODEL [extra JSON members]: a small chat request body
	echo "{\"model\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi!\"}],\"max_tokens\":3${2:+,$2}}"
}
answer_model() { # answer_model MODEL: the "model" of the answer to a chat request for MODEL
	"${C[@]}" -H "$J" -d "$(chat "$1")" "$GW_URL/v1/chat/completions" |
		$PY -c 'import json, sys; print(json.load(sys.stdin)["model"])' 2>/dev/null
}
error_is() { # error_is STATUS CODE-OR-null PARAM-OR-null curl-args...: status and OpenAI error body
	local want=$1 code=$2 param=$3; shift 3
	"${C[@]}" -o "$LLMO_DATA/err" -w '%{http_code}' "$@" >"$LLMO_DATA/err.code"
	$PY - "$LLMO_DATA/err" "$want" "$(cat "$LLMO_DATA/err.code")" "$code" "$param" <<'EOF'
import json, sys
body, want, got, code, param = sys.argv[1:]
assert got == want, f"status {got}, want {want}"
e = json.load(open(body))["error"]
assert set(e) == {"message", "type", "param", "code"}, e
assert e["type"] == ("server_error" if int(want) >= 500 else "invalid_request_error"), e
assert e["code"] == (None if code == "null" else code), e
assert e["param"] == (None if param == "null" else param), e
assert e["message"], e
EOF
}
metric() { # metric SERIES: its value in the gateway's /metrics (0 when absent)
	"${C[@]}" "$GW_URL/metrics" | awk -v s="$1" '$1 == s { v = $2 } END { print v + 0 }'
}
closed_port() { $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

backends_one() { # backends_one MODEL ADDRESS...: a backends file of one model and these endpoints
	local m=$1 a; shift
	{
		echo "models:"
		echo "  - name: $m"
		echo "    endpoints:"
		for a in "$@"; do echo "      - address: $a"; done
	} >"$LLMO_DATA/backends.yaml"
}
