#!/usr/bin/env bash
# Real kubectl against `llmo server`: a scripted session over the spec's
# manifests and examples, covering the verbs kubectl users type.
. "$(dirname "$0")/lib.sh"
KUBECTL=${KUBECTL:-kubectl}
command -v "$KUBECTL" >/dev/null || { echo "kubectl not found (scripts/setup.sh --tests installs it)"; exit 1; }
# the API alone: the test writes workload status itself, as a controller would
server_start --disable controller,scheduler,agent
k() { "$KUBECTL" --request-timeout=20s "$@"; }
W="-n llm-workloads"

# Discovery and the embedded CRDs.
check "version" k version
check "api-resources lists llmworkloads" bash -c "$KUBECTL api-resources | grep -E '^llmworkloads +llmw +llm.orchestrator.io/v1 +true +LLMWorkload'"
check "crds are installed at start" bash -c "$KUBECTL get crd llmworkloads.llm.orchestrator.io -o name | grep -x customresourcedefinition.apiextensions.k8s.io/llmworkloads.llm.orchestrator.io"
check "the spec's namespaces exist" k get namespace llm-workloads llm-orchestrator default kube-system

# kubectl apply of the spec's Quick Start manifests and examples.
check "apply namespace.yaml" k apply -f k8s/llm-orchestrator/namespace.yaml
check "apply crd.yaml" k apply -f k8s/llm-orchestrator/crd.yaml
check "apply rbac.yaml" k apply -f k8s/llm-orchestrator/rbac.yaml
check "apply deployment.yaml" k apply -f k8s/llm-orchestrator/deployment.yaml
check "apply examples/" k apply -f examples/
check "apply again is unchanged" bash -c "$KUBECTL apply -f examples/my-llm-workload.yaml | grep -x 'llmworkload.llm.orchestrator.io/my-llm-workload unchanged'"

# get: table with the CRD's printer columns, json, yaml.
check "get prints printer columns" bash -c "$KUBECTL get llmw $W | head -1 | grep -E '^NAME +MODEL +VERSION +PHASE +READY +AGE'"
check "get shows the workload row" bash -c "$KUBECTL get llmw $W my-llm-workload --no-headers | grep -E '^my-llm-workload +llama2 +7b '"
check "get -o json" bash -c "$KUBECTL get llmw $W my-llm-workload -o json | python3 -c 'import json,sys; o=json.load(sys.stdin); assert o[\"spec\"][\"resources\"][\"memory\"]==\"8Gi\", o; assert o[\"spec\"][\"qosClass\"]==\"standard\"; assert o[\"metadata\"][\"generation\"]==1; assert o[\"metadata\"][\"uid\"]'"
check "get -o yaml" bash -c "$KUBECTL get llmm $W -o yaml | grep -q 'framework: vllm'"
check "get across namespaces" bash -c "$KUBECTL get llm -A --no-headers | grep -c . | grep -qx '[5-9]'"
check "describe" bash -c "$KUBECTL describe llmw $W my-llm-workload | grep -E '^Name: +my-llm-workload'"

# label, annotate, patch, scale, edit.
check "label" k label llmw $W my-llm-workload team=ml
check "get -l" bash -c "$KUBECTL get llmw $W -l team=ml -o name | grep -x llmworkload.llm.orchestrator.io/my-llm-workload"
check "get -l excludes" bash -c "[ -z \"\$($KUBECTL get llmw $W -l team=other -o name)\" ]"
check "annotate" k annotate llmw $W my-llm-workload note=hello
check "patch merge" k patch llmw $W my-llm-workload --type merge -p '{"spec":{"scaling":{"maxReplicas":7}}}'
check "patch bumped generation" bash -c "[ \$($KUBECTL get llmw $W my-llm-workload -o jsonpath='{.metadata.generation}') = 2 ]"
check "patch json" k patch llmw $W my-llm-workload --type json -p '[{"op":"replace","path":"/spec/scaling/minReplicas","value":2}]'
check "scale (scale subresource)" k scale llmw $W my-llm-workload --replicas=3
check "scale set spec.scaling.replicas" bash -c "[ \$($KUBECTL get llmw $W my-llm-workload -o jsonpath='{.spec.scaling.replicas}') = 3 ]"
check "edit with KUBE_EDITOR" env KUBE_EDITOR="sed -i 's/maxReplicas: 7/maxReplicas: 6/'" "$KUBECTL" edit llmw $W my-llm-workload
check "edit took effect" bash -c "[ \$($KUBECTL get llmw $W my-llm-workload -o jsonpath='{.spec.scaling.maxReplicas}') = 6 ]"
check_fails "an invalid patch is refused" k patch llmw $W my-llm-workload --type merge -p '{"spec":{"scaling":{"maxReplicas":1}}}'
check "the refusal names the field" bash -c "$KUBECTL patch llmw $W my-llm-workload --type merge -p '{\"spec\":{\"scaling\":{\"maxReplicas\":1}}}' 2>&1 | grep 'spec.scaling.maxReplicas: must be >= minReplicas (2)'"
check_fails "unknown fields are refused" bash -c "$KUBECTL apply -f - <<'YAML'
apiVersion: llm.orchestrator.io/v1
kind: LLMWorkload
metadata: {name: typo, namespace: llm-workloads}
spec: {modelName: llama2, replicas: 3}
YAML"

# status subresource and kubectl wait.
STATUS='{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True","reason":"AllReplicasReady","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}'
if "$KUBECTL" patch --help | grep -q -- '--subresource'; then
	check "status patch" k patch llmw $W my-llm-workload --subresource=status --type merge -p "$STATUS"
else # kubectl before 1.24 cannot address subresources: talk to the API directly
	TOKEN=$(cat "$LLMO_DATA/token")
	check "status patch" curl -sfk -X PATCH -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/merge-patch+json' --data "$STATUS" "$LLMO_URL/apis/llm.orchestrator.io/v1/namespaces/llm-workloads/llmworkloads/my-llm-workload/status"
fi
check "wait for Ready" k wait --for=condition=Ready llmworkload/my-llm-workload $W --timeout=10s
check "status update kept spec" bash -c "[ \$($KUBECTL get llmw $W my-llm-workload -o jsonpath='{.spec.scaling.replicas}') = 3 ]"

# delete with a finalizer.
check "add finalizer" k patch llmw $W llama2-canary --type merge -p '{"metadata":{"finalizers":["llm.orchestrator.io/test"]}}'
check "delete --wait=false" k delete llmw $W llama2-canary --wait=false
check "deletionTimestamp set" bash -c "[ -n \"\$($KUBECTL get llmw $W llama2-canary -o jsonpath='{.metadata.deletionTimestamp}')\" ]"
check "remove finalizer" k patch llmw $W llama2-canary --type merge -p '{"metadata":{"finalizers":null}}'
check_fails "object gone after the last finalizer" k get llmw $W llama2-canary

# server-side apply and explain.
check "apply --server-side" bash -c "$KUBECTL apply --server-side -f - <<'YAML'
apiVersion: llm.orchestrator.io/v1
kind: LLMWorkload
metadata: {name: ssa, namespace: llm-workloads}
spec: {modelName: llama2, modelVersion: 7b}
YAML"
check "managedFields record the applier" bash -c "$KUBECTL get llmw $W ssa -o jsonpath='{.metadata.managedFields[*].manager}' | grep -w kubectl"
check "another manager changes a field" k patch llmw $W ssa --type merge -p '{"spec":{"modelVersion":"13b"}}'
check "re-apply conflicts and names that manager" bash -c "! $KUBECTL apply --server-side -f - 2>$LLMO_DATA/ssa.err <<'YAML'
apiVersion: llm.orchestrator.io/v1
kind: LLMWorkload
metadata: {name: ssa, namespace: llm-workloads}
spec: {modelName: llama2, modelVersion: 7b}
YAML
grep -q 'conflict with \"kubectl-patch\"' $LLMO_DATA/ssa.err"
check "--force-conflicts takes the field" bash -c "$KUBECTL apply --server-side --force-conflicts -f - <<'YAML'
apiVersion: llm.orchestrator.io/v1
kind: LLMWorkload
metadata: {name: ssa, namespace: llm-workloads}
spec: {modelName: llama2, modelVersion: 7b}
YAML
[ \$($KUBECTL get llmw $W ssa -o jsonpath='{.spec.modelVersion}') = 7b ]"
check "explain llmworkload.spec" bash -c "$KUBECTL explain llmworkload.spec | grep -E '^ *modelName\\b'"

# watch sees a change.
( "$KUBECTL" get llmw $W --watch --output-watch-events --request-timeout=10s >"$LLMO_DATA/watch" 2>&1 & echo $! >"$LLMO_DATA/watch.pid" )
for _ in $(seq 1 100); do grep -q 'ADDED' "$LLMO_DATA/watch" 2>/dev/null && break; sleep 0.05; done
k label llmw $W ssa seen=yes >/dev/null
for _ in $(seq 1 100); do grep -q '^MODIFIED *ssa ' "$LLMO_DATA/watch" && break; sleep 0.05; done
kill "$(cat "$LLMO_DATA/watch.pid")" 2>/dev/null
check "watch delivered ADDED and MODIFIED" bash -c "grep -q '^ADDED *my-llm-workload ' '$LLMO_DATA/watch' && grep -q '^MODIFIED *ssa ' '$LLMO_DATA/watch'"

# The `kubectl create TYPE` generators (kubectl 1.32 and newer send these bodies as
# protobuf): each object is created, and what the server stored holds every field of
# the object kubectl meant to send (its --dry-run=client output).
created() { # created RESOURCE NAME create-args...
	local res=$1 name=$2; shift 2
	k create "$@" --dry-run=client -o json >"$LLMO_DATA/want.json" &&
		k create "$@" >/dev/null &&
		k get "$res" "$name" -n scratch -o json >"$LLMO_DATA/got.json" &&
		python3 "$(dirname "$0")/json_contains.py" "$LLMO_DATA/want.json" "$LLMO_DATA/got.json"
}
check "create namespace" created namespace scratch namespace scratch
check "create configmap" created configmap cm1 -n scratch configmap cm1 --from-literal=a=b --from-literal=c=déjà
check "create secret generic" created secret s1 -n scratch secret generic s1 --from-literal=user=admin --type=Opaque
check "create secret docker-registry" created secret reg -n scratch secret docker-registry reg --docker-server=r.example --docker-username=u --docker-password=p
check "create serviceaccount" created serviceaccount sa1 -n scratch serviceaccount sa1
check "create service clusterip" created service svc1 -n scratch service clusterip svc1 --tcp=80:8080 --tcp=443:https
check "create service nodeport" created service np1 -n scratch service nodeport np1 --tcp=80:8080 --node-port=30080
check "create deployment" created deployment web -n scratch deployment web --image=nginx --replicas=0 --port=80
check "create role" created role r1 -n scratch role r1 --verb=get --verb=list --resource=pods --resource-name=x
check "create rolebinding" created rolebinding rb1 -n scratch rolebinding rb1 --role=r1 --user=bob --serviceaccount=scratch:sa1
check "create clusterrole" created clusterrole scratch-cr clusterrole scratch-cr --verb=get --resource=pods --non-resource-url=/x
check "create clusterrolebinding" created clusterrolebinding scratch-crb clusterrolebinding scratch-crb --clusterrole=scratch-cr --group=g
check "create token" bash -c "$KUBECTL create token sa1 -n scratch --duration=20m | grep -q '^llmo-sa:scratch:sa1:'"
check "auth can-i" bash -c "[ \$($KUBECTL auth can-i get pods -n scratch) = yes ]"
check "delete the clusterrolebinding and clusterrole" k delete clusterrolebinding/scratch-crb clusterrole/scratch-cr

# namespaces: deleting one deletes what is in it.
check "configmap is there" k get configmap cm1 -n scratch
check "delete namespace" k delete namespace scratch --wait=false
check_fails "its contents are gone" k get configmap cm1 -n scratch

# A CRD applied later is served at once.
check "apply a new CRD" k apply -f tests/data/crd/widgets.yaml
check "discovery has it" bash -c "$KUBECTL api-resources | grep -E '^widgets +wd +example.com/v1alpha1 +true +Widget'"
check "create a widget (defaulted)" bash -c "printf 'apiVersion: example.com/v1alpha1\nkind: Widget\nmetadata: {name: w1, namespace: default}\nspec: {color: red}\n' | $KUBECTL apply -f - && [ \$($KUBECTL get wd w1 -o jsonpath='{.spec.size}') = 1 ]"
check_fails "its schema is enforced" bash -c "printf 'apiVersion: example.com/v1alpha1\nkind: Widget\nmetadata: {name: w2, namespace: default}\nspec: {color: pink}\n' | $KUBECTL apply -f -"
check "its printer columns" bash -c "$KUBECTL get wd --no-headers | grep -E '^w1 +red +1 '"
check "its scale subresource" bash -c "$KUBECTL scale wd w1 --replicas=4 && [ \$($KUBECTL get wd w1 -o jsonpath='{.spec.size}') = 4 ]"
check "delete the CRD" k delete crd widgets.example.com
check_fails "no longer served" k get wd
check "applied again, its old objects are gone" bash -c "$KUBECTL apply -f tests/data/crd/widgets.yaml >/dev/null &&
	for i in \$(seq 1 50); do $KUBECTL get wd >/dev/null 2>&1 && break; sleep 0.1; done &&
	[ -z \"\$($KUBECTL get wd -A -o name)\" ]"
check "delete it again" k delete crd widgets.example.com

# A CRD with two served versions (conversion strategy None): one object, both versions.
check "apply a CRD serving v1 and v1beta1" k apply -f tests/data/crd/gadgets-two-versions.yaml
check "discovery lists both served versions, not the unserved one" bash -c "
	for i in \$(seq 1 50); do $KUBECTL api-versions | grep -qx example.com/v1beta1 && break; sleep 0.1; done
	$KUBECTL api-versions | grep -qx example.com/v1 && $KUBECTL api-versions | grep -qx example.com/v1beta1 &&
	! $KUBECTL api-versions | grep -qx example.com/v1alpha1"
check "write through v1beta1 with a value only its schema allows" bash -c \
	"printf 'apiVersion: example.com/v1beta1\nkind: Gadget\nmetadata: {name: g1, namespace: default}\nspec: {mode: legacy}\n' | $KUBECTL apply -f -"
check_fails "v1's schema refuses that value" bash -c \
	"printf 'apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g2, namespace: default}\nspec: {mode: legacy}\n' | $KUBECTL apply -f -"
check "the object reads through v1 with v1's apiVersion" bash -c \
	"[ \"\$($KUBECTL get gadgets.v1.example.com g1 -o jsonpath='{.apiVersion} {.spec.mode}')\" = 'example.com/v1 legacy' ]"
check "and through v1beta1 with v1beta1's" bash -c \
	"[ \"\$($KUBECTL get gadgets.v1beta1.example.com g1 -o jsonpath='{.apiVersion}')\" = example.com/v1beta1 ]"
check "v1's printer column shows it" bash -c "$KUBECTL get gadgets.v1.example.com --no-headers | grep -E '^g1 +legacy'"
check "deleting the CRD removes every version" bash -c "$KUBECTL delete crd gadgets.example.com >/dev/null &&
	! $KUBECTL api-versions | grep -q '^example.com/v1'"

# pods/log: kubectl logs through a fake node agent (python3 http.server on loopback;
# it checks the server's bearer token and exits by itself after 60 s).
python3 - "$LLMO_DATA/token" >"$LLMO_DATA/agent.port" <<'PY' &
import http.server, sys, threading
token = open(sys.argv[1]).read().strip()
class Agent(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def reply(self, code, text, chunks=None):
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Connection", "close")
        if chunks is None:
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)
        else:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for c in chunks:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
    def do_GET(self):
        if self.headers.get("Authorization") != "Bearer " + token:
            return self.reply(401, b"Unauthorized\n")
        if not self.path.startswith("/containerLogs/default/logpod/main"):
            return self.reply(404, b"no such container\n")
        if "follow=true" in self.path:
            return self.reply(200, None, [b"hello from the fake agent\n", b"following\n"])
        self.reply(200, b"hello from the fake agent\n")
    def log_message(self, *args):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), Agent)
print(srv.server_port, flush=True)
threading.Timer(60, srv.shutdown).start()
srv.serve_forever()
PY
AGENT_PID=$!
for _ in $(seq 1 200); do [ -s "$LLMO_DATA/agent.port" ] && break; sleep 0.05; done
AGENT_PORT=$(cat "$LLMO_DATA/agent.port")
[ -n "$AGENT_PORT" ] || bad "the fake node agent did not start"
check "create a node with an agent endpoint" bash -c "printf 'apiVersion: v1\nkind: Node\nmetadata: {name: fake-node}\nstatus:\n  addresses: [{type: InternalIP, address: 127.0.0.1}]\n  daemonEndpoints: {kubeletEndpoint: {Port: $AGENT_PORT}}\n' | $KUBECTL apply -f -"
check "create a pod bound to it" bash -c "printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: logpod, namespace: default}\nspec:\n  nodeName: fake-node\n  containers: [{name: main, image: busybox}, {name: side, image: busybox}]\n' | $KUBECTL apply -f -"
check "kubectl logs" bash -c "$KUBECTL logs logpod -c main | grep -x 'hello from the fake agent'"
check "kubectl logs -f" bash -c "[ \"\$($KUBECTL logs -f logpod -c main --tail=10 | tr '\n' ' ')\" = 'hello from the fake agent following ' ]"
check "kubectl logs picks the default container" bash -c "$KUBECTL logs logpod 2>/dev/null | grep -x 'hello from the fake agent'"
check "kubectl logs of a container the pod lacks" bash -c "$KUBECTL logs logpod -c nope 2>&1 | grep 'container nope is not valid for pod logpod'"
check "kubectl logs when the agent refuses" bash -c "$KUBECTL logs logpod -c side 2>&1 | grep 'no such container'"
kill "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null

# Authentication.
check "no token: 401" bash -c "curl -sk -o /dev/null -w '%{http_code}' $LLMO_URL/api | grep -x 401"
check "wrong token: 401" bash -c "curl -sk -H 'Authorization: Bearer nope' -o /dev/null -w '%{http_code}' $LLMO_URL/api | grep -x 401"

finish
