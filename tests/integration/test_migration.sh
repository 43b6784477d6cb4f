#!/bin/bash
# Migration of a replica between the two nodes of one `llmo server` (node-a, its own agent)
# plus a second `llmo agent` (node-b): the replica on node-a, annotated
# llm.orchestrator.io/migrate=true, gets a replacement on node-b; the old replica is put to
# drain (the gateway sends it nothing new) and deleted only once the replacement is Ready (read off a watch of the pods, in the
# API's order); requests sent through the gateway all the while all succeed; the Events and
# llmo_controller_migrations_total say so.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
NS=llm-workloads
W=mig
AGENT_PID='' LOOP_PID='' WATCH_PID=''
stop_helpers() { # never leave a process behind, even when a check failed
	# the request loop ends by itself after its current request (curl --max-time 30): killing
	# it would leave that curl running while node-b's agent and replica are stopped under it
	touch "$LLMO_DATA/stop"
	[ -z "$LOOP_PID" ] || wait "$LOOP_PID" 2>/dev/null
	for p in $WATCH_PID $AGENT_PID; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	LOOP_PID='' WATCH_PID='' AGENT_PID=''
}
trap 'stop_helpers; finish' EXIT
k() { kubectl --request-timeout=30s "$@"; }
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
node_ready() { [ "$(k get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]; }

CM=$(free_port)
server_start --fake-gpus 1:A100:80Gi --node-name node-a --config tests/data/e2e/config.yaml \
	--metrics-listen 127.0.0.1:$CM
check "node-a is Ready" wait_for 30 node_ready node-a
check "apply the model and a one-replica workload" bash -c "
	kubectl apply -f k8s/llm-orchestrator/namespace.yaml -f examples/llama2-7b-model.yaml >/dev/null &&
	kubectl apply -f - <<EOF
apiVersion: llm.orchestrator.io/v1
kind: LLMWorkload
metadata: {name: $W, namespace: $NS}
spec:
  modelName: llama2
  modelVersion: 7b
  modelType: text-generation
  resources: {cpu: 500m, memory: 512Mi, gpu: '1'}
  scaling: {replicas: 1, minReplicas: 1, maxReplicas: 2}
EOF"
check "it becomes Ready" k wait --for=condition=Ready llmworkload/$W -n $NS --timeout=120s
OLD=$(k get pods -n $NS -l llm.orchestrator.io/workload=$W -o jsonpath='{.items[0].metadata.name}')
check "the replica runs on node-a" bash -c \
	"[ \"\$(kubectl get pod $OLD -n $NS -o jsonpath='{.spec.nodeName}')\" = node-a ]"

"$LLMO" agent --node-name node-b --fake-gpus 1:A100:80Gi --state-dir "$LLMO_DATA/agent-b" \
	>>"$LLMO_DATA/agent-b.log" 2>&1 &
AGENT_PID=$!
check "node-b (a second agent) is Ready" wait_for 30 node_ready node-b

# requests through the gateway, one after another, until told to stop
GW=$(gateway_url)
(
	while [ ! -e "$LLMO_DATA/stop" ]; do
		if curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 "$GW/v1/completions" \
			-H 'Content-Type: application/json' \
			-d "{\"model\":\"$W\",\"prompt\":\"Hello there\",\"max_tokens\":4}" >>"$LLMO_DATA/codes"; then :
		else echo "curl-failed" >>"$LLMO_DATA/codes"; fi
	done
) &
LOOP_PID=$!
check "requests succeed before the move" wait_for 30 grep -qx 200 "$LLMO_DATA/codes"

# every change of the workload's pods, in the API's order
k get pods -n $NS -l llm.orchestrator.io/workload=$W --watch --output-watch-events -o json \
	>"$LLMO_DATA/watch.json" 2>"$LLMO_DATA/watch.err" &
WATCH_PID=$!
check "the watch has listed the pods" wait_for 30 grep -q "$OLD" "$LLMO_DATA/watch.json"

check "kubectl annotate pod ... llm.orchestrator.io/migrate=true" \
	k annotate pod "$OLD" -n $NS llm.orchestrator.io/migrate=true
replacement() {
	k get pods -n $NS -l llm.orchestrator.io/workload=$W -o json | $PY -c "
import json, sys
for p in json.load(sys.stdin)['items']:
    if p['metadata']['name'] != '$OLD':
        print(p['metadata']['name'], p['spec'].get('nodeName', ''))"
}
on_node_b() { replacement | grep -q ' node-b$'; }
check "a replacement is scheduled on node-b" wait_for 60 on_node_b
NEW=$(replacement | awk '{print $1}' | head -1)
check "the replacement becomes Ready" k wait --for=condition=Ready pod/"$NEW" -n $NS --timeout=120s
check "the old replica is deleted" wait_for 90 bash -c "! kubectl get pod $OLD -n $NS >/dev/null 2>&1"
check "the workload is Ready with one replica, on node-b" bash -c "
	[ \"\$(kubectl get llmw $W -n $NS -o jsonpath='{.status.readyReplicas}')\" = 1 ] &&
	[ \"\$(kubectl get pods -n $NS -l llm.orchestrator.io/workload=$W -o jsonpath='{.items[*].spec.nodeName}')\" = node-b ]"
check "requests succeed after the move" wait_for 30 bash -c "[ \$(grep -cx 200 '$LLMO_DATA/codes') -ge 2 ] && tail -1 '$LLMO_DATA/codes' | grep -qx 200"
stop_helpers

check "the old replica drained and went only after the replacement was Ready (watch order)" \
	$PY - "$LLMO_DATA/watch.json" "$OLD" "$NEW" <<'EOF'
import json, sys
text, old, new = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]
dec, i, new_ready, saw = json.JSONDecoder(), 0, False, []
while i < len(text):
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text):
        break
    ev, i = dec.raw_decode(text, i)
    typ, pod = ev['type'], ev['object']
    name = pod['metadata']['name']
    ready = any(c['type'] == 'Ready' and c['status'] == 'True'
                for c in pod.get('status', {}).get('conditions', []))
    if name == new:
        new_ready = new_ready or ready
    elif name == old:
        ann = pod['metadata'].get('annotations', {})
        going = (typ == 'DELETED' or 'deletionTimestamp' in pod['metadata']
                 or ann.get('llm.orchestrator.io/draining') == 'true')
        if going:
            saw.append(typ)
            assert new_ready, f'{old} left service ({typ}) before {new} was Ready'
assert 'DELETED' in saw, f'no deletion of {old} in the watch: {saw}'
assert saw[0] == 'MODIFIED', f'{old} was not put to drain first: {saw}'
EOF
check "no request failed during the move" bash -c "! grep -vx 200 '$LLMO_DATA/codes'"
echo "requests sent during the test: $(wc -l <"$LLMO_DATA/codes")"
check "Events Migrating and Migrated on the workload" bash -c "
	kubectl get events -n $NS -o jsonpath='{.items[*].reason}' | tr ' ' '\n' | grep -qx Migrating &&
	kubectl get events -n $NS -o jsonpath='{.items[*].reason}' | tr ' ' '\n' | grep -qx Migrated"
check "llmo_controller_migrations_total{result=\"succeeded\"} 1" bash -c \
	"curl -sf http://127.0.0.1:$CM/metrics | grep -qx 'llmo_controller_migrations_total{result=\"succeeded\"} 1'"
