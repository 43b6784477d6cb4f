#!/usr/bin/env bash
# The fetch step on a cluster, where the kubelet runs the replicas: `llmo agent --runtime none
# --model-cache DIR` (the DaemonSet) fetches and verifies the model of each pod bound to its
# node that carries llm.orchestrator.io/model-artifact, and `llmo fetch --await UID` (the pod's
# init container, the cache read-only) waits for its result. No kubelet here: the pods are
# bound by hand to a second Node that only this agent serves, and the init container's command
# is run as the kubelet would run it. Checks: a good model ready (files byte for byte, pinned,
# listed on the Node), a tampered one refused (ModelVerificationFailed, a Warning Event, the
# init container's exit 1 and its line) and fetched again once repaired; a required signature
# without trusted keys (ModelSignatureInvalid); a pod deleted takes its directory and pin; an
# agent restart keeps a ready pod without fetching again and removes what dead pods left. The
# agent has a user name and password for the registry (--registry-creds-file), not its token.
. "$(dirname "$0")/lib.sh"
trap '[ -n "${AGENT_PID:-}" ] && kill "$AGENT_PID" 2>/dev/null; finish' EXIT
export KEEP=1
PY=/usr/bin/python3
k() { kubectl --request-timeout=30s "$@"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
blob_file() { echo "$LLMO_DATA/registry/blobs/sha256/${1:0:2}/$1"; }
said() { grep -q -- "$1" "$LLMO_DATA/said"; } # in what the last check printed (kept by keep)
keep() { cp "$LLMO_DATA/out" "$LLMO_DATA/said"; }

server_start --fake-gpus 1:A100:80Gi
URL=$(registry_url)
TOKEN=$(admin_token)
CA="$LLMO_DATA/pki/ca.crt"
# the agent's credentials as a user name and password: its fetch step gets a token for them
# from the registry's /token (the Bearer challenge's realm), as from Harbor or GHCR
printf 'agent:%s\n' "$TOKEN" >"$LLMO_DATA/creds"
m() { "$LLMO" model "$1" --registry "$URL" --token "$TOKEN" --cacert "$CA" "${@:2}"; }
NODE=gpu-node-2
CACHE="$LLMO_DATA/nodecache"
ALOG="$LLMO_DATA/agent.log"
MPORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
agent_start() {
	"$LLMO" agent --runtime none --node-name "$NODE" --kubeconfig "$KUBECONFIG" \
		--state-dir "$LLMO_DATA/agent2" --fake-gpus 1:A100:80Gi --model-cache "$CACHE" \
		--registry-creds-file "$LLMO_DATA/creds" --registry-cacert "$CA" \
		--metrics-listen "127.0.0.1:$MPORT" 2>>"$ALOG" &
	AGENT_PID=$!
}
metric() { curl -s "http://127.0.0.1:$MPORT/metrics" | grep -q "^$1\$"; }
agent_stop() { # a non-zero exit (a sanitizer report) fails the test
	local rc=0
	kill "$AGENT_PID"; wait "$AGENT_PID" || rc=$?
	AGENT_PID=
	[ "$rc" -eq 0 ] || { bad "llmo agent exited with status $rc"; tail -30 "$ALOG"; }
}
await() { "$LLMO" fetch --await "$1" --cache-dir "$CACHE"; } # the init container's command

check "a second Node, served by no kubelet here" k apply -f - <<EOF
apiVersion: v1
kind: Node
metadata: {name: $NODE}
EOF
mkmodel "$LLMO_DATA/good" 1200000
mkmodel "$LLMO_DATA/bad" 1200000
check "push the good model" m push "$LLMO_DATA/good" --name models/good --version 1 --no-api
DG=$(sed -n 's/^pushed models\/good:1 \(sha256:[0-9a-f]*\) .*/\1/p' "$LLMO_DATA/out")
check "push the bad model" m push "$LLMO_DATA/bad" --name models/bad --version 1 --no-api
DB=$(sed -n 's/^pushed models\/bad:1 \(sha256:[0-9a-f]*\) .*/\1/p' "$LLMO_DATA/out")
HOSTPORT=${URL#*://}
BADW=$(sha "$LLMO_DATA/bad/weights.bin")
flip_byte "$(blob_file "$BADW")" 1000

pod() { # NAME REF [EXTRA ANNOTATIONS]: a pod bound to $NODE with the model-artifact annotation
	k apply -f - <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $1
  namespace: default
  annotations: {llm.orchestrator.io/model-artifact: "$2"${3:-}}
spec:
  nodeName: $NODE
  containers: [{name: server, image: x}]
EOF
}
uid() { kubectl get pod "$1" -n default -o jsonpath='{.metadata.uid}'; }
state() { $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["state"])' "$CACHE/pods/$1/status" 2>/dev/null; }

check "await refuses a uid that is no name" bash -c "\"$LLMO\" fetch --await ../x --cache-dir \"$CACHE\"; [ \$? -eq 2 ]"
check "await refuses a REFERENCE" bash -c "\"$LLMO\" fetch models/good:1 --await abc --cache-dir \"$CACHE\"; [ \$? -eq 2 ]"
check "await without the agent's status still waits (and says so)" bash -c \
	"timeout 2 \"$LLMO\" fetch --await no-such-pod --cache-dir \"$CACHE\" 2>&1; [ \$? -eq 124 ]"
keep
check "and says what it waits for" said "waiting for the node's llmo agent"

agent_start
check "pod good" pod good "$HOSTPORT/models/good:1@$DG"
check "pod bad" pod bad "$HOSTPORT/models/bad:1@$DB"
check "pod signed (a signature required, no trusted keys on the agent)" pod signed \
	"$HOSTPORT/models/good:1@$DG" ', llm.orchestrator.io/model-signature-required: "true"'
UG=$(uid good) UB=$(uid bad) US=$(uid signed)
check "the good model becomes ready" wait_for 60 bash -c "[ \"\$(cd; $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"state\"])' $CACHE/pods/$UG/status)\" = ready ]"
check "the init container's command exits 0 with the model's directory" await "$UG"
keep
check "which is the cache's directory of the manifest" bash -c "[ \"\$(tail -1 $LLMO_DATA/said)\" = \"$CACHE/models/${DG#sha256:}\" ]"
check "and it showed the agent's progress" said "fetch models/good"
check "the weights byte for byte" cmp "$CACHE/models/${DG#sha256:}/weights.bin" "$LLMO_DATA/good/weights.bin"
check "the pod pins its model" bash -c "[ \"\$(cat $CACHE/pins/$UG)\" = ${DG#sha256:} ]"
check "the Node lists the cached model" wait_for 30 bash -c "kubectl get node $NODE -o json | $PY -c '
import json, sys
a = json.loads(json.load(sys.stdin)[\"metadata\"][\"annotations\"][\"llm.orchestrator.io/cached-models\"])
assert [x[\"name\"] for x in a[\"models\"]] == [\"good\"], a
assert a[\"models\"][0][\"digest\"] == \"$DG\" and a[\"models\"][0][\"sizeBytes\"] == 1200038, a'"

check "the bad model fails" wait_for 60 bash -c "[ \"\$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"state\"])' $CACHE/pods/$UB/status)\" = failed ]"
check_fails "the bad pod's init container exits non-zero" await "$UB"
keep
check "with the reason on its last line" bash -c "tail -1 $LLMO_DATA/said | grep -q '^llmo fetch: ModelVerificationFailed: .*tries again in 10 s'"
check "the bad weights are not in the cache, nor the model complete" \
	test ! -e "$CACHE/models/${DB#sha256:}/weights.bin" -a ! -e "$CACHE/models/${DB#sha256:}/.llmo-model.json"
bad_event() {
	kubectl get events -n default -o json | $PY -c '
import json, sys
ev = [e for e in json.load(sys.stdin)["items"] if e.get("reason") == "ModelVerificationFailed"]
assert ev and ev[0]["type"] == "Warning", ev
o = ev[0]["involvedObject"]
assert o["kind"] == "Pod" and o["name"] == "bad" and o["uid"] == sys.argv[1], o
assert "attempt 1" in ev[0]["message"], ev' "$UB"
}
check "a Warning Event on the pod says why" wait_for 30 bad_event
check "the signed pod is refused" wait_for 60 bash -c "$PY -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert s[\"state\"] == \"failed\" and s[\"reason\"] == \"ModelSignatureInvalid\", s
assert \"no trusted keys\" in s[\"message\"], s' $CACHE/pods/$US/status"

# repaired in the registry: the agent's next try (10 s after the first) fetches it
flip_byte "$(blob_file "$BADW")" 1000
check "repaired, the bad model is fetched on the next try" wait_for 40 bash -c "[ \"\$($PY -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s[\"state\"], s[\"attempt\"])' $CACHE/pods/$UB/status)\" = 'ready 2' ]"
check "and its init container passes" await "$UB"

check "the agent counts its fetches" metric 'llmo_agent_model_fetches_total{kind="replica",result="ok"} 2'
check "and the failures" metric 'llmo_agent_model_fetches_total{kind="replica",result="error"} 2'
check "and is ready" bash -c "curl -sf http://127.0.0.1:$MPORT/readyz | grep -qx ok"

# prefetch: the Node annotation (the controller's, ahead of a scale-up) asks for a model
mkmodel "$LLMO_DATA/pre" 700000
check "push a model no pod uses" m push "$LLMO_DATA/pre" --name models/pre --version 1 --no-api
DP=$(sed -n 's/^pushed models\/pre:1 \(sha256:[0-9a-f]*\) .*/\1/p' "$LLMO_DATA/out")
check "ask the node to prefetch it" k annotate node "$NODE" --overwrite \
	"llm.orchestrator.io/prefetch={\"default/pre\":\"$HOSTPORT/models/pre:1@$DP\"}"
check "the agent fetches it into the cache (at its next heartbeat)" wait_for 40 \
	cmp "$CACHE/models/${DP#sha256:}/weights.bin" "$LLMO_DATA/pre/weights.bin"
check "counted as a prefetch" wait_for 10 metric 'llmo_agent_model_fetches_total{kind="prefetch",result="ok"} 1'
check "no pod pins it" test ! -e "$CACHE/pins/pre"

# no kubelet stops its containers here: deleted at once, as a kubelet ends a graceful delete
check "delete the bad pod" k delete pod bad -n default --grace-period=0 --force
check "its directory and pin go" wait_for 30 bash -c "[ ! -e $CACHE/pods/$UB -a ! -e $CACHE/pins/$UB ]"
check "the good pod's stay" test -e "$CACHE/pods/$UG/status" -a -e "$CACHE/pins/$UG"

# an agent restart: a ready pod is not fetched again; what dead pods left is removed
agent_stop
mkdir -p "$CACHE/pods/0dead-pod" && echo '{"state":"fetching"}' >"$CACHE/pods/0dead-pod/status"
echo "${DG#sha256:}" >"$CACHE/pins/0dead-pod"
STARTS=$(grep -c "pod model fetch started pod_uid=$UG" "$ALOG")
agent_start
check "a dead pod's directory and pin are removed" wait_for 30 bash -c "[ ! -e $CACHE/pods/0dead-pod -a ! -e $CACHE/pins/0dead-pod ]"
check "the good pod is still ready" await "$UG"
check "and was not fetched again" bash -c "[ \$(grep -c 'pod model fetch started pod_uid=$UG' $ALOG) -eq $STARTS ]"
agent_stop
