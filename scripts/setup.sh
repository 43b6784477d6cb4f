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
  wrk nginx-light prometheus
)

want=("${build_pkgs[@]}")
if [ "${1:-}" = "--tests" ]; then
  want+=("${test_pkgs[@]}")
fi
# `make run` and the integration tests drive llmo server with real kubectl:
# the one on the PATH, else Debian's.
command -v kubectl >/dev/null 2>&1 || want+=(kubernetes-client)

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#want[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
