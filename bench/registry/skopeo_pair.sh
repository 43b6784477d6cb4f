#!/usr/bin/env bash
# skopeo pulls of one model from several registries running side by side,
# ROUNDS rounds of one pull each, the order rotated every round, so that a
# shared machine's load falls on all alike: `llmo registry` (its defaults: a
# blob verified within reverifyInterval is sent unhashed), llmo with
# --reverify-interval 0s (every pull hashed, as the first pull after a push
# is), Debian's docker-registry, and nginx serving the same files
# (bench/registry/lib.sh: a server that only sends files). Each model is
# pushed once with skopeo; every pull goes to a fresh dir: and is checked.
# Prints each round, the medians in MB/s (10^6 bytes), the median of the
# per-round ratios to docker-registry with a 95% bootstrap interval, and how
# many rounds each side beat docker-registry. See bench/README.md.
#
# Usage: bench/registry/skopeo_pair.sh [LLMO]   (default: builds build-bench/llmo)
# Settings (environment): SIZE_MB=1024, ROUNDS=10 (about 5 minutes at 1 GiB)
set -euo pipefail

cd "$(dirname "$0")/../.."
SIZE_MB=${SIZE_MB:-1024}
ROUNDS=${ROUNDS:-10}
scripts/setup.sh --tests >/dev/null
. bench/lib.sh
. bench/registry/lib.sh
need docker-registry docker-registry
need nginx nginx-light
if [ $# -ge 1 ]; then
	LLMO=$(realpath "$1")
else
	cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build-bench -j"$(nproc)" --target llmo >/dev/null
	LLMO=$PWD/build-bench/llmo
fi

W=$(mktemp -d)
chmod 755 "$W" # nginx's worker runs as nobody when the script runs as root
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$W"' EXIT
wait_http() {
	for _ in $(seq 1 200); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done
	echo "bench: $1 does not answer" >&2
	return 1
}

SRC=$W/src
make_model "$SRC" "$SIZE_MB"

declare -A HP
SIDES=(llmo llmo-0s docker nginx)
for side in "${SIDES[@]}"; do
	port=$(free_port)
	HP[$side]=127.0.0.1:$port
	mkdir -p "$W/$side"
	case $side in
	llmo) "$LLMO" registry --listen "${HP[$side]}" --storage "$W/$side/store" --anonymous '*' \
		>/dev/null 2>"$W/$side/log" & ;;
	llmo-0s) "$LLMO" registry --listen "${HP[$side]}" --storage "$W/$side/store" --anonymous '*' \
		--reverify-interval 0s >/dev/null 2>"$W/$side/log" & ;;
	docker)
		printf 'version: 0.1\nlog: {level: error}\nstorage:\n  filesystem: {rootdirectory: %s}\nhttp: {addr: "%s"}\n' \
			"$W/$side/store" "${HP[$side]}" >"$W/$side/config.yml"
		docker-registry serve "$W/$side/config.yml" >/dev/null 2>"$W/$side/log" & ;;
	nginx)
		nginx_registry "$W/$side" "${HP[$side]}" "$SRC" bench/model 1
		nginx -p "$W/$side" -c "$W/$side/nginx.conf" 2>"$W/$side/log" & ;;
	esac
	PIDS+=($!)
	wait_http "http://${HP[$side]}/v2/"
	if [ "$side" != nginx ]; then
		skopeo --insecure-policy copy -q --dest-tls-verify=false "dir:$SRC" \
			"docker://${HP[$side]}/bench/model:1"
	fi
done
# one pull each first: llmo's first pull after the push hashes the blob (then its
# verification is cached); all pulls below are repeat pulls of a warm page cache
for side in "${SIDES[@]}"; do
	rm -rf "$W/dst"
	skopeo --insecure-policy copy -q --src-tls-verify=false "docker://${HP[$side]}/bench/model:1" "dir:$W/dst"
done

now() { date +%s.%N; }
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A MBS
for r in $(seq 1 "$ROUNDS"); do
	line="round $r"
	n=${#SIDES[@]}
	for k in $(seq 0 $((n - 1))); do
		side=${SIDES[$(((k + r) % n))]}
		rm -rf "$W/dst"
		t1=$(now)
		skopeo --insecure-policy copy -q --src-tls-verify=false "docker://${HP[$side]}/bench/model:1" "dir:$W/dst"
		t2=$(now)
		cmp -s "$W/dst/$LAYER" "$SRC/$LAYER" || { echo "bench: $side pulled other bytes" >&2; exit 1; }
		v=$(echo "$((SIZE_MB << 20)) / ($t2 - $t1) / 1000000" | bc -l)
		MBS[$side]+="$v "
		line+=$(printf '  %s %6.1f' "$side" "$v")
	done
	echo "$line MB/s"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

args=()
for side in "${SIDES[@]}"; do args+=("$side=${MBS[$side]}"); done
python3 - "${args[@]}" <<'PY'
import random, statistics, sys
mbs = {a.split("=")[0]: [float(x) for x in a.split("=")[1].split()] for a in sys.argv[1:]}
base = mbs["docker"]
rng = random.Random(1)  # a fixed seed: the same rounds give the same interval
print("%-10s %10s %14s %20s %10s" % ("", "median", "ratio to dr", "95% interval", "beat dr"))
for side, v in mbs.items():
    ratios = [a / b for a, b in zip(v, base)]
    boot = sorted(statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(2000))
    lo, hi = boot[50], boot[1949]
    wins = sum(a > b for a, b in zip(v, base))
    print("%-10s %10.1f %14.3f %20s %10s" % (side, statistics.median(v), statistics.median(ratios),
          "-" if side == "docker" else "%.3f .. %.3f" % (lo, hi),
          "-" if side == "docker" else "%d of %d" % (wins, len(v))))
PY
