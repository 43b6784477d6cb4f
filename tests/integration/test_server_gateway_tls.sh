#!/usr/bin/env bash
# `llmo server --gateway-tls-cert --gateway-tls-key`: the embedded gateway
# serves HTTPS (a self-signed certificate made here) and prints its https URL;
# /v1/models and a chat completion for the example workload come through,
# verified against the certificate; plain HTTP on that port is refused; the
# controller still reads the gateway's /metrics (over TLS). Without a
# certificate a non-loopback gateway address is refused, like the API's
# --insecure-http, and the two flags go together.
. "$(dirname "$0")/lib.sh"
trap finish EXIT
D=$LLMO_DATA
NS=llm-workloads
W=my-llm-workload
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---- start-up rules, before anything is served ----
refused() { # refused DESCRIPTION WANT-IN-STDERR ARGS...: exit 2 naming the problem
	local what=$1 want=$2; shift 2
	"$LLMO" server --data-dir "$D/refused" --listen 127.0.0.1:0 --registry-listen 127.0.0.1:0 \
		--disable controller,scheduler,agent,registry "$@" >/dev/null 2>"$D/refused.err"
	local rc=$?
	[ $rc -eq 2 ] && grep -qF -- "$want" "$D/refused.err" && ok ||
		bad "$what: want exit 2 naming \"$want\", got $rc: $(cat "$D/refused.err")"
}
refused "plain HTTP on a non-loopback gateway address" "--gateway-tls-cert" \
	--gateway-listen 0.0.0.0:0
refused "a certificate without its key" "go together" \
	--gateway-listen 127.0.0.1:0 --gateway-tls-cert "$D/none.crt"

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
	-addext "subjectAltName=IP:127.0.0.1" -keyout "$D/gw.key" -out "$D/gw.crt" >/dev/null 2>&1
CM=$(free_port)
server_start --fake-gpus 1 --config tests/data/e2e/config.yaml --metrics-listen "127.0.0.1:$CM" \
	--gateway-tls-cert "$D/gw.crt" --gateway-tls-key "$D/gw.key"
GW=$(gateway_url)
[[ "$GW" == https://127.0.0.1:* ]] && ok || bad "the printed gateway URL is https: $GW"
T=(curl -s --max-time 10 --cacert "$D/gw.crt")

check "apply the example workload" bash -c "kubectl apply -f k8s/llm-orchestrator/namespace.yaml >/dev/null &&
	kubectl apply -f examples/llama2-7b-model.yaml -f examples/my-llm-workload.yaml"
check "it becomes Ready" kubectl wait --for=condition=Ready llmworkload/$W -n $NS --timeout=120s
check "/v1/models over HTTPS lists the workload" wait_for 30 bash -c "${T[*]} -f $GW/v1/models |
	/usr/bin/python3 -c 'import json, sys; o = json.load(sys.stdin)
assert \"$W\" in [m[\"id\"] for m in o[\"data\"]], o'"
check "a chat completion over HTTPS" wait_for 30 bash -c "${T[*]} -f -H 'Content-Type: application/json' \
	-d '{\"model\":\"$W\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi!\"}],\"max_tokens\":2}' \
	$GW/v1/chat/completions | /usr/bin/python3 -c 'import json, sys; o = json.load(sys.stdin)
assert o[\"choices\"][0][\"message\"][\"content\"], o'"

# ---- clients that do not speak TLS, or do not trust it ----
check "plain HTTP on the gateway's port: a plain 400 saying HTTPS" bash -c "
	curl -s --max-time 10 -o $D/plain.body -w '%{http_code}' ${GW/https:/http:}/v1/models >$D/plain.code
	[ \$(cat $D/plain.code) = 400 ] && grep -q HTTPS $D/plain.body"
check_fails "a client that does not trust the certificate" curl -sf --max-time 10 "$GW/v1/models"

# ---- the gateway reads the replica's /metrics (--gateway-scrape-interval, 1s by default) ----
gw_scrapes() { ${T[*]} -f "$GW/metrics" | sed -n 's/^llmo_gateway_backend_scrapes_total{result="ok"} //p'; }
gw_scraped() { [ "$(gw_scrapes)" -gt 0 ] 2>/dev/null; }
check "the embedded gateway scrapes the replica's metrics" wait_for 30 gw_scraped

# ---- the controller reads the gateway's metrics through TLS ----
scrapes() { # scrapes ok|error: the controller's count of its reads of the gateway's /metrics
	curl -sf "http://127.0.0.1:$CM/metrics" |
		sed -n "s/^llmo_controller_gateway_scrapes_total{outcome=\"$1\"} //p"
}
scraped() { [ "$(scrapes ok)" -gt 0 ]; }
check "the controller scrapes the gateway over HTTPS" wait_for 30 scraped
[ "$(scrapes error)" = 0 ] && ok || bad "the controller's scrapes of the gateway failed: $(scrapes error)"
