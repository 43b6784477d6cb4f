#!/bin/bash
# End to end on one machine: real kubectl against `llmo server --fake-gpus 2`
# (API server, controller, scheduler and agent in one process). The spec's
# example workload becomes Ready and serves; a killed replica process is
# restarted and serves again; a higher minReplicas brings a second replica on
# the other GPU; a crash of the server leaves the replicas running and the
# restarted agent adopts them; `kubectl logs` shows a replica's output; deleting
# the workload removes its pods and their processes.
. "$(dirname "$0")/lib.sh"
trap 'kill_leftovers; finish' EXIT
NS=llm-workloads
W=my-llm-workload
PIDS_SEEN=""

k() { kubectl --request-timeout=30s "$@"; }
jp() { k get "$@" 2>/dev/null; }
# The replica processes a pod runs: the children of its shim (containerID llmo://PID).
replica_pids() {
	local pod=$1 shim
	shim=$(jp pod "$pod" -n $NS -o jsonpath='{.status.containerStatuses[0].containerID}')
	shim=${shim#llmo://}
	[ -n "$shim" ] && pgrep -P "$shim"
}
kill_leftovers() { # never leave a process behind, even when a check failed
	for p in $PIDS_SEEN; do kill -9 "$p" 2>/dev/null; done
}
complete_via() { # POST a completion to host:port and check the answer
	curl -sf --max-time 10 "http://$1/v1/completions" -H 'Content-Type: application/json' \
		-d '{"model":"llama2:7b","prompt":"Hello there","max_tokens":4}' | grep -q '"choices"'
}
ready_replicas() { [ "$(jp llmw $W -n $NS -o jsonpath='{.status.readyReplicas}')" = "$1" ]; }
all_endpoints_serve() {
	local eps n=0
	eps=$(jp llmw $W -n $NS -o jsonpath='{.status.endpoints[*]}')
	for ep in $eps; do complete_via "$ep" || return 1; n=$((n + 1)); done
	[ "$n" -eq "$1" ]
}

server_start --fake-gpus 2:A100:80Gi --config tests/data/e2e/config.yaml

check "the node is Ready with 2 fake GPUs" \
	wait_for 30 bash -c "kubectl get node -o jsonpath='{.items[0].status.allocatable.nvidia\.com/gpu}' | grep -qx 2"
check "apply the namespaces" k apply -f k8s/llm-orchestrator/namespace.yaml
check "apply the model and the workload" \
	k apply -f examples/llama2-7b-model.yaml -f examples/my-llm-workload.yaml
check "kubectl wait --for=condition=Ready" \
	k wait --for=condition=Ready llmworkload/$W -n $NS --timeout=120s
check "the model is Available and used by the workload" \
	bash -c "kubectl get llmm llama2-7b -n $NS -o jsonpath='{.status.phase} {.status.usedBy[0]}' | grep -qx 'Available $W'"
check "one ready replica" ready_replicas 1
check "the replica answers a completion" all_endpoints_serve 1
via_gateway() { # model: a completion through llmo server's gateway
	curl -sf --max-time 10 "$(gateway_url)/v1/completions" -H 'Content-Type: application/json' \
		-d "{\"model\":\"$1\",\"prompt\":\"Hello there\",\"max_tokens\":4}" | grep -q '"choices"'
}
check "the gateway routes by workload name" wait_for 30 via_gateway $W
check "the gateway routes by model name:version" via_gateway llama2:7b
check "the gateway answers 404 for an unknown model" bash -c \
	"[ \"\$(curl -s -o /dev/null -w '%{http_code}' \"$(gateway_url)/v1/completions\" -d '{\"model\":\"nope\",\"prompt\":\"x\"}')\" = 404 ]"
POD=$(jp pods -n $NS -l llm.orchestrator.io/workload=$W -o jsonpath='{.items[0].metadata.name}')
PID=$(replica_pids "$POD")
PIDS_SEEN="$PIDS_SEEN $PID"
check "the replica runs as a process" test -n "$PID"
check "its CUDA_VISIBLE_DEVICES is the GPU the scheduler assigned" bash -c "
	gpus=\$(kubectl get pod $POD -n $NS -o jsonpath='{.metadata.annotations.llm\.orchestrator\.io/gpus}')
	[ -n \"\$gpus\" ] && tr '\0' '\n' </proc/$PID/environ | grep -qx \"CUDA_VISIBLE_DEVICES=\$gpus\""
check "kubectl logs shows the replica's output" bash -c "kubectl logs -n $NS $POD | grep -q ."
check "kubectl logs -f follows (until stopped)" bash -c "
	timeout 3 kubectl logs -f -n $NS $POD >'$LLMO_DATA/follow' 2>&1; [ \$? -eq 124 ] && [ -s '$LLMO_DATA/follow' ]"
check "kubectl describe shows the controller's events" \
	bash -c "kubectl describe llmw $W -n $NS | grep -q CreatedReplica"

# kill the replica's process: the agent restarts it, the workload is Ready again
kill -9 "$PID"
check "the killed replica is restarted" wait_for 60 bash -c \
	"[ \"\$(kubectl get pod $POD -n $NS -o jsonpath='{.status.containerStatuses[0].restartCount}')\" -ge 1 ]"
check "Ready again after the kill" k wait --for=condition=Ready llmworkload/$W -n $NS --timeout=120s
check "it serves again" wait_for 30 all_endpoints_serve 1
NEWPID=$(replica_pids "$POD")
PIDS_SEEN="$PIDS_SEEN $NEWPID"
check "a new process" test -n "$NEWPID" -a "$NEWPID" != "$PID"
# the agent's usage annotation: a reference reading, then a figure, 15 s apart
check "the agent publishes the replica's usage" wait_for 60 bash -c "
	kubectl get pod $POD -n $NS -o jsonpath='{.metadata.annotations.llm\.orchestrator\.io/usage}' |
		grep -Eq '^\{\"cpu\":[0-9]+,\"memory\":[1-9][0-9]*,\"at\":\"[0-9T:Z-]+\"\}$'"

# raise minReplicas: a second replica on the other GPU
check "raise minReplicas to 2" \
	k patch llmw $W -n $NS --type merge -p '{"spec":{"scaling":{"minReplicas":2}}}'
check "two ready replicas" wait_for 120 ready_replicas 2
check "both replicas answer" wait_for 30 all_endpoints_serve 2
check "the two replicas hold different GPUs" bash -c "
	kubectl get pods -n $NS -l llm.orchestrator.io/workload=$W \
		-o jsonpath='{range .items[*]}{.metadata.annotations.llm\.orchestrator\.io/gpus}{\"\n\"}{end}' |
		sort -u | grep -c . | grep -qx 2"
# a crash of llmo server: the replicas keep running, and the restarted agent adopts them
all_pids() {
	for p in $(jp pods -n $NS -l llm.orchestrator.io/workload=$W -o jsonpath='{.items[*].metadata.name}'); do
		replica_pids "$p"
	done | sort -n | tr "\n" " "
}
BEFORE=$(all_pids)
PIDS_SEEN="$PIDS_SEEN $BEFORE"
kill -9 "$LLMO_PID"; wait "$LLMO_PID" 2>/dev/null; LLMO_PID=
check "the replicas outlive a crash of the server" bash -c "for p in $BEFORE; do kill -0 \$p || exit 1; done"
server_start --fake-gpus 2:A100:80Gi --config tests/data/e2e/config.yaml
check "Ready after the restart" k wait --for=condition=Ready llmworkload/$W -n $NS --timeout=120s
check "still two replicas" ready_replicas 2
check "the same processes, adopted, not started again" test "$(all_pids)" = "$BEFORE" -a -n "$BEFORE"
check "both serve after the restart" wait_for 30 all_endpoints_serve 2

check "a third replica does not fit: Unschedulable" bash -c "
	kubectl patch llmw $W -n $NS --type merge -p '{\"spec\":{\"scaling\":{\"minReplicas\":3}}}' >/dev/null &&
	for i in \$(seq 1 100); do
		kubectl get pods -n $NS -o jsonpath='{.items[*].status.conditions[*].message}' |
			grep -q 'Insufficient nvidia.com/gpu' && exit 0
		sleep 0.2
	done; exit 1"
for p in $(jp pods -n $NS -l llm.orchestrator.io/workload=$W -o jsonpath='{.items[*].metadata.name}'); do
	PIDS_SEEN="$PIDS_SEEN $(replica_pids "$p")"
done

# delete the workload: its pods and processes go
check "delete the workload" k delete llmw $W -n $NS --timeout=90s
check "no pod left" bash -c "[ -z \"\$(kubectl get pods -n $NS -o name)\" ]"
check "no replica process left" bash -c "for p in $PIDS_SEEN; do ! kill -0 \$p 2>/dev/null || exit 1; done"
check "no Service left" bash -c "! kubectl get svc $W -n $NS 2>/dev/null"
