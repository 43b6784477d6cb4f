#!/bin/bash
# A full disk, simulated with a file size limit (ulimit -f: writes past it fail with EFBIG
# as they would with ENOSPC; llmo ignores SIGXFSZ): a blob larger than the limit gets a
# clean 500 with an OCI error body naming the failure, no blob is stored, the upload
# session keeps only whole writes (its reported offset matches its file), and the
# registry goes on serving: a small blob pushed next is stored and reads back intact.
. "$(dirname "$0")/lib.sh"
REG_PID=""
trap '[ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null; wait "$REG_PID" 2>/dev/null; finish' EXIT
ST="$LLMO_DATA/store"
( ulimit -f 1024; exec "$LLMO" registry --listen 127.0.0.1:0 --storage "$ST" --anonymous pull,push ) \
	>"$LLMO_DATA/reg.out" 2>"$LLMO_DATA/reg.err" &
REG_PID=$!
URL=""
for _ in $(seq 1 100); do
	URL=$(sed -n 's/^llmo registry listening on //p' "$LLMO_DATA/reg.out")
	[ -n "$URL" ] && break
	sleep 0.05
done
check "the registry starts under a 1 MiB file size limit" test -n "$URL"
start_upload() { curl -s -D - -o /dev/null -X POST "$URL/v2/models/m/blobs/uploads/" | sed -n 's/^[Ll]ocation: //p' | tr -d '\r'; }
put_blob() { # file location: the monolithic PUT's status and body
	local d="sha256:$(sha256sum "$1" | cut -d' ' -f1)" sep='?'
	[[ $2 == *\?* ]] && sep='&'
	curl -s -w '\n%{http_code}' -X PUT --data-binary @"$1" -H 'Content-Type: application/octet-stream' \
		"$URL$2${sep}digest=$d"
}
head -c 3000000 /dev/urandom >"$LLMO_DATA/big"
LOC=$(start_upload)
OUT=$(put_blob "$LLMO_DATA/big" "$LOC")
check "a 3 MB blob gets 500" test "${OUT##*$'\n'}" = 500
check "with an OCI error body naming the write failure" bash -c "grep -q '\"errors\"' <<<'${OUT%$'\n'*}' && grep -q 'File too large' <<<'${OUT%$'\n'*}'"
check "no blob was stored" bash -c "[ -z \"\$(find '$ST' -path '*blobs*' -type f)\" ]"
check "the session's offset is its file's size (only whole writes kept)" bash -c "
	size=\$(stat -c %s '$ST'/uploads/*/data)
	range=\$(curl -s -D - -o /dev/null '$URL$LOC' | sed -n 's/^[Rr]ange: //p' | tr -d '\r')
	[ \"\$range\" = \"0-\$((size - 1))\" ]"
head -c 100000 /dev/urandom >"$LLMO_DATA/small"
OUT=$(put_blob "$LLMO_DATA/small" "$(start_upload)")
check "the registry still serves: a small blob is stored (201)" test "${OUT##*$'\n'}" = 201
check "and reads back intact" bash -c "
	curl -sf '$URL/v2/models/m/blobs/sha256:$(sha256sum "$LLMO_DATA/small" | cut -d' ' -f1)' | cmp - '$LLMO_DATA/small'"
check "the log names the storage error" grep -q 'storage error.*File too large' "$LLMO_DATA/reg.err"
