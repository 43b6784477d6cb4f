#!/bin/bash
# QoS preemption end to end: kubectl against `llmo server --fake-gpus 2` (API
# server, controller, scheduler and agent in one process). A basic workload
# fixed at 2 replicas (minReplicas 1) holds both GPUs; a premium workload's
# replica fits nowhere, so the scheduler evicts one basic replica (the most it
# may take: 2 live - minReplicas 1), nominates the node, and binds the premium
# replica once the agent has stopped the victim. The controller's replacement
# for the evicted replica waits Unschedulable (basic never preempts) and the
# basic workload keeps its other replica.
. "$(dirname "$0")/lib.sh"
trap 'finish' EXIT
NS=llm-workloads

k() { kubectl --request-timeout=30s "$@"; }
jp() { k get "$@" 2>/dev/null; }
workload() { # workload NAME QOS REPLICAS MIN MAX
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
  qosClass: $2
  resources:
    cpu: "250m"
    memory: "512Mi"
    gpu: "1"
  scaling:
    replicas: $3
    minReplicas: $4
    maxReplicas: $5
YAML
}
ready_replicas() { [ "$(jp llmw "$1" -n $NS -o jsonpath='{.status.readyReplicas}')" = "$2" ]; }
pods_of() { jp pods -n $NS -l "llm.orchestrator.io/workload=$1" -o jsonpath="$2"; }
has_event() { # has_event REASON TEXT
	jp events -n $NS -o jsonpath='{range .items[*]}{.reason}{" "}{.message}{"\n"}{end}' |
		grep "^$1 " | grep -q "$2"
}
pending_unschedulable() { # one basic pod unbound, PodScheduled False/Unschedulable
	pods_of basic '{range .items[*]}{.spec.nodeName}{"|"}{.status.conditions[?(@.type=="PodScheduled")].reason}{"\n"}{end}' |
		grep -qx '|Unschedulable'
}

server_start --fake-gpus 2:A100:80Gi --config tests/data/e2e/config.yaml

check "the node is Ready with 2 fake GPUs" \
	wait_for 30 bash -c "kubectl get node -o jsonpath='{.items[0].status.allocatable.nvidia\.com/gpu}' | grep -qx 2"
check "apply the namespaces and the model" \
	k apply -f k8s/llm-orchestrator/namespace.yaml -f examples/llama2-7b-model.yaml
check "apply a basic workload of 2 replicas" bash -c "$(declare -f workload); NS=$NS; workload basic basic 2 1 2 | kubectl apply -f -"
check "both basic replicas are ready, holding both GPUs" wait_for 120 ready_replicas basic 2
check "apply a premium workload of 1 replica" bash -c "$(declare -f workload); NS=$NS; workload premium premium 1 1 1 | kubectl apply -f -"
check "the premium replica becomes ready" wait_for 120 ready_replicas premium 1
check "it was nominated to the node" \
	bash -c "[ -n \"\$(kubectl get pods -n $NS -l llm.orchestrator.io/workload=premium -o jsonpath='{.items[0].status.nominatedNodeName}')\" ]"
check "a basic replica got a Preempted event naming the preemptor" \
	wait_for 30 has_event Preempted "Preempted by $NS/premium-"
check "the premium replica got a Preempting event" \
	wait_for 30 has_event Preempting "Preempting 1 pod(s) of lower priority on node"
check "the basic workload keeps one ready replica" wait_for 60 ready_replicas basic 1
check "its replacement waits, Unschedulable" wait_for 60 pending_unschedulable
check "basic has its ready replica and the waiting one" \
	bash -c "[ \"\$(kubectl get pods -n $NS -l llm.orchestrator.io/workload=basic -o name | wc -l)\" -eq 2 ]"
