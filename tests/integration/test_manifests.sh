#!/usr/bin/env bash
# k8s/llm-orchestrator/deployment.yaml run as a kubelet would (manifest_run.py): each
# component's own command, environment and configuration against the API of `llmo server`,
# its probes answering on the pod's address, its Services' ports open, a clean stop on
# SIGTERM. It runs in a network namespace of its own (unshare -rn: the manifests' fixed ports
# cannot meet another test's), and is skipped, saying so, where user namespaces are not
# allowed.
if [ -z "${LLMO_MANIFEST_NETNS:-}" ]; then
	if ! unshare -rn true 2>/dev/null; then
		echo "SKIP: unshare -rn (an unprivileged network namespace) is not allowed here"
		exit 0
	fi
	LLMO_MANIFEST_NETNS=1 exec unshare -rn bash "$0" "$@"
fi
ip link set lo up
ip addr add 10.77.0.1/32 dev lo # the pod's address
. "$(dirname "$0")/lib.sh"
trap finish EXIT
server_start
check "apply namespace.yaml, crd.yaml, rbac.yaml" bash -c "for f in namespace crd rbac; do \
	kubectl apply -f k8s/llm-orchestrator/\$f.yaml || exit 1; done"
/usr/bin/python3 tests/integration/manifest_run.py "$(readlink -f "$LLMO")" "$KUBECONFIG" \
	"$LLMO_DATA/pods" >"$LLMO_DATA/results" 2>&1
cat "$LLMO_DATA/results"
pass=$((pass + $(grep -c '^ok ' "$LLMO_DATA/results")))
fail=$((fail + $(grep -c '^FAIL ' "$LLMO_DATA/results")))
grep -q '^ok \|^FAIL ' "$LLMO_DATA/results" || bad "manifest_run.py reported nothing"
