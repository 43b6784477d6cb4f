#!/usr/bin/env bash
# `llmo gateway` traffic control with a static backends file in front of
# `llmo inference-sim` backends, on loopback: a canary split within 2 points
# over 2,000 requests (fixed seed), sticky A/B arms by header, token counts
# from the answers' usage, a drained replica finishing its stream while new
# requests go elsewhere, and requests held for a model with no replica until
# one appears (or refused when none does).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway_lib.sh"

FAST=(--ttft-base 0 --ttft-per-token 0 --itl 0)
sim_start --model llama2:7b "${FAST[@]}"             # 0: stable
sim_start --model llama2:7b-canary "${FAST[@]}"      # 1: canary
sim_start --model arm-a "${FAST[@]}"                 # 2: A/B arm a
sim_start --model arm-b "${FAST[@]}"                 # 3: A/B arm b
sim_start --model slow --ttft-base 0 --ttft-per-token 0 --itl 50ms  # 4: a slow stream
sim_start --model slow "${FAST[@]}"                  # 5: where the slow model goes next
write_backends() { # $1: the "drain" model's endpoints, $2: the "cold" model's
	cat >"$LLMO_DATA/backends.yaml" <<EOF
models:
  - name: split
    endpoints:
      - {address: "127.0.0.1:${SIM_PORTS[0]}", served: llama2:7b}
      - {address: "127.0.0.1:${SIM_PORTS[1]}", served: llama2:7b-canary, track: canary}
    tracks:
      - {name: stable, weight: 80}
      - {name: canary, weight: 20}
  - name: ab
    endpoints:
      - {address: "127.0.0.1:${SIM_PORTS[2]}", served: arm-a, track: a}
      - {address: "127.0.0.1:${SIM_PORTS[3]}", served: arm-b, track: b}
    tracks:
      - {name: a, weight: 50}
      - {name: b, weight: 50}
    abTest: {stickyBy: header, header: X-User}
  - name: drain
    served: slow
    endpoints: $1
  - name: cold
    served: llama2:7b
    endpoints: $2
EOF
}
write_backends "[{address: \"127.0.0.1:${SIM_PORTS[4]}\"}]" "[]"
gateway_start --seed 7 --hold-timeout 3s --hold-max 1 --watch 0

# ---- canary split: 20% +- 2 over 2,000 requests ----
check "split 80/20 by status tracks" $PY - "$GW_URL" <<'EOF'
import http.client, json, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
body = json.dumps({"model": "split", "max_tokens": 1, "messages": [{"role": "user", "content": "Hi"}]})
n, canary = 2000, 0
for _ in range(n):
    c.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    a = json.loads(r.read())
    assert r.status == 200, a
    canary += a["model"] == "llama2:7b-canary"
share = canary / n
assert abs(share - 0.20) <= 0.02, share
EOF
c=$(metric 'llmo_gateway_requests_total{model="split",track="canary",code="200"}')
s=$(metric 'llmo_gateway_requests_total{model="split",track="stable",code="200"}')
[ $((c + s)) -eq 2000 ] && ok || bad "requests by track: canary $c stable $s"
"${C[@]}" "$GW_URL/metrics" | grep -q '^llmo_gateway_request_duration_seconds_count{model="split",track="canary"} ' &&
	ok || bad "no duration histogram by track"

# ---- tokens from usage: 3 completion tokens a request, streamed or not ----
tokens() { # tokens KIND: the ab model's tokens of that kind, both arms
	echo $(($(metric "llmo_gateway_tokens_total{model=\"ab\",track=\"a\",kind=\"$1\"}") + \
		$(metric "llmo_gateway_tokens_total{model=\"ab\",track=\"b\",kind=\"$1\"}")))
}
before=$(tokens completion)
for i in 1 2; do "${C[@]}" -H "$J" -H 'X-User: alice' -d "$(chat ab)" "$GW_URL/v1/chat/completions" >/dev/null; done
"${C[@]}" -N -H "$J" -H 'X-User: alice' \
	-d "$(chat ab '"stream":true,"stream_options":{"include_usage":true}')" "$GW_URL/v1/chat/completions" >/dev/null
after=$(tokens completion)
[ $((after - before)) -eq 9 ] && ok || bad "completion tokens: $before -> $after; want 9 more"
[ "$(tokens prompt)" -gt 0 ] && ok || bad "no prompt tokens counted"

# ---- sticky A/B by header: each user stays in one arm; both arms are used ----
check "A/B arms are sticky by X-User" $PY - "$GW_URL" <<'EOF'
import http.client, json, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
body = json.dumps({"model": "ab", "max_tokens": 1, "messages": [{"role": "user", "content": "Hi"}]})
arms = {}
for user in range(40):
    for _ in range(5):
        c.request("POST", "/v1/chat/completions", body,
                  {"Content-Type": "application/json", "X-User": f"user-{user}"})
        r = c.getresponse()
        arms.setdefault(user, set()).add(json.loads(r.read())["model"])
assert all(len(a) == 1 for a in arms.values()), arms
used = {next(iter(a)) for a in arms.values()}
assert used == {"arm-a", "arm-b"}, used
EOF

# ---- drain: a stream on a draining replica finishes; new requests go elsewhere ----
check "draining cuts no stream" $PY - "$GW_URL" "$LLMO_DATA/backends.yaml" "$GW_PID" \
	"${SIM_PORTS[4]}" "${SIM_PORTS[5]}" <<'EOF'
import http.client, json, os, signal, sys, time, urllib.parse
url, path, gw, p_old, p_new = sys.argv[1:]
u = urllib.parse.urlparse(url)
s = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
s.request("POST", "/v1/chat/completions",
          json.dumps({"model": "drain", "stream": True, "max_tokens": 20,
                      "messages": [{"role": "user", "content": "Hi"}]}),
          {"Content-Type": "application/json"})
r = s.getresponse()
assert r.status == 200
first = r.readline()
assert first.startswith(b"data: "), first
# mark the replica draining, add another, reload
old = 'endpoints: [{address: "127.0.0.1:%s"}]' % p_old
text = open(path).read()
assert old in text
text = text.replace(old, 'endpoints: [{address: "127.0.0.1:%s", draining: true}, '
                    '{address: "127.0.0.1:%s"}]' % (p_old, p_new))
open(path, "w").write(text)
os.kill(int(gw), signal.SIGHUP)
c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
for _ in range(100):
    c.request("GET", "/metrics")
    if 'llmo_gateway_endpoints{model="drain",state="draining"} 1' in c.getresponse().read().decode():
        break
    time.sleep(0.02)
# new requests all go to the other replica: the draining one keeps its one stream
for _ in range(10):
    c.request("POST", "/v1/chat/completions",
              json.dumps({"model": "drain", "max_tokens": 1, "messages": [{"role": "user", "content": "Hi"}]}),
              {"Content-Type": "application/json"})
    resp = c.getresponse()
    resp.read()
    assert resp.status == 200
c.request("GET", "/metrics")
m = c.getresponse().read().decode()
assert 'llmo_gateway_inflight{backend="127.0.0.1:%s"} 1\n' % p_old in m, m
assert 'llmo_gateway_requests_total{model="drain",track="stable",code="200"} 10\n' in m, m
events = [first]
while True:
    line = r.readline()
    if not line:
        break
    if line.startswith(b"data: "):
        events.append(line)
assert events[-1].strip() == b"data: [DONE]", events[-3:]
assert len(events) == 23, len(events)  # role, 20 tokens, finish, [DONE]
EOF
[ "$(metric "llmo_gateway_inflight{backend=\"127.0.0.1:${SIM_PORTS[4]}\"}")" = 0 ] && ok ||
	bad "the drained replica still has requests in flight"

# ---- scale from zero: a held request goes out when a replica appears ----
check "a held request is dispatched when a replica appears" $PY - "$GW_URL" "$LLMO_DATA/backends.yaml" \
	"$GW_PID" "${SIM_PORTS[0]}" <<'EOF'
import http.client, json, os, signal, sys, threading, time, urllib.parse
url, path, gw, port = sys.argv[1:]
u = urllib.parse.urlparse(url)
out = {}
def ask():
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request("POST", "/v1/chat/completions",
              json.dumps({"model": "cold", "max_tokens": 1, "messages": [{"role": "user", "content": "Hi"}]}),
              {"Content-Type": "application/json"})
    r = c.getresponse()
    out["status"], out["body"] = r.status, r.read()
t = threading.Thread(target=ask)
t.start()
m = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
for _ in range(100):
    m.request("GET", "/metrics")
    if 'llmo_gateway_pending_requests{model="cold"} 1' in m.getresponse().read().decode():
        break
    time.sleep(0.02)
else:
    raise SystemExit("the request was not counted as pending")
assert "status" not in out, out
text = open(path).read()
assert "    endpoints: []" in text
open(path, "w").write(text.replace("    endpoints: []", '    endpoints: [{address: "127.0.0.1:%s"}]' % port))
os.kill(int(gw), signal.SIGHUP)
t.join(20)
assert out.get("status") == 200, out
m.request("GET", "/metrics")
assert 'llmo_gateway_pending_requests{model="cold"} 0' in m.getresponse().read().decode()
EOF
# no replica comes: 503 after the hold; a second request past --hold-max 1: 503 at once
write_backends "[{address: \"127.0.0.1:${SIM_PORTS[5]}\"}]" "[]"
kill -HUP "$GW_PID"
for _ in $(seq 1 100); do
	"${C[@]}" "$GW_URL/metrics" | grep -q '^llmo_gateway_endpoints{model="cold",state="ready"} 0$' && break
	sleep 0.05
done
t0=$(date +%s%N)
error_is 503 model_unavailable null -H "$J" -d "$(chat cold)" "$GW_URL/v1/chat/completions" &
held=$!
for _ in $(seq 1 100); do [ "$(metric 'llmo_gateway_pending_requests{model="cold"}')" = 1 ] && break; sleep 0.02; done
t1=$(date +%s%N)
expect_status 503 "past --hold-max" -H "$J" -d "$(chat cold)" "$GW_URL/v1/chat/completions"
[ $((($(date +%s%N) - t1) / 1000000)) -lt 1000 ] && ok || bad "past --hold-max was held too"
wait "$held" && ok || bad "the held request was not refused with 503"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -ge 2900 ] && ok || bad "refused after $ms ms, want the 3 s hold"
grep -q 'became ready within 3 s' "$LLMO_DATA/err" && ok || bad "message: $(cat "$LLMO_DATA/err")"

gateway_stop
finish
