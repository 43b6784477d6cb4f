#!/usr/bin/env bash
# Benchmark of `llmo registry` against Debian's docker-registry (distribution
# 2.8), side by side in one run: skopeo pushes a model of SIZE_MB (one layer of
# random bytes) from a dir: layout to each registry over loopback, then pulls it
# back into a dir: twice (the first pull after the push, then a repeat),
# ROUNDS times each, alternating the registries. Each push goes to an empty
# store (a restarted registry), so the bytes travel every time. After the
# skopeo pulls, curl pulls the layer alone (GET of the blob, to /dev/null):
# the registry's own rate without skopeo's hashing and copying. The registries:
# llmo with its defaults (a blob verified whole within reverifyInterval, 1h,
# and unchanged is not hashed again: the first pull hashes it, the repeat and
# the curl pull do not), llmo with --reverify-interval 0s (every read hashed),
# docker-registry, and with NOVERIFY=1 (the default) llmo with
# --checksum-validation false (nothing hashed). Prints MB/s (10^6 bytes) of the
# medians, the ratios to docker-registry, each skopeo pull's CPU time over its
# wall time (near 1: skopeo's own core bounds the pull), and the SHA-256 rate
# of `openssl speed` (measured in the same run) as the limit of a pull that
# hashes what it sends. With NGINX=1 (the default) nginx serves the same model
# as static files (sendfile on, bench/registry/lib.sh) for the pulls only: a
# server that does nothing but send the files, the reference for what skopeo
# itself can pull on this machine; each registry's pull is also shown as a
# share of it. See bench/README.md.
#
# Usage: bench/registry/run.sh            (from anywhere; about 5 minutes)
# Settings (environment):
#   SIZE_MB=1024    size of the model's one file (MiB)
#   ROUNDS=3        pushes and pulls per registry
#   BUILDDIR=build-bench   where llmo is built (RelWithDebInfo, no sanitizers)
#   NOVERIFY=1      also llmo without verification on read (0: only the other three)
#   NGINX=1         also pulls from nginx serving the files (0: no nginx)
# Installs what is missing: scripts/setup.sh --tests (skopeo), then Debian's
# docker-registry and nginx-light (not needed by the tests, only here).
set -euo pipefail

cd "$(dirname "$0")/../.."
SIZE_MB=${SIZE_MB:-1024}
ROUNDS=${ROUNDS:-3}
BUILDDIR=${BUILDDIR:-build-bench}
NOVERIFY=${NOVERIFY:-1}
NGINX=${NGINX:-1}
SIDES=(llmo llmo-0s docker)
if [ "$NOVERIFY" = 1 ]; then SIDES+=(llmo-nv); fi
if [ "$NGINX" = 1 ]; then SIDES+=(nginx); fi

# ---- what it needs ------------------------------------------------------------
scripts/setup.sh --tests
. bench/lib.sh
. bench/registry/lib.sh
need docker-registry docker-registry
if [ "$NGINX" = 1 ]; then need nginx nginx-light; fi

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
wait_http() {
	for _ in $(seq 1 200); do
		curl -sf "$1" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "bench: $1 does not answer" >&2; return 1
}
now() { date +%s.%N; }
SKOPEO=(skopeo --insecure-policy copy -q)

start() { # llmo|llmo-0s|llmo-nv|docker|nginx: a registry on an empty store; sets HOSTPORT
	local port
	stop
	rm -rf "$WORK/store"
	mkdir -p "$WORK/store"
	port=$(free_port)
	HOSTPORT=127.0.0.1:$port
	if [ "$1" = nginx ]; then
		chmod 755 "$WORK" # nginx's worker runs as nobody when the script runs as root
		nginx_registry "$WORK/nginx" "$HOSTPORT" "$SRC" bench/model 1
		nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" 2>"$WORK/nginx/stderr" &
	elif [ "$1" != docker ]; then
		local verify=true reverify=1h
		if [ "$1" = llmo-nv ]; then verify=false; fi
		if [ "$1" = llmo-0s ]; then reverify=0s; fi
		"$LLMO" registry --listen "$HOSTPORT" --storage "$WORK/store" --anonymous '*' \
			--checksum-validation "$verify" --reverify-interval "$reverify" \
			>/dev/null 2>"$WORK/llmo.log" &
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
SRC=$WORK/src
echo "bench: making a ${SIZE_MB} MiB model"
make_model "$SRC" "$SIZE_MB"
BYTES=$((SIZE_MB << 20))

# ---- rounds, alternating -------------------------------------------------------------
declare -A PUSH PULL REPEAT CURL BUSY
TIMEFORMAT='%U %S'
mbps() { echo "$BYTES / ($2 - $1) / 1000000" | bc -l; }
pull() { # pull SIDE: a skopeo pull into a fresh dir:, checked; prints "START END BUSY"
	local t1 t2
	rm -rf "$WORK/dst"
	t1=$(now)
	# skopeo's CPU time over the pull's wall time: near 1, one core of skopeo's is the bound
	{ time "${SKOPEO[@]}" --src-tls-verify=false "docker://$HOSTPORT/bench/model:1" "dir:$WORK/dst"; } \
		2>"$WORK/cpu"
	t2=$(now)
	cmp -s "$WORK/dst/$LAYER" "$SRC/$LAYER" || { echo "bench: $1 pulled other bytes" >&2; exit 1; }
	echo "$t1 $t2 $(awk -v w="$(echo "$t2 - $t1" | bc -l)" '{ print ($1 + $2) / w }' "$WORK/cpu")"
}
for r in $(seq 1 "$ROUNDS"); do
	for side in "${SIDES[@]}"; do
		start "$side"
		t0=$(now)
		if [ "$side" != nginx ]; then # nginx takes no push: it serves $SRC
			"${SKOPEO[@]}" --dest-tls-verify=false "dir:$SRC" "docker://$HOSTPORT/bench/model:1"
		fi
		t1=$(now)
		pull "$side" >"$WORK/first"
		pull "$side" >"$WORK/repeat"
		read -r a b busy <"$WORK/first"
		read -r a2 b2 busy2 <"$WORK/repeat"
		BUSY[$side]+="$busy $busy2 "
		# curl: the layer alone, one connection, plain HTTP
		c=$(curl -sf -o /dev/null -w '%{speed_download}' "http://$HOSTPORT/v2/bench/model/blobs/sha256:$LAYER")
		c=$(echo "$c / 1000000" | bc -l)
		CURL[$side]+="$c "
		push=-
		if [ "$side" != nginx ]; then push=$(mbps "$t0" "$t1"); PUSH[$side]+="$push "; fi
		PULL[$side]+="$(mbps "$a" "$b") "
		REPEAT[$side]+="$(mbps "$a2" "$b2") "
		printf 'round %d %-7s push %6s  pull %6.1f  repeat pull %6.1f MB/s (skopeo CPU %.2f, %.2f)  curl pull %7.1f MB/s\n' \
			"$r" "$side" "$(if [ "$push" = - ]; then echo -; else printf '%.1f' "$push"; fi)" "$(mbps "$a" "$b")" "$(mbps "$a2" "$b2")" \
			"$busy" "$busy2" "$c"
	done
done
stop

declare -A P L R C B
for side in "${SIDES[@]}"; do
	P[$side]=$(echo "${PUSH[$side]:-0}" | median) L[$side]=$(echo "${PULL[$side]}" | median)
	R[$side]=$(echo "${REPEAT[$side]}" | median) C[$side]=$(echo "${CURL[$side]}" | median)
	B[$side]=$(echo "${BUSY[$side]}" | median)
done
# openssl speed: the last column is 16 KiB blocks, in thousands of bytes per second
sha=$(openssl speed -seconds 2 -bytes 16384 sha256 2>/dev/null | awk '/^sha256/ {v=$NF} END {sub(/k$/, "", v); print v * 1000 / 1000000}')
ratio() { echo "$1 / $2" | bc -l; }
met() { if [ "$(echo "$1" | bc -l)" = 1 ]; then echo met; else echo "NOT met"; fi; }

echo
echo "model: ${SIZE_MB} MiB, ${ROUNDS} rounds, skopeo $(skopeo --version | awk '{print $3}'), $(docker-registry --version 2>/dev/null | awk '{print $NF}' || true) docker-registry, medians (MB/s):"
printf '%-22s %10s %10s %12s %12s %18s\n' "" "push" "pull" "repeat pull" "curl pull" "skopeo CPU / pull"
declare -A NAME=([llmo]="llmo registry" [llmo-0s]="llmo, reverify 0s" [docker]="docker-registry"
	[llmo-nv]="llmo, no verify" [nginx]="nginx, static files")
for side in "${SIDES[@]}"; do
	printf '%-22s %10s %10.1f %12.1f %12.1f %18.2f\n' "${NAME[$side]}" \
		"$(if [ "$side" = nginx ]; then echo -; else printf '%.1f' "${P[$side]}"; fi)" "${L[$side]}" \
		"${R[$side]}" "${C[$side]}" "${B[$side]}"
done
for side in "${SIDES[@]}"; do
	[ "$side" = docker ] && continue
	printf '%-22s %10s %10.2f %12.2f %12.2f\n' "ratio ${side}/dr" \
		"$(if [ "$side" = nginx ]; then echo -; else printf '%.2f' "$(ratio "${P[$side]}" "${P[docker]}")"; fi)" \
		"$(ratio "${L[$side]}" "${L[docker]}")" "$(ratio "${R[$side]}" "${R[docker]}")" \
		"$(ratio "${C[$side]}" "${C[docker]}")"
done
if [ "$NGINX" = 1 ]; then # the pulls as a share of the same pull from nginx's static files
	for side in "${SIDES[@]}"; do
		[ "$side" = nginx ] && continue
		printf '%-22s %10s %10.2f %12.2f %12.2f\n' "ratio ${side}/nginx" - \
			"$(ratio "${L[$side]}" "${L[nginx]}")" "$(ratio "${R[$side]}" "${R[nginx]}")" \
			"$(ratio "${C[$side]}" "${C[nginx]}")"
	done
fi
printf 'SHA-256 (openssl speed, one core, 16 KiB blocks): %.1f MB/s; a hashed curl pull (llmo, reverify 0s) = %.0f%% of it\n' \
	"$sha" "$(echo "100 * ${C[llmo-0s]} / $sha" | bc -l)"
printf 'goals: push >= docker-registry: %s; pull >= docker-registry: first %s, repeat %s; hashed curl pull >= 80%% of SHA-256: %s\n' \
	"$(met "${P[llmo]} >= ${P[docker]}")" "$(met "${L[llmo]} >= ${L[docker]}")" \
	"$(met "${R[llmo]} >= ${R[docker]}")" "$(met "${C[llmo-0s]} >= 0.8 * $sha")"
