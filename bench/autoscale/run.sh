#!/usr/bin/env bash
# Autoscaling policies compared by `llmo sim autoscale`: predictive, reactive
# (HPA) and kpa (Knative defaults) on the Azure LLM conversation trace and on
# generated traces of other shapes (diurnal, bursty, ramp, step, code;
# several seeds), then per trace the ratio of predictive to KPA GPU-hours, the
# difference in SLO attainment, and whether the issue's goal is met. See
# docs/autoscaling.md.
#
# Usage: bench/autoscale/run.sh     (well under a minute once llmo is built)
# Settings (environment):
#   DATA=../shared/data/azure-llm-2023   AzureLLMInferenceTrace_conv.csv (skipped if absent)
#   SHAPES="diurnal bursty ramp step code"  generated traces (bench/autoscale/gen_trace.py)
#   SEEDS="1 2 3"                        one generated trace per shape and seed
#   TRACES="FILE..."                     more traces, any format llmo sim autoscale reads
#                   (Azure or BurstGPT CSV, Mooncake JSON Lines)
#   GEN=bench/autoscale/gen_trace.py     the generator; gen_heldout.py has held-out shapes
#                   (SHAPES="sawtooth drop stairs spikes"), not used to develop the policy
#   COLD_START=60   SLO_MS=1000   CAPACITY=8   (the simulator's flags; same for every policy)
#   WARMUP=600      seconds replayed but not counted (every trace starts with one replica
#                   and no history); WARMUP=0 counts everything
#   ARGS=""         more flags for every run (e.g. "--itl-ms 30")
#   ORACLE=1        also the predictive policy with a perfect forecast (--forecast oracle):
#                   how much of the gap to the goal a better forecaster could close
#   BUILDDIR=build-bench   where llmo is built (RelWithDebInfo, no sanitizers)
#   LLMO=path       use this llmo binary instead of building one
# Writes nothing into the repository but the build directory.
set -euo pipefail

cd "$(dirname "$0")/../.."
DATA=${DATA:-../shared/data/azure-llm-2023}
SHAPES=${SHAPES-"diurnal bursty ramp step code"}  # SHAPES= for none
SEEDS=${SEEDS:-"1 2 3"}
GEN=${GEN:-bench/autoscale/gen_trace.py}
COLD_START=${COLD_START:-60}
SLO_MS=${SLO_MS:-1000}
CAPACITY=${CAPACITY:-8}
WARMUP=${WARMUP:-600}
ARGS=${ARGS:-}
ORACLE=${ORACLE:-0}
BUILDDIR=${BUILDDIR:-build-bench}

if [ -z "${LLMO:-}" ]; then
	cmake -S . -B "$BUILDDIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLMO_SANITIZE=OFF \
		-DLLMO_FUZZ=OFF -DLLMO_TESTS=OFF >/dev/null
	cmake --build "$BUILDDIR" -j"$(nproc)" --target llmo >/dev/null
	LLMO=$BUILDDIR/llmo
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

traces=()
if [ -f "$DATA/AzureLLMInferenceTrace_conv.csv" ]; then
	traces+=("$DATA/AzureLLMInferenceTrace_conv.csv")
else
	echo "bench: $DATA/AzureLLMInferenceTrace_conv.csv not found, generated traces only" >&2
fi
for t in ${TRACES:-}; do
	[ -f "$t" ] || { echo "bench: $t: no such file" >&2; exit 1; }
	traces+=("$t")
done
for shape in $SHAPES; do
	for seed in $SEEDS; do
		dur=3600
		[ "$shape" = diurnal ] && dur=14400 # four compressed days: a season to find
		[ "$shape" = code ] && dur=7200     # six 20-minute seasons
		python3 "$GEN" --shape "$shape" --seed "$seed" \
			--duration-s $dur --out "$tmp/$shape-$seed.csv"
		traces+=("$tmp/$shape-$seed.csv")
	done
done

runs=(predictive kpa reactive)
[ "$ORACLE" = 1 ] && runs+=("predictive --forecast oracle")
for t in "${traces[@]}"; do
	for policy in "${runs[@]}"; do
		# shellcheck disable=SC2086
		"$LLMO" sim autoscale --trace "$t" --policy $policy --cold-start-s "$COLD_START" \
			--slo-ttft-ms "$SLO_MS" --replica-capacity "$CAPACITY" --warmup-s "$WARMUP" $ARGS
	done
done >"$tmp/results.jsonl.tmp"
# One object per line for the table.
python3 - "$tmp/results.jsonl.tmp" <<'PY'
import json, os, sys

text = open(sys.argv[1]).read()
dec = json.JSONDecoder()
rows, pos = [], 0
while pos < len(text):
    while pos < len(text) and text[pos].isspace():
        pos += 1
    if pos >= len(text):
        break
    obj, pos = dec.raw_decode(text, pos)
    rows.append(obj)

def name(path):
    b = os.path.basename(path)
    return "azure-conv" if b.startswith("AzureLLMInferenceTrace_conv") else os.path.splitext(b)[0]

by = {}
for r in rows:
    by.setdefault(name(r["trace"]), {})[r.get("forecast", r["policy"])] = r
r0 = rows[0]
w = max([14] + [len(t) for t in by])
print("cold start %.0f s, capacity %d, targets %s, SLO TTFT %.0f ms, warm-up %.0f s" % (
      r0["cold_start_s"], r0["replica_capacity"], r0["targets"], r0["slo_ttft_ms"], r0["warmup_s"]))
print("%-*s %-10s %9s %8s %10s %7s %7s %8s" % (w, "trace", "policy", "gpu_h", "slo_%", "p95_ms",
      "events", "max_r", "mape_%"))
for t, ps in by.items():
    for p in ("predictive", "kpa", "reactive", "oracle"):
        if p not in ps:
            continue
        r = ps[p]
        mape = "-" if r["forecast_mape_pct"] is None else "%.1f" % r["forecast_mape_pct"]
        print("%-*s %-10s %9.3f %8.2f %10.1f %7d %7d %8s" % (w, t, p, r["gpu_hours"],
              r["slo_attainment_pct"], r["p95_ttft_ms"], r["scale_events"], r["max_replicas"], mape))
def goal(r, k):
    """The issue's goal for r against KPA's k: (GPU-hour ratio, attainment difference, met)."""
    ratio = r["gpu_hours"] / k["gpu_hours"]
    diff = r["slo_attainment_pct"] - k["slo_attainment_pct"]
    return ratio, diff, (diff >= 0 and ratio <= 0.8) or (diff >= 5 and ratio <= 1.0)

print()
print("%-*s %16s %18s %16s %18s  %s" % (w, "trace", "pred/kpa gpu_h", "pred-kpa slo pts",
      "pred/hpa gpu_h", "pred-hpa slo pts", "goal vs kpa"))
met = 0
for t, ps in by.items():
    p, h = ps["predictive"], ps["reactive"]
    ratio, diff, ok = goal(p, ps["kpa"])
    met += ok
    print("%-*s %16.3f %+18.2f %16.3f %+18.2f  %s" % (w, t, ratio, diff,
          p["gpu_hours"] / h["gpu_hours"], p["slo_attainment_pct"] - h["slo_attainment_pct"],
          "met" if ok else "not met"))
print()
print("goal (attainment >= KPA's with <= 0.8x its GPU-hours, or +5 points at <= 1.0x): "
      "met on %d of %d traces" % (met, len(by)))
if all("oracle" in ps for ps in by.values()):
    print()
    print("the predictive policy with a perfect forecast (oracle: the trace's own arrivals to come)")
    print("%-*s %16s %18s %16s  %s" % (w, "trace", "orac/kpa gpu_h", "orac-kpa slo pts",
          "orac/pred gpu_h", "goal vs kpa"))
    met = 0
    for t, ps in by.items():
        o = ps["oracle"]
        ratio, diff, ok = goal(o, ps["kpa"])
        met += ok
        print("%-*s %16.3f %+18.2f %16.3f  %s" % (w, t, ratio, diff,
              o["gpu_hours"] / ps["predictive"]["gpu_hours"], "met" if ok else "not met"))
    print()
    print("met with a perfect forecast on %d of %d traces" % (met, len(by)))
PY
