#!/usr/bin/env bash
# A model's type decides the OpenAI paths the gateway serves it on (modelType in the backends
# file; spec.modelType of an LLMWorkload is checked in unit.test_gateway_table): an embedding
# model answers /v1/embeddings only, a chat model /v1/chat/completions only, a text-generation
# model both completion APIs, a model without a type every path. A call on another path is a
# 404 OpenAI error naming the paths the model does serve, and never reaches a backend.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway_lib.sh"

sim_start --model m --ttft-base 0 --ttft-per-token 0 --itl 1ms
A="served: m, endpoints: [{address: \"127.0.0.1:${SIM_PORTS[0]}\"}]"
cat >"$LLMO_DATA/backends.yaml" <<EOF
models:
  - {name: embed, modelType: embedding, $A}
  - {name: chatty, modelType: chat, $A}
  - {name: gen, modelType: text-generation, $A}
  - {name: any, $A}
EOF
gateway_start

body() { # body MODEL PATH: a small request for that API
	case $2 in
	/v1/embeddings) echo "{\"model\":\"$1\",\"input\":\"x\"}" ;;
	/v1/completions) echo "{\"model\":\"$1\",\"prompt\":\"x\",\"max_tokens\":2}" ;;
	*) chat "$1" ;;
	esac
}
# allowed MODEL PATH...: 200 on these paths, the typed 404 on the others
allowed() {
	local m=$1 p; shift
	for p in /v1/completions /v1/chat/completions /v1/embeddings; do
		if [[ " $* " == *" $p "* ]]; then
			expect_status 200 "$m on $p" -H "$J" -d "$(body "$m" "$p")" "$GW_URL$p"
		else
			check "$m on $p: 404 model_not_supported" error_is 404 model_not_supported model \
				-H "$J" -d "$(body "$m" "$p")" "$GW_URL$p"
		fi
	done
}
allowed embed /v1/embeddings
allowed chatty /v1/chat/completions
allowed gen /v1/completions /v1/chat/completions
allowed any /v1/completions /v1/chat/completions /v1/embeddings
check "the message names the paths the model serves" bash -c \
	"${C[*]} -H '$J' -d '$(body embed /v1/completions)' $GW_URL/v1/completions | grep -q 'is not supported on /v1/completions (its model type serves /v1/embeddings)'"
# the backend finished only the 7 requests allowed above (vLLM's request_success_total)
check "refused requests never reached the backend" bash -c \
	"${C[*]} http://127.0.0.1:${SIM_PORTS[0]}/metrics | awk '/^vllm:request_success_total/ { n += \$2 } END { exit n != 7 }'"
gateway_stop

# a bad type in the file is an error naming the file, line and path
cat >"$LLMO_DATA/bad.yaml" <<EOF
models:
  - name: x
    modelType: speech
    endpoints: []
EOF
"$LLMO" gateway --listen 127.0.0.1:0 --backends "$LLMO_DATA/bad.yaml" >/dev/null 2>"$LLMO_DATA/bad.err"
[ $? -eq 1 ] && grep -q 'bad.yaml:3: models\[0\].modelType: expected text-generation, chat, embedding, code-generation or classification' "$LLMO_DATA/bad.err" \
	&& ok || bad "a bad modelType: $(cat "$LLMO_DATA/bad.err")"
finish
