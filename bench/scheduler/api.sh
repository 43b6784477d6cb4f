#!/usr/bin/env bash
# The live scheduler on the API path: `llmo server --disable agent,controller,gateway,registry`
# (API + scheduler), NODES fake Nodes and PODS pending one-GPU pods created through the API
# by bench/scheduler/api_bench.py; bound pods/s from the first pod create to the last
# binding seen on a watch. See bench/README.md.
#
# Usage: bench/scheduler/api.sh
# Settings (environment):
#   NODES=1000  PODS=1000  GPUS=8 (per node)  RUNS=1
#   BUILDDIR=build-bench   where llmo is built (RelWithDebInfo, no sanitizers)
#   LLMO=path              use this llmo binary instead of building one
# Writes nothing into the repository but the build directory.
set -euo pipefail

cd "$(dirname "$0")/../.."
NODES=${NODES:-1000}
PODS=${PODS:-1000}
GPUS=${GPUS:-8}
RUNS=${RUNS:-1}
BUILDDIR=${BUILDDIR:-build-bench}
if [ -z "${LLMO:-}" ]; then
	cmake -S . -B "$BUILDDIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLMO_SANITIZE=OFF \
		-DLLMO_FUZZ=OFF -DLLMO_TESTS=OFF >/dev/null
	cmake --build "$BUILDDIR" -j"$(nproc)" --target llmo >/dev/null
	LLMO=$PWD/$BUILDDIR/llmo
fi

WORK=$(mktemp -d)
PID=
cleanup() {
	if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

echo "bench: $NODES nodes x $GPUS GPUs, $PODS pods of 1 GPU, $(nproc) CPUs, $RUNS run(s)"
for run in $(seq 1 "$RUNS"); do
	DIR=$WORK/run$run
	mkdir -p "$DIR"
	: >"$DIR/stdout"
	"$LLMO" server --data-dir "$DIR" --listen 127.0.0.1:0 --insecure-http --log-level warn \
		--disable agent,controller,gateway,registry >"$DIR/stdout" 2>"$DIR/log" &
	PID=$!
	URL=
	for _ in $(seq 1 200); do
		URL=$(sed -n 's/^llmo server listening on //p' "$DIR/stdout")
		[ -n "$URL" ] && break
		kill -0 "$PID" 2>/dev/null || { cat "$DIR/log"; exit 1; }
		sleep 0.05
	done
	[ -n "$URL" ] || { echo "bench: llmo server did not start" >&2; exit 1; }
	python3 bench/scheduler/api_bench.py --url "$URL" --token-file "$DIR/token" \
		--nodes "$NODES" --pods "$PODS" --gpus "$GPUS" --server-pid "$PID"
	kill "$PID"
	wait "$PID" || true
	PID=
done
