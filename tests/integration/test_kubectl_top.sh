#!/usr/bin/env bash
# The Metrics API (metrics.k8s.io/v1beta1) of llmo server: `kubectl top nodes` and
# `kubectl top pods` from the usage the node agent publishes (the annotation
# llm.orchestrator.io/usage). The agent is off here: the annotations are written by hand with
# known figures, so every printed number is worked out below. Pods without a figure, not
# Running, or with one older than two refresh periods (10 min) are not listed; a pod without
# metrics is NotFound; the API is read only; discovery lists it; `view` may read it.
. "$(dirname "$0")/lib.sh"
VIEWER=viewer-token-0123456789abcdef
printf '%s,vera,2001\n' "$VIEWER" >"$LLMO_DATA/tokens.csv"
chmod 600 "$LLMO_DATA/tokens.csv"
server_start --disable controller,scheduler,agent,gateway,registry --token-file "$LLMO_DATA/tokens.csv"
k() { kubectl --request-timeout=30s "$@"; }
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
old=$(date -u -d '-11 minutes' +%Y-%m-%dT%H:%M:%SZ)

k apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Node
metadata: {name: gpu-1, labels: {pool: a}}
EOF
# 4 CPUs and 8 GiB allocatable; 1500m and 2 GiB in use: 37% and 25%
k patch node gpu-1 --subresource=status --type=merge -p \
	'{"status":{"allocatable":{"cpu":"4","memory":"8Gi"},"capacity":{"cpu":"4","memory":"8Gi"},"conditions":[{"type":"Ready","status":"True"}]}}' >/dev/null
k annotate node gpu-1 "llm.orchestrator.io/usage={\"cpu\":1500,\"memory\":2147483648,\"netRx\":0,\"netTx\":0,\"at\":\"$now\"}" >/dev/null
mkpod() { # mkpod NAME PHASE USAGE-JSON|"" [NODE]: a pod in ns top (on gpu-1), labelled app=NAME's prefix
	k apply -n top -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1, labels: {app: ${1%%-*}}}
spec: {nodeName: ${4:-gpu-1}, containers: [{name: server, image: x}]}
EOF
	k patch pod "$1" -n top --subresource=status --type=merge -p "{\"status\":{\"phase\":\"$2\"}}" >/dev/null
	[ -z "$3" ] || k annotate pod "$1" -n top "llm.orchestrator.io/usage=$3" >/dev/null
}
k create namespace top >/dev/null
mkpod web-1 Running "{\"cpu\":250,\"memory\":104857600,\"at\":\"$now\"}"
mkpod web-2 Running "{\"cpu\":1200,\"memory\":1073741824,\"gpu\":40,\"gpuMemory\":1000,\"at\":\"$now\"}"
mkpod api-1 Running "{\"cpu\":10,\"memory\":5000,\"at\":\"$now\"}" gpu-2
mkpod idle-1 Running ""
mkpod done-1 Succeeded "{\"cpu\":5,\"memory\":4096,\"at\":\"$now\"}"
mkpod stale-1 Running "{\"cpu\":5,\"memory\":4096,\"at\":\"$old\"}"

# row "description" WANT COMMAND...: the output, blanks squeezed, holds the line WANT
row() {
	local what=$1 want=$2; shift 2
	if "$@" >"$LLMO_DATA/out" 2>&1 && tr -s ' ' <"$LLMO_DATA/out" | sed 's/ *$//' | grep -qxF -- "$want"; then ok
	else bad "$what: want '$want' in:"; sed 's/^/    /' "$LLMO_DATA/out"; fi
}
row "top nodes: header" "NAME CPU(cores) CPU% MEMORY(bytes) MEMORY%" k top nodes
row "top nodes: gpu-1" "gpu-1 1500m 37% 2048Mi 25%" k top nodes
row "top pods: web-1" "web-1 250m 100Mi" k top pods -n top
row "top pods: web-2" "web-2 1200m 1024Mi" k top pods -n top
# 5000 bytes: kubectl rounds to MiB
row "top pods: api-1" "api-1 10m 0Mi" k top pods -n top
check "top pods: only the three Running with a recent figure" bash -c \
	"[ \"\$(kubectl top pods -n top --no-headers | awk '{print \$1}' | sort | tr '\n' ' ')\" = 'api-1 web-1 web-2 ' ]"
check "top pods -l app=web" bash -c \
	"[ \"\$(kubectl top pods -n top -l app=web --no-headers | awk '{print \$1}' | sort | tr '\n' ' ')\" = 'web-1 web-2 ' ]"
row "top pods -A" "top web-1 250m 100Mi" k top pods -A
# field selectors select by the pod's fields, as metrics-server does (api-1 is on gpu-2)
check "top pods --field-selector spec.nodeName=gpu-1" bash -c \
	"[ \"\$(kubectl top pods -A --field-selector spec.nodeName=gpu-1 --no-headers | awk '{print \$2}' | sort | tr '\n' ' ')\" = 'web-1 web-2 ' ]"
check "top pods --field-selector metadata.name=api-1" bash -c \
	"[ \"\$(kubectl top pods -n top --field-selector metadata.name=api-1 --no-headers | awk '{print \$1}')\" = api-1 ]"
check "NodeMetrics ?fieldSelector=metadata.name=: gpu-1 alone, none for gpu-9" bash -c \
	"kubectl get --raw '/apis/metrics.k8s.io/v1beta1/nodes?fieldSelector=metadata.name%3Dgpu-1' | grep -q '\"name\":\"gpu-1\"' &&
	 [ \"\$(kubectl get --raw '/apis/metrics.k8s.io/v1beta1/nodes?fieldSelector=metadata.name%3Dgpu-9' | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"items\"]))')\" = 0 ]"
check_fails "top pods --field-selector on a field pods do not have" k top pods -n top --field-selector spec.bogus=1
grep -q 'spec.bogus' "$LLMO_DATA/out" && ok || bad "bogus field: $(cat "$LLMO_DATA/out")"
row "top pod web-1 --containers" "web-1 server 250m 100Mi" k top pod web-1 -n top --containers
check_fails "top pod idle-1 (no figure)" k top pod idle-1 -n top
grep -q 'podmetrics.metrics.k8s.io "idle-1" not found' "$LLMO_DATA/out" && ok || bad "idle-1: $(cat "$LLMO_DATA/out")"
check "the object: window, timestamp, usage" bash -c "kubectl get --raw /apis/metrics.k8s.io/v1beta1/namespaces/top/pods/web-2 |
	python3 -c 'import json, sys
o = json.load(sys.stdin)
assert o[\"kind\"] == \"PodMetrics\" and o[\"window\"] == \"15s\" and o[\"timestamp\"] == \"$now\", o
assert o[\"containers\"] == [{\"name\": \"server\", \"usage\": {\"cpu\": \"1200m\", \"memory\": \"1048576Ki\"}}], o
assert o[\"metadata\"][\"namespace\"] == \"top\" and o[\"metadata\"][\"labels\"] == {\"app\": \"web\"}, o'"
check "discovery: metrics.k8s.io/v1beta1, get and list" bash -c "kubectl get --raw /apis/metrics.k8s.io/v1beta1 |
	python3 -c 'import json, sys
r = {x[\"name\"]: x for x in json.load(sys.stdin)[\"resources\"]}
assert r[\"pods\"][\"kind\"] == \"PodMetrics\" and r[\"pods\"][\"namespaced\"], r
assert r[\"nodes\"][\"kind\"] == \"NodeMetrics\" and not r[\"nodes\"][\"namespaced\"], r
assert sorted(r[\"pods\"][\"verbs\"]) == [\"get\", \"list\"], r'"
check "read only: a POST is refused (405)" bash -c "kubectl create --raw /apis/metrics.k8s.io/v1beta1/namespaces/top/pods -f - <<<'{}' 2>&1 | grep -q 'only get and list are allowed on pods.metrics.k8s.io'"
# a user bound to view in top reads the pods' metrics there, not elsewhere
as_vera() { kubectl --kubeconfig /dev/null --server "$LLMO_URL" --certificate-authority \
	"$LLMO_DATA/pki/ca.crt" --token "$VIEWER" "$@"; }
k create rolebinding viewer -n top --clusterrole=view --user=vera >/dev/null
row "view may read pod metrics" "web-1 250m 100Mi" as_vera top pods -n top
check_fails "but not in another namespace" as_vera top pods -n default
grep -q 'forbidden' "$LLMO_DATA/out" && ok || bad "vera in default: $(cat "$LLMO_DATA/out")"
finish
