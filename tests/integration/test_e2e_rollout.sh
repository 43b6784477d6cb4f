#!/bin/bash
# Rollouts and autoscaling end to end: real kubectl against `llmo server`, replicas
# run `llmo inference-sim`, traffic through the embedded gateway. A canary of a
# version that fails 30% of its requests is rolled back by the analysis (the
# gateway's retries hide the failures from clients, not from the analysis); a
# good one is promoted and the old replica drains without failing a request;
# load above the requests_per_second target scales the workload up to
# maxReplicas and, once it stops, back down, again without a failed request.
. "$(dirname "$0")/lib.sh"
trap 'stop_load; finish' EXIT
NS=llm-workloads
k() { kubectl --request-timeout=30s "$@"; }
jp() { k get "$@" 2>/dev/null; }
LOAD_PID=""
start_load() { # sequential completions through the gateway, every code to $1
	: >"$1"
	rm -f "$LLMO_DATA/stop-load"
	( while [ ! -e "$LLMO_DATA/stop-load" ]; do
		curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 "$(gateway_url)/v1/completions" \
			-H 'Content-Type: application/json' \
			-d '{"model":"chat","prompt":"Hello","max_tokens":4}' >>"$1"
		[ -n "${2:-}" ] && sleep "$2"
	done ) &
	LOAD_PID=$!
}
# the loop ends after its current request: killed, its curl would go on writing to a file
# already checked
stop_load() {
	[ -n "$LOAD_PID" ] || return 0
	touch "$LLMO_DATA/stop-load"
	wait "$LOAD_PID" 2>/dev/null
	LOAD_PID=""
}
phase() { [ "$(jp llmw chat -n $NS -o jsonpath='{.status.rollout.phase}')" = "$1" ]; }
versions_are() { # only pods of version $1, exactly $2 of them, none draining or deleted
	local got
	got=$(jp pods -n $NS -l llm.orchestrator.io/workload=chat \
		-o jsonpath='{range .items[*]}{.metadata.labels.llm\.orchestrator\.io/version}{"/"}{.metadata.deletionTimestamp}{.metadata.annotations.llm\.orchestrator\.io/draining}{" "}{end}')
	[ "$(echo $got | tr ' ' '\n' | grep -c .)" = "$2" ] && \
		[ -z "$(echo $got | tr ' ' '\n' | grep . | grep -vx "$1/")" ]
}
ready_is() { [ "$(jp llmw chat -n $NS -o jsonpath='{.status.readyReplicas}')" = "$1" ]; }
no_failures() { [ -s "$1" ] && ! grep -vx 200 "$1"; }

server_start --fake-gpus 1 --config tests/data/e2e/rollout.yaml
check "apply the namespaces" k apply -f k8s/llm-orchestrator/namespace.yaml
check "apply three versions (v2 fails 30% of its requests)" bash -c "
	{ $(declare -f sim_model); NS=$NS; sim_model llama2-v1 v1; echo ---; sim_model llama2-v2 v2 --error-rate 0.3 --seed 3; echo ---; sim_model llama2-v3 v3; } | kubectl apply -f -"
sim_workload chat v1 "  resources: {cpu: 100m, memory: 128Mi}
  scaling: {minReplicas: 1, maxReplicas: 3}
  deploymentStrategy:
    type: canary
    canary: {trafficSplit: 50, duration: 5s, successThreshold: 0.95}" >"$LLMO_DATA/chat.yaml"
check "apply a workload with a canary strategy" k apply -f "$LLMO_DATA/chat.yaml"
check "it becomes Ready" k wait --for=condition=Ready llmworkload/chat -n $NS --timeout=120s
check "the gateway serves it" wait_for 30 bash -c "curl -sf '$(gateway_url)/v1/completions' -d '{\"model\":\"chat\",\"prompt\":\"x\",\"max_tokens\":2}'"
check "the rollout starts Idle on v1" phase Idle

start_load "$LLMO_DATA/codes-bad"
check "v2 comes up as a canary with half the traffic" \
	k patch llmw chat -n $NS --type merge -p '{"spec":{"modelVersion":"v2"}}'
check "status.tracks: stable 50, canary 50" wait_for 60 bash -c \
	"kubectl get llmw chat -n $NS -o jsonpath='{.status.tracks[*].weight}' | grep -qx '50 50'"
check "the analysis rolls v2 back" wait_for 90 phase RolledBack
check "the message names the failed check" bash -c \
	"kubectl get llmw chat -n $NS -o jsonpath='{.status.rollout.message}' | grep 'rolled back v2' | grep -q 'success rate'"
check "a RolledBack Event is recorded" bash -c \
	"kubectl get events -n $NS --field-selector reason=RolledBack -o name | grep -q ."
check "the v2 replica goes; v1 keeps serving" wait_for 60 versions_are v1 1
stop_load
check "clients saw no failure: the gateway retried the canary's 500s on v1" no_failures "$LLMO_DATA/codes-bad"

start_load "$LLMO_DATA/codes-good"
check "v3 comes up as a canary" k patch llmw chat -n $NS --type merge -p '{"spec":{"modelVersion":"v3"}}'
check "the analysis promotes v3" wait_for 90 phase Succeeded
check "stableVersion is v3" bash -c \
	"[ \"\$(kubectl get llmw chat -n $NS -o jsonpath='{.status.rollout.stableVersion}')\" = v3 ]"
check "a Promoted Event is recorded" bash -c \
	"kubectl get events -n $NS --field-selector reason=Promoted -o name | grep -q ."
check "the v1 replica drains and goes" wait_for 60 versions_are v3 1
check "the drain is an Event" bash -c \
	"kubectl get events -n $NS --field-selector reason=DrainingReplica -o name | grep -q ."
stop_load
check "no request failed during the promotion and the drain" no_failures "$LLMO_DATA/codes-good"

# The HPA policy (the annotation): its scale-down follows the load within its 30 s metric
# window; the predictive one keeps capacity for what it forecasts (tested in the simulator).
check "add a target of 2 requests/s per replica, reactive policy" k patch llmw chat -n $NS --type merge \
	-p '{"metadata":{"annotations":{"llm.orchestrator.io/autoscaler":"reactive"}},"spec":{"scaling":{"targetMetrics":[{"type":"requests_per_second","target":2}]}}}'
start_load "$LLMO_DATA/codes-up"
check "load scales it up to maxReplicas (3)" wait_for 90 ready_is 3
check "a ScaledUp Event says why" bash -c \
	"kubectl get events -n $NS --field-selector reason=ScaledUp -o jsonpath='{.items[*].message}' | grep -q requests_per_second"
check "currentMetrics shows the request rate" bash -c \
	"kubectl get llmw chat -n $NS -o jsonpath='{.status.currentMetrics.requests_per_second}' | grep -q '[1-9]'"
stop_load
start_load "$LLMO_DATA/codes-down" 1
check "with the load gone it scales back down to 1" wait_for 120 versions_are v3 1
stop_load
check "no request failed while scaling up and down" bash -c \
	"cat '$LLMO_DATA/codes-up' '$LLMO_DATA/codes-down' >'$LLMO_DATA/codes-all'; ! grep -vx 200 '$LLMO_DATA/codes-all'"
check "a ScaledDown Event is recorded" bash -c \
	"kubectl get events -n $NS --field-selector reason=ScaledDown -o name | grep -q ."
