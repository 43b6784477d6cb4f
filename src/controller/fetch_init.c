/*
 * The model fetch init container of a replica on a cluster
 * (docs/controller.md, "The model fetch init container"). There the kubelet,
 * not llmo's agent, starts the replica, so nothing would fetch and verify a
 * model pinned by digest before the model server reads it. The node agent
 * (llmo agent --runtime none --model-cache P) fetches and verifies it into P;
 * the init container waits for that (`llmo fetch --await`), so the model
 * server never starts on unverified bytes, and reads them read-only.
 */
#include "base/common.h"

#include "api/config.h"
#include "base/error.h"
#include "controller/controller_int.h"
#include "registry/digest.h"
#include "registry/fetch.h"

#include "base/banned.h"

#define CACHE_VOLUME "llmo-model-cache"
#define FETCH_CONTAINER "llmo-model-fetch"
/* P/models/HEX: the cache path, the models folder, the hex digest, the NUL. */
#define MODEL_PATH_MAX (LLMO_NODE_CACHE_PATH_MAX + sizeof("/models/") + LLMO_DIGEST_HEX_LEN)

int llmo__append_to(json_t *obj, const char *key, json_t *v)
{
	json_t *a = json_object_get(obj, key);

	if (!v)
		return LLMO_ENOMEM;
	if (!a && (json_object_set_new(obj, key, a = json_array()) || !a)) {
		json_decref(v);
		return LLMO_ENOMEM;
	}
	return json_array_append_new(a, v) ? LLMO_ENOMEM : 0;
}

/* The init container: waits for the agent's verified fetch of the pod's model. */
static json_t *fetch_container(const char *image, const char *cache)
{
	return json_pack("{s:s, s:s, s:s, s:[s, s, s, s, s, s], s:[{s:s, s:{s:{s:s}}}], "
			 "s:[{s:s, s:s, s:b}], s:s, s:{s:{s:s, s:s}, s:{s:s}}, "
			 "s:{s:b, s:b, s:b, s:i, s:i, s:{s:[s]}}}",
			 "name", FETCH_CONTAINER, "image", image, "imagePullPolicy", "IfNotPresent",
			 "command", "llmo", "fetch", "--await", "$(LLMO_POD_UID)", "--cache-dir",
			 cache, "env", "name", "LLMO_POD_UID", "valueFrom", "fieldRef", "fieldPath",
			 "metadata.uid", "volumeMounts", "name", CACHE_VOLUME, "mountPath", cache,
			 "readOnly", 1, "terminationMessagePolicy", "FallbackToLogsOnError",
			 "resources", "requests", "cpu", "10m", "memory", "16Mi", "limits", "memory",
			 "64Mi", "securityContext", "allowPrivilegeEscalation", 0,
			 "readOnlyRootFilesystem", 1, "runAsNonRoot", 1, "runAsUser", 65532,
			 "runAsGroup", 65532, "capabilities", "drop",
			 "ALL");
}

int llmo__fetch_init_add(json_t *podspec, json_t *container, const char *model_ref,
			 const char *image, const char *cache)
{
	char path[MODEL_PATH_MAX];
	const char *hex = model_ref ? llmo_model_ref_hex(model_ref) : NULL;
	int rc;

	if (!image || !*image || !model_ref)
		return 0;
	/*
	 * The annotation's digest is what the agent fetches into
	 * P/models/HEX (registry/fetch.h); a reference the model reconciler let
	 * through always has one, so anything else is refused, not run unverified.
	 */
	if (!hex)
		return LLMO_EINVAL;
	if (!cache || cache[0] != '/' ||
	    (size_t)snprintf(path, sizeof(path), "%s/models/%s", cache, hex) >= sizeof(path))
		return LLMO_EINVAL;
	if ((rc = llmo__append_to(podspec, "volumes",
				  json_pack("{s:s, s:{s:s, s:s}}", "name", CACHE_VOLUME, "hostPath",
					    "path", cache, "type", "Directory"))) ||
	    (rc = llmo__append_to(podspec, "initContainers", fetch_container(image, cache))) ||
	    (rc = llmo__append_to(container, "volumeMounts",
				  json_pack("{s:s, s:s, s:b}", "name", CACHE_VOLUME, "mountPath",
					    cache, "readOnly", 1))) ||
	    (rc = llmo__append_to(container, "env",
				  json_pack("{s:s, s:s}", "name", "LLMO_MODEL_PATH", "value", path))))
		return rc;
	return 0;
}

