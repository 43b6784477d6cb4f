# RBAC with real kubectl: users from --token-file are refused (403, kube-apiserver's
# wording) until a RoleBinding gives them a role; `kubectl auth can-i` answers from
# SelfSubjectAccessReviews; the admin (system:masters) is never refused; impersonation
# (kubectl --as) needs the verb impersonate.
# Run: LLMO=build/llmo bash tests/integration/test_rbac.sh
set -u
. "$(dirname "$0")/lib.sh"
KUBECTL=${KUBECTL:-kubectl}
command -v "$KUBECTL" >/dev/null || { echo "SKIP: no kubectl"; exit 0; }
command -v curl >/dev/null || { echo "SKIP: no curl"; exit 0; }

TOKENS="$LLMO_DATA/tokens.csv"
BOB=bob-token-0123456789abcdef
OPS=ops-token-0123456789abcdef
ROOT=root-token-0123456789abcdef
# bob: no groups; ops: one quoted group list; root: in system:masters
cat >"$TOKENS" <<EOF
$BOB,bob,1001
$OPS,olga,1002,"ops,oncall"

,ignored,1003
$ROOT,rita,1004,system:masters
EOF
chmod 600 "$TOKENS"

# a token file with a 2-field record stops the start, naming the line
printf 'tok,user\n' >"$LLMO_DATA/bad.csv"
"$LLMO" server --data-dir "$LLMO_DATA/bad" --listen 127.0.0.1:0 --disable \
	controller,scheduler,agent,gateway,registry --token-file "$LLMO_DATA/bad.csv" \
	>"$LLMO_DATA/bad.out" 2>&1
check "a bad token file stops the start" grep -q 'bad.csv:1: a record needs at least 3 fields' "$LLMO_DATA/bad.out"

server_start --disable controller,scheduler,agent,gateway,registry --token-file "$TOKENS"
CA="$LLMO_DATA/pki/ca.crt"
admin() { "$KUBECTL" "$@"; }
as() { # as TOKEN kubectl-args...
	local tok=$1; shift
	"$KUBECTL" --kubeconfig /dev/null --server "$LLMO_URL" --certificate-authority "$CA" \
		--token "$tok" "$@"
}
cani() { local tok=$1; shift; as "$tok" auth can-i "$@" 2>/dev/null; } # cani TOKEN VERB RESOURCE...: prints yes or no
# curl as a user: prints the status code, the body goes to $LLMO_DATA/body
curl_as() { # curl_as TOKEN METHOD PATH [DATA]
	local tok=$1 method=$2 path=$3; shift 3
	curl -s --cacert "$CA" -o "$LLMO_DATA/body" -w '%{http_code}' -X "$method" \
		-H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
		${1:+--data "$1"} "$LLMO_URL$path"
}

# --- authentication
check "a wrong token is 401" test "$(curl_as nope GET /api/v1/pods)" = 401
check "the empty-token record is skipped" test "$(curl_as '' GET /api/v1/pods)" = 401

# --- the default roles exist
check "default ClusterRoles" admin get clusterroles cluster-admin admin edit view system:discovery
check "cluster-admin is bound to system:masters" \
	sh -c "'$KUBECTL' get clusterrolebinding cluster-admin -o jsonpath='{.subjects[0].name}' | grep -qx system:masters"

# --- bob is refused, with kube-apiserver's wording
as $BOB get pods -n default >"$LLMO_DATA/res" 2>&1
check "bob cannot list pods" grep -q 'Error from server (Forbidden): pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "default"' "$LLMO_DATA/res"
check "403 with a Forbidden Status" test "$(curl_as $BOB GET /api/v1/namespaces/default/pods/p1)" = 403
check "the Status names the pod" python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["kind"] == "Status" and s["reason"] == "Forbidden" and s["code"] == 403, s
assert s["message"] == "pods \"p1\" is forbidden: User \"bob\" cannot get resource \"pods\" in API group \"\" in the namespace \"default\"", s["message"]
assert s["details"] == {"name": "p1", "kind": "pods"}, s["details"]' "$LLMO_DATA/body"
curl_as $BOB GET /apis/apps/v1/deployments >/dev/null
check "cluster scope and API group in the message" grep -q '"deployments.apps is forbidden: User \\"bob\\" cannot list resource \\"deployments\\" in API group \\"apps\\" at the cluster scope"' "$LLMO_DATA/body"
curl_as $BOB GET /metrics >/dev/null
check "non-resource path in the message" grep -q '"forbidden: User \\"bob\\" cannot get path \\"/metrics\\""' "$LLMO_DATA/body"
check "discovery is open to every authenticated user" test "$(curl_as $BOB GET /apis)" = 200
check "/version too" test "$(curl_as $BOB GET /version)" = 200

# --- kubectl auth can-i (SelfSubjectAccessReview)
check "can-i: bob cannot list pods" test "$(cani $BOB list pods -n default)" = no
# (objects from manifests: kubectl 1.32's `create rolebinding` generators send protobuf)
binding() { # binding KIND NAME NAMESPACE|- ROLEKIND ROLE SUBJECTKIND SUBJECT
	local ns=""
	[ "$3" != - ] && ns="namespace: $3"
	admin apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: $1
metadata: {name: $2, $ns}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: $4, name: $5}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: $6, name: $7}]
EOF
}
configmap() { # configmap NAMESPACE NAME [kubectl-as-args...]
	local ns=$1 name=$2; shift 2
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: %s}\ndata: {a: "1"}\n' \
		"$name" "$ns" | "${@:-admin}" apply -f -
}
printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n' | admin apply -f - >/dev/null
binding RoleBinding bob-view team ClusterRole view User bob
check "bob reads pods in team once bound to view" as $BOB get pods -n team
as $BOB get pods -n default >"$LLMO_DATA/res" 2>&1
check "...but not in default" grep -q 'cannot list resource "pods" in API group "" in the namespace "default"' "$LLMO_DATA/res"
check "can-i yes for list pods in team" test "$(cani $BOB list pods -n team)" = yes
check "can-i no for create pods in team" test "$(cani $BOB create pods -n team)" = no
check "can-i yes for pods/log (subresource)" test "$(cani $BOB get pods --subresource=log -n team)" = yes
check "can-i no for secrets (view has none)" test "$(cani $BOB get secrets -n team)" = no
check_fails "bob cannot create a configmap in team" configmap team c1 as $BOB
as $BOB auth can-i --list -n team >"$LLMO_DATA/res" 2>&1
check "can-i --list shows view's pods/log" grep -Eq '^pods/log +\[\] +\[\] +\[get list watch\]' "$LLMO_DATA/res"
check "can-i --list shows discovery paths" grep -Eq '^ +\[/apis\] +\[\] +\[get\]' "$LLMO_DATA/res"
check_fails "can-i --list has no secrets" grep -q '^secrets' "$LLMO_DATA/res"

# a Role with resourceNames, bound to a group
cat >"$LLMO_DATA/role.yaml" <<'EOF'
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: cm-one, namespace: team}
rules:
- apiGroups: [""]
  resources: [configmaps]
  resourceNames: [settings]
  verbs: [get, update, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ops-cm-one, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: cm-one}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: oncall}
EOF
check "apply a Role and RoleBinding" admin apply -f "$LLMO_DATA/role.yaml"
configmap team settings >/dev/null
configmap team other >/dev/null
check "olga (group oncall) gets the named configmap" as $OPS get configmap settings -n team
check "olga patches it" as $OPS patch configmap settings -n team --type=merge -p '{"data":{"a":"2"}}'
check_fails "olga cannot get another configmap" as $OPS get configmap other -n team
check_fails "olga cannot list configmaps (resourceNames)" as $OPS get configmaps -n team
check "can-i reason names the binding" sh -c "'$KUBECTL' --kubeconfig /dev/null --server '$LLMO_URL' --certificate-authority '$CA' --token $OPS auth can-i get configmap/settings -n team -v=8 2>&1 | grep -q 'RBAC: allowed by RoleBinding'"

# a binding to a missing role says so in the refusal
binding RoleBinding dangling team ClusterRole nosuchrole User bob
curl_as $BOB POST /api/v1/namespaces/team/configmaps '{"metadata":{"name":"x"}}' >/dev/null
check "a missing role is named in the reason" grep -q 'in the namespace \\"team\\": RBAC: clusterrole.rbac.authorization.k8s.io \\"nosuchrole\\" not found' "$LLMO_DATA/body"

# a ClusterRoleBinding to edit opens every namespace for writing
binding ClusterRoleBinding bob-edit - ClusterRole edit User bob
check "bob creates a configmap in default once bound to edit" configmap default c2 as $BOB
check "bob deletes it" as $BOB delete configmap c2 -n default
check_fails "edit does not cover namespaces" sh -c "printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: nope}\n' | '$KUBECTL' --kubeconfig /dev/null --server '$LLMO_URL' --certificate-authority '$CA' --token $BOB create -f -"
check "nor rolebindings" test "$(curl_as $BOB POST /apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings '{"metadata":{"name":"x"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"admin"},"subjects":[{"kind":"User","name":"bob"}]}')" = 403

# rita is in system:masters through the token file
check "system:masters from the token file may do anything" as $ROOT get clusterrolebindings
check "the admin can-i anything" sh -c "[ \"\$('$KUBECTL' auth can-i '*' '*' --all-namespaces)\" = yes ]"

# escalation prevention: olga, admin of ops, may bind view there but not cluster-admin
printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: ops}\n' | admin apply -f - >/dev/null
binding RoleBinding olga-admin ops ClusterRole admin User olga
rb() { printf 'apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: %s, namespace: ops}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: %s}\nsubjects: [{kind: User, name: bob}]\n' "$1" "$2"; }
check "an admin binds view in her namespace" sh -c "$(declare -f rb); rb bob-view view | '$KUBECTL' --kubeconfig /dev/null --server '$LLMO_URL' --certificate-authority '$CA' --token $OPS apply -f -"
rb bob-root cluster-admin | as $OPS apply -f - >"$LLMO_DATA/res" 2>&1
check "...but not cluster-admin (403, permissions not held)" grep -q 'rolebindings.rbac.authorization.k8s.io "bob-root" is forbidden: user "olga" is attempting to grant RBAC permissions not currently held: {APIGroups:\["\*"\], Resources:\["\*"\], Verbs:\["\*"\]}' "$LLMO_DATA/res"
printf 'apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: nodes, namespace: ops}\nrules: [{apiGroups: [""], resources: [nodes], verbs: [get]}]\n' | as $OPS apply -f - >"$LLMO_DATA/res" 2>&1
check "...nor write a Role with rules she lacks" grep -q 'Resources:\["nodes"\], Verbs:\["get"\]' "$LLMO_DATA/res"

# ServiceAccount tokens (TokenRequest; curl, since kubectl 1.33's `create token` sends protobuf)
printf 'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: builder, namespace: team}\n' | admin apply -f - >/dev/null
check "TokenRequest is 201" test "$(curl_as "$(cat "$LLMO_DATA/token")" POST /api/v1/namespaces/team/serviceaccounts/builder/token '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":1200}}')" = 201
SA=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"]["token"])' "$LLMO_DATA/body")
check "an expiry under 10 minutes is 422" test "$(curl_as "$(cat "$LLMO_DATA/token")" POST /api/v1/namespaces/team/serviceaccounts/builder/token '{"spec":{"expirationSeconds":60}}')" = 422
check "bob may not ask for the ServiceAccount's token" test "$(curl_as $BOB POST /api/v1/namespaces/team/serviceaccounts/builder/token '{}')" = 403
as "$SA" get pods -n team >"$LLMO_DATA/res" 2>&1
check "the ServiceAccount is refused by name" grep -q 'User "system:serviceaccount:team:builder" cannot list resource "pods"' "$LLMO_DATA/res"
check "kubectl auth whoami names it" sh -c "'$KUBECTL' --kubeconfig /dev/null --server '$LLMO_URL' --certificate-authority '$CA' --token '$SA' auth whoami | grep -q 'system:serviceaccounts:team'"
binding RoleBinding builder-edit team ClusterRole edit ServiceAccount builder
check "bound by a subject without a namespace (the RoleBinding's)" as "$SA" get pods -n team
last=${SA: -1}; [ "$last" = 0 ] && flip=1 || flip=0
check "a tampered token is 401" test "$(curl_as "${SA%?}$flip" GET /api/v1/namespaces/team/pods)" = 401
admin delete serviceaccount builder -n team >/dev/null
check "deleting the ServiceAccount revokes its tokens" test "$(curl_as "$SA" GET /api/v1/namespaces/team/pods)" = 401
printf 'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: builder, namespace: team}\n' | admin apply -f - >/dev/null
check "...also once one of the same name is made again (new uid)" test "$(curl_as "$SA" GET /api/v1/namespaces/team/pods)" = 401

# a SelfSubjectAccessReview must say what to review
check "review without attributes is 422" test "$(curl_as $BOB POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews '{"spec":{}}')" = 422
check "non-resource review" test "$(cani $BOB get /metrics)" = no
check "non-resource review, allowed path" test "$(cani $BOB get /healthz)" = yes

# Impersonation (kubectl --as, --as-group): the admin may, as may rita (system:masters); bob may
# not until a role gives him the verb impersonate on users; the request then runs as the
# impersonated user, in the groups given and system:authenticated
imp_out() { "$@" 2>&1 | tail -1; }
check "--as: the admin acts as nobody (forbidden as nobody)" sh -c "'$KUBECTL' get secrets -n team --as nobody 2>&1 |
	grep -q 'User \"nobody\" cannot list resource \"secrets\"'"
check "auth can-i --as answers for nobody" test "$(admin auth can-i list secrets -n team --as nobody)" = no
check "--as-group adds the group" sh -c "'$KUBECTL' auth whoami --as bob --as-group ops -o jsonpath='{.status.userInfo.groups}' |
	grep -qx '\[\"ops\",\"system:authenticated\"\]'"
check "--as a service account gets its groups" sh -c "'$KUBECTL' auth whoami --as system:serviceaccount:team:robot -o jsonpath='{.status.userInfo.groups}' |
	grep -qx '\[\"system:serviceaccounts\",\"system:serviceaccounts:team\",\"system:authenticated\"\]'"
check "rita (system:masters) may impersonate" sh -c "'$KUBECTL' --kubeconfig /dev/null --server '$LLMO_URL' \
	--certificate-authority '$CA' --token '$ROOT' auth whoami --as olga --as-group ops | grep -q 'olga'"
out=$(imp_out as $BOB get pods -n team --as olga)
[ "$out" = 'Error from server (Forbidden): users "olga" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope' ] &&
	ok || bad "bob --as olga: $out"
printf '%s\n' 'apiVersion: rbac.authorization.k8s.io/v1' 'kind: ClusterRole' 'metadata: {name: impersonate-olga}' \
	'rules: [{apiGroups: [""], resources: [users], resourceNames: [olga], verbs: [impersonate]}]' | admin apply -f - >/dev/null
admin create clusterrolebinding bob-impersonates --clusterrole=impersonate-olga --user=bob >/dev/null
check "bob may impersonate olga once bound" sh -c "'$KUBECTL' --kubeconfig /dev/null --server '$LLMO_URL' \
	--certificate-authority '$CA' --token '$BOB' auth whoami --as olga | grep -q 'olga'"
out=$(imp_out as $BOB get pods -n team --as olga --as-group ops)
[ "$out" = 'Error from server (Forbidden): groups "ops" is forbidden: User "bob" cannot impersonate resource "groups" in API group "" at the cluster scope' ] &&
	ok || bad "bob --as olga --as-group ops: $out"
out=$(imp_out as $BOB get pods -n team --as rita)
[ "$out" = 'Error from server (Forbidden): users "rita" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope' ] &&
	ok || bad "bob --as rita: $out"
check "a group without a user is 400" test "$(curl -s --cacert "$CA" -o /dev/null -w '%{http_code}' \
	-H "Authorization: Bearer $ROOT" -H 'Impersonate-Group: ops' "$LLMO_URL/api/v1/namespaces/team/pods")" = 400

# Decisions come from the RBAC cache, which every binding change above emptied (each
# binding applied to the very next request: the checks before prove it).
metric() { curl -sk -H "Authorization: Bearer $(cat "$LLMO_DATA/token")" "$LLMO_URL/metrics" | sed -n "s/^$1 //p"; }
as $OPS get configmaps -n team >/dev/null 2>&1
hits=$(metric 'llmo_apiserver_rbac_cache_total{result="hit"}')
as $OPS get configmaps -n team >/dev/null 2>&1
check "a repeated request is decided from the RBAC cache" test "$(metric 'llmo_apiserver_rbac_cache_total{result="hit"}')" -gt "$hits"
check "binding changes emptied the RBAC cache" test "$(metric llmo_apiserver_rbac_cache_clears_total)" -gt 0

finish
