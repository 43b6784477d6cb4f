#!/usr/bin/env bash
# `make run`: starts llmo server on this machine (state in build/run-data),
# applies the examples with kubectl, shows them, and keeps serving until
# Ctrl-C. Another shell can use the printed KUBECONFIG.
set -euo pipefail
cd "$(dirname "$0")/.."
LLMO=${LLMO:-./build/llmo}
DATA=${LLMO_DATA:-build/run-data}
LISTEN=${LLMO_LISTEN:-127.0.0.1:6443}
mkdir -p "$DATA"
"$LLMO" server --data-dir "$DATA" --listen "$LISTEN" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' INT TERM EXIT
export KUBECONFIG="$PWD/$DATA/kubeconfig"
for _ in $(seq 1 100); do
	[ -f "$KUBECONFIG" ] && kubectl get --raw /healthz >/dev/null 2>&1 && break
	kill -0 $pid 2>/dev/null || { echo "llmo server did not start"; exit 1; }
	sleep 0.1
done
kubectl apply -f examples/
kubectl get llmworkloads,llmmodels -n llm-workloads
echo
echo "llmo server is running (Ctrl-C stops it). In another shell:"
echo "  export KUBECONFIG=$KUBECONFIG"
echo "  kubectl get llmw -A"
trap - EXIT
wait $pid
