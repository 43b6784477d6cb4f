#!/usr/bin/env bash
# Verification on read and modelRegistry.reverifyInterval (`llmo registry --reverify-interval`):
# a blob over 1 MiB pushed just now is hashed on every read (its file times could still hide a
# write); once its file is over two seconds old, the read that hashes it vouches for it, and
# later whole reads and ranges within the interval are sent without hashing, byte for byte the
# same; a write to the file (a flipped byte) makes the next read hash it again, and the
# tampered blob is never sent whole; past the interval a read hashes it again; with 0s every
# whole read is hashed while ranges still go by the cache; modelRegistry.reverifyInterval from
# --config, and the flag over it; the same with --sendfile always. Counted by
# llmo_registry_verified_reads_total{source=hash|cache}.
. "$(dirname "$0")/lib.sh"
STORE="$LLMO_DATA/store"
C=(curl -s --max-time 30)
trap '[ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null' EXIT
metric() { # metric NAME_AND_LABELS: its value on /metrics
	"${C[@]}" "$URL/metrics" | awk -v k="$1" '$1 == k { print $2 }'
}
reads() { metric "llmo_registry_verified_reads_total{source=\"$1\"}"; }
want_reads() { # want_reads HASH CACHE WHAT
	local h c
	h=$(reads hash) c=$(reads cache)
	[ "$h" = "$1" ] && [ "$c" = "$2" ] && ok || bad "$3: hash=$h cache=$c (want $1 and $2)"
}
# the racy-file rule: a verification is only cached once the file is 2 s old (file times tick
# coarsely); wait until its change time is 3 whole seconds back
settle() {
	while [ $(($(date +%s) - $(stat -c %Z "$1"))) -lt 3 ]; do sleep 0.2; done
}
get_same() { # get_same WHAT: a whole GET of the blob, the bytes pushed
	"${C[@]}" -o "$LLMO_DATA/got" "$URL/v2/models/x/blobs/sha256:$B" &&
		cmp -s "$LLMO_DATA/got" "$LLMO_DATA/blob" && ok || bad "$1: not the bytes pushed"
}

head -c $((4 << 20)) /dev/urandom >"$LLMO_DATA/blob"
B=$(sha256sum "$LLMO_DATA/blob" | cut -d' ' -f1)
FILE=$STORE/blobs/sha256/${B:0:2}/$B

registry_start "$STORE" --reverify-interval 4s
want_reads 0 0 "a new registry"
[ "$("${C[@]}" -o /dev/null -w '%{http_code}' -X POST --data-binary @"$LLMO_DATA/blob" \
	"$URL/v2/models/x/blobs/uploads/?digest=sha256:$B")" = 201 ] && ok || bad "push of the blob"

# ---- just written: hashed every time ----
get_same "first read"
get_same "second read"
want_reads 2 0 "two reads of a blob written just now"

# ---- two seconds on: one hashed read vouches for the next ----
settle "$FILE"
get_same "read after the file settled"
want_reads 3 0 "the read that verifies it"
get_same "read from the cache"
want_reads 3 1 "a whole read within the interval"
"${C[@]}" -H 'Range: bytes=100-199' -o "$LLMO_DATA/part" "$URL/v2/models/x/blobs/sha256:$B"
cmp -s "$LLMO_DATA/part" <(tail -c +101 "$LLMO_DATA/blob" | head -c 100) && ok || bad "range from the cache"
want_reads 3 2 "a range within the interval"
sent=$(metric llmo_registry_sent_bytes_total)
[ "$sent" = $(((4 << 20) * 4 + 100)) ] && ok || bad "sent bytes: $sent"

# ---- a write to the file: hashed again, never sent whole ----
flip_byte "$FILE" $((3 << 20))
got=$("${C[@]}" -o "$LLMO_DATA/tampered" -w '%{http_code}' "$URL/v2/models/x/blobs/sha256:$B")
rc=$?
[ "$got" = 200 ] && [ "$rc" = 18 ] && [ "$(stat -c %s "$LLMO_DATA/tampered")" -lt $((4 << 20)) ] && ok ||
	bad "tampered after it was cached: HTTP $got, curl exit $rc (want 200 and 18, a partial body)"
want_reads 4 2 "the read after the write"
[ "$(metric llmo_registry_corrupt_blobs_total)" = 1 ] && ok || bad "the tampered blob is not counted"
[ "$("${C[@]}" -o /dev/null -w '%{http_code}' -H 'Range: bytes=0-9' \
	"$URL/v2/models/x/blobs/sha256:$B")" = 500 ] && ok || bad "range of the tampered blob: want 500"
want_reads 5 2 "the range after the write"

# ---- put right, settled, verified; past the interval hashed again ----
flip_byte "$FILE" $((3 << 20))
settle "$FILE"
get_same "read after the repair"
get_same "cached read after the repair"
want_reads 6 3 "after the repair"
sleep 4.5 # the interval (4s) from the verifying read, which ended before the previous GET
get_same "read past the interval"
want_reads 7 3 "a read past the interval"
get_same "read within the new interval"
want_reads 7 4 "re-verified, then cached"
registry_stop

# ---- 0s: every whole read hashed; ranges still by the cache ----
registry_start "$STORE" --reverify-interval 0s
get_same "0s: first read"
get_same "0s: second read"
want_reads 2 0 "0s: two whole reads"
[ "$("${C[@]}" -o /dev/null -w '%{http_code}' -H 'Range: bytes=0-9' \
	"$URL/v2/models/x/blobs/sha256:$B")" = 206 ] && ok || bad "0s: range"
want_reads 2 1 "0s: a range after a verified whole read"
registry_stop

# ---- from the configuration file, and a flag given wins over it ----
printf 'modelRegistry:\n  reverifyInterval: 0s\n' >"$LLMO_DATA/config.yaml"
registry_start "$STORE" --config "$LLMO_DATA/config.yaml"
get_same "config 0s: first read"
get_same "config 0s: second read"
want_reads 2 0 "reverifyInterval 0s in the file"
registry_stop
registry_start "$STORE" --config "$LLMO_DATA/config.yaml" --reverify-interval 1h
get_same "config 0s, flag 1h: first read"
get_same "config 0s, flag 1h: second read"
want_reads 1 1 "--reverify-interval over the file's reverifyInterval"
registry_stop

# ---- the same with sendfile() (to loopback peers the default is to write from memory) ----
registry_start "$STORE" --sendfile always
get_same "sendfile: the verifying read"
get_same "sendfile: a read from the cache"
want_reads 1 1 "sendfile: hashed once, then by the cache"
flip_byte "$FILE" 5
got=$("${C[@]}" -o "$LLMO_DATA/tampered" -w '%{http_code}' "$URL/v2/models/x/blobs/sha256:$B")
rc=$?
[ "$got" = 200 ] && [ "$rc" = 18 ] && [ "$(stat -c %s "$LLMO_DATA/tampered")" -lt $((4 << 20)) ] && ok ||
	bad "sendfile: tampered after it was cached: HTTP $got, curl exit $rc (want 200 and 18)"
want_reads 2 1 "sendfile: the read after the write"
registry_stop

# ---- the flags' errors ----
"$LLMO" registry --storage "$STORE" --sendfile sometimes >/dev/null 2>"$LLMO_DATA/err"
[ $? -eq 2 ] && grep -q 'auto, always or never' "$LLMO_DATA/err" && ok || bad "--sendfile sometimes: want exit 2"
"$LLMO" registry --storage "$STORE" --reverify-interval 5 >/dev/null 2>"$LLMO_DATA/err"
[ $? -eq 2 ] && grep -q -- '--reverify-interval' "$LLMO_DATA/err" && ok || bad "a duration without a unit: want exit 2"
"$LLMO" registry --storage "$STORE" --reverify-interval=-1s >/dev/null 2>"$LLMO_DATA/err"
[ $? -eq 2 ] && grep -q 'negative' "$LLMO_DATA/err" && ok || bad "a negative interval: want exit 2"
finish
