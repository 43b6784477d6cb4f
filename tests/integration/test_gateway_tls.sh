#!/usr/bin/env bash
# `llmo gateway --tls-cert --tls-key`: HTTPS to the clients (a self-signed
# certificate made here), plain HTTP to an inference-sim backend. Answers
# whole and streamed come through; a plain-HTTP client on the TLS port gets a
# clean refusal and the gateway stays up; missing, unreadable and mismatched
# files are errors that name the file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway_lib.sh"

D=$LLMO_DATA
mkcert() { # mkcert NAME: NAME.crt and NAME.key, self-signed for 127.0.0.1
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
		-addext "subjectAltName=IP:127.0.0.1" \
		-keyout "$D/$1.key" -out "$D/$1.crt" >/dev/null 2>&1
}
mkcert gw
mkcert other

sim_start --model llama2:7b --ttft-base 0 --ttft-per-token 0 --itl 20ms
backends_one llama2:7b "127.0.0.1:${SIM_PORTS[0]}"
gateway_start --tls-cert "$D/gw.crt" --tls-key "$D/gw.key"
[[ "$GW_URL" == https://127.0.0.1:* ]] && ok || bad "listening line: $GW_URL"
T=("${C[@]}" --cacert "$D/gw.crt")

# ---- requests over TLS, verified against the certificate ----
[ "$("${T[@]}" -o /dev/null -w '%{http_code}' "$GW_URL/healthz")" = 200 ] && ok || bad "/healthz over TLS"
check "a chat completion over TLS" bash -c "${T[*]} -f -H '$J' -d '$(chat llama2:7b)' \
	$GW_URL/v1/chat/completions | $PY -c '
import json, sys
o = json.load(sys.stdin)
assert o[\"model\"] == \"llama2:7b\", o
assert o[\"choices\"][0][\"message\"][\"content\"], o'"
check "an SSE stream over TLS: every event, then [DONE]" bash -c "${T[*]} -f -N -H '$J' \
	-d '$(chat llama2:7b '"stream":true')' $GW_URL/v1/chat/completions >$D/sse
	[ \$(grep -c '^data: ' $D/sse) = 6 ] && grep '^data: ' $D/sse | tail -n 1 | grep -qxF 'data: [DONE]'"
check "keep-alive: three requests on one TLS connection" bash -c "${T[*]} -f -o /dev/null -o /dev/null -o /dev/null \
	-w '%{num_connects}\n' -H '$J' -d '$(chat llama2:7b)' $GW_URL/v1/chat/completions \
	$GW_URL/v1/chat/completions $GW_URL/v1/chat/completions | tr '\n' ' ' | grep -qx '1 0 0 '"
check "a body of several TLS records (30 KB) goes through" bash -c "
	$PY -c 'import json; print(json.dumps({\"model\": \"llama2:7b\", \"max_tokens\": 2,
		\"messages\": [{\"role\": \"user\", \"content\": \"x\" * 30000}]}))' >$D/big.json
	${T[*]} -f -H '$J' --data-binary @$D/big.json $GW_URL/v1/chat/completions >/dev/null"
check "an unknown model: the OpenAI 404 over TLS" bash -c "
	[ \$(${T[*]} -o /dev/null -w '%{http_code}' -H '$J' -d '$(chat gpt-4)' \
		$GW_URL/v1/chat/completions) = 404 ]"

# ---- clients that do not speak TLS, or do not trust it ----
PLAIN=${GW_URL/https:/http:}
check "plain HTTP on the TLS port: a plain 400, then the close" bash -c "
	${C[*]} -o $D/plain.body -w '%{http_code}' $PLAIN/healthz >$D/plain.code
	[ \$(cat $D/plain.code) = 400 ] && grep -q HTTPS $D/plain.body"
check "a client that does not trust the certificate fails the handshake" bash -c "
	! ${C[*]} -o /dev/null $GW_URL/healthz"
check "raw garbage and an early close do no harm" $PY - "${GW_URL##*:}" <<'EOF'
import socket, sys
port = int(sys.argv[1])
for data in (b"\x16\x03\x01\x00\x05hello", b"\x16", b""):  # a broken hello, a cut one, nothing
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    s.settimeout(10)
    while s.recv(4096):
        pass
    s.close()
EOF
check "the gateway is still up and serving TLS" bash -c "${T[*]} -f -H '$J' -d '$(chat llama2:7b)' \
	$GW_URL/v1/chat/completions >/dev/null"
kill -0 "$GW_PID" && ok || bad "the gateway died"
gateway_stop

# ---- bad files: each error names the file ----
bad_files() { # bad_files DESCRIPTION FILE-TO-NAME CERT KEY
	"$LLMO" gateway --listen 127.0.0.1:0 --backends "$D/backends.yaml" \
		--tls-cert "$3" --tls-key "$4" >/dev/null 2>"$D/bad.err"
	local rc=$?
	[ $rc -eq 1 ] && grep -qF "$2" "$D/bad.err" && ok ||
		bad "$1: want exit 1 naming $2, got $rc: $(cat "$D/bad.err")"
}
bad_files "a missing certificate" "$D/none.crt" "$D/none.crt" "$D/gw.key"
bad_files "a missing key" "$D/none.key" "$D/gw.crt" "$D/none.key"
bad_files "a key that is no PEM" "$D/backends.yaml" "$D/gw.crt" "$D/backends.yaml"
bad_files "a certificate that is no PEM" "$D/backends.yaml" "$D/backends.yaml" "$D/gw.key"
bad_files "a key of another certificate" "$D/other.key" "$D/gw.crt" "$D/other.key"
if [ "$(id -u)" != 0 ]; then
	cp "$D/gw.key" "$D/locked.key" && chmod 000 "$D/locked.key"
	bad_files "an unreadable key" "$D/locked.key" "$D/gw.crt" "$D/locked.key"
fi
"$LLMO" gateway --listen 127.0.0.1:0 --backends "$D/backends.yaml" --tls-cert "$D/gw.crt" \
	>/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "--tls-cert without --tls-key: want exit 2"
finish
