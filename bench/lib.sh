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

# free_port: a TCP port on 127.0.0.1 that nothing listens on (the kernel picks it).
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# median: the median of the numbers on standard input (separated by blanks or lines; the mean
# of the two middle ones when their count is even).
median() { tr -s ' \t' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
