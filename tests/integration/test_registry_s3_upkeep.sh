#!/usr/bin/env bash
# `llmo registry` with modelRegistry.storageType s3 (s3rver 3.7.1 on loopback, see s3_lib.sh)
# behind tests/integration/slow_proxy.py holding every piece sent to S3 for DELAY seconds (a
# slow store's round trip): autoCleanup's pruning and collection after a push beyond maxVersions,
# and the restore of the records at start, talk to S3 on a worker, so /v2/ and a blob HEAD are
# answered meanwhile (well within the seconds the proxy makes them last); the push is answered
# 201 once its cleanup is done, and the cleanup's result is right (the oldest version gone with
# its tag, links and blobs, from the bucket and the cache; the others whole); a manifest read
# sent while the records are restored waits for them and gets the manifest. Last, the pruning's
# check of a link after its S3 delete: the proxy holds that DELETE (--hold) while a blob HEAD
# touches the link, and the link stays, put back in the bucket, with its blob.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/s3_lib.sh"
REPO=models/upkeep
DELAY=1
TAGS=repositories/$REPO/_manifests/tags
REVS=repositories/$REPO/_manifests/revisions/sha256
LINKS=repositories/$REPO/_layers/sha256
ART=application/vnd.llmo.model.v1

put_blob() { # put_blob FILE: a monolithic upload into $REPO; 0 on 201
	local code
	code=$(curl -s -o "$LLMO_DATA/push.out" -w '%{http_code}' -X POST --data-binary @"$1" \
		"$URL/v2/$REPO/blobs/uploads/?digest=sha256:$(sha "$1")")
	[ "$code" = 201 ] || { echo "push of $1: HTTP $code"; cat "$LLMO_DATA/push.out"; return 1; }
}
version() { # version N: files cN (config) and lN (layer), their blobs pushed, and manifest mN.json
	local n=$1
	printf '{"name":"%s","version":"%s"}' "$REPO" "$n" >"$LLMO_DATA/c$n"
	head -c 50000 /dev/urandom >"$LLMO_DATA/l$n"
	put_blob "$LLMO_DATA/c$n" && put_blob "$LLMO_DATA/l$n" || return 1
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"%s","config":{"mediaType":"application/vnd.llmo.model.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/octet-stream","digest":"sha256:%s","size":50000}]}' \
		"$ART" "$(sha "$LLMO_DATA/c$n")" "$(wc -c <"$LLMO_DATA/c$n")" "$(sha "$LLMO_DATA/l$n")" \
		>"$LLMO_DATA/m$n.json"
}
put_manifest() { # put_manifest N: PUT mN.json as tag vN; prints the HTTP code
	curl -s -o "$LLMO_DATA/mput$1.out" -w '%{http_code}' -X PUT --data-binary @"$LLMO_DATA/m$1.json" \
		-H 'Content-Type: application/vnd.oci.image.manifest.v1+json' "$URL/v2/$REPO/manifests/v$1"
}
in_bucket() { s3_keys "$1" | grep -q "/$2\$"; } # in_bucket PREFIX NAME: a key under PREFIX ends in /NAME
blob_in_bucket() { in_bucket "blobs/sha256/${1:0:2}/" "$1"; }
export -f in_bucket blob_in_bucket
mark() { FROM=$(wc -l <"$REG_LOG"); } # the log lines from here on are this part's (since)
since() { tail -n +$((FROM + 1)) "$REG_LOG"; }
export REG_LOG FROM
export -f since

s3_start
config "$S3_URL" "$BUCKET"
printf '  maxVersions: 2\n' >>"$LLMO_DATA/config.yaml"
reg_start
check "version 1's blobs" version 1
[ "$(put_manifest 1)" = 201 ] && ok || bad "push of version 1: $(cat "$LLMO_DATA/mput1.out")"
check "version 2's blobs" version 2
[ "$(put_manifest 2)" = 201 ] && ok || bad "push of version 2: $(cat "$LLMO_DATA/mput2.out")"
check "version 3's blobs" version 3
check "version 4's blobs" version 4
C1=$(sha "$LLMO_DATA/c1") L1=$(sha "$LLMO_DATA/l1") M1=$(sha "$LLMO_DATA/m1.json")
L2=$(sha "$LLMO_DATA/l2") M2=$(sha "$LLMO_DATA/m2.json") M3=$(sha "$LLMO_DATA/m3.json")
check "nothing pruned with two versions" bash -c "in_bucket $TAGS/ v1 && blob_in_bucket $L1"
reg_stop

# ---- a push beyond maxVersions: its cleanup talks to the slow S3 on a worker ----
proxy_start 0 "$DELAY"
config "$PROXY_URL" "$BUCKET"
printf '  maxVersions: 2\n' >>"$LLMO_DATA/config.yaml"
mark
reg_start
put_manifest 3 >"$LLMO_DATA/mput3.code" &
PUT=$!
check "the push's cleanup started on a worker" wait_for 60 bash -c "since | grep -q 'S3 transfer started op=cleanup repo=$REPO'"
t0=$(date +%s.%N)
check "/v2/ answers while the cleanup waits on S3" curl -sf --max-time 2 -o /dev/null "$URL/v2/"
check "a blob HEAD answers meanwhile" curl -sf --max-time 2 -I -o /dev/null "$URL/v2/$REPO/blobs/sha256:$L2"
check "the cleanup was still running all along (the push not answered)" kill -0 "$PUT"
wait "$PUT"
t1=$(date +%s.%N)
check "the push is answered 201 once its cleanup is done" grep -qx 201 "$LLMO_DATA/mput3.code"
check "after the cleanup's end was logged" grep -q "cleanup done repo=$REPO pruned=1 blobs_removed=3 .* rc=0" "$REG_LOG"
# the checks above took a few ms each; the cleanup, a round trip of DELAY s per S3 request, longer
check "the cleanup outlasted the checks by far" python3 -c "import sys; sys.exit(not $t1 - $t0 > 2 * $DELAY)"
# the result: version 1 gone whole, versions 2 and 3 whole
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/v2/$REPO/manifests/v1")
[ "$code" = 404 ] && ok || bad "version 1's tag after the prune: HTTP $code, want 404"
check "version 1's tag and revision are gone from the bucket" bash -c "! in_bucket $TAGS/ v1 && ! in_bucket $REVS/ $M1"
check "and from the cache" bash -c "test ! -e '$CACHE/$TAGS/v1' && test ! -e '$CACHE/$REVS/$M1'"
check "its links are gone from the bucket" bash -c "! in_bucket $LINKS/ $L1 && ! in_bucket $LINKS/ $C1"
check "its blobs (config, layer, manifest) are collected from the bucket" bash -c "! blob_in_bucket $C1 && ! blob_in_bucket $L1 && ! blob_in_bucket $M1"
check "and from the cache" bash -c "! cache_blobs | grep -q -e $C1 -e $L1 -e $M1"
code=$(curl -s -o /dev/null -w '%{http_code}' -I "$URL/v2/$REPO/blobs/sha256:$L1")
[ "$code" = 404 ] && ok || bad "a HEAD of version 1's layer: HTTP $code, want 404"
for n in 2 3; do
	check "version $n's manifest reads back" bash -c "curl -sf '$URL/v2/$REPO/manifests/v$n' | cmp - '$LLMO_DATA/m$n.json'"
	check "version $n's layer reads back" bash -c "curl -sf '$URL/v2/$REPO/blobs/sha256:$(sha "$LLMO_DATA/l$n")' | cmp - '$LLMO_DATA/l$n'"
done
check "versions 2 and 3 stay in the bucket" bash -c "in_bucket $TAGS/ v2 && in_bucket $TAGS/ v3 && blob_in_bucket $M2 && blob_in_bucket $M3 && blob_in_bucket $L2"
check "no cleanup failed" bash -c "curl -sf '$URL/metrics' | grep -qx 'llmo_registry_upkeep_failures_total{task=\"cleanup\"} 0'"
# a push whose client goes away during its cleanup: the cleanup runs to its end, then the
# next change gets the turn
mark
put_manifest 4 >/dev/null &
PUT=$!
check "version 4's push: its cleanup started" wait_for 60 bash -c "since | grep -q 'S3 transfer started op=cleanup repo=$REPO'"
kill "$PUT"
wait "$PUT" 2>/dev/null
curl -s -o /dev/null -w '%{http_code}' -X DELETE "$URL/v2/$REPO/manifests/v4" >"$LLMO_DATA/del4.code" &
DEL=$!
check "a DELETE sent meanwhile waits its turn" wait_for 10 bash -c "since | grep -q 'record change queued method=DELETE path=/v2/$REPO/manifests/v4'"
wait "$DEL"
check "and gets it once the cleanup has ended" grep -qx 202 "$LLMO_DATA/del4.code"
check "the cleanup ended first, whole" bash -c "since | grep -n -e 'cleanup done repo=$REPO pruned=1 ' -e 'S3 transfer started op=records steps=1' | head -2 | tr '\n' ' ' | grep -q 'cleanup done.*op=records steps=1'"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/v2/$REPO/manifests/v2")
[ "$code" = 404 ] && ok || bad "version 2 after version 4's cleanup: HTTP $code, want 404 (pruned)"
check "version 4's manifest stays without its tag" bash -c "curl -sf '$URL/v2/$REPO/manifests/sha256:$(sha "$LLMO_DATA/m4.json")' | cmp - '$LLMO_DATA/m4.json' && ! in_bucket $TAGS/ v4"
reg_stop

# ---- the restore of the records at start, from an empty cache, on a worker ----
rm -rf "$CACHE"
mark
reg_start
check "the registry listens while it restores the records" bash -c "since | grep -q 'S3 transfer started op=restore'"
curl -s -o "$LLMO_DATA/get3.out" -w '%{http_code}' "$URL/v2/$REPO/manifests/v3" >"$LLMO_DATA/get3.code" &
GET=$!
check "/v2/ answers while the restore waits on S3" curl -sf --max-time 2 -o /dev/null "$URL/v2/"
check "the manifest read waits for the restore" kill -0 "$GET"
check "the restore was still running" bash -c "! since | grep -q 'registry ready'"
wait "$GET"
check "the manifest read is answered 200 once the records are restored" grep -qx 200 "$LLMO_DATA/get3.code"
check "with version 3's manifest" cmp "$LLMO_DATA/get3.out" "$LLMO_DATA/m3.json"
check "the restore's end was logged" bash -c "since | grep -q 'registry ready restore_ms='"
check "the tags are those left" bash -c "curl -sf '$URL/v2/$REPO/tags/list' | grep -qx '{\"name\":\"$REPO\",\"tags\":\\[\"v3\"\\]}'"

# ---- a restore that fails (S3 gone half way): reads answer 503 at once; it is tried again ----
reg_stop
rm -rf "$CACHE"
mark
reg_start
check "a restore started" bash -c "since | grep -q 'S3 transfer started op=restore'"
PORT=${PROXY_URL##*:}
proxy_stop
check "it fails, logged" wait_for 30 bash -c "since | grep -q 'records not restored from S3 error='"
code=$(curl -s --max-time 2 -D "$LLMO_DATA/503.head" -o "$LLMO_DATA/503.out" -w '%{http_code}' "$URL/v2/$REPO/manifests/v3")
[ "$code" = 503 ] && ok || bad "a manifest read while the restore has failed: HTTP $code, want 503 at once"
check "with Retry-After and the reason" bash -c "grep -qi '^Retry-After: 5' '$LLMO_DATA/503.head' && grep -q '\"code\":\"UNAVAILABLE\".*not restored from S3' '$LLMO_DATA/503.out'"
check "counted" bash -c "curl -sf '$URL/metrics' | grep -q '^llmo_registry_upkeep_failures_total{task=\"restore\"} [1-9]'"
check "/v2/ answers" curl -sf --max-time 2 -o /dev/null "$URL/v2/"
proxy_start 0 "$DELAY" "$PORT"
check "tried again once S3 is back, the records are restored" reg_restored
code=$(curl -s -o "$LLMO_DATA/get3.out" -w '%{http_code}' "$URL/v2/$REPO/manifests/v3")
[ "$code" = 200 ] && ok || bad "the manifest read after the restore: HTTP $code, want 200"
check "with version 3's manifest" cmp "$LLMO_DATA/get3.out" "$LLMO_DATA/m3.json"
reg_stop
proxy_stop

# ---- a blob HEAD while the pruning's S3 DELETE of that blob's link is in flight ----
# The pruning checks the link's time before the delete and again after it: the proxy holds the
# DELETE of the link of version 5's layer (used by no other version) until the test has sent
# the HEAD, which touches the link; then the second check must keep the link (its object put
# back) and so the blob.
REPO=models/race
TAGS=repositories/$REPO/_manifests/tags
LINKS=repositories/$REPO/_layers/sha256
config "$S3_URL" "$BUCKET"
printf '  maxVersions: 2\n' >>"$LLMO_DATA/config.yaml"
reg_start
reg_restored
for n in 5 6; do
	check "version $n's blobs" version $n
	code=$(put_manifest $n)
	[ "$code" = 201 ] && ok || bad "push of version $n: HTTP $code $(cat "$LLMO_DATA/mput$n.out")"
done
check "version 7's blobs" version 7
reg_stop
C5=$(sha "$LLMO_DATA/c5") L5=$(sha "$LLMO_DATA/l5") M5=$(sha "$LLMO_DATA/m5.json")
PROXY_OPTS=(--log "$LLMO_DATA/proxy.log" --hold "^DELETE /.*/$LINKS/$L5\$"
	--release "$LLMO_DATA/release")
proxy_start 0 0
PROXY_OPTS=()
config "$PROXY_URL" "$BUCKET"
printf '  maxVersions: 2\n' >>"$LLMO_DATA/config.yaml"
mark
reg_start
check "the records are restored" reg_restored
put_manifest 7 >"$LLMO_DATA/mput7.code" &
PUT=$!
check "the pruning's DELETE of version 5's layer link reaches the proxy" \
	wait_for 60 grep -q "^DELETE /.*/$LINKS/$L5\$" "$LLMO_DATA/proxy.log"
code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' -I "$URL/v2/$REPO/blobs/sha256:$L5")
[ "$code" = 200 ] && ok || bad "a HEAD of the layer while its link's S3 delete is held: HTTP $code, want 200"
check "the push is not answered while the DELETE is held" kill -0 "$PUT"
check "nor its cleanup done" bash -c "! since | grep -q 'cleanup done repo=$REPO'"
touch "$LLMO_DATA/release"
wait "$PUT"
check "the push is answered 201 once its cleanup is done" grep -qx 201 "$LLMO_DATA/mput7.code"
check "the proxy let the DELETE go" grep -q "^released DELETE /.*/$LINKS/$L5\$" "$LLMO_DATA/proxy.log"
check "the link was kept after its delete, logged" \
	bash -c "since | grep -q 'link kept path=.*/$LINKS/$L5 reason=touched_while_deleted'"
check "and put back in the bucket after the DELETE" \
	bash -c "sed -n '\\|^released DELETE /.*/$LINKS/$L5\$|,\$p' '$LLMO_DATA/proxy.log' | grep -q '^PUT /.*/$LINKS/$L5\$'"
check "version 5 was pruned, the rest of it collected" \
	bash -c "since | grep -q 'cleanup done repo=$REPO pruned=1 blobs_removed=2 .* rc=0'"
check "its tag is gone" bash -c "! in_bucket $TAGS/ v5 && ! blob_in_bucket $M5 && ! blob_in_bucket $C5"
check "the layer's link is in the bucket" in_bucket "$LINKS/" "$L5"
check "its blob object too" blob_in_bucket "$L5"
check "the link is in the cache" test -e "$CACHE/$LINKS/$L5"
check "the blob file too" bash -c "find '$CACHE/blobs' -type f | grep -q /$L5\$"
check "a GET of the blob returns its bytes" \
	bash -c "curl -sf '$URL/v2/$REPO/blobs/sha256:$L5' | cmp - '$LLMO_DATA/l5'"
# what the HEAD promised: a manifest that refers to the layer is accepted
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"%s","config":{"mediaType":"application/vnd.llmo.model.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/octet-stream","digest":"sha256:%s","size":50000}]}' \
	"$ART" "$(sha "$LLMO_DATA/c7")" "$(wc -c <"$LLMO_DATA/c7")" "$L5" >"$LLMO_DATA/m8.json"
code=$(put_manifest 8)
[ "$code" = 201 ] && ok || bad "a manifest with the kept layer: HTTP $code $(cat "$LLMO_DATA/mput8.out")"
reg_stop
proxy_stop
