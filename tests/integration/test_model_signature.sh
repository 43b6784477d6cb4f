#!/usr/bin/env bash
# Per-model signature policy (an LLMModel's spec.signature) through `llmo server`
# with modelRegistry.signatureValidation off and $LLMO_TRUSTED_KEYS a directory
# of NAME.pub files: a model that requires a signature by key "release" and has
# none never starts (the pod's reason ModelSignatureInvalid names the key, and
# an Event says so); signed by release it runs; a keyRef naming another trusted
# key (other) that did not sign is refused naming that key; a keyRef naming no
# trusted key fails the LLMModel (UnknownSignatureKey); a model without
# spec.signature still runs unsigned (the global key is off).
. "$(dirname "$0")/lib.sh"
trap finish EXIT
PY=/usr/bin/python3
NS=llm-workloads
k() { kubectl --request-timeout=30s "$@"; }

mkdir -p "$LLMO_DATA/keys"
export LLMO_TRUSTED_KEYS="$LLMO_DATA/keys"
server_start --fake-gpus 1:A100:80Gi
URL=$(registry_url)
TOKEN=$(admin_token)
R=(--registry "$URL" --token "$TOKEN" --cacert "$LLMO_DATA/pki/ca.crt")
m() { "$LLMO" model "$1" "${R[@]}" "${@:2}"; } # m SUBCOMMAND ARGS...
keep() { cp "$LLMO_DATA/out" "$LLMO_DATA/said"; } # what the last check printed

check "keygen release" m keygen --key "$LLMO_DATA/release"
check "keygen other" m keygen --key "$LLMO_DATA/other"
cp "$LLMO_DATA/release.pub" "$LLMO_DATA/other.pub" "$LLMO_DATA/keys/"
check "apply the namespaces" k apply -f k8s/llm-orchestrator/namespace.yaml

# NAME KEYREF (- for no spec.signature): pushes models/NAME:1, its runtime, signature and workload
model() {
	mkdir -p "$LLMO_DATA/$1"
	head -c 200000 /dev/urandom >"$LLMO_DATA/$1/weights.bin"
	check "push $1" m push "$LLMO_DATA/$1" --name "models/$1" --version 1 -n "$NS" \
		--local-command '["true"]'
	$PY - "$1" "$2" "$LLMO" >"$LLMO_DATA/patch.json" <<'EOF'
import json, sys
m, key, llmo = sys.argv[1], sys.argv[2], sys.argv[3]
cmd = 'exec "%s" inference-sim --port "$PORT" --model %s:1' % (llmo, m)
spec = {"runtime": {"image": "x", "localCommand": ["sh", "-c", cmd]},
        "resources": {"minimum": {"cpu": "100m", "memory": "64Mi"}}}
if key != "-":
    spec["signature"] = {"required": True, "keyRef": key}
print(json.dumps({"spec": spec}))
EOF
	check "runtime and signature of $1" k patch llmm "$1-1" -n "$NS" --type merge \
		--patch-file "$LLMO_DATA/patch.json"
}
workload() {
	check "workload $1" k apply -f - <<EOF
apiVersion: llm.orchestrator.io/v1
kind: LLMWorkload
metadata: {name: $1, namespace: $NS}
spec: {modelName: $1, modelVersion: "1", resources: {cpu: 100m, memory: 64Mi}, scaling: {minReplicas: 1, maxReplicas: 1}}
EOF
}

model unsigned release
model signed release
model wrongkey other
model unknownkey nosuch
model plain -
check "sign signed with release" m sign models/signed:1 --key "$LLMO_DATA/release.key"
check "sign wrongkey with release" m sign models/wrongkey:1 --key "$LLMO_DATA/release.key"
for w in unsigned signed wrongkey unknownkey plain; do workload "$w"; done

# ---- signed by the key its keyRef names: runs; no spec.signature: runs unsigned ----
check "the signed replica becomes Ready" k wait --for=condition=Ready llmworkload/signed -n "$NS" --timeout=120s
check "the unsigned model without spec.signature runs (signatureValidation is off)" \
	k wait --for=condition=Ready llmworkload/plain -n "$NS" --timeout=120s
pod_of() { kubectl get pods -n "$NS" -l llm.orchestrator.io/workload="$1" -o jsonpath='{.items[0].metadata.name}'; }
check "the signed replica's pod carries the requirement" bash -c "kubectl get pod $(pod_of signed) -n $NS -o json | $PY -c '
import json, sys
a = json.load(sys.stdin)[\"metadata\"][\"annotations\"]
assert a[\"llm.orchestrator.io/model-signature-required\"] == \"true\", a
assert a[\"llm.orchestrator.io/model-signature-key\"] == \"release\", a'"

# ---- refused: the pod's reason and an Event name the key ----
# refused W KEY: the replica of W terminated with ModelSignatureInvalid naming KEY, never ready
refused() {
	kubectl get pod "$(pod_of "$1")" -n "$NS" -o json | $PY -c '
import json, sys
key = sys.argv[1]
cs = json.load(sys.stdin)["status"]["containerStatuses"][0]
t = cs.get("lastState", {}).get("terminated") or cs.get("state", {}).get("terminated") or {}
assert t.get("reason") == "ModelSignatureInvalid", cs
assert "must be signed by the key called %s (sha256:" % key in t.get("message", ""), t
assert not cs.get("ready"), cs' "$2"
}
# event W KEY: a Warning Event ModelSignatureInvalid on W's pod naming KEY
event() {
	kubectl get events -n "$NS" -o json | $PY -c '
import json, sys
pod, key = sys.argv[1], sys.argv[2]
ev = [e for e in json.load(sys.stdin)["items"] if e.get("reason") == "ModelSignatureInvalid"
      and e["involvedObject"]["name"] == pod]
assert ev and ev[0]["type"] == "Warning" and ev[0]["involvedObject"]["kind"] == "Pod", ev
assert "the key called %s" % key in ev[0]["message"], ev' "$(pod_of "$1")" "$2"
}
check "the unsigned model's replica is refused, naming release" wait_for 60 refused unsigned release
check "and an Event says why" wait_for 30 event unsigned release
check "the model signed by release but asking for other is refused, naming other" \
	wait_for 60 refused wrongkey other
check "and an Event says why" wait_for 30 event wrongkey other
check "the unsigned workload is not Ready" bash -c "[ \"\$(kubectl get llmw unsigned -n $NS -o jsonpath='{.status.readyReplicas}')\" != 1 ]"

# ---- a keyRef naming no trusted key: the LLMModel says so ----
unknown() {
	kubectl get llmm unknownkey-1 -n "$NS" -o json | $PY -c '
import json, sys
st = json.load(sys.stdin)["status"]
c = [x for x in st.get("conditions", []) if x["type"] == "Ready"]
assert st.get("phase") == "Failed" and c and c[0]["status"] == "False", st
assert c[0]["reason"] == "UnknownSignatureKey", c
assert "no public key called nosuch" in c[0]["message"], c'
}
check "the LLMModel with an unknown keyRef is Failed with UnknownSignatureKey" wait_for 30 unknown
check "its workload says why" wait_for 30 bash -c "kubectl get llmw unknownkey -n $NS -o json | $PY -c '
import json, sys
c = json.load(sys.stdin)[\"status\"][\"conditions\"]
assert any(\"no public key called nosuch\" in x.get(\"message\", \"\") for x in c), c'"
cp "$LLMO_DATA/release.pub" "$LLMO_DATA/keys/nosuch.pub"
check "once the key exists, the model is Available again" \
	wait_for 30 bash -c "[ \"\$(kubectl get llmm unknownkey-1 -n $NS -o jsonpath='{.status.phase}')\" = Available ]"

# ---- llmo fetch by hand: --key-ref ----
F=("$LLMO" fetch "${R[@]}" --cache-dir "$LLMO_DATA/cache" --trusted-keys "$LLMO_DATA/keys")
check "fetch --require-signature --key-ref release of the signed model" \
	"${F[@]}" models/signed:1 --require-signature --key-ref release
check_fails "fetch --key-ref other of a model release signed" \
	"${F[@]}" models/signed:1 --require-signature --key-ref other --reason-file "$LLMO_DATA/reason"
check "its reason" grep -q '"reason":"ModelSignatureInvalid"' "$LLMO_DATA/reason"
check "names the key" grep -q 'the key called other' "$LLMO_DATA/reason"
check_fails "fetch --key-ref of a key not there" \
	"${F[@]}" models/signed:1 --require-signature --key-ref absent --reason-file "$LLMO_DATA/reason"
check "its reason says there is no such key" grep -q 'no public key called absent' "$LLMO_DATA/reason"
check "--key-ref alone checks nothing (no signature required)" \
	"${F[@]}" models/plain:1 --key-ref release
printf 'modelRegistry:\n  signatureValidation: true\n' >"$LLMO_DATA/sig.yaml"
check_fails "with signatureValidation on, --key-ref other still narrows to that key" \
	"${F[@]}" models/signed:1 --config "$LLMO_DATA/sig.yaml" --key-ref other
keep
check "and names it" grep -q 'signature.keyRef: the model must be signed by the key called other' "$LLMO_DATA/said"
check "with signatureValidation on and --key-ref release: fetched" \
	"${F[@]}" models/signed:1 --config "$LLMO_DATA/sig.yaml" --key-ref release

# ---- llmo model pull: the same --key-ref ----
P=(--no-api --trusted-keys "$LLMO_DATA/keys" --require-signature)
check "model pull --key-ref release of the model release signed" \
	m pull models/signed:1 "${P[@]}" --key-ref release --output "$LLMO_DATA/pulled-release"
check_fails "model pull --key-ref other of it" \
	m pull models/signed:1 "${P[@]}" --key-ref other --output "$LLMO_DATA/pulled-other"
keep
check "names the key it wanted" grep -q 'signature.keyRef: the model must be signed by the key called other' "$LLMO_DATA/said"
check "and wrote nothing" test ! -e "$LLMO_DATA/pulled-other"
check_fails "model pull --key-ref of a key not there" \
	m pull models/signed:1 "${P[@]}" --key-ref absent --output "$LLMO_DATA/pulled-absent"
keep
check "says there is no such key" grep -q 'no public key called absent' "$LLMO_DATA/said"
