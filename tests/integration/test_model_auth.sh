#!/usr/bin/env bash
# `llmo model` and `llmo fetch` with a user name and password (--creds, --creds-file,
# $LLMO_REGISTRY_CREDS): against Debian's docker-registry with htpasswd users (the
# registry asks for Basic), and against llmo registry with tokens (a Bearer challenge:
# the client gets a token from the realm for its credentials, Docker's token protocol).
# Missing, wrong and malformed credentials fail with messages that say so; an https registry
# naming a plain-http realm does not get them.
. "$(dirname "$0")/lib.sh"
unset KUBECONFIG LLMO_REGISTRY_TOKEN LLMO_REGISTRY_CREDS
command -v htpasswd >/dev/null 2>&1 || { echo "htpasswd missing: run scripts/setup.sh --tests"; exit 1; }

htpasswd -Bbn alice 's3cret:with:colons' >"$LLMO_DATA/htpasswd" 2>/dev/null || bad "htpasswd"
docker_registry_start "auth: {htpasswd: {realm: llmo-test, path: $LLMO_DATA/htpasswd}}"
trap 'kill "$DR_PID" "${REG_PID:-}" "${STUB_PID:-}" 2>/dev/null; rm -rf "$LLMO_DATA"' EXIT
code=$(curl -s -o /dev/null -w '%{http_code}' "$DR_URL/v2/")
[ "$code" = 401 ] && ok || bad "docker-registry without credentials answered $code"

M=(env LLMO_REGISTRY="$DR_URL" "$LLMO" model)
mkmodel "$LLMO_DATA/model" 300000
# fails MESSAGE COMMAND...: the command fails and its output holds MESSAGE
fails() {
	local msg=$1; shift
	if "$@" >"$LLMO_DATA/out" 2>&1; then bad "succeeded: $*"
	elif grep -qF -- "$msg" "$LLMO_DATA/out"; then ok
	else bad "$*: $(cat "$LLMO_DATA/out")"; fi
}
fails "the registry asks for a user name and password (--creds): HEAD $DR_URL/v2/models/a/blobs/" \
	"${M[@]}" push "$LLMO_DATA/model" --name models/a --version 1
fails "the registry refused the user name and password: HEAD $DR_URL/v2/models/a/blobs/" \
	"${M[@]}" push "$LLMO_DATA/model" --name models/a --version 1 --creds alice:wrong
fails "--creds: want USER:PASSWORD" "${M[@]}" list --creds alice
fails "--creds: want USER:PASSWORD" "${M[@]}" list --creds :pw
check "push with --creds (the password holds colons)" \
	"${M[@]}" push "$LLMO_DATA/model" --name models/a --version 1 --creds 'alice:s3cret:with:colons'
check "list with \$LLMO_REGISTRY_CREDS" bash -c "LLMO_REGISTRY_CREDS='alice:s3cret:with:colons' \
	LLMO_REGISTRY='$DR_URL' '$LLMO' model list | grep -qx models/a"
printf 'alice:s3cret:with:colons\r\n' >"$LLMO_DATA/creds"
check "pull with --creds-file" "${M[@]}" pull models/a:1 --output "$LLMO_DATA/pulled" \
	--creds-file "$LLMO_DATA/creds"
cmp -s "$LLMO_DATA/model/weights.bin" "$LLMO_DATA/pulled/weights.bin" && ok || bad "pulled weights differ"
HOSTREF=${DR_URL#http://}/models/a:1
check "llmo fetch with --creds-file" "$LLMO" fetch "$HOSTREF" --plain-http \
	--cache-dir "$LLMO_DATA/cache" --creds-file "$LLMO_DATA/creds" --progress none
dir=$(tail -1 "$LLMO_DATA/out")
cmp -s "$LLMO_DATA/model/weights.bin" "$dir/weights.bin" && ok || bad "fetched weights differ ($dir)"
fails "$LLMO_DATA/nocolon: want USER:PASSWORD" bash -c "echo alice >'$LLMO_DATA/nocolon'; \
	'$LLMO' fetch '$HOSTREF' --plain-http --cache-dir '$LLMO_DATA/cache2' --creds-file '$LLMO_DATA/nocolon'"
fails "the registry asks for a user name and password (--creds)" "$LLMO" fetch "$HOSTREF" \
	--plain-http --cache-dir "$LLMO_DATA/cache3"
kill "$DR_PID" && wait "$DR_PID" 2>/dev/null # a Go server ends by the signal

# llmo registry with a token: the Bearer challenge's realm hands it out for the credentials
TOKEN=tok-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s ci repository:models/*:pull,push\n' "$TOKEN" >"$LLMO_DATA/tokens"
chmod 600 "$LLMO_DATA/tokens"
registry_start "$LLMO_DATA/store" --tokens "$LLMO_DATA/tokens" --anonymous none
M=(env LLMO_REGISTRY="$URL" "$LLMO" model)
fails "the registry asks for credentials (--creds or --token): getting a token for repository:models/b:pull: GET $URL/token?service=llmo-registry&scope=repository%3Amodels%2Fb%3Apull: HTTP 401" \
	"${M[@]}" push "$LLMO_DATA/model" --name models/b --version 1
fails "getting a token for repository:models/b:pull: GET $URL/token?" \
	"${M[@]}" push "$LLMO_DATA/model" --name models/b --version 1 --creds any:not-the-token-at-all
check "push with --creds (a token from the realm)" \
	"${M[@]}" push "$LLMO_DATA/model" --name models/b --version 1 --creds "any:$TOKEN"
check "pull with --creds" "${M[@]}" pull models/b:1 --output "$LLMO_DATA/pulled-b" --creds "any:$TOKEN"
cmp -s "$LLMO_DATA/model/weights.bin" "$LLMO_DATA/pulled-b/weights.bin" && ok || bad "pulled weights differ"
check "the token itself still works (--token)" bash -c "LLMO_REGISTRY='$URL' '$LLMO' model list \
	--token '$TOKEN' | grep -qx models/b"
registry_stop

# an https registry that names a plain-http realm: the credentials are not sent there
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$LLMO_DATA/stub.key" -out "$LLMO_DATA/stub.crt" \
	2>/dev/null || bad "openssl req"
SPORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$LLMO_DATA/tls_stub.py" <<'PY'
import http.server, ssl, sys

port, crt, key, log = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]

class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        with open(log, "a") as f:
            f.write("%s auth=%s\n" % (self.path, "yes" if self.headers.get("Authorization") else "no"))
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Bearer realm="http://127.0.0.1:%d/token",service="s"' % port)
        self.send_header("Content-Length", "0")
        self.end_headers()

s = http.server.HTTPServer(("127.0.0.1", port), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(crt, key)
s.socket = ctx.wrap_socket(s.socket, server_side=True)
s.serve_forever()
PY
/usr/bin/python3 "$LLMO_DATA/tls_stub.py" "$SPORT" "$LLMO_DATA/stub.crt" "$LLMO_DATA/stub.key" \
	"$LLMO_DATA/tls_stub.log" &
STUB_PID=$!
wait_for 10 curl -s --cacert "$LLMO_DATA/stub.crt" -o /dev/null "https://127.0.0.1:$SPORT/v2/" ||
	bad "the TLS stub did not start"
fails "the registry asks for a token from http://127.0.0.1:$SPORT/token, plain http: the user name and password are not sent there in the clear" \
	"$LLMO" model list --registry "https://127.0.0.1:$SPORT" --cacert "$LLMO_DATA/stub.crt" --creds alice:pw
grep -q 'auth=yes' "$LLMO_DATA/tls_stub.log" && bad "credentials sent: $(cat "$LLMO_DATA/tls_stub.log")" || ok
kill "$STUB_PID"
trap - EXIT
finish
