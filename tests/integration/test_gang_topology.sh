#!/bin/bash
# Gang placement and GPU topology end to end: kubectl against `llmo server
# --fake-gpus 4:H100:80Gi:2` (API server, scheduler and agent; no controller),
# whose agent reports 4 GPUs in NVLink domains {0, 1} and {2, 3}.
#   - a one-GPU pod takes GPU 0; a two-GPU pod then takes GPUs 2 and 3 (one
#     domain) rather than the lowest-numbered 1 and 2;
#   - a pod group of two one-GPU pods (minMember 2) finds one free GPU: none
#     is bound, and they say "1 of 2 pod(s) fit"; once the first pod is
#     deleted (two GPUs free) both are bound.
. "$(dirname "$0")/lib.sh"
trap 'finish' EXIT

k() { kubectl --request-timeout=30s "$@"; }
pod() { # pod NAME GPUS [GROUP]
	local ann=""
	[ -n "${3:-}" ] && ann="  annotations: {llm.orchestrator.io/pod-group: $3, llm.orchestrator.io/pod-group-min-member: \"2\"}"
	cat <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
  namespace: default
$ann
spec:
  schedulerName: llmo-scheduler
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    command: ["sleep", "300"]
    resources:
      requests: {cpu: 100m, memory: 64Mi, nvidia.com/gpu: "$2"}
YAML
}
node_of() { k get pod "$1" -o jsonpath='{.spec.nodeName}'; }
gpus_of() { k get pod "$1" -o jsonpath='{.metadata.annotations.llm\.orchestrator\.io/gpus}'; }
uuid() { # uuid INDEX: the fake GPU's uuid from the Node's gpu-devices
	k get node gpu-node -o jsonpath='{.metadata.annotations.llm\.orchestrator\.io/gpu-devices}' |
		python3 -c "import json,sys; print(json.load(sys.stdin)[$1]['uuid'])"
}
bound() { [ -n "$(node_of "$1")" ]; }
says() { # says POD TEXT: its PodScheduled condition's message contains TEXT
	k get pod "$1" -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].message}' |
		grep -F "$2"
}

server_start --fake-gpus 4:H100:80Gi:2 --node-name gpu-node --disable controller
check "the node registers" wait_for 30 k get node gpu-node
check "the node reports NVLink domains" bash -c "k() { kubectl --request-timeout=30s \"\$@\"; }; \
	k get node gpu-node -o jsonpath='{.metadata.annotations.llm\\.orchestrator\\.io/gpu-devices}' |
	python3 -c 'import json,sys; d=json.load(sys.stdin); assert [g[\"nvlinkDomain\"] for g in d] == [0, 0, 2, 2], d'"
U0=$(uuid 0) U1=$(uuid 1) U2=$(uuid 2) U3=$(uuid 3)

pod one 1 | k apply -f - >/dev/null
check "one is bound" wait_for 30 bound one
check "one holds GPU 0" bash -c "[ \"\$(kubectl get pod one -o jsonpath='{.metadata.annotations.llm\\.orchestrator\\.io/gpus}')\" = '$U0' ]"
pod two 2 | k apply -f - >/dev/null
check "two is bound" wait_for 30 bound two
GPUS_TWO=$(gpus_of two)
check "two holds GPUs 2 and 3 (one NVLink domain)" [ "$GPUS_TWO" = "$U2,$U3" ]

pod g1 1 grp | k apply -f - >/dev/null
pod g2 1 grp | k apply -f - >/dev/null
check "the group says 1 of 2 fit" wait_for 30 says g2 "pod group default/grp: 1 of 2 pod(s) fit, minMember 2"
check "g1 is not bound" [ -z "$(node_of g1)" ]
check "g2 is not bound" [ -z "$(node_of g2)" ]
k delete pod one --wait=false >/dev/null
check "g1 is bound once one is gone" wait_for 60 bound g1
check "g2 is bound too" wait_for 10 bound g2
GPUS_G="$(gpus_of g1),$(gpus_of g2)"
check "the group holds GPUs 0 and 1" bash -c "[ '$GPUS_G' = '$U0,$U1' ] || [ '$GPUS_G' = '$U1,$U0' ]"
