#!/usr/bin/env bash
# Benchmark of `llmo registry` against Debian's docker-registry (distribution
# 2.8), side by side in one run: skopeo pushes a model of SIZE_MB (one layer of
# random bytes) from a dir: layout to each registry over loopback, then pulls it
# back into a dir:, ROUNDS times each, alternating the registries. Each push
# goes to an empty store (a restarted registry), so the bytes travel every
# time. After each skopeo pull, curl pulls the layer alone (GET of the blob,
# to /dev/null): the registry's own rate without skopeo's hashing and copying.
# Prints MB/s (10^6 bytes) of the medians, the llmo/docker-registry ratios,
# and the SHA-256 rate of `openssl speed` (measured in the same run) as the
# limit a verifying registry works under. With NOVERIFY=1 (the default) a third
# registry takes part: llmo with --checksum-validation false, which hashes
# nothing it serves; and each skopeo pull's CPU time (user + system) is taken,
# so the run shows what bounds a skopeo pull (skopeo's own core, or the
# registry). See bench/README.md.
#
# Usage: bench/registry/run.sh            (from anywhere; about 3 minutes)
# Settings (environment):
#   SIZE_MB=1024    size of the model's one file (MiB)
#   ROUNDS=3        pushes and pulls per registry
#   BUILDDIR=build-bench   where llmo is built (RelWithDebInfo, no sanitizers)
#   NOVERIFY=1      also llmo without verification on read (0: only the two)
# Installs what is missing: scripts/setup.sh --tests (skopeo), then Debian's
# docker-registry (not needed by the tests, only here).
set -euo pipefail

cd "$(dirname "$0")/../.."
SIZE_MB=${SIZE_MB:-1024}
ROUNDS=${ROUNDS:-3}
BUILDDIR=${BUILDDIR:-build-bench}
NOVERIFY=${NOVERIFY:-1}
SIDES=(llmo docker)
if [ "$NOVERIFY" = 1 ]; then SIDES+=(llmo-nv); fi

# ---- what it needs ------------------------------------------------------------
scripts/setup.sh --tests
. bench/lib.sh
need docker-registry docker-registry

# ---- build (optimised, no sanitizers) -------------------------------------------
cmake -S . -B "$BUILDDIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILDDIR" -j"$(nproc)" --target llmo >/dev/null
LLMO=$PWD/$BUILDDIR/llmo

# ---- helpers --------------------------------------------------------------------
WORK=$(mktemp -d)
PID=
stop() {
	if [ -n "$PID" ]; then
		kill "$PID" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
	fi
	PID=
}
trap 'stop; rm -rf "$WORK"' EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() {
	for _ in $(seq 1 200); do
		curl -sf "$1" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "bench: $1 does not answer" >&2; return 1
}
now() { date +%s.%N; }
SKOPEO=(skopeo --insecure-policy copy -q)

start() { # llmo|llmo-nv|docker: a registry on an empty store; sets HOSTPORT
	local port
	stop
	rm -rf "$WORK/store"
	mkdir -p "$WORK/store"
	port=$(free_port)
	HOSTPORT=127.0.0.1:$port
	if [ "$1" != docker ]; then
		local verify=true
		if [ "$1" = llmo-nv ]; then verify=false; fi
		"$LLMO" registry --listen "$HOSTPORT" --storage "$WORK/store" --anonymous '*' \
			--checksum-validation "$verify" >/dev/null 2>"$WORK/llmo.log" &
	else
		cat >"$WORK/docker.yml" <<EOF
version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: $WORK/store}
  delete: {enabled: true}
http: {addr: "$HOSTPORT"}
EOF
		docker-registry serve "$WORK/docker.yml" >/dev/null 2>"$WORK/docker.log" &
	fi
	PID=$!
	wait_http "http://$HOSTPORT/v2/"
}

# ---- the model: an OCI manifest, a config and one layer of random bytes --------------
# (llmo's model file media type: skopeo copies it as it is; a tar layer it would gzip)
SRC=$WORK/src
mkdir -p "$SRC"
echo "bench: making a ${SIZE_MB} MiB model"
head -c $((SIZE_MB << 20)) /dev/urandom >"$SRC/layer"
LAYER=$(sha256sum "$SRC/layer" | cut -d' ' -f1)
mv "$SRC/layer" "$SRC/$LAYER"
printf '{"name":"bench","version":"1"}' >"$SRC/config"
CFG=$(sha256sum "$SRC/config" | cut -d' ' -f1)
mv "$SRC/config" "$SRC/$CFG"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.llmo.model.file.v1","digest":"sha256:%s","size":%d}]}' \
	"$CFG" "$(stat -c %s "$SRC/$CFG")" "$LAYER" $((SIZE_MB << 20)) >"$SRC/manifest.json"
printf 'Directory Transport Version: 1.1\n' >"$SRC/version"
BYTES=$((SIZE_MB << 20))

# ---- rounds, alternating -------------------------------------------------------------
declare -A PUSH PULL CURL BUSY
TIMEFORMAT='%U %S'
for r in $(seq 1 "$ROUNDS"); do
	for side in "${SIDES[@]}"; do
		start "$side"
		t0=$(now)
		"${SKOPEO[@]}" --dest-tls-verify=false "dir:$SRC" "docker://$HOSTPORT/bench/model:1"
		t1=$(now)
		rm -rf "$WORK/dst"
		# skopeo's CPU time over the pull's wall time: near 1, one core of skopeo's is the bound
		{ time "${SKOPEO[@]}" --src-tls-verify=false "docker://$HOSTPORT/bench/model:1" "dir:$WORK/dst"; } \
			2>"$WORK/cpu"
		t2=$(now)
		busy=$(awk -v w="$(echo "$t2 - $t1" | bc -l)" '{ print ($1 + $2) / w }' "$WORK/cpu")
		BUSY[$side]+="$busy "
		cmp -s "$WORK/dst/$LAYER" "$SRC/$LAYER" || { echo "bench: $side pulled other bytes" >&2; exit 1; }
		# curl: the layer alone, one connection, plain HTTP (llmo verifies it as it sends)
		c=$(curl -sf -o /dev/null -w '%{speed_download}' "http://$HOSTPORT/v2/bench/model/blobs/sha256:$LAYER")
		CURL[$side]+="$(echo "$c / 1000000" | bc -l) "
		PUSH[$side]+="$(echo "$BYTES / ($t1 - $t0) / 1000000" | bc -l) "
		PULL[$side]+="$(echo "$BYTES / ($t2 - $t1) / 1000000" | bc -l) "
		printf 'round %d %-7s push %7.1f MB/s  pull %7.1f MB/s (skopeo CPU %.2f of it)  curl pull %7.1f MB/s\n' \
			"$r" "$side" "$(echo "$BYTES / ($t1 - $t0) / 1000000" | bc -l)" \
			"$(echo "$BYTES / ($t2 - $t1) / 1000000" | bc -l)" "$busy" "$(echo "$c / 1000000" | bc -l)"
	done
done
stop

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
lp=$(echo "${PUSH[llmo]}" | median) dp=$(echo "${PUSH[docker]}" | median)
ll=$(echo "${PULL[llmo]}" | median) dl=$(echo "${PULL[docker]}" | median)
lc=$(echo "${CURL[llmo]}" | median) dc=$(echo "${CURL[docker]}" | median)
lb=$(echo "${BUSY[llmo]}" | median) db=$(echo "${BUSY[docker]}" | median)
# openssl speed: the last column is 16 KiB blocks, in thousands of bytes per second
sha=$(openssl speed -seconds 2 -bytes 16384 sha256 2>/dev/null | awk '/^sha256/ {v=$NF} END {sub(/k$/, "", v); print v * 1000 / 1000000}')

echo
echo "model: ${SIZE_MB} MiB, ${ROUNDS} rounds, skopeo $(skopeo --version | awk '{print $3}'), $(docker-registry --version 2>/dev/null | awk '{print $NF}' || true) docker-registry, medians:"
printf '%-18s %12s %12s %16s %18s\n' "" "push MB/s" "pull MB/s" "curl pull MB/s" "skopeo CPU / pull"
printf '%-18s %12.1f %12.1f %16.1f %18.2f\n' "llmo registry" "$lp" "$ll" "$lc" "$lb"
printf '%-18s %12.1f %12.1f %16.1f %18.2f\n' "docker-registry" "$dp" "$dl" "$dc" "$db"
if [ "$NOVERIFY" = 1 ]; then
	np=$(echo "${PUSH[llmo-nv]}" | median) nl=$(echo "${PULL[llmo-nv]}" | median)
	nc=$(echo "${CURL[llmo-nv]}" | median) nb=$(echo "${BUSY[llmo-nv]}" | median)
	printf '%-18s %12.1f %12.1f %16.1f %18.2f\n' "llmo, no verify" "$np" "$nl" "$nc" "$nb"
fi
printf '%-18s %12.2f %12.2f %16.2f\n' "ratio llmo/dr" "$(echo "$lp / $dp" | bc -l)" "$(echo "$ll / $dl" | bc -l)" \
	"$(echo "$lc / $dc" | bc -l)"
if [ "$NOVERIFY" = 1 ]; then
	printf '%-18s %12.2f %12.2f %16.2f\n' "ratio llmo/no ver." "$(echo "$lp / $np" | bc -l)" \
		"$(echo "$ll / $nl" | bc -l)" "$(echo "$lc / $nc" | bc -l)"
fi
printf 'SHA-256 (openssl speed, one core, 16 KiB blocks): %.1f MB/s; llmo pull = %.0f%% of it (skopeo), %.0f%% (curl)\n' \
	"$sha" "$(echo "100 * $ll / $sha" | bc -l)" "$(echo "100 * $lc / $sha" | bc -l)"
printf 'goals: push >= docker-registry: %s; pull >= docker-registry: %s (curl: %s); curl pull >= 80%% of SHA-256: %s\n' \
	"$(echo "$lp >= $dp" | bc -l | sed 's/1/met/;s/0/NOT met/')" \
	"$(echo "$ll >= $dl" | bc -l | sed 's/1/met/;s/0/NOT met/')" \
	"$(echo "$lc >= $dc" | bc -l | sed 's/1/met/;s/0/NOT met/')" \
	"$(echo "$lc >= 0.8 * $sha" | bc -l | sed 's/1/met/;s/0/NOT met/')"
