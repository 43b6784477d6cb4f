#!/usr/bin/env bash
# `llmo sim autoscale` end to end: exit statuses, the JSON keys, every policy,
# determinism, --series, and malformed CSV reported as FILE:LINE (exactly the
# report in bad-azure.expected); a Mooncake JSON Lines trace gives the same
# results as the same requests written as Azure CSV and as BurstGPT CSV, and
# its malformed lines are reported as in bad-mooncake.expected; --forecast oracle; --schedule.
. "$(dirname "$0")/lib.sh"
T=tests/data/sim/azure_conv_head.csv

value() { sed -n "s/^  \"$1\": \\(.*\\)\$/\\1/p" "$2" | sed 's/,$//'; }

"$LLMO" sim autoscale --help >"$tmp/help" 2>&1 && grep -q -- "--cold-start-s" "$tmp/help" && ok \
	|| bad "--help"
"$LLMO" sim autoscale --policy kpa >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "no --trace: want exit 2"
"$LLMO" sim autoscale --trace $T --policy hpa >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "bad policy: want exit 2"
"$LLMO" sim autoscale --trace $T --replica-capacity 0 >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "capacity 0: want exit 2"
"$LLMO" sim autoscale --trace $T --min 5 --max 2 >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "min > max: want exit 2"
"$LLMO" sim autoscale --trace $T --slo-miss 0 >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "slo miss 0: want exit 2"
"$LLMO" sim autoscale --trace $T --slo-wait-ms 0 >"$tmp/out" 2>&1 && grep -q '"gpu_hours"' "$tmp/out" \
	&& ok || bad "--slo-wait-ms 0 (sizing by the target): $(cat "$tmp/out")"
"$LLMO" sim autoscale --trace $T --target cpu=1 >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "not modelled" "$tmp/err" && ok || bad "cpu target: $(cat "$tmp/err")"
"$LLMO" sim autoscale --trace "$tmp/none.csv" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "none.csv" "$tmp/err" && ok || bad "missing file: $(cat "$tmp/err")"

# Malformed rows: each reported as FILE:LINE: message, exit 1, no JSON.
"$LLMO" sim autoscale --trace tests/data/sim/bad-azure.csv >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] && ok || bad "bad csv: exit $rc"
[ -s "$tmp/out" ] && bad "bad csv printed: $(cat "$tmp/out")" || ok
diff -u tests/data/sim/bad-azure.expected "$tmp/err" >/dev/null && ok \
	|| { bad "bad csv report"; diff -u tests/data/sim/bad-azure.expected "$tmp/err"; }

# Every policy: the keys, 120 requests, deterministic.
for policy in predictive reactive kpa; do
	for run in 1 2; do
		"$LLMO" sim autoscale --trace $T --policy $policy --cold-start-s 10 >"$tmp/$policy.$run" \
			2>"$tmp/err" || bad "$policy: $(cat "$tmp/err")"
	done
	out=$tmp/$policy.1
	for key in policy gpu_hours slo_attainment_pct p95_ttft_ms scale_events forecast_mape_pct \
		requests duration_s mean_replicas; do
		grep -q "^  \"$key\": " "$out" && ok || bad "$policy: no key $key"
	done
	[ "$(value policy "$out")" = "\"$policy\"" ] && ok || bad "policy: $(value policy "$out")"
	[ "$(value requests "$out")" = 120 ] && ok || bad "requests: $(value requests "$out")"
	cmp -s "$tmp/$policy.1" "$tmp/$policy.2" && ok || bad "$policy: two runs differ"
	if command -v jq >/dev/null 2>&1; then
		jq -e 'type == "object" and .slo_attainment_pct >= 0 and .slo_attainment_pct <= 100' \
			"$out" >/dev/null && ok || bad "$policy: not the JSON expected"
	fi
done
[ "$(value forecast_mape_pct "$tmp/kpa.1")" = null ] && ok || bad "kpa has a forecast MAPE"

# --forecast oracle: the JSON says so and has no forecast error; bad uses are usage errors.
"$LLMO" sim autoscale --trace $T --cold-start-s 10 --forecast oracle >"$tmp/o.json" 2>"$tmp/err" \
	|| bad "oracle: $(cat "$tmp/err")"
[ "$(value forecast "$tmp/o.json")" = '"oracle"' ] && [ "$(value forecast_mape_pct "$tmp/o.json")" = null ] \
	&& [ "$(value requests "$tmp/o.json")" = 120 ] && ok || bad "oracle JSON: $(cat "$tmp/o.json")"
grep -q '"forecast":' "$tmp/predictive.1" && bad "model run names a forecast" || ok
"$LLMO" sim autoscale --trace $T --forecast oracle --policy kpa >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "only with --policy predictive" "$tmp/err" && ok || bad "oracle kpa: $(cat "$tmp/err")"
"$LLMO" sim autoscale --trace $T --forecast perfect >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q 'want model or oracle' "$tmp/err" && ok || bad "--forecast perfect: $(cat "$tmp/err")"

# --schedule: a schedule of 2 replicas throughout replays as a fixed fleet of 2 does; a
# schedule file's bad rows are FILE:LINE problems (exit 1); with --policy a usage error.
printf 't_s,replicas\n0,2\n' >"$tmp/two.csv"
"$LLMO" sim autoscale --trace $T --cold-start-s 10 --schedule "$tmp/two.csv" >"$tmp/sched.json" \
	2>"$tmp/err" || bad "schedule: $(cat "$tmp/err")"
"$LLMO" sim autoscale --trace $T --cold-start-s 10 --policy kpa --min 2 --max 2 \
	--initial-replicas 2 >"$tmp/fixed.json" 2>"$tmp/err" || bad "fixed 2: $(cat "$tmp/err")"
[ "$(value policy "$tmp/sched.json")" = '"schedule"' ] && ok || bad "schedule policy: $(value policy "$tmp/sched.json")"
[ "$(value schedule "$tmp/sched.json")" = "\"$tmp/two.csv\"" ] && ok || bad "schedule path"
for key in gpu_hours slo_attainment_pct p95_ttft_ms requests; do
	[ "$(value $key "$tmp/sched.json")" = "$(value $key "$tmp/fixed.json")" ] && ok \
		|| bad "schedule $key $(value $key "$tmp/sched.json") vs fixed $(value $key "$tmp/fixed.json")"
done
[ "$(value scale_events "$tmp/sched.json")" = 0 ] && ok || bad "schedule of 2: scale events"
printf 't_s,replicas\n5,2\n60,x\n' >"$tmp/badsched.csv"
"$LLMO" sim autoscale --trace $T --schedule "$tmp/badsched.csv" >"$tmp/out" 2>"$tmp/err"
[ $? -eq 1 ] && [ ! -s "$tmp/out" ] && ok || bad "bad schedule: want exit 1 and no JSON"
printf '%s\n' "$tmp/badsched.csv:2: t_s: the first step is at 5, want 0" \
	"$tmp/badsched.csv:3: replicas: \"x\": not an integer" >"$tmp/want"
diff -u "$tmp/want" "$tmp/err" >/dev/null && ok || { bad "bad schedule report"; diff -u "$tmp/want" "$tmp/err"; }
"$LLMO" sim autoscale --trace $T --schedule "$tmp/nosuch.csv" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "nosuch.csv" "$tmp/err" && ok || bad "missing schedule: $(cat "$tmp/err")"
"$LLMO" sim autoscale --trace $T --schedule "$tmp/two.csv" --policy kpa >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "replaces the policy" "$tmp/err" && ok || bad "schedule + policy: $(cat "$tmp/err")"

# --series: a header and one line per second of the replay.
"$LLMO" sim autoscale --trace $T --series "$tmp/s.csv" >"$tmp/out" || bad "series run"
head -1 "$tmp/s.csv" | grep -q "^t_s,arrivals,concurrency,waiting,replicas,ready,desired,forecast$" \
	&& ok || bad "series header: $(head -1 "$tmp/s.csv")"
arrivals=$(tail -n +2 "$tmp/s.csv" | awk -F, '{s += $2} END {print s}')
[ "$arrivals" = 120 ] && ok || bad "series arrivals sum $arrivals, want 120"

# Mooncake JSON Lines: the first 60 requests of ../shared/data/mooncake/synthetic_trace.jsonl,
# and the same requests as Azure CSV (mooncake_head.csv: timestamp ms after 2024-01-01
# 00:00:00) and as BurstGPT CSV (mooncake_head.burstgpt.csv: Timestamp in seconds, Request
# and Response tokens), both written from the JSON by a Python script: the same replay, every
# key but the trace's name.
M=tests/data/sim/mooncake_head
for policy in predictive kpa; do
	for f in jsonl csv burstgpt.csv; do
		"$LLMO" sim autoscale --trace $M.$f --policy $policy --cold-start-s 10 --slo-ttft-ms 5000 \
			>"$tmp/m.$f.json" 2>"$tmp/err" || bad "$f $policy: $(cat "$tmp/err")"
	done
	[ "$(value requests "$tmp/m.jsonl.json")" = 60 ] && ok || bad "jsonl requests: $(value requests "$tmp/m.jsonl.json")"
	for f in csv burstgpt.csv; do
		diff <(grep -v '"trace"' "$tmp/m.jsonl.json") <(grep -v '"trace"' "$tmp/m.$f.json") >/dev/null && ok ||
			{ bad "jsonl and $f replays differ ($policy)"; diff "$tmp/m.jsonl.json" "$tmp/m.$f.json"; }
	done
done
"$LLMO" sim autoscale --trace tests/data/sim/bad-mooncake.jsonl >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] && [ ! -s "$tmp/out" ] && ok || bad "bad jsonl: exit $rc, printed $(cat "$tmp/out")"
diff -u tests/data/sim/bad-mooncake.expected "$tmp/err" >/dev/null && ok \
	|| { bad "bad jsonl report"; diff -u tests/data/sim/bad-mooncake.expected "$tmp/err"; }

cli_finish test_sim_autoscale
