#!/bin/bash
# spec.security.secretRefs end to end on `llmo server`: the controller gives the replica's
# container envFrom secretRef entries, and the agent's local runtime reads the Secret from the
# API when the container starts, so the replica's process has the Secret's keys in its
# environment (read back from /proc/PID/environ; a later env entry wins over envFrom, a key that
# is no variable name is left out). A workload naming a Secret that does not exist gets a pod
# that cannot start (CreateContainerConfigError naming the Secret).
. "$(dirname "$0")/lib.sh"
trap 'finish' EXIT
NS=llm-workloads

k() { kubectl --request-timeout=30s "$@"; }
workload() { # workload NAME SECRET
	sim_workload "$1" 7b "  modelType: text-generation
  resources: {cpu: 250m, memory: 512Mi, gpu: \"1\"}
  scaling: {replicas: 1, minReplicas: 1, maxReplicas: 1}
  security: {secretRefs: [$2]}"
}
pod_of() { k get pods -n $NS -l "llm.orchestrator.io/workload=$1" -o jsonpath="{.items[0]$2}" 2>/dev/null; }
# The environment of the process listening on the replica's endpoint port, one variable a line.
replica_env() {
	local ep port pid
	ep=$(k get llmw "$1" -n $NS -o jsonpath='{.status.endpoints[0]}')
	port=${ep##*:}
	[ -n "$port" ] || return 1
	pid=$(pgrep -f "inference-sim --port $port( |\$)" | head -1)
	[ -n "$pid" ] && tr '\0' '\n' <"/proc/$pid/environ"
}

server_start --fake-gpus 2:A100:80Gi --config tests/data/e2e/config.yaml
check "apply the namespaces and the model" \
	k apply -f k8s/llm-orchestrator/namespace.yaml -f examples/llama2-7b-model.yaml
check "create the Secret" k create secret generic model-keys -n $NS \
	--from-literal=HF_TOKEN=hf-secret-123 --from-literal=API_BASE=https://example.test \
	--from-literal=not-a-var=x --from-literal=1BAD=y
check "apply a workload with secretRefs [model-keys]" \
	bash -c "$(declare -f workload sim_workload); NS=$NS; workload keyed model-keys | kubectl apply -f -"
check "its replica's container has envFrom secretRef model-keys" \
	wait_for 30 bash -c "[ \"\$(kubectl get pods -n $NS -l llm.orchestrator.io/workload=keyed -o jsonpath='{.items[0].spec.containers[0].envFrom[0].secretRef.name}')\" = model-keys ]"
check "it becomes Ready" k wait --for=condition=Ready llmworkload/keyed -n $NS --timeout=120s
replica_env keyed >"$LLMO_DATA/env" 2>/dev/null
check "the replica's process has HF_TOKEN from the Secret" grep -qx 'HF_TOKEN=hf-secret-123' "$LLMO_DATA/env"
check "...and API_BASE" grep -qx 'API_BASE=https://example.test' "$LLMO_DATA/env"
check "...and the runtime's PORT still" grep -q '^PORT=[0-9]' "$LLMO_DATA/env"
check_fails "a key starting with a digit is left out" grep -q '^1BAD=' "$LLMO_DATA/env"

check "apply a workload naming a Secret that does not exist" \
	bash -c "$(declare -f workload sim_workload); NS=$NS; workload unkeyed no-such-secret | kubectl apply -f -"
config_error() {
	[ "$(pod_of unkeyed '.status.containerStatuses[0].state.waiting.reason')" = CreateContainerConfigError ] &&
		pod_of unkeyed '.status.containerStatuses[0].state.waiting.message' | grep -q 'no-such-secret'
}
check "its pod cannot start: CreateContainerConfigError naming the Secret" wait_for 60 config_error
