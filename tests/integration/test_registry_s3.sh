#!/usr/bin/env bash
# `llmo registry` with modelRegistry.storageType s3, against s3rver 3.7.1 (npm; installed
# into .cache/s3rver by scripts/setup.sh --tests) on loopback: a model pushed lands in the
# bucket (blobs and records); with its cache directory emptied the registry restores the
# records at start and fetches blobs on a read miss, so a pull gives back the same files;
# deletes reach the bucket; an object altered in the bucket is refused (nothing cached);
# a wrong access key, a missing bucket, a closed port fail the start with a clear error;
# and with S3 gone a push (a blob, a manifest) or a tag DELETE fails cleanly (500 naming S3's
# request), changing nothing in the cache.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/s3_lib.sh"
s3_start
config "$S3_URL" "$BUCKET"
reg_start
M=(env LLMO_REGISTRY="$URL" "$LLMO" model)
mkdir -p "$LLMO_DATA/model/tokenizer"
head -c 3000000 /dev/urandom >"$LLMO_DATA/model/model.safetensors"
printf '{"architectures":["LlamaForCausalLM"]}' >"$LLMO_DATA/model/config.json"
printf 'tokens' >"$LLMO_DATA/model/tokenizer/vocab.txt"

# ---- push: everything lands in the bucket ----
check "model push" "${M[@]}" push "$LLMO_DATA/model" --name models/llama2 --version 7b --type llm
check "a second version" "${M[@]}" push "$LLMO_DATA/model/tokenizer" --name models/llama2 --version 8b --type llm
check "the cache holds the pushed blobs" test "$(cache_blobs | wc -l)" -ge 5
n=0
for f in $(cache_blobs); do
	hex=$(basename "$f")
	s3 "$PREFIX/blobs/sha256/${hex:0:2}/$hex" >"$LLMO_DATA/obj"
	[ "$(sha "$LLMO_DATA/obj")" = "$hex" ] && n=$((n + 1)) || bad "blob $hex: not in the bucket with its bytes"
done
[ "$n" -ge 5 ] && ok || bad "only $n blobs checked in the bucket"
check "the records are in the bucket (tags, revisions, links)" bash -c "
	keys=\$(s3_keys repositories/)
	grep -qx '$PREFIX/repositories/models/llama2/_manifests/tags/7b' <<<\"\$keys\" &&
	grep -qx '$PREFIX/repositories/models/llama2/_manifests/tags/8b' <<<\"\$keys\" &&
	grep -q '^$PREFIX/repositories/models/llama2/_manifests/revisions/sha256/' <<<\"\$keys\" &&
	grep -q '^$PREFIX/repositories/models/llama2/_layers/sha256/' <<<\"\$keys\""
check "the tag object says what the tag file says" bash -c "
	[ \"\$(s3 $PREFIX/repositories/models/llama2/_manifests/tags/7b)\" = \"\$(cat '$CACHE/repositories/models/llama2/_manifests/tags/7b')\" ]"
check "nothing of the upload sessions is in the bucket" bash -c "[ -z \"\$(s3_keys uploads/)\" ]"

# ---- an empty cache: records restored at start, blobs fetched on a miss ----
reg_stop
rm -rf "$CACHE"
reg_start
M=(env LLMO_REGISTRY="$URL" "$LLMO" model)
check "the restore at start ends" reg_restored
check "records restored: the tag is back" test -f "$CACHE/repositories/models/llama2/_manifests/tags/7b"
check "no blob fetched before it is read" test "$(cache_blobs | wc -l)" -eq 0
check "model list (catalog from the restored records)" bash -c "${M[*]} list | grep -qx models/llama2"
check "model list NAME (both tags)" bash -c "${M[*]} list models/llama2 | tee /dev/stderr | sort | tr '\n' ' ' | grep -qx 'models/llama2:7b models/llama2:8b models/llama2:latest '"
check "model pull from an empty cache" "${M[@]}" pull models/llama2:7b --output "$LLMO_DATA/pulled"
check "the same files" diff -r "$LLMO_DATA/model" "$LLMO_DATA/pulled"
check "blobs fetched into the cache hash to their names" bash -c "
	for f in \$(find '$CACHE/blobs' -type f ! -name '.*'); do
		[ \"\$(sha256sum \$f | cut -c1-64)\" = \"\$(basename \$f)\" ] || exit 1
	done"
check "no partial download left" bash -c "[ -z \"\$(find '$CACHE/blobs' -name '.*')\" ]"
check "the registry logs the fetches" grep -q 'blob fetched from S3' "$REG_LOG"
# a restart with a warm cache downloads no record again
reg_stop
reg_start
check "the restore at start ends" reg_restored
check "a warm restart fetches no record" bash -c "grep 'records restored from S3' '$REG_LOG' | tail -1 | grep -q 'fetched=0'"

# ---- deletes reach the bucket ----
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$URL/v2/models/llama2/manifests/8b")
[ "$code" = 202 ] && ok || bad "DELETE tag 8b: $code"
check "the tag's object is gone from the bucket" bash -c "! s3_keys repositories/models/llama2/_manifests/tags/ | grep -q '/8b\$'"
reg_stop
rm -rf "$CACHE"
reg_start
M=(env LLMO_REGISTRY="$URL" "$LLMO" model)
check "after a restart from an empty cache, 8b is gone" bash -c "${M[*]} list models/llama2 | tee /dev/stderr | sort | tr '\n' ' ' | grep -qx 'models/llama2:7b models/llama2:latest '"

# ---- blobs over multipartThreshold go up in parts ----
reg_stop
printf '    multipartThreshold: 5Mi\n    partSize: 5Mi\n' >>"$LLMO_DATA/config.yaml"
reg_start
M=(env LLMO_REGISTRY="$URL" "$LLMO" model)
mkdir -p "$LLMO_DATA/big"
head -c 12000000 /dev/urandom >"$LLMO_DATA/big/weights.bin"
H=$(sha "$LLMO_DATA/big/weights.bin")
check "model push of a 12 MB file with 5 MiB parts" "${M[@]}" push "$LLMO_DATA/big" --name models/big --version 1 --type llm
check "the bucket holds the blob whole" bash -c "[ \"\$(s3 $PREFIX/blobs/sha256/${H:0:2}/$H | sha256sum | cut -c1-64)\" = $H ]"
check "stored in 3 parts" grep -q "multipart upload to S3.*key=$PREFIX/blobs/sha256/${H:0:2}/$H size=12000000 parts=3" "$REG_LOG"
reg_stop
rm -rf "$CACHE"
config "$S3_URL" "$BUCKET"
reg_start
M=(env LLMO_REGISTRY="$URL" "$LLMO" model)
check "and pulled back from an empty cache" "${M[@]}" pull models/big:1 --output "$LLMO_DATA/big-pulled"
check "the same file" cmp "$LLMO_DATA/big/weights.bin" "$LLMO_DATA/big-pulled/weights.bin"

# ---- pruning and garbage collection (maxVersions: 1) reach the bucket ----
reg_stop
printf '  maxVersions: 1\n' >>"$LLMO_DATA/config.yaml"
reg_start
M=(env LLMO_REGISTRY="$URL" "$LLMO" model)
mkdir -p "$LLMO_DATA/gc1" "$LLMO_DATA/gc2"
head -c 1000 /dev/urandom >"$LLMO_DATA/gc1/a.bin"
head -c 1000 /dev/urandom >"$LLMO_DATA/gc2/b.bin"
A=$(sha "$LLMO_DATA/gc1/a.bin")
B=$(sha "$LLMO_DATA/gc2/b.bin")
check "model push models/gc:1" "${M[@]}" push "$LLMO_DATA/gc1" --name models/gc --version 1 --type llm
check "its blob is in the bucket" bash -c "s3_keys blobs/ | grep -q '/$A\$'"
# older than the collector's hour of grace for fresh links
find "$CACHE/repositories/models/gc" -type f -exec touch -d '2 hours ago' {} +
check "model push models/gc:2 (prunes 1)" "${M[@]}" push "$LLMO_DATA/gc2" --name models/gc --version 2 --type llm
check "version 1's blob is collected from the bucket" bash -c "! s3_keys blobs/ | grep -q '/$A\$'"
check "and its link" bash -c "! s3_keys repositories/models/gc/_layers/ | grep -q '/$A\$'"
check "and its tag" bash -c "! s3_keys repositories/models/gc/_manifests/tags/ | grep -q '/1\$'"
check "and from the cache" test ! -e "$CACHE/blobs/sha256/${A:0:2}/$A"
check "version 2's blob stays" bash -c "s3_keys blobs/ | grep -q '/$B\$'"
reg_stop
config "$S3_URL" "$BUCKET"
reg_start

# ---- llmo server's registry (DATA_DIR/registry as the cache) reads the same bucket ----
reg_stop
server_start --config "$LLMO_DATA/config.yaml"
wait_for 60 grep -q '^llmo registry listening on ' "$LLMO_DATA/stdout" || bad "llmo server's registry did not start"
SURL=$(registry_url)
TOKEN=$(admin_token)
check "llmo server: model pull through its registry, from the bucket" "$LLMO" model pull models/llama2:7b \
	--registry "$SURL" --token "$TOKEN" --cacert "$LLMO_DATA/pki/ca.crt" --output "$LLMO_DATA/pulled-server"
check "llmo server: the same files" diff -r "$LLMO_DATA/model" "$LLMO_DATA/pulled-server"
check "llmo server: blobs fetched into DATA_DIR/registry" test -n "$(find "$LLMO_DATA/registry/blobs" -type f ! -name '.*')"
server_stop
unset KUBECONFIG
reg_start

# ---- an object altered in the bucket is refused, and not cached ----
BIGHEX=$(sha "$LLMO_DATA/model/model.safetensors")
printf 'not the weights' >"$LLMO_DATA/evil"
s3 -X PUT -T "$LLMO_DATA/evil" "$PREFIX/blobs/sha256/${BIGHEX:0:2}/$BIGHEX" >/dev/null
reg_stop
rm -rf "$CACHE"
reg_start
code=$(curl -s -o "$LLMO_DATA/body" -w '%{http_code}' "$URL/v2/models/llama2/blobs/sha256:$BIGHEX")
[ "$code" = 500 ] && ok || bad "GET of the altered blob: $code, want 500"
check "the error body says it is corrupt" grep -q 'is corrupt' "$LLMO_DATA/body"
check "the altered blob is not in the cache" test ! -e "$CACHE/blobs/sha256/${BIGHEX:0:2}/$BIGHEX"
check "no partial download left" bash -c "[ -z \"\$(find '$CACHE/blobs' -name '.*')\" ]"
check_fails "model pull of it fails" "${M[@]}" pull models/llama2:7b --output "$LLMO_DATA/pulled2"

# ---- S3 gone while the registry runs: a push fails cleanly ----
s3_stop
head -c 100000 /dev/urandom >"$LLMO_DATA/small"
SMALL=$(sha "$LLMO_DATA/small")
loc=$(curl -s -D - -o /dev/null -X POST "$URL/v2/models/other/blobs/uploads/" | sed -n 's/^[Ll]ocation: //p' | tr -d '\r')
code=$(curl -s -o "$LLMO_DATA/body" -w '%{http_code}' -X PUT --data-binary @"$LLMO_DATA/small" \
	-H 'Content-Type: application/octet-stream' "$URL$loc?digest=sha256:$SMALL")
[ "$code" = 500 ] && ok || bad "a push with S3 down: $code, want 500"
check "its error names S3 and the object" grep -q "S3 PUT .*blobs/sha256/${SMALL:0:2}/$SMALL" "$LLMO_DATA/body"
check "nothing half-written: the blob is not in the cache" test ! -e "$CACHE/blobs/sha256/${SMALL:0:2}/$SMALL"
check "nor linked into the repository" test ! -e "$CACHE/repositories/models/other/_layers/sha256/$SMALL"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/v2/models/other/blobs/sha256:$SMALL")
[ "$code" = 404 ] && ok || bad "GET of the failed blob: $code, want 404"
# record changes too (their S3 requests run on a worker): the same 500, nothing written
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}' >"$LLMO_DATA/index.json"
IDX=$(sha "$LLMO_DATA/index.json")
code=$(curl -s -o "$LLMO_DATA/body" -w '%{http_code}' -X PUT --data-binary @"$LLMO_DATA/index.json" \
	-H 'Content-Type: application/vnd.oci.image.index.v1+json' "$URL/v2/models/other/manifests/down")
[ "$code" = 500 ] && ok || bad "a manifest push with S3 down: $code, want 500"
check "its error names S3 and the object" grep -q "S3 PUT .*blobs/sha256/${IDX:0:2}/$IDX" "$LLMO_DATA/body"
check "nothing written: no manifest, revision or tag in the cache" bash -c "test ! -e '$CACHE/blobs/sha256/${IDX:0:2}/$IDX' &&
	test ! -e '$CACHE/repositories/models/other/_manifests/revisions/sha256/$IDX' &&
	test ! -e '$CACHE/repositories/models/other/_manifests/tags/down'"
code=$(curl -s -o "$LLMO_DATA/body" -w '%{http_code}' -X DELETE "$URL/v2/models/llama2/manifests/7b")
[ "$code" = 500 ] && ok || bad "a tag DELETE with S3 down: $code, want 500"
check "its error names S3 and the object" grep -q "S3 DELETE .*_manifests/tags/7b" "$LLMO_DATA/body"
check "the tag stays in the cache" test -f "$CACHE/repositories/models/llama2/_manifests/tags/7b"
check "and is still listed" bash -c "curl -sf '$URL/v2/models/llama2/tags/list' | grep -q '\"7b\"'"
reg_stop

# ---- a start that cannot reach the bucket fails, saying why ----
reg_fails "Couldn't connect\|Connection refused" "S3 down at start"
s3_start
config "$S3_URL" "$BUCKET"
reg_fails "HTTP 403 InvalidAccessKeyId" "a wrong access key" AWS_ACCESS_KEY_ID=NOBODY
# a wrong secret: the signature does not match (sigv4_proxy.py checks it; s3rver would not)
reg_fails "HTTP 403 SignatureDoesNotMatch" "a wrong secret key" AWS_SECRET_ACCESS_KEY=wrong
# the front also holds a body to its signed hash (here the empty body's, for 100000 bytes)
code=$(curl -s -o "$LLMO_DATA/body" -w '%{http_code}' --aws-sigv4 aws:amz:us-east-1:s3 -u S3RVER:S3RVER \
	-H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
	-X PUT -T "$LLMO_DATA/small" "$S3_URL/$BUCKET/$PREFIX/not-signed-as-sent")
[ "$code" = 403 ] && grep -q XAmzContentSHA256Mismatch "$LLMO_DATA/body" && ok ||
	bad "a body that does not hash to x-amz-content-sha256: $code $(cat "$LLMO_DATA/body")"
# and a request signed at another time than now (S3 allows 15 minutes)
code=$(curl -s -o "$LLMO_DATA/body" -w '%{http_code}' --aws-sigv4 aws:amz:us-east-1:s3 -u S3RVER:S3RVER \
	-H "x-amz-date: 20260101T000000Z" \
	-H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
	"$S3_URL/$BUCKET/?list-type=2")
[ "$code" = 403 ] && grep -q RequestTimeTooSkewed "$LLMO_DATA/body" && ok ||
	bad "a request signed on 2026-01-01: $code $(cat "$LLMO_DATA/body")"
SIGV4_REFUSED=4 # those two starts' first request each, that PUT and that listing
config "$S3_URL" nosuchbucket
reg_fails "HTTP 404 NoSuchBucket" "a missing bucket"
cat >"$LLMO_DATA/creds" <<EOF
[other]
aws_access_key_id = NOBODY
[default]
aws_access_key_id = S3RVER
aws_secret_access_key = S3RVER
EOF
config "$S3_URL" "$BUCKET"
printf '    credentialsFile: %s\n' "$LLMO_DATA/creds" >>"$LLMO_DATA/config.yaml"
AWS_ACCESS_KEY_ID=NOBODY reg_start
check "credentialsFile's [default] profile is used (not the environment)" curl -sf -o /dev/null "$URL/v2/models/llama2/manifests/7b"
reg_stop
sed -i '$d' "$LLMO_DATA/config.yaml"
reg_fails "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" "no credentials" -u AWS_ACCESS_KEY_ID
s3_stop

# ---- an https endpoint: its certificate is checked, against caFile ----
if command -v openssl >/dev/null; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$LLMO_DATA/s3.key" \
		-out "$LLMO_DATA/s3.crt" -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
	S3_TLS=(--key "$LLMO_DATA/s3.key" --cert "$LLMO_DATA/s3.crt") S3_SCHEME=https
	s3_start
	config "$S3_URL" "$BUCKET"
	reg_fails "SSL certificate problem" "an https endpoint whose certificate is not trusted"
	printf '    caFile: %s\n' "$LLMO_DATA/s3.crt" >>"$LLMO_DATA/config.yaml"
	rm -rf "$CACHE"
	reg_start
	M=(env LLMO_REGISTRY="$URL" "$LLMO" model)
	check "https with caFile: model pull from the bucket" "${M[@]}" pull models/gc:2 --output "$LLMO_DATA/gc-tls"
	check "the same file" cmp "$LLMO_DATA/gc2/b.bin" "$LLMO_DATA/gc-tls/b.bin"
	check "https with caFile: model push" "${M[@]}" push "$LLMO_DATA/gc1" --name models/tls --version 1 --type llm
	reg_stop
	s3_stop
else
	echo "SKIP: https endpoint (no openssl command to make a certificate)"
fi
