#!/usr/bin/env bash
# Several gateways, as k8s/llm-orchestrator runs them (two replicas of `llmo gateway` in API
# mode), read by `llmo controller --gateway-pods NAMESPACE/SELECTOR`: the controller finds the
# gateways' Ready pods, reads each one's /metrics and adds their counts up. Two gateways each
# get about 2.3 requests/s for one workload (a target of 1 request/s per replica, reactive
# policy): the autoscaler sees their sum and wants more replicas than one gateway's count
# could ask for (a gateway sends at most 2.5/s here, so at most 3). The gateways' pods
# are Pod objects bound to a node no agent serves, with the status (Ready, podIP 127.0.0.1) a
# kubelet would post and their ports in prometheus.io/port.
. "$(dirname "$0")/lib.sh"
LOADS=()
stop_all() {
	local p
	for p in "${LOADS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	LOADS=()
	bg_stop
}
trap 'stop_all; finish' EXIT
k() { kubectl --request-timeout=30s "$@"; }
NS=llm-workloads
free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

server_start --fake-gpus 1 --config tests/data/e2e/rollout.yaml --disable controller,gateway
check "apply the namespaces" k apply -f k8s/llm-orchestrator/namespace.yaml
P1=$(free_port) P2=$(free_port)
for i in 1 2; do
	port=$([ $i = 1 ] && echo "$P1" || echo "$P2")
	"$LLMO" gateway --kubeconfig "$KUBECONFIG" --listen "127.0.0.1:$port" \
		>/dev/null 2>"$LLMO_DATA/gateway$i.log" &
	BG_PIDS+=($!)
	check "gateway $i's pod" k apply -f - <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: gw-$i
  namespace: llm-orchestrator
  labels: {app.kubernetes.io/component: gateway}
  annotations: {prometheus.io/port: "$port"}
spec:
  nodeName: gateway-node
  containers: [{name: gateway, image: ghcr.io/llmo/llmo:0.1.0}]
YAML
	check "with the status its kubelet would post" k patch pod "gw-$i" -n llm-orchestrator \
		--subresource=status --type=merge \
		-p '{"status":{"phase":"Running","podIP":"127.0.0.1","conditions":[{"type":"Ready","status":"True"}]}}'
done
"$LLMO" controller --kubeconfig "$KUBECONFIG" --config tests/data/e2e/rollout.yaml \
	--leader-elect false --metrics-listen off --scrape-interval 1s \
	--gateway-pods "llm-orchestrator/app.kubernetes.io/component=gateway" \
	>/dev/null 2>"$LLMO_DATA/controller.log" &
BG_PIDS+=($!)

check "a model and a workload: 1 request/s per replica, reactive, up to 6" bash -c "
	{ $(declare -f sim_model); NS=$NS; sim_model llama2-v1 v1; } | kubectl apply -f -"
sim_workload chat v1 "  resources: {cpu: 100m, memory: 64Mi}
  scaling:
    minReplicas: 1
    maxReplicas: 6
    targetMetrics: [{type: requests_per_second, target: 1}]" >"$LLMO_DATA/chat.yaml"
sed -i 's/^metadata: {name: chat, namespace: llm-workloads}$/metadata: {name: chat, namespace: llm-workloads, annotations: {llm.orchestrator.io\/autoscaler: reactive}}/' "$LLMO_DATA/chat.yaml"
check "apply it" k apply -f "$LLMO_DATA/chat.yaml"
check "it becomes Ready" k wait --for=condition=Ready llmworkload/chat -n $NS --timeout=120s
serves() { curl -sf --max-time 5 "http://127.0.0.1:$1/v1/completions" -d '{"model":"chat","prompt":"x","max_tokens":2}' >/dev/null; }
check "gateway 1 serves it" wait_for 30 serves "$P1"
check "gateway 2 serves it" wait_for 30 serves "$P2"
for port in "$P1" "$P2"; do
	( while :; do serves "$port"; sleep 0.4; done ) &
	LOADS+=($!)
done
# one gateway alone sends at most 2.5 requests/s (one at a time, 0.4 s apart): counted
# alone, it would ask for at most ceil(2.5 / 1) = 3 replicas
check "the autoscaler counts both gateways' requests: more than 3 replicas wanted" \
	wait_for 90 bash -c "[ \"\$(kubectl get llmw chat -n $NS -o jsonpath='{.status.desiredReplicas}')\" -ge 4 ]"
check "the controller read both gateways" bash -c "! grep -q 'gateway metrics unavailable' $LLMO_DATA/controller.log"
stop_all
