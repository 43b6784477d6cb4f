#!/usr/bin/env bash
# GPU utilization end to end on a stand-in NVML (tests/unit/fake_nvml.c, loaded through
# LLMO_NVML_LIBRARY: GPU 0 at 37% with 10 GiB used, GPU 1 at 80% with 20 GiB used): the
# agent of `llmo server` finds the two GPUs through NVML, a replica given one GPU gets that
# GPU's figures in its usage annotation, and the controller shows them as the workload's
# gpu_utilization; the controller's /metrics has both GPUs' utilization and memory
# (llmo_node_gpu_*) and the node's GPU requested by the replica. No real GPU is involved.
. "$(dirname "$0")/lib.sh"
trap 'finish || exit 1' EXIT
: "${LLMO_FAKE_NVML:?set LLMO_FAKE_NVML to the stand-in libnvidia-ml}"
PY=/usr/bin/python3
NS=llm-workloads
k() { kubectl --request-timeout=30s "$@"; }

export LLMO_NVML_LIBRARY="$LLMO_FAKE_NVML"
CM=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
server_start --config tests/data/e2e/config.yaml --metrics-listen 127.0.0.1:$CM
check "the Node has the two NVML GPUs" wait_for 30 bash -c "kubectl get nodes -o json | $PY -c '
import json, sys
n = json.load(sys.stdin)[\"items\"][0]
assert n[\"status\"][\"allocatable\"][\"nvidia.com/gpu\"] == \"2\", n[\"status\"]
l = n[\"metadata\"][\"labels\"]
assert l[\"nvidia.com/gpu.product\"] == \"NVIDIA-H100-80GB-HBM3\" and \"llm.orchestrator.io/fake-gpus\" not in l, l'"
check "apply the namespaces and the model" \
	k apply -f k8s/llm-orchestrator/namespace.yaml -f examples/llama2-7b-model.yaml
check "apply a one-GPU workload scaled on gpu_utilization" k apply -f - <<YAML
apiVersion: llm.orchestrator.io/v1
kind: LLMWorkload
metadata: {name: gpu, namespace: $NS}
spec:
  modelName: llama2
  modelVersion: 7b
  modelType: text-generation
  resources: {cpu: 250m, memory: 512Mi, gpu: "1"}
  scaling:
    minReplicas: 1
    maxReplicas: 1
    targetMetrics: [{type: gpu_utilization, target: 50}]
YAML
check "the replica becomes Ready" k wait --for=condition=Ready llmworkload/gpu -n $NS --timeout=120s
# The stand-in's figures (above) per GPU on the controller's /metrics, and the replica's 1 GPU
# requested of the node's 2.
NODE=$(kubectl get nodes -o jsonpath='{.items[0].metadata.name}')
node_metrics_are_nvml() {
	curl -sf "http://127.0.0.1:$CM/metrics" >"$LLMO_DATA/ctl-metrics" &&
	for l in "llmo_node_gpu_utilization_percent{node=\"$NODE\",gpu=\"0\",model=\"NVIDIA H100 80GB HBM3\"} 37" \
		"llmo_node_gpu_utilization_percent{node=\"$NODE\",gpu=\"1\",model=\"NVIDIA H100 80GB HBM3\"} 80" \
		"llmo_node_gpu_memory_used_bytes{node=\"$NODE\",gpu=\"0\"} $((10 << 30))" \
		"llmo_node_gpu_memory_used_bytes{node=\"$NODE\",gpu=\"1\"} $((20 << 30))" \
		"llmo_node_gpu_memory_total_bytes{node=\"$NODE\",gpu=\"1\"} $((80 << 30))" \
		"llmo_node_allocatable{node=\"$NODE\",resource=\"gpu\"} 2" \
		"llmo_node_requested{node=\"$NODE\",resource=\"gpu\"} 1"; do
		grep -qxF "$l" "$LLMO_DATA/ctl-metrics" || return 1
	done
}
check "the controller's /metrics has the NVML GPUs' figures and the GPU requested" \
	wait_for 30 node_metrics_are_nvml
# The figures of the GPU the scheduler gave it (by index or UUID), as the stand-in sets them.
usage_is_its_gpu() {
	kubectl get pods -n $NS -l llm.orchestrator.io/workload=gpu -o json | $PY -c '
import json, sys
p = json.load(sys.stdin)["items"][0]
a = p["metadata"]["annotations"]
g = a["llm.orchestrator.io/gpus"]
want = {"0": (37.0, 10 << 30), "GPU-00000000-fake-nvml-0000": (37.0, 10 << 30),
        "1": (80.0, 20 << 30), "GPU-00000000-fake-nvml-0001": (80.0, 20 << 30)}[g]
u = json.loads(a["llm.orchestrator.io/usage"])
assert (u["gpu"], u["gpuMemory"]) == want, (g, u)
print(want[0])'
}
check "its usage annotation has its GPU's utilization and memory" wait_for 90 usage_is_its_gpu
usage_is_its_gpu >"$LLMO_DATA/pct" 2>/dev/null
current_is() {
	[ "$(kubectl get llmw gpu -n $NS -o jsonpath='{.status.currentMetrics.gpu_utilization}')" = "$1" ]
}
check "the workload's currentMetrics shows it as gpu_utilization" wait_for 60 current_is "$(sed 's/\.0$//' "$LLMO_DATA/pct")"
