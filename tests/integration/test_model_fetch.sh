#!/usr/bin/env bash
# Models through `llmo server` (API, registry and agent in one process):
# `llmo model push` creates and updates the LLMModel; maxVersions prunes the
# oldest unaliased version and its blobs (latest and stable kept);
# signatureValidation refuses an unsigned model at pull and at fetch;
# `llmo fetch` resumes an interrupted download (a partial file left behind, and
# transfers really cut by a proxy, within one fetch and across two) and verifies every file; a
# replica whose model is tampered never starts (a clear reason on the pod and
# an Event), one whose model is right starts with LLMO_MODEL_PATH; the Node
# lists its cached models.
. "$(dirname "$0")/lib.sh"
trap '[ -n "${PROXY_PID:-}" ] && kill "$PROXY_PID" 2>/dev/null; finish' EXIT
PY=/usr/bin/python3
k() { kubectl --request-timeout=30s "$@"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
said() { grep -q -- "$1" "$LLMO_DATA/said"; } # in what the last check printed (kept by keep)
keep() { cp "$LLMO_DATA/out" "$LLMO_DATA/said"; }
blob_file() { echo "$LLMO_DATA/registry/blobs/sha256/${1:0:2}/$1"; }

cat >"$LLMO_DATA/config.yaml" <<'EOF'
scheduler:
  resourceOvercommitRatio: 2.5
modelRegistry:
  maxVersions: 2
  autoCleanup: true
EOF
server_start --fake-gpus 1:A100:80Gi --config "$LLMO_DATA/config.yaml"
URL=$(registry_url)
TOKEN=$(admin_token)
CA="$LLMO_DATA/pki/ca.crt"
R=(--registry "$URL" --token "$TOKEN" --cacert "$CA")
m() { "$LLMO" model "$1" "${R[@]}" "${@:2}"; } # m SUBCOMMAND ARGS...
F=("$LLMO" fetch "${R[@]}")
tags() { [ "$(m list models/llama2 | tr '\n' ' ')" = "$1" ]; }

# ---- push creates the LLMModel ----
mkmodel "$LLMO_DATA/m1" 3000000
check "push 7b with an API" m push "$LLMO_DATA/m1" --name models/llama2 --version 7b \
	--framework vllm --parameters 7B --quantization fp16 --context-length 4096 --type pytorch --image x
D1=$(sed -n 's/^pushed models\/llama2:7b \(sha256:[0-9a-f]*\) .*/\1/p' "$LLMO_DATA/out")
check "the LLMModel has the spec and status of the push" bash -c "kubectl get llmm llama2-7b -n default -o json | $PY -c '
import json, sys
o = json.load(sys.stdin); s = o[\"spec\"]; st = o[\"status\"]
assert s[\"name\"] == \"llama2\" and s[\"version\"] == \"7b\" and s[\"framework\"] == \"vllm\", s
assert s[\"parameterCount\"] == \"7B\" and s[\"quantization\"] == \"fp16\" and s[\"contextLength\"] == 4096, s
assert \"type\" not in s or s[\"type\"] == \"text-generation\", s  # pytorch is no LLMModel type
a = s[\"artifact\"]
assert a[\"digest\"] == \"$D1\" and a[\"reference\"].endswith(\"/models/llama2:7b\"), a
assert [(f[\"path\"], f[\"size\"]) for f in a[\"files\"]] == [(\"config.json\", 38), (\"weights.bin\", 3000000)], a
assert st[\"digest\"] == \"$D1\" and st[\"totalSize\"] == 3000038, st
assert st[\"phase\"] in (\"Available\", \"Failed\"), st'"
# a re-push updates it and keeps what the user set
check_fails "a new LLMModel without a runtime is refused" m push "$LLMO_DATA/m1" --name models/norun --version 1
keep
check "and says why" said 'needs a runtime'
check "set the runtime by hand" k patch llmm llama2-7b -n default --type merge \
	-p '{"spec":{"runtime":{"image":"vllm/vllm-openai:v0.6.3"}}}'
head -c 1000 /dev/urandom >>"$LLMO_DATA/m1/weights.bin"
check "push 7b again (new bytes)" m push "$LLMO_DATA/m1" --name models/llama2 --version 7b
D1=$(sed -n 's/^pushed models\/llama2:7b \(sha256:[0-9a-f]*\) .*/\1/p' "$LLMO_DATA/out")
check "the LLMModel follows, its runtime kept" bash -c "kubectl get llmm llama2-7b -n default -o json | $PY -c '
import json, sys
o = json.load(sys.stdin)
assert o[\"spec\"][\"artifact\"][\"digest\"] == \"$D1\" and o[\"status\"][\"digest\"] == \"$D1\", o
assert o[\"status\"][\"totalSize\"] == 3001038, o[\"status\"]
assert o[\"spec\"][\"runtime\"][\"image\"] == \"vllm/vllm-openai:v0.6.3\", o[\"spec\"]'"
mkmodel "$LLMO_DATA/other" 1000
check "push with --no-api" m push "$LLMO_DATA/other" --name models/other --version 1 --no-api
check_fails "makes no LLMModel" kubectl get llmm other-1 -n default

# ---- maxVersions: 2 (latest and stable kept) ----
W1=$(sha "$LLMO_DATA/m1/weights.bin")
mkmodel "$LLMO_DATA/m2" 2000000
mkmodel "$LLMO_DATA/m3" 2000000
cp "$LLMO_DATA/m1/config.json" "$LLMO_DATA/m2/config.json"
W2=$(sha "$LLMO_DATA/m2/weights.bin") W3=$(sha "$LLMO_DATA/m3/weights.bin")
check "push v2" m push "$LLMO_DATA/m2" --name models/llama2 --version v2 --no-api
check "push v3" m push "$LLMO_DATA/m3" --name models/llama2 --version v3 --no-api
check "three versions, two kept: 7b (oldest) pruned" tags "models/llama2:latest models/llama2:v2 models/llama2:v3 "
check "7b's weights are garbage collected" test ! -e "$(blob_file "$W1")"
check "v2's and v3's weights stay" test -e "$(blob_file "$W2")" -a -e "$(blob_file "$W3")"
check "the config blob shared with v2 stays" test -e "$(blob_file "$(sha "$LLMO_DATA/m2/config.json")")"
check "alias v2 as stable" m tag models/llama2:v2 stable
mkmodel "$LLMO_DATA/m4" 1000000
check "push v4" m push "$LLMO_DATA/m4" --name models/llama2 --version v4 --no-api
check "v3 pruned, not the stable v2" tags "models/llama2:latest models/llama2:stable models/llama2:v2 models/llama2:v4 "
check "v3's weights are gone" test ! -e "$(blob_file "$W3")"

# ---- signatureValidation ----
printf 'modelRegistry:\n  signatureValidation: true\n' >"$LLMO_DATA/sig.yaml"
m keygen --key "$LLMO_DATA/k" >/dev/null
mkdir -p "$LLMO_DATA/keys" && cp "$LLMO_DATA/k.pub" "$LLMO_DATA/keys/"
check_fails "pull of an unsigned model with signatureValidation" m pull models/llama2:v4 \
	--output "$LLMO_DATA/p4" --config "$LLMO_DATA/sig.yaml" --trusted-keys "$LLMO_DATA/keys"
check "nothing was pulled" test ! -e "$LLMO_DATA/p4/weights.bin"
check_fails "fetch of an unsigned model with signatureValidation" "${F[@]}" models/llama2:v4 \
	--cache-dir "$LLMO_DATA/cache" --config "$LLMO_DATA/sig.yaml" --trusted-keys "$LLMO_DATA/keys" \
	--reason-file "$LLMO_DATA/reason"
check "its reason" grep -q '"reason":"ModelSignatureInvalid"' "$LLMO_DATA/reason"
m keygen --key "$LLMO_DATA/other" >/dev/null
check "sign v4 with another key" m sign models/llama2:v4 --key "$LLMO_DATA/other.key"
check_fails "a signature by an untrusted key is refused" m pull models/llama2:v4 \
	--output "$LLMO_DATA/p4" --require-signature --trusted-keys "$LLMO_DATA/k.pub"
check "sign v4 with the trusted key" m sign models/llama2:v4 --key "$LLMO_DATA/k.key"
check "pull of the signed model" m pull models/llama2:v4 --output "$LLMO_DATA/p4" \
	--config "$LLMO_DATA/sig.yaml" --trusted-keys "$LLMO_DATA/keys"
check "fetch of the signed model" "${F[@]}" models/llama2:v4 --cache-dir "$LLMO_DATA/cache" \
	--config "$LLMO_DATA/sig.yaml" --trusted-keys "$LLMO_DATA/keys"
check_fails "no trusted keys: refused" env -u LLMO_TRUSTED_KEYS "${F[@]}" models/llama2:v4 \
	--cache-dir "$LLMO_DATA/cache" --require-signature
keep
check "and why" said 'no trusted keys'

# ---- fetch resumes an interrupted download and verifies ----
C="$LLMO_DATA/cache2"
mkdir -p "$C/partial"
head -c 1200000 "$LLMO_DATA/m2/weights.bin" >"$C/partial/$W2" # what a cut transfer left
check "fetch resumes" "${F[@]}" models/llama2:v2 --cache-dir "$C" --progress plain
keep
DIR=$(tail -1 "$LLMO_DATA/said")
check "from byte 1200000" said "resuming a download blob=sha256:$W2 have=1200000 size=2000000"
check "with progress lines" said '^fetch models/llama2:v2: 100.0% 2000038/2000038 bytes'
check "the files are the pushed ones" cmp "$DIR/weights.bin" "$LLMO_DATA/m2/weights.bin"
check "the partial file is gone" test ! -e "$C/partial/$W2"
printf 'garbage' >"$C/partial/$(sha "$LLMO_DATA/m4/weights.bin")"  # a wrong prefix
check "a wrong partial file is not trusted" "${F[@]}" models/llama2:v4 --cache-dir "$C" --progress none
keep
check "the v4 files are right" cmp "$(tail -1 "$LLMO_DATA/said")/weights.bin" "$LLMO_DATA/m4/weights.bin"
flip_byte "$DIR/weights.bin" 10
check "a cached file changed on disk is fetched again" "${F[@]}" models/llama2:v2 --cache-dir "$C" --progress none
check "and right again" cmp "$DIR/weights.bin" "$LLMO_DATA/m2/weights.bin"

# ---- replicas: the agent fetches before starting; a tampered model never starts ----
check "apply the namespaces" k apply -f k8s/llm-orchestrator/namespace.yaml
mkmodel "$LLMO_DATA/good" 1500000
mkmodel "$LLMO_DATA/bad" 1500000
check "push the good model" m push "$LLMO_DATA/good" --name models/good --version 1 -n llm-workloads \
	--local-command '["true"]'
check "push the bad model" m push "$LLMO_DATA/bad" --name models/bad --version 1 -n llm-workloads \
	--local-command '["true"]'
BADW=$(sha "$LLMO_DATA/bad/weights.bin")
flip_byte "$(blob_file "$BADW")" 1000
for m in good bad; do
	$PY - "$m" "$LLMO" >"$LLMO_DATA/patch.json" <<'EOF'
import json, sys
m, llmo = sys.argv[1], sys.argv[2]
cmd = 'ls "$LLMO_MODEL_PATH" >&2; exec "%s" inference-sim --port "$PORT" --model %s:1' % (llmo, m)
print(json.dumps({"spec": {"runtime": {"image": "x", "localCommand": ["sh", "-c", cmd]},
                           "resources": {"minimum": {"cpu": "100m", "memory": "64Mi"}}}}))
EOF
	check "runtime for $m" k patch llmm "$m-1" -n llm-workloads --type merge --patch-file "$LLMO_DATA/patch.json"
	check "workload $m" k apply -f - <<EOF
apiVersion: llm.orchestrator.io/v1
kind: LLMWorkload
metadata: {name: $m, namespace: llm-workloads}
spec: {modelName: $m, modelVersion: "1", resources: {cpu: 100m, memory: 64Mi}, scaling: {minReplicas: 1, maxReplicas: 1}}
EOF
done
check "the good replica becomes Ready" k wait --for=condition=Ready llmworkload/good -n llm-workloads --timeout=120s
pod_of() { kubectl get pods -n llm-workloads -l llm.orchestrator.io/workload="$1" -o jsonpath='{.items[0].metadata.name}'; }
check "the good replica's pod names its model" bash -c "kubectl get pod $(pod_of good) -n llm-workloads -o json | $PY -c '
import json, sys
a = json.load(sys.stdin)[\"metadata\"][\"annotations\"][\"llm.orchestrator.io/model-artifact\"]
assert \"/models/good:1@sha256:\" in a, a'"
check "the good replica saw its files" wait_for 30 bash -c "kubectl logs $(pod_of good) -n llm-workloads | grep -q weights.bin"
bad_reason() {
	kubectl get pod "$(pod_of bad)" -n llm-workloads -o json | $PY -c '
import json, sys
cs = json.load(sys.stdin)["status"]["containerStatuses"][0]
t = cs.get("lastState", {}).get("terminated") or cs.get("state", {}).get("terminated") or {}
assert t.get("reason") == "ModelVerificationFailed", cs
assert "corrupt" in t.get("message", ""), t
assert not cs.get("ready"), cs'
}
check "the bad replica reports ModelVerificationFailed" wait_for 60 bad_reason
bad_event() {
	kubectl get events -n llm-workloads -o json | $PY -c '
import json, sys
ev = [e for e in json.load(sys.stdin)["items"] if e.get("reason") == "ModelVerificationFailed"]
assert ev and ev[0]["type"] == "Warning" and ev[0]["involvedObject"]["kind"] == "Pod", ev
assert "corrupt" in ev[0]["message"], ev'
}
check "and an Event says why" wait_for 30 bad_event
check "the bad workload is not Ready" bash -c "[ \"\$(kubectl get llmw bad -n llm-workloads -o jsonpath='{.status.readyReplicas}')\" != 1 ]"
NODE=$(kubectl get nodes -o jsonpath='{.items[0].metadata.name}')
check "the Node lists its cached models" wait_for 30 bash -c "kubectl get node $NODE -o json | $PY -c '
import json, sys
a = json.loads(json.load(sys.stdin)[\"metadata\"][\"annotations\"][\"llm.orchestrator.io/cached-models\"])
assert set(a) == {\"pullBytesPerSecond\", \"models\"} and isinstance(a[\"pullBytesPerSecond\"], int), a
m = [x for x in a[\"models\"] if x[\"name\"] == \"good\"]
assert m and m[0][\"version\"] == \"1\" and m[0][\"sizeBytes\"] == 1500038, a
assert m[0][\"digest\"].startswith(\"sha256:\") and len(m[0][\"digest\"]) == 71, a
assert sorted(m[0]) == [\"digest\", \"name\", \"sizeBytes\", \"version\"], a
assert not [x for x in a[\"models\"] if x[\"name\"] == \"bad\"], a'"

# ---- prefetch: the Node annotation asks the agent for a model ahead of a replica ----
mkmodel "$LLMO_DATA/pre" 1200000
check "push a model no replica uses" m push "$LLMO_DATA/pre" --name models/pre --version 1 -n llm-workloads \
	--local-command '["true"]'
PREREF=$(kubectl get llmm pre-1 -n llm-workloads -o jsonpath='{.spec.artifact.reference}@{.spec.artifact.digest}')
check "ask the node to prefetch it" k annotate node "$NODE" --overwrite \
	"llm.orchestrator.io/prefetch={\"llm-workloads/pre\":\"$PREREF\"}"
check "the agent fetches it into its cache and the Node lists it" wait_for 60 bash -c "kubectl get node $NODE -o json | $PY -c '
import json, sys
a = json.loads(json.load(sys.stdin)[\"metadata\"][\"annotations\"][\"llm.orchestrator.io/cached-models\"])
m = [x for x in a[\"models\"] if x[\"name\"] == \"pre\"]
assert m and m[0][\"version\"] == \"1\" and m[0][\"sizeBytes\"] == 1200038, a
assert \"$PREREF\".endswith(\"@\" + m[0][\"digest\"]), (m, \"$PREREF\")'"
check "its files are the pushed ones" cmp "$LLMO_DATA/models/models/${PREREF##*sha256:}/weights.bin" "$LLMO_DATA/pre/weights.bin"
pre_event() {
	kubectl get events -A -o json | $PY -c '
import json, sys
ev = [e for e in json.load(sys.stdin)["items"] if e.get("reason") == "Prefetched"]
assert ev and ev[0]["involvedObject"]["kind"] == "Node" and "/models/pre:1@sha256:" in ev[0]["message"], ev'
}
check "and an Event on the Node says so" wait_for 30 pre_event

# ---- model delete removes the LLMModel ----
check "model delete" m delete models/bad:1 -n llm-workloads
check_fails "its LLMModel is gone" kubectl get llmm bad-1 -n llm-workloads

# ---- a transfer really cut: a proxy that closes the connection mid-blob ----
# The proxy forwards to the server's registry; the first CUTS answers to a blob GET stop
# after 600000 bytes (the connection is closed). One cut: the same fetch resumes it. Cuts
# on every answer, resumed ones at once: the fetch fails, keeps what it got, and the next
# fetch goes on from there.
cat >"$LLMO_DATA/cutproxy.py" <<'PYEOF'
import http.client, http.server, socketserver, ssl, sys, threading
upstream, cuts = sys.argv[1], int(sys.argv[2])
host, port = upstream.split(":")
ctx = ssl.create_default_context(cafile=sys.argv[3])
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_HEAD(self): self.forward(False)
    def do_GET(self): self.forward(True)
    def forward(self, body):
        global cuts
        c = http.client.HTTPSConnection(host, int(port), context=ctx)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "range", "accept")}
        c.request(self.command, self.path, headers=hdrs)
        r = c.getresponse()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("connection", "transfer-encoding"):
                self.send_header(k, v)
        self.end_headers()
        if not body:
            return
        # cut: at 600000 bytes; with cuts < 0, every answer, a resumed one (Range) at once
        limit = 600000 if "range" not in (k.lower() for k in hdrs) else 0
        cut = False
        with lock:
            if "/blobs/" in self.path and int(r.getheader("Content-Length", "0")) > limit and cuts != 0:
                cuts -= 1
                cut = True
        sent = 0
        while True:
            chunk = r.read(65536)
            if not chunk:
                break
            if cut and sent + len(chunk) > limit:
                self.wfile.write(chunk[: limit - sent]); self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.wfile.write(chunk); sent += len(chunk)
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
s = S(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PYEOF
proxy_start() { # CUTS: starts the proxy; sets PROXY (host:port)
	$PY "$LLMO_DATA/cutproxy.py" "${URL#https://}" "$1" "$CA" >"$LLMO_DATA/proxy.port" 2>/dev/null &
	PROXY_PID=$!
	wait_for 10 test -s "$LLMO_DATA/proxy.port"
	PROXY=127.0.0.1:$(cat "$LLMO_DATA/proxy.port")
}
proxy_stop() { kill "$PROXY_PID" 2>/dev/null; wait "$PROXY_PID" 2>/dev/null; : >"$LLMO_DATA/proxy.port"; }
C3="$LLMO_DATA/cache3"
proxy_start 1
check "a fetch through one cut" "$LLMO" fetch "$PROXY/models/llama2:v2" --plain-http --token "$TOKEN" \
	--cache-dir "$C3" --progress none
keep
check "resumed the cut transfer itself" said "download cut short, resuming blob=sha256:$W2 have=600000"
check "and got the right bytes" cmp "$(tail -1 "$LLMO_DATA/said")/weights.bin" "$LLMO_DATA/m2/weights.bin"
proxy_stop
proxy_start -1
rm -rf "$C3"
check_fails "a fetch through a proxy that always cuts" "$LLMO" fetch "$PROXY/models/llama2:v2" --plain-http \
	--token "$TOKEN" --cache-dir "$C3" --progress none
check "keeps the 600000 bytes it got" test "$(stat -c %s "$C3/partial/$W2")" -eq 600000
proxy_stop
check "the next fetch goes on from there" "${F[@]}" models/llama2:v2 --cache-dir "$C3" --progress none
keep
check "from byte 600000" said "resuming a download blob=sha256:$W2 have=600000"
check "to the right bytes" cmp "$(tail -1 "$LLMO_DATA/said")/weights.bin" "$LLMO_DATA/m2/weights.bin"
