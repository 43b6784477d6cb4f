#!/bin/bash
# Cross-cluster scheduling end to end: three `llmo server`s on loopback are three clusters
# (home: 1 GPU at 5/GPU-hour; east: 2 GPUs at 1; west: 4 GPUs at 3). The home's controller
# places an LLMWorkload with spec.placement.clusters over them: cost-optimized fills east,
# then west; balanced spreads; the home's gateway answers from the members' replicas; a
# member that dies loses its share to the others after failoverAfter; deleting the workload
# deletes its copies. Real kubectl against every cluster.
. "$(dirname "$0")/lib.sh"
NS=llm-workloads
MEMBER_PIDS=""
stop_members() {
	for p in $MEMBER_PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	MEMBER_PIDS=""
}
trap 'stop_members; finish' EXIT
k() { kubectl --request-timeout=20s "$@"; }
east() { KUBECONFIG="$LLMO_DATA/east/kubeconfig" kubectl --request-timeout=20s "$@"; }
west() { KUBECONFIG="$LLMO_DATA/west/kubeconfig" kubectl --request-timeout=20s "$@"; }

member_start() { # NAME GPUS: another llmo server, its files under $LLMO_DATA/NAME
	local dir="$LLMO_DATA/$1" url pid
	mkdir -p "$dir"
	"$LLMO" server --data-dir "$dir" --listen 127.0.0.1:0 --gateway-listen 127.0.0.1:0 \
		--registry-listen 127.0.0.1:0 --fake-gpus "$2" --config "$LLMO_DATA/member.yaml" \
		>"$dir/stdout" 2>"$dir/server.log" &
	pid=$!
	MEMBER_PIDS="$MEMBER_PIDS $pid"
	eval "${1}_PID=$pid"
	url=$(line_value "$dir/stdout" "llmo server listening on") ||
		{ echo "member $1 did not start"; cat "$dir/server.log"; exit 1; }
	wait_for 10 curl -sfk "$url/healthz" || { echo "member $1 does not answer"; exit 1; }
}

# every cluster: the e2e settings (no guarantee, quick scale-downs)
cp tests/data/e2e/rollout.yaml "$LLMO_DATA/member.yaml"
member_start east 2
member_start west 4
cat tests/data/e2e/rollout.yaml - >"$LLMO_DATA/home.yaml" <<YAML
federation:
  localCluster: home
  syncInterval: 1s
  failoverAfter: 3s
  clusters:
    home: {costPerGPUHour: 5}
    east: {kubeconfig: "$LLMO_DATA/east/kubeconfig", costPerGPUHour: 1, region: us-east}
    west: {kubeconfig: "$LLMO_DATA/west/kubeconfig", costPerGPUHour: 3, region: us-west}
YAML
check "the federation configuration is valid" "$LLMO" config validate "$LLMO_DATA/home.yaml"
server_start --fake-gpus 1 --config "$LLMO_DATA/home.yaml" --metrics-listen 127.0.0.1:0
CM=$(line_value "$LLMO_DATA/stdout" "llmo controller metrics on")
# metric SERIES: its value on the home controller's /metrics (nothing when absent)
metric() { curl -s --max-time 5 "$CM" | awk -v s="$1" '$1 == s { print $2 }'; }
metric_is() { [ "$(metric "$1")" = "$2" ]; }

sim_model llama2-v1 v1 >"$LLMO_DATA/model.yaml"
workload() { # REPLICAS STRATEGY CLUSTERS
	sim_workload chat v1 "  resources: {cpu: 100m, memory: 128Mi, gpu: 1}
  scaling: {replicas: $1, minReplicas: 1, maxReplicas: 8}
  placement: {clusters: [$3], strategy: $2}"
}
check "apply the namespaces" k apply -f k8s/llm-orchestrator/namespace.yaml
check "apply the model" k apply -f "$LLMO_DATA/model.yaml"
workload 3 cost-optimized "east, west, home" >"$LLMO_DATA/chat.yaml"
check "apply a workload over three clusters, cost-optimized" k apply -f "$LLMO_DATA/chat.yaml"

# "east=2 west=1 ..." from status.placement
split() { k get llmw chat -n $NS -o jsonpath='{range .status.placement[*]}{.cluster}={.replicas} {end}' 2>/dev/null; }
split_is() { [ "$(split)" = "$1" ]; }
# the member's copy has exactly N replicas and N Ready pods
member_runs() { # east|west N
	local spec
	spec=$($1 get llmw chat -n $NS -o jsonpath='{.spec.scaling.minReplicas}/{.spec.scaling.maxReplicas}/{.metadata.labels.llm\.orchestrator\.io/federated-from}/{.status.readyReplicas}' 2>/dev/null)
	[ "$spec" = "$2/$2/home/$2" ]
}
local_pods() { [ "$(k get pods -n $NS -l llm.orchestrator.io/workload=chat --no-headers 2>/dev/null | grep -c Running)" = "$1" ]; }
check "cost-optimized: the cheapest cluster (east) fills first, west takes the rest" \
	wait_for 30 split_is "east=2 west=1 home=0 "
check "east runs a copy with 2 replicas, labelled federated-from=home" wait_for 60 member_runs east 2
check "west runs a copy with 1 replica" wait_for 60 member_runs west 1
check "the model was copied to east" east get llmmodel llama2-v1 -n $NS
check "no replica runs at home" local_pods 0
check "the home workload is Ready: 3/3 in other clusters" \
	k wait --for=condition=Ready llmworkload/chat -n $NS --timeout=60s
check "PlacementSatisfied is True" bash -c "kubectl get llmw chat -n $NS -o jsonpath='{.status.conditions[?(@.type==\"PlacementSatisfied\")].status}' | grep -qx True"
check "status.placement names east's region and a measured latency" bash -c \
	"kubectl get llmw chat -n $NS -o jsonpath='{.status.placement[0].region} {.status.placement[0].latencyMs}' | grep -Eq '^us-east [0-9.]+$'"
check "/metrics: east is up" wait_for 10 metric_is 'llmo_controller_cluster_up{cluster="east"}' 1
check "/metrics: 2 replicas given to east, 2 ready there" bash -c \
	"$(declare -f metric metric_is); CM=$CM; metric_is 'llmo_controller_workload_cluster_replicas{namespace=\"$NS\",workload=\"chat\",cluster=\"east\",state=\"desired\"}' 2 && metric_is 'llmo_controller_workload_cluster_replicas{namespace=\"$NS\",workload=\"chat\",cluster=\"east\",state=\"ready\"}' 2"
check "the home gateway answers from the member replicas" wait_for 20 bash -c \
	"curl -sf '$(gateway_url)/v1/completions' -d '{\"model\":\"chat\",\"prompt\":\"x\",\"max_tokens\":2}' | grep -q choices"

check "five replicas: east 2, west 3 (still cheaper than home)" \
	k patch llmw chat -n $NS --type merge -p '{"spec":{"scaling":{"replicas":5}}}'
check "the split follows" wait_for 30 split_is "east=2 west=3 home=0 "
check "west's copy grows to 3" wait_for 60 member_runs west 3
check "seven replicas: home's GPU takes the one that fits nowhere cheaper" \
	k patch llmw chat -n $NS --type merge -p '{"spec":{"scaling":{"replicas":7}}}'
check "east 2, west 4, home 1" wait_for 30 split_is "east=2 west=4 home=1 "
check "the home replica runs here" wait_for 60 local_pods 1
check "eight replicas: one more than the three clusters hold" \
	k patch llmw chat -n $NS --type merge -p '{"spec":{"scaling":{"replicas":8}}}'
check "PlacementSatisfied=False, InsufficientCapacity" wait_for 30 bash -c \
	"kubectl get llmw chat -n $NS -o jsonpath='{.status.conditions[?(@.type==\"PlacementSatisfied\")].reason}' | grep -qx InsufficientCapacity"

check "balanced over east and west, three replicas" bash -c \
	"$(declare -f workload sim_workload); NS=$NS; workload 3 balanced 'east, west' | kubectl apply -f -"
check "balanced: 2 and 1, the cheaper cluster breaking the tie" wait_for 30 split_is "east=2 west=1 "
check "home's replica goes" wait_for 60 local_pods 0
check "west's copy shrinks to 1" wait_for 60 member_runs west 1

kill "$east_PID"
wait "$east_PID" 2>/dev/null
check "east dies: after failoverAfter its share moves to west" wait_for 30 split_is "east=0 west=3 "
check "PlacementSatisfied=False, ClusterUnreachable" wait_for 10 bash -c \
	"kubectl get llmw chat -n $NS -o jsonpath='{.status.conditions[?(@.type==\"PlacementSatisfied\")].reason}' | grep -qx ClusterUnreachable"
check "west runs all three" wait_for 60 member_runs west 3
check "/metrics: east is down, west up" bash -c \
	"$(declare -f metric metric_is); CM=$CM; metric_is 'llmo_controller_cluster_up{cluster=\"east\"}' 0 && metric_is 'llmo_controller_cluster_up{cluster=\"west\"}' 1"
check "the gateway keeps answering (from west)" wait_for 20 bash -c \
	"curl -sf '$(gateway_url)/v1/completions' -d '{\"model\":\"chat\",\"prompt\":\"x\",\"max_tokens\":2}' | grep -q choices"

check "a cluster not in the configuration is named" bash -c \
	"$(declare -f workload sim_workload); NS=$NS; workload 3 balanced 'west, mars' | kubectl apply -f -"
check "PlacementSatisfied=False, UnknownCluster, naming it" wait_for 30 bash -c \
	"kubectl get llmw chat -n $NS -o jsonpath='{.status.conditions[?(@.type==\"PlacementSatisfied\")].message}' | grep -q 'cluster mars is not in federation.clusters'"

# an encrypted workload: west serves it over HTTPS with west's CA, which this gateway does not
# trust, so its address is not offered here
check "an encrypted workload placed on west" bash -c "$(declare -f sim_workload); NS=$NS; sim_workload sec v1 \"  resources: {cpu: 100m, memory: 128Mi, gpu: 1}
  scaling: {replicas: 1, minReplicas: 1, maxReplicas: 1}
  placement: {clusters: [west]}
  security: {encryption: true}\" | kubectl apply -f -"
check "west runs it, Ready" wait_for 60 bash -c \
	"[ \"\$(kubectl get llmw sec -n $NS -o jsonpath='{.status.placement[0].readyReplicas}')\" = 1 ]"
check "and its address is not among the endpoints the home gateway takes" bash -c \
	"[ -z \"\$(kubectl get llmw sec -n $NS -o jsonpath='{.status.placement[0].endpoints}')\" ]"
check "west's copy is encrypted there" bash -c \
	"KUBECONFIG=$LLMO_DATA/west/kubeconfig kubectl get llmw sec -n $NS -o jsonpath='{.status.conditions[?(@.type==\"Encrypted\")].status}' | grep -qx True"
check "delete it" k delete llmw sec -n $NS --timeout=60s

check "delete the workload" k delete llmw chat -n $NS --timeout=60s
check "its copy in west is gone" wait_for 30 bash -c "! west get llmw chat -n $NS"
check "and west's replicas with it" wait_for 60 bash -c \
	"[ -z \"\$(KUBECONFIG=$LLMO_DATA/west/kubeconfig kubectl get pods -n $NS -l llm.orchestrator.io/workload=chat -o name)\" ]"
