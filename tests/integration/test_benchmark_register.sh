#!/bin/bash
# Benchmark on register through `llmo server --fake-gpus 1:H100:80Gi` (real
# scheduler and agent): a new LLMModel gets a temporary replica (an
# inference-sim with --ttft-base 20ms --ttft-per-token 0 --itl 1ms), results
# for concurrencies 1, 4 and 16 on GPU type H100 in status.benchmarks, the
# stable label, the Events, and no benchmark pod left. A second version whose
# replica is 8 times slower per token does not take the alias at threshold 1.
# Hand-computed: a 64-token request takes 20 + 64 * 1 = 84 ms, so one stream
# makes at most 64 / 0.084 = 761.9 tokens/s and TTFT is at least 20 ms; at
# 8 ms per token 20 + 512 = 532 ms, so 16 streams make at most
# 16 * 64 / 0.532 = 1924.8 tokens/s, below what the fast one measures at 16.
. "$(dirname "$0")/lib.sh"
trap finish EXIT
NS=bench

k() { kubectl --request-timeout=30s "$@"; }
model() { # name version itl
	cat <<YAML
apiVersion: llm.orchestrator.io/v1
kind: LLMModel
metadata: {name: $1, namespace: $NS}
spec:
  name: llama2
  version: "$2"
  artifact: {reference: "file:///models/llama2-$2"}
  runtime:
    image: vllm/vllm-openai:v0.6.3
    port: 8000
    healthPath: /health
    localCommand: ["llmo", "inference-sim", "--port", "\$(PORT)", "--model", "llama2:$2",
                   "--ttft-base", "20ms", "--ttft-per-token", "0", "--itl", "$3", "--max-batch", "0"]
  resources:
    recommended: {cpu: "1", memory: 1Gi, gpu: "1"}
YAML
}
phase() { [ "$(k get llmm "$1" -n $NS -o jsonpath='{.status.benchmark.phase}')" = "$2" ]; }
field() { k get llmm "$1" -n $NS -o jsonpath="$2"; }

server_start --fake-gpus 1:H100:80Gi --config tests/data/benchmark/config.yaml
check "the node is Ready" \
	wait_for 30 bash -c "kubectl get node -o jsonpath='{.items[0].status.allocatable.nvidia\.com/gpu}' | grep -qx 1"
check "create the namespace" k create namespace $NS
check "apply version 1" bash -c "$(declare -f model); NS=$NS; model llama2-1 1 1ms | kubectl apply -f -"
check "version 1 is benchmarked" wait_for 120 phase llama2-1 Succeeded
check "three results on H100" bash -c \
	"[ \"\$(kubectl get llmm llama2-1 -n $NS -o jsonpath='{.status.benchmarks[*].gpuType}')\" = 'H100 H100 H100' ]"
check "at concurrencies 1 4 16" bash -c \
	"[ \"\$(kubectl get llmm llama2-1 -n $NS -o jsonpath='{.status.benchmarks[*].concurrency}')\" = '1 4 16' ]"
TPS1=$(field llama2-1 '{.status.benchmarks[0].tokensPerSecond}')
TTFT1=$(field llama2-1 '{.status.benchmarks[0].ttftP50Ms}')
TPS16=$(field llama2-1 '{.status.benchmarks[2].tokensPerSecond}')
echo "# version 1: tokens/s at 1: $TPS1, at 16: $TPS16; ttft p50 at 1: $TTFT1 ms"
check "tokens/s at 1 within (300, 761.9]" awk -v v="$TPS1" 'BEGIN { exit !(v > 300 && v <= 761.9) }'
check "ttft p50 at 1 within [20, 60] ms" awk -v v="$TTFT1" 'BEGIN { exit !(v >= 20 && v <= 60) }'
check "version 1 holds the stable label" bash -c \
	"[ \"\$(kubectl get llmm llama2-1 -n $NS -o jsonpath='{.metadata.labels.llm\.orchestrator\.io/stable}')\" = true ]"
check "the benchmark pod is gone" wait_for 30 bash -c \
	"[ -z \"\$(kubectl get pods -n $NS -l llm.orchestrator.io/benchmark -o name)\" ]"
check "Events BenchmarkStarted, BenchmarkSucceeded, StableAliasMoved" bash -c \
	"kubectl describe llmm llama2-1 -n $NS | grep -q BenchmarkStarted &&
	 kubectl describe llmm llama2-1 -n $NS | grep -q BenchmarkSucceeded &&
	 kubectl describe llmm llama2-1 -n $NS | grep -q StableAliasMoved"

check "apply version 2 (8 ms per token)" bash -c "$(declare -f model); NS=$NS; model llama2-2 2 8ms | kubectl apply -f -"
check "version 2 is benchmarked" wait_for 120 phase llama2-2 Succeeded
echo "# version 2: tokens/s at 16: $(field llama2-2 '{.status.benchmarks[2].tokensPerSecond}')"
check "version 2 does not take the alias" bash -c \
	"[ -z \"\$(kubectl get llmm llama2-2 -n $NS -o jsonpath='{.metadata.labels.llm\.orchestrator\.io/stable}')\" ]"
check "version 1 keeps it" bash -c \
	"[ \"\$(kubectl get llmm llama2-1 -n $NS -o jsonpath='{.metadata.labels.llm\.orchestrator\.io/stable}')\" = true ]"
check "StableAliasKept says why" wait_for 10 bash -c \
	"kubectl get events -n $NS --field-selector reason=StableAliasKept -o jsonpath='{.items[*].message}' | grep -q 'llama2:1 stays stable'"
