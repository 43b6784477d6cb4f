# Aggregated discovery (apidiscovery.k8s.io v2 and v2beta1) on /api and /apis:
# served when Accept asks for it, the same groups, versions and resources as the
# legacy documents, and kubectl (the one on the PATH and every kubectl.1.NN in
# /usr/lib/google-cloud-sdk/bin) needs 3 requests for `get pods` on an empty
# cache instead of 3 + one per group version.
# Run: LLMO=build/llmo bash tests/integration/test_discovery.sh
set -u
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "SKIP: no curl"; exit 0; }
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 0; }
server_start --disable controller,scheduler,agent,gateway,registry
TOKEN=$(cat "$LLMO_DATA/token")
V2='application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList'
V2B1='application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList'
get() { # get PATH ACCEPT: body to $LLMO_DATA/PATH-name, prints the Content-Type
	curl -s --cacert "$LLMO_DATA/pki/ca.crt" -H "Authorization: Bearer $TOKEN" -H "Accept: $2" \
		-o "$LLMO_DATA/body" -w '%{content_type}' "$LLMO_URL$1"
}
check "v2 first in Accept: v2" test "$(get /apis "$V2,$V2B1,application/json")" = "$V2"
check "v2beta1 first: v2beta1" test "$(get /api "$V2B1,application/json")" = "$V2B1"
check "parameters in any order, blanks" test "$(get /apis 'application/json; as=APIGroupDiscoveryList; v=v2; g=apidiscovery.k8s.io')" = "$V2"
check "plain JSON: the legacy list" test "$(get /apis 'application/json, */*')" = application/json
check "...an APIGroupList" grep -q '"kind":"APIGroupList"' "$LLMO_DATA/body"
check "an unknown version: legacy" test "$(get /apis 'application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList')" = application/json
check "protobuf only: legacy JSON" test "$(get /api 'application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json')" = application/json

# the aggregated documents hold what the legacy ones do
check "aggregated = legacy" python3 - "$LLMO_URL" "$TOKEN" "$LLMO_DATA/pki/ca.crt" "$V2" <<'PY'
import json, ssl, sys, urllib.request
url, token, ca, v2 = sys.argv[1:]
ctx = ssl.create_default_context(cafile=ca)
def get(path, accept):
    req = urllib.request.Request(url + path, headers={"Authorization": "Bearer " + token, "Accept": accept})
    with urllib.request.urlopen(req, context=ctx) as r:
        return json.load(r), r.headers["Content-Type"]
legacy = {}
for r in get("/api/v1", "application/json")[0]["resources"]:
    legacy[("", "v1", r["name"])] = r
for g in get("/apis", "application/json")[0]["groups"]:
    for v in g["versions"]:
        for r in get("/apis/" + v["groupVersion"], "application/json")[0]["resources"]:
            legacy[(g["name"], v["version"], r["name"])] = r
agg = {}
for path in ("/api", "/apis"):
    doc, ctype = get(path, v2)
    assert ctype == v2 and doc["kind"] == "APIGroupDiscoveryList", ctype
    assert doc["apiVersion"] == "apidiscovery.k8s.io/v2"
    for item in doc["items"]:
        group = item["metadata"].get("name", "")
        assert (group == "") == (path == "/api"), group
        for v in item["versions"]:
            assert v["freshness"] == "Current"
            for r in v["resources"]:
                agg[(group, v["version"], r["resource"])] = r
                for s in r.get("subresources", []):
                    agg[(group, v["version"], r["resource"] + "/" + s["subresource"])] = s
assert set(agg) == set(legacy), set(agg) ^ set(legacy)
for key, l in legacy.items():
    a = agg[key]
    assert sorted(a["verbs"]) == sorted(l["verbs"]), key
    if "/" not in key[2]:
        assert a["scope"] == ("Namespaced" if l["namespaced"] else "Cluster"), key
        assert a["responseKind"]["kind"] == l["kind"], key
        assert a["singularResource"] == l["singularName"], key
        assert a.get("shortNames", []) == l.get("shortNames", []), key
        assert a.get("categories", []) == l.get("categories", []), key
assert agg[("", "v1", "pods/eviction")]["responseKind"] == {"group": "policy", "version": "v1", "kind": "Eviction"}
assert agg[("apps", "v1", "deployments/scale")]["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
PY

# request counts of `kubectl get pods` on an empty discovery cache
count() { # count KUBECTL: the number of requests kubectl makes
	local c; c=$(mktemp -d)
	"$1" get pods -n default -v=6 --cache-dir "$c" >"$c/log" 2>&1
	grep -c 'round_trippers.*https://' "$c/log"
	rm -rf "$c"
}
for k in $(command -v kubectl) /usr/lib/google-cloud-sdk/bin/kubectl.1.*; do
	[ -x "$k" ] || continue
	n=$(count "$k")
	echo "$k: $n requests for get pods"
	check "$k: /api, /apis and the list" test "$n" = 3
done
finish
