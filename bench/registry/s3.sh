#!/usr/bin/env bash
# What storageType s3 costs against local storage, in one run: curl pushes a
# blob of SIZE_MB random bytes to `llmo registry --storage DIR` (the baseline)
# and to `llmo registry` with storageType s3 against s3rver 3.7.1 on loopback
# (scripts/setup.sh --tests installs it into .cache/s3rver), then pulls it
# from each: for S3 once from an empty cache (restarted with the directory
# deleted: the fetch from S3 comes first) and once warm. Prints MB/s (10^6
# bytes) of each and the ratio to local storage. s3rver is a Node.js
# imitation, not a real store: the numbers show the registry's extra copy
# through S3's API, not what AWS or MinIO would do. See docs/registry.md.
#
# Usage: bench/registry/s3.sh LLMO   (from the repository root)
# Settings (environment): SIZE_MB=256
set -euo pipefail
LLMO=$1
SIZE_MB=${SIZE_MB:-256}

. "$(dirname "$0")/s3_common.sh"
head -c $((SIZE_MB << 20)) /dev/urandom >"$W/blob"
BYTES=$(stat -c %s "$W/blob")
D=sha256:$(sha256sum "$W/blob" | cut -d' ' -f1)

s3rver_start
s3_config "$S3URL"
start() { start_registry "$LLMO" --storage "$@"; } # start STORE [--config FILE]
rate() { python3 -c 'import sys; print("%.1f" % (int(sys.argv[1]) / float(sys.argv[2]) / 1e6))' "$BYTES" "$1"; }
push() { # the seconds a monolithic push takes
	local loc
	loc=$(curl -s -D - -o /dev/null -X POST "$U/v2/bench/b/blobs/uploads/" | sed -n 's/^[Ll]ocation: //p' | tr -d '\r')
	curl -s -o /dev/null -w '%{time_total}' -X PUT --data-binary @"$W/blob" \
		-H 'Content-Type: application/octet-stream' "$U$loc?digest=$D"
}
pull() { curl -sf -o /dev/null -w '%{time_total}' "$U/v2/bench/b/blobs/$D"; }

start "$W/local"
lp=$(rate "$(push)")
lg=$(rate "$(pull)")
stop
start "$W/cache" --config "$W/s3.yaml"
sp=$(rate "$(push)")
stop
rm -rf "$W/cache"
start "$W/cache" --config "$W/s3.yaml"
sc=$(rate "$(pull)")
sw=$(rate "$(pull)")
stop
ratio() { python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$1" "$2"; }
echo "blob: $SIZE_MB MiB; MB/s, and the ratio to local storage"
echo "local push $lp, pull $lg"
echo "s3 push $sp ($(ratio "$sp" "$lp")), cold pull $sc ($(ratio "$sc" "$lg")), warm pull $sw ($(ratio "$sw" "$lg"))"
