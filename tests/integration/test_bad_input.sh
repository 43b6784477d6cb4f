#!/usr/bin/env bash
# Malformed and hostile requests: each gets the right Status (code and reason),
# nothing is written, and the server stays up.
. "$(dirname "$0")/lib.sh"
server_start --disable controller,scheduler,agent,gateway,registry # the API alone: its watch count is the test's
TOKEN=$(cat "$LLMO_DATA/token")
W="$LLMO_URL/apis/llm.orchestrator.io/v1/namespaces/llm-workloads/llmworkloads"
expect() { # expect CODE REASON description curl-args...
	local code=$1 reason=$2 what=$3; shift 3
	local out
	out=$(curl -sk -w '\n%{http_code}' -H "Authorization: Bearer $TOKEN" "$@")
	local got=${out##*$'\n'} body=${out%$'\n'*}
	if [ "$got" = "$code" ] && { [ -z "$reason" ] || grep -q "\"reason\":\"$reason\"" <<<"$body"; }; then
		ok
	else
		bad "$what: got $got $body, want $code $reason"
	fi
}
J='Content-Type: application/json'
expect 400 BadRequest "malformed JSON" -X POST -H "$J" --data '{"metadata": {' "$W"
# the message names the place, as docs/embedded-server.md shows
out=$(curl -sk -H "Authorization: Bearer $TOKEN" -X POST -H "$J" --data '{"metadata":1]' "$W")
check "malformed JSON names line and column" grep -qF "body:1:14: expected ',' or '}' in an object, got ']'" <<<"$out"
expect 400 BadRequest "duplicate keys" -X POST -H "$J" --data '{"metadata":{"name":"d"},"metadata":{"name":"e"}}' "$W"
printf '{"metadata":{"name":"n"},"spec":{"modelName":"m"}}\0' >"$LLMO_DATA/nul.json"
expect 400 BadRequest "a NUL byte after the object" -X POST -H "$J" --data-binary "@$LLMO_DATA/nul.json" "$W"
expect 400 BadRequest "JSON that is not an object" -X POST -H "$J" --data '[1,2]' "$W"
expect 400 BadRequest "kind mismatch" -X POST -H "$J" --data '{"kind":"LLMModel","metadata":{"name":"x"}}' "$W"
expect 400 BadRequest "namespace mismatch" -X POST -H "$J" --data '{"metadata":{"name":"x","namespace":"default"},"spec":{"modelName":"m"}}' "$W"
expect 422 Invalid "wrong type" -X POST -H "$J" --data '{"metadata":{"name":"x"},"spec":{"modelName":5}}' "$W"
expect 422 Invalid "unknown field" -X POST -H "$J" --data '{"metadata":{"name":"x"},"spec":{"modelName":"m","bogus":1}}' "$W?fieldValidation=Strict"
expect 422 Invalid "missing required field" -X POST -H "$J" --data '{"metadata":{"name":"x"},"spec":{}}' "$W"
expect 422 Invalid "bad name" -X POST -H "$J" --data '{"metadata":{"name":"Not_A_Name"},"spec":{"modelName":"m"}}' "$W"
expect 404 NotFound "missing namespace" -X POST -H "$J" --data '{"metadata":{"name":"x"},"spec":{"modelName":"m"}}' "$LLMO_URL/apis/llm.orchestrator.io/v1/namespaces/nope/llmworkloads"
expect 404 NotFound "missing object" "$W/nope"
expect 404 NotFound "unknown resource" "$LLMO_URL/apis/llm.orchestrator.io/v1/namespaces/default/nothings"
expect 404 NotFound "unknown path" "$LLMO_URL/nothing/here"
expect 400 BadRequest "bad label selector" "$W?labelSelector=a%20in%20(b"
expect 400 BadRequest "unsupported field selector" "$W?fieldSelector=spec.modelName%3Dx"
expect 201 "" "create a configmap to patch" -X POST -H "$J" --data '{"metadata":{"name":"p"}}' "$LLMO_URL/api/v1/namespaces/default/configmaps"
# Kubernetes protobuf: "k8s\0" + runtime.Unknown { typeMeta { apiVersion; kind }; raw }
PB='Content-Type: application/vnd.kubernetes.protobuf'
CM="$LLMO_URL/api/v1/namespaces/default/configmaps"
printf 'k8s\0\x0a\x0f\x0a\x08batch/v1\x12\x03Job' >"$LLMO_DATA/job.pb"
printf 'k8s\0\x0a\x0f\x0a\x02v1\x12\x09ConfigMap\x12\x05\x0a\x03\x0a\x01' >"$LLMO_DATA/cut.pb"
printf 'k8s\0\x0a\x0f\x0a\x02v1\x12\x09ConfigMap\x12\x02\x48\x01' >"$LLMO_DATA/field9.pb"
printf 'k8s\0\x0a\x0f\x0a\x02v1\x12\x09ConfigMap\x12\x0e\x0a\x04\x0a\x02pb\x12\x06\x0a\x01a\x12\x01b' >"$LLMO_DATA/cm.pb"
expect 415 UnsupportedMediaType "protobuf of a type not decoded" -X POST -H "$PB" --data-binary @"$LLMO_DATA/job.pb" "$CM"
expect 400 BadRequest "truncated protobuf" -X POST -H "$PB" --data-binary @"$LLMO_DATA/cut.pb" "$CM"
expect 400 BadRequest "protobuf without the magic" -X POST -H "$PB" --data '{}' "$CM"
expect 415 UnsupportedMediaType "protobuf with a field not decoded" -X POST -H "$PB" --data-binary @"$LLMO_DATA/field9.pb" "$CM"
expect 415 UnsupportedMediaType "CBOR" -X POST -H 'Content-Type: application/cbor' --data 'x' "$CM"
expect 201 "" "protobuf ConfigMap" -X POST -H "$PB" --data-binary @"$LLMO_DATA/cm.pb" "$CM"
check "the protobuf ConfigMap holds its data" bash -c "curl -sk -H 'Authorization: Bearer $TOKEN' $CM/pb | grep -q '\"data\":{\"a\":\"b\"}'"
expect 415 UnsupportedMediaType "patch of an unknown type" -X PATCH -H 'Content-Type: text/plain' --data 'x' "$LLMO_URL/api/v1/namespaces/default/configmaps/p"
expect 422 Invalid "JSON patch whose test fails" -X PATCH -H 'Content-Type: application/json-patch+json' --data '[{"op":"test","path":"/data","value":{"a":"b"}}]' "$LLMO_URL/api/v1/namespaces/default/configmaps/p"
expect 409 Conflict "update with a stale resourceVersion" -X PUT -H "$J" --data '{"metadata":{"name":"p","resourceVersion":"1"}}' "$LLMO_URL/api/v1/namespaces/default/configmaps/p"
# a body over 3 MiB
head -c $((3 * 1024 * 1024 + 100)) /dev/zero | tr '\0' 'a' >"$LLMO_DATA/big"
expect 413 "" "body over 3 MiB" -X POST -H "$J" --data-binary @"$LLMO_DATA/big" "$W"
out=$(curl -sk -w '\n%{http_code}' "$W")
[ "${out##*$'\n'}" = 401 ] && grep -q '"reason":"Unauthorized"' <<<"$out" && ok || bad "no token: $out"
# A watch on a custom resource while CRDs change: the stream ends cleanly
# (clients re-watch) and the server keeps serving.
curl -sk -N --max-time 10 -H "Authorization: Bearer $TOKEN" "$W?watch=true" >"$LLMO_DATA/w.out" 2>&1 &
wpid=$!
for _ in $(seq 1 100); do [ -s "$LLMO_DATA/w.out" ] || curl -sk -H "Authorization: Bearer $TOKEN" "$LLMO_URL/metrics" | grep -q '^llmo_apiserver_watches 1$' && break; sleep 0.05; done
crd=$(sed -n '/^apiVersion/,$p' tests/data/crd/widgets.yaml | "$(command -v /usr/bin/python3 || command -v python3)" -c 'import sys,yaml,json; print(json.dumps(yaml.safe_load(sys.stdin)))')
expect 201 "" "create a CRD while a watch is open" -X POST -H "$J" --data "$crd" "$LLMO_URL/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
wait "$wpid"; rc=$?
[ "$rc" -eq 0 ] && ok || bad "the watch did not end cleanly (curl exit $rc)"
expect 200 "" "server still serves after the CRD change" "$W"

# Nothing was written by any of these.
expect 200 "" "list still works" "$W"
n=$(curl -sk -H "Authorization: Bearer $TOKEN" "$W" | grep -o '"name":"x"' | wc -l)
[ "$n" -eq 0 ] && ok || bad "a refused object was stored"
kill -0 "$LLMO_PID" && ok || bad "server died"
finish
