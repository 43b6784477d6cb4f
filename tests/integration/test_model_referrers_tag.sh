#!/usr/bin/env bash
# `llmo model` signatures on a registry without the referrers API: Debian's
# docker-registry (distribution 2.8) on loopback. `sign` lists each signature
# in the referrers tag sha256-HEX (OCI 1.1's tag schema: an image index of the
# subject's referrers), `verify` and `pull --require-signature` find them
# there, `delete` removes the signatures, the tag's index and the model. On
# `llmo registry` (which has the API) no such tag is written.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
unset KUBECONFIG # no API: llmo model would write LLMModels through it
docker_registry_start
trap 'kill "$DR_PID" "${REG_PID:-}" 2>/dev/null; rm -rf "$LLMO_DATA"' EXIT
URL=$DR_URL

M=(env LLMO_REGISTRY="$URL" "$LLMO" model)
mkmodel "$LLMO_DATA/model" 100000
check "model push to docker-registry" "${M[@]}" push "$LLMO_DATA/model" --name models/tiny --version 1
DIGEST=$("${M[@]}" inspect models/tiny:1 | $PY -c 'import json, sys; print(json.load(sys.stdin)["digest"])')
TAG=sha256-${DIGEST#sha256:}
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/v2/models/tiny/referrers/$DIGEST")
[ "$code" = 404 ] && ok || bad "docker-registry has a referrers API after all: $code"

"${M[@]}" keygen --key "$LLMO_DATA/release" >/dev/null
"${M[@]}" keygen --key "$LLMO_DATA/other" >/dev/null
check_fails "verify before any signature" "${M[@]}" verify models/tiny:1 --pub "$LLMO_DATA/release.pub"
"${M[@]}" sign models/tiny:1 --key "$LLMO_DATA/release.key" >"$LLMO_DATA/sign.out" 2>&1 ||
	bad "sign: $(cat "$LLMO_DATA/sign.out")"
grep -q "listed it in the referrers tag models/tiny:$TAG (the registry has no referrers API)" \
	"$LLMO_DATA/sign.out" && ok || bad "sign output: $(cat "$LLMO_DATA/sign.out")"
SIG1=$(sed -n 's/.*(signature \(sha256:[0-9a-f]*\)).*/\1/p' "$LLMO_DATA/sign.out")

# the tag holds an image index of one signature manifest, whose subject is the model
index_of() {
	curl -sf -H 'Accept: application/vnd.oci.image.index.v1+json' "$URL/v2/models/tiny/manifests/$TAG"
}
check "the referrers tag: an index of the signature" bash -c "$(declare -f index_of); URL=$URL TAG=$TAG
	index_of | $PY -c '
import json, sys
o = json.load(sys.stdin)
assert o[\"mediaType\"] == \"application/vnd.oci.image.index.v1+json\", o
m = o[\"manifests\"]
assert len(m) == 1 and m[0][\"digest\"] == \"$SIG1\", m
assert m[0][\"artifactType\"] == \"application/vnd.llmo.signature.v1\", m
assert m[0][\"mediaType\"] == \"application/vnd.oci.image.manifest.v1+json\", m'"
check "the signature manifest's subject is the model" bash -c "curl -sf \
	-H 'Accept: application/vnd.oci.image.manifest.v1+json' '$URL/v2/models/tiny/manifests/$SIG1' |
	$PY -c 'import json, sys; assert json.load(sys.stdin)[\"subject\"][\"digest\"] == \"$DIGEST\"'"

check "verify through the referrers tag" "${M[@]}" verify models/tiny:1 --pub "$LLMO_DATA/release.pub"
check_fails "verify with another key" "${M[@]}" verify models/tiny:1 --pub "$LLMO_DATA/other.pub"
check "pull --require-signature through the referrers tag" "${M[@]}" pull models/tiny:1 \
	--output "$LLMO_DATA/pulled" --require-signature --trusted-keys "$LLMO_DATA/release.pub"
check "pull: the same files" diff -r "$LLMO_DATA/model" "$LLMO_DATA/pulled"
check_fails "pull --require-signature by another key" "${M[@]}" pull models/tiny:1 \
	--output "$LLMO_DATA/pulled2" --require-signature --trusted-keys "$LLMO_DATA/other.pub"
[ ! -e "$LLMO_DATA/pulled2/weights.bin" ] && ok || bad "a refused pull wrote the weights"

# a second signature is added to the same index, the first kept
check "sign with a second key" "${M[@]}" sign models/tiny:1 --key "$LLMO_DATA/other.key"
check "the index lists both signatures" bash -c "$(declare -f index_of); URL=$URL TAG=$TAG
	index_of | $PY -c '
import json, sys
m = json.load(sys.stdin)[\"manifests\"]
assert len(m) == 2 and m[0][\"digest\"] == \"$SIG1\" and m[1][\"digest\"] != \"$SIG1\", m'"
check "verify with the second key" "${M[@]}" verify models/tiny:1 --pub "$LLMO_DATA/other.pub"

# delete: both signatures, then the tag's index, then the model
"${M[@]}" delete models/tiny:1 >"$LLMO_DATA/delete.out" 2>&1 || bad "delete: $(cat "$LLMO_DATA/delete.out")"
[ "$(grep -c '^deleted referrer models/tiny@sha256:' "$LLMO_DATA/delete.out")" = 2 ] && ok ||
	bad "delete output: $(cat "$LLMO_DATA/delete.out")"
grep -qx "deleted referrers tag models/tiny:$TAG" "$LLMO_DATA/delete.out" && ok ||
	bad "delete output: $(cat "$LLMO_DATA/delete.out")"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/v2/models/tiny/manifests/$SIG1")
[ "$code" = 404 ] && ok || bad "the first signature after delete: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.oci.image.index.v1+json' \
	"$URL/v2/models/tiny/manifests/$TAG")
[ "$code" = 404 ] && ok || bad "the referrers tag after delete: $code"
check_fails "the deleted model" "${M[@]}" inspect models/tiny:1

# llmo registry has the referrers API: sign writes no referrers tag there
kill "$DR_PID" && wait "$DR_PID" 2>/dev/null # a Go server ends by the signal: no status to check
registry_start "$LLMO_DATA/store"
RURL=$URL
M=(env LLMO_REGISTRY="$RURL" "$LLMO" model)
check "model push to llmo registry" "${M[@]}" push "$LLMO_DATA/model" --name models/tiny --version 1
"${M[@]}" sign models/tiny:1 --key "$LLMO_DATA/release.key" >"$LLMO_DATA/sign2.out" 2>&1 ||
	bad "sign on llmo registry: $(cat "$LLMO_DATA/sign2.out")"
grep -q "referrers tag" "$LLMO_DATA/sign2.out" && bad "sign on llmo registry: $(cat "$LLMO_DATA/sign2.out")" || ok
code=$(curl -s -o /dev/null -w '%{http_code}' "$RURL/v2/models/tiny/manifests/$TAG")
[ "$code" = 404 ] && ok || bad "llmo registry got a referrers tag: $code"
check "verify on llmo registry" "${M[@]}" verify models/tiny:1 --pub "$LLMO_DATA/release.pub"
registry_stop
trap - EXIT
finish
