# Sourced by the benchmark scripts.

# need "CMD..." PKG...: installs the Debian packages PKG when any of the
# commands CMD (space-separated) is missing; only the benchmarks use them, so
# scripts/setup.sh does not install them.
need() {
	local cmds=$1 c
	shift
	for c in $cmds; do
		command -v "$c" >/dev/null 2>&1 && continue
		local sudo=""
		if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
		echo "bench: installing $*"
		export DEBIAN_FRONTEND=noninteractive
		$sudo apt-get update -qq
		$sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
		return
	done
}
