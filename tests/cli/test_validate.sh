#!/usr/bin/env bash
# `llmo validate` on broken inputs: each tests/data/validate/NAME.yaml must be
# rejected (exit 1) with exactly the report in NAME.expected, whose lines and
# messages were written by hand from the input. Valid inputs must pass.
. "$(dirname "$0")/lib.sh"

for input in tests/data/validate/*.yaml; do
	expected="${input%.yaml}.expected"
	[ -f "$expected" ] || { bad "$input has no .expected file"; continue; }
	got=$("$LLMO" validate -q "$input" 2>&1)
	rc=$?
	[ "$rc" -eq 1 ] || bad "$input: exit status $rc, want 1"
	if diff -u "$expected" <(printf '%s\n' "$got"); then ok; else bad "$input: report differs"; fi
done

# The shipped examples and manifests are valid.
out=$("$LLMO" validate examples/ k8s/llm-orchestrator/ 2>&1)
rc=$?
if [ "$rc" -eq 0 ]; then ok; else bad "examples or manifests invalid (exit $rc):"; echo "$out"; fi
# ... and the report names each object it checked.
grep -q '^ok examples/my-llm-workload.yaml: LLMWorkload llm-workloads/my-llm-workload$' <<<"$out" \
	&& ok || bad "no ok line for my-llm-workload in: $out"
# The ConfigMap in deployment.yaml carries a configuration, which is checked too.
grep -q '^ok k8s/llm-orchestrator/deployment.yaml: orchestrator configuration$' <<<"$out" \
	&& ok || bad "the ConfigMap's configuration was not checked"

# Standard input, and a file that does not exist.
got=$("$LLMO" validate -q - <tests/data/validate/bad-replicas.yaml 2>&1)
grep -q '^-:10: spec.scaling.maxReplicas: must be >= minReplicas (3)$' <<<"$got" \
	&& ok || bad "stdin report: $got"
got=$("$LLMO" validate -q tests/data/validate/no-such-file.yaml 2>&1)
rc=$?
{ [ "$rc" -eq 1 ] && grep -q 'no-such-file.yaml: no such file' <<<"$got"; } \
	&& ok || bad "missing file (exit $rc): $got"

# Usage errors exit 2.
"$LLMO" validate >/dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] && ok || bad "no arguments: exit $rc, want 2"
"$LLMO" validate --bogus x >/dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] && ok || bad "unknown option: exit $rc, want 2"

# --config: resource profiles and limits come from the configuration.
cat >"$tmp/config.yaml" <<'YAML'
resourceManager:
  maxCPUPerWorkload: "1000m"
resourceProfiles:
  large-gpu:
    cpu: "4000m"
    memory: "16Gi"
    gpu: 2
    maxReplicas: 10
YAML
cat >"$tmp/w.yaml" <<'YAML'
apiVersion: llm.orchestrator.io/v1
kind: LLMWorkload
metadata:
  name: w
spec:
  modelName: llama2
  resourceProfile: small-gpu
  resources:
    cpu: "2"
YAML
got=$("$LLMO" validate -q --config "$tmp/config.yaml" "$tmp/w.yaml" 2>&1)
grep -q "w.yaml:7: spec.resourceProfile: \"small-gpu\" is not a profile of the configuration's resourceProfiles" <<<"$got" \
	&& ok || bad "unknown profile not reported: $got"
grep -q 'w.yaml:9: spec.resources.cpu: 2 exceeds resourceManager.maxCPUPerWorkload (1)' <<<"$got" \
	&& ok || bad "cpu limit not reported: $got"

# config defaults: a complete file that validates, and config validate rejects bad files.
"$LLMO" config defaults >"$tmp/defaults.yaml" && ok || bad "config defaults failed"
"$LLMO" config validate "$tmp/defaults.yaml" >/dev/null && ok || bad "defaults do not validate"
"$LLMO" config validate tests/data/validate/bad-config.yaml >/dev/null; rc=$?
[ "$rc" -eq 1 ] && ok || bad "config validate of a bad file: exit $rc, want 1"

# docs/configuration.md shows exactly what `llmo config defaults` prints.
sed -n '/^<!-- begin: llmo config defaults -->$/,/^<!-- end: llmo config defaults -->$/p' \
	docs/configuration.md | sed '1,2d;$d' | sed '$d' >"$tmp/doc-defaults.yaml"
if diff -u "$tmp/doc-defaults.yaml" "$tmp/defaults.yaml"; then ok; else
	bad "docs/configuration.md differs from llmo config defaults"; fi

cli_finish
