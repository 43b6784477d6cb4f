#!/usr/bin/env bash
# `llmo gateway` reading its replicas' /metrics (--scrape-interval): a replica
# with requests waiting in its own queue (sent to it directly, not through the
# gateway) gets no request through the gateway while an idle one can take them;
# a replica whose KV cache is full (vllm:gpu_cache_usage_perc 1, nothing waiting)
# gets none while one with room can take them; a replica without /metrics (a
# closed port) counts as failed scrapes and nothing else; --scrape-interval 0
# reads nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway_lib.sh"

# replica 0 runs one request at a time for 60 s: 1 running, then 3 waiting
sim_start --model m --max-batch 1 --ttft-base 60s --ttft-per-token 0 --itl 0
sim_start --model m --ttft-base 0 --ttft-per-token 0 --itl 0
backends_one m "127.0.0.1:${SIM_PORTS[0]}" "127.0.0.1:${SIM_PORTS[1]}"
BUSY=http://127.0.0.1:${SIM_PORTS[0]}
CURLS=()
for _ in 1 2 3 4; do
	"${C[@]}" --max-time 120 -H "$J" -d "$(chat m)" "$BUSY/v1/chat/completions" >/dev/null &
	CURLS+=($!)
done
waiting() { "${C[@]}" "$BUSY/metrics" | grep -q '^vllm:num_requests_waiting{model_name="m"} 3$'; }
check "replica 0 has 3 waiting" wait_for 10 waiting

gateway_start --seed 7 --balance p2c --scrape-interval 100ms
gw_sees() { [ "$(metric "llmo_gateway_backend_waiting_requests{backend=\"127.0.0.1:${SIM_PORTS[0]}\"}")" = 3 ]; }
check "the gateway read replica 0's queue" wait_for 10 gw_sees
# 20 requests one after another: in flight 0 on both, but replica 0's load is 3
for _ in $(seq 1 20); do
	"${C[@]}" -o /dev/null -w '%{http_code}\n' -H "$J" -d "$(chat m)" "$GW_URL/v1/chat/completions"
done >"$LLMO_DATA/codes"
[ "$(grep -c '^200$' "$LLMO_DATA/codes")" = 20 ] && ok || bad "codes: $(sort "$LLMO_DATA/codes" | uniq -c)"
done_on() { "${C[@]}" "http://127.0.0.1:$1/metrics" |
	awk '/^vllm:request_success_total/ { s += $2 } END { print s + 0 }'; }
[ "$(done_on "${SIM_PORTS[1]}")" = 20 ] && ok || bad "replica 1 answered $(done_on "${SIM_PORTS[1]}") of 20"
got=$(metric 'llmo_gateway_backend_scrapes_total{result="ok"}')
[ "$got" -ge 2 ] && ok || bad "ok scrapes: $got"
gateway_stop

# replica 2 has one KV block, which one request sent to it directly holds for 60 s: its cache
# is full, nothing waits there and the gateway has nothing in flight on it, so by load alone
# it ties with the idle replica 1; by its cache it loses every time
sim_start --model m --kv-blocks 1 --ttft-base 60s --ttft-per-token 0 --itl 0
FULL=http://127.0.0.1:${SIM_PORTS[2]}
"${C[@]}" --max-time 120 -H "$J" -d "$(chat m)" "$FULL/v1/chat/completions" >/dev/null &
CURLS+=($!)
full() { "${C[@]}" "$FULL/metrics" | grep -q '^vllm:gpu_cache_usage_perc{model_name="m"} 1$'; }
check "replica 2's KV cache is full" wait_for 10 full
backends_one m "127.0.0.1:${SIM_PORTS[1]}" "127.0.0.1:${SIM_PORTS[2]}"
gateway_start --seed 7 --balance p2c --scrape-interval 100ms
gw_sees_kv() { [ "$(metric "llmo_gateway_backend_kv_cache_usage{backend=\"127.0.0.1:${SIM_PORTS[2]}\"}")" = 1 ]; }
check "the gateway read replica 2's KV cache usage" wait_for 10 gw_sees_kv
before=$(done_on "${SIM_PORTS[1]}")
for _ in $(seq 1 20); do
	"${C[@]}" --max-time 5 -o /dev/null -w '%{http_code}\n' -H "$J" -d "$(chat m)" \
		"$GW_URL/v1/chat/completions"
done >"$LLMO_DATA/codes"
[ "$(grep -c '^200$' "$LLMO_DATA/codes")" = 20 ] && ok || bad "codes: $(sort "$LLMO_DATA/codes" | uniq -c)"
[ "$(($(done_on "${SIM_PORTS[1]}") - before))" = 20 ] && ok ||
	bad "replica 1 answered $(($(done_on "${SIM_PORTS[1]}") - before)) of 20"
gateway_stop

# a replica whose port is closed: its scrapes fail, requests still go to the other one
DEAD=$(closed_port)
backends_one m "127.0.0.1:${SIM_PORTS[1]}" "127.0.0.1:$DEAD"
gateway_start --seed 7 --scrape-interval 100ms --breaker-failures 1
failed() { [ "$(metric 'llmo_gateway_backend_scrapes_total{result="failed"}')" -ge 2 ]; }
check "scrapes of a closed port fail" wait_for 10 failed
expect_status 200 "a request with one replica down" -H "$J" -d "$(chat m)" "$GW_URL/v1/chat/completions"
gateway_stop

gateway_start --seed 7 --scrape-interval 0
expect_status 200 "no scraping" -H "$J" -d "$(chat m)" "$GW_URL/v1/chat/completions"
"${C[@]}" "$GW_URL/metrics" | grep -q '^llmo_gateway_backend_scrapes_total{' &&
	bad "--scrape-interval 0 scraped" || ok
gateway_stop

for p in "${CURLS[@]}"; do kill "$p" 2>/dev/null; done
finish
