#!/usr/bin/env bash
# `make run`: starts llmo server on this machine (state in build/run-data), applies
# the spec's example workload with kubectl, waits until it is Ready, asks its replica
# for a completion, applies the other examples, and keeps serving until Ctrl-C.
# Another shell can use the printed KUBECONFIG.
#
# On a machine without an NVIDIA GPU the agent reports fake GPUs
# (LLMO_FAKE_GPUS, default 2:A100:80Gi) and replicas run `llmo inference-sim`, the
# example model's runtime.localCommand.
set -euo pipefail
cd "$(dirname "$0")/.."
LLMO=${LLMO:-./build/llmo}
DATA=${LLMO_DATA:-build/run-data}
LISTEN=${LLMO_LISTEN:-127.0.0.1:6443}
GATEWAY=${LLMO_GATEWAY_LISTEN:-127.0.0.1:8000}
REGISTRY=${LLMO_REGISTRY_LISTEN:-127.0.0.1:5000}
NS=llm-workloads
args=(--data-dir "$DATA" --listen "$LISTEN" --gateway-listen "$GATEWAY" --registry-listen "$REGISTRY")
if ! nvidia-smi -L >/dev/null 2>&1; then
	args+=(--fake-gpus "${LLMO_FAKE_GPUS:-2:A100:80Gi}")
fi
mkdir -p "$DATA"
"$LLMO" server "${args[@]}" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' INT TERM EXIT
case $DATA in /*) ;; *) DATA="$PWD/$DATA" ;; esac
export KUBECONFIG="$DATA/kubeconfig"
for _ in $(seq 1 100); do
	[ -f "$KUBECONFIG" ] && kubectl get --raw /healthz >/dev/null 2>&1 && break
	kill -0 $pid 2>/dev/null || { echo "llmo server did not start"; exit 1; }
	sleep 0.1
done
kubectl apply -f k8s/llm-orchestrator/namespace.yaml
# the spec's example first, so that the other examples do not take its resources
kubectl apply -f examples/llama2-7b-model.yaml -f examples/my-llm-workload.yaml
kubectl wait --for=condition=Ready llmworkload/my-llm-workload -n $NS --timeout=180s
endpoint=$(kubectl get llmworkload my-llm-workload -n $NS -o jsonpath='{.status.endpoints[0]}')
echo "A completion from the replica at $endpoint:"
curl -sS "http://$endpoint/v1/completions" -H 'Content-Type: application/json' \
	-d '{"model":"llama2:7b","prompt":"The capital of France is","max_tokens":8}'
echo
echo "The same through llmo's gateway (http://$GATEWAY), by the workload's name:"
for _ in $(seq 1 50); do
	curl -sf "http://$GATEWAY/v1/completions" -H 'Content-Type: application/json' \
		-d '{"model":"my-llm-workload","prompt":"The capital of France is","max_tokens":8}' && break
	sleep 0.2
done
echo
kubectl apply -f examples/
kubectl get nodes
kubectl get llmworkloads,llmmodels,pods -n $NS
echo
echo "llmo server is running (Ctrl-C stops it and its replicas). In another shell:"
echo "  export KUBECONFIG=$KUBECONFIG"
echo "  kubectl get llmw -A"
echo "  kubectl describe llmw my-llm-workload -n $NS"
echo "  curl http://$GATEWAY/v1/models"
echo "  kubectl logs -n llm-orchestrator deployment/llm-orchestrator   # the server's own log"
echo "(the other examples wait for resources this machine may not have: kubectl describe"
echo " pod says why)"
# Ctrl-C reaches the server directly (it is in the terminal's process group): the
# script only waits for it to stop its replicas and exit.
trap - EXIT
trap ':' INT
trap 'kill -TERM $pid 2>/dev/null' TERM
while kill -0 $pid 2>/dev/null; do wait $pid || true; done
