#!/usr/bin/env bash
# `llmo model list` on registries that answer lists in pages. Debian's
# docker-registry (distribution 2.8) splits its catalog by 100 with a Link to
# the next page: with 103 repositories every one is listed, once. A stub
# registry (python3 on loopback) answers what a registry may: the next page
# as a path or as a full URL of the same registry, a tags list of null, and
# Links that are errors (another host, the same page again, malformed), each
# reported by name.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
unset KUBECONFIG
free_port() { $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

docker_registry_start
trap 'kill "$DR_PID" "${STUB_PID:-}" 2>/dev/null; rm -rf "$LLMO_DATA"' EXIT
URL=$DR_URL

M=(env LLMO_REGISTRY="$URL" "$LLMO" model)
mkmodel "$LLMO_DATA/model" 1000
N=103
for i in $(seq 1 $N); do
	"${M[@]}" push "$LLMO_DATA/model" --name "models/m$i" --version 1 >/dev/null 2>"$LLMO_DATA/push.err" ||
		{ bad "push models/m$i: $(cat "$LLMO_DATA/push.err")"; break; }
done
# the registry pages its catalog by itself (so the test shows the client following it)
curl -sfi "$URL/v2/_catalog" -o "$LLMO_DATA/page1" && grep -qi '^link: <.*>; rel="next"' "$LLMO_DATA/page1" &&
	ok || bad "docker-registry's catalog came in one page: $(head -c 300 "$LLMO_DATA/page1")"
check "model list" "${M[@]}" list
"${M[@]}" list >"$LLMO_DATA/list" 2>&1
seq 1 $N | sed 's|^|models/m|' | sort >"$LLMO_DATA/want"
sort "$LLMO_DATA/list" | diff "$LLMO_DATA/want" - >"$LLMO_DATA/diff" && ok ||
	bad "model list is not the $N repositories: $(head -5 "$LLMO_DATA/diff")"
check "model list NAME" bash -c "LLMO_REGISTRY=$URL '$LLMO' model list models/m7 | grep -qx 'models/m7:1'"
kill "$DR_PID" && wait "$DR_PID" 2>/dev/null # a Go server ends by the signal

# the stub: pages and broken Links
SPORT=$(free_port)
SURL=http://127.0.0.1:$SPORT
cat >"$LLMO_DATA/stub.py" <<'PY'
import http.server, json, sys, urllib.parse

port = int(sys.argv[1])
me = "http://127.0.0.1:%d" % port

class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def answer(self, body, link=None):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if link:
            self.send_header("Link", link)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path == "/v2/":
            return self.answer({})
        if u.path == "/v2/_catalog":
            last = q.get("last", [""])[0]
            if last == "":  # the next page as a path (with a title holding a comma)
                return self.answer({"repositories": ["a"]},
                                   '</v2/_catalog?last=a>; title="x, y"; rel="next"')
            if last == "a":  # as a full URL of this registry, among other links
                return self.answer({"repositories": ["b", "c"]},
                                   '<%s/v2/_catalog>; rel="first", <%s/v2/_catalog?last=c>; rel=next' % (me, me))
            return self.answer({"repositories": ["d"]})
        name = u.path[len("/v2/"):-len("/tags/list")] if u.path.endswith("/tags/list") else None
        if name == "empty":
            return self.answer({"name": name, "tags": None})
        if name == "away":
            return self.answer({"name": name, "tags": ["1"]},
                               '<http://127.0.0.2:%d/v2/away/tags/list?last=1>; rel="next"' % port)
        if name == "loop":
            return self.answer({"name": name, "tags": ["1"]}, '</v2/loop/tags/list>; rel="next"')
        if name == "broken":
            return self.answer({"name": name, "tags": ["1"]}, '</v2/broken/tags/list; rel="next"')
        if name == "wrong":
            return self.answer({"name": name, "tags": "1"})
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
$PY "$LLMO_DATA/stub.py" "$SPORT" &
STUB_PID=$!
wait_for 10 curl -sf "$SURL/v2/" -o /dev/null || bad "the stub did not start"
S=(env LLMO_REGISTRY="$SURL" "$LLMO" model)
check "catalog of three pages" bash -c "[ \"\$(${S[*]} list | tr '\n' ' ')\" = 'a b c d ' ]"
check "tags: null is no tag" bash -c "[ -z \"\$(${S[*]} list empty)\" ]"
# list_error NAME MESSAGE: the list fails, saying MESSAGE
list_error() {
	if "${S[@]}" list "$1" >"$LLMO_DATA/out" 2>&1; then
		bad "list $1 succeeded: $(cat "$LLMO_DATA/out")"
	elif grep -qF "$2" "$LLMO_DATA/out"; then ok
	else bad "list $1: $(cat "$LLMO_DATA/out")"; fi
}
list_error away "GET $SURL/v2/away/tags/list: the next page (Link rel=\"next\") \"http://127.0.0.2:$SPORT/v2/away/tags/list?last=1\" is not on the registry $SURL"
list_error loop "GET $SURL/v2/loop/tags/list: the next page is this page"
list_error broken "GET $SURL/v2/broken/tags/list: malformed Link header"
list_error wrong "GET $SURL/v2/wrong/tags/list: want an object with a \"tags\" array"
kill "$STUB_PID"
trap - EXIT
finish
