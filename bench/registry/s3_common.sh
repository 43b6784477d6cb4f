# Shared by bench/registry/s3.sh and s3_stall.sh (sourced; W is their work directory):
# s3rver 3.7.1 on loopback with a bucket "bench", and `llmo registry` started on a free port.
S3RVER=$PWD/.cache/s3rver/node_modules/.bin/s3rver
[ -x "$S3RVER" ] || { echo "no s3rver: run scripts/setup.sh --tests" >&2; exit 1; }
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER

s3rver_start() { # sets S3URL and S3PID
	: >"$W/s3.out"
	NODE_OPTIONS=--openssl-legacy-provider node "$S3RVER" -d "$W/s3" -a 127.0.0.1 -p 0 --silent \
		--configure-bucket bench >"$W/s3.out" 2>&1 &
	S3PID=$!
	for _ in $(seq 1 200); do grep -q 'listening on' "$W/s3.out" && break; sleep 0.05; done
	S3URL=http://$(sed -n 's/^S3rver listening on //p' "$W/s3.out")
}
s3_config() { # s3_config ENDPOINT: $W/s3.yaml, storageType s3 on bucket "bench"
	printf 'modelRegistry:\n  storageType: s3\n  s3:\n    endpoint: %s\n    bucket: bench\n' "$1" >"$W/s3.yaml"
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
