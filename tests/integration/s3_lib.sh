# Shared by the storageType s3 registry tests: s3rver 3.7.1 (npm; installed into .cache/s3rver
# by scripts/setup.sh --tests) on loopback, and `llmo registry` on a configuration that uses it.
# s3rver checks no signature: the registry talks to sigv4_proxy.py in front of it (over HTTP,
# or HTTPS with s3rver's certificate), which checks every request's SigV4 signature and body hash with botocore (Debian's
# python3-botocore) and answers 403 as S3 would; each test ends by checking that the proxy
# passed requests and refused none (sigv4_check). The tests' own requests (the s3 helper, to
# look at or tamper with the bucket) go to s3rver directly.
# Sourced after lib.sh; a test without node or s3rver is skipped.
unset KUBECONFIG # llmo model would write LLMModels through it; this test has no API
S3RVER="$PWD/.cache/s3rver/node_modules/.bin/s3rver"
if ! command -v node >/dev/null || [ ! -x "$S3RVER" ]; then
	echo "SKIP: no node or s3rver (scripts/setup.sh --tests installs them)"
	rm -rf "$LLMO_DATA"
	exit 0
fi
if ! /usr/bin/python3 -c 'import botocore' 2>/dev/null; then
	echo "SKIP: no python3-botocore (scripts/setup.sh --tests installs it)"
	rm -rf "$LLMO_DATA"
	exit 0
fi
REG_PID= S3_PID= PROXY_PID= SIGV4_PID= S3_TLS=() S3_SCHEME=http PROXY_OPTS=()
SIGV4_LOG="$LLMO_DATA/sigv4.log"
REG_LOG="$LLMO_DATA/registry.log"
CACHE="$LLMO_DATA/cache"
BUCKET=models
PREFIX=reg
trap '[ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null; [ -n "$S3_PID" ] && kill "$S3_PID" 2>/dev/null;
      [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null; [ -n "$SIGV4_PID" ] && kill "$SIGV4_PID" 2>/dev/null;
      sigv4_check; finish' EXIT
sha() { sha256sum "$1" | cut -d' ' -f1; }

s3_start() { # s3rver on a free port, data under $LLMO_DATA/s3, bucket $BUCKET; sets S3RVER_URL
	# (s3rver itself) and S3_URL (the signature-checking front)
	: >"$LLMO_DATA/s3.out"
	# s3rver's continuation tokens use DES, which Node 17+ has only in OpenSSL's legacy provider
	NODE_OPTIONS=--openssl-legacy-provider node "$S3RVER" -d "$LLMO_DATA/s3" -a 127.0.0.1 -p 0 \
		--silent --configure-bucket "$BUCKET" "${S3_TLS[@]}" >"$LLMO_DATA/s3.out" 2>&1 &
	S3_PID=$!
	S3RVER_URL=
	for _ in $(seq 1 200); do
		S3RVER_URL=$(sed -n "s/^S3rver listening on \\(.*\\)\$/$S3_SCHEME:\\/\\/\\1/p" "$LLMO_DATA/s3.out")
		[ -n "$S3RVER_URL" ] && break
		kill -0 "$S3_PID" 2>/dev/null || break
		sleep 0.05
	done
	[ -n "$S3RVER_URL" ] || { echo "s3rver did not start:"; cat "$LLMO_DATA/s3.out"; exit 1; }
	export S3RVER_URL
	sigv4_start
	export S3_URL
}
sigv4_start() { # sigv4_proxy.py in front of s3rver (HTTPS with s3rver's certificate when it is); sets S3_URL
	local tls=()
	[ "$S3_SCHEME" = https ] && tls=(--tls-cert "${S3_TLS[3]}" --tls-key "${S3_TLS[1]}")
	rm -f "$LLMO_DATA/sigv4.out"
	/usr/bin/python3 "$(dirname "$0")/sigv4_proxy.py" --access-key S3RVER --secret-key S3RVER \
		--log "$SIGV4_LOG" ${tls[@]+"${tls[@]}"} 127.0.0.1 "${S3RVER_URL##*:}" >"$LLMO_DATA/sigv4.out" 2>&1 &
	SIGV4_PID=$!
	wait_for 10 grep -q '^listening on ' "$LLMO_DATA/sigv4.out" ||
		{ echo "sigv4_proxy.py did not start:"; cat "$LLMO_DATA/sigv4.out"; exit 1; }
	S3_URL="$S3_SCHEME://127.0.0.1:$(sed -n 's/^listening on //p' "$LLMO_DATA/sigv4.out")"
}
sigv4_check() { # the front passed requests and refused none (SIGV4_REFUSED: those expected)
	[ -f "$SIGV4_LOG" ] || return 0
	local passed refused
	passed=$(grep -c '^ok ' "$SIGV4_LOG" || true)
	refused=$(grep -c '^bad ' "$SIGV4_LOG" || true)
	[ "$passed" -gt 0 ] && [ "$refused" -eq "${SIGV4_REFUSED:-0}" ] && ok ||
		{ bad "sigv4_proxy.py passed $passed requests and refused $refused:"; grep '^bad ' "$SIGV4_LOG" | head -5; }
	rm -f "$SIGV4_LOG"
	SIGV4_REFUSED=0
}
s3_stop() {
	[ -n "$SIGV4_PID" ] && kill "$SIGV4_PID" 2>/dev/null; wait "$SIGV4_PID" 2>/dev/null; SIGV4_PID=
	[ -n "$S3_PID" ] && kill "$S3_PID" 2>/dev/null; wait "$S3_PID" 2>/dev/null; S3_PID=
	sigv4_check
}
s3() { # s3 CURL-ARGS... PATH: a signed request to s3rver itself (path below the bucket)
	local path=${*: -1}
	curl -s --aws-sigv4 aws:amz:us-east-1:s3 -u S3RVER:S3RVER \
		-H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
		"${@:1:$#-1}" "$S3RVER_URL/$BUCKET/$path"
}
s3_keys() { # the keys under PREFIX/$1, one a line
	s3 "?list-type=2&prefix=$PREFIX%2F${1//\//%2F}" | grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g'
}
export -f s3 s3_keys
export BUCKET PREFIX
config() { # config ENDPOINT BUCKET: a configuration file for storageType s3
	cat >"$LLMO_DATA/config.yaml" <<EOF
modelRegistry:
  storageType: s3
  storagePath: $CACHE
  s3:
    endpoint: $1
    bucket: $2
    prefix: $PREFIX
EOF
}
reg_stop() {
	[ -n "$REG_PID" ] || return 0
	kill "$REG_PID" 2>/dev/null
	wait "$REG_PID"
	local rc=$?
	[ "$rc" -eq 0 ] && ok || { bad "llmo registry exited with status $rc"; tail -20 "$REG_LOG"; }
	REG_PID=
}
reg_start() { # starts llmo registry on the configuration; sets URL
	reg_stop
	READY_BEFORE=$(grep -c 'registry ready' "$REG_LOG" 2>/dev/null || true)
	: >"$LLMO_DATA/reg.out"
	"$LLMO" registry --listen 127.0.0.1:0 --config "$LLMO_DATA/config.yaml" --anonymous pull,push,delete \
		>"$LLMO_DATA/reg.out" 2>>"$REG_LOG" &
	REG_PID=$!
	URL=
	for _ in $(seq 1 200); do
		URL=$(sed -n 's/^llmo registry listening on //p' "$LLMO_DATA/reg.out")
		[ -n "$URL" ] && return 0
		kill -0 "$REG_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "llmo registry did not start:"; tail -20 "$REG_LOG"; exit 1
}
reg_restored() { # waits until the registry started last has restored its records from S3 (a worker
	# restores them while it serves: reads wait for them, files appear in the cache one by one)
	wait_for 60 bash -c "[ \$(grep -c 'registry ready' '$REG_LOG') -gt ${READY_BEFORE:-0} ]"
}
reg_fails() { # reg_fails PATTERN description [env args]: the start fails, stderr matches PATTERN
	local pat=$1 what=$2 rc=0
	shift 2
	env "$@" timeout 60 "$LLMO" registry --listen 127.0.0.1:0 --config "$LLMO_DATA/config.yaml" \
		>/dev/null 2>"$LLMO_DATA/fail.err" || rc=$?
	if [ "$rc" -ne 0 ] && grep -q -- "$pat" "$LLMO_DATA/fail.err"; then ok
	else bad "$what: status $rc, stderr:"; sed 's/^/    /' "$LLMO_DATA/fail.err"; fi
}
proxy_start() { # slow_proxy.py in front of s3rver at $1 bytes/s, $2 s delay [on port $3]; sets PROXY_URL
	# (its options, such as --log, in the array PROXY_OPTS)
	local port=${S3_URL##*:}
	# gone first: a second proxy's wait must not read the first one's port
	rm -f "$LLMO_DATA/proxy.out"
	python3 "$(dirname "$0")/slow_proxy.py" ${PROXY_OPTS[@]+"${PROXY_OPTS[@]}"} 127.0.0.1 "$port" "$1" ${2:+"$2"} ${3:+"$3"} >"$LLMO_DATA/proxy.out" 2>&1 &
	PROXY_PID=$!
	wait_for 10 grep -q '^listening on ' "$LLMO_DATA/proxy.out" || { echo "proxy did not start"; exit 1; }
	PROXY_URL="http://127.0.0.1:$(sed -n 's/^listening on //p' "$LLMO_DATA/proxy.out")"
}
proxy_stop() { [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null; wait "$PROXY_PID" 2>/dev/null; PROXY_PID=; }
cache_blobs() { find "$CACHE/blobs" -type f ! -name '.*' | sort; }

export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
