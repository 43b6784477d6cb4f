#!/usr/bin/env bash
# The raw rate of `llmo registry` without skopeo: curl pushes a blob of
# SIZE_MB random bytes (POST a session, PUT the file with ?digest=) and pulls
# it back PULLS times, over loopback, plain HTTP or TLS (a throwaway
# self-signed certificate). Prints MB/s (10^6 bytes) of each transfer and the
# registry's CPU time (user + system, from /proc/PID/stat) it took, which a
# loaded machine disturbs less than the wall time. See docs/registry.md.
#
# Usage: bench/registry/curl.sh LLMO [plain|tls]
# Settings (environment): SIZE_MB=1024, PULLS=3, BLOB=FILE (use this file
# instead of making one)
set -euo pipefail
LLMO=$1
MODE=${2:-plain}
SIZE_MB=${SIZE_MB:-1024}
PULLS=${PULLS:-3}

W=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"' EXIT
B=${BLOB:-$W/blob}
[ -n "${BLOB:-}" ] || head -c $((SIZE_MB << 20)) /dev/urandom >"$B"
BYTES=$(stat -c %s "$B")
D=sha256:$(sha256sum "$B" | cut -d' ' -f1)
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
TLS=()
SCHEME=http
C=(curl -s)
if [ "$MODE" = tls ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/k.pem" \
		-out "$W/c.pem" -days 1 -subj /CN=127.0.0.1 2>/dev/null
	TLS=(--tls-cert "$W/c.pem" --tls-key "$W/k.pem")
	SCHEME=https
	C+=(-k)
fi
"$LLMO" registry --listen "127.0.0.1:$PORT" --storage "$W/store" --anonymous '*' "${TLS[@]}" \
	>/dev/null 2>"$W/log" &
PID=$!
U=$SCHEME://127.0.0.1:$PORT
for _ in $(seq 1 200); do "${C[@]}" -f "$U/v2/" >/dev/null && break; sleep 0.05; done
cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
tick=$(getconf CLK_TCK)
report() { # report WHAT CURL-OUTPUT CPU0
	local code secs
	read -r code secs <<<"$2"
	printf '%s %s %6.1f MB/s  registry CPU %5d ms  (HTTP %s)\n' "$MODE" "$1" \
		"$(echo "$BYTES / $secs / 1000000" | bc -l)" $((($(cpu) - $3) * 1000 / tick)) "$code"
}
LOC=$("${C[@]}" -X POST -D - -o /dev/null "$U/v2/bench/blob/blobs/uploads/" |
	tr -d '\r' | awk 'tolower($1) == "location:" {print $2}')
c0=$(cpu)
out=$("${C[@]}" -o /dev/null -w '%{http_code} %{time_total}' -T "$B" "$U$LOC?digest=$D")
report push "$out" "$c0"
for _ in $(seq 1 "$PULLS"); do
	c0=$(cpu)
	out=$("${C[@]}" -o /dev/null -w '%{http_code} %{time_total}' "$U/v2/bench/blob/blobs/$D")
	report pull "$out" "$c0"
done
