# Shared by the benchmarks that run a real `llmo server` on loopback
# (prefetch.sh, e2e_fluid.sh). Source it from the repository root after setting
# BENCH (the script's name, for messages) and BUILDDIR.
#
# Sets LLMO (builds it unless set) and tmp (a mktemp directory, removed on exit
# unless KEEP=1); PIDS holds the processes `stop` ends (the last started first).

if [ -z "${LLMO:-}" ]; then
	cmake -S . -B "$BUILDDIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLMO_SANITIZE=OFF \
		-DLLMO_FUZZ=OFF -DLLMO_TESTS=OFF >/dev/null
	cmake --build "$BUILDDIR" -j2 --target llmo >/dev/null
	LLMO=$BUILDDIR/llmo
fi
LLMO=$(realpath "$LLMO")
tmp=$(mktemp -d)
PIDS=
stop() { # ends what PIDS names (a server stops its replicas), newest first
	local p
	for p in $PIDS; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	PIDS=
}
cleanup() {
	stop
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
wait_for() { # SECONDS command...: until it succeeds, polled every 0.2 s
	local end=$((SECONDS + $1)); shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
}
die() { echo "$BENCH: $*" >&2; exit 1; }
# server_start DIR [llmo server flags...]: `llmo server` with its data in DIR and
# DIR/config.yaml; sets SERVER_URL, GATEWAY_URL, REGISTRY_URL, TOKEN, CA and
# KUBECONFIG, and applies the namespaces.
server_start() {
	local d=$1; shift
	"$LLMO" server --data-dir "$d" --listen 127.0.0.1:0 --gateway-listen 127.0.0.1:0 \
		--registry-listen 127.0.0.1:0 --config "$d/config.yaml" "$@" \
		>"$d/stdout" 2>"$d/server.log" &
	PIDS="$! $PIDS"
	wait_for 30 grep -q '^llmo server listening on ' "$d/stdout" || die "server did not start"
	SERVER_URL=$(sed -n 's/^llmo server listening on //p' "$d/stdout")
	wait_for 30 grep -q '^llmo registry listening on ' "$d/stdout" || die "no registry"
	wait_for 30 grep -q '^llmo gateway listening on ' "$d/stdout" || die "no gateway"
	GATEWAY_URL=$(sed -n 's/^llmo gateway listening on //p' "$d/stdout" | tail -1)
	REGISTRY_URL=$(sed -n 's/^llmo registry listening on //p' "$d/stdout" | tail -1)
	export KUBECONFIG="$d/kubeconfig"
	wait_for 30 curl -sfk "$SERVER_URL/healthz" || die "server not healthy"
	TOKEN=$(sed -n 's/^ *token: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$KUBECONFIG" | head -1)
	CA="$d/pki/ca.crt"
	kubectl apply -f k8s/llm-orchestrator/namespace.yaml >/dev/null 2>&1
}
