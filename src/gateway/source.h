#ifndef LLMO_GATEWAY_SOURCE_H
#define LLMO_GATEWAY_SOURCE_H
/*
 * Where routing tables come from: the static backends file, or the API's
 * LLMWorkloads and their pods. Both are pure builders (no I/O but reading
 * the file), so tests feed them documents directly.
 *
 * The static file (YAML or JSON; docs/gateway.md has the full description):
 *
 *     models:
 *       - name: llama2:7b              # required; what clients ask for
 *         aliases: [llama2, chat]      # optional
 *         served: llama2:7b            # optional: the model name sent to the backends
 *         endpoints:                   # required, may be empty
 *           - address: 127.0.0.1:8001  # required: IP:PORT or [IPv6]:PORT
 *             weight: 1                # optional, 1..10000
 *             track: stable            # optional
 *             draining: false          # optional: listed but gets no new requests
 *             served: llama2:7b        # optional: overrides the model's for this endpoint
 *             tlsServerName: chat.llm.svc  # optional: TLS, verified as this name
 *         tracks:                      # optional: the traffic split (status.tracks)
 *           - {name: stable, weight: 90}
 *           - {name: canary, weight: 10}
 *         abTest: {stickyBy: header, header: X-User}  # optional: sticky track choice
 *         accessControl: [acme, beta]  # optional: only these tenants (keys file) may call
 *                                      #   it; empty or absent: every caller
 *
 * Unknown keys, wrong types and bad addresses are errors naming the file,
 * line and field path. A name is at most LLMO_GW_MODEL_MAX bytes.
 */
#include "base/common.h"

#include <jansson.h>

#include "base/error.h"
#include "base/yaml.h"
#include "gateway/table.h"

/* Largest backends file read. */
#define LLMO_GW_FILE_MAX ((size_t)4 << 20)

/* Pod metadata the gateway reads (the controller writes them; see docs/controller.md). */
#define LLMO_GW_LABEL_WORKLOAD "llm.orchestrator.io/workload"
#define LLMO_GW_LABEL_TRACK "llm.orchestrator.io/track"
#define LLMO_GW_LABEL_MODEL "llm.orchestrator.io/model"
#define LLMO_GW_LABEL_VERSION "llm.orchestrator.io/version"
#define LLMO_GW_ANNOTATION_HOST_PORTS "llm.orchestrator.io/host-ports"
/* The name an encrypted workload's pod proves with its TLS certificate (the controller sets it). */
#define LLMO_GW_ANNOTATION_TLS_SERVER_NAME "llm.orchestrator.io/tls-server-name"
/* "true": the pod is draining (as with a deletionTimestamp); the controller sets it on scale-in. */
#define LLMO_GW_ANNOTATION_DRAINING "llm.orchestrator.io/draining"
/* The serving port when a pod names none. */
#define LLMO_GW_DEFAULT_PORT 8000

/*
 * Builds a table from the parsed file root. doc (may be NULL) gives line
 * numbers for messages, name (may be NULL) the file name. New backends go
 * into r. LLMO_EINVAL with "name:line: path: problem" for a bad document.
 */
int llmo_gw_table_from_json(const json_t *root, const struct llmo_yaml_doc *doc,
			    const char *name, struct llmo_gw_backends *r,
			    struct llmo_gw_table **out, struct llmo_error *err);

/* Reads (at most LLMO_GW_FILE_MAX bytes) and builds from the file at path. */
int llmo_gw_table_from_file(const char *path, struct llmo_gw_backends *r,
			    struct llmo_gw_table **out, struct llmo_error *err);

/*
 * Builds a table from LLMWorkload objects and pod objects (JSON arrays).
 * Each workload is a model with id "namespace/name", named by its name,
 * its spec.aliases and "spec.modelName:spec.modelVersion" ("latest" when
 * unset); its endpoints are its Ready pods (label llm.orchestrator.io/workload,
 * same namespace) with a pod IP: the IP and the port of the container port
 * named "http" (else the first), or the host port the annotation
 * llm.orchestrator.io/host-ports maps it to. A pod with a deletionTimestamp
 * or the annotation llm.orchestrator.io/draining: "true" is a draining
 * endpoint; it stays while Ready, or while r's backend at its address has
 * requests in flight. The served name is the pod's model and version
 * labels ("model:version"), else the workload's. The model's tracks are
 * status.tracks[] ({name, weight}); spec.deploymentStrategy.type abTest
 * makes the choice sticky (abTest.stickyBy tenant, the default, or header
 * with abTest.header). spec.security.accessControl, when not empty, is the
 * model's access list (table.h: llmo_gw_model_allow). After the pods come
 * status.placement[].endpoints ("host:port", replicas in member clusters;
 * stable track). Objects that do not fit (no name, a bad address) are
 * skipped, never fatal. A model's endpoints are in the order of their
 * pods' names.
 */
int llmo_gw_table_from_kube(const json_t *workloads, const json_t *pods,
			    struct llmo_gw_backends *r, struct llmo_gw_table **out,
			    struct llmo_error *err);

/* Longest model id in API mode ("namespace/name", each at most 253 bytes), NUL included. */
#define LLMO_GW_MODEL_ID_MAX 512

/*
 * The model id a workload ("namespace/name") or a pod ("namespace/" and its
 * label llm.orchestrator.io/workload) belongs to, into buf. false when it
 * has none, or it does not fit.
 */
bool llmo_gw_kube_key(const json_t *obj, bool pod, char *buf, size_t size);

/*
 * One workload's change, without the rest of the table: takes the model
 * with id key out of t (requests routed to it keep it) and, when workload
 * is not NULL (its id must be key), adds it again from workload and pods
 * (a JSON array, any order, NULL for none: the pods of key's namespace
 * labelled with its name), as llmo_gw_table_from_kube builds it. A table
 * changed this way after every change of a workload or of a pod (for the
 * keys of its old and new labels) routes as one built whole from the same
 * objects. LLMO_ENOMEM (the model is then left out), LLMO_EINVAL (workload
 * is not key).
 */
int llmo_gw_table_update_kube(struct llmo_gw_table *t, struct llmo_gw_backends *r,
			      const char *key, const json_t *workload, const json_t *pods,
			      struct llmo_error *err);

/*
 * Informer transforms (llmo_informer_set_transform): a new object with only
 * what llmo_gw_table_from_kube reads (and the metadata the informer keys
 * its cache by), so that the gateway's caches do not hold whole objects
 * (managedFields, defaulted specs, container env): a workload drops from
 * about 15 KB of jansson values to a few hundred bytes. Building a table
 * from the transformed objects gives the same table as from the originals.
 * NULL when out of memory. ctx is unused. Any thread.
 */
json_t *llmo_gw_workload_transform(void *ctx, const json_t *w);
json_t *llmo_gw_pod_transform(void *ctx, const json_t *pod);

#endif
