#!/usr/bin/env bash
# `llmo gateway` with a static backends file in front of `llmo inference-sim`
# backends, all on loopback: routing by name and alias, OpenAI errors,
# streaming through the gateway, a backend killed mid-run costing no request,
# bad input, SIGHUP reloads, and a clean exit after all of it. It never loads
# libcurl (what keeps its memory small).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway_lib.sh"

# ---- backends: two replicas of llama2:7b, one of mistral:7b ----
sim_start --model llama2:7b --ttft-base 0 --ttft-per-token 0 --itl 1ms
sim_start --model llama2:7b --ttft-base 0 --ttft-per-token 0 --itl 1ms
sim_start --model mistral:7b --ttft-base 0 --ttft-per-token 0 --itl 50ms
DEAD=$(closed_port)
write_backends() { # extra YAML appended to the models list
	cat >"$LLMO_DATA/backends.yaml" <<EOF
# llama2 on two replicas, mistral on one; "empty" has none, "dead" one that is down
models:
  - name: llama2:7b
    aliases: [llama2, chat-default]
    endpoints:
      - address: 127.0.0.1:${SIM_PORTS[0]}
      - address: 127.0.0.1:${SIM_PORTS[1]}
        track: canary
  - name: mistral:7b
    aliases: [mistral]
    endpoints:
      - {address: "127.0.0.1:${SIM_PORTS[2]}"}
  - name: empty
    served: llama2:7b
    endpoints: []
  - name: dead
    served: llama2:7b
    endpoints:
      - address: 127.0.0.1:$DEAD
${1:-}
EOF
}
write_backends
gateway_start --breaker-cooldown 30s --hold-timeout 200ms

[[ "$GW_URL" == http://127.0.0.1:* ]] && ok || bad "listening line: $GW_URL"
# libcurl is loaded at the first client request (src/base/curl_dl.c); a file-mode gateway makes none
grep -q libcurl "/proc/$GW_PID/maps" && bad "the file-mode gateway mapped libcurl" || ok
expect_status 200 "/healthz" "$GW_URL/healthz"
expect_status 200 "/readyz" "$GW_URL/readyz"
check "/v1/models lists the names of served models" bash -c "${C[*]} $GW_URL/v1/models | $PY -c '
import json, sys
o = json.load(sys.stdin)
assert o[\"object\"] == \"list\", o
ids = [m[\"id\"] for m in o[\"data\"]]
assert ids == [\"chat-default\", \"dead\", \"llama2\", \"llama2:7b\", \"mistral\", \"mistral:7b\"], ids
assert all(m[\"object\"] == \"model\" for m in o[\"data\"]), o'"
expect_status 200 "/v1/models/ID" "$GW_URL/v1/models/llama2:7b"
error_is 404 model_not_found model "$GW_URL/v1/models/gpt-4"

# ---- routing by name and alias (the forwarded model is the served name) ----
[ "$(answer_model llama2:7b)" = llama2:7b ] && ok || bad "route by name"
[ "$(answer_model chat-default)" = llama2:7b ] && ok || bad "route by alias chat-default"
[ "$(answer_model llama2)" = llama2:7b ] && ok || bad "route by alias llama2"
[ "$(answer_model mistral)" = mistral:7b ] && ok || bad "route by alias mistral"
check "completions and embeddings are routed too" bash -c "
	${C[*]} -f -H '$J' -d '{\"model\":\"mistral\",\"prompt\":\"x\",\"max_tokens\":1}' $GW_URL/v1/completions >/dev/null &&
	${C[*]} -f -H '$J' -d '{\"model\":\"llama2\",\"input\":\"x\"}' $GW_URL/v1/embeddings >/dev/null"
check "both replicas of llama2:7b take requests" bash -c "
	for i in \$(seq 1 20); do ${C[*]} -H '$J' -d '$(chat llama2)' $GW_URL/v1/chat/completions >/dev/null; done
	${C[*]} $GW_URL/metrics | grep -q 'llmo_gateway_requests_total{model=\"llama2:7b\",track=\"stable\",code=\"200\"}' &&
	${C[*]} $GW_URL/metrics | grep -q 'llmo_gateway_requests_total{model=\"llama2:7b\",track=\"canary\",code=\"200\"}'"

# ---- errors ----
error_is 404 model_not_found model -H "$J" -d "$(chat gpt-4)" "$GW_URL/v1/chat/completions"
error_is 400 invalid_json null -H "$J" -d '{"model":"llama2:7b",' "$GW_URL/v1/chat/completions"
error_is 400 invalid_json null -H "$J" -d '' "$GW_URL/v1/chat/completions"
error_is 400 null model -H "$J" -d '{"messages":[]}' "$GW_URL/v1/chat/completions"
error_is 400 null model -H "$J" -d '{"model":7}' "$GW_URL/v1/chat/completions"
error_is 400 null model -H "$J" -d '{"model":"llama2","model":"mistral"}' "$GW_URL/v1/chat/completions"
error_is 400 null null -H "$J" -d '["model"]' "$GW_URL/v1/chat/completions"
head -c $((1024 * 1024 + 10)) /dev/zero | tr '\0' 'a' >"$LLMO_DATA/big"
error_is 413 request_too_large null -H "$J" --data-binary @"$LLMO_DATA/big" "$GW_URL/v1/chat/completions"
error_is 413 request_too_large null -H "$J" -H 'Expect:' --data-binary @"$LLMO_DATA/big" "$GW_URL/v1/chat/completions"
error_is 405 method_not_allowed null "$GW_URL/v1/chat/completions"
error_is 405 method_not_allowed null -X DELETE "$GW_URL/v1/models"
error_is 404 not_found null "$GW_URL/v2/whatever"
error_is 503 model_unavailable null -H "$J" -d "$(chat empty)" "$GW_URL/v1/chat/completions"
error_is 502 upstream_error null -H "$J" -d "$(chat dead)" "$GW_URL/v1/chat/completions"
check "a chunked request body" bash -c "${C[*]} -f -H '$J' -H 'Transfer-Encoding: chunked' -d '$(chat llama2)' \
	$GW_URL/v1/chat/completions >/dev/null"
check "a malformed request head gets 400 and a closed connection" $PY - "${GW_URL##*:}" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
data = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    data += b
assert data.startswith(b"HTTP/1.1 400 "), data
EOF

# ---- streaming: events reach the client one by one (5 tokens, 50ms apart) ----
check "SSE chunks pass through as they come" $PY - "$GW_URL" <<'EOF'
import http.client, json, sys, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
body = {"model": "mistral", "stream": True, "max_tokens": 5,
        "messages": [{"role": "user", "content": "Hi!"}]}
t0 = time.monotonic()
c.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
r = c.getresponse()
assert r.status == 200, r.status
assert r.getheader("Content-Type", "").startswith("text/event-stream"), r.getheaders()
times, events = [], []
while True:
    line = r.readline()
    if not line:
        break
    line = line.decode().strip()
    if line.startswith("data: "):
        times.append(time.monotonic() - t0)
        events.append(line[6:])
assert events[-1] == "[DONE]", events
chunks = [json.loads(e) for e in events[:-1]]
assert len(chunks) == 7, len(chunks)  # role, 5 tokens, finish
assert chunks[0]["model"] == "mistral:7b", chunks[0]
# the first token came well before the last one: nothing was held back
assert times[-1] - times[1] >= 0.15, times
EOF
check "curl -N sees the stream" bash -c "${C[*]} -N -H '$J' -d '$(chat mistral '"stream":true')' \
	$GW_URL/v1/chat/completions | grep -c '^data: ' | grep -qx 6"
check "a client that leaves mid-stream does not hurt" bash -c "
	timeout 0.08 ${C[*]} -N -H '$J' -d '$(chat mistral '"stream":true,"max_tokens":20')' $GW_URL/v1/chat/completions >/dev/null
	${C[*]} -f $GW_URL/healthz >/dev/null"

# ---- a replica killed mid-run: every request still succeeds ----
check "a killed replica costs no request" $PY - "$GW_URL" "${SIM_PIDS[1]}" <<'EOF'
import http.client, json, os, signal, sys, threading, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
victim = int(sys.argv[2])
body = json.dumps({"model": "llama2", "max_tokens": 2,
                   "messages": [{"role": "user", "content": "Hi!"}]})
failures, done, lock = [], [0], threading.Lock()
def worker(n):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    for _ in range(n):
        c.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        with lock:
            done[0] += 1
            if r.status != 200:
                failures.append((r.status, data[:200]))
            if done[0] == 100:
                os.kill(victim, signal.SIGKILL)
ts = [threading.Thread(target=worker, args=(100,)) for _ in range(4)]
for t in ts: t.start()
for t in ts: t.join()
assert done[0] == 400, done
assert not failures, failures[:5]
EOF
[ "$(metric "llmo_gateway_upstream_errors_total{backend=\"127.0.0.1:${SIM_PORTS[1]}\",kind=\"connect\"}")" != 0 ] &&
	ok || bad "no connect errors counted for the killed replica"
[ "$(metric 'llmo_gateway_retries_total{model="llama2:7b"}')" != 0 ] && ok || bad "no retries counted"
check "requests keep flowing to the live replica" bash -c "
	for i in 1 2 3 4 5; do ${C[*]} -f -H '$J' -d '$(chat llama2)' $GW_URL/v1/chat/completions >/dev/null || exit 1; done"

# ---- SIGHUP reloads the file; a broken file keeps the old table ----
write_backends "  - name: extra
    aliases: [extra-alias]
    endpoints:
      - address: 127.0.0.1:${SIM_PORTS[0]}
        served: llama2:7b"
kill -HUP "$GW_PID"
for _ in $(seq 1 100); do [ "$(status -H "$J" -d "$(chat extra-alias)" "$GW_URL/v1/chat/completions")" = 200 ] && break; sleep 0.05; done
[ "$(answer_model extra-alias)" = llama2:7b ] && ok || bad "alias added by a reload"
# one replica now serves two models: each request counts in its own model's series
# (the proxy keeps a replica's series for the model it served last)
served_ok() { metric "llmo_gateway_requests_total{model=\"$1\",track=\"stable\",code=\"200\"}"; }
two_models_counted() {
	local e0 l0
	e0=$(served_ok extra) l0=$(served_ok llama2:7b)
	for m in extra-alias llama2 extra-alias; do
		"${C[@]}" -f -H "$J" -d "$(chat $m)" "$GW_URL/v1/chat/completions" >/dev/null || return 1
	done
	[ "$(served_ok extra)" = $((e0 + 2)) ] && [ "$(served_ok llama2:7b)" = $((l0 + 1)) ] ||
		{ echo "extra $e0 -> $(served_ok extra), llama2 $l0 -> $(served_ok llama2:7b)"; return 1; }
}
check "two models on one replica: each request in its own model's series" two_models_counted
echo "models: [ {name: broken" >"$LLMO_DATA/backends.yaml"
kill -HUP "$GW_PID"
sleep 0.3
[ "$(answer_model extra-alias)" = llama2:7b ] && ok || bad "a broken file replaced the table"
grep -q 'backends file not reloaded' "$GW_LOG" && ok || bad "the broken file was not reported"

# ---- the gateway survived all of it ----
expect_status 200 "/healthz at the end" "$GW_URL/healthz"
gateway_stop

# ---- usage errors ----
"$LLMO" gateway --bogus x >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "unknown flag: want exit 2"
"$LLMO" gateway --listen nonsense --backends "$LLMO_DATA/backends.yaml" >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "bad --listen: want exit 2"
"$LLMO" gateway --listen 127.0.0.1:0 --backends "$LLMO_DATA/backends.yaml" >/dev/null 2>"$LLMO_DATA/bad.err"
[ $? -eq 1 ] && grep -q 'backends.yaml' "$LLMO_DATA/bad.err" && ok || bad "a broken backends file: want exit 1 naming the file"
finish
