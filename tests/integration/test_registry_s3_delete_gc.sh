#!/usr/bin/env bash
# autoCleanup after a manifest DELETE with storageType s3 (s3rver 3.7.1 on loopback, see
# s3_lib.sh): `llmo model delete` of one of two versions removes the bytes only it used from
# the bucket and the cache before it is answered (the collection on the cleanup worker), the
# other version still pulls whole, and a registry started afresh on an empty cache restores
# only what is left; with gcInterval 1s the periodic collection runs on the cleanup worker and
# removes from the bucket and the cache a blob no manifest uses whose link is older than the
# grace, not a young one, nor the remaining version's; none runs while the records could not be
# restored (S3 gone during the restore), one runs once they are, and the model survives.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/s3_lib.sh"
blob_in_bucket() { s3_keys "blobs/sha256/${1:0:2}/" | grep -q "/$1\$"; }
export -f blob_in_bucket

s3_start
config "$S3_URL" "$BUCKET"
reg_start
reg_restored
for v in 1 2; do
	mkdir -p "$LLMO_DATA/model$v"
	head -c $((3000 + v)) /dev/urandom >"$LLMO_DATA/model$v/w.bin"
	check "model push models/m:$v" env LLMO_REGISTRY="$URL" "$LLMO" model push "$LLMO_DATA/model$v" \
		--name models/m --version $v --type llm
done
W1=$(sha "$LLMO_DATA/model1/w.bin") W2=$(sha "$LLMO_DATA/model2/w.bin")
check "both versions' weights are in the bucket" bash -c "blob_in_bucket $W1 && blob_in_bucket $W2"

check "llmo model delete models/m:1" env LLMO_REGISTRY="$URL" "$LLMO" model delete models/m:1
# the version's manifest, its config (which names the version) and its weights
check "the cleanup ran on a worker and removed the version's three blobs" \
	grep -q "cleanup done repo=models/m pruned=0 blobs_removed=3 links_removed=0 rc=0" "$REG_LOG"
check "counted: llmo_registry_gc_runs_total{trigger=\"delete\"} 1" bash -c \
	"curl -s '$URL/metrics' | grep -qx 'llmo_registry_gc_runs_total{trigger=\"delete\"} 1'"
check "v1's weights are gone from the bucket, as soon as the DELETE was answered" \
	bash -c "! blob_in_bucket $W1"
check "and from the cache" bash -c "! find '$CACHE/blobs' -name '$W1' | grep -q ."
check "v2's are there" bash -c "blob_in_bucket $W2"
check "models/m:1 is gone" bash -c "! env LLMO_REGISTRY='$URL' '$LLMO' model pull models/m:1 --output '$LLMO_DATA/gone' 2>/dev/null"
check "models/m:2 pulls" env LLMO_REGISTRY="$URL" "$LLMO" model pull models/m:2 --output "$LLMO_DATA/p2"
check "the same file" cmp "$LLMO_DATA/model2/w.bin" "$LLMO_DATA/p2/w.bin"
reg_stop

# a registry on an empty cache restores what the bucket has left
rm -rf "$CACHE"
reg_start
reg_restored
check "after a restore from the bucket models/m:2 pulls" \
	env LLMO_REGISTRY="$URL" "$LLMO" model pull models/m:2 --output "$LLMO_DATA/p3"
check "the same file" cmp "$LLMO_DATA/model2/w.bin" "$LLMO_DATA/p3/w.bin"
check "models/m:1 is not restored" bash -c "! env LLMO_REGISTRY='$URL' '$LLMO' model pull models/m:1 --output '$LLMO_DATA/gone2' 2>/dev/null"
reg_stop

# ---- the periodic collection (gcInterval) ----
sed -i '/^modelRegistry:$/a\  gcInterval: 1s' "$LLMO_DATA/config.yaml"
reg_start
reg_restored
push_orphan() { # push_orphan FILE: POST ?digest= into models/orphan
	[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @"$1" \
		"$URL/v2/models/orphan/blobs/uploads/?digest=sha256:$(sha "$1")")" = 201 ]
}
head -c 2000 /dev/urandom >"$LLMO_DATA/old"
head -c 3000 /dev/urandom >"$LLMO_DATA/young"
OLD=$(sha "$LLMO_DATA/old") YOUNG=$(sha "$LLMO_DATA/young")
check "push an unreferenced blob" push_orphan "$LLMO_DATA/old"
# it and its link look 2 hours old, in the bucket (s3rver's LastModified is its files' mtime)
# and in the cache; the other blob is pushed after
find "$LLMO_DATA/s3/$BUCKET" -type f -exec touch -d '2 hours ago' {} +
touch -d '2 hours ago' "$CACHE/repositories/models/orphan/_layers/sha256/$OLD"
check "push a young unreferenced blob" push_orphan "$LLMO_DATA/young"
check "the old blob goes from the bucket by itself" wait_for 60 bash -c "! blob_in_bucket $OLD"
# (S3 first, then the cache: the file may go a moment after the object)
check "and from the cache" wait_for 30 bash -c "! find '$CACHE/blobs' -name '$OLD' | grep -q ."
check "the young one stays" bash -c "blob_in_bucket $YOUNG"
check "v2's weights stay" bash -c "blob_in_bucket $W2"
# the blob leaves the bucket before the cleanup logs its end: wait for the line
check "the periodic collection ran on the cleanup worker" wait_for 30 grep -q "cleanup done repo=- pruned=0" "$REG_LOG"
check "and was counted" bash -c \
	"curl -s '$URL/metrics' | grep -q '^llmo_registry_gc_runs_total{trigger=\"periodic\"} [1-9]'"
check "models/m:2 pulls" env LLMO_REGISTRY="$URL" "$LLMO" model pull models/m:2 --output "$LLMO_DATA/p4"
reg_stop

# ---- no periodic collection while the records are not restored ----
# (the proxy holds each piece 0.5 s, so that it can go while the restore runs, as the start's
# check of the bucket needs S3)
rm -rf "$CACHE"
proxy_start 0 0.5
PORT=${PROXY_URL##*:}
config "$PROXY_URL" "$BUCKET"
sed -i '/^modelRegistry:$/a\  gcInterval: 1s' "$LLMO_DATA/config.yaml"
L0=$(wc -l <"$REG_LOG")
reg_start
check "a restore started" wait_for 30 bash -c "tail -n +$((L0 + 1)) '$REG_LOG' | grep -q 'S3 transfer started op=restore'"
proxy_stop
# two failures are 5 s apart (the retry): the collection's timer fired meanwhile
check "the restore fails with S3 unreachable, and is tried again" \
	wait_for 30 bash -c "[ \$(tail -n +$((L0 + 1)) '$REG_LOG' | grep -c 'records not restored from S3') -ge 2 ]"
check "no collection ran meanwhile" bash -c "! tail -n +$((L0 + 1)) '$REG_LOG' | grep -q 'cleanup done\|garbage collected'"
proxy_start 0 0 "$PORT"
check "once S3 is back the records are restored" reg_restored
check "then a periodic collection runs" \
	wait_for 30 bash -c "tail -n +$((L0 + 1)) '$REG_LOG' | grep -q 'cleanup done repo=- pruned=0 .* rc=0'"
check "v2's weights are still in the bucket" bash -c "blob_in_bucket $W2"
check "models/m:2 pulls" env LLMO_REGISTRY="$URL" "$LLMO" model pull models/m:2 --output "$LLMO_DATA/p5"
check "the same file" cmp "$LLMO_DATA/model2/w.bin" "$LLMO_DATA/p5/w.bin"
reg_stop
proxy_stop
