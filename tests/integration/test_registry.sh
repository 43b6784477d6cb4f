#!/usr/bin/env bash
# `llmo registry` on loopback: a skopeo dir: -> registry -> dir: round trip
# with equal digests, tokens and scopes (401, 403), anonymous pulls through
# /token, a tampered blob on disk, an oversize manifest (413), an upload cut
# off half way (nothing half-written), every endpoint's status codes with
# curl, TLS, and a clean stop.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
unset KUBECONFIG # llmo model would write LLMModels through it; this test has no API
REG_PID=
REG_LOG="$LLMO_DATA/registry.log"
STORE="$LLMO_DATA/store"
C=(curl -s --max-time 60)
W=tok-writer-0123456789abcdef # team-a: pull, push and delete on models/*
R=tok-reader-0123456789abcdef # ci: pull on everything
HEX_ZERO=0000000000000000000000000000000000000000000000000000000000000000

reg_stop() { # SIGTERM; any exit status but 0 (a crash, a sanitizer report) fails
	[ -n "$REG_PID" ] || return 0
	kill "${1:--TERM}" "$REG_PID" 2>/dev/null
	wait "$REG_PID"
	local rc=$?
	if [ "$rc" -eq 0 ]; then ok; else bad "llmo registry exited with status $rc"; tail -40 "$REG_LOG"; fi
	REG_PID=
}
reg_start() { # flags for llmo registry (after --listen and --storage); sets URL and HOSTPORT
	reg_stop
	: >"$LLMO_DATA/reg.out"
	"$LLMO" registry --listen 127.0.0.1:0 --storage "$STORE" "$@" >"$LLMO_DATA/reg.out" 2>>"$REG_LOG" &
	REG_PID=$!
	URL=
	for _ in $(seq 1 200); do
		URL=$(sed -n 's/^llmo registry listening on //p' "$LLMO_DATA/reg.out")
		[ -n "$URL" ] && break
		kill -0 "$REG_PID" 2>/dev/null || { echo "llmo registry exited:"; cat "$REG_LOG"; exit 1; }
		sleep 0.05
	done
	[ -n "$URL" ] || { echo "llmo registry did not start"; cat "$REG_LOG"; kill "$REG_PID"; exit 1; }
	HOSTPORT=${URL#*://}
}
trap '[ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null' EXIT
status() { # status CURL-ARGS...: the HTTP status only
	"${C[@]}" -o /dev/null -w '%{http_code}' "$@"
}
expect_status() { # expect_status CODE description curl-args...
	local want=$1 what=$2; shift 2
	local got
	got=$(status "$@")
	[ "$got" = "$want" ] && ok || bad "$what: got $got, want $want"
}
expect_error() { # expect_error CODE OCI_CODE description curl-args...: status and the OCI error body
	local want=$1 code=$2 what=$3; shift 3
	local got
	got=$("${C[@]}" -o "$LLMO_DATA/body" -w '%{http_code}' "$@")
	if [ "$got" != "$want" ]; then bad "$what: got $got, want $want"; return; fi
	$PY -c '
import json, sys
o = json.load(open(sys.argv[1]))
assert o["errors"][0]["code"] == sys.argv[2], o
assert isinstance(o["errors"][0]["message"], str), o' "$LLMO_DATA/body" "$code" \
		>"$LLMO_DATA/out" 2>&1 && ok || { bad "$what: body"; cat "$LLMO_DATA/body"; echo; }
}
header() { # header NAME curl-args...: the value of a response header
	local name=$1; shift
	"${C[@]}" -o /dev/null -D - "$@" | tr -d '\r' | awk -v n="$name" 'BEGIN { IGNORECASE = 1 }
		tolower($0) ~ "^" tolower(n) ":" { sub(/^[^:]*: */, ""); print; exit }'
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
blobs() { find "$STORE/blobs" -type f | wc -l; }
uploads() { find "$STORE/uploads" -mindepth 1 | wc -l; }
AW=(-H "Authorization: Bearer $W")
AR=(-H "Authorization: Bearer $R")
SKOPEO=(skopeo --insecure-policy)

command -v skopeo >/dev/null || { echo "skopeo is not installed (scripts/setup.sh --tests installs it)"; exit 1; }
printf '%s team-a repository:models/*:pull,push,delete\n%s ci repository:*:pull\n' "$W" "$R" >"$LLMO_DATA/tokens"
chmod 600 "$LLMO_DATA/tokens"

# A model as an image in skopeo's dir: layout: a 5 MB layer, a small one, a config.
$PY - "$LLMO_DATA/src" <<'EOF'
import gzip, hashlib, io, json, os, sys, tarfile
out = sys.argv[1]
os.makedirs(out)
def put(b):
    h = hashlib.sha256(b).hexdigest()
    open(os.path.join(out, h), "wb").write(b)
    return h
layers, diffs = [], []
for i, n in enumerate([5_000_000, 1000]):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        data = os.urandom(n)
        ti = tarfile.TarInfo("model/weights-%d.bin" % i)
        ti.size = n
        t.addfile(ti, io.BytesIO(data))
    gz = gzip.compress(raw.getvalue(), mtime=0)
    diffs.append("sha256:" + hashlib.sha256(raw.getvalue()).hexdigest())
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                   "digest": "sha256:" + put(gz), "size": len(gz)})
cfg = json.dumps({"architecture": "amd64", "os": "linux",
                  "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
     "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": "sha256:" + put(cfg), "size": len(cfg)},
     "layers": layers}
open(os.path.join(out, "manifest.json"), "w").write(json.dumps(m))
open(os.path.join(out, "version"), "w").write("Directory Transport Version: 1.1\n")
EOF
BIG=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["layers"][0]["digest"])' "$LLMO_DATA/src/manifest.json")
CFG=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["config"]["digest"])' "$LLMO_DATA/src/manifest.json")
MDIGEST=sha256:$(sha "$LLMO_DATA/src/manifest.json")

# ---- skopeo: push, pull back, equal digests ----
reg_start --tokens "$LLMO_DATA/tokens"
[[ "$URL" == http://127.0.0.1:* ]] && ok || bad "listening line: $URL"
check "skopeo copy dir: -> registry (writer token)" "${SKOPEO[@]}" copy -q --dest-tls-verify=false \
	--dest-registry-token "$W" "dir:$LLMO_DATA/src" "docker://$HOSTPORT/models/x:1"
check "skopeo copy registry -> dir: (reader token)" "${SKOPEO[@]}" copy -q --src-tls-verify=false \
	--src-registry-token "$R" "docker://$HOSTPORT/models/x:1" "dir:$LLMO_DATA/dst"
check "round trip: the same files, the same digests" diff -r "$LLMO_DATA/src" "$LLMO_DATA/dst"
for f in "$LLMO_DATA"/dst/*; do
	case $(basename "$f") in manifest.json | version) continue ;; esac
	[ "$(sha "$f")" = "$(basename "$f")" ] && ok || bad "pulled blob $(basename "$f") hashes to $(sha "$f")"
done
got=$("${SKOPEO[@]}" inspect --tls-verify=false --registry-token "$R" "docker://$HOSTPORT/models/x:1" |
	$PY -c 'import json,sys; print(json.load(sys.stdin)["Digest"])')
[ "$got" = "$MDIGEST" ] && ok || bad "skopeo inspect digest $got, want $MDIGEST"
check "skopeo with the token as a password (--creds, through /token)" "${SKOPEO[@]}" copy -q \
	--src-tls-verify=false --src-creds "any:$R" "docker://$HOSTPORT/models/x:1" "dir:$LLMO_DATA/dst2"
check_fails "skopeo with a wrong token" "${SKOPEO[@]}" copy -q --src-tls-verify=false \
	--src-registry-token tok-wrong-0123456789abcdef "docker://$HOSTPORT/models/x:1" "dir:$LLMO_DATA/dst3"
check_fails "skopeo push with a pull-only token" "${SKOPEO[@]}" copy -q --dest-tls-verify=false \
	--dest-registry-token "$R" "dir:$LLMO_DATA/src" "docker://$HOSTPORT/models/y:1"
check_fails "skopeo without a token (anonymous access is off)" "${SKOPEO[@]}" copy -q \
	--src-tls-verify=false --src-no-creds "docker://$HOSTPORT/models/x:1" "dir:$LLMO_DATA/dst4"

# ---- auth with curl: 401 with a challenge and an OCI body, 403 DENIED ----
expect_error 401 UNAUTHORIZED "/v2/ without a token" "$URL/v2/"
h=$(header WWW-Authenticate "$URL/v2/")
[[ "$h" == 'Bearer realm="http://'*'/token",service="llmo-registry"'* ]] && ok || bad "WWW-Authenticate on /v2/: $h"
expect_status 200 "/v2/ with a token" "${AR[@]}" "$URL/v2/"
[ "$(header Docker-Distribution-API-Version "${AR[@]}" "$URL/v2/")" = "registry/2.0" ] && ok ||
	bad "Docker-Distribution-API-Version header"
expect_error 401 UNAUTHORIZED "wrong token" -H "Authorization: Bearer tok-wrong-0123456789abcdef" \
	"$URL/v2/models/x/manifests/1"
h=$(header WWW-Authenticate "$URL/v2/models/x/manifests/1")
[[ "$h" == *'scope="repository:models/x:pull"'* ]] && ok || bad "challenge scope: $h"
expect_error 403 DENIED "push with a pull-only token" -X POST "${AR[@]}" "$URL/v2/models/x/blobs/uploads/"
expect_error 403 DENIED "delete with a pull-only token" -X DELETE "${AR[@]}" "$URL/v2/models/x/manifests/1"
expect_error 403 DENIED "team-a outside models/" -X POST "${AW[@]}" "$URL/v2/other/blobs/uploads/"
expect_status 200 "/token with the token as a password" -u "any:$R" "$URL/token?service=llmo-registry"
expect_status 401 "/token without credentials (anonymous off)" "$URL/token"
expect_status 200 "/healthz" "$URL/healthz"
check "/metrics counts requests" bash -c "${C[*]} $URL/metrics | grep -q '^llmo_registry_requests_total{'"

# ---- blobs ----
expect_status 200 "HEAD blob" -I "${AR[@]}" "$URL/v2/models/x/blobs/$BIG"
[ "$(header Content-Length -I "${AR[@]}" "$URL/v2/models/x/blobs/$BIG")" = "$(stat -c %s "$LLMO_DATA/src/${BIG#sha256:}")" ] &&
	ok || bad "HEAD blob: Content-Length"
[ "$(header Docker-Content-Digest -I "${AR[@]}" "$URL/v2/models/x/blobs/$BIG")" = "$BIG" ] && ok ||
	bad "HEAD blob: Docker-Content-Digest"
# a HEAD touches the blob's link (a client about to push a manifest that uses it: maxVersions'
# pruning keeps a link touched after the version it prunes, gc.h); a GET leaves it
LINK="$STORE/repositories/models/x/_layers/sha256/${BIG#sha256:}"
touch -d '2 hours ago' "$LINK"
"${C[@]}" -o /dev/null "${AR[@]}" "$URL/v2/models/x/blobs/$BIG"
check "a blob GET leaves its link's time" test "$(stat -c %Y "$LINK")" -lt "$(($(date +%s) - 3600))"
"${C[@]}" -o /dev/null -I "${AR[@]}" "$URL/v2/models/x/blobs/$BIG"
check "a blob HEAD touches its link" test "$(stat -c %Y "$LINK")" -gt "$(($(date +%s) - 3600))"
expect_status 404 "HEAD unknown blob" -I "${AR[@]}" "$URL/v2/models/x/blobs/sha256:$HEX_ZERO"
expect_error 404 BLOB_UNKNOWN "GET unknown blob" "${AR[@]}" "$URL/v2/models/x/blobs/sha256:$HEX_ZERO"
expect_error 404 BLOB_UNKNOWN "a blob of another repository" "${AR[@]}" "$URL/v2/models/other/blobs/$BIG"
expect_error 400 DIGEST_INVALID "malformed digest" "${AR[@]}" "$URL/v2/models/x/blobs/sha256:xyz"
expect_error 400 DIGEST_INVALID "sha512 digest" "${AR[@]}" "$URL/v2/models/x/blobs/sha512:$HEX_ZERO$HEX_ZERO"
expect_error 400 NAME_INVALID "invalid repository name" "${AR[@]}" "$URL/v2/Models/X/blobs/$BIG"
"${C[@]}" "${AR[@]}" -H 'Range: bytes=100-199' -o "$LLMO_DATA/part" "$URL/v2/models/x/blobs/$BIG"
cmp -s "$LLMO_DATA/part" <(tail -c +101 "$LLMO_DATA/src/${BIG#sha256:}" | head -c 100) && ok || bad "Range bytes=100-199"
expect_status 206 "Range: 206" "${AR[@]}" -H 'Range: bytes=-10' "$URL/v2/models/x/blobs/$BIG"
expect_status 416 "Range past the end: 416" "${AR[@]}" -H 'Range: bytes=99999999-' "$URL/v2/models/x/blobs/$BIG"
"${C[@]}" "${AR[@]}" -o "$LLMO_DATA/whole" "$URL/v2/models/x/blobs/$BIG"
[ "sha256:$(sha "$LLMO_DATA/whole")" = "$BIG" ] && ok || bad "GET whole blob"
expect_error 405 UNSUPPORTED "PUT on a blob" -X PUT "${AW[@]}" "$URL/v2/models/x/blobs/$BIG"

# monolithic POST ?digest=
printf 'monolithic blob' >"$LLMO_DATA/mono"
MONO=sha256:$(sha "$LLMO_DATA/mono")
expect_status 201 "monolithic POST" -X POST "${AW[@]}" --data-binary @"$LLMO_DATA/mono" \
	-H 'Content-Type: application/octet-stream' "$URL/v2/models/x/blobs/uploads/?digest=$MONO"
[ "$(header Location -X POST "${AW[@]}" --data-binary @"$LLMO_DATA/mono" "$URL/v2/models/x/blobs/uploads/?digest=$MONO")" = \
	"/v2/models/x/blobs/$MONO" ] && ok || bad "monolithic POST: Location"
n=$(blobs)
expect_error 400 DIGEST_INVALID "monolithic POST with the wrong digest" -X POST "${AW[@]}" \
	--data-binary @"$LLMO_DATA/mono" "$URL/v2/models/x/blobs/uploads/?digest=sha256:$HEX_ZERO"
[ "$(blobs)" = "$n" ] && [ "$(uploads)" = 0 ] && ok || bad "a rejected upload left files behind"

# chunked: POST, PATCH, PATCH out of order, GET status, PUT with the last chunk
LOC=$(header Location -X POST "${AW[@]}" "$URL/v2/models/x/blobs/uploads/")
[[ "$LOC" == /v2/models/x/blobs/uploads/* ]] && ok || bad "POST session: Location $LOC"
[ "$(header Range "${AW[@]}" "$URL$LOC")" = "0-0" ] && ok || bad "new session: Range 0-0"
expect_status 202 "PATCH chunk 0-4" -X PATCH "${AW[@]}" -H 'Content-Range: 0-4' --data-binary 'hello' "$URL$LOC"
expect_error 416 BLOB_UPLOAD_INVALID "PATCH out of order" -X PATCH "${AW[@]}" -H 'Content-Range: 10-12' \
	--data-binary 'xyz' "$URL$LOC"
expect_error 400 SIZE_INVALID "PATCH with Content-Length not matching Content-Range" -X PATCH "${AW[@]}" \
	-H 'Content-Range: 5-9' --data-binary 'ab' "$URL$LOC"
expect_status 204 "GET upload status" "${AW[@]}" "$URL$LOC"
[ "$(header Range "${AW[@]}" "$URL$LOC")" = "0-4" ] && ok || bad "upload status: Range 0-4"
expect_status 202 "PATCH chunk streamed (chunked encoding)" -X PATCH "${AW[@]}" \
	-H 'Transfer-Encoding: chunked' --data-binary ' chun' "$URL$LOC"
printf 'hello chunked' >"$LLMO_DATA/chunked"
CH=sha256:$(sha "$LLMO_DATA/chunked")
expect_error 400 DIGEST_INVALID "closing PUT without ?digest=" -X PUT "${AW[@]}" "$URL$LOC"
expect_status 201 "closing PUT with the last chunk" -X PUT "${AW[@]}" -H 'Content-Range: 10-12' \
	--data-binary 'ked' "$URL$LOC?digest=$CH"
"${C[@]}" "${AW[@]}" -o "$LLMO_DATA/got" "$URL/v2/models/x/blobs/$CH"
cmp -s "$LLMO_DATA/got" "$LLMO_DATA/chunked" && ok || bad "chunked upload content"
expect_error 404 BLOB_UPLOAD_UNKNOWN "the session is gone after PUT" "${AW[@]}" "$URL$LOC"

# large bodies, which the registry reads in pieces of up to 256 KiB: a
# monolithic push (Content-Length) and a chunked-encoding PATCH whose session
# is then closed on the same keep-alive connection; what is stored is what
# was sent
head -c $((24 << 20)) /dev/urandom >"$LLMO_DATA/large"
LARGE=sha256:$(sha "$LLMO_DATA/large")
expect_status 201 "a 24 MiB monolithic push" -X POST "${AW[@]}" -H 'Content-Type: application/octet-stream' \
	--data-binary @"$LLMO_DATA/large" "$URL/v2/models/x/blobs/uploads/?digest=$LARGE"
"${C[@]}" "${AR[@]}" -o "$LLMO_DATA/got" "$URL/v2/models/x/blobs/$LARGE"
cmp -s "$LLMO_DATA/got" "$LLMO_DATA/large" && ok || bad "the 24 MiB blob read back"
# two verified reads on one keep-alive connection: the second request is
# served after the first answer's held-back end was released
got=$("${C[@]}" "${AR[@]}" -o "$LLMO_DATA/got" -w '%{http_code} %{num_connects} ' "$URL/v2/models/x/blobs/$LARGE" \
	-o "$LLMO_DATA/got2" "$URL/v2/models/x/blobs/$LARGE")
[ "$got" = "200 1 200 0 " ] && ok || bad "two reads on one connection: $got"
cmp -s "$LLMO_DATA/got2" "$LLMO_DATA/large" && ok || bad "the second read on one connection"
head -c $((20 << 20)) /dev/urandom >"$LLMO_DATA/large2"
LARGE2=sha256:$(sha "$LLMO_DATA/large2")
LOC=$(header Location -X POST "${AW[@]}" "$URL/v2/models/x/blobs/uploads/")
got=$("${C[@]}" "${AW[@]}" -o /dev/null -w '%{http_code} ' -X PATCH -H 'Transfer-Encoding: chunked' \
	--data-binary @"$LLMO_DATA/large2" "$URL$LOC" \
	--next "${C[@]:1}" "${AW[@]}" -o /dev/null -w '%{http_code} %{num_connects}' -X PUT "$URL$LOC?digest=$LARGE2")
[ "$got" = "202 201 0" ] && ok || bad "a 20 MiB chunked PATCH, then PUT on the same connection: $got"
"${C[@]}" "${AR[@]}" -o "$LLMO_DATA/got" "$URL/v2/models/x/blobs/$LARGE2"
cmp -s "$LLMO_DATA/got" "$LLMO_DATA/large2" && ok || bad "the 20 MiB chunked upload read back"
LOC=$(header Location -X POST "${AW[@]}" "$URL/v2/models/x/blobs/uploads/")
expect_status 204 "DELETE upload" -X DELETE "${AW[@]}" "$URL$LOC"
expect_error 404 BLOB_UPLOAD_UNKNOWN "a cancelled upload" "${AW[@]}" "$URL$LOC"
expect_error 404 BLOB_UPLOAD_UNKNOWN "an unknown upload id" "${AW[@]}" "$URL/v2/models/x/blobs/uploads/nope"

# an upload cut off half way: nothing half-written
n=$(blobs)
$PY - "$HOSTPORT" "$W" <<'EOF'
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)))
s.sendall(("POST /v2/models/x/blobs/uploads/?digest=sha256:" + "1" * 64 + " HTTP/1.1\r\nHost: x\r\n"
           "Authorization: Bearer " + sys.argv[2] + "\r\nContent-Length: 1000000\r\n\r\n").encode()
          + b"x" * 300000)
s.close()
EOF
# the registry logs the interruption once it has cleaned up
for _ in $(seq 1 200); do grep -q 'upload interrupted.*kept=no' "$REG_LOG" && break; sleep 0.05; done
grep -q 'upload interrupted.*kept=no' "$REG_LOG" && ok || bad "the interrupted upload was not noticed"
[ "$(blobs)" = "$n" ] && [ "$(uploads)" = 0 ] && ok || bad "an interrupted monolithic upload left files ($(uploads) under uploads/)"

# three pushes of one blob at once, two of them to the same repository: all succeed, one blob
head -c 4000000 /dev/urandom >"$LLMO_DATA/same"
SAME=sha256:$(sha "$LLMO_DATA/same")
n=$(blobs)
pids=()
for r in x x z; do
	"${C[@]}" -o /dev/null -w '%{http_code}' -X POST "${AW[@]}" --data-binary @"$LLMO_DATA/same" \
		"$URL/v2/models/$r/blobs/uploads/?digest=$SAME" >"$LLMO_DATA/same.$r.${#pids[@]}" &
	pids+=($!)
done
wait "${pids[@]}"
[ "$(cat "$LLMO_DATA"/same.* | tr -d '\n')" = 201201201 ] && ok || bad "concurrent pushes: $(cat "$LLMO_DATA"/same.*)"
[ "$(blobs)" = $((n + 1)) ] && [ "$(uploads)" = 0 ] && ok || bad "concurrent pushes: one blob, no sessions left"
expect_status 200 "the concurrently pushed blob" -I "${AR[@]}" "$URL/v2/models/z/blobs/$SAME"

# cross-repository mount
expect_status 201 "mount from a repository the token may pull" -X POST "${AW[@]}" \
	"$URL/v2/models/y/blobs/uploads/?mount=$BIG&from=models/x"
expect_status 200 "the mounted blob" -I "${AW[@]}" "$URL/v2/models/y/blobs/$BIG"
expect_status 202 "mount of an unknown blob falls back to an upload" -X POST "${AW[@]}" \
	"$URL/v2/models/y/blobs/uploads/?mount=sha256:$HEX_ZERO&from=models/x"

# ---- manifests ----
MT=application/vnd.oci.image.manifest.v1+json
expect_status 200 "GET manifest by tag" "${AR[@]}" -H "Accept: $MT" "$URL/v2/models/x/manifests/1"
[ "$(header Content-Type "${AR[@]}" "$URL/v2/models/x/manifests/1")" = "$MT" ] && ok || bad "manifest Content-Type"
[ "$(header Docker-Content-Digest -I "${AR[@]}" "$URL/v2/models/x/manifests/1")" = "$MDIGEST" ] && ok ||
	bad "HEAD manifest: Docker-Content-Digest"
expect_status 200 "GET manifest by digest" "${AR[@]}" "$URL/v2/models/x/manifests/$MDIGEST"
expect_error 404 MANIFEST_UNKNOWN "unknown tag" "${AR[@]}" "$URL/v2/models/x/manifests/nope"
expect_error 404 MANIFEST_UNKNOWN "unknown digest" "${AR[@]}" "$URL/v2/models/x/manifests/sha256:$HEX_ZERO"
expect_error 400 MANIFEST_INVALID "PUT invalid JSON" -X PUT "${AW[@]}" -H "Content-Type: $MT" \
	--data-binary '{"schemaVersion":' "$URL/v2/models/x/manifests/bad"
expect_error 400 MANIFEST_BLOB_UNKNOWN "PUT referencing a missing blob" -X PUT "${AW[@]}" -H "Content-Type: $MT" \
	--data-binary "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"sha256:$HEX_ZERO\",\"size\":1},\"layers\":[]}" \
	"$URL/v2/models/x/manifests/missing"
expect_error 400 DIGEST_INVALID "PUT by a digest the body does not have" -X PUT "${AW[@]}" -H "Content-Type: $MT" \
	--data-binary @"$LLMO_DATA/src/manifest.json" "$URL/v2/models/x/manifests/sha256:$HEX_ZERO"
expect_status 201 "PUT by digest" -X PUT "${AW[@]}" -H "Content-Type: $MT" \
	--data-binary @"$LLMO_DATA/src/manifest.json" "$URL/v2/models/x/manifests/$MDIGEST"
head -c $((5 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$LLMO_DATA/big.json"
expect_error 413 MANIFEST_INVALID "a manifest over 4 MiB" -X PUT "${AW[@]}" -H "Content-Type: $MT" \
	--data-binary @"$LLMO_DATA/big.json" "$URL/v2/models/x/manifests/huge"
expect_error 413 MANIFEST_INVALID "a manifest over 4 MiB, chunked" -X PUT "${AW[@]}" -H "Content-Type: $MT" \
	-H 'Transfer-Encoding: chunked' --data-binary @"$LLMO_DATA/big.json" "$URL/v2/models/x/manifests/huge"
for t in b c a; do
	expect_status 201 "tag $t" -X PUT "${AW[@]}" -H "Content-Type: $MT" \
		--data-binary @"$LLMO_DATA/src/manifest.json" "$URL/v2/models/x/manifests/$t"
done

# ---- tags list, catalog ----
check "tags list, sorted" bash -c "${C[*]} -H 'Authorization: Bearer $R' $URL/v2/models/x/tags/list | $PY -c '
import json, sys
o = json.load(sys.stdin)
assert o == {\"name\": \"models/x\", \"tags\": [\"1\", \"a\", \"b\", \"c\"]}, o'"
check "tags list ?n=2" bash -c "${C[*]} -H 'Authorization: Bearer $R' '$URL/v2/models/x/tags/list?n=2' | $PY -c '
import json, sys
assert json.load(sys.stdin)[\"tags\"] == [\"1\", \"a\"]'"
[ "$(header Link "${AR[@]}" "$URL/v2/models/x/tags/list?n=2")" = '</v2/models/x/tags/list?n=2&last=a>; rel="next"' ] &&
	ok || bad "tags list: Link header"
check "tags list ?n=2&last=a" bash -c "${C[*]} -H 'Authorization: Bearer $R' '$URL/v2/models/x/tags/list?n=2&last=a' | $PY -c '
import json, sys
assert json.load(sys.stdin)[\"tags\"] == [\"b\", \"c\"]'"
[ -z "$(header Link "${AR[@]}" "$URL/v2/models/x/tags/list?n=2&last=a")" ] && ok || bad "last page has no Link"
check "tags list ?n=0 is empty" bash -c "${C[*]} -H 'Authorization: Bearer $R' '$URL/v2/models/x/tags/list?n=0' | $PY -c '
import json, sys
assert json.load(sys.stdin)[\"tags\"] == []'"
expect_error 404 NAME_UNKNOWN "tags of an unknown repository" "${AR[@]}" "$URL/v2/models/none/tags/list"
check "catalog" bash -c "${C[*]} -H 'Authorization: Bearer $R' $URL/v2/_catalog | $PY -c '
import json, sys
o = json.load(sys.stdin)
assert o == {\"repositories\": [\"models/x\", \"models/y\", \"models/z\"]}, o'"

# ---- referrers: a signature-like artifact whose subject is the model ----
printf '{}' >"$LLMO_DATA/empty"
EMPTY=sha256:$(sha "$LLMO_DATA/empty")
expect_status 201 "push the empty config" -X POST "${AW[@]}" --data-binary @"$LLMO_DATA/empty" \
	"$URL/v2/models/x/blobs/uploads/?digest=$EMPTY"
MSIZE=$(stat -c %s "$LLMO_DATA/src/manifest.json")
ART="{\"schemaVersion\":2,\"mediaType\":\"$MT\",\"artifactType\":\"application/vnd.llmo.signature.v1\",\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"digest\":\"$EMPTY\",\"size\":2},\"layers\":[],\"subject\":{\"mediaType\":\"$MT\",\"digest\":\"$MDIGEST\",\"size\":$MSIZE},\"annotations\":{\"org.example\":\"1\"}}"
printf '%s' "$ART" >"$LLMO_DATA/art.json"
ADIGEST=sha256:$(sha "$LLMO_DATA/art.json")
[ "$(header OCI-Subject -X PUT "${AW[@]}" -H "Content-Type: $MT" --data-binary @"$LLMO_DATA/art.json" \
	"$URL/v2/models/x/manifests/$ADIGEST")" = "$MDIGEST" ] && ok || bad "PUT with a subject: OCI-Subject header"
check "referrers list the artifact" bash -c "${C[*]} -H 'Authorization: Bearer $R' $URL/v2/models/x/referrers/$MDIGEST | $PY -c '
import json, sys
o = json.load(sys.stdin)
assert o[\"mediaType\"] == \"application/vnd.oci.image.index.v1+json\" and o[\"schemaVersion\"] == 2, o
assert len(o[\"manifests\"]) == 1, o
d = o[\"manifests\"][0]
assert d[\"digest\"] == \"$ADIGEST\" and d[\"artifactType\"] == \"application/vnd.llmo.signature.v1\", d
assert d[\"size\"] == $(stat -c %s "$LLMO_DATA/art.json") and d[\"annotations\"] == {\"org.example\": \"1\"}, d'"
[ "$(header OCI-Filters-Applied "${AR[@]}" "$URL/v2/models/x/referrers/$MDIGEST?artifactType=x/y")" = artifactType ] &&
	ok || bad "referrers filter: OCI-Filters-Applied"
check "referrers filtered out" bash -c "${C[*]} -H 'Authorization: Bearer $R' '$URL/v2/models/x/referrers/$MDIGEST?artifactType=x/y' | $PY -c '
import json, sys
assert json.load(sys.stdin)[\"manifests\"] == []'"
expect_status 200 "referrers of a digest without any" "${AR[@]}" "$URL/v2/models/x/referrers/sha256:$HEX_ZERO"

# ---- deletes ----
expect_status 202 "DELETE a tag" -X DELETE "${AW[@]}" "$URL/v2/models/x/manifests/c"
expect_error 404 MANIFEST_UNKNOWN "the deleted tag" "${AR[@]}" "$URL/v2/models/x/manifests/c"
expect_status 202 "DELETE the referrer by digest" -X DELETE "${AW[@]}" "$URL/v2/models/x/manifests/$ADIGEST"
check "no referrers left" bash -c "${C[*]} -H 'Authorization: Bearer $R' $URL/v2/models/x/referrers/$MDIGEST | $PY -c '
import json, sys
assert json.load(sys.stdin)[\"manifests\"] == []'"
expect_status 202 "DELETE a blob" -X DELETE "${AW[@]}" "$URL/v2/models/y/blobs/$BIG"
expect_error 404 BLOB_UNKNOWN "DELETE it again" -X DELETE "${AW[@]}" "$URL/v2/models/y/blobs/$BIG"
expect_status 405 "unknown method on /v2/" -X OPTIONS "${AR[@]}" "$URL/v2/"

# ---- llmo model: push, list, inspect, pull, sign, verify, delete ----
M=(env LLMO_REGISTRY="$URL" "$LLMO" model)
mkdir -p "$LLMO_DATA/model/tokenizer"
head -c 3000000 /dev/urandom >"$LLMO_DATA/model/model.safetensors"
printf '{"architectures":["LlamaForCausalLM"]}' >"$LLMO_DATA/model/config.json"
printf 'tokens' >"$LLMO_DATA/model/tokenizer/vocab.txt"
check "model push" "${M[@]}" push "$LLMO_DATA/model" --name models/llama2 --version 7b --type llm \
	--framework pytorch --parameters 7B --quantization fp16 --context-length 4096 --token "$W"
check_fails "model push with a pull-only token" "${M[@]}" push "$LLMO_DATA/model" --name models/llama2 \
	--version 7b-b --token "$R"
check "model list" bash -c "LLMO_REGISTRY_TOKEN=$R ${M[*]} list | grep -qx models/llama2"
check "model list NAME" bash -c "LLMO_REGISTRY_TOKEN=$R ${M[*]} list models/llama2 | grep -qx models/llama2:7b"
check "model inspect: the artifact and its metadata" bash -c "LLMO_REGISTRY_TOKEN=$R ${M[*]} inspect models/llama2:7b | $PY -c '
import json, sys
o = json.load(sys.stdin)
assert o[\"artifactType\"] == \"application/vnd.llmo.model.v1\", o
c = o[\"config\"]
assert c[\"name\"] == \"models/llama2\" and c[\"version\"] == \"7b\" and c[\"framework\"] == \"pytorch\", c
assert c[\"quantization\"] == \"fp16\" and c[\"contextLength\"] == 4096 and c[\"size\"] == 3000044, c
assert [f[\"path\"] for f in c[\"files\"]] == [\"config.json\", \"model.safetensors\", \"tokenizer/vocab.txt\"], c
assert len(o[\"manifest\"][\"layers\"]) == 3, o'"
check "model pull" "${M[@]}" pull models/llama2:7b --output "$LLMO_DATA/pulled" --token "$R"
check "model pull: the same files" diff -r "$LLMO_DATA/model" "$LLMO_DATA/pulled"
check "model keygen" "${M[@]}" keygen --key "$LLMO_DATA/sig"
check_fails "verify an unsigned model" "${M[@]}" verify models/llama2:7b --pub "$LLMO_DATA/sig.pub" --token "$R"
check "model sign" "${M[@]}" sign models/llama2:7b --key "$LLMO_DATA/sig.key" --token "$W"
check "model verify" "${M[@]}" verify models/llama2:7b --pub "$LLMO_DATA/sig.pub" --token "$R"
"${M[@]}" keygen --key "$LLMO_DATA/other" >/dev/null
check_fails "verify with another key" "${M[@]}" verify models/llama2:7b --pub "$LLMO_DATA/other.pub" --token "$R"
check "the signature is a referrer" bash -c "${C[*]} -H 'Authorization: Bearer $R' \
	'$URL/v2/models/llama2/referrers/$(LLMO_REGISTRY_TOKEN=$R "${M[@]}" inspect models/llama2:7b |
		$PY -c 'import json,sys; print(json.load(sys.stdin)["digest"])')?artifactType=application/vnd.llmo.signature.v1' | $PY -c '
import json, sys
assert len(json.load(sys.stdin)[\"manifests\"]) == 1'"
check "model delete" "${M[@]}" delete models/llama2:7b --token "$W"
check_fails "the deleted model" "${M[@]}" inspect models/llama2:7b --token "$R"

# ---- a tampered blob on disk: an error on pull, never the wrong bytes ----
flip_byte "$STORE/blobs/sha256/${BIG:7:2}/${BIG#sha256:}" 4096
check_fails "skopeo pull of a tampered layer" "${SKOPEO[@]}" copy -q --src-tls-verify=false \
	--src-registry-token "$R" "docker://$HOSTPORT/models/x:1" "dir:$LLMO_DATA/dst5"
"${C[@]}" "${AR[@]}" -o "$LLMO_DATA/tampered" "$URL/v2/models/x/blobs/$BIG"
[ "$(stat -c %s "$LLMO_DATA/tampered")" -lt "$(stat -c %s "$LLMO_DATA/src/${BIG#sha256:}")" ] && ok ||
	bad "a tampered large blob was sent whole"
expect_error 500 UNKNOWN "Range read of a tampered blob" "${AR[@]}" -H 'Range: bytes=0-9' "$URL/v2/models/x/blobs/$BIG"
# the last byte of a blob of several pieces, and one in the middle found while the answer is
# under way (the hash runs beside the send: the 200 and most of the body went out, the end
# never does); sent from memory (loopback peers, --sendfile auto) and with sendfile() (always)
tamper_large() { # tamper_large MODE
	flip_byte "$STORE/blobs/sha256/${LARGE:7:2}/${LARGE#sha256:}" $(((24 << 20) - 1))
	"${C[@]}" "${AR[@]}" -o "$LLMO_DATA/tampered" "$URL/v2/models/x/blobs/$LARGE"
	[ "$(stat -c %s "$LLMO_DATA/tampered")" -lt $((24 << 20)) ] && ok ||
		bad "$1: a blob tampered in its last byte was sent whole"
	flip_byte "$STORE/blobs/sha256/${LARGE:7:2}/${LARGE#sha256:}" $(((24 << 20) - 1))
	head -c $((24 << 20)) /dev/urandom >"$LLMO_DATA/mid"
	MID=sha256:$(sha "$LLMO_DATA/mid")
	expect_status 201 "$1: push a blob to tamper in its middle" -X POST "${AW[@]}" \
		--data-binary @"$LLMO_DATA/mid" "$URL/v2/models/x/blobs/uploads/?digest=$MID"
	flip_byte "$STORE/blobs/sha256/${MID:7:2}/${MID#sha256:}" $((12 << 20))
	got=$("${C[@]}" "${AR[@]}" -o "$LLMO_DATA/tampered" -w '%{http_code}' "$URL/v2/models/x/blobs/$MID")
	rc=$?
	[ "$got" = 200 ] && [ "$rc" = 18 ] && [ "$(stat -c %s "$LLMO_DATA/tampered")" -lt $((24 << 20)) ] && ok ||
		bad "$1: a blob tampered in its middle: HTTP $got, curl exit $rc (want 200 and 18, a partial body)"
	grep -q "blob does not match its digest, not sent whole.*${MID#sha256:}" "$REG_LOG" && ok ||
		bad "$1: the mismatch found during the send is logged"
	# the untouched blob, whole and the same
	"${C[@]}" "${AR[@]}" -o "$LLMO_DATA/whole" "$URL/v2/models/x/blobs/$BIG"
	cmp -s "$LLMO_DATA/whole" "$LLMO_DATA/src/${BIG#sha256:}" && ok || bad "$1: an intact blob"
}
flip_byte "$STORE/blobs/sha256/${BIG:7:2}/${BIG#sha256:}" 4096
tamper_large "--sendfile auto (loopback: written)"
reg_start --tokens "$LLMO_DATA/tokens" --sendfile always
tamper_large "--sendfile always"
flip_byte "$STORE/blobs/sha256/${CFG:7:2}/${CFG#sha256:}" 3
expect_error 500 UNKNOWN "a tampered small blob" "${AR[@]}" "$URL/v2/models/x/blobs/$CFG"
check "corrupt blobs are counted" bash -c "${C[*]} $URL/metrics | grep -q '^llmo_registry_corrupt_blobs_total [1-9]'"

# ---- anonymous pulls (through /token for skopeo), TLS ----
rm -rf "$STORE"
reg_start --tokens "$LLMO_DATA/tokens" --anonymous pull
check "push for the anonymous test" "${SKOPEO[@]}" copy -q --dest-tls-verify=false \
	--dest-registry-token "$W" "dir:$LLMO_DATA/src" "docker://$HOSTPORT/models/x:1"
check "anonymous skopeo pull" "${SKOPEO[@]}" copy -q --src-tls-verify=false --src-no-creds \
	"docker://$HOSTPORT/models/x:1" "dir:$LLMO_DATA/anon"
check_fails "anonymous skopeo push" "${SKOPEO[@]}" copy -q --dest-tls-verify=false --dest-no-creds \
	"dir:$LLMO_DATA/src" "docker://$HOSTPORT/models/z:1"
expect_status 200 "anonymous curl pull" "$URL/v2/models/x/manifests/1"
expect_error 401 UNAUTHORIZED "anonymous curl push" -X POST "$URL/v2/models/x/blobs/uploads/"

if command -v openssl >/dev/null; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$LLMO_DATA/tls.key" -out "$LLMO_DATA/tls.crt" >/dev/null 2>&1
	reg_start --tokens "$LLMO_DATA/tokens" --tls-cert "$LLMO_DATA/tls.crt" --tls-key "$LLMO_DATA/tls.key"
	[[ "$URL" == https://127.0.0.1:* ]] && ok || bad "TLS listening line: $URL"
	expect_status 200 "/v2/ over TLS" --cacert "$LLMO_DATA/tls.crt" "${AR[@]}" "$URL/v2/"
	mkdir -p "$LLMO_DATA/certs" && cp "$LLMO_DATA/tls.crt" "$LLMO_DATA/certs/ca.crt"
	check "skopeo pull over TLS, certificate verified" "${SKOPEO[@]}" copy -q --src-cert-dir "$LLMO_DATA/certs" \
		--src-registry-token "$R" "docker://$HOSTPORT/models/x:1" "dir:$LLMO_DATA/tls"
	check "TLS round trip" diff -r "$LLMO_DATA/src" "$LLMO_DATA/tls"
	# over TLS the file is read and encrypted on the loop and hashed beside it
	flip_byte "$STORE/blobs/sha256/${BIG:7:2}/${BIG#sha256:}" 4096
	got=$("${C[@]}" --cacert "$LLMO_DATA/tls.crt" "${AR[@]}" -o "$LLMO_DATA/tampered" -w '%{http_code}' \
		"$URL/v2/models/x/blobs/$BIG")
	[ "$got" = 200 ] && [ "$(stat -c %s "$LLMO_DATA/tampered")" -lt "$(stat -c %s "$LLMO_DATA/src/${BIG#sha256:}")" ] &&
		ok || bad "a tampered blob over TLS: HTTP $got, sent whole or not started"
else
	echo "SKIP: TLS (no openssl command to make a certificate)"
fi

# ---- usage errors, a clean stop ----
"$LLMO" registry --listen 127.0.0.1:0 >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "no --storage: want exit 2"
"$LLMO" registry --bogus x >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "unknown flag: want exit 2"
chmod 644 "$LLMO_DATA/tokens"
"$LLMO" registry --listen 127.0.0.1:0 --storage "$STORE" --tokens "$LLMO_DATA/tokens" >/dev/null 2>&1
[ $? -eq 1 ] && ok || bad "a token file others can read: want exit 1"
reg_stop -INT
finish
