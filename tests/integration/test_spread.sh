#!/bin/bash
# spec.placement.spread end to end: `llmo server` (node-a, 2 fake GPUs) and a second `llmo
# agent` (node-b, 2 fake GPUs); a workload of 3 one-GPU replicas. With spread required by
# hostname the scheduler puts two replicas on different nodes (its policy alone packs both
# onto one node's two GPUs) and leaves the third Pending: "0/2 nodes are available: 2 node(s)
# didn't match pod anti-affinity rules.", which the workload's Ready condition repeats. Changed
# to preferred, the replicas are replaced (a new template; the old replicas' required term
# selects their own template only, so it does not keep the new ones out) and all three run,
# one node holding two.
. "$(dirname "$0")/lib.sh"
NS=llm-workloads
W=spread
AGENT_PID=''
stop_agent() {
	[ -z "$AGENT_PID" ] || { kill "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null; }
	AGENT_PID=''
}
trap 'stop_agent; finish' EXIT
k() { kubectl --request-timeout=30s "$@"; }
node_ready() { [ "$(k get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
workload() { # workload MODE
	cat <<EOF
apiVersion: llm.orchestrator.io/v1
kind: LLMWorkload
metadata: {name: $W, namespace: $NS}
spec:
  modelName: llama2
  modelVersion: 7b
  modelType: text-generation
  resources: {cpu: 250m, memory: 256Mi, gpu: '1'}
  scaling: {replicas: 3, minReplicas: 3, maxReplicas: 3}
  placement:
    spread: {mode: $1}
EOF
}
# "NODE PHASE" of each live replica, sorted
replicas() {
	k get pods -n $NS -l llm.orchestrator.io/workload=$W -o jsonpath='{range .items[*]}{.metadata.deletionTimestamp}{"|"}{.spec.nodeName}{" "}{.status.phase}{"\n"}{end}' |
		sed -n 's/^|//p' | sed 's/ $/ Pending/' | sort
}

server_start --fake-gpus 2:A100:80Gi --node-name node-a --config tests/data/e2e/config.yaml
check "node-a is Ready" wait_for 30 node_ready node-a
"$LLMO" agent --node-name node-b --fake-gpus 2:A100:80Gi --state-dir "$LLMO_DATA/agent-b" \
	>>"$LLMO_DATA/agent-b.log" 2>&1 &
AGENT_PID=$!
check "node-b (a second agent) is Ready" wait_for 30 node_ready node-b
for n in node-a node-b; do
	check "$n has its hostname label (the agent's)" sh -c \
		"[ \"\$(kubectl get node $n -o jsonpath='{.metadata.labels.kubernetes\\.io/hostname}')\" = $n ]"
done

check "apply the model and a workload spread by host, required" bash -c "
	kubectl apply -f k8s/llm-orchestrator/namespace.yaml -f examples/llama2-7b-model.yaml >/dev/null &&
	$(declare -f workload); W=$W; NS=$NS; workload required | kubectl apply -f -"
check "two replicas run, one on each node; the third waits" wait_for 120 sh -c \
	"[ \"\$($(declare -f replicas k); NS=$NS; W=$W; replicas | tr '\n' ,)\" = ' Pending,node-a Running,node-b Running,' ]"
check "the third says why" wait_for 30 sh -c \
	"kubectl get pods -n $NS -l llm.orchestrator.io/workload=$W -o jsonpath='{.items[*].status.conditions[?(@.type==\"PodScheduled\")].message}' |
	 grep -qF \"0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules.\""
check "the workload's Ready condition repeats it" wait_for 30 sh -c \
	"kubectl get llmw $W -n $NS -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].message}' |
	 grep -q \"didn't match pod anti-affinity rules\""

check "spread preferred instead" bash -c "$(declare -f workload); W=$W; NS=$NS; workload preferred | kubectl apply -f -"
check "all three replicas run, two on one node" wait_for 180 sh -c \
	"r=\$($(declare -f replicas k); NS=$NS; W=$W; replicas | tr '\n' ,);
	 [ \"\$r\" = 'node-a Running,node-a Running,node-b Running,' ] || [ \"\$r\" = 'node-a Running,node-b Running,node-b Running,' ]"
# the live replicas' preferred term weights (old ones may still be on their way out)
weights() {
	k get pods -n $NS -l llm.orchestrator.io/workload=$W -o jsonpath='{range .items[*]}{.metadata.deletionTimestamp}{"|"}{.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight}{"\n"}{end}' |
		sed -n 's/^|//p' | tr '\n' ,
}
check "their term is preferred now" wait_for 30 sh -c \
	"[ \"\$($(declare -f weights k); NS=$NS; W=$W; weights)\" = '100,100,100,' ]"
