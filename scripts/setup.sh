#!/usr/bin/env bash
# Installs everything llmo's build and tests need from Debian's packages.
# Idempotent: a second run installs nothing and returns quickly.
# Usage: scripts/setup.sh [--tests]   (--tests adds the test tools)
set -euo pipefail

build_pkgs=(
  build-essential cmake pkg-config
  libevent-dev libcurl4-openssl-dev libjansson-dev libfyaml-dev
  libsqlite3-dev libssl-dev curl
)
test_pkgs=(
  libcmocka-dev clang libclang-rt-dev python3 python3-yaml python3-kubernetes skopeo
  wrk nginx-light prometheus nodejs iproute2 util-linux
  python3-botocore # checks the S3 tests' SigV4 signatures (tests/integration/sigv4_proxy.py)
  docker-registry # a registry without the referrers API (tests/integration/test_model_referrers_tag.sh)
  apache2-utils # htpasswd: docker-registry's Basic auth users (tests/integration/test_model_auth.sh)
)
# The S3-compatible server the S3 storage test (tests/integration/test_registry_s3.sh)
# runs against: npm's s3rver, pinned, installed into the ignored .cache/s3rver.
s3rver_version=3.7.1
s3rver_dir="$(cd "$(dirname "$0")/.." && pwd)/.cache/s3rver"

install_s3rver() {
  [ "${1:-}" = "--tests" ] || return 0
  if [ -x "$s3rver_dir/node_modules/.bin/s3rver" ] &&
     grep -q "\"version\": \"$s3rver_version\"" "$s3rver_dir/node_modules/s3rver/package.json"; then
    return 0
  fi
  echo "setup: installing s3rver $s3rver_version into $s3rver_dir"
  mkdir -p "$s3rver_dir"
  npm install --silent --no-audit --no-fund --prefix "$s3rver_dir" "s3rver@$s3rver_version" >/dev/null
}

want=("${build_pkgs[@]}")
if [ "${1:-}" = "--tests" ]; then
  want+=("${test_pkgs[@]}")
fi
# `make run` and the integration tests drive llmo server with real kubectl:
# the one on the PATH, else Debian's.
command -v kubectl >/dev/null 2>&1 || want+=(kubernetes-client)
# npm for s3rver: some nodejs builds (NodeSource's) carry their own and conflict with Debian's.
if [ "${1:-}" = "--tests" ]; then command -v npm >/dev/null 2>&1 || want+=(npm); fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#want[@]} packages present"
  install_s3rver "${1:-}"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
install_s3rver "${1:-}"
echo "setup: done"
