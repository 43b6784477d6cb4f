#!/usr/bin/env bash
# operator.logLevel and operator.logFormat of a --config file apply to the long-running
# commands (here `llmo registry`, which starts without an API), and --log-level / --log-json
# win over them. Each run serves until its URL is printed and its first lines are logged,
# then is stopped.
. "$(dirname "$0")/lib.sh"
PID=""
cli_cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; }

# Runs the registry with the given flags until it prints its URL (at most 10 s), stops it, and
# leaves what it logged in $tmp/log.
run_registry() {
	: >"$tmp/out"
	: >"$tmp/log"
	"$LLMO" registry --listen 127.0.0.1:0 --storage "$tmp/store" "$@" >"$tmp/out" 2>"$tmp/log" &
	PID=$!
	for _ in $(seq 100); do
		grep -q 'http://' "$tmp/out" && break
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	kill "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
	PID=""
	grep -q 'http://' "$tmp/out"
}

printf 'operator:\n  logFormat: json\n' >"$tmp/json.yaml"
printf 'operator:\n  logLevel: warn\n' >"$tmp/warn.yaml"
printf 'operator:\n  logFormat: text\n' >"$tmp/text.yaml"

# defaults: text lines at info
run_registry && ok || bad "registry did not start: $(cat "$tmp/log")"
grep -q ' info ' "$tmp/log" && ! grep -q '^{' "$tmp/log" && ok || bad "default: want text info lines, got: $(cat "$tmp/log")"

# logFormat: json: every line is a JSON object
run_registry --config "$tmp/json.yaml" && ok || bad "json config: did not start: $(cat "$tmp/log")"
[ -s "$tmp/log" ] && /usr/bin/python3 -c '
import json, sys
for l in open(sys.argv[1]):
    o = json.loads(l)
    assert o["level"] and o["component"] and "msg" in o, o' "$tmp/log" && ok \
	|| bad "logFormat json: want JSON lines, got: $(cat "$tmp/log")"

# logLevel: warn: no info line
run_registry --config "$tmp/warn.yaml" && ok || bad "warn config: did not start"
! grep -q ' info ' "$tmp/log" && ok || bad "logLevel warn: info lines logged: $(cat "$tmp/log")"

# flags win: --log-level info over the file's warn; --log-json over the file's text
run_registry --config "$tmp/warn.yaml" --log-level info && ok || bad "flag run did not start"
grep -q ' info ' "$tmp/log" && ok || bad "--log-level info over logLevel warn: no info line: $(cat "$tmp/log")"
run_registry --log-json --config "$tmp/text.yaml" && ok || bad "json flag run did not start"
head -1 "$tmp/log" | grep -q '^{' && ok || bad "--log-json over logFormat text: $(head -3 "$tmp/log")"

# a bad value is a configuration error naming the key and line
printf 'operator:\n  logLevel: loud\n' >"$tmp/bad.yaml"
"$LLMO" registry --listen 127.0.0.1:0 --storage "$tmp/store" --config "$tmp/bad.yaml" >/dev/null 2>"$tmp/err"
rc=$?
[ "$rc" -ne 0 ] && grep -q "bad.yaml:2: operator.logLevel" "$tmp/err" && ok \
	|| bad "logLevel loud: want an error naming bad.yaml:2 operator.logLevel, got rc $rc: $(cat "$tmp/err")"

cli_finish
