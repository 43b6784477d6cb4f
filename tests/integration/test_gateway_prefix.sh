#!/usr/bin/env bash
# `llmo gateway` prefix affinity in front of three `llmo inference-sim` replicas
# with a prefix cache, on loopback: the same long prompt sent ten times goes
# ten times to one replica (1 miss, then 9 hits), so the replicas report 9
# cached prompts' worth of tokens; a short prompt (under one block) is not
# looked up; --balance p2c looks nothing up; a bad --balance is a usage error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway_lib.sh"

SIM=(--model m --ttft-base 0 --ttft-per-token 0 --itl 0 --block-size 16 --prefix-cache-blocks 1000)
sim_start "${SIM[@]}"
sim_start "${SIM[@]}"
sim_start "${SIM[@]}"
backends_one m "127.0.0.1:${SIM_PORTS[0]}" "127.0.0.1:${SIM_PORTS[1]}" "127.0.0.1:${SIM_PORTS[2]}"

# "w" then 399 full stops: 400 tokens (25 blocks of 16); its JSON string is 402 bytes,
# 6 blocks of 64 for the gateway
long_prompt() { printf '{"model":"m","max_tokens":1,"prompt":"%s%s"}' "$1" "$(printf '.%.0s' $(seq 1 399))"; }
sims_hits() { # the sum of the replicas' vllm:prefix_cache_hits_total
	local sum=0 v p
	for p in "${SIM_PORTS[@]}"; do
		v=$("${C[@]}" "http://127.0.0.1:$p/metrics" |
			awk '$1 == "vllm:prefix_cache_hits_total{model_name=\"m\"}" { print $2 }')
		sum=$((sum + v))
	done
	echo "$sum"
}
send() { "${C[@]}" -o /dev/null -w '%{http_code}\n' -H "$J" -d "$1" "$GW_URL/v1/completions"; }

gateway_start --seed 7 --prefix-block 64
for p in w v; do
	for _ in $(seq 1 10); do send "$(long_prompt "$p")"; done
done >"$LLMO_DATA/codes"
[ "$(grep -c '^200$' "$LLMO_DATA/codes")" = 20 ] && ok || bad "codes: $(sort "$LLMO_DATA/codes" | uniq -c)"
got=$(metric 'llmo_gateway_prefix_lookups_total{model="m",result="hit"}')
[ "$got" = 18 ] && ok || bad "hits $got, want 18"
got=$(metric 'llmo_gateway_prefix_lookups_total{model="m",result="miss"}')
[ "$got" = 2 ] && ok || bad "misses $got, want 2"
# each of the 18 repeats finds all but its last token cached: 18 * 399
got=$(sims_hits)
[ "$got" = 7182 ] && ok || bad "replicas' cached tokens $got, want 7182"
# a short prompt is not looked up
expect_status 200 "short chat" -H "$J" -d "$(chat m)" "$GW_URL/v1/chat/completions"
got=$(metric 'llmo_gateway_prefix_lookups_total{model="m",result="miss"}')
[ "$got" = 2 ] && ok || bad "a short prompt was looked up: misses $got"
gateway_stop

gateway_start --seed 7 --balance p2c
for _ in $(seq 1 5); do send "$(long_prompt u)"; done >"$LLMO_DATA/codes"
[ "$(grep -c '^200$' "$LLMO_DATA/codes")" = 5 ] && ok || bad "p2c codes: $(cat "$LLMO_DATA/codes")"
"${C[@]}" "$GW_URL/metrics" | grep -q '^llmo_gateway_prefix_lookups_total{' &&
	bad "p2c looked prefixes up" || ok
gateway_stop

"$LLMO" gateway --backends "$LLMO_DATA/backends.yaml" --balance nearest >/dev/null 2>&1
[ $? = 2 ] && ok || bad "--balance nearest: want exit status 2"
"$LLMO" gateway --backends "$LLMO_DATA/backends.yaml" --prefix-block 8 >/dev/null 2>&1
[ $? = 2 ] && ok || bad "--prefix-block 8: want exit status 2"
finish
