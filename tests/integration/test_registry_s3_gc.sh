#!/usr/bin/env bash
# `llmo registry gc --config` on a storageType s3 configuration (s3rver 3.7.1 on loopback, see
# s3_lib.sh): from an empty cache it restores the records, reads the manifests from the bucket,
# and removes the blobs no manifest refers to from the bucket (listed with ListObjectsV2, over
# more than one page), with the links to them, honouring --grace by the objects' LastModified
# (s3rver's is its files' mtime, which the test sets back), --dry-run, and the lock.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/s3_lib.sh"
GC=("$LLMO" registry gc --config "$LLMO_DATA/config.yaml")
age_all() { # every object in the bucket looks 2 hours old
	find "$LLMO_DATA/s3/$BUCKET" -type f -exec touch -d '2 hours ago' {} +
}
blob_in_bucket() { s3_keys "blobs/sha256/${1:0:2}/" | grep -q "/$1\$"; } # (one listing page)
has() { s3_keys "$1" | grep -q "$2"; } # has PREFIX PATTERN: a key under PREFIX (first page) matches
export -f blob_in_bucket has

s3_start
config "$S3_URL" "$BUCKET"
reg_start
mkdir -p "$LLMO_DATA/model"
head -c 5000 /dev/urandom >"$LLMO_DATA/model/w.bin"
check "model push models/m:1" env LLMO_REGISTRY="$URL" "$LLMO" model push "$LLMO_DATA/model" --name models/m --version 1 --type llm
head -c 1000 /dev/urandom >"$LLMO_DATA/x"
head -c 2000 /dev/urandom >"$LLMO_DATA/y"
head -c 3000 /dev/urandom >"$LLMO_DATA/z"
X=$(sha "$LLMO_DATA/x") Y=$(sha "$LLMO_DATA/y") Z=$(sha "$LLMO_DATA/z")
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @"$LLMO_DATA/x" \
	"$URL/v2/models/orphan/blobs/uploads/?digest=sha256:$X")
[ "$code" = 201 ] && ok || bad "push of the orphan blob x: $code"
rc=0; "${GC[@]}" >/dev/null 2>"$LLMO_DATA/gc.err" || rc=$?
[ "$rc" = 3 ] && ok || { bad "gc while the registry serves the cache: exit $rc, want 3"; cat "$LLMO_DATA/gc.err"; }
reg_stop
# y: a blob in the bucket the cache never held; a key in the prefix that is no blob of ours;
# 1000 more such keys (sorted before y's), so that y comes on the listing's second page
s3 -X PUT -T "$LLMO_DATA/y" "$PREFIX/blobs/sha256/${Y:0:2}/$Y" >/dev/null
s3 -X PUT -T "$LLMO_DATA/y" "$PREFIX/blobs/sha256/zz/not-a-blob" >/dev/null
args=()
for i in $(seq 1000 1999); do args+=(-T /dev/null "$S3RVER_URL/$BUCKET/$PREFIX/blobs/sha256/00/filler-$i"); done
curl -s -o /dev/null --aws-sigv4 aws:amz:us-east-1:s3 -u S3RVER:S3RVER \
	-H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" "${args[@]}"
check "1000 filler keys in the bucket" test "$(s3 "?list-type=2&prefix=$PREFIX%2Fblobs%2Fsha256%2F00%2F" | grep -o '<KeyCount>[0-9]*' | cut -d'>' -f2)" = 1000
age_all
# z: a blob and its link stored just now (within the grace)
s3 -X PUT -T "$LLMO_DATA/z" "$PREFIX/blobs/sha256/${Z:0:2}/$Z" >/dev/null
s3 -X PUT -T /dev/null "$PREFIX/repositories/models/orphan/_layers/sha256/$Z" >/dev/null
rm -rf "$CACHE"

# ---- dry run: says what would go, removes nothing ----
check "gc --dry-run from an empty cache" bash -c "${GC[*]} --dry-run >'$LLMO_DATA/dry.out'"
cat "$LLMO_DATA/dry.out"
check "would remove x (linked, unreferenced, old)" grep -qx "would remove blob sha256:$X 1000 bytes" "$LLMO_DATA/dry.out"
check "and its link" grep -qx "would remove link models/orphan sha256:$X" "$LLMO_DATA/dry.out"
check "would remove y (in the bucket only, on the listing's second page)" grep -qx "would remove blob sha256:$Y 2000 bytes" "$LLMO_DATA/dry.out"
check "not z (within the grace)" bash -c "! grep -q '$Z' '$LLMO_DATA/dry.out'"
check "the summary" grep -q "^would remove 2 blobs (3000 bytes), 1 links, 0 uploads (0 bytes); 1 manifests and .* blobs kept; would free 3000 bytes\$" "$LLMO_DATA/dry.out"
check "nothing removed: x and y are still in the bucket" bash -c "blob_in_bucket $X && blob_in_bucket $Y"

# ---- the collection ----
check "gc" bash -c "${GC[*]} >'$LLMO_DATA/gc.out'"
check "removed x, its link and y" bash -c "grep -qx 'removed blob sha256:$X 1000 bytes' '$LLMO_DATA/gc.out' &&
	grep -qx 'removed link models/orphan sha256:$X' '$LLMO_DATA/gc.out' &&
	grep -qx 'removed blob sha256:$Y 2000 bytes' '$LLMO_DATA/gc.out'"
check "the summary" grep -q "^removed 2 blobs (3000 bytes), 1 links, 0 uploads (0 bytes); 1 manifests and .* blobs kept; freed 3000 bytes\$" "$LLMO_DATA/gc.out"
check "x and y are gone from the bucket" bash -c "! blob_in_bucket $X && ! blob_in_bucket $Y"
check "x's link is gone from the bucket" bash -c "! has repositories/models/orphan/_layers/ '/$X\$'"
check "z and its link stay" bash -c "blob_in_bucket $Z && has repositories/models/orphan/_layers/ '/$Z\$'"
check "keys that are no blobs of ours stay" bash -c "has blobs/sha256/zz/ 'not-a-blob\$' && has blobs/sha256/00/ 'filler-1999\$'"
check "a second run finds nothing" bash -c "${GC[*]} | tee /dev/stderr | grep -q '^removed 0 blobs (0 bytes), 0 links'"
reg_start
check "the model still pulls, through the cache gc filled" env LLMO_REGISTRY="$URL" "$LLMO" model pull models/m:1 --output "$LLMO_DATA/pulled"
check "the same file" cmp "$LLMO_DATA/model/w.bin" "$LLMO_DATA/pulled/w.bin"
reg_stop
