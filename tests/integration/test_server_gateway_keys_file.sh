#!/usr/bin/env bash
# `llmo server --gateway-keys-file FILE`: the embedded gateway takes its API keys
# and tenants from a keys file (llmo gateway --keys's format). A listed key
# passes (here to a 404 for a model nobody serves) while no key or another key
# gets 401; the admin paths need no key. The file is reloaded when it changes:
# a key added to it passes without a restart, and a broken file is logged while
# the keys in force stay.
. "$(dirname "$0")/lib.sh"
trap finish EXIT
D=$LLMO_DATA
KEY=sk-acme-0123456789
LATE=sk-late-0123456789

write_keys() { # extra tenants appended
	cat >"$D/keys.yaml.new" <<YAML
tenants:
  - name: acme
    keys: [$KEY]
$1
YAML
	mv "$D/keys.yaml.new" "$D/keys.yaml"
}
write_keys ""
server_start --disable controller,scheduler,agent,registry --gateway-keys-file "$D/keys.yaml"
GW=$(gateway_url)
code() { # code [KEY]: the status of a chat completion for a model nobody serves
	curl -s --max-time 10 -o "$D/body" -w '%{http_code}' ${1:+-H "Authorization: Bearer $1"} \
		-H 'Content-Type: application/json' \
		-d '{"model":"nobody","messages":[{"role":"user","content":"Hi"}]}' "$GW/v1/chat/completions"
}
is() { [ "$(code "${@:2}")" = "$1" ]; } # is STATUS [KEY]

check "a listed key passes (404: no such model)" is 404 $KEY
check "no key gets 401" is 401
check "and says missing_api_key" grep -q missing_api_key "$D/body"
check "another key gets 401" is 401 $LATE
check "and says invalid_api_key" grep -q invalid_api_key "$D/body"
check "the admin paths need no key" curl -sf --max-time 10 "$GW/v1/models"
check "the log names the file" grep -q "keys.*file=$D/keys.yaml" "$LLMO_LOG"

# a changed file is read again without a signal
write_keys "  - name: late
    keys: [$LATE]"
check "a key added to the file passes once it is reloaded" wait_for 30 is 404 $LATE
check "the first key still passes" is 404 $KEY

# a broken file is reported and the keys in force stay
echo "tenants: [ {name: broken" >"$D/keys.yaml.new"
mv "$D/keys.yaml.new" "$D/keys.yaml"
check "a broken file is reported" wait_for 30 grep -q "keys file not reloaded" "$LLMO_LOG"
check "and the keys in force stay" is 404 $LATE
check "no key still gets 401" is 401

# the same file without the late tenant: its key goes
write_keys ""
check "a key removed from the file gets 401" wait_for 30 is 401 $LATE
check "the others still pass" is 404 $KEY

# SIGHUP reads the file again even when nothing the watcher looks at changed: the late key is
# swapped in place for another of the same length, with the file's times put back
HUP=sk-hupk-0123456789
write_keys "  - name: late
    keys: [$LATE]"
check "the late key passes again" wait_for 30 is 404 $LATE
check "swap the key in place (same inode, size and times)" /usr/bin/python3 - "$D/keys.yaml" "$LATE" "$HUP" <<'PY'
import os, sys
path, old, new = sys.argv[1:]
st = os.stat(path)
with open(path, "r+b") as f:
    data = f.read()
    assert len(old) == len(new) and old.encode() in data
    f.seek(0)
    f.write(data.replace(old.encode(), new.encode()))
os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
after = os.stat(path)
assert (after.st_ino, after.st_size, after.st_mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns)
PY
check "unseen by the watcher, the new key gets 401" is 401 $HUP
kill -HUP "$LLMO_PID"
check "after SIGHUP the new key passes" wait_for 10 is 404 $HUP
check "and the swapped-out key gets 401" is 401 $LATE
check "the server logs the reload" grep -q "SIGHUP: the gateway's keys file was reloaded" "$LLMO_LOG"
check "and keeps serving" curl -sf --max-time 10 "$GW/v1/models"
