# Shared by the integration tests: start `llmo server` on a free loopback
# port in a temporary directory, wait until it answers, stop it on exit.
# Needs LLMO (the binary). Sets KUBECONFIG, LLMO_DATA, LLMO_URL; the gateway and
# registry listen on free ports (their URLs: gateway_url, registry_url).
set -u
: "${LLMO:?set LLMO to the llmo binary}"
LLMO_DATA=$(mktemp -d)
LLMO_LOG="$LLMO_DATA/server.log"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { # check "description" command...
	local what=$1; shift
	if "$@" >"$LLMO_DATA/out" 2>&1; then ok; else bad "$what"; sed 's/^/    /' "$LLMO_DATA/out"; fi
}
# flip_byte FILE OFFSET: inverts the byte at OFFSET in place (a tamper that always changes the
# file: writing a fixed byte leaves it unchanged when that byte was already there).
flip_byte() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2]))
    b = f.read(1)
    f.seek(int(sys.argv[2]))
    f.write(bytes([b[0] ^ 0xFF]))
PY
}
check_fails() { # the command must fail
	local what=$1; shift
	if "$@" >"$LLMO_DATA/out" 2>&1; then bad "$what (succeeded)"; sed 's/^/    /' "$LLMO_DATA/out"; else ok; fi
}
server_stop() { # stops the server; a non-zero exit (a crash, a sanitizer report) fails the test
	local rc=0
	if [ -n "${LLMO_PID:-}" ] && kill -0 "$LLMO_PID" 2>/dev/null; then
		kill "$LLMO_PID"; wait "$LLMO_PID" 2>/dev/null; rc=$?
		if [ "$rc" -ne 0 ]; then bad "llmo server exited with status $rc:"; sed 's/^/    /' "$LLMO_LOG" | tail -40; fi
	fi
	LLMO_PID=
}
server_start() { # extra args for llmo server
	: >"$LLMO_DATA/stdout"
	"$LLMO" server --data-dir "$LLMO_DATA" --listen 127.0.0.1:0 \
		--gateway-listen 127.0.0.1:0 --registry-listen 127.0.0.1:0 "$@" \
		>"$LLMO_DATA/stdout" 2>>"$LLMO_LOG" &
	LLMO_PID=$!
	# Wait (bounded) for the announced URL, then for /healthz.
	for _ in $(seq 1 200); do
		LLMO_URL=$(sed -n 's/^llmo server listening on //p' "$LLMO_DATA/stdout")
		[ -n "$LLMO_URL" ] && break
		kill -0 "$LLMO_PID" 2>/dev/null || { echo "llmo server exited:"; cat "$LLMO_LOG"; exit 1; }
		sleep 0.05
	done
	[ -n "$LLMO_URL" ] || { echo "llmo server did not start"; cat "$LLMO_LOG"; exit 1; }
	export KUBECONFIG="$LLMO_DATA/kubeconfig"
	for _ in $(seq 1 200); do
		curl -sk "$LLMO_URL/healthz" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "llmo server does not answer /healthz"; exit 1
}
# Components a test runs beside the server: start each with `cmd & BG_PIDS+=($!)`;
# bg_stop stops them all, and a non-zero exit (a crash, a sanitizer report) fails the test.
BG_PIDS=()
bg_stop() {
	local p rc
	for p in "${BG_PIDS[@]}"; do
		kill "$p" 2>/dev/null || continue
		rc=0; wait "$p" || rc=$?
		[ "$rc" -eq 0 ] || { bad "a component (pid $p) exited with status $rc"; tail -20 "$LLMO_DATA"/*.log; }
	done
	BG_PIDS=()
}
wait_for() { # wait_for SECONDS command...: until the command succeeds (polled every 0.2 s)
	local end=$((SECONDS + $1)); shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
}
# line_value FILE PREFIX: VALUE of the last line "PREFIX VALUE" in FILE, waited for (10 s at most)
line_value() {
	local v
	for _ in $(seq 1 200); do
		v=$(sed -n "s/^$2 //p" "$1" | tail -1)
		[ -n "$v" ] && { echo "$v"; return 0; }
		sleep 0.05
	done
	return 1
}
# registry_start STORE [FLAGS...]: `llmo registry` on STORE with anonymous access to everything,
# on a free loopback port, logging to $LLMO_DATA/reg.log; sets URL and REG_PID.
# registry_stop: stops it; an exit status other than 0 fails the test.
REG_PID=
registry_start() {
	local store=$1
	shift
	: >"$LLMO_DATA/reg.out"
	"$LLMO" registry --listen 127.0.0.1:0 --storage "$store" --anonymous '*' "$@" \
		>"$LLMO_DATA/reg.out" 2>>"$LLMO_DATA/reg.log" &
	REG_PID=$!
	URL=$(line_value "$LLMO_DATA/reg.out" "llmo registry listening on") ||
		{ echo "llmo registry did not start"; cat "$LLMO_DATA/reg.log"; exit 1; }
}
registry_stop() {
	kill "$REG_PID" && wait "$REG_PID"
	local rc=$?
	[ "$rc" -eq 0 ] && ok || bad "llmo registry exited with status $rc"
	REG_PID=
}
# sim_model NAME VERSION [inference-sim flags...]: an LLMModel (namespace $NS) of llama2:VERSION
# whose replicas run `llmo inference-sim` on one machine
sim_model() {
	local name=$1 version=$2; shift 2
	local extra=""
	for a in "$@"; do extra="$extra, \"$a\""; done
	cat <<YAML
apiVersion: llm.orchestrator.io/v1
kind: LLMModel
metadata: {name: $name, namespace: $NS}
spec:
  name: llama2
  version: "$version"
  type: text-generation
  framework: vllm
  artifact: {reference: "registry.local/models/llama2:$version"}
  runtime:
    image: vllm/vllm-openai:v0.6.3
    port: 8000
    healthPath: /health
    localCommand: ["llmo", "inference-sim", "--port", "\$(PORT)", "--model", "llama2:$version", "--itl", "1ms"$extra]
  resources:
    minimum: {cpu: 100m, memory: 128Mi}
YAML
}
# announced WHAT: the URL llmo server printed as "llmo WHAT listening on URL" (the server prints
# its API line first, and the others may follow it by a moment)
announced() { line_value "$LLMO_DATA/stdout" "llmo $1 listening on"; }
# sim_workload NAME VERSION [SPEC]: an LLMWorkload (namespace $NS) serving llama2:VERSION (a
# sim_model); SPEC, YAML lines indented by two spaces, goes on in its spec
sim_workload() {
	cat <<YAML
apiVersion: llm.orchestrator.io/v1
kind: LLMWorkload
metadata: {name: $1, namespace: $NS}
spec:
  modelName: llama2
  modelVersion: $2
${3:-}
YAML
}
# admin_token: the bearer token of the kubeconfig llmo server wrote (every registry scope too)
admin_token() { sed -n 's/^ *token: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$KUBECONFIG" | head -1; }
# mkmodel DIR SIZE: a model directory with random weights of SIZE bytes and a config.json
mkmodel() {
	mkdir -p "$1"
	head -c "$2" /dev/urandom >"$1/weights.bin"
	printf '{"architectures":["LlamaForCausalLM"]}' >"$1/config.json"
}
# docker_registry_start [YAML]: Debian's docker-registry (distribution 2.8) on a free loopback
# port, its storage in $LLMO_DATA/dr (deletes allowed), YAML added to its configuration (an
# auth: section); sets DR_URL and DR_PID (stop: kill "$DR_PID")
docker_registry_start() {
	local port
	command -v docker-registry >/dev/null 2>&1 || { echo "docker-registry missing: run scripts/setup.sh --tests"; exit 1; }
	port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	DR_URL=http://127.0.0.1:$port
	cat >"$LLMO_DATA/dr.yml" <<EOF
version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: $LLMO_DATA/dr}
  delete: {enabled: true}
http: {addr: "127.0.0.1:$port"}
${1:-}
EOF
	docker-registry serve "$LLMO_DATA/dr.yml" >"$LLMO_DATA/dr.log" 2>&1 &
	DR_PID=$!
	# up: /v2/ answers (401 with auth)
	wait_for 10 bash -c "curl -s -o /dev/null -w '%{http_code}' '$DR_URL/v2/' | grep -qE '200|401'" ||
		{ bad "docker-registry did not start"; cat "$LLMO_DATA/dr.log"; }
}
gateway_url() { announced gateway; }
registry_url() { announced registry; }
finish() {
	server_stop
	echo "$pass passed, $fail failed"
	rm -rf "$LLMO_DATA"
	# finish runs as the EXIT trap, whose own status bash ignores: exit says it
	[ "$fail" -eq 0 ] || exit 1
}
