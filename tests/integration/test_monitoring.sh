#!/bin/bash
# Monitoring end to end: deploy/prometheus/rules.yaml passes promtool's check and its unit
# tests; every metric the rules and the Grafana dashboards name is one llmo really exports
# (read off the live /metrics of the gateway, the controller, the API server, the registry
# and a replica, as a "# TYPE" line: the fake GPU here reports no utilization, so
# llmo_node_gpu_utilization_percent is declared without samples, and test_node_metrics
# checks its values); the controller's node families show the server's node; Debian's Prometheus, with deploy/prometheus/prometheus.yml pointed at a
# running `llmo server`, scrapes every target, loads the rules, and sees the example
# workload Ready and serving; and the server's controller, started with --prometheus,
# reads the gateway's numbers back from Prometheus's query API.
. "$(dirname "$0")/lib.sh"
trap 'stop_prom; finish' EXIT
NS=llm-workloads
W=my-llm-workload
PROM_PID=""
stop_prom() { [ -n "$PROM_PID" ] && kill "$PROM_PID" 2>/dev/null; wait "$PROM_PID" 2>/dev/null; PROM_PID=""; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
hostport() { echo "$1" | sed -E 's|^https?://||; s|/.*$||'; }

check "promtool check rules" promtool check rules deploy/prometheus/rules.yaml
check "promtool test rules (hand-computed alert cases)" promtool test rules deploy/prometheus/rules_test.yaml
check "the dashboards are JSON with a uid, a title and panels" /usr/bin/python3 -c '
import json, sys, glob
for f in glob.glob("deploy/grafana/*.json"):
    d = json.load(open(f))
    assert d["uid"] and d["title"] and d["panels"], f
    for p in d["panels"]:
        assert p["targets"] and all(t["expr"] for t in p["targets"]), (f, p["title"])'

CM=$(free_port)
PP=$(free_port)
server_start --fake-gpus 1 --config tests/data/e2e/config.yaml --metrics-listen 127.0.0.1:$CM \
	--prometheus http://127.0.0.1:$PP
check "apply the example workload" bash -c "kubectl apply -f k8s/llm-orchestrator/namespace.yaml >/dev/null &&
	kubectl apply -f examples/llama2-7b-model.yaml -f examples/my-llm-workload.yaml"
check "it becomes Ready" kubectl wait --for=condition=Ready llmworkload/$W -n $NS --timeout=120s
check "a completion through the gateway" wait_for 30 bash -c "curl -sf '$(gateway_url)/v1/completions' \
	-d '{\"model\":\"$W\",\"prompt\":\"hi\",\"max_tokens\":2}' | grep -q choices"
REPLICA=$(kubectl get llmw $W -n $NS -o jsonpath='{.status.endpoints[0]}')
TOKEN=$(cat "$LLMO_DATA/token")
{
	curl -sf "$(gateway_url)/metrics"
	curl -sf "http://127.0.0.1:$CM/metrics"
	curl -sf --cacert "$LLMO_DATA/pki/ca.crt" -H "Authorization: Bearer $TOKEN" "$LLMO_URL/metrics"
	curl -sf --cacert "$LLMO_DATA/pki/ca.crt" -H "Authorization: Bearer $TOKEN" "$(registry_url)/metrics"
	curl -sf "http://$REPLICA/metrics"
} >"$LLMO_DATA/exported" 2>/dev/null
check "the scheduler counts the replica it placed (on the controller's listener)" \
	grep -qx 'llmo_scheduler_attempts_total{result="scheduled"} [1-9][0-9]*' "$LLMO_DATA/exported"
check "the controller's /metrics shows the workload Ready" \
	grep -qx "llmo_controller_workload_ready{namespace=\"$NS\",workload=\"$W\"} 1" "$LLMO_DATA/exported"
# One fake GPU of 80Gi on the server's one node; the example workload's one replica asks 1 GPU.
NODE=$(kubectl get nodes -o jsonpath='{.items[0].metadata.name}')
check "the controller's /metrics shows the node's GPU allocatable and requested" bash -c "
	grep -qx 'llmo_node_allocatable{node=\"$NODE\",resource=\"gpu\"} 1' '$LLMO_DATA/exported' &&
	grep -qx 'llmo_node_requested{node=\"$NODE\",resource=\"gpu\"} 1' '$LLMO_DATA/exported' &&
	grep -qx 'llmo_node_gpu_memory_total_bytes{node=\"$NODE\",gpu=\"0\"} 85899345920' '$LLMO_DATA/exported'"
# The agent's measure of the whole machine on its Node (llm.orchestrator.io/usage): memory in
# use near what /proc/meminfo says now (MemTotal - MemAvailable, within an eighth of MemTotal:
# other processes come and go), CPU within the machine's cores, network rates present; and
# the controller exports the same figures.
node_usage_exported() {
	kubectl get node "$NODE" -o json | /usr/bin/python3 -c '
import json, os, sys, urllib.request
n = json.load(sys.stdin)
u = json.loads(n["metadata"]["annotations"]["llm.orchestrator.io/usage"])
mi = dict((l.split(":")[0], int(l.split()[1]) * 1024) for l in open("/proc/meminfo"))
used = mi["MemTotal"] - mi["MemAvailable"]
assert abs(u["memory"] - used) < mi["MemTotal"] / 8, (u, used)
assert 0 <= u["cpu"] <= os.cpu_count() * 1000, u
assert u["netRx"] >= 0 and u["netTx"] >= 0, u
m = urllib.request.urlopen(sys.argv[1]).read().decode()
for name, want in (("llmo_node_memory_used_bytes", u["memory"]),
                   ("llmo_node_cpu_used_cores", u["cpu"] / 1000),
                   ("llmo_node_network_receive_bytes_per_second", u["netRx"])):
    line = "%s{node=\"%s\"} " % (name, sys.argv[2])
    got = [float(l[len(line):]) for l in m.splitlines() if l.startswith(line)]
    assert got and abs(got[0] - want) < 1e-6, (name, got, want)' "http://127.0.0.1:$CM/metrics" "$NODE"
}
check "the Node's usage annotation is the machine's, and the controller exports it" \
	wait_for 40 node_usage_exported
check "every metric the rules and dashboards name is exported" bash -c "
	grep -ohE '(llmo_[a-z_]+|vllm:[a-z_]+)' deploy/prometheus/rules.yaml deploy/grafana/*.json |
		sed -E 's/_(bucket|sum|count)\$//' | grep -v '_\$' | sort -u >'$LLMO_DATA/named'
	grep -oE '^# TYPE [^ ]+' '$LLMO_DATA/exported' | cut -d' ' -f3 | sort -u >'$LLMO_DATA/have'
	missing=\$(comm -23 '$LLMO_DATA/named' '$LLMO_DATA/have')
	[ -z \"\$missing\" ] || { echo \"not exported: \$missing\"; exit 1; }"

mkdir -p "$LLMO_DATA/prom"
sed -e "s|DATA_DIR|$LLMO_DATA|g" -e 's/scrape_interval: 15s/scrape_interval: 1s/' \
	-e 's/evaluation_interval: 15s/evaluation_interval: 1s/' \
	-e "s|127.0.0.1:8000|$(hostport "$(gateway_url)")|" \
	-e "s|127.0.0.1:9091|127.0.0.1:$CM|" \
	-e "s|127.0.0.1:6443|$(hostport "$LLMO_URL")|" \
	-e "s|127.0.0.1:5000|$(hostport "$(registry_url)")|" \
	-e "s|targets: \[\]|targets: [\"$REPLICA\"]|" \
	deploy/prometheus/prometheus.yml >"$LLMO_DATA/prom/prometheus.yml"
cp deploy/prometheus/rules.yaml "$LLMO_DATA/prom/"
check "promtool check config (the shipped config, pointed at this server)" \
	promtool check config "$LLMO_DATA/prom/prometheus.yml"
prometheus --config.file="$LLMO_DATA/prom/prometheus.yml" --storage.tsdb.path="$LLMO_DATA/prom/data" \
	--web.listen-address=127.0.0.1:$PP >"$LLMO_DATA/prom/log" 2>&1 &
PROM_PID=$!
q() { curl -sf "http://127.0.0.1:$PP/api/v1/query" --data-urlencode "query=$1"; }
all_up() { q 'min(up) == 1 and count(up) == 5' | grep -q '"value"'; }
check "Prometheus scrapes all five targets (gateway, controller, API, registry, replica)" wait_for 60 all_up
check "Prometheus sees the workload Ready" wait_for 30 bash -c \
	"curl -sf 'http://127.0.0.1:$PP/api/v1/query' --data-urlencode 'query=llmo_controller_workload_ready{workload=\"$W\"} == 1' | grep -q '\"value\"'"
check "Prometheus counts the completion" wait_for 30 bash -c \
	"curl -sf 'http://127.0.0.1:$PP/api/v1/query' --data-urlencode 'query=sum(llmo_gateway_requests_total{code=\"200\"}) > 0' | grep -q '\"value\"'"
NRULES=$(grep -c '^ *- alert: ' deploy/prometheus/rules.yaml)
check "Prometheus loaded the $NRULES alerting rules of rules.yaml" wait_for 30 bash -c \
	"[ \"\$(curl -sf http://127.0.0.1:$PP/api/v1/rules | grep -o '\"type\":\"alerting\"' | wc -l)\" = $NRULES ]"
for _ in 1 2 3 4 5; do curl -sf "$(gateway_url)/v1/completions" -d "{\"model\":\"$W\",\"prompt\":\"hi\",\"max_tokens\":2}" >/dev/null; done
check "the controller reads the gateway's numbers from Prometheus (--prometheus)" wait_for 60 bash -c \
	"curl -sf http://127.0.0.1:$CM/metrics | grep -qE '^llmo_controller_gateway_scrapes_total\\{outcome=\"ok\"\\} [1-9]' &&
	 kubectl get llmw $W -n $NS -o jsonpath='{.status.performanceMetrics.lastUpdated}' | grep -q ."
stop_prom
