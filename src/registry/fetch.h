#ifndef LLMO_REGISTRY_FETCH_H
#define LLMO_REGISTRY_FETCH_H
/*
 * The node's model cache and `llmo fetch`, the init step of a replica:
 * pull a model (an OCI artifact pushed by `llmo model push`) into the
 * cache, resuming interrupted downloads, verifying every file against its
 * digest, evicting the least recently used models no replica uses when the
 * cache is over its size. docs/agent.md describes it for users.
 *
 * The cache directory:
 *
 *     DIR/models/HEX/                  the files of model manifest sha256:HEX
 *     DIR/models/HEX/.llmo-model.json  written last: the model is complete;
 *                                      {"name","version","digest","sizeBytes"}
 *     DIR/models/HEX/.last-used        its mtime: when the model was last fetched
 *     DIR/partial/HEX                  an unfinished download of blob sha256:HEX
 *     DIR/pins/NAME                    "HEX": replica NAME uses model HEX (never evicted)
 *     DIR/rate.json                    {"bytesPerSecond": N}: the measured pull rate
 *
 * Not thread-safe; two fetches of one model at once are safe on disk (each
 * file is renamed into place complete and verified) but do the work twice.
 */
#include "base/common.h"

#include <jansson.h>

#include "base/error.h"
#include "base/str.h"
#include "registry/client.h"
#include "registry/digest.h"
#include "registry/route.h"
#include "registry/sign.h"

/* The pod annotation naming the model a replica needs: "HOST/REPO:TAG@sha256:HEX". */
#define LLMO_ANNOTATION_MODEL_ARTIFACT "llm.orchestrator.io/model-artifact"
/*
 * The pod annotations carrying its LLMModel's spec.signature to the fetch
 * step (the controller writes them; the agent turns them into `llmo fetch
 * --require-signature` and `--key-ref NAME`): "true" when the model
 * requires a signature, and the name of the key that must have signed it.
 */
#define LLMO_ANNOTATION_SIGNATURE_REQUIRED "llm.orchestrator.io/model-signature-required"
#define LLMO_ANNOTATION_SIGNATURE_KEY "llm.orchestrator.io/model-signature-key"
/* The Node annotation listing the cached models (llmo_model_cache_report). */
#define LLMO_ANNOTATION_CACHED_MODELS "llm.orchestrator.io/cached-models"
/*
 * The Node annotation asking its agent to fetch models ahead of replicas:
 * {"NAMESPACE/WORKLOAD": "HOST/REPO:TAG@sha256:HEX", ...} (the controller
 * writes it, controller/prefetch.h; the agent reads it, agent/prefetch.h).
 * A longer value is ignored.
 */
#define LLMO_ANNOTATION_PREFETCH "llm.orchestrator.io/prefetch"
#define LLMO_PREFETCH_ANNOTATION_MAX (64 * 1024)
/* Public keys loaded from a directory at most. */
#define LLMO_FETCH_KEYS_MAX 64
/* Downloads smaller than this do not update the measured pull rate. */
#define LLMO_FETCH_RATE_MIN_BYTES ((uint64_t)1 << 20)

struct llmo_fetch_progress {
	uint64_t done, total; /* bytes of the model's files in the cache */
	uint64_t downloaded;  /* bytes received by this fetch */
	int64_t elapsed_ms;
	bool finished;
};

struct llmo_fetch_opts {
	const char *cache_dir;
	uint64_t cache_size; /* bytes; 0: no limit */
	struct llmo_reg_client *client;
	const char *repo;
	const char *ref; /* a tag or "sha256:HEX" */
	/*
	 * signatureValidation or the LLMModel's signature.required: the model
	 * must carry a valid signature by one of keys.
	 */
	bool require_signature;
	struct llmo_sig_key *const *keys;
	size_t nkeys;
	/*
	 * The LLMModel's signature.keyRef, or NULL: keys is that one key, and
	 * a refusal names it.
	 */
	const char *key_name;
	void (*progress)(void *ctx, const struct llmo_fetch_progress *p);
	void *ctx;
};

/* Longest registry URL a reference resolves to. */
#define LLMO_FETCH_URL_MAX 1024

/*
 * A model reference: "NAME:VERSION", "NAME@sha256:HEX", "NAME" (latest), or
 * with a registry host first, "HOST[:PORT]/NAME[:VERSION][@sha256:HEX]" (the
 * form of an LLMModel's spec.artifact.reference and the model-artifact
 * annotation). The first component is a host when it has '.' or ':' or is
 * "localhost". registry is the registry of a reference without a host;
 * a host gets registry's scheme when registry_given and registry names that
 * host, else "http" with plain_http, else "https".
 */
struct llmo_model_ref {
	char url[LLMO_FETCH_URL_MAX];                        /* "https://host:port" */
	char repo[LLMO_REG_NAME_MAX + 1];
	char ref[LLMO_REG_TAG_MAX + LLMO_DIGEST_STR_MAX + 1]; /* tag or "sha256:HEX" */
};

/* Parses s (len bytes) into *out. LLMO_EINVAL (err says why) for anything else. */
int llmo_model_ref_parse(const char *s, size_t len, const char *registry, bool registry_given,
			 bool plain_http, struct llmo_model_ref *out, struct llmo_error *err);

/*
 * Fetches the model into the cache. dir (PATH_MAX) gets the model's
 * directory. Errors: LLMO_EDENIED (signature required and none valid:
 * err says what was checked), LLMO_EINVALID_OBJECT (a file does not match
 * its digest: err names it; its bytes are removed), the client's errors.
 */
int llmo_fetch(const struct llmo_fetch_opts *o, char *dir, struct llmo_digest *digest,
	       struct llmo_error *err);

/*
 * The referrers of repo@d (artifact_type NULL: all of them) into *out, the
 * index the registry answers (new reference). A registry without the
 * referrers API (404) is asked for the referrers tag instead (OCI 1.1's tag
 * schema, below): its index, filtered by artifact_type; *from_tag (may be
 * NULL) says which answered. LLMO_ENOTFOUND when neither has any; the
 * client's errors, or a parse error naming "referrers".
 */
int llmo_model_referrers(struct llmo_reg_client *c, const char *repo, const struct llmo_digest *d,
			 const char *artifact_type, json_t **out, bool *from_tag,
			 struct llmo_error *err);

/*
 * OCI 1.1's referrers tag schema, for registries without the referrers API:
 * the tag "sha256-HEX" (the subject's digest, ':' made '-') holds an image
 * index of the subject's referrers, kept by the clients that push them.
 */
#define LLMO_REFERRERS_TAG_MAX (LLMO_DIGEST_STR_MAX)
void llmo_model_referrers_tag(const struct llmo_digest *d, char tag[LLMO_REFERRERS_TAG_MAX]);
/*
 * Adds desc (a referrer's descriptor; an entry with its digest is replaced)
 * to the referrers tag of repo@d, creating the index when there is none.
 * Another client updating the tag at the same moment can lose one of the
 * two entries (the tag schema has no compare-and-swap).
 */
int llmo_model_referrers_tag_add(struct llmo_reg_client *c, const char *repo,
				 const struct llmo_digest *d, json_t *desc, struct llmo_error *err);
/* Deletes the referrers tag's index of repo@d (by its digest). LLMO_ENOTFOUND when none. */
int llmo_model_referrers_tag_drop(struct llmo_reg_client *c, const char *repo,
				  const struct llmo_digest *d, struct llmo_error *err);

/*
 * Whether the model manifest d of repo has a valid signature by one of
 * keys: 0, or LLMO_EDENIED with err saying how many signatures were
 * checked. *signer (may be NULL) gets the key that verified.
 */
int llmo_model_verify(struct llmo_reg_client *c, const char *repo, const struct llmo_digest *d,
		      struct llmo_sig_key *const *keys, size_t nkeys,
		      const struct llmo_sig_key **signer, struct llmo_error *err);

/* Loads the public keys of path: one PEM file, or every *.pub file of a directory. */
int llmo_model_keys_load(const char *path, struct llmo_sig_key **keys, size_t max, size_t *n,
			 struct llmo_error *err);

/* Longest name of a public key (an LLMModel's spec.signature.keyRef). */
#define LLMO_SIG_KEY_NAME_MAX 128

/*
 * Whether name can name a public key: 1 to LLMO_SIG_KEY_NAME_MAX of
 * [A-Za-z0-9._-], first and last a letter or digit (the CRD's pattern of
 * keyRef), so that NAME.pub is a file in the trusted keys directory and
 * never a path elsewhere.
 */
bool llmo_model_key_name_ok(const char *name);

/*
 * The file of the public key called name among the trusted keys path
 * (what llmo_model_keys_load reads): PATH/NAME.pub when path is a
 * directory, path itself when it is a file called NAME.pub. out gets it
 * (n bytes). LLMO_EINVAL: not a key name; LLMO_ENOTFOUND: no such key (err
 * names the file looked for).
 */
int llmo_model_key_find(const char *path, const char *name, char *out, size_t n,
			struct llmo_error *err);

/*
 * Removes least recently used complete models (and stale partial files)
 * until the cache holds at most limit bytes, never a pinned model nor keep
 * (a hex digest, may be NULL). *freed (may be NULL) gets the bytes removed.
 */
int llmo_model_cache_evict(const char *cache_dir, uint64_t limit, const char *keep,
			   uint64_t *freed, struct llmo_error *err);

/* The hex of the manifest digest of a reference pinned by digest ("...@sha256:HEX"), or NULL. */
const char *llmo_model_ref_hex(const char *ref);
/* Whether DIR/models/HEX is a complete model (its .llmo-model.json is written last). */
bool llmo_model_cache_complete(const char *cache_dir, const char *hex);

/* Pins model hex for replica name (hex NULL: removes the pin). */
int llmo_model_cache_pin(const char *cache_dir, const char *name, const char *hex,
			 struct llmo_error *err);

/*
 * The cached models as the Node annotation wants them:
 * {"pullBytesPerSecond": N, "models": [{"name","version","digest","sizeBytes"}]}
 * sorted by name, version and digest (new reference in *out).
 */
int llmo_model_cache_report(const char *cache_dir, json_t **out, struct llmo_error *err);

#endif
