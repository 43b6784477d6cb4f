"""Debian's python3-kubernetes client against `llmo server`.

CRUD of custom and core objects, list with selectors and paging, watch with
resume. Run by test_python_client.sh with KUBECONFIG set.
"""
import sys

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

config.load_kube_config()
core = client.CoreV1Api()
custom = client.CustomObjectsApi()
G, V, NS = "llm.orchestrator.io", "v1", "llm-workloads"
failures = 0
passes = 0


def check(what, cond):
    global failures, passes
    if cond:
        passes += 1
    else:
        failures += 1
        print("FAIL:", what)


def workload(name, labels=None, max_replicas=3):
    return {
        "apiVersion": f"{G}/{V}",
        "kind": "LLMWorkload",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"modelName": "llama2", "modelVersion": "7b",
                 "scaling": {"minReplicas": 1, "maxReplicas": max_replicas}},
    }


# Custom objects: create, get, defaults, replace with a stale resourceVersion.
created = custom.create_namespaced_custom_object(G, V, NS, "llmworkloads", workload("py-a", {"tier": "gold"}))
check("create returns a uid", created["metadata"].get("uid"))
check("defaults applied", created["spec"]["qosClass"] == "standard")
got = custom.get_namespaced_custom_object(G, V, NS, "llmworkloads", "py-a")
check("get returns the object", got["spec"]["modelName"] == "llama2")
stale = dict(got)
got["spec"]["scaling"]["maxReplicas"] = 4
updated = custom.replace_namespaced_custom_object(G, V, NS, "llmworkloads", "py-a", got)
check("replace bumps generation", updated["metadata"]["generation"] == 2)
try:
    stale["spec"]["scaling"]["maxReplicas"] = 5
    custom.replace_namespaced_custom_object(G, V, NS, "llmworkloads", "py-a", stale)
    check("stale replace conflicts", False)
except ApiException as e:
    check("stale replace conflicts (409)", e.status == 409)
try:
    custom.create_namespaced_custom_object(G, V, NS, "llmworkloads", workload("py-a"))
    check("duplicate create fails", False)
except ApiException as e:
    check("duplicate create is 409 AlreadyExists", e.status == 409 and "AlreadyExists" in e.body)
try:
    custom.create_namespaced_custom_object(G, V, NS, "llmworkloads", workload("py-bad", max_replicas=0))
    check("invalid create fails", False)
except ApiException as e:
    check("invalid create is 422 Invalid", e.status == 422 and "spec.scaling.maxReplicas" in e.body)

# List with selectors and paging.
for i in range(7):
    custom.create_namespaced_custom_object(G, V, NS, "llmworkloads", workload(f"py-page-{i}", {"batch": "p"}))
sel = custom.list_namespaced_custom_object(G, V, NS, "llmworkloads", label_selector="tier=gold")
check("label selector", [o["metadata"]["name"] for o in sel["items"]] == ["py-a"])
names, cont = [], None
while True:
    page = custom.list_namespaced_custom_object(G, V, NS, "llmworkloads", label_selector="batch=p",
                                                limit=3, _continue=cont)
    check("page size <= 3", len(page["items"]) <= 3)
    names += [o["metadata"]["name"] for o in page["items"]]
    cont = page["metadata"].get("continue")
    if not cont:
        break
check("paging returns every item once", names == [f"py-page-{i}" for i in range(7)])

# Core objects.
cm = core.create_namespaced_config_map("default", client.V1ConfigMap(
    metadata=client.V1ObjectMeta(name="py-cm", labels={"app": "x"}), data={"k": "v"}))
check("configmap create", cm.metadata.uid)
check("configmap list with field selector",
      [c.metadata.name for c in core.list_namespaced_config_map("default", field_selector="metadata.name=py-cm").items] == ["py-cm"])
core.patch_namespaced_config_map("py-cm", "default", {"data": {"k2": "v2"}})
check("configmap patch", core.read_namespaced_config_map("py-cm", "default").data == {"k": "v", "k2": "v2"})
core.delete_namespaced_config_map("py-cm", "default")
try:
    core.read_namespaced_config_map("py-cm", "default")
    check("deleted configmap is gone", False)
except ApiException as e:
    check("deleted configmap is 404", e.status == 404)

# Watch with resume: events after a resourceVersion, in order.
rv = custom.list_namespaced_custom_object(G, V, NS, "llmworkloads")["metadata"]["resourceVersion"]
custom.patch_namespaced_custom_object(G, V, NS, "llmworkloads", "py-page-0", {"metadata": {"labels": {"seen": "1"}}})
custom.delete_namespaced_custom_object(G, V, NS, "llmworkloads", "py-page-1")
w = watch.Watch()
events = []
for ev in w.stream(custom.list_namespaced_custom_object, G, V, NS, "llmworkloads",
                   resource_version=rv, timeout_seconds=2):
    events.append((ev["type"], ev["object"]["metadata"]["name"]))
    if len(events) == 2:
        w.stop()
check("watch resumes from a resourceVersion", events == [("MODIFIED", "py-page-0"), ("DELETED", "py-page-1")])

print(f"{passes} passed, {failures} failed")
sys.exit(1 if failures else 0)
