#!/usr/bin/env bash
# What encryption between the gateway and the replicas (spec.security.encryption) costs:
# `llmo gateway` in front of one `llmo inference-sim` set to zero latency, once over plain
# HTTP and once over TLS (the sim serving a certificate of a throw-away CA, the gateway
# verifying it with --upstream-ca and tlsServerName), driven by wrk over loopback with
# keep-alive connections. Runs alternate, ROUNDS times; the table shows medians and the
# ratio TLS / plain. The backend is as fast as the machine allows, so the ratio is the
# proxying CPU that encryption adds (the gateway pools its backend connections: a handshake
# per new connection, not per request).
#
# Usage: bench/gateway/tls_upstream.sh        (about 2 x ROUNDS x DURATION seconds)
# Settings: DURATION=10 ROUNDS=3 CONNS=32 LLMO=PATH (default: build/llmo, built if missing)
set -euo pipefail

cd "$(dirname "$0")/../.."
. bench/gateway/lib.sh
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-32}
LLMO=${LLMO:-build/llmo}
command -v wrk >/dev/null || { echo "bench: wrk is missing (scripts/setup.sh --bench)" >&2; exit 1; }
[ -x "$LLMO" ] || { cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && cmake --build build -j"$(nproc)" >/dev/null; }
work_dir

# a CA and a certificate for chat.bench.svc
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=bench-ca \
	-keyout "$WORK/ca.key" -out "$WORK/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=chat.bench.svc \
	-keyout "$WORK/tls.key" -out "$WORK/tls.csr" 2>/dev/null
printf 'subjectAltName=DNS:chat.bench.svc\n' >"$WORK/ext"
openssl x509 -req -in "$WORK/tls.csr" -CA "$WORK/ca.crt" -CAkey "$WORK/ca.key" -CAcreateserial \
	-days 1 -extfile "$WORK/ext" -out "$WORK/tls.crt" 2>/dev/null

start() { # NAME ARGS...: starts a process logging to WORK/NAME.out (in this shell: PIDS keeps it)
	local name=$1; shift
	: >"$WORK/$name.out"
	"$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	PIDS+=($!)
}
url_of() { wait_line "$WORK/$1.out" 's/^.* listening on //p' | head -1; }
SIM_ARGS=(inference-sim --port 0 --model m --ttft-base 0 --ttft-per-token 0 --itl 0 --max-batch 0)
start sim-plain "$LLMO" "${SIM_ARGS[@]}"
start sim-tls "$LLMO" "${SIM_ARGS[@]}" --tls-cert "$WORK/tls.crt" --tls-key "$WORK/tls.key"
plain_url=$(url_of sim-plain)
tls_url=$(url_of sim-tls)
cat >"$WORK/plain.yaml" <<EOF
models: [{name: m, endpoints: [{address: "${plain_url#http://}"}]}]
EOF
cat >"$WORK/tls.yaml" <<EOF
models: [{name: m, endpoints: [{address: "${tls_url#https://}", tlsServerName: chat.bench.svc}]}]
EOF
start gw-plain "$LLMO" gateway --listen 127.0.0.1:0 --backends "$WORK/plain.yaml"
start gw-tls "$LLMO" gateway --listen 127.0.0.1:0 --backends "$WORK/tls.yaml" --upstream-ca "$WORK/ca.crt"
gw_plain=$(url_of gw-plain)
gw_tls=$(url_of gw-tls)

cat >"$WORK/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"model":"m","prompt":"Hello","max_tokens":1}'
wrk.headers["Content-Type"] = "application/json"
EOF
for u in "$gw_plain" "$gw_tls"; do # both answer before anything is measured
	curl -sf "$u/v1/completions" -H 'Content-Type: application/json' \
		-d '{"model":"m","prompt":"x","max_tokens":1}' >/dev/null || { echo "bench: $u does not answer" >&2; exit 1; }
done
rps() { # URL [wrk args...]: requests/s of one run (non-2xx answers make it fail)
	local url=$1; shift
	wrk -t1 -c"$CONNS" -d"${DURATION}s" -s "$WORK/post.lua" "$@" "$url/v1/completions" >"$WORK/wrk.out"
	if grep -q "Non-2xx" "$WORK/wrk.out"; then cat "$WORK/wrk.out" >&2; exit 1; fi
	awk '/^Requests\/sec/ { print $2 }' "$WORK/wrk.out"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
declare -a P T
for r in $(seq 1 "$ROUNDS"); do
	P+=("$(rps "$gw_plain")")
	T+=("$(rps "$gw_tls")")
	echo "round $r: plain ${P[-1]}, TLS ${T[-1]} req/s" >&2
done
mp=$(printf '%s\n' "${P[@]}" | median)
mt=$(printf '%s\n' "${T[@]}" | median)
echo
echo "| gateway -> replica | requests/s |"
echo "| --- | --- |"
echo "| plain HTTP | $mp |"
echo "| TLS (verified) | $mt |"
awk -v a="$mt" -v b="$mp" 'BEGIN { printf "| TLS / plain | %.3f |\n", a / b }'
echo
echo "$CONNS connections, ${DURATION} s per run, median of $ROUNDS rounds (alternated), $(nproc) CPUs"
