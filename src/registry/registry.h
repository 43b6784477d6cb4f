#ifndef LLMO_REGISTRY_H
#define LLMO_REGISTRY_H
/*
 * struct llmo_registry: `llmo registry`, an OCI Distribution Specification
 * v1.1 registry for models (and any other OCI content), serving
 *
 *     /v2/                                 API version check (auth probe)
 *     /v2/<name>/blobs/<digest>            GET (Range), HEAD, DELETE
 *     /v2/<name>/blobs/uploads/            POST: start, monolithic (?digest=),
 *                                          cross-repository mount (?mount=&from=)
 *     /v2/<name>/blobs/uploads/<id>        PATCH (chunks), PUT (?digest=), GET, DELETE
 *     /v2/<name>/manifests/<reference>     GET, HEAD, PUT, DELETE (tag or digest)
 *     /v2/<name>/tags/list                 ?n=&last= with Link pagination
 *     /v2/<name>/referrers/<digest>        ?artifactType= filter
 *     /v2/_catalog                         ?n=&last=
 *     /token                               bearer tokens for Docker-style clients
 *     /healthz /readyz /metrics
 *
 * on its own HTTP/1.1 server (plain or TLS) on the caller's event loop.
 * Request bodies are streamed to disk as they arrive, hashed on the way; no
 * blob is ever held in memory whole. Storage and its crash safety:
 * store.h; tokens and scopes: auth.h; the HTTP surface, errors and limits:
 * docs/registry.md.
 *
 * Threads: everything runs on the caller's event_base except the SHA-256
 * of large blobs being served, which worker threads compute beside the
 * send (hasher.h). Other disk I/O is done in the loop (blocking, in pieces
 * of at most 1 MiB), so one registry should have a loop of its own when
 * other components share the process and latency matters to them. While
 * it runs, the registry holds the storage's lock file shared (gc.h).
 */
#include "base/common.h"

#include "base/error.h"
#include "registry/s3.h"

struct event_base;
struct llmo_registry;
struct ssl_ctx_st;
struct llmo_kube_client;

#define LLMO_REGISTRY_PORT 5000
/* Manifests larger than this are refused with 413 (the distribution spec's suggested limit). */
#define LLMO_REGISTRY_MANIFEST_MAX ((size_t)4 << 20)
/* Request head (request line and headers) over this gets 431. */
#define LLMO_REGISTRY_HEAD_MAX ((size_t)64 << 10)
/* Client connections at once; more are closed at accept. */
#define LLMO_REGISTRY_CONNS_MAX 1024
/* Silence allowed while a request head or body arrives, and on an idle connection. */
#define LLMO_REGISTRY_READ_TIMEOUT_S 300
/* A client that reads nothing of its answer for this long is dropped. */
#define LLMO_REGISTRY_WRITE_TIMEOUT_S 300
/* Upload sessions not written to for this long are removed. */
#define LLMO_REGISTRY_UPLOAD_IDLE_MS ((int64_t)24 * 3600 * 1000)
/* modelRegistry.reverifyInterval's default: an hour. */
#define LLMO_REGISTRY_REVERIFY_MS (3600 * 1000)
/* Most entries one tags-list, catalog or referrers answer holds. */
#define LLMO_REGISTRY_PAGE_MAX 10000

/* A token given in code rather than in a file (auth.h has the scope syntax). */
struct llmo_registry_token {
	const char *token;
	const char *tenant;
	const char *scopes; /* space-separated: "repository:*:pull,push,delete" */
};

/*
 * How a plain-HTTP answer sends a blob file: with sendfile() (no copy
 * through the registry's memory), or read and written (pread, then write
 * from memory). Over loopback the written bytes reach the client faster and
 * cost it less CPU: the kernel hands the client the registry's own socket
 * buffers, and those of sendfile() are page-cache pages it copies out one
 * by one (docs/registry.md, "sendfile() or not"). TLS answers are always read and
 * encrypted.
 */
enum llmo_registry_sendfile {
	LLMO_REGISTRY_SENDFILE_AUTO,   /* sendfile() except to loopback peers (the default) */
	LLMO_REGISTRY_SENDFILE_ALWAYS, /* to every peer */
	LLMO_REGISTRY_SENDFILE_NEVER,  /* to none */
};

struct llmo_registry_opts {
	const char *host;         /* address to listen on: "127.0.0.1" */
	int port;                 /* LLMO_REGISTRY_PORT; 0 picks a free port */
	const char *storage_path; /* required: the storage root (store.h) */
	bool checksum_validation; /* verify digests when serving (true) */
	/* a blob over 1 MiB verified whole at most this long ago, its file
	 * unchanged since, is sent without hashing it again
	 * (modelRegistry.reverifyInterval; LLMO_REGISTRY_REVERIFY_MS by
	 * default); 0: every whole read is hashed */
	int64_t reverify_ms;
	enum llmo_registry_sendfile sendfile;
	uint64_t blob_max;        /* largest blob accepted; 0: LLMO_REG_BLOB_MAX_DEFAULT */
	/* modelRegistry.storageType s3: the bucket holding the registry, with
	 * storage_path a verified cache of it (s3cache.h). NULL: local only. */
	const struct llmo_reg_s3_opts *s3;
	/* TLS: PEM certificate (chain) and key paths, both or neither; or a
	 * ready SSL_CTX (borrowed: the registry takes its own reference). */
	const char *tls_cert;
	const char *tls_key;
	struct ssl_ctx_st *ssl_ctx;
	/* Who may do what: a token file, tokens given here, and what anonymous
	 * callers may do on every repository ("pull", "pull,push"; NULL or ""
	 * for nothing). */
	const char *tokens_file;
	const struct llmo_registry_token *tokens;
	size_t ntokens;
	const char *anonymous;
	/* More tokens from the key "tokens" of the Secret NAMESPACE/NAME, in the
	 * token file's format, read through kube (borrowed; both or neither) and
	 * watched: a new version replaces them while the registry serves. The
	 * token file is watched too (docs/registry.md, "Access control"). */
	struct llmo_kube_client *kube;
	const char *tokens_secret;
	int64_t upload_idle_ms; /* LLMO_REGISTRY_UPLOAD_IDLE_MS */
	/* modelRegistry.maxVersions and autoCleanup: after a model manifest
	 * (artifactType LLMO_MODEL_ARTIFACT_TYPE) is pushed, versions of its
	 * repository past max_versions (0: no limit) are deleted, oldest first,
	 * keeping those tagged latest or stable, and unreferenced blobs are
	 * garbage collected (gc.h); a manifest DELETE by digest collects the
	 * garbage too. Nothing is deleted without auto_cleanup. */
	int max_versions;
	bool auto_cleanup;
	/* with auto_cleanup, a collection this often besides (modelRegistry.gcInterval); 0: none */
	int64_t gc_interval_ms;
	int64_t gc_grace_ms; /* LLMO_REG_GC_GRACE_MS when 0 */
};

/* The artifactType of a model pushed by `llmo model push`. */
#define LLMO_MODEL_ARTIFACT_TYPE "application/vnd.llmo.model.v1"

void llmo_registry_opts_init(struct llmo_registry_opts *o);

/*
 * Reads the token file again now (what SIGHUP does in `llmo registry`);
 * a file that does not parse changes nothing. 0 or the error, logged.
 */
int llmo_registry_reload_tokens(struct llmo_registry *r);

/*
 * Opens the storage, loads the tokens, listens on host:port and serves on
 * base. On success *out owns the registry; free it with llmo_registry_free.
 * Errors name the file or address at fault.
 */
int llmo_registry_new(struct event_base *base, const struct llmo_registry_opts *opts,
		      struct llmo_registry **out, struct llmo_error *err);

/*
 * Stops listening, drops every connection (uploads in progress keep their
 * bytes and can be resumed) and frees the registry. Call it from the loop's
 * thread, outside the registry's callbacks. NULL is fine.
 */
void llmo_registry_free(struct llmo_registry *r);

/* The port actually bound (useful with port 0). */
int llmo_registry_port(const struct llmo_registry *r);
/* Whether the registry speaks TLS ("https" in its URL). */
bool llmo_registry_tls(const struct llmo_registry *r);

#endif
