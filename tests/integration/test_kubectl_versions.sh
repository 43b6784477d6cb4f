#!/usr/bin/env bash
# The kubectl session of test_kubectl.sh with every other kubectl release this
# machine has (/usr/lib/google-cloud-sdk/bin/kubectl.1.NN), from 1.27 on.
set -u
here=$(dirname "$0")
pass=0 fail=0 ran=0
for k in /usr/lib/google-cloud-sdk/bin/kubectl.1.*; do
	[ -x "$k" ] || continue
	minor=${k##*kubectl.1.}
	[ "$minor" -ge 27 ] 2>/dev/null || { echo "skip $k (before 1.27)"; continue; }
	ran=$((ran + 1))
	if KUBECTL="$k" bash "$here/test_kubectl.sh" >"/tmp/llmo-kubectl-$minor.log" 2>&1; then
		pass=$((pass + 1)); echo "ok   $k: $(tail -1 "/tmp/llmo-kubectl-$minor.log")"
	else
		fail=$((fail + 1)); echo "FAIL $k:"; sed 's/^/    /' "/tmp/llmo-kubectl-$minor.log"
	fi
	rm -f "/tmp/llmo-kubectl-$minor.log"
done
[ "$ran" -gt 0 ] || echo "no other kubectl releases on this machine"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
