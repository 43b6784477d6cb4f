# `llmo controller` (the cluster's controller, as k8s/llm-orchestrator runs it) with
# modelRegistry.fetchImage set, against `llmo server` running only its API: the replica it
# creates for a model pinned by digest carries the model fetch init container, the node cache
# as a read-only hostPath and LLMO_MODEL_PATH (docs/controller.md), accepted by the API
# server; a model without a digest gets none. Checked with real kubectl.
# Run: LLMO=build/llmo bash tests/integration/test_controller_fetch_init.sh
set -u
. "$(dirname "$0")/lib.sh"
command -v kubectl >/dev/null || { echo "SKIP: no kubectl"; exit 0; }
NS=llm-workloads
HEX=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
CTL_PID=
ctl_stop() { # a non-zero exit (a crash, a sanitizer report) fails the test
	local rc=0
	if [ -n "$CTL_PID" ] && kill -0 "$CTL_PID" 2>/dev/null; then
		kill "$CTL_PID"; wait "$CTL_PID" 2>/dev/null; rc=$?
		[ "$rc" -eq 0 ] || { bad "llmo controller exited with status $rc"; tail -40 "$LLMO_DATA/controller.log"; }
	fi
	CTL_PID=
}
trap 'ctl_stop; finish' EXIT

server_start --disable controller,scheduler,agent,gateway,registry
cat >"$LLMO_DATA/config.yaml" <<'YAML'
modelRegistry:
  fetchImage: "ghcr.io/llmo/llmo:0.1.0"
  nodeCachePath: "/srv/llm-cache"
operator:
  leaderElection: false
YAML
"$LLMO" controller --kubeconfig "$KUBECONFIG" --config "$LLMO_DATA/config.yaml" \
	--metrics-listen off >/dev/null 2>"$LLMO_DATA/controller.log" &
CTL_PID=$!

check "apply the namespaces" kubectl apply -f k8s/llm-orchestrator/namespace.yaml
check "apply the models and workloads" kubectl apply -f - <<YAML
apiVersion: llm.orchestrator.io/v1
kind: LLMModel
metadata: {name: llama2-7b, namespace: $NS}
spec:
  name: llama2
  version: "7b"
  type: text-generation
  framework: vllm
  artifact: {reference: "localhost:5000/models/llama2:7b", digest: "sha256:$HEX"}
  runtime: {image: vllm/vllm-openai:v0.6.3, port: 8000}
---
apiVersion: llm.orchestrator.io/v1
kind: LLMModel
metadata: {name: mistral-1, namespace: $NS}
spec:
  name: mistral
  version: "1"
  type: text-generation
  framework: vllm
  artifact: {reference: "localhost:5000/models/mistral:1"}
  runtime: {image: vllm/vllm-openai:v0.6.3, port: 8000}
---
apiVersion: llm.orchestrator.io/v1
kind: LLMWorkload
metadata: {name: pinned, namespace: $NS}
spec: {modelName: llama2, modelVersion: "7b"}
---
apiVersion: llm.orchestrator.io/v1
kind: LLMWorkload
metadata: {name: plain, namespace: $NS}
spec: {modelName: mistral, modelVersion: "1"}
YAML

# pod_field WORKLOAD JSONPATH: the field of the workload's first replica
pod_field() {
	kubectl get pods -n "$NS" -l "llm.orchestrator.io/workload=$1" -o "jsonpath={.items[0]$2}"
}
has_replica() { [ -n "$(pod_field "$1" .metadata.name)" ]; }
check "the pinned workload has a replica" wait_for 30 has_replica pinned
check "the plain workload has a replica" wait_for 30 has_replica plain

expect() { # expect WHAT GOT WANT
	if [ "$2" = "$3" ]; then ok; else bad "$1: got [$2], want [$3]"; fi
}
expect "init container" "$(pod_field pinned '.spec.initContainers[*].name')" llmo-model-fetch
expect "its image" "$(pod_field pinned '.spec.initContainers[0].image')" ghcr.io/llmo/llmo:0.1.0
expect "its command" "$(pod_field pinned '.spec.initContainers[0].command[*]')" \
	'llmo fetch --await $(LLMO_POD_UID) --cache-dir /srv/llm-cache'
expect "its pod uid" "$(pod_field pinned '.spec.initContainers[0].env[0].valueFrom.fieldRef.fieldPath')" \
	metadata.uid
expect "its mount is read-only" "$(pod_field pinned '.spec.initContainers[0].volumeMounts[0].readOnly')" true
expect "the cache volume" \
	"$(pod_field pinned '.spec.volumes[?(@.name=="llmo-model-cache")].hostPath.path')" /srv/llm-cache
expect "the model server's mount" \
	"$(pod_field pinned '.spec.containers[0].volumeMounts[?(@.name=="llmo-model-cache")].readOnly')" true
expect "LLMO_MODEL_PATH" \
	"$(pod_field pinned '.spec.containers[0].env[?(@.name=="LLMO_MODEL_PATH")].value')" \
	"/srv/llm-cache/models/$HEX"
expect "no init container without a digest" "$(pod_field plain '.spec.initContainers')" ""
expect "no cache volume without a digest" \
	"$(pod_field plain '.spec.volumes[?(@.name=="llmo-model-cache")].name')" ""
ctl_stop
