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
