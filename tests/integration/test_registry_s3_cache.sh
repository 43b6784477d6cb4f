#!/usr/bin/env bash
# `llmo registry` with modelRegistry.storageType s3 (s3rver 3.7.1 on loopback, see s3_lib.sh):
# S3 transfers run on worker threads, so that while a large blob is fetched from S3, or an
# upload is stored to it, other requests are answered (and a second pull of the blob being
# fetched waits for the same download), and while a manifest push's or a DELETE's record
# writes, or a referrers listing's fetch of a manifest, wait on an S3 slow to answer (a
# second change waits for the first) (s3rver is put
# behind slow_proxy.py, which makes a transfer last seconds: the test waits for the
# registry's "S3 transfer started" line, then gives the other request a time limit).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/s3_lib.sh"
REPO=models/cache

push_blob() { # push_blob FILE: a monolithic upload into $REPO; 0 on 201
	local code
	code=$(curl -s -o "$LLMO_DATA/push.out" -w '%{http_code}' -X POST --data-binary @"$1" \
		-H 'Content-Type: application/octet-stream' \
		"$URL/v2/$REPO/blobs/uploads/?digest=sha256:$(sha "$1")")
	[ "$code" = 201 ] || { echo "push of $1: HTTP $code"; cat "$LLMO_DATA/push.out"; return 1; }
}
started() { # started OP HEX: the registry has logged the start of that S3 transfer
	wait_for 30 grep -q "S3 transfer started op=$1 digest=sha256:$2" "$REG_LOG"
}

s3_start
head -c 24000000 /dev/urandom >"$LLMO_DATA/big"
head -c 100000 /dev/urandom >"$LLMO_DATA/small"
head -c 24000000 /dev/urandom >"$LLMO_DATA/big2"
head -c 24000000 /dev/urandom >"$LLMO_DATA/big3"
BIG=$(sha "$LLMO_DATA/big") SMALL=$(sha "$LLMO_DATA/small") BIG2=$(sha "$LLMO_DATA/big2")
BIG3=$(sha "$LLMO_DATA/big3")

# ---- a pull through an empty cache does not hold up other requests ----
config "$S3_URL" "$BUCKET"
reg_start
check "push a 24 MB blob" push_blob "$LLMO_DATA/big"
check "push a small blob" push_blob "$LLMO_DATA/small"
check "push another 24 MB blob" push_blob "$LLMO_DATA/big3"
reg_stop
rm -rf "$CACHE"
proxy_start 2000000 # 2 MB/s each way: the 24 MB blob takes about 12 s
config "$PROXY_URL" "$BUCKET"
reg_start
check "the small blob, fetched into the cache" curl -sf --max-time 30 -o /dev/null "$URL/v2/$REPO/blobs/sha256:$SMALL"
curl -sf -o "$LLMO_DATA/big.out" "$URL/v2/$REPO/blobs/sha256:$BIG" &
PULL=$!
check "the large fetch from S3 started" started fetch "$BIG"
curl -sf -o "$LLMO_DATA/big2.out" "$URL/v2/$REPO/blobs/sha256:$BIG" &
PULL2=$!
check "a second pull of the same blob joins that fetch" wait_for 30 grep -q "S3 transfer joined op=fetch digest=sha256:$BIG waiters=2" "$REG_LOG"
check "/v2/ answers while it runs" curl -sf --max-time 3 -o /dev/null "$URL/v2/"
check "a cached blob is served while it runs" curl -sf --max-time 3 -o "$LLMO_DATA/small.out" "$URL/v2/$REPO/blobs/sha256:$SMALL"
check "the same bytes" cmp "$LLMO_DATA/small" "$LLMO_DATA/small.out"
check "the metrics show the transfer in progress" bash -c "curl -sf --max-time 3 '$URL/metrics' | grep -qx 'llmo_registry_s3_transfers 1'"
check "the large fetch was still in progress all along" kill -0 "$PULL"
wait "$PULL" && ok || bad "the large pull failed"
wait "$PULL2" && ok || bad "the second large pull failed"
check "the large blob arrives whole" cmp "$LLMO_DATA/big" "$LLMO_DATA/big.out"
check "to both pulls" cmp "$LLMO_DATA/big" "$LLMO_DATA/big2.out"
check "downloaded from S3 once" test "$(grep -c "blob fetched from S3 digest=sha256:$BIG" "$REG_LOG")" -eq 1
check "the metrics count a hit and the misses" bash -c "curl -sf '$URL/metrics' | tee '$LLMO_DATA/metrics' |
	grep -qx 'llmo_registry_s3_cache_reads_total{result=\"miss\"} 3' &&
	grep -qx 'llmo_registry_s3_cache_reads_total{result=\"hit\"} 1' '$LLMO_DATA/metrics'"

# ---- pulls that go away while their fetch runs ----
curl -sf -o "$LLMO_DATA/big3.out" "$URL/v2/$REPO/blobs/sha256:$BIG3" &
PULL=$!
check "a fetch of a third large blob started" started fetch "$BIG3"
rc=0; curl -sf --max-time 2 -o /dev/null "$URL/v2/$REPO/blobs/sha256:$BIG3" || rc=$?
[ "$rc" = 28 ] && ok || bad "a pull given up after 2 s: curl exit $rc, want 28 (timed out)"
wait "$PULL" && ok || bad "the pull that stayed failed"
check "the one that stayed gets the blob whole" cmp "$LLMO_DATA/big3" "$LLMO_DATA/big3.out"
rm -f "$CACHE/blobs/sha256/${BIG3:0:2}/$BIG3"
rc=0; curl -sf --max-time 2 -o /dev/null "$URL/v2/$REPO/blobs/sha256:$BIG3" || rc=$?
[ "$rc" = 28 ] && ok || bad "the only pull of a fetch, given up after 2 s: curl exit $rc, want 28"
check "the registry still answers" curl -sf --max-time 3 -o /dev/null "$URL/v2/"
check "the fetch nobody waits for any more still completes" wait_for 30 bash -c 	"[ \$(grep -c 'blob fetched from S3 digest=sha256:$BIG3' '$REG_LOG') -eq 2 ]"
check "and the blob is then served from the cache" curl -sf --max-time 10 -o "$LLMO_DATA/big3.out" "$URL/v2/$REPO/blobs/sha256:$BIG3"
check "whole" cmp "$LLMO_DATA/big3" "$LLMO_DATA/big3.out"

# ---- neither does a push's upload to S3 ----
curl -s -o "$LLMO_DATA/push2.out" -w '%{http_code}' -X POST --data-binary @"$LLMO_DATA/big2" \
	-H 'Content-Type: application/octet-stream' \
	"$URL/v2/$REPO/blobs/uploads/?digest=sha256:$BIG2" >"$LLMO_DATA/push2.code" &
PUSH=$!
check "the upload to S3 started" started put "$BIG2"
check "/v2/ answers while it runs" curl -sf --max-time 3 -o /dev/null "$URL/v2/"
check "a HEAD of a cached blob answers while it runs" curl -sf --max-time 3 -I -o /dev/null "$URL/v2/$REPO/blobs/sha256:$SMALL"
check "the upload was still in progress all along" kill -0 "$PUSH"
wait "$PUSH"
check "the push is answered 201 once S3 has the blob" grep -qx 201 "$LLMO_DATA/push2.code"
check "and the bucket holds it whole" bash -c "[ \"\$(s3 $PREFIX/blobs/sha256/${BIG2:0:2}/$BIG2 | sha256sum | cut -c1-64)\" = $BIG2 ]"
check "and the cache too" test -f "$CACHE/blobs/sha256/${BIG2:0:2}/$BIG2"
reg_stop
proxy_stop

# ---- nor do the record writes of a manifest push and a DELETE, on an S3 slow to answer ----
# every request to S3 waits DELAY seconds at the proxy (a slow store's round trip); the
# checks meanwhile are given less than that
DELAY=2
proxy_start 0 "$DELAY"
config "$PROXY_URL" "$BUCKET"
reg_start
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":100000},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":100000}]}' \
	"$SMALL" "$SMALL" >"$LLMO_DATA/manifest.json"
MAN=$(sha "$LLMO_DATA/manifest.json")
TAGDIR=repositories/$REPO/_manifests/tags
curl -s -o "$LLMO_DATA/mput.out" -w '%{http_code}' -X PUT --data-binary @"$LLMO_DATA/manifest.json" \
	-H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
	"$URL/v2/$REPO/manifests/slow" >"$LLMO_DATA/mput.code" &
PUT=$!
check "the push's record writes to S3 started (blob, revision, tag)" wait_for 30 grep -q "S3 transfer started op=records steps=3" "$REG_LOG"
check "/v2/ answers while they wait on S3" curl -sf --max-time 1 -o /dev/null "$URL/v2/"
code=$(curl -s --max-time 1 -o /dev/null -w '%{http_code}' "$URL/v2/$REPO/manifests/slow")
[ "$code" = 404 ] && ok || bad "the tag before S3 took it: HTTP $code, want 404 at once"
curl -s -o /dev/null -w '%{http_code}' -X DELETE "$URL/v2/$REPO/manifests/slow" >"$LLMO_DATA/mdel.code" &
DEL=$!
check "a DELETE of the tag meanwhile waits its turn" wait_for 10 grep -q "record change queued method=DELETE path=/v2/$REPO/manifests/slow" "$REG_LOG"
check "the push was still waiting on S3 all along" kill -0 "$PUT"
wait "$PUT"
check "the push is answered 201 once S3 has its records" grep -qx 201 "$LLMO_DATA/mput.code"
check "the tag's DELETE to S3 started after it" wait_for 30 grep -q "S3 transfer started op=records steps=1" "$REG_LOG"
check "/v2/ answers while the DELETE waits on S3" curl -sf --max-time 1 -o /dev/null "$URL/v2/"
check "the DELETE was still waiting on S3" kill -0 "$DEL"
wait "$DEL"
check "the DELETE, made after the push, found the tag (202)" grep -qx 202 "$LLMO_DATA/mdel.code"
check "the tag is gone from the bucket" bash -c "! s3_keys $TAGDIR/ | grep -q '/slow\$'"
check "and from the cache" test ! -e "$CACHE/$TAGDIR/slow"
check "the manifest stays in both" bash -c "s3_keys repositories/$REPO/_manifests/revisions/ | grep -q '/$MAN\$' &&
	test -f '$CACHE/repositories/$REPO/_manifests/revisions/sha256/$MAN'"
code=$(curl -s --max-time 1 -o /dev/null -w '%{http_code}' "$URL/v2/$REPO/manifests/slow")
[ "$code" = 404 ] && ok || bad "the deleted tag: HTTP $code, want 404"
# a referrers listing fetches a referrer's manifest the cache lacks on a worker too
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example.sig","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":100000},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":100000}],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d}}' \
	"$SMALL" "$SMALL" "$MAN" "$(wc -c <"$LLMO_DATA/manifest.json")" >"$LLMO_DATA/referrer.json"
REF=$(sha "$LLMO_DATA/referrer.json")
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary @"$LLMO_DATA/referrer.json" \
	-H 'Content-Type: application/vnd.oci.image.manifest.v1+json' "$URL/v2/$REPO/manifests/sha256:$REF")
[ "$code" = 201 ] && ok || bad "push of a referrer: HTTP $code, want 201"
rm -f "$CACHE/blobs/sha256/${REF:0:2}/$REF"
curl -sf -o "$LLMO_DATA/referrers.out" "$URL/v2/$REPO/referrers/sha256:$MAN" &
LIST=$!
check "the referrer's manifest is fetched from S3 on a worker" started fetch "$REF"
check "/v2/ answers while the listing waits on S3" curl -sf --max-time 1 -o /dev/null "$URL/v2/"
check "the listing was still waiting on S3" kill -0 "$LIST"
wait "$LIST" && ok || bad "the referrers listing failed"
check "the listing holds the referrer, read from its manifest" bash -c "grep -q '\"digest\":\"sha256:$REF\"' '$LLMO_DATA/referrers.out' &&
	grep -q '\"artifactType\":\"application/vnd.example.sig\"' '$LLMO_DATA/referrers.out'"
# a push whose client gives up while its records wait on S3: the change is still made whole,
# and the next change gets its turn
rc=0; curl -s --max-time 1 -o /dev/null -X PUT --data-binary @"$LLMO_DATA/manifest.json" \
	-H 'Content-Type: application/vnd.oci.image.manifest.v1+json' "$URL/v2/$REPO/manifests/gone" || rc=$?
[ "$rc" = 28 ] && ok || bad "a push given up after 1 s: curl exit $rc, want 28 (timed out)"
check "its tag still reaches the cache once S3 has it" wait_for 30 test -f "$CACHE/$TAGDIR/gone"
check "and the bucket" bash -c "[ \"\$(s3 $PREFIX/$TAGDIR/gone)\" = sha256:$MAN ]"
code=$(curl -s --max-time 30 -o /dev/null -w '%{http_code}' -X DELETE "$URL/v2/$REPO/manifests/gone")
[ "$code" = 202 ] && ok || bad "a DELETE after the abandoned push: HTTP $code, want 202"
reg_stop
proxy_stop

# ---- the cache is kept within s3.cacheSize: the least recently used blobs go (S3 keeps them) ----
for x in a b c; do head -c 1048576 /dev/urandom >"$LLMO_DATA/$x"; done
A=$(sha "$LLMO_DATA/a") B=$(sha "$LLMO_DATA/b") C=$(sha "$LLMO_DATA/c")
metric() { curl -sf "$URL/metrics" | sed -n "s/^$1 //p"; }
rm -rf "$CACHE"
config "$S3_URL" "$BUCKET"
printf '    cacheSize: 2500Ki\n' >>"$LLMO_DATA/config.yaml"
reg_start
check "push a (1 MiB)" push_blob "$LLMO_DATA/a"
check "push b (1 MiB)" push_blob "$LLMO_DATA/b"
check "both cached" bash -c "test -f '$CACHE/blobs/sha256/${A:0:2}/$A' && test -f '$CACHE/blobs/sha256/${B:0:2}/$B'"
check "a read of a (b is now the least recently used)" curl -sf -o /dev/null "$URL/v2/$REPO/blobs/sha256:$A"
check "push c: 3 MiB would pass 2500Ki" push_blob "$LLMO_DATA/c"
check "b is evicted from the cache" bash -c "! test -e '$CACHE/blobs/sha256/${B:0:2}/$B'"
check "a and c stay" bash -c "test -f '$CACHE/blobs/sha256/${A:0:2}/$A' && test -f '$CACHE/blobs/sha256/${C:0:2}/$C'"
check "the eviction is logged" grep -q "blob evicted from the cache digest=sha256:$B" "$REG_LOG"
check "b stays in the bucket" bash -c "s3_keys blobs/ | grep -q '/$B\$'"
[ "$(metric llmo_registry_s3_cache_evictions_total)" = 1 ] && ok || bad "evictions metric: $(metric llmo_registry_s3_cache_evictions_total), want 1"
[ "$(metric llmo_registry_s3_cache_bytes)" = 2097152 ] && ok || bad "cache bytes metric: $(metric llmo_registry_s3_cache_bytes), want 2097152"
check "b is pulled again, from S3" curl -sf -o "$LLMO_DATA/b.out" "$URL/v2/$REPO/blobs/sha256:$B"
check "the same bytes" cmp "$LLMO_DATA/b" "$LLMO_DATA/b.out"
check "it was fetched" grep -q "S3 transfer started op=fetch digest=sha256:$B" "$REG_LOG"
check "which evicted a, now the least recently used" bash -c "! test -e '$CACHE/blobs/sha256/${A:0:2}/$A' && test -f '$CACHE/blobs/sha256/${B:0:2}/$B' && test -f '$CACHE/blobs/sha256/${C:0:2}/$C'"
[ "$(metric llmo_registry_s3_cache_evictions_total)" = 2 ] && ok || bad "evictions metric: $(metric llmo_registry_s3_cache_evictions_total), want 2"
# a start with a smaller bound trims the cache to it, keeping the newest (b, fetched last)
reg_stop
sed -i 's/cacheSize: 2500Ki/cacheSize: 1100Ki/' "$LLMO_DATA/config.yaml"
reg_start
check "a start trims the cache to the bound" test "$(find "$CACHE/blobs" -type f ! -name '.*' | wc -l)" -eq 1
check "keeping the most recent blob" test -f "$CACHE/blobs/sha256/${B:0:2}/$B"
check "c is pulled back from S3" curl -sf -o "$LLMO_DATA/c.out" "$URL/v2/$REPO/blobs/sha256:$C"
check "the same bytes" cmp "$LLMO_DATA/c" "$LLMO_DATA/c.out"
reg_stop
