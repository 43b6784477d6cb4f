#!/usr/bin/env bash
# A model's way to a replica on a cluster, every llmo part as k8s/llm-orchestrator runs it:
# `llmo server` gives only its API and registry; `llmo controller` (modelRegistry.fetchImage
# and nodeCachePath set), `llmo scheduler` and `llmo agent --runtime none --model-cache` run
# apart; a Node with the status a kubelet would post stands for the GPU machine. `llmo model
# push` creates the LLMModel, a workload's replica is created with the fetch init container
# and bound to that Node, the agent fetches and verifies the model, and the init container's
# command, taken from the pod and run as the kubelet would, passes and names the directory the
# model server's LLMO_MODEL_PATH names. A tampered model: the command fails with
# ModelVerificationFailed and the pod gets a Warning Event.
. "$(dirname "$0")/lib.sh"
trap 'bg_stop; finish' EXIT
PY=/usr/bin/python3
k() { kubectl --request-timeout=30s "$@"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
blob_file() { echo "$LLMO_DATA/registry/blobs/sha256/${1:0:2}/$1"; }
NS=llm-workloads
NODE=gpu-node-1
CACHE="$LLMO_DATA/node-cache"

server_start --disable controller,scheduler,agent,gateway
URL=$(registry_url)
TOKEN=$(admin_token)
CA="$LLMO_DATA/pki/ca.crt"
printf '%s\n' "$TOKEN" >"$LLMO_DATA/token"
m() { "$LLMO" model "$1" --registry "$URL" --token "$TOKEN" --cacert "$CA" "${@:2}"; }
cat >"$LLMO_DATA/config.yaml" <<YAML
modelRegistry:
  fetchImage: "ghcr.io/llmo/llmo:0.1.0"
  nodeCachePath: "$CACHE"
operator:
  leaderElection: false
YAML

check "apply the namespaces" k apply -f k8s/llm-orchestrator/namespace.yaml
check "the GPU machine's Node" k apply -f - <<YAML
apiVersion: v1
kind: Node
metadata: {name: $NODE}
YAML
status='{"status":{"capacity":{"cpu":"8","memory":"32Gi","pods":"110"},"allocatable":{"cpu":"8","memory":"32Gi","pods":"110"},"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","message":"kubelet is posting ready status"}]}}'
check "with the status its kubelet would post" k patch node "$NODE" --subresource=status --type=merge -p "$status"
"$LLMO" controller --kubeconfig "$KUBECONFIG" --config "$LLMO_DATA/config.yaml" \
	--metrics-listen off >/dev/null 2>"$LLMO_DATA/controller.log" &
BG_PIDS+=($!)
"$LLMO" scheduler --kubeconfig "$KUBECONFIG" --config "$LLMO_DATA/config.yaml" \
	>/dev/null 2>"$LLMO_DATA/scheduler.log" &
BG_PIDS+=($!)
"$LLMO" agent --runtime none --node-name "$NODE" --kubeconfig "$KUBECONFIG" \
	--state-dir "$LLMO_DATA/agent" --model-cache "$CACHE" --config "$LLMO_DATA/config.yaml" \
	--registry-token-file "$LLMO_DATA/token" --registry-cacert "$CA" 2>"$LLMO_DATA/agent.log" &
BG_PIDS+=($!)

mkmodel "$LLMO_DATA/good" 900000
mkmodel "$LLMO_DATA/bad" 900000
for name in good bad; do
	check "push $name (the LLMModel with it)" m push "$LLMO_DATA/$name" --name "models/$name" \
		--version 1 -n "$NS" --image vllm/vllm-openai:v0.6.3
	check "workload $name" k apply -f - <<YAML
apiVersion: llm.orchestrator.io/v1
kind: LLMWorkload
metadata: {name: $name, namespace: $NS}
spec: {modelName: $name, modelVersion: "1", resources: {cpu: 100m, memory: 64Mi}, scaling: {minReplicas: 1, maxReplicas: 1}}
YAML
done
flip_byte "$(blob_file "$(sha "$LLMO_DATA/bad/weights.bin")")" 500

pod_json() { kubectl get pods -n "$NS" -l "llm.orchestrator.io/workload=$1" -o json; }
bound() { pod_json "$1" | $PY -c 'import json,sys; p=json.load(sys.stdin)["items"]; assert p and p[0]["spec"].get("nodeName") == sys.argv[1]' "$NODE"; }
check "the good replica is bound to the GPU machine" wait_for 60 bound good
check "so is the bad one" wait_for 60 bound bad
# init WORKLOAD: runs its replica's init container command as the kubelet would ($(VAR) from
# the container's env, the downward API's metadata.uid), the cache at the same path
init() {
	pod_json "$1" | $PY -c '
import json, re, subprocess, sys
p = json.load(sys.stdin)["items"][0]
c = p["spec"]["initContainers"][0]
env = {e["name"]: p["metadata"]["uid"] for e in c["env"] if e["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.uid"}
cmd = [re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], a) for a in c["command"]]
cmd[0] = sys.argv[1]
sys.exit(subprocess.run(cmd, timeout=120).returncode)' "$LLMO"
}
model_path() { pod_json "$1" | $PY -c 'import json,sys; c=json.load(sys.stdin)["items"][0]["spec"]["containers"][0]; print([e["value"] for e in c["env"] if e["name"] == "LLMO_MODEL_PATH"][0])'; }
check "the good replica's init container passes" bash -c "$(declare -f init pod_json); \
	PY=$PY NS=$NS LLMO=$LLMO init good >$LLMO_DATA/init.out"
MP=$(model_path good)
check "the model server's LLMO_MODEL_PATH is the model's directory the init container named" \
	bash -c "[ -n '$MP' ] && [ \"\$(tail -1 $LLMO_DATA/init.out)\" = '$MP' ]"
check "and holds the pushed weights" cmp "$MP/weights.bin" "$LLMO_DATA/good/weights.bin"
check_fails "the tampered replica's init container fails" init bad
cp "$LLMO_DATA/out" "$LLMO_DATA/said"
check "saying why" grep -q "^llmo fetch: ModelVerificationFailed: " "$LLMO_DATA/said"
bad_event() {
	kubectl get events -n "$NS" -o json | $PY -c '
import json, sys
ev = [e for e in json.load(sys.stdin)["items"] if e.get("reason") == "ModelVerificationFailed"]
assert ev and ev[0]["type"] == "Warning" and ev[0]["involvedObject"]["kind"] == "Pod", ev'
}
check "and a Warning Event on its pod" wait_for 30 bad_event
bg_stop
