#!/usr/bin/env bash
# autoCleanup after a manifest DELETE on a running `llmo registry` (local storage, no --config:
# the defaults): deleting a model's manifest by digest frees the bytes only it used at once (its
# links go, then a collection); a tag's DELETE leaves the manifest and every blob; a blob another
# manifest uses, or whose link a client touched after the deleted manifest was stored, stays;
# the remaining manifest still pulls whole; an image's manifest (not a model) leaves its young
# blobs to the links' grace, so that a client can DELETE them next (202, as the OCI conformance
# suite wants); with autoCleanup false nothing is collected; with gcInterval 1s the periodic
# collection removes an unreferenced blob once its link is older than the grace (an hour), not a
# young one.
. "$(dirname "$0")/lib.sh"
STORE="$LLMO_DATA/store"
C=(curl -s --max-time 30)
sha() { sha256sum "$1" | cut -d' ' -f1; }
blob_file() { echo "$STORE/blobs/sha256/${1:0:2}/$1"; }
link_file() { echo "$STORE/repositories/models/x/_layers/sha256/$1"; }
trap '[ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null' EXIT
code() { "${C[@]}" -o /dev/null -w '%{http_code}' "$@"; }
blob() { # blob NAME SIZE: a random blob pushed (POST ?digest=), its digest hex in $NAME
	head -c "$2" /dev/urandom >"$LLMO_DATA/$1"
	printf -v "$1" '%s' "$(sha "$LLMO_DATA/$1")"
	[ "$(code -X POST --data-binary @"$LLMO_DATA/$1" \
		"$URL/v2/models/x/blobs/uploads/?digest=sha256:$(sha "$LLMO_DATA/$1")")" = 201 ] &&
		ok || bad "push blob $1"
}
manifest() { # manifest VAR TAG LAYER_NAME [ARTIFACT_TYPE]: config + that layer, pushed under TAG
	# (a model's unless told); its hex in VAR
	local f="$LLMO_DATA/manifest-$2" lf="$LLMO_DATA/$3" at=${4-application/vnd.llmo.model.v1}
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",%s"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.llmo.model.file.v1","digest":"sha256:%s","size":%d}]}' \
		"${at:+\"artifactType\":\"$at\",}" \
		"$(sha "$LLMO_DATA/config")" "$(stat -c %s "$LLMO_DATA/config")" "$(sha "$lf")" \
		"$(stat -c %s "$lf")" >"$f"
	[ "$(code -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
		--data-binary @"$f" "$URL/v2/models/x/manifests/$2")" = 201 ] && ok || bad "push of $2"
	printf -v "$1" '%s' "$(sha "$f")"
}
# the manifest's revision as if stored a minute ago, its blobs' links as if uploaded before it
# (file times tick coarsely: a link touched right after the manifest's push could show the same time)
stored_earlier() { # stored_earlier MANIFEST_HEX BLOB_HEX...
	touch -d '1 minute ago' "$STORE/repositories/models/x/_manifests/revisions/sha256/$1"
	shift
	for b in "$@"; do touch -d '2 minutes ago' "$(link_file "$b")"; done
}

registry_start "$STORE"
printf '{"name":"x"}' >"$LLMO_DATA/config"
blob config 12
blob L1 $((1 << 20))
blob L2 $((1 << 20))
blob L3 4096
blob L4 4096
manifest M1 v1 L1; manifest M2 v2 L2; manifest M3 v3 L3; manifest M4 image L4 ''
stored_earlier "$M1" "$L1"; stored_earlier "$M3" "$L3"; stored_earlier "$M4" "$L4"

# ---- a tag's DELETE: the manifest stays, and so do its blobs ----
[ "$(code -X DELETE "$URL/v2/models/x/manifests/v1")" = 202 ] && ok || bad "DELETE of tag v1"
[ "$(code "$URL/v2/models/x/manifests/sha256:$M1")" = 200 ] && ok || bad "the untagged manifest is gone"
[ -f "$(blob_file "$L1")" ] && [ -f "$(link_file "$L1")" ] && ok || bad "a tag's DELETE removed L1"

# ---- DELETE by digest: L1 (only M1 used it) goes at once; the shared config stays ----
[ "$(code -X DELETE "$URL/v2/models/x/manifests/sha256:$M1")" = 202 ] && ok || bad "DELETE of M1"
[ ! -e "$(blob_file "$L1")" ] && [ ! -e "$(link_file "$L1")" ] && ok || bad "L1's blob or link is still there"
[ "$(code "$URL/v2/models/x/blobs/sha256:$L1")" = 404 ] && ok || bad "L1 is still served"
[ -f "$(blob_file "$config")" ] && [ -f "$(link_file "$config")" ] && ok || bad "the config M2 uses went"
grep -q 'garbage collected.*blobs_removed=2' "$LLMO_DATA/reg.log" && ok ||
	bad "no collection of L1 and M1 logged: $(grep 'garbage' "$LLMO_DATA/reg.log")"
metric() { "${C[@]}" "$URL/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
[ "$(metric 'llmo_registry_gc_runs_total{trigger="delete"}')" = 1 ] && ok ||
	bad "gc runs after one DELETE: $(metric 'llmo_registry_gc_runs_total{trigger="delete"}')"
want=$(( (1 << 20) + $(stat -c %s "$LLMO_DATA/manifest-v1") ))
[ "$(metric llmo_registry_gc_removed_bytes_total)" = "$want" ] && ok ||
	bad "bytes removed: $(metric llmo_registry_gc_removed_bytes_total), want L1 and M1's $want"
# the remaining manifest pulls whole
[ "$(code "$URL/v2/models/x/manifests/v2")" = 200 ] && ok || bad "v2's manifest"
"${C[@]}" -o "$LLMO_DATA/got" "$URL/v2/models/x/blobs/sha256:$L2"
[ "$(sha "$LLMO_DATA/got")" = "$L2" ] && ok || bad "L2 pulled after the collection differs"

# ---- a link touched (HEAD) after its manifest was stored: a push is about to use it ----
[ "$(code -I "$URL/v2/models/x/blobs/sha256:$L3")" = 200 ] && ok || bad "HEAD of L3"
[ "$(code -X DELETE "$URL/v2/models/x/manifests/sha256:$M3")" = 202 ] && ok || bad "DELETE of M3"
[ -f "$(blob_file "$L3")" ] && [ -f "$(link_file "$L3")" ] && ok || bad "L3, touched after M3 was stored, went"
[ "$(code "$URL/v2/models/x/manifests/sha256:$M3")" = 404 ] && ok || bad "M3 is still there"

# ---- an image's manifest: its blobs, linked less than an hour ago, wait for the grace ----
[ "$(code -X DELETE "$URL/v2/models/x/manifests/sha256:$M4")" = 202 ] && ok || bad "DELETE of M4"
[ -f "$(blob_file "$L4")" ] && [ -f "$(link_file "$L4")" ] && ok || bad "the image's young layer went"
[ ! -e "$(blob_file "$M4")" ] && ok || bad "the image's manifest itself was not collected"
[ "$(code -X DELETE "$URL/v2/models/x/blobs/sha256:$L4")" = 202 ] && ok || bad "DELETE of L4 after M4"

# ---- llmo model delete: the signatures (referrers) go first, then the model and its bytes ----
mkdir -p "$LLMO_DATA/model"
head -c 5000 /dev/urandom >"$LLMO_DATA/model/w.bin"
W=$(sha "$LLMO_DATA/model/w.bin")
export LLMO_REGISTRY="$URL"
check "model push models/s:1" "$LLMO" model push "$LLMO_DATA/model" --name models/s --version 1 --type llm
check "model keygen" bash -c "'$LLMO' model keygen --key '$LLMO_DATA/k' >/dev/null"
check "model sign" "$LLMO" model sign models/s:1 --key "$LLMO_DATA/k.key"
MS=$("${C[@]}" -D - -o /dev/null "$URL/v2/models/s/manifests/1" | tr -d '\r' |
	awk 'tolower($1) == "docker-content-digest:" {print $2}')
SIG=$("${C[@]}" "$URL/v2/models/s/referrers/$MS" | python3 -c '
import json, sys
print(" ".join(m["digest"] for m in json.load(sys.stdin)["manifests"]))')
check "one signature refers to it" test "$(wc -w <<<"$SIG")" = 1
check "model delete models/s:1" bash -c "'$LLMO' model delete models/s:1 >'$LLMO_DATA/del.out'"
check "it says the signature went, then the model" bash -c "
	[ \"\$(sed -n 1p '$LLMO_DATA/del.out')\" = 'deleted referrer models/s@$SIG (application/vnd.llmo.signature.v1)' ] &&
	[ \"\$(sed -n 2p '$LLMO_DATA/del.out')\" = 'deleted models/s@$MS' ]"
check "the signature's manifest is gone" test "$(code "$URL/v2/models/s/manifests/$SIG")" = 404
check "the model's manifest is gone" test "$(code "$URL/v2/models/s/manifests/$MS")" = 404
check "and its weights" test ! -e "$(blob_file "$W")"
unset LLMO_REGISTRY
registry_stop

# ---- the periodic collection (gcInterval) ----
printf 'modelRegistry:\n  gcInterval: 1s\n' >"$LLMO_DATA/config.yaml"
registry_start "$STORE" --config "$LLMO_DATA/config.yaml"
blob OLD 2000
blob YOUNG 3000
touch -d '2 hours ago' "$(link_file "$OLD")"
gone() { [ ! -e "$(blob_file "$OLD")" ] && [ ! -e "$(link_file "$OLD")" ]; }
check "a blob linked 2 hours ago, that no manifest uses, goes by itself" wait_for 30 gone
[ -f "$(blob_file "$YOUNG")" ] && [ -f "$(link_file "$YOUNG")" ] && ok ||
	bad "a blob linked just now went with it"
[ "$(code "$URL/v2/models/x/manifests/v2")" = 200 ] && [ -f "$(blob_file "$L2")" ] && ok ||
	bad "the periodic collection removed a manifest's blob"
[ "$(metric 'llmo_registry_gc_runs_total{trigger="periodic"}')" -ge 1 ] && ok ||
	bad "no periodic run counted: $("${C[@]}" "$URL/metrics" | grep gc_)"
# this registry deleted nothing: its collections are the periodic ones
sed -n '/listening/h; /listening/!H; ${x;p}' "$LLMO_DATA/reg.log" | grep -q 'garbage collected' && ok ||
	bad "no collection logged by the registry with gcInterval 1s"
registry_stop

# ---- autoCleanup false: a DELETE collects nothing ----
printf 'modelRegistry:\n  autoCleanup: false\n' >"$LLMO_DATA/config.yaml"
registry_start "$STORE" --config "$LLMO_DATA/config.yaml"
stored_earlier "$M2" "$L2"
[ "$(code -X DELETE "$URL/v2/models/x/manifests/sha256:$M2")" = 202 ] && ok || bad "DELETE of M2"
[ -f "$(blob_file "$L2")" ] && [ -f "$(link_file "$L2")" ] && ok || bad "autoCleanup false, yet L2 went"
registry_stop
finish
