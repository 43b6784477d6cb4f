#!/usr/bin/env bash
# Pulls from a registry that sends blob reads to its storage, as registries on S3 or behind a
# CDN do (a 307 to a signed URL): `llmo model pull` and `llmo fetch` follow the redirect, get
# every file right, and do not send their token to the storage host. Set-up: llmo registry
# with a token; in front of it a stub (python3) that passes manifests and the rest through and
# answers every blob GET with a 307 to a "storage" server on another port, which reads the blob
# from the registry with its own credentials (as a signed URL carries them) and records the
# Authorization each request brought.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
unset KUBECONFIG LLMO_REGISTRY_TOKEN LLMO_REGISTRY_CREDS
free_port() { $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

TOKEN=tok-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s ci repository:*:pull,push\n' "$TOKEN" >"$LLMO_DATA/tokens"
chmod 600 "$LLMO_DATA/tokens"
registry_start "$LLMO_DATA/store" --tokens "$LLMO_DATA/tokens" --anonymous none
trap 'kill "${REG_PID:-}" "${STUB_PID:-}" 2>/dev/null; rm -rf "$LLMO_DATA"' EXIT
REG=$URL
mkmodel "$LLMO_DATA/model" 700000
head -c 5000 /dev/urandom >"$LLMO_DATA/model/tokenizer.bin"
check "push to the registry" "$LLMO" model push "$LLMO_DATA/model" --name models/r --version 1 \
	--registry "$REG" --token "$TOKEN"

FRONT=$(free_port)
STORE=$(free_port)
cat >"$LLMO_DATA/stub.py" <<'PY'
import http.server, sys, threading, urllib.error, urllib.request

reg, front, store, token, log = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
lock = threading.Lock()

def record(line):
    with lock, open(log, "a") as f:
        f.write(line + "\n")

def relay(h, url, headers):
    req = urllib.request.Request(url, method=h.command, headers=headers)
    try:
        r = urllib.request.urlopen(req)
        status, body, hdrs = r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        status, body, hdrs = e.code, e.read(), e.headers
    h.send_response(status)
    for k in ("Content-Type", "Docker-Content-Digest", "WWW-Authenticate", "Link"):
        if hdrs.get(k):
            h.send_header(k, hdrs[k])
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    if h.command == "GET":
        h.wfile.write(body)

class Front(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def handle_one(self):
        auth = self.headers.get("Authorization")
        record("front %s %s auth=%s" % (self.command, self.path, "yes" if auth else "no"))
        if self.command == "GET" and "/blobs/sha256:" in self.path:
            self.send_response(307)
            self.send_header("Location", "http://127.0.0.1:%d%s?X-Signature=abc" % (store, self.path))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        relay(self, reg + self.path, {"Authorization": auth} if auth else {})

    do_GET = do_HEAD = handle_one

class Store(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        record("store GET %s auth=%s" % (self.path, "yes" if self.headers.get("Authorization") else "no"))
        path = self.path.split("?")[0]
        headers = {"Authorization": "Bearer " + token}
        if self.headers.get("Range"):
            headers["Range"] = self.headers["Range"]
        relay(self, reg + path, headers)

for port, h in ((store, Store), (front, Front)):
    s = http.server.ThreadingHTTPServer(("127.0.0.1", port), h)
    threading.Thread(target=s.serve_forever, daemon=True).start()
threading.Event().wait()
PY
$PY "$LLMO_DATA/stub.py" "$REG" "$FRONT" "$STORE" "$TOKEN" "$LLMO_DATA/stub.log" &
STUB_PID=$!
FURL=http://127.0.0.1:$FRONT
wait_for 10 bash -c "curl -s -o /dev/null -w '%{http_code}' '$FURL/v2/' | grep -q 401" || bad "the stub did not start"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
	"$FURL/v2/models/r/blobs/sha256:$(sha256sum "$LLMO_DATA/model/weights.bin" | cut -d' ' -f1)")
[ "$code" = 307 ] && ok || bad "the stub's blob GET answered $code, not 307"

check "pull through the redirects" "$LLMO" model pull models/r:1 --output "$LLMO_DATA/pulled" \
	--registry "$FURL" --token "$TOKEN"
for f in weights.bin config.json tokenizer.bin; do
	cmp -s "$LLMO_DATA/model/$f" "$LLMO_DATA/pulled/$f" && ok || bad "pulled $f differs"
done
check "llmo fetch through the redirects" "$LLMO" fetch "127.0.0.1:$FRONT/models/r:1" --plain-http \
	--cache-dir "$LLMO_DATA/cache" --token "$TOKEN" --progress none
dir=$(tail -1 "$LLMO_DATA/out")
cmp -s "$LLMO_DATA/model/weights.bin" "$dir/weights.bin" && ok || bad "fetched weights differ ($dir)"
# the blobs came from the storage host, which never saw the token; the registry saw it
n=$(grep -c '^store GET .* auth=no$' "$LLMO_DATA/stub.log")
[ "$n" -ge 6 ] && ok || bad "$n blob reads at the storage host: $(cat "$LLMO_DATA/stub.log")"
grep -q '^store GET .* auth=yes$' "$LLMO_DATA/stub.log" &&
	bad "the token went to the storage host: $(grep 'auth=yes' "$LLMO_DATA/stub.log" | head -3)" || ok
grep -q '^front GET /v2/models/r/manifests/1 auth=yes$' "$LLMO_DATA/stub.log" && ok ||
	bad "the registry did not get the token: $(head -5 "$LLMO_DATA/stub.log")"
kill "$STUB_PID"
registry_stop
trap - EXIT
finish
