#!/bin/bash
# GPU memory end to end: kubectl against `llmo server --fake-gpus 2:A100:80Gi`
# (API server, controller, scheduler and agent). Three workloads of one
# replica each ask gpu 0.1 and gpuMemory 30Gi: the controller writes the
# llm.orchestrator.io/gpu-memory annotation, the scheduler counts each replica
# as ceil(1000 * 30 / 80) = 375m of an 80Gi GPU (more than its 100m), so the
# first two share GPU 0 (750m; best fit keeps GPU 1 free) and the third, which
# would make GPU 0 1125m, takes GPU 1. Each replica's gpu-share says 375m.
. "$(dirname "$0")/lib.sh"
trap 'finish' EXIT
NS=llm-workloads

k() { kubectl --request-timeout=30s "$@"; }
workload() { # workload NAME
	cat <<YAML
apiVersion: llm.orchestrator.io/v1
kind: LLMWorkload
metadata:
  name: $1
  namespace: $NS
spec:
  modelName: "llama2"
  modelVersion: "7b"
  modelType: "text-generation"
  resources:
    cpu: "250m"
    memory: "512Mi"
    gpu: "0.1"
    gpuMemory: "30Gi"
  scaling:
    replicas: 1
    minReplicas: 1
    maxReplicas: 1
YAML
}
replica() { # replica WORKLOAD JSONPATH: of its (one) pod
	k get pods -n $NS -l "llm.orchestrator.io/workload=$1" -o jsonpath="{.items[0]$2}" 2>/dev/null
}
bound() { [ -n "$(replica "$1" '.spec.nodeName')" ]; }
gpus_of() { replica "$1" '.metadata.annotations.llm\.orchestrator\.io/gpus'; }
share_of() { replica "$1" '.metadata.annotations.llm\.orchestrator\.io/gpu-share'; }
uuid() { # uuid INDEX: the fake GPU's uuid from the Node's gpu-devices
	k get node -o jsonpath='{.items[0].metadata.annotations.llm\.orchestrator\.io/gpu-devices}' |
		python3 -c "import json,sys; print(json.load(sys.stdin)[$1]['uuid'])"
}

server_start --fake-gpus 2:A100:80Gi --config tests/data/e2e/config.yaml

check "the node is Ready with 2 fake GPUs" \
	wait_for 30 bash -c "kubectl get node -o jsonpath='{.items[0].status.allocatable.nvidia\.com/gpu}' | grep -qx 2"
U0=$(uuid 0) U1=$(uuid 1)
check "apply the namespaces and the model" \
	k apply -f k8s/llm-orchestrator/namespace.yaml -f examples/llama2-7b-model.yaml
for w in wa wb wc; do
	check "apply workload $w" bash -c "$(declare -f workload); NS=$NS; workload $w | kubectl apply -f -"
	check "its replica is bound" wait_for 60 bound $w
	check "its replica asks 30Gi of GPU memory" \
		[ "$(replica $w '.metadata.annotations.llm\.orchestrator\.io/gpu-memory')" = "30Gi" ]
	check "its share is 375m" [ "$(share_of $w)" = "375m" ]
done
check "wa is on GPU 0" [ "$(gpus_of wa)" = "$U0" ]
check "wb shares GPU 0" [ "$(gpus_of wb)" = "$U0" ]
check "wc, past GPU 0's 1000m, is on GPU 1" [ "$(gpus_of wc)" = "$U1" ]
