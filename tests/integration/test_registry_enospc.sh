#!/usr/bin/env bash
# A really full disk: the registry's storage is a 3 MiB tmpfs (mounted in a user and mount
# namespace of the test's own, unshare -rm; skipped, saying so, where that is not allowed),
# so writes fail with ENOSPC as on a full volume (test_registry_disk_full.sh simulates it
# with a file size limit). A blob larger than the filesystem gets a clean 500 naming "No space
# left on device", no blob or link is stored, its session keeps whole writes for a resume and
# gives its space back when deleted; on a full disk an upload cannot start (500) and a
# manifest push whose blobs are there gets a clean 500 with no tag or manifest left; once
# space is back the same manifest is stored and reads back.
if [ -z "${LLMO_ENOSPC_NS:-}" ]; then
	if ! unshare -rm true 2>/dev/null; then
		echo "SKIP: unshare -rm (an unprivileged mount namespace) is not allowed here"
		exit 0
	fi
	LLMO_ENOSPC_NS=1 exec unshare -rm bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
REG_PID=""
trap '[ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null; wait "$REG_PID" 2>/dev/null; umount "$ST" 2>/dev/null; finish' EXIT
ST="$LLMO_DATA/store"
mkdir -p "$ST"
mount -t tmpfs -o size=3m tmpfs "$ST" || { bad "cannot mount a tmpfs in the namespace"; exit 1; }
"$LLMO" registry --listen 127.0.0.1:0 --storage "$ST" --anonymous '*' \
	>"$LLMO_DATA/reg.out" 2>"$LLMO_DATA/reg.err" &
REG_PID=$!
URL=$(line_value "$LLMO_DATA/reg.out" "llmo registry listening on")
check "the registry starts on a 3 MiB filesystem" test -n "$URL"
digest() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }
start_upload() { curl -s -D - -o /dev/null -X POST "$URL/v2/models/m/blobs/uploads/" | sed -n 's/^[Ll]ocation: //p' | tr -d '\r'; }
put_blob() { # FILE [LOCATION]: the monolithic PUT's body, then its status on the last line
	local loc=${2:-$(start_upload)} sep='?'
	[[ $loc == *\?* ]] && sep='&'
	curl -s -w '\n%{http_code}' -X PUT --data-binary @"$1" -H 'Content-Type: application/octet-stream' \
		"$URL$loc${sep}digest=$(digest "$1")"
}
files() { find "$ST" -path "$1" -type f | wc -l; }

df_free() { df --output=avail -B1 "$ST" | tail -1 | tr -d ' '; }
head -c 4000000 /dev/urandom >"$LLMO_DATA/big"
S1=$(start_upload)
OUT=$(put_blob "$LLMO_DATA/big" "$S1")
check "a 4 MB blob on 3 MiB gets 500" test "${OUT##*$'\n'}" = 500
check "with an OCI error body saying the disk is full" bash -c "grep -q '\"errors\"' <<<'${OUT%$'\n'*}' && grep -q 'No space left on device' <<<'${OUT%$'\n'*}'"
check "no blob was stored" test "$(files '*/blobs/*')" -eq 0
check "nor a link" test "$(files '*/_layers/*')" -eq 0
check "the session keeps only whole writes, for a resume (its Range is its file's size)" bash -c "
	size=\$(stat -c %s '$ST'/uploads/*/data)
	range=\$(curl -s -D - -o /dev/null '$URL$S1' | sed -n 's/^[Rr]ange: //p' | tr -d '\r')
	[ \"\$range\" = \"0-\$((size - 1))\" ]"
check "the client gives up: the session is deleted (204)" \
	bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -X DELETE '$URL$S1')\" = 204 ]"
check "and its space is free again" test "$(df_free)" -gt 3000000

# the blobs of a manifest, then a session holding most of the space, then the rest filled
printf '{"a":1}' >"$LLMO_DATA/cfg"
head -c 1000 /dev/urandom >"$LLMO_DATA/layer"
OUT=$(put_blob "$LLMO_DATA/cfg")
check "the config is stored (201)" test "${OUT##*$'\n'}" = 201
OUT=$(put_blob "$LLMO_DATA/layer")
check "and the layer (201)" test "${OUT##*$'\n'}" = 201
head -c 2900000 /dev/urandom >"$LLMO_DATA/hold"
S2=$(start_upload)
check "a session takes 2.9 MB (PATCH, 202)" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -X PATCH \
	--data-binary @'$LLMO_DATA/hold' -H 'Content-Type: application/octet-stream' '$URL$S2')\" = 202 ]"
cat /dev/zero >"$ST/filler" 2>/dev/null
check "the filesystem is full" test "$(df_free)" -eq 0
OUT=$(curl -s -w '\n%{http_code}' -X POST "$URL/v2/models/m/blobs/uploads/")
check "an upload cannot even start on a full disk: 500" test "${OUT##*$'\n'}" = 500
check "saying why in an OCI error body" bash -c "grep -q '\"errors\"' <<<'${OUT%$'\n'*}' && grep -q 'No space left on device' <<<'${OUT%$'\n'*}'"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}' \
	"$(digest "$LLMO_DATA/cfg")" "$(stat -c %s "$LLMO_DATA/cfg")" "$(digest "$LLMO_DATA/layer")" \
	"$(stat -c %s "$LLMO_DATA/layer")" >"$LLMO_DATA/manifest.json"
put_manifest() { curl -s -w '\n%{http_code}' -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
	--data-binary @"$LLMO_DATA/manifest.json" "$URL/v2/models/m/manifests/v1"; }
OUT=$(put_manifest)
check "a manifest push on a full disk gets 500" test "${OUT##*$'\n'}" = 500
check "saying why in an OCI error body" bash -c "grep -q '\"errors\"' <<<'${OUT%$'\n'*}' && grep -q 'No space left on device' <<<'${OUT%$'\n'*}'"
check "no tag v1 was left" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$URL/v2/models/m/manifests/v1')\" = 404 ]"
check "nor the manifest's blob or revision" test "$(files "*$(digest "$LLMO_DATA/manifest.json" | cut -c8-)*")" -eq 0

# space comes back: the filler removed, the session deleted
rm -f "$ST/filler"
check "the session is deleted (204)" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -X DELETE '$URL$S2')\" = 204 ]"
OUT=$(put_manifest)
check "then the manifest is stored (201)" test "${OUT##*$'\n'}" = 201
check "and reads back byte for byte" bash -c "curl -sf '$URL/v2/models/m/manifests/v1' | cmp - '$LLMO_DATA/manifest.json'"
check "the layer too" bash -c "curl -sf '$URL/v2/models/m/blobs/$(digest "$LLMO_DATA/layer")' | cmp - '$LLMO_DATA/layer'"
check "the log names the storage error" grep -q 'No space left on device' "$LLMO_DATA/reg.err"
kill "$REG_PID"
rc=0; wait "$REG_PID" || rc=$?
REG_PID=
check "the registry stops cleanly" test "$rc" -eq 0
