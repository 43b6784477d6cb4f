#!/usr/bin/env bash
# `llmo server`'s gateway key flags refused before anything starts: the keys
# file and the keys Secret together (status 2, the message names both), the
# file flag without a value (status 2), and a keys file that is missing or
# malformed (status 1, the message names the file, and the line and field);
# a scrape interval that is no duration or negative (status 2).
. "$(dirname "$0")/lib.sh"

# expect STATUS PATTERN ARGS...: llmo server ARGS exits STATUS with PATTERN on stderr
expect() {
	local want=$1 pattern=$2 rc
	shift 2
	timeout 20 "$LLMO" server --data-dir "$tmp/data" --listen 127.0.0.1:0 \
		--gateway-listen 127.0.0.1:0 --registry-listen 127.0.0.1:0 "$@" \
		>"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq "$want" ] && grep -q -- "$pattern" "$tmp/err"; then ok; else
		bad "llmo server $*: want status $want and '$pattern', got $rc: $(cat "$tmp/err")"
	fi
}

printf 'tenants:\n  - name: acme\n    keys: [sk-acme-0123456789]\n' >"$tmp/keys.yaml"
expect 2 "--gateway-keys-file and --gateway-keys-secret exclude each other" \
	--gateway-keys-file "$tmp/keys.yaml" --gateway-keys-secret ns/name
expect 2 "--gateway-keys-file and --gateway-keys-secret exclude each other" \
	--gateway-keys-secret ns/name --gateway-keys-file "$tmp/keys.yaml"
expect 2 "--gateway-keys-file needs a value" --gateway-keys-file
expect 1 "--gateway-keys-file: .*$tmp/none.yaml" --gateway-keys-file "$tmp/none.yaml"
printf 'tenants:\n  - name: acme\n    keys: [short]\n' >"$tmp/bad.yaml"
expect 1 "bad.yaml:3: tenants\[0\].keys\[0\]: expected a key of 8 to 256" \
	--gateway-keys-file "$tmp/bad.yaml"
expect 2 '--gateway-scrape-interval: "soon": expected a number' --gateway-scrape-interval soon
expect 2 "--gateway-scrape-interval: must not be negative" --gateway-scrape-interval -1s
# nothing was started: no state was written
[ ! -e "$tmp/data" ] && ok || bad "a refused start left $tmp/data behind"

cli_finish
