# Sourced by bench/gateway's scripts.
wait_line() { # wait_line FILE SED-EXPR: prints the first match, waiting up to 10 s
	for _ in $(seq 1 200); do
		local v
		v=$(sed -n "$2" "$1")
		[ -n "$v" ] && { echo "$v"; return 0; }
		sleep 0.05
	done
	echo "bench: nothing in $1" >&2; cat "$1" >&2; exit 1
}
work_dir() { # sets WORK (a temporary directory) and PIDS; at exit, kills PIDS and removes WORK
	WORK=$(mktemp -d)
	PIDS=()
	trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
}
post_lua() { # post_lua FILE: the wrk script of every gateway bench (one chat request, 107 bytes)
	cat >"$1" <<'L'
wrk.method = "POST"
wrk.body = '{"model":"llama2:7b","messages":[{"role":"user","content":"Hello there, how are you?"}],"max_tokens":4}'
wrk.headers["Content-Type"] = "application/json"
L
}
start_pair() { # start_pair LLMO: an inference-sim at zero latency and a gateway before it; sets GW, GW_URL
	"$1" inference-sim --port 0 --model llama2:7b --ttft-base 0 --ttft-per-token 0 --itl 0 \
		--max-batch 0 --log-level warn >"$WORK/sim.out" 2>&1 &
	PIDS+=($!)
	local url
	url=$(wait_line "$WORK/sim.out" 's/^inference-sim listening on //p')
	printf 'models:\n  - name: llama2:7b\n    endpoints:\n      - address: 127.0.0.1:%s\n' \
		"${url##*:}" >"$WORK/backends.yaml"
	"${GW_WRAP[@]}" "$1" gateway --listen 127.0.0.1:0 --backends "$WORK/backends.yaml" --log-level warn \
		>"$WORK/gw.out" 2>&1 &
	GW=$!
	PIDS+=($GW)
	GW_URL=$(wait_line "$WORK/gw.out" 's/^llmo gateway listening on //p')
}
