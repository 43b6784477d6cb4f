#!/usr/bin/env bash
# `llmo gateway --keys FILE` on loopback: API keys mapped to tenants (401
# without a known key), per-tenant request and token rate limits (429 with
# Retry-After and an OpenAI error), per-tenant counters, a keys reload on
# SIGHUP, and a malformed keys file refused with its line and field path.
# A model's accessControl: its tenants only (403 for others and for
# anonymous callers without keys), and /v1/models lists what the caller may use.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway_lib.sh"

sim_start --model llama2:7b --ttft-base 0 --ttft-per-token 0 --itl 0
sim_start --model arm-a --ttft-base 0 --ttft-per-token 0 --itl 0
sim_start --model arm-b --ttft-base 0 --ttft-per-token 0 --itl 0
cat >"$LLMO_DATA/backends.yaml" <<EOF
models:
  - name: llama2:7b
    endpoints: [{address: "127.0.0.1:${SIM_PORTS[0]}"}]
  - name: ab
    endpoints:
      - {address: "127.0.0.1:${SIM_PORTS[1]}", served: arm-a, track: a}
      - {address: "127.0.0.1:${SIM_PORTS[2]}", served: arm-b, track: b}
    tracks: [{name: a, weight: 50}, {name: b, weight: 50}]
    abTest: {}
  - name: private
    aliases: [priv]
    served: llama2:7b
    endpoints: [{address: "127.0.0.1:${SIM_PORTS[0]}"}]
    accessControl: [free]
EOF
write_keys() { # extra tenants appended
	cat >"$LLMO_DATA/keys.yaml" <<EOF
tenants:
  - name: acme
    keys: [sk-acme-0001]
    requestsPerMinute: 2
  - name: tok
    keys: [sk-tok-00001]
    tokensPerMinute: 5
  - name: free
    keys: [sk-free-0001, sk-free-0002]
$(for i in 1 2 3 4 5 6 7 8; do printf '  - {name: user%d, keys: [sk-user-000%d, sk-user-100%d]}\n' $i $i $i; done)
${1:-}
EOF
}
write_keys
gateway_start --keys "$LLMO_DATA/keys.yaml"
A='Authorization: Bearer'

# ---- keys ----
error_is 401 missing_api_key null -H "$J" -d "$(chat llama2:7b)" "$GW_URL/v1/chat/completions"
error_is 401 invalid_api_key null -H "$J" -H "$A sk-nobody-01" -d "$(chat llama2:7b)" "$GW_URL/v1/chat/completions"
error_is 401 invalid_api_key null -H "$J" -H "Authorization: Basic c2stZnJlZS0wMDAx" -d "$(chat llama2:7b)" \
	"$GW_URL/v1/chat/completions"
"${C[@]}" -D "$LLMO_DATA/h401" -o /dev/null -H "$J" -d "$(chat llama2:7b)" "$GW_URL/v1/chat/completions"
grep -qi '^WWW-Authenticate: Bearer' "$LLMO_DATA/h401" && ok || bad "401 without WWW-Authenticate"
expect_status 200 "a known key" -H "$J" -H "$A sk-free-0002" -d "$(chat llama2:7b)" "$GW_URL/v1/chat/completions"
expect_status 200 "/healthz needs no key" "$GW_URL/healthz"

# ---- accessControl: only its tenants; /v1/models lists what the caller may use ----
expect_status 200 "an allowed tenant" -H "$J" -H "$A sk-free-0001" -d "$(chat private)" "$GW_URL/v1/chat/completions"
expect_status 200 "an allowed tenant, by an alias" -H "$J" -H "$A sk-free-0002" -d "$(chat priv)" "$GW_URL/v1/chat/completions"
error_is 403 model_access_denied model -H "$J" -H "$A sk-user-0001" -d "$(chat priv)" "$GW_URL/v1/chat/completions"
grep -q "tenant 'user1' is not allowed to use the model 'priv'" "$LLMO_DATA/err" && ok || bad "403 message: $(cat "$LLMO_DATA/err")"
[ "$(metric 'llmo_gateway_forbidden_total{model="private",tenant="user1"}')" = 1 ] && ok || bad "forbidden_total"
[ "$(metric 'llmo_gateway_tenant_requests_total{tenant="user1",code="403"}')" = 1 ] && ok || bad "tenant 403s"
[ "$(metric 'llmo_gateway_requests_total{model="private",track="",code="403"}')" = 1 ] && ok || bad "requests_total 403"
models_are() { # models_are WANT-NAMES-SPACE-SEPARATED curl-args...: the ids /v1/models lists
	local want=$1; shift
	"${C[@]}" "$@" "$GW_URL/v1/models" | $PY -c '
import json, sys
got = sorted(m["id"] for m in json.load(sys.stdin)["data"])
assert got == sorted(sys.argv[1].split()), got' "$want"
}
check "/v1/models for an allowed tenant" models_are "ab llama2:7b priv private" -H "$A sk-free-0001"
check "/v1/models for another tenant" models_are "ab llama2:7b" -H "$A sk-user-0001"
check "/v1/models without a key" models_are "ab llama2:7b"
expect_status 200 "/v1/models/ID for an allowed tenant" -H "$A sk-free-0001" "$GW_URL/v1/models/private"
error_is 404 model_not_found model -H "$A sk-user-0001" "$GW_URL/v1/models/private"

# ---- A/B sticky by tenant: both keys of a tenant land in its arm every time ----
check "A/B arms are sticky by tenant" $PY - "$GW_URL" <<'EOF'
import http.client, json, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
body = json.dumps({"model": "ab", "max_tokens": 1, "messages": [{"role": "user", "content": "Hi"}]})
arms = {}
for t in range(1, 9):
    for k in ("sk-user-000%d" % t, "sk-user-100%d" % t) * 3:
        c.request("POST", "/v1/chat/completions", body,
                  {"Content-Type": "application/json", "Authorization": "Bearer " + k})
        r = c.getresponse()
        a = json.loads(r.read())
        assert r.status == 200, a
        arms.setdefault(t, set()).add(a["model"])
assert all(len(a) == 1 for a in arms.values()), arms
assert {next(iter(a)) for a in arms.values()} == {"arm-a", "arm-b"}, arms
EOF

# ---- request rate: 2 a minute, the third waits 30 s ----
for i in 1 2; do
	expect_status 200 "acme request $i" -H "$J" -H "$A sk-acme-0001" -d "$(chat llama2:7b)" "$GW_URL/v1/chat/completions"
done
error_is 429 rate_limit_exceeded null -H "$J" -H "$A sk-acme-0001" -d "$(chat llama2:7b)" "$GW_URL/v1/chat/completions"
grep -q "requests per minute (limit 2)" "$LLMO_DATA/err" && ok || bad "429 message: $(cat "$LLMO_DATA/err")"
"${C[@]}" -D "$LLMO_DATA/h429" -o /dev/null -H "$J" -H "$A sk-acme-0001" -d "$(chat llama2:7b)" "$GW_URL/v1/chat/completions"
ra=$(sed -n 's/^Retry-After: \([0-9]*\)\r$/\1/ip' "$LLMO_DATA/h429")
[ -n "$ra" ] && [ "$ra" -ge 29 ] && [ "$ra" -le 30 ] && ok || bad "Retry-After: '$ra', want 29-30"
[ "$(metric 'llmo_gateway_rate_limited_total{tenant="acme",kind="requests"}')" = 2 ] && ok || bad "rate_limited_total"
[ "$(metric 'llmo_gateway_tenant_requests_total{tenant="acme",code="200"}')" = 2 ] && ok || bad "tenant 200s"
[ "$(metric 'llmo_gateway_tenant_requests_total{tenant="acme",code="429"}')" = 2 ] && ok || bad "tenant 429s"
expect_status 200 "another tenant is not limited" -H "$J" -H "$A sk-free-0001" -d "$(chat llama2:7b)" "$GW_URL/v1/chat/completions"

# ---- token rate: 5 a minute; an answer's usage (3 prompt + 3 completion) takes 6 ----
expect_status 200 "tok's first request" -H "$J" -H "$A sk-tok-00001" -d "$(chat llama2:7b)" "$GW_URL/v1/chat/completions"
[ "$(metric 'llmo_gateway_tenant_tokens_total{tenant="tok",kind="completion"}')" = 3 ] && ok || bad "tenant completion tokens"
p=$(metric 'llmo_gateway_tenant_tokens_total{tenant="tok",kind="prompt"}')
[ "$p" = 3 ] && ok || bad "tenant prompt tokens: $p, want 3"
error_is 429 rate_limit_exceeded null -H "$J" -H "$A sk-tok-00001" -d "$(chat llama2:7b)" "$GW_URL/v1/chat/completions"
grep -q "tokens per minute (limit 5)" "$LLMO_DATA/err" && ok || bad "429 message: $(cat "$LLMO_DATA/err")"
[ "$(metric 'llmo_gateway_rate_limited_total{tenant="tok",kind="tokens"}')" = 1 ] && ok || bad "token rate_limited_total"

# ---- SIGHUP reloads the keys; the buckets keep their levels ----
write_keys "  - name: late
    keys: [sk-late-0001]"
kill -HUP "$GW_PID"
for _ in $(seq 1 100); do
	[ "$(status -H "$J" -H "$A sk-late-0001" -d "$(chat llama2:7b)" "$GW_URL/v1/chat/completions")" = 200 ] && break
	sleep 0.05
done
expect_status 200 "a key added by a reload" -H "$J" -H "$A sk-late-0001" -d "$(chat llama2:7b)" "$GW_URL/v1/chat/completions"
expect_status 429 "acme still limited after the reload" -H "$J" -H "$A sk-acme-0001" -d "$(chat llama2:7b)" "$GW_URL/v1/chat/completions"
echo "tenants: [ {name: broken" >"$LLMO_DATA/keys.yaml"
kill -HUP "$GW_PID"
sleep 0.3
expect_status 200 "a broken keys file keeps the old keys" -H "$J" -H "$A sk-late-0001" -d "$(chat llama2:7b)" \
	"$GW_URL/v1/chat/completions"
grep -q 'keys file not reloaded' "$GW_LOG" && ok || bad "the broken keys file was not reported"
gateway_stop

# ---- without keys, a restricted model refuses everyone: nothing says who they are ----
gateway_start
error_is 403 model_access_denied model -H "$J" -d "$(chat private)" "$GW_URL/v1/chat/completions"
grep -q "no API keys" "$LLMO_DATA/err" && ok || bad "anonymous 403 message: $(cat "$LLMO_DATA/err")"
[ "$(metric 'llmo_gateway_forbidden_total{model="private",tenant=""}')" = 1 ] && ok || bad "anonymous forbidden_total"
expect_status 200 "an open model without keys" -H "$J" -d "$(chat llama2:7b)" "$GW_URL/v1/chat/completions"
check "/v1/models without keys" models_are "ab llama2:7b"
gateway_stop

# ---- a malformed keys file: exit 1, naming the file, line and field ----
printf 'tenants:\n  - name: acme\n    keys: [short]\n' >"$LLMO_DATA/bad-keys.yaml"
"$LLMO" gateway --listen 127.0.0.1:0 --backends "$LLMO_DATA/backends.yaml" --keys "$LLMO_DATA/bad-keys.yaml" \
	>/dev/null 2>"$LLMO_DATA/bad.err"
rc=$?
[ $rc -eq 1 ] && grep -q 'bad-keys.yaml:3: tenants\[0\].keys\[0\]: expected a key of 8 to 256' "$LLMO_DATA/bad.err" &&
	ok || bad "malformed keys file: exit $rc, $(cat "$LLMO_DATA/bad.err")"
"$LLMO" gateway --listen 127.0.0.1:0 --backends "$LLMO_DATA/backends.yaml" --keys "$LLMO_DATA/none.yaml" \
	>/dev/null 2>"$LLMO_DATA/bad.err"
[ $? -eq 1 ] && grep -q 'none.yaml' "$LLMO_DATA/bad.err" && ok || bad "a missing keys file: $(cat "$LLMO_DATA/bad.err")"
finish
