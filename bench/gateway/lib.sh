# Sourced by bench/gateway's scripts.
wait_line() { # wait_line FILE SED-EXPR: prints the first match, waiting up to 10 s
	for _ in $(seq 1 200); do
		local v
		v=$(sed -n "$2" "$1")
		[ -n "$v" ] && { echo "$v"; return 0; }
		sleep 0.05
	done
	echo "bench: nothing in $1" >&2; cat "$1" >&2; exit 1
}
work_dir() { # sets WORK (a temporary directory) and PIDS; at exit, kills PIDS and removes WORK
	WORK=$(mktemp -d)
	PIDS=()
	trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
}
