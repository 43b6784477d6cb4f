#!/usr/bin/env bash
# The predictive autoscaler's queueing + fluid-backlog sizing end to end, against
# the same predictive policy sizing by its target alone, on a step of load.
#
# Each arm is a fresh `llmo server` (API, controller, scheduler, agent, embedded
# gateway) on loopback with scheduler.predictiveScaling: true, whose replicas are
# `llmo inference-sim --max-batch SLOTS` (a fast cold start: STARTUP of model
# loading, then the readiness probe). The workload (1 to MAXR replicas,
# qosClass standard with maxLatency SLO_MS, targetMetrics queue_length
# 0.7 x SLOTS first, then requests_per_second) differs between the arms in one
# annotation only:
#   fluid:  llm.orchestrator.io/replica-slots: "SLOTS" -> the controller passes
#           replica_slots and slo_wait (SLO_MS: no benchmark, so the whole
#           objective is the wait budget) and the policy sizes by queueing;
#   target: no annotation -> the same predictive policy sizes by the targets.
# Load (`llmo bench load`, streamed, Poisson, the same seeds in both arms)
# through the gateway: LOW/s for LOW_S s, HIGH/s for HIGH_S s (the step), LOW/s
# for LOW_S s. A sampler reads the workload's pods from the API every second.
#
# Reported per arm (e2e_fluid.py): replica-seconds over the load (pods that
# exist: starting, Ready or draining; and Ready ones alone), scale events
# (ScaledUp / ScaledDown Events), the time from the step to ENOUGH Ready
# replicas (HIGH x hold / (0.7 x SLOTS), hold = the sim's time a request holds
# a slot), TTFT p50/p95 and the share of requests sent with TTFT <= SLO_MS per
# phase (bench load --slo-ttft), then the ratio fluid / target.
#
# Usage: bench/autoscale/e2e_fluid.sh    (about 2 x (2 x LOW_S + HIGH_S + 30) s a round)
# Settings (environment):
#   ROUNDS=1 LOW=6 HIGH=18 LOW_S=60 HIGH_S=120 SLOTS=4 SLO_MS=200 MAXR=10
#   ITL=20ms MAX_TOKENS=16 PROMPT=32 STARTUP=2s
#   BUILDDIR=build-bench   LLMO=path (use this binary instead of building one)
# Writes nothing into the repository but the build directory; everything else in a
# mktemp directory, removed at the end (KEEP=1 keeps it).
set -euo pipefail

cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-1}
LOW=${LOW:-6}
HIGH=${HIGH:-18}
LOW_S=${LOW_S:-60}
HIGH_S=${HIGH_S:-120}
SLOTS=${SLOTS:-4}
SLO_MS=${SLO_MS:-200}
MAXR=${MAXR:-10}
ITL=${ITL:-20ms}
MAX_TOKENS=${MAX_TOKENS:-16}
PROMPT=${PROMPT:-32}
STARTUP=${STARTUP:-2s}
BUILDDIR=${BUILDDIR:-build-bench}
NS=llm-workloads
W=fl
PY=python3
HERE=bench/autoscale

BENCH=e2e_fluid.sh
. "$HERE/lib.sh"
ms() { # "20ms" -> 20 (the sim's durations here are given in ms)
	case $1 in *ms) echo "${1%ms}" ;; *s) echo "$((${1%s} * 1000))" ;; *) die "want NNms: $1" ;; esac
}
# A request holds a slot for the first token (ttft-base 20 ms, no per-token
# prefill) and MAX_TOKENS - 1 more tokens ITL apart.
HOLD_MS=$((20 + ($(ms "$ITL") * (MAX_TOKENS - 1))))
TARGET=$($PY -c "print(round(0.7 * $SLOTS, 2))")
ENOUGH=$($PY -c "import math; print(math.ceil($HIGH * $HOLD_MS / 1000 / $TARGET - 1e-9))")

arm() { # ARM (fluid|target) N: one arm of round N; appends "ARM JSON" to $tmp/results
	local name=$1 n=$2 d="$tmp/r$2-$1" url gw token ca sampler ann=""
	mkdir -p "$d"
	[ "$name" = fluid ] && ann=", llm.orchestrator.io/replica-slots: \"$SLOTS\""
	cat >"$d/config.yaml" <<EOF
scheduler:
  resourceOvercommitRatio: 4
  predictiveScaling: true
  qosClasses:
    standard:
      maxLatency: $SLO_MS
EOF
	server_start "$d"
	url=$SERVER_URL gw=$GATEWAY_URL token=$TOKEN ca=$CA
	kubectl apply -f - >/dev/null <<EOF
apiVersion: llm.orchestrator.io/v1
kind: LLMModel
metadata: {name: llama2, namespace: $NS}
spec:
  name: llama2
  version: "7b"
  type: text-generation
  framework: vllm
  artifact: {reference: "registry.local/models/llama2:7b"}
  runtime:
    image: vllm/vllm-openai:v0.6.3
    port: 8000
    healthPath: /health
    localCommand: ["$LLMO", "inference-sim", "--port", "\$(PORT)", "--model", "llama2:7b",
      "--ttft-base", "20ms", "--ttft-per-token", "0", "--itl", "$ITL",
      "--max-batch", "$SLOTS", "--startup-delay", "$STARTUP"]
  resources:
    minimum: {cpu: 100m, memory: 64Mi}
---
apiVersion: llm.orchestrator.io/v1
kind: LLMWorkload
metadata:
  name: $W
  namespace: $NS
  annotations: {llm.orchestrator.io/autoscaler: predictive$ann}
spec:
  modelName: llama2
  modelVersion: "7b"
  qosClass: standard
  resources: {cpu: 100m, memory: 64Mi}
  scaling:
    minReplicas: 1
    maxReplicas: $MAXR
    targetMetrics:
    - {type: queue_length, target: $TARGET}
    - {type: requests_per_second, target: $($PY -c "print(round($TARGET * 1000 / $HOLD_MS, 2))")}
EOF
	kubectl wait --for=condition=Ready llmworkload/$W -n $NS --timeout=120s >/dev/null ||
		die "the first replica is not Ready"
	wait_for 30 curl -sf "$gw/v1/completions" -d "{\"model\":\"$W\",\"prompt\":\"hi\",\"max_tokens\":1}" ||
		die "the gateway does not serve $W"
	$PY "$HERE/e2e_fluid.py" sample --api "$url" --token "$token" --cacert "$ca" --ns $NS \
		--workload $W --out "$d/samples" 2>"$d/sampler.log" &
	sampler=$!
	PIDS="$sampler $PIDS"
	local seed=0 phase rate dur start
	: >"$d/phases"
	for phase in low:$LOW:$LOW_S high:$HIGH:$HIGH_S low2:$LOW:$LOW_S; do
		IFS=: read -r phase rate dur <<<"$phase"
		seed=$((seed + 1))
		start=$(date +%s.%N)
		"$LLMO" bench load --target "$gw" --model $W --stream --json --rate "$rate" \
			--duration "${dur}s" --seed $((n * 10 + seed)) --prompt-tokens "$PROMPT" \
			--max-tokens "$MAX_TOKENS" --slo-ttft "${SLO_MS}ms" --timeout 60s \
			>"$d/$phase.json" 2>"$d/$phase.err" || die "bench load ($name $phase): $(tail -3 "$d/$phase.err")"
		echo "$phase $start $(date +%s.%N) $d/$phase.json" >>"$d/phases"
	done
	kill "$sampler"; wait "$sampler" || true # it writes the scale events as it stops
	PIDS=${PIDS#"$sampler "}
	kubectl get events -n $NS --field-selector involvedObject.name=$W \
		-o custom-columns=T:.lastTimestamp,R:.reason,N:.count,M:.message --no-headers \
		>"$d/events.txt" 2>/dev/null || true
	printf '%s %s\n' "$name" "$($PY "$HERE/e2e_fluid.py" arm --samples "$d/samples" \
		--phases "$d/phases" --enough "$ENOUGH" --arm "$name")" >>"$tmp/results"
	grep -E 'Scaled(Up|Down)' "$d/events.txt" | sed "s/^/  $name: /" | head -30
	stop
	[ "${KEEP:-0}" = 1 ] || rm -rf "$d"
}

echo "llmo: $LLMO; ROUNDS=$ROUNDS LOW=$LOW HIGH=$HIGH LOW_S=$LOW_S HIGH_S=$HIGH_S SLOTS=$SLOTS" \
	"SLO_MS=$SLO_MS ITL=$ITL MAX_TOKENS=$MAX_TOKENS STARTUP=$STARTUP; hold ${HOLD_MS} ms," \
	"target queue_length $TARGET, enough $ENOUGH; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $(seq 1 "$ROUNDS"); do
	if [ $((n % 2)) = 1 ]; then arms="fluid target"; else arms="target fluid"; fi
	for a in $arms; do
		arm "$a" "$n"
		echo "round $n $a: $(tail -1 "$tmp/results" | cut -d' ' -f2-)"
		echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
	done
done
$PY "$HERE/e2e_fluid.py" report "$tmp/results"
