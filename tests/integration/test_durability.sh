#!/usr/bin/env bash
# Durability: `llmo server` is killed with SIGKILL in the middle of a stream of
# creates; after a restart every create that was answered 201 is there, with
# the resourceVersion it was answered with, and resourceVersions keep growing.
. "$(dirname "$0")/lib.sh"
server_start
TOKEN=$(cat "$LLMO_DATA/token")
api() { curl -sk -H "Authorization: Bearer $TOKEN" "$@"; }
URL="$LLMO_URL/api/v1/namespaces/default/configmaps"
acked="$LLMO_DATA/acked"
: >"$acked"
(
	for i in $(seq 1 400); do
		body="{\"metadata\":{\"name\":\"cm-$i\"},\"data\":{\"i\":\"$i\"}}"
		out=$(api -w '\n%{http_code}' -X POST -H 'Content-Type: application/json' --data "$body" "$URL") || exit 0
		code=${out##*$'\n'}
		if [ "$code" = 201 ]; then
			rv=$(printf '%s' "${out%$'\n'*}" | sed -n 's/.*"resourceVersion":"\([0-9]*\)".*/\1/p')
			echo "cm-$i $rv" >>"$acked"
		fi
	done
) &
writer=$!
# Kill the server once a good number of writes were acknowledged (bounded wait).
for _ in $(seq 1 400); do
	[ "$(wc -l <"$acked")" -ge 50 ] && break
	sleep 0.02
done
kill -9 "$LLMO_PID"
wait "$LLMO_PID" 2>/dev/null
LLMO_PID=
wait "$writer" 2>/dev/null
n=$(wc -l <"$acked")
[ "$n" -ge 50 ] && ok || bad "only $n writes were acknowledged before the kill"

server_start
URL="$LLMO_URL/api/v1/namespaces/default/configmaps"
missing=0
while read -r name rv; do
	got=$(api "$URL/$name" | sed -n 's/.*"resourceVersion":"\([0-9]*\)".*/\1/p')
	[ "$got" = "$rv" ] || { missing=$((missing + 1)); echo "  $name: acknowledged rv $rv, after restart '${got}'"; }
done <"$acked"
[ "$missing" -eq 0 ] && ok || bad "$missing of $n acknowledged writes lost or changed"
last=$(tail -1 "$acked" | cut -d' ' -f2)
counter() { api "$LLMO_URL/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
commits0=$(counter llmo_apiserver_group_commits_total)
writes0=$(counter llmo_apiserver_group_commit_writes_total)
new=$(api -X POST -H 'Content-Type: application/json' --data '{"metadata":{"name":"after"}}' "$URL" |
	sed -n 's/.*"resourceVersion":"\([0-9]*\)".*/\1/p')
[ -n "$new" ] && [ "$new" -gt "$last" ] && ok || bad "resourceVersion after restart ($new) not above $last"

# The answer to a create is the stored text with the resourceVersion put back
# (not a second serialisation): it must be the object a GET then returns.
created=$(api -X POST -H 'Content-Type: application/json' \
	--data '{"metadata":{"name":"same","labels":{"a":"b"}},"data":{"x":"1.5"}}' "$URL")
fetched=$(api "$URL/same")
python3 -c 'import json, sys; a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2]); sys.exit(a != b or a["kind"] != "ConfigMap" or a["metadata"]["resourceVersion"] == "")' \
	"$created" "$fetched" && ok || bad "create answered $created but GET returned $fetched"

# Group commit is counted: the two creates above were answered after commits
# (other writers in the server may add to both counters meanwhile).
commits=$(counter llmo_apiserver_group_commits_total)
writes=$(counter llmo_apiserver_group_commit_writes_total)
[ "$commits" -ge $((commits0 + 1)) ] && [ "$writes" -ge $((writes0 + 2)) ] && ok ||
	bad "group commit counters went from $commits0, $writes0 to $commits, $writes over 2 creates"
finish
