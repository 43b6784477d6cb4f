#!/usr/bin/env bash
# `kubectl get` of built-in kinds prints the columns kube-apiserver's printers give (the
# server answers Tables): pods and nodes with their -o wide columns, events (LAST SEEN, TYPE,
# REASON, OBJECT, MESSAGE; no NAME but in -o wide), services, configmaps, secrets,
# deployments, leases, role bindings. Objects are created here with known fields, and each
# line is compared with what kubectl prints for them on a Kubernetes cluster.
. "$(dirname "$0")/lib.sh"
server_start --disable controller,scheduler,agent,gateway,registry
k() { kubectl --request-timeout=30s "$@"; }
# row "description" WANT COMMAND...: the command's output, blanks squeezed, holds the line WANT
row() {
	local what=$1 want=$2; shift 2
	if "$@" >"$LLMO_DATA/out" 2>&1 && tr -s ' ' <"$LLMO_DATA/out" | sed 's/ *$//' | grep -qxF -- "$want"; then ok
	else bad "$what: want '$want' in:"; sed 's/^/    /' "$LLMO_DATA/out"; fi
}
NS=tables
k create namespace $NS >/dev/null
k apply -n $NS -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: web-1}
spec:
  nodeName: node-a
  containers: [{name: a, image: nginx}, {name: b, image: busybox}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web, tier: front}
  ports: [{port: 80, protocol: TCP}, {port: 443, nodePort: 30443, protocol: TCP}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {a: "1", b: "2", c: "3"}
---
apiVersion: v1
kind: Secret
metadata: {name: sec}
type: kubernetes.io/tls
data: {tls.crt: YQ==, tls.key: Yg==}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 3
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: srv, image: "srv:1"}, {name: log, image: "log:2"}]}
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: leader}
spec: {holderIdentity: replica-7}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: readers}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects:
- {kind: User, name: alice}
- {kind: Group, name: team-a}
- {kind: ServiceAccount, name: bot, namespace: tables}
EOF
# status the way the kubelet and controllers would write it
k patch pod web-1 -n $NS --subresource=status --type=merge -p \
	'{"status":{"phase":"Running","podIP":"10.1.2.3","containerStatuses":[{"name":"a","ready":true,"restartCount":2},{"name":"b","ready":false,"restartCount":1}]}}' >/dev/null
k patch deploy api -n $NS --subresource=status --type=merge -p \
	'{"status":{"readyReplicas":2,"updatedReplicas":3,"availableReplicas":2}}' >/dev/null
k apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Node
metadata:
  name: node-a
  labels: {node-role.kubernetes.io/control-plane: "", node-role.kubernetes.io/gpu: ""}
spec: {unschedulable: true}
EOF
k patch node node-a --subresource=status --type=merge -p \
	'{"status":{"conditions":[{"type":"Ready","status":"True"}],"addresses":[{"type":"InternalIP","address":"192.0.2.7"}],"nodeInfo":{"kubeletVersion":"v1.30.1","osImage":"Debian GNU/Linux 12","kernelVersion":"6.1.0","containerRuntimeVersion":"containerd://1.7"}}}' >/dev/null
k create -n $NS -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Event
metadata: {name: web-1.evt}
involvedObject: {kind: Pod, name: web-1, namespace: tables, fieldPath: "spec.containers{a}"}
reason: BackOff
message: Back-off restarting failed container
type: Warning
count: 4
source: {component: kubelet, host: node-a}
EOF

row "pods: header" "NAME READY STATUS RESTARTS AGE" k get pods -n $NS
row "pods -o wide: header" "NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES" \
	k get pods -n $NS -o wide
check "pods -o wide: the row" bash -c "kubectl get pods -n $NS -o wide --no-headers | tr -s ' ' |
	grep -E '^web-1 1/2 Running 3 [0-9]+s 10.1.2.3 node-a <none> <none>\$'"
row "nodes -o wide: header" "NAME STATUS ROLES AGE VERSION INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME" \
	k get node node-a -o wide
check "nodes -o wide: the row" bash -c "kubectl get node node-a -o wide --no-headers | tr -s ' ' |
	grep -E '^node-a Ready,SchedulingDisabled control-plane,gpu [0-9]+s v1.30.1 192.0.2.7 <none> Debian GNU/Linux 12 6.1.0 containerd://1.7\$'"
row "events: header" "LAST SEEN TYPE REASON OBJECT MESSAGE" k get events -n $NS
check "events: the row" bash -c "kubectl get events -n $NS --no-headers | tr -s ' ' |
	grep -E '^[0-9]+s Warning BackOff pod/web-1 Back-off restarting failed container\$'"
row "events -o wide: header" "LAST SEEN TYPE REASON OBJECT SUBOBJECT SOURCE MESSAGE FIRST SEEN COUNT NAME" \
	k get events -n $NS -o wide
check "events -o wide: the row" bash -c "kubectl get events -n $NS -o wide --no-headers | tr -s ' ' |
	grep -E '^[0-9]+s Warning BackOff pod/web-1 spec.containers\{a\} kubelet, node-a Back-off restarting failed container [0-9]+s 4 web-1.evt\$'"
row "services -o wide" "web ClusterIP <none> <none> 80/TCP,443:30443/TCP AGE app=web,tier=front" \
	bash -c "kubectl get svc web -n $NS -o wide --no-headers | sed -E 's/ [0-9]+s / AGE /'"
row "configmaps" "cfg 3 AGE" bash -c "kubectl get cm cfg -n $NS --no-headers | sed -E 's/ [0-9]+s$/ AGE/'"
row "secrets" "sec kubernetes.io/tls 2 AGE" bash -c "kubectl get secret sec -n $NS --no-headers | sed -E 's/ [0-9]+s$/ AGE/'"
row "deployments -o wide: header" "NAME READY UP-TO-DATE AVAILABLE AGE CONTAINERS IMAGES SELECTOR" \
	k get deploy -n $NS -o wide
row "deployments -o wide" "api 2/3 3 2 AGE srv,log srv:1,log:2 app=api" \
	bash -c "kubectl get deploy api -n $NS -o wide --no-headers | sed -E 's/ [0-9]+s / AGE /'"
row "leases" "leader replica-7 AGE" bash -c "kubectl get lease leader -n $NS --no-headers | sed -E 's/ [0-9]+s$/ AGE/'"
row "rolebindings -o wide: header" "NAME ROLE AGE USERS GROUPS SERVICEACCOUNTS" k get rolebindings -n $NS -o wide
row "rolebindings -o wide" "readers ClusterRole/view AGE alice team-a tables/bot" \
	bash -c "kubectl get rolebinding readers -n $NS -o wide --no-headers | sed -E 's/ [0-9]+s / AGE /'"
row "namespaces" "tables Active AGE" bash -c "kubectl get ns tables --no-headers | sed -E 's/ [0-9]+s$/ AGE/'"
# custom resources keep their CRD's printer columns
# --sort-by on a field outside metadata: kubectl asks for rows with the whole object
# (includeObject=Object); zz-1's image sorts before web-1's, its name after
k run zz-1 -n $NS --image=aaa --restart=Never >/dev/null
check "--sort-by=.spec.containers[0].image" bash -c "[ \"\$(kubectl get pods -n $NS --no-headers \
	--sort-by='.spec.containers[0].image' | awk '{print \$1}' | tr '\n' ' ')\" = 'zz-1 web-1 ' ]"
check "includeObject=None: rows without objects" bash -c "kubectl get --raw \
	'/api/v1/namespaces/$NS/pods?includeObject=None' -v=0 >/dev/null; curl -sk \
	-H 'Accept: application/json;as=Table;v=v1;g=meta.k8s.io' -H \"Authorization: Bearer \$(cat '$LLMO_DATA/token')\" \
	'$LLMO_URL/api/v1/namespaces/$NS/pods?includeObject=None' | python3 -c 'import json, sys
rows = json.load(sys.stdin)[\"rows\"]
assert len(rows) == 2 and all(\"object\" not in r for r in rows), rows'"
EX="$(dirname "$0")/../../examples/my-llm-workload.yaml"
k apply -f "$EX" >/dev/null || bad "apply $EX"
row "llmworkloads: the CRD's columns" "NAME MODEL VERSION PHASE READY AGE" k get llmw -n llm-workloads
finish
