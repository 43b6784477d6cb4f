#!/usr/bin/env bash
# llmo server's own pod: the spec's troubleshooting commands on one machine.
#   kubectl get pods -n llm-orchestrator
#   kubectl logs -n llm-orchestrator deployment/llm-orchestrator
# The agent shows the server as a static (mirror) pod llmo-server-NODE bound to its Node,
# selected by a Deployment llm-orchestrator; its log (the server's own lines) is served like a
# container's: --tail, --timestamps, -f, --previous after a restart. A deleted pod comes back,
# a restart counts, another command line replaces the pod, a user's Deployment of that name is
# left alone.
. "$(dirname "$0")/lib.sh"
NS=llm-orchestrator POD=llmo-server-box-1
start() { : >"$LLMO_LOG"; server_start --node-name box-1 --fake-gpus 1 --disable gateway,registry "$@"; }
k() { kubectl --request-timeout=30s -n "$NS" "$@"; }
field() { k get pod "$POD" -o jsonpath="$1" 2>/dev/null; }
start

check "the pod comes up Running and Ready" wait_for 20 \
	sh -c "[ \"\$(kubectl -n $NS get pod $POD -o jsonpath='{.status.phase}/{.status.containerStatuses[0].ready}')\" = Running/true ]"
check "kubectl get pods -n llm-orchestrator lists it 1/1 Running" bash -c \
	"kubectl get pods -n $NS --no-headers | tr -s ' ' | grep -q '^$POD 1/1 Running 0 '"
check "bound to the agent's Node, which owns it" sh -c \
	"[ \"\$(kubectl -n $NS get pod $POD -o jsonpath='{.spec.nodeName} {.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}')\" = 'box-1 Node/box-1' ]"
check "its command is the server's command line" sh -c \
	"[ \"\$(kubectl -n $NS get pod $POD -o jsonpath='{.spec.containers[0].command[1]} {.spec.containers[0].command[3]}')\" = 'server $LLMO_DATA' ]"
check "the Deployment llm-orchestrator is 1/1" bash -c \
	"kubectl get deploy -n $NS llm-orchestrator --no-headers | tr -s ' ' | grep -q '^llm-orchestrator 1/1 1 1 '"
check "... and its selector finds the pod alone" sh -c \
	"[ \"\$(kubectl get deploy -n $NS llm-orchestrator -o jsonpath='{.spec.selector.matchLabels}')\" = '{\"app.kubernetes.io/component\":\"server\",\"app.kubernetes.io/name\":\"llmo\"}' ] &&
	 [ \"\$(kubectl get pods -n $NS -l app.kubernetes.io/component=server,app.kubernetes.io/name=llmo -o name)\" = pod/$POD ]"

# the log: from the first line the server wrote (before the agent existed) on
k logs deployment/llm-orchestrator >"$LLMO_DATA/log1" 2>&1
check "kubectl logs deployment/llm-orchestrator: the API server's first lines" \
	grep -q 'info apiserver listening url=https://127.0.0.1' "$LLMO_DATA/log1"
check "... and the agent's" grep -q "info agent node registered node=box-1" "$LLMO_DATA/log1"
check "the same lines as on stderr" bash -c \
	"grep -F 'info apiserver listening' '$LLMO_LOG' | head -1 | cmp -s - <(grep -F 'info apiserver listening' '$LLMO_DATA/log1' | head -1)"
check "--tail=2 gives two lines" sh -c "[ \"\$(kubectl -n $NS logs $POD --tail=2 | wc -l)\" = 2 ]"
check "--timestamps: each line begins with its RFC 3339 time" sh -c \
	"kubectl -n $NS logs $POD --timestamps --tail=3 | grep -cE '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{9}Z ' | grep -qx 3"
check_fails "--previous before any restart" k logs "$POD" --previous
grep -q 'previous terminated container "llmo" in pod "llmo-server-box-1" not found' "$LLMO_DATA/out" &&
	ok || bad "--previous: $(cat "$LLMO_DATA/out")"
check_fails "another container name" k logs "$POD" -c nope
grep -q "container nope is not valid for pod $POD" "$LLMO_DATA/out" && ok || bad "-c nope: $(cat "$LLMO_DATA/out")"

# deleted, it comes back (a new uid), and -f sees the lines that says so
uid1=$(field '{.metadata.uid}')
kubectl --request-timeout=60s -n "$NS" logs -f "$POD" --tail=1 >"$LLMO_DATA/follow" 2>&1 &
FOLLOW=$!
# following once the last line came (--tail=1), so the lines after are seen
check "logs -f started" wait_for 20 test -s "$LLMO_DATA/follow"
check "kubectl delete pod" k delete pod "$POD" --wait=false
check "the pod is made again" wait_for 20 sh -c \
	"u=\$(kubectl -n $NS get pod $POD -o jsonpath='{.metadata.uid}') && [ -n \"\$u\" ] && [ \"\$u\" != '$uid1' ]"
check "Running again" wait_for 20 sh -c \
	"[ \"\$(kubectl -n $NS get pod $POD -o jsonpath='{.status.phase}')\" = Running ]"
check "logs -f followed the server's new lines" wait_for 20 \
	grep -q "replaced the server's pod pod=$NS/$POD" "$LLMO_DATA/follow"
kill "$FOLLOW" 2>/dev/null; wait "$FOLLOW" 2>/dev/null

# a restart: the same pod, one restart more, and the last run's log as --previous
uid2=$(field '{.metadata.uid}')
server_stop
start
check "after a restart: the same pod" wait_for 20 sh -c \
	"[ \"\$(kubectl -n $NS get pod $POD -o jsonpath='{.metadata.uid} {.status.containerStatuses[0].restartCount}')\" = '$uid2 1' ]"
check "RESTARTS 1 in kubectl get pods" bash -c \
	"kubectl get pods -n $NS --no-headers | tr -s ' ' | grep -q '^$POD 1/1 Running 1 '"
k logs deployment/llm-orchestrator --previous >"$LLMO_DATA/prev" 2>&1
check "--previous: the last run ended with its stop" grep -q "info server stopping signal=15" "$LLMO_DATA/prev"
check "... and holds the deletion seen before" grep -q "replaced the server's pod" "$LLMO_DATA/prev"
k logs deployment/llm-orchestrator >"$LLMO_DATA/cur" 2>&1
check "the current log is this run's alone" bash -c \
	"grep -q 'info apiserver listening' '$LLMO_DATA/cur' && ! grep -q 'server stopping' '$LLMO_DATA/cur'"

# another command line: a pod's spec cannot change, so the pod is replaced (restarts start over)
server_stop
start --log-level info
check "another command line: a new pod" wait_for 20 sh -c \
	"u=\$(kubectl -n $NS get pod $POD -o jsonpath='{.metadata.uid}') && [ -n \"\$u\" ] && [ \"\$u\" != '$uid2' ]"
check "... with that command and no restarts" sh -c \
	"[ \"\$(kubectl -n $NS get pod $POD -o jsonpath='{.spec.containers[0].command[-1]} {.status.containerStatuses[0].restartCount}')\" = 'info 0' ]"

# a user's Deployment of that name is left alone
server_stop
start --disable agent,gateway,registry
k delete deploy llm-orchestrator >/dev/null
k create deployment llm-orchestrator --image=example/mine >/dev/null
server_stop
start
check "the agent is back" wait_for 20 grep -q "agent node registered" "$LLMO_LOG"
check "a user's Deployment is left as it is" wait_for 20 \
	grep -q "a deployment of that name is not llmo server's: left as it is" "$LLMO_LOG"
check "... its image unchanged" sh -c \
	"[ \"\$(kubectl -n $NS get deploy llm-orchestrator -o jsonpath='{.spec.template.spec.containers[0].image}')\" = example/mine ]"
finish
