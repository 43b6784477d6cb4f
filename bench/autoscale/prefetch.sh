#!/usr/bin/env bash
# The cold start of a real scale-up on `llmo server`, with the model prefetch
# (resourceManager.modelPrefetch, docs/autoscaling.md) on and off, alternated.
#
# Each round is a fresh `llmo server` (API, controller, scheduler, gateway,
# registry and the agent of node "hot", one fake GPU) plus a second agent,
# `llmo agent`, for node "cold" (one fake GPU, its own empty model cache).
# A model of SIZE_MB MiB of random weights is pushed with `llmo model push`;
# the workload (one GPU a replica, 1 to 2 replicas, the predictive autoscaler,
# a target of 1 request/s a replica, behavior.scaleUp.stabilizationWindowSeconds
# LEAD) gets its first replica on "hot". Then RATE requests/s go through the
# gateway: the autoscaler's recommendation becomes 2 at once, the decided
# count LEAD seconds later (the stabilization window), which is the lead a
# forecast gives in production. The second replica can only go to "cold"
# (hot's GPU is taken). With prefetch on the controller asks "cold" to fetch
# the model as soon as the recommendation rises; off, the replica's own fetch
# step downloads it after the pod exists.
#
# Measured per round (prefetch_round.py, from API watch events as they
# arrive, wall clock, milliseconds): cold start = the new pod created -> Ready;
# its parts: created -> the model's command starts (scheduling, the agent
# starting the pod, the fetch step: a download, or with the model already in
# the cache the hash check of every file) and command -> Ready (the command
# reads the weights once and starts `llmo inference-sim --startup-delay
# STARTUP`; the readiness probe). Also, with prefetch on, when "cold" was
# asked and when its cache listed the model, against the pod's creation.
#
# Usage: bench/autoscale/prefetch.sh      (about 1 minute a round)
# Settings (environment):
#   SIZE_MB=300   model size (random bytes: incompressible)
#   ROUNDS=3      rounds of each arm, alternated (on first in odd rounds, off first in even)
#   LEAD=30       seconds of the scale-up stabilization window (the forecast's lead)
#   RATE=4        requests/s through the gateway during the scale-up
#   STARTUP=2s    inference-sim --startup-delay (an engine's start after the weights are read)
#   BUILDDIR=build-bench   where llmo is built (RelWithDebInfo, no sanitizers)
#   LLMO=path     use this llmo binary instead of building one
# Writes nothing into the repository but the build directory; everything else in a mktemp
# directory, removed at the end (KEEP=1 keeps it).
set -euo pipefail

cd "$(dirname "$0")/../.."
SIZE_MB=${SIZE_MB:-300}
ROUNDS=${ROUNDS:-3}
LEAD=${LEAD:-30}
RATE=${RATE:-4}
STARTUP=${STARTUP:-2s}
BUILDDIR=${BUILDDIR:-build-bench}
NS=llm-workloads
W=pf
PY=python3
HERE=bench/autoscale

BENCH=prefetch.sh
. "$HERE/lib.sh"

# The model, once: SIZE_MB MiB of random weights and a config.
mkdir -p "$tmp/model"
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >"$tmp/model/weights.bin"
printf '{"architectures":["LlamaForCausalLM"]}' >"$tmp/model/config.json"

round() { # ARM (on|off) N: one round; appends its result line to $tmp/results
	local arm=$1 n=$2 d="$tmp/r$2-$1" url gw reg token ca digest
	mkdir -p "$d"
	printf 'scheduler:\n  resourceOvercommitRatio: 4\nresourceManager:\n  modelPrefetch: %s\n' \
		"$([ "$arm" = on ] && echo true || echo false)" >"$d/config.yaml"
	server_start "$d" --fake-gpus 1:A100:80Gi --node-name hot
	url=$SERVER_URL gw=$GATEWAY_URL reg=$REGISTRY_URL token=$TOKEN ca=$CA
	printf '%s' "$token" >"$d/token"
	"$LLMO" model push "$tmp/model" --name models/$W --version 1 -n $NS --registry "$reg" \
		--token "$token" --cacert "$ca" --local-command '["true"]' >"$d/push.log" 2>&1
	digest=$(sed -n "s/^pushed models\/$W:1 \(sha256:[0-9a-f]*\) .*/\1/p" "$d/push.log")
	[ -n "$digest" ] || die "push: $(cat "$d/push.log")"
	# The command: a marker line, the weights read once (as an engine loads them), the engine.
	$PY - "$LLMO" "$STARTUP" >"$d/patch.json" <<'EOF'
import json, sys
llmo, startup = sys.argv[1], sys.argv[2]
cmd = ('echo "BENCH_CMD_START $(date +%%s.%%N)"; cat "$LLMO_MODEL_PATH"/weights.bin >/dev/null; '
       'exec "%s" inference-sim --port "$PORT" --model pf:1 --startup-delay %s' % (llmo, startup))
print(json.dumps({"spec": {"runtime": {"image": "x", "localCommand": ["sh", "-c", cmd]},
                           "resources": {"minimum": {"cpu": "100m", "memory": "64Mi"}}}}))
EOF
	kubectl patch llmm $W-1 -n $NS --type merge --patch-file "$d/patch.json" >/dev/null
	kubectl apply -f - >/dev/null <<EOF
apiVersion: llm.orchestrator.io/v1
kind: LLMWorkload
metadata:
  name: $W
  namespace: $NS
  annotations: {llm.orchestrator.io/autoscaler: predictive}
spec:
  modelName: $W
  modelVersion: "1"
  resources: {cpu: 100m, memory: 64Mi, gpu: "1"}
  scaling:
    minReplicas: 1
    maxReplicas: 2
    targetMetrics: [{type: requests_per_second, target: 1}]
    behavior: {scaleUp: {stabilizationWindowSeconds: $LEAD}}
EOF
	kubectl wait --for=condition=Ready llmworkload/$W -n $NS --timeout=300s >/dev/null ||
		die "the first replica is not Ready"
	"$LLMO" agent --kubeconfig "$KUBECONFIG" --config "$d/config.yaml" --node-name cold \
		--fake-gpus 1:A100:80Gi --state-dir "$d/cold/state" --model-cache "$d/cold/models" \
		--registry-token-file "$d/token" --registry-cacert "$ca" 2>"$d/agent.log" &
	PIDS="$! $PIDS"
	wait_for 60 bash -c "kubectl get node cold -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True" ||
		die "node cold is not Ready"
	$PY "$HERE/prefetch_round.py" --api "$url" --token "$token" --cacert "$ca" --gateway "$gw" \
		--ns $NS --workload $W --node cold --digest "$digest" --rate "$RATE" \
		--timeout $((LEAD + 240)) >"$d/result.json" ||
		die "round $n ($arm): $(cat "$d/result.json")"
	printf '%s %s %s\n' "$arm" "$n" "$(cat "$d/result.json")" >>"$tmp/results"
	stop
	[ "${KEEP:-0}" = 1 ] || rm -rf "$d"
}

echo "llmo: $LLMO; SIZE_MB=$SIZE_MB ROUNDS=$ROUNDS LEAD=$LEAD RATE=$RATE STARTUP=$STARTUP;" \
	"load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $(seq 1 "$ROUNDS"); do
	if [ $((n % 2)) = 1 ]; then arms="on off"; else arms="off on"; fi
	for arm in $arms; do
		round "$arm" "$n"
		echo "round $n $arm: $(tail -1 "$tmp/results" | cut -d' ' -f3-)"
	done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
$PY "$HERE/prefetch_report.py" "$tmp/results"
