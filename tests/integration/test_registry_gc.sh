#!/usr/bin/env bash
# `llmo registry gc`: offline garbage collection of a registry's storage.
# Blobs a manifest refers to survive and are served afterwards; a blob no
# manifest refers to goes once its link is older than --grace; upload
# sessions idle past --upload-max-age go, younger ones stay; --dry-run
# removes nothing; a running registry makes gc refuse (exit 3) without
# touching anything; usage errors exit 2, a missing storage 1.
. "$(dirname "$0")/lib.sh"
STORE="$LLMO_DATA/store"
C=(curl -s --max-time 30)
sha() { sha256sum "$1" | cut -d' ' -f1; }
blob_file() { echo "$STORE/blobs/sha256/${1:0:2}/$1"; }
trap '[ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null' EXIT
push_blob() { # push_blob FILE: POST ?digest= (a link in models/x)
	"${C[@]}" -o /dev/null -w '%{http_code}' -X POST --data-binary @"$1" \
		"$URL/v2/models/x/blobs/uploads/?digest=sha256:$(sha "$1")"
}

# ---- a model (config + 2 MiB layer), an unreferenced blob, two upload sessions ----
registry_start "$STORE"
head -c $((2 << 20)) /dev/urandom >"$LLMO_DATA/layer"
printf '{"name":"x"}' >"$LLMO_DATA/config"
head -c 3000 /dev/urandom >"$LLMO_DATA/orphan"
LAYER=$(sha "$LLMO_DATA/layer") CFG=$(sha "$LLMO_DATA/config") ORPHAN=$(sha "$LLMO_DATA/orphan")
for f in layer config orphan; do
	[ "$(push_blob "$LLMO_DATA/$f")" = 201 ] && ok || bad "push $f"
done
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.llmo.model.file.v1","digest":"sha256:%s","size":%d}]}' \
	"$CFG" "$(stat -c %s "$LLMO_DATA/config")" "$LAYER" "$(stat -c %s "$LLMO_DATA/layer")" >"$LLMO_DATA/manifest"
MAN=$(sha "$LLMO_DATA/manifest")
[ "$("${C[@]}" -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
	--data-binary @"$LLMO_DATA/manifest" "$URL/v2/models/x/manifests/1")" = 201 ] && ok || bad "push the manifest"
session() { # a session with 1000 bytes; prints its id
	local loc
	loc=$("${C[@]}" -X POST -D - -o /dev/null "$URL/v2/models/x/blobs/uploads/" | tr -d '\r' |
		awk 'tolower($1) == "location:" {print $2}')
	head -c 1000 /dev/urandom | "${C[@]}" -o /dev/null -X PATCH --data-binary @- "$URL$loc"
	basename "$loc"
}
OLD=$(session) NEW=$(session)
[ -f "$STORE/uploads/$OLD/data" ] && [ -f "$STORE/uploads/$NEW/data" ] && ok || bad "two upload sessions on disk"
touch -d '2 days ago' "$STORE/uploads/$OLD/data"

# ---- a registry serving the storage: gc refuses and touches nothing ----
"$LLMO" registry gc --storage "$STORE" --grace 0s >"$LLMO_DATA/gc.out" 2>"$LLMO_DATA/gc.err"
rc=$?
[ "$rc" -eq 3 ] && ok || bad "gc while a registry serves: exit $rc, want 3"
grep -q 'a registry server is using this storage' "$LLMO_DATA/gc.err" && ok || bad "gc's refusal: $(cat "$LLMO_DATA/gc.err")"
[ -f "$(blob_file "$ORPHAN")" ] && [ -d "$STORE/uploads/$OLD" ] && ok || bad "a refused gc removed something"
registry_stop

# ---- default grace (1h): the fresh orphan's link protects it; the old session goes ----
out=$("$LLMO" registry gc --storage "$STORE" --dry-run)
rc=$?
[ "$rc" -eq 0 ] && ok || bad "dry run: exit $rc"
grep -q "^would remove upload $OLD models/x 1000 bytes$" <<<"$out" && ok || bad "dry run lists the old session: $out"
grep -q "$NEW" <<<"$out" && bad "dry run lists the young session: $out" || ok
grep -q "$ORPHAN" <<<"$out" && bad "dry run lists a blob linked less than --grace ago: $out" || ok
[ -d "$STORE/uploads/$OLD" ] && ok || bad "the dry run removed the old session"

# ---- --grace 0s: the orphan goes; what the manifest refers to stays ----
out=$("$LLMO" registry gc --storage "$STORE" --grace 0s --dry-run)
grep -q "^would remove blob sha256:$ORPHAN 3000 bytes$" <<<"$out" && ok || bad "dry run lists the orphan: $out"
grep -q "^would remove link models/x sha256:$ORPHAN$" <<<"$out" && ok || bad "dry run lists the orphan's link: $out"
tail -1 <<<"$out" | grep -q "would free 4000 bytes$" && ok || bad "dry run total: $out"
[ -f "$(blob_file "$ORPHAN")" ] && ok || bad "the dry run removed the orphan"
out=$("$LLMO" registry gc --storage "$STORE" --grace 0s)
rc=$?
[ "$rc" -eq 0 ] && ok || bad "gc: exit $rc"
grep -q "^removed blob sha256:$ORPHAN 3000 bytes$" <<<"$out" && ok || bad "gc reports the orphan: $out"
tail -1 <<<"$out" | grep -q "^removed 1 blobs (3000 bytes), 1 links, 1 uploads (1000 bytes); 1 manifests and 3 blobs kept; freed 4000 bytes$" &&
	ok || bad "gc summary: $out"
[ ! -e "$(blob_file "$ORPHAN")" ] && ok || bad "the orphan blob is still there"
[ ! -e "$STORE/repositories/models/x/_layers/sha256/$ORPHAN" ] && ok || bad "the orphan's link is still there"
[ ! -e "$STORE/uploads/$OLD" ] && ok || bad "the old session is still there"
[ -f "$STORE/uploads/$NEW/data" ] && ok || bad "the young session was removed"
for h in "$LAYER" "$CFG" "$MAN"; do
	[ -f "$(blob_file "$h")" ] && ok || bad "referenced blob $h was removed"
done
out=$("$LLMO" registry gc --storage "$STORE" --grace 0s)
tail -1 <<<"$out" | grep -q "^removed 0 blobs (0 bytes), 0 links, 0 uploads (0 bytes);.*freed 0 bytes$" &&
	ok || bad "a second gc finds nothing: $out"

# ---- after gc the registry serves the model whole ----
registry_start "$STORE"
"${C[@]}" -o "$LLMO_DATA/got" "$URL/v2/models/x/blobs/sha256:$LAYER"
cmp -s "$LLMO_DATA/got" "$LLMO_DATA/layer" && ok || bad "the layer after gc"
[ "$("${C[@]}" -o /dev/null -w '%{http_code}' "$URL/v2/models/x/manifests/1")" = 200 ] && ok || bad "the manifest after gc"
[ "$("${C[@]}" -o /dev/null -w '%{http_code}' "$URL/v2/models/x/blobs/sha256:$ORPHAN")" = 404 ] && ok || bad "the orphan after gc"
registry_stop

# ---- a registry does not start while a collection holds the lock ----
flock -x "$STORE/lock" "$LLMO" registry --listen 127.0.0.1:0 --storage "$STORE" >/dev/null 2>"$LLMO_DATA/err"
rc=$?
[ "$rc" -eq 1 ] && grep -q 'lock is held: llmo registry gc is running on this storage' "$LLMO_DATA/err" && ok ||
	bad "a registry under an exclusive lock: exit $rc, $(cat "$LLMO_DATA/err")"

# ---- usage and failures ----
"$LLMO" registry gc --storage "$STORE" --upload-max-age soon >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "a bad duration: want exit 2"
"$LLMO" registry gc >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "no storage: want exit 2"
"$LLMO" registry gc --storage "$STORE" --config /dev/null >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "both --storage and --config: want exit 2"
"$LLMO" registry gc --storage "$LLMO_DATA/nope" >/dev/null 2>&1; [ $? -eq 1 ] && ok || bad "a missing storage: want exit 1"
[ ! -e "$LLMO_DATA/nope" ] && ok || bad "gc created a missing storage"
printf 'modelRegistry:\n  storagePath: %s\n' "$STORE" >"$LLMO_DATA/config.yaml"
check "gc --config" "$LLMO" registry gc --config "$LLMO_DATA/config.yaml" --dry-run
finish
