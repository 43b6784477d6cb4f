#!/usr/bin/env bash
# The registry's tokens change while it serves: `llmo registry --tokens-secret NS/NAME` takes
# more tokens from the key "tokens" of a Secret (read through the API of `llmo server`, real
# kubectl writing it) and follows each new version; the token file is read again on SIGHUP and
# when it changes (polled every 5 s). A version that does not parse changes nothing (logged
# with where, counted); a deleted Secret takes its tokens away.
. "$(dirname "$0")/lib.sh"
trap '[ -n "${REG_PID:-}" ] && kill "$REG_PID" 2>/dev/null; finish' EXIT
k() { kubectl --request-timeout=30s "$@"; }
RLOG="$LLMO_DATA/registry.log"
tok() { printf '%s%s' "$1" "0123456789abcdef0123"; } # a 21+ byte token from a word

server_start
check "--kubeconfig without --tokens-secret is a usage error (2)" bash -c \
	"\"$LLMO\" registry --storage '$LLMO_DATA/x' --kubeconfig '$KUBECONFIG' 2>'$LLMO_DATA/e'; [ \$? -eq 2 ] && grep -q 'is for --tokens-secret' '$LLMO_DATA/e'"
check "a secret name with two slashes stops the start (1), saying what it wants" bash -c \
	"\"$LLMO\" registry --listen 127.0.0.1:0 --storage '$LLMO_DATA/x' --tokens-secret a/b/c --kubeconfig '$KUBECONFIG' 2>'$LLMO_DATA/e'; [ \$? -eq 1 ] && grep -q 'want \[NAMESPACE/\]NAME' '$LLMO_DATA/e'"
TF="$LLMO_DATA/tokens"
install -m 600 /dev/null "$TF"
echo "$(tok filea) team-a repository:models/*:pull,push" >"$TF"
: >"$LLMO_DATA/reg.out"
"$LLMO" registry --listen 127.0.0.1:0 --storage "$LLMO_DATA/reg" --tokens "$TF" \
	--tokens-secret default/reg-tokens --kubeconfig "$KUBECONFIG" \
	>"$LLMO_DATA/reg.out" 2>"$RLOG" &
REG_PID=$!
URL=$(line_value "$LLMO_DATA/reg.out" "llmo registry listening on")
[ -n "$URL" ] || { echo "the registry did not start:"; cat "$RLOG"; exit 1; }
code() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(tok "$1")" "$URL/v2/"; }
is() { [ "$(code "$1")" = "$2" ]; } # is WORD CODE: /v2/ with the token of WORD answers CODE
metric() { curl -s "$URL/metrics" | grep -q "^$1\$"; }
secret() { # secret FILE: create or replace the Secret reg-tokens with key tokens = FILE
	k create secret generic reg-tokens -n default --from-file=tokens="$1" --dry-run=client -o yaml |
		k apply -f -
}

check "the file's token is taken" is filea 200
check "a token not known yet is refused" is secretb 401
echo "$(tok secretb) ci repository:*:pull" >"$LLMO_DATA/s1"
check "create the Secret" secret "$LLMO_DATA/s1"
check "its token is taken without a restart" wait_for 20 is secretb 200
check "the file's still is" is filea 200
check "logged" grep -q "tokens reloaded source=secret tokens=2" "$RLOG"
check "counted" metric 'llmo_registry_token_reloads_total{source="secret",result="ok"} 1'
check "and the gauge says 2" metric 'llmo_registry_tokens 2'

echo "$(tok secretc) ci repository:*:pull" >"$LLMO_DATA/s2"
check "a new version of the Secret" secret "$LLMO_DATA/s2"
check "its new token is taken" wait_for 20 is secretc 200
check "the old one refused" is secretb 401

printf '%s\n%s ci repository:*:fly\n' "$(tok secretd) ci repository:*:pull" "$(tok secrete)" >"$LLMO_DATA/s3"
check "a version that does not parse" secret "$LLMO_DATA/s3"
check "is refused, saying where" wait_for 20 grep -q 'tokens not reloaded, the ones in use are kept source=secret error=.*secret default/reg-tokens key tokens:2: ' "$RLOG"
check "counted as an error" metric 'llmo_registry_token_reloads_total{source="secret",result="error"} 1'
check "the tokens in use are kept" is secretc 200
check "none of the bad version's" is secretd 401
check "a Secret without the key" bash -c "kubectl create secret generic reg-tokens -n default \
	--from-literal=other=x --dry-run=client -o yaml | kubectl apply -f -"
check "is refused too" wait_for 20 grep -q "the Secret has no key" "$RLOG"
check "and changes nothing" is secretc 200
check "delete the Secret" k delete secret reg-tokens -n default
check "its tokens no longer count" wait_for 20 is secretc 401
check "logged" grep -q "tokens secret deleted" "$RLOG"
check "the file's token stays" is filea 200

echo "$(tok secretg) ci repository:*:pull" >"$LLMO_DATA/s4"
check "the Secret created again" secret "$LLMO_DATA/s4"
check "its token is taken" wait_for 20 is secretg 200

# the token file: SIGHUP, then the poll
echo "$(tok filed) team-a repository:models/*:pull" >"$TF"
kill -HUP "$REG_PID"
check "after SIGHUP the new file's token is taken" wait_for 5 is filed 200
check "the old one refused" is filea 401
echo "$(tok filee) team-a repository:models/*:pull" >"$TF"
check "a change is seen without a signal (polled every 5 s)" wait_for 15 is filee 200
chmod 644 "$TF"
echo "$(tok filef) team-a repository:models/*:pull" >>"$TF"
kill -HUP "$REG_PID"
check "a file others may read is refused" wait_for 5 grep -q "source=file error=.*group or others may access this token file" "$RLOG"
check "and the tokens in use are kept" is filee 200
check "none of the refused file's" is filef 401
check "the Secret's token still counts after the refused file" is secretg 200
chmod 600 "$TF"
kill -HUP "$REG_PID"
check "the file mended, its tokens are taken at SIGHUP" wait_for 5 is filef 200
check "and the Secret's still count with them" is secretg 200

kill "$REG_PID"
rc=0; wait "$REG_PID" || rc=$?
REG_PID=
check "the registry stops cleanly" test "$rc" -eq 0
