#!/usr/bin/env bash
# `llmo sim schedule` end to end on tests/data/sim: exit statuses, the JSON
# keys and their consistency, determinism per seed, --series, and malformed
# CSV reported as FILE:LINE (exactly the report in NAME.expected).
. "$(dirname "$0")/lib.sh"
N=tests/data/sim/nodes.csv
P=tests/data/sim/pods.csv

# The value of a top-level key in the one-object-per-line-of-keys JSON output.
value() { sed -n "s/^  \"$1\": \\(.*\\)\$/\\1/p" "$2" | sed 's/,$//'; }

out=$tmp/out.json
"$LLMO" sim schedule --nodes $N --pods $P --policy fgd --seed 7 --inflate 1.3 >"$out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 0 ] && ok || bad "valid run: exit $rc: $(cat "$tmp/err")"
for key in policy seed pods scheduled failed unallocated_gpu_pct_at_arrived_100 \
	unallocated_gpu_pct_at_arrived_130 frag_gpu_pct_at_arrived_90 decisions_per_second; do
	grep -q "^  \"$key\": " "$out" && ok || bad "no key $key in: $(cat "$out")"
done
[ "$(value policy "$out")" = '"fgd"' ] && ok || bad "policy: $(value policy "$out")"
[ "$(value seed "$out")" = 7 ] && ok || bad "seed: $(value seed "$out")"
[ "$(value trace_pods "$out")" = 20 ] && ok || bad "trace_pods: $(value trace_pods "$out")"
pods=$(value pods "$out") sched=$(value scheduled "$out") failed=$(value failed "$out")
[ $((sched + failed)) -eq "$pods" ] && [ "$pods" -gt 20 ] && ok \
	|| bad "pods $pods != scheduled $sched + failed $failed (or no clones)"
# The output is one JSON object (when jq is there to say so).
if command -v jq >/dev/null 2>&1; then
	jq -e 'type == "object" and .nodes == 8 and .gpus == 30' "$out" >/dev/null && ok \
		|| bad "not the JSON object expected: $(cat "$out")"
fi

# Every policy runs; the same seed gives the same result (timings aside).
for policy in random bestfit dotprod gpupacking gpuclustering fgd llmo; do
	for run in 1 2; do
		"$LLMO" sim schedule --nodes $N --pods $P --policy $policy --seed 3 \
			| grep -v -e decision_seconds -e decisions_per_second >"$tmp/$policy.$run"
	done
	if [ -s "$tmp/$policy.1" ] && cmp -s "$tmp/$policy.1" "$tmp/$policy.2"; then ok; else
		bad "$policy: two runs with seed 3 differ"; diff "$tmp/$policy.1" "$tmp/$policy.2"; fi
done

# --series: a header and one line per pod, arrived growing to about 130%.
"$LLMO" sim schedule --nodes $N --pods $P --policy llmo --series "$tmp/series.csv" >"$out"
lines=$(wc -l <"$tmp/series.csv")
[ "$(head -1 "$tmp/series.csv")" = "arrived_pct,allocated_pct,frag_pct" ] && ok \
	|| bad "series header: $(head -1 "$tmp/series.csv")"
[ "$lines" -eq $(($(value pods "$out") + 1)) ] && ok || bad "series has $lines lines"
tail -1 "$tmp/series.csv" | grep -Eq '^12[9]\.[0-9]+,[0-9.]+,[0-9.]+$' && ok \
	|| bad "series last line: $(tail -1 "$tmp/series.csv")"

# --synthetic-nodes: a bigger cluster of the same shapes.
"$LLMO" sim schedule --nodes $N --pods $P --synthetic-nodes 80 >"$out" && ok || bad "synthetic run"
[ "$(value nodes "$out")" = 80 ] && ok || bad "synthetic nodes: $(value nodes "$out")"

# --parallelism: 3000 nodes (past the 2048 where scoring goes parallel) scored by 3
# threads place every pod as one thread does: all but the timings are equal.
for par in 1 3; do
	"$LLMO" sim schedule --nodes $N --pods $P --synthetic-nodes 3000 --inflate 2 \
		--parallelism $par >"$tmp/par$par.json" && ok || bad "parallelism $par run"
done
[ "$(value parallelism "$tmp/par1.json")" = 1 ] && [ "$(value parallelism "$tmp/par3.json")" = 3 ] \
	&& ok || bad "parallelism reported: $(value parallelism "$tmp/par3.json")"
[ "$(grep -v -e decision -e parallelism "$tmp/par1.json")" = \
	"$(grep -v -e decision -e parallelism "$tmp/par3.json")" ] && ok || bad "parallel results differ"

# Malformed CSV: every problem as FILE:LINE, exit 1, nothing on standard output.
for f in nodes pods; do
	if [ $f = nodes ]; then args="--nodes tests/data/sim/bad-nodes.csv --pods $P"; else
		args="--nodes $N --pods tests/data/sim/bad-pods.csv"; fi
	"$LLMO" sim schedule $args >"$tmp/stdout" 2>"$tmp/stderr"
	rc=$?
	[ "$rc" -eq 1 ] && ok || bad "bad-$f: exit $rc, want 1"
	diff -u "tests/data/sim/bad-$f.expected" "$tmp/stderr" && ok || bad "bad-$f: report differs"
	[ ! -s "$tmp/stdout" ] && ok || bad "bad-$f: printed $(cat "$tmp/stdout")"
done
# Both files at once: both reported.
"$LLMO" sim schedule --nodes tests/data/sim/bad-nodes.csv --pods tests/data/sim/bad-pods.csv \
	2>"$tmp/stderr" >/dev/null
[ "$(grep -c '^tests/data/sim/bad-' "$tmp/stderr")" -eq 7 ] && ok || bad "both files: $(cat "$tmp/stderr")"
"$LLMO" sim schedule --nodes $N --pods tests/data/sim/no-such.csv >/dev/null 2>"$tmp/stderr"
rc=$?
{ [ "$rc" -eq 1 ] && grep -q '^tests/data/sim/no-such.csv: no such file$' "$tmp/stderr"; } && ok \
	|| bad "missing file (exit $rc): $(cat "$tmp/stderr")"

# Usage errors exit 2; --help exits 0.
usage() {
	"$LLMO" "$@" >/dev/null 2>"$tmp/stderr"
	rc=$?
	[ "$rc" -eq 2 ] && ok || bad "llmo $*: exit $rc, want 2"
}
usage sim
usage sim replay
usage sim schedule --pods $P
usage sim schedule --nodes $N --pods $P --policy first-fit
grep -q 'unknown policy "first-fit"' "$tmp/stderr" && ok || bad "policy message: $(cat "$tmp/stderr")"
usage sim schedule --nodes $N --pods $P --seed -1
usage sim schedule --nodes $N --pods $P --seed x
usage sim schedule --nodes $N --pods $P --inflate 0
usage sim schedule --nodes $N --pods $P --inflate 1e9
usage sim schedule --nodes $N --pods $P --synthetic-nodes 0
usage sim schedule --nodes $N --pods $P --parallelism 65
usage sim schedule --nodes $N --pods $P --parallelism -1
usage sim schedule --nodes $N --pods $P --bogus 1
usage sim schedule --nodes $N --pods
"$LLMO" sim schedule --help | grep -q 'usage: llmo sim schedule' && ok || bad "--help"
"$LLMO" help | grep -q '^  sim ' && ok || bad "llmo help does not list sim"

cli_finish
