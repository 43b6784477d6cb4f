#ifndef LLMO_REGISTRY_CLIENT_H
#define LLMO_REGISTRY_CLIENT_H
/*
 * struct llmo_reg_client: a small OCI Distribution client over libcurl,
 * what `llmo model` uses to push, pull, list and sign models. It speaks to
 * llmo's registry and to other OCI registries: a bearer token given is sent
 * as it is; a 401's challenge is answered with the credentials given (Basic,
 * or a token from the realm of a Bearer challenge: Docker's token protocol).
 *
 * Blobs go up from an open file with POST then PUT (the portable upload
 * every registry supports) and come down into an open file; both are
 * streamed and hashed on the way, never held in memory whole, and every
 * download is checked against its digest before the call returns 0.
 * Manifests and other small answers are read into memory under a cap.
 *
 * Not thread-safe; blocking (one request at a time, connections reused).
 */
#include "base/common.h"

#include <jansson.h>

#include "base/buf.h"
#include "base/error.h"
#include "registry/digest.h"

/* Longest answer read into memory (manifests, lists, configs). */
#define LLMO_REG_CLIENT_BODY_MAX ((size_t)4 << 20)
/* Pages of one list llmo_reg_client_get_list follows at most. */
#define LLMO_REG_CLIENT_PAGES_MAX 100000
/* Give up on a request after this long without progress. */
#define LLMO_REG_CLIENT_STALL_S 60L

struct llmo_reg_client;

struct llmo_reg_client_opts {
	const char *url;    /* "http://127.0.0.1:5000" or "https://host:port" */
	const char *token;  /* bearer token, or NULL */
	/*
	 * Credentials, or NULL: sent as Basic when the registry asks for
	 * them, and to the realm of a Bearer challenge for a token (Docker's
	 * token protocol), which is then sent instead.
	 */
	const char *username, *password;
	const char *cacert; /* PEM file of the CA that signed an https registry, or NULL */
	bool insecure;      /* https without verifying the certificate */
};

int llmo_reg_client_new(const struct llmo_reg_client_opts *o, struct llmo_reg_client **out,
			struct llmo_error *err);
void llmo_reg_client_free(struct llmo_reg_client *c);

/*
 * The outcome of a request other than 2xx is an error whose message holds
 * the registry's own (the OCI error body's code and message); codes:
 * LLMO_ENOTFOUND (404), LLMO_EDENIED (401, 403), LLMO_EINVAL (other 4xx),
 * LLMO_EIO (5xx, transport errors), LLMO_EINVALID_OBJECT (a download that
 * does not match its digest).
 */

/* Whether blob d is in repo: 0 with *size, LLMO_ENOTFOUND, or an error. */
int llmo_reg_client_blob_stat(struct llmo_reg_client *c, const char *repo,
			      const struct llmo_digest *d, uint64_t *size, struct llmo_error *err);

/* Uploads size bytes of fd (from offset 0) as blob d, unless repo has it already. */
int llmo_reg_client_blob_push_fd(struct llmo_reg_client *c, const char *repo,
				 const struct llmo_digest *d, int fd, uint64_t size,
				 struct llmo_error *err);
int llmo_reg_client_blob_push_mem(struct llmo_reg_client *c, const char *repo,
				  const struct llmo_digest *d, const void *data, size_t len,
				  struct llmo_error *err);

/* Downloads blob d into fd (written from its current offset), verified. */
int llmo_reg_client_blob_pull_fd(struct llmo_reg_client *c, const char *repo,
				 const struct llmo_digest *d, int fd, struct llmo_error *err);
/*
 * Resumes the download of blob d into fd, which holds its first offset
 * bytes already (written at fd's current offset, its end), h the SHA-256
 * state of those bytes: asks for the rest with a Range request (a server
 * that answers the whole blob instead restarts fd and h from 0). On
 * return h covers every byte of fd, and 0 means they are d's bytes;
 * LLMO_EINVALID_OBJECT that they are not (the caller removes them).
 * progress (may be NULL) is called with the bytes received so far by this
 * request.
 */
int llmo_reg_client_blob_resume(struct llmo_reg_client *c, const char *repo,
				const struct llmo_digest *d, int fd, struct llmo_sha256 *h,
				uint64_t offset, void (*progress)(void *ctx, uint64_t now),
				void *ctx, struct llmo_error *err);
/* Downloads blob d, at most max bytes, into out (appended), verified. */
int llmo_reg_client_blob_get(struct llmo_reg_client *c, const char *repo,
			     const struct llmo_digest *d, size_t max, struct llmo_buf *out,
			     struct llmo_error *err);

/*
 * PUTs a manifest under ref (a tag or "sha256:..."); *d (may be NULL) gets its
 * digest; *subject (may be NULL) whether the answer had an OCI-Subject header
 * (a registry with the referrers API says so for a manifest with a subject).
 */
int llmo_reg_client_manifest_put(struct llmo_reg_client *c, const char *repo, const char *ref,
				 const char *media_type, const void *body, size_t len,
				 struct llmo_digest *d, bool *subject, struct llmo_error *err);

/*
 * GETs manifest ref into out (appended). *d (may be NULL) gets its digest,
 * computed from the bytes (and checked against ref when ref is a digest);
 * media_type (may be NULL, 256 bytes) its Content-Type.
 */
int llmo_reg_client_manifest_get(struct llmo_reg_client *c, const char *repo, const char *ref,
				 struct llmo_buf *out, struct llmo_digest *d, char *media_type,
				 struct llmo_error *err);

/*
 * GETs path (with its query, "/v2/_catalog?n=100") into out: for lists and
 * the referrers API.
 */
int llmo_reg_client_get(struct llmo_reg_client *c, const char *path, struct llmo_buf *out,
			struct llmo_error *err);

/*
 * GETs a list that may come in pages ("/v2/_catalog", "/v2/NAME/tags/list",
 * the referrers API): the JSON object of the first answer in *out, with the
 * array named key ("repositories", "tags", "manifests") of every page after
 * it appended, following each answer's Link rel="next" (a path on the
 * registry, or a URL under its base; another host is an error). A page
 * without key, or with it null, has no entries. LLMO_EPARSE for a page that
 * is not such an object, a malformed Link, or a next page that is the same
 * page; LLMO_ERANGE past LLMO_REG_CLIENT_PAGES_MAX pages; else as
 * llmo_reg_client_get.
 */
int llmo_reg_client_get_list(struct llmo_reg_client *c, const char *path, const char *key,
			     json_t **out, struct llmo_error *err);

/* DELETEs path ("/v2/NAME/manifests/sha256:..."). */
int llmo_reg_client_delete(struct llmo_reg_client *c, const char *path, struct llmo_error *err);

#endif
