#!/bin/bash
# spec.security end to end: real kubectl against `llmo server`, replicas run
# `llmo inference-sim`. A workload with complianceLevel strict stays
# unscheduled (its status says why) until the node is labelled
# llm.orchestrator.io/compliance-level=strict, then becomes Ready. NetworkPolicies
# are served (kubectl apply, get netpol, api-resources); a workload naming one that
# selects policy.llm.orchestrator.io/deny-egress gets NetworkPoliciesApplied True and
# that label on its replicas; naming a missing one gives False NetworkPolicyNotFound,
# and so does deleting the one it names. A name that cannot be a label name is refused.
. "$(dirname "$0")/lib.sh"
trap finish EXIT
NS=llm-workloads
k() { kubectl --request-timeout=30s "$@"; }
jp() { k get "$@" 2>/dev/null; }
# cond WORKLOAD TYPE FIELD: that field of the workload's condition of that type
cond() { jp llmw "$1" -n $NS -o jsonpath="{.status.conditions[?(@.type==\"$2\")].$3}"; }
cond_is() { [ "$(cond "$1" "$2" "$3")" = "$4" ]; }
workload() { # workload NAME SECURITY-FLOW-MAPPING
	sim_workload "$1" v1 "  resources: {cpu: 100m, memory: 128Mi}
  scaling: {minReplicas: 1, maxReplicas: 1}
  security: $2"
}

server_start --fake-gpus 1
check "apply the namespaces" k apply -f k8s/llm-orchestrator/namespace.yaml
check "apply the model" bash -c "$(declare -f sim_model); NS=$NS; sim_model llama2-v1 v1 | kubectl apply -f -"
NODE=$(jp nodes -o jsonpath='{.items[0].metadata.name}')
check "the node has no compliance label" test -n "$NODE" -a -z "$(jp node "$NODE" -o jsonpath='{.metadata.labels.llm\.orchestrator\.io/compliance-level}')"

# complianceLevel strict: no node qualifies until one is labelled
check "apply a strict workload" bash -c "$(declare -f workload sim_workload); NS=$NS; workload strict '{complianceLevel: strict}' | kubectl apply -f -"
check "its replica is unschedulable" wait_for 60 bash -c "[ \"\$(kubectl get pods -n $NS -l llm.orchestrator.io/workload=strict -o jsonpath='{.items[0].status.conditions[?(@.type==\"PodScheduled\")].reason}')\" = Unschedulable ]"
check "the replica requires the label" bash -c "kubectl get pods -n $NS -l llm.orchestrator.io/workload=strict -o json | python3 -c '
import json, sys
pod = json.load(sys.stdin)[\"items\"][0]
terms = pod[\"spec\"][\"affinity\"][\"nodeAffinity\"][\"requiredDuringSchedulingIgnoredDuringExecution\"][\"nodeSelectorTerms\"]
assert terms == [{\"matchExpressions\": [{\"key\": \"llm.orchestrator.io/compliance-level\", \"operator\": \"In\", \"values\": [\"strict\", \"enterprise\"]}]}], terms
assert not pod[\"spec\"].get(\"nodeName\"), pod[\"spec\"]'"
check "Ready is False: ReplicasUnschedulable" wait_for 30 cond_is strict Ready reason ReplicasUnschedulable
check "its message says what the node needs" bash -c "$(declare -f k jp cond); NS=$NS; cond strict Ready message | grep -F 'node affinity' | grep -F 'llm.orchestrator.io/compliance-level in (strict, enterprise)'"
check_fails "kubectl wait times out" k wait --for=condition=Ready llmworkload/strict -n $NS --timeout=3s
check "label the node strict" k label node "$NODE" llm.orchestrator.io/compliance-level=strict
check "then it becomes Ready" k wait --for=condition=Ready llmworkload/strict -n $NS --timeout=120s
check "its replica runs on the node" bash -c "[ \"\$(kubectl get pods -n $NS -l llm.orchestrator.io/workload=strict -o jsonpath='{.items[0].spec.nodeName}')\" = '$NODE' ]"

# NetworkPolicies: served, and checked against the replicas
check "api-resources lists networkpolicies" bash -c "kubectl api-resources | grep -E '^networkpolicies +netpol +networking.k8s.io/v1 +true +NetworkPolicy'"
cat >"$LLMO_DATA/netpol.yaml" <<YAML
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-egress, namespace: $NS}
spec:
  podSelector:
    matchLabels: {policy.llm.orchestrator.io/deny-egress: "true"}
  policyTypes: [Egress]
YAML
check "apply a NetworkPolicy" k apply -f "$LLMO_DATA/netpol.yaml"
check "apply it again is unchanged" bash -c "kubectl apply -f '$LLMO_DATA/netpol.yaml' | grep -x 'networkpolicy.networking.k8s.io/deny-egress unchanged'"
check "get netpol lists it" bash -c "kubectl get netpol -n $NS --no-headers | grep -E '^deny-egress '"
check "apply a workload naming it" bash -c "$(declare -f workload sim_workload); NS=$NS; workload guarded '{networkPolicies: [deny-egress]}' | kubectl apply -f -"
check "NetworkPoliciesApplied is True" wait_for 60 cond_is guarded NetworkPoliciesApplied status True
check "its replica carries the policy label" wait_for 30 bash -c "[ \"\$(kubectl get pods -n $NS -l policy.llm.orchestrator.io/deny-egress=true -o jsonpath='{.items[*].metadata.labels.llm\.orchestrator\.io/workload}')\" = guarded ]"
check "apply a workload naming a missing one" bash -c "$(declare -f workload sim_workload); NS=$NS; workload open '{networkPolicies: [no-such-policy]}' | kubectl apply -f -"
check "NetworkPoliciesApplied is False: NetworkPolicyNotFound" wait_for 60 cond_is open NetworkPoliciesApplied reason NetworkPolicyNotFound
check "the message names it" bash -c "$(declare -f k jp cond); NS=$NS; cond open NetworkPoliciesApplied message | grep -F no-such-policy"
check_fails "a name that cannot be a label name is refused" bash -c "$(declare -f workload sim_workload); NS=$NS; workload badname '{networkPolicies: [Deny_Egress]}' | kubectl apply -f -"
check "a workload naming none has no such condition" test -z "$(cond strict NetworkPoliciesApplied status)"
check "delete the NetworkPolicy" k delete netpol deny-egress -n $NS
check "the workload naming it notices" wait_for 60 cond_is guarded NetworkPoliciesApplied reason NetworkPolicyNotFound
