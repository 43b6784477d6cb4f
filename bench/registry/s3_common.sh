# Shared by bench/registry/s3.sh, s3_stall.sh and s3_record_stall.sh (sourced): the work directory
# W, removed at exit with the registry (PID), s3rver (S3PID) and the proxy (PXPID) stopped;
# s3rver 3.7.1 on loopback with a bucket "bench", and `llmo registry` started on a free port.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
S3RVER=$PWD/.cache/s3rver/node_modules/.bin/s3rver
[ -x "$S3RVER" ] || { echo "no s3rver: run scripts/setup.sh --tests" >&2; exit 1; }
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
W=$(mktemp -d)
PID= S3PID= PXPID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; [ -n "$S3PID" ] && kill "$S3PID" 2>/dev/null;
      [ -n "$PXPID" ] && kill "$PXPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"' EXIT

s3rver_start() { # sets S3URL and S3PID
	: >"$W/s3.out"
	NODE_OPTIONS=--openssl-legacy-provider node "$S3RVER" -d "$W/s3" -a 127.0.0.1 -p 0 --silent \
		--configure-bucket bench >"$W/s3.out" 2>&1 &
	S3PID=$!
	for _ in $(seq 1 200); do grep -q 'listening on' "$W/s3.out" && break; sleep 0.05; done
	S3URL=http://$(sed -n 's/^S3rver listening on //p' "$W/s3.out")
}
proxy_start() { # proxy_start RATE [DELAY]: tests/integration/slow_proxy.py before s3rver; sets PXURL, PXPID
	: >"$W/proxy.out"
	python3 tests/integration/slow_proxy.py 127.0.0.1 "${S3URL##*:}" "$@" >"$W/proxy.out" 2>&1 &
	PXPID=$!
	for _ in $(seq 1 200); do grep -q 'listening on' "$W/proxy.out" && break; sleep 0.05; done
	PXURL=http://127.0.0.1:$(sed -n 's/^listening on //p' "$W/proxy.out")
}
s3_config() { # s3_config ENDPOINT [PREFIX]: $W/s3.yaml, storageType s3 on bucket "bench"
	printf 'modelRegistry:\n  storageType: s3\n  s3:\n    endpoint: %s\n    bucket: bench\n' "$1" >"$W/s3.yaml"
	[ -z "${2:-}" ] || printf '    prefix: %s\n' "$2" >>"$W/s3.yaml"
}
start_registry() { # start_registry LLMO ARGS...: a registry on a free port; sets U and PID
	: >"$W/out" # there before the registry opens it, for the first sed below
	"$1" registry --listen 127.0.0.1:0 "${@:2}" --anonymous '*' >"$W/out" 2>>"$W/log" &
	PID=$!
	U=
	for _ in $(seq 1 400); do
		U=$(sed -n 's/^llmo registry listening on //p' "$W/out")
		[ -n "$U" ] && return 0
		sleep 0.05
	done
	echo "registry did not start" >&2; tail "$W/log" >&2; exit 1
}
stop() { kill "$PID"; wait "$PID" || true; PID=; }
stall_report() { # stall_report WHAT: the medians of $W/before and $W/after ("V2_S WHAT_S" lines)
	local bv av bp ap
	bv=$(cut -d' ' -f1 "$W/before" | median) av=$(cut -d' ' -f1 "$W/after" | median)
	bp=$(cut -d' ' -f2 "$W/before" | median) ap=$(cut -d' ' -f2 "$W/after" | median)
	echo "medians: /v2/ before ${bv}s after ${av}s (after/before $(python3 -c "print('%.5f' % ($av / $bv))"));" \
		"$1 before ${bp}s after ${ap}s (after/before $(python3 -c "print('%.2f' % ($ap / $bp))"))"
}
