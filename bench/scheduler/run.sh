#!/usr/bin/env bash
# Scheduling policies compared on the Alibaba openb trace with the method of
# "Beware of Fragmentation" (ATC'23): every policy over SEEDS at inflate 1.3,
# the mean of each metric, the published numbers beside them, the ratio of
# llmo to FGD, then throughput on a 10,000-node synthetic cluster, serial
# and with parallel node scoring (PARALLELISM threads) in the same run, and
# (MIXES=1) the same comparison on other workload mixes. See
# bench/scheduler/README.md.
#
# Usage: bench/scheduler/run.sh           (about a minute on 2 cores; MIXES=1 adds two)
# Settings (environment):
#   DATA=../shared/data/alibaba-gpu-2023   openb_node_list_gpu_node.csv, openb_pod_list_default.csv
#   SEEDS="42 43 44 45 46 47 48 49 50 51"
#   INFLATE=1.3
#   POLICIES="random bestfit dotprod gpupacking gpuclustering fgd llmo"
#   SYNTHETIC=10000     nodes of the throughput run (0 skips it)
#   PARALLELISM=0       threads of its parallel runs (0: the online CPUs up to 16)
#   MIXES=0             1: also compare bestfit, fgd and llmo on generated mixes
#                       (bench/scheduler/mixes.py, python3), MIX_SEEDS="42 43 44 45 46"
#   BUILDDIR=build-bench  where llmo is built (RelWithDebInfo, no sanitizers)
#   LLMO=path           use this llmo binary instead of building one
# Writes nothing into the repository but the build directory.
set -euo pipefail

cd "$(dirname "$0")/../.."
DATA=${DATA:-../shared/data/alibaba-gpu-2023}
SEEDS=${SEEDS:-"42 43 44 45 46 47 48 49 50 51"}
INFLATE=${INFLATE:-1.3}
POLICIES=${POLICIES:-"random bestfit dotprod gpupacking gpuclustering fgd llmo"}
SYNTHETIC=${SYNTHETIC:-10000}
PARALLELISM=${PARALLELISM:-0}
MIXES=${MIXES:-0}
MIX_SEEDS=${MIX_SEEDS:-"42 43 44 45 46"}
BUILDDIR=${BUILDDIR:-build-bench}
NODES=$DATA/openb_node_list_gpu_node.csv
PODS=$DATA/openb_pod_list_default.csv
for f in "$NODES" "$PODS"; do
	[ -f "$f" ] || { echo "bench: $f not found (set DATA)" >&2; exit 2; }
done

if [ -z "${LLMO:-}" ]; then
	cmake -S . -B "$BUILDDIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLMO_SANITIZE=OFF \
		-DLLMO_FUZZ=OFF -DLLMO_TESTS=OFF >/dev/null
	cmake --build "$BUILDDIR" -j"$(nproc)" --target llmo >/dev/null
	LLMO=$PWD/$BUILDDIR/llmo
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# value KEY FILE: a top-level number of `llmo sim schedule`'s output.
value() { sed -n "s/^  \"$1\": \\([0-9.]*\\),\\{0,1\\}\$/\\1/p" "$2"; }

# run POLICY PODS SEEDS... : one line "u100 u130 f90 dps" per seed into $WORK/POLICY.runs
run() {
	local policy=$1 pods=$2
	shift 2
	: >"$WORK/$policy.runs"
	for seed in "$@"; do
		"$LLMO" sim schedule --nodes "$NODES" --pods "$pods" --policy "$policy" \
			--seed "$seed" --inflate "$INFLATE" >"$WORK/out.json"
		echo "$(value unallocated_gpu_pct_at_arrived_100 "$WORK/out.json")" \
			"$(value unallocated_gpu_pct_at_arrived_130 "$WORK/out.json")" \
			"$(value frag_gpu_pct_at_arrived_90 "$WORK/out.json")" \
			"$(value decisions_per_second "$WORK/out.json")" >>"$WORK/$policy.runs"
	done
}
# mean COLUMN POLICY
mean() { awk -v c="$1" '{s += $c; n++} END {printf "%.2f", s / n}' "$WORK/$2.runs"; }
published() {
	case $1 in
	random) echo 13.70 ;; bestfit) echo 7.14 ;; gpupacking) echo 8.22 ;; fgd) echo 4.77 ;;
	*) echo - ;;
	esac
}

echo "llmo sim schedule: $(basename "$PODS") on $(basename "$NODES"), inflate $INFLATE, seeds $SEEDS"
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
echo
echo "| policy | unallocated GPU % at arrived 100% | at 130% | frag GPU % at 90% | decisions/s | published, at 100% |"
echo "| --- | --- | --- | --- | --- | --- |"
for p in $POLICIES; do
	run "$p" "$PODS" $SEEDS
	echo "| $p | $(mean 1 "$p") | $(mean 2 "$p") | $(mean 3 "$p") | $(awk '{s += $4; n++} END {printf "%.0f", s / n}' "$WORK/$p.runs") | $(published "$p") |"
done
if [ -f "$WORK/fgd.runs" ] && [ -f "$WORK/llmo.runs" ]; then
	echo
	printf "llmo / fgd: unallocated at 100%% %s, at 130%% %s, frag at 90%% %s\n" \
		"$(awk -v a="$(mean 1 llmo)" -v b="$(mean 1 fgd)" 'BEGIN {printf "%.3f", a / b}')" \
		"$(awk -v a="$(mean 2 llmo)" -v b="$(mean 2 fgd)" 'BEGIN {printf "%.3f", a / b}')" \
		"$(awk -v a="$(mean 3 llmo)" -v b="$(mean 3 fgd)" 'BEGIN {printf "%.3f", a / b}')"
	# Seeds where llmo leaves less unallocated at 100% than FGD does.
	printf "llmo below fgd at 100%% on %s of %s seeds\n" \
		"$(paste -d' ' "$WORK/llmo.runs" "$WORK/fgd.runs" | awk '$1 < $5 {n++} END {print n + 0}')" \
		"$(wc -l <"$WORK/fgd.runs")"
fi

if [ "$SYNTHETIC" -gt 0 ]; then
	echo
	echo "Throughput on $SYNTHETIC synthetic nodes (the node list's shapes in turn), seed 42,"
	echo "serial (--parallelism 1) and parallel (--parallelism $PARALLELISM) one after the other:"
	echo
	echo "| policy | pods | decisions/s serial | decisions/s parallel | threads | parallel / serial | unallocated GPU % at 100% | same placements |"
	echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
	for p in fgd llmo; do
		for par in 1 "$PARALLELISM"; do
			"$LLMO" sim schedule --nodes "$NODES" --pods "$PODS" --policy $p --seed 42 \
				--inflate "$INFLATE" --synthetic-nodes "$SYNTHETIC" \
				--parallelism "$par" >"$WORK/out-$par.json"
		done
		s=$WORK/out-1.json
		q=$WORK/out-$PARALLELISM.json
		# same placements: every placement-derived metric equal
		same=no
		if [ "$(grep -v -e decision -e parallelism "$s")" = "$(grep -v -e decision -e parallelism "$q")" ]; then
			same=yes
		fi
		echo "| $p | $(value pods "$s") | $(value decisions_per_second "$s" | cut -d. -f1) | $(value decisions_per_second "$q" | cut -d. -f1) | $(value parallelism "$q") | $(awk -v a="$(value decisions_per_second "$q")" -v b="$(value decisions_per_second "$s")" 'BEGIN {printf "%.2f", a / b}') | $(value unallocated_gpu_pct_at_arrived_100 "$s") | $same |"
	done
fi

if [ "$MIXES" = 1 ]; then
	python3 bench/scheduler/mixes.py --nodes "$NODES" --pods "$PODS" --out "$WORK/mixes"
	echo
	echo "Other mixes (bench/scheduler/mixes.py), mean unallocated GPU % at arrived 100%, seeds $MIX_SEEDS:"
	echo
	echo "| mix | bestfit | fgd | llmo | llmo / fgd |"
	echo "| --- | --- | --- | --- | --- |"
	for m in gpushare60 gpushare80 gpushare100 multigpu20 multigpu30 multigpu50 \
		gpuspec10 gpuspec20 gpuspec33 cpu50 cpu200; do
		for p in bestfit fgd llmo; do
			run "$p" "$WORK/mixes/$m.csv" $MIX_SEEDS
		done
		echo "| $m | $(mean 1 bestfit) | $(mean 1 fgd) | $(mean 1 llmo) | $(awk -v a="$(mean 1 llmo)" -v b="$(mean 1 fgd)" 'BEGIN {printf "%.3f", a / b}') |"
	done
fi
