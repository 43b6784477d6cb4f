#!/bin/bash
# spec.security.encryption end to end on `llmo server`: the controller issues the workload a
# certificate from the server's CA (Secret NAME-tls, for NAME.NAMESPACE.svc), its replica
# (llmo inference-sim) serves HTTPS only, and the embedded gateway reaches it over TLS,
# checking the certificate. A `llmo gateway` told another name, or not given the CA, cannot
# reach the replica. Real kubectl; openssl checks the certificate.
. "$(dirname "$0")/lib.sh"
GW_PID=""
trap '[ -n "$GW_PID" ] && kill $GW_PID 2>/dev/null; finish' EXIT
NS=llm-workloads
k() { kubectl --request-timeout=20s "$@"; }
server_start --fake-gpus 1
CA="$LLMO_DATA/pki/ca.crt"
NAME=chat.$NS.svc

check "apply the namespaces" k apply -f k8s/llm-orchestrator/namespace.yaml
check "apply the model" bash -c "$(declare -f sim_model); NS=$NS; sim_model llama2-v1 v1 | kubectl apply -f -"
sim_workload chat v1 "  resources: {cpu: 100m, memory: 128Mi}
  scaling: {minReplicas: 1, maxReplicas: 1}
  security: {encryption: true}" >"$LLMO_DATA/chat.yaml"
check "apply an encrypted workload" k apply -f "$LLMO_DATA/chat.yaml"
check "it becomes Ready" k wait --for=condition=Ready llmworkload/chat -n $NS --timeout=90s
check "Encrypted is True (CertificateIssued)" bash -c \
	"kubectl get llmw chat -n $NS -o jsonpath='{.status.conditions[?(@.type==\"Encrypted\")].status}/{.status.conditions[?(@.type==\"Encrypted\")].reason}' | grep -qx True/CertificateIssued"
check "a CertificateIssued Event is recorded" bash -c \
	"kubectl get events -n $NS --field-selector reason=CertificateIssued -o name | grep -q ."

k get secret chat-tls -n $NS -o jsonpath='{.data.tls\.crt}' | base64 -d >"$LLMO_DATA/tls.crt"
check "the Secret is of type kubernetes.io/tls" bash -c \
	"[ \"\$(kubectl get secret chat-tls -n $NS -o jsonpath='{.type}')\" = kubernetes.io/tls ]"
check "its certificate verifies against the server's CA" openssl verify -CAfile "$CA" "$LLMO_DATA/tls.crt"
check "and names $NAME" bash -c "openssl x509 -in '$LLMO_DATA/tls.crt' -noout -ext subjectAltName | grep -q 'DNS:$NAME'"
check "the replica carries the name the gateway checks" bash -c \
	"kubectl get pods -n $NS -l llm.orchestrator.io/workload=chat -o jsonpath='{.items[0].metadata.annotations.llm\.orchestrator\.io/tls-server-name}' | grep -qx $NAME"
check "its probes use HTTPS" bash -c \
	"kubectl get pods -n $NS -l llm.orchestrator.io/workload=chat -o jsonpath='{.items[0].spec.containers[0].readinessProbe.httpGet.scheme}' | grep -qx HTTPS"

EP=$(k get llmw chat -n $NS -o jsonpath='{.status.endpoints[0]}')
PORT=${EP##*:}
check "the replica answers HTTPS as $NAME" curl -sf --max-time 5 --cacert "$CA" \
	--resolve "$NAME:$PORT:127.0.0.1" "https://$NAME:$PORT/health"
check_fails "and nothing in plain HTTP" curl -sf --max-time 5 "http://$EP/health"
check "the embedded gateway reaches it over TLS" wait_for 20 bash -c \
	"curl -sf --max-time 5 '$(gateway_url)/v1/completions' -d '{\"model\":\"chat\",\"prompt\":\"x\",\"max_tokens\":2}' | grep -q choices"

# llmo gateway alone, with a static backends file naming the replica
gw_try() { # NAME [--upstream-ca FILE]: the status of a completion through a gateway told NAME
	local name=$1 out="$LLMO_DATA/gw-$RANDOM.out"; shift
	cat >"$LLMO_DATA/backends.yaml" <<YAML
models:
  - {name: chat, served: "llama2:v1", endpoints: [{address: "$EP", tlsServerName: "$name"}]}
YAML
	"$LLMO" gateway --listen 127.0.0.1:0 --backends "$LLMO_DATA/backends.yaml" "$@" >"$out" 2>>"$LLMO_DATA/gw.log" &
	GW_PID=$!
	local url
	url=$(line_value "$out" "llmo gateway listening on") || { echo "no gateway"; return 1; }
	curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$url/v1/completions" -d '{"model":"chat","prompt":"x","max_tokens":2}'
	kill $GW_PID; wait $GW_PID 2>/dev/null; GW_PID=""
}
check "a gateway told the right name and given the CA gets 200" bash -c "[ \"\$($(declare -f gw_try line_value); LLMO=$LLMO LLMO_DATA=$LLMO_DATA EP=$EP; gw_try $NAME --upstream-ca $CA)\" = 200 ]"
check "told another name: 502 (the certificate does not name it)" bash -c "[ \"\$($(declare -f gw_try line_value); LLMO=$LLMO LLMO_DATA=$LLMO_DATA EP=$EP; gw_try other.$NS.svc --upstream-ca $CA)\" = 502 ]"
check "without the CA: no TLS, 502" bash -c "[ \"\$($(declare -f gw_try line_value); LLMO=$LLMO LLMO_DATA=$LLMO_DATA EP=$EP; gw_try $NAME)\" = 502 ]"
check "and the gateway said why" grep -q "a backend wants TLS and the gateway has no upstream CA" "$LLMO_DATA/gw.log"
