#ifndef LLMO_REGISTRY_ROUTE_H
#define LLMO_REGISTRY_ROUTE_H
/*
 * The registry's request grammar, as pure functions over bytes: request
 * paths of the OCI Distribution Specification v1.1, repository names, tags,
 * query parameters, and the Range / Content-Range headers.
 *
 * Repository names (distribution-spec "Pulling manifests"):
 *
 *     [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
 *
 * at most LLMO_REG_NAME_MAX bytes. Tags: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
 *
 * Paths are matched from their end, as a name may itself hold "blobs" or
 * "manifests" components: "/v2/a/manifests/b/manifests/latest" is the
 * manifest "latest" of the repository "a/manifests/b".
 */
#include "base/common.h"

#include "base/error.h"
#include "registry/digest.h"

#define LLMO_REG_NAME_MAX 255
#define LLMO_REG_TAG_MAX 128
/* Upload session ids: 32 lowercase hex digits (16 random bytes). */
#define LLMO_REG_UPLOAD_ID_LEN 32
/* Longest request path considered; longer is not a route. */
#define LLMO_REG_PATH_MAX 1024

enum llmo_reg_route_kind {
	LLMO_REG_R_BASE = 1, /* GET /v2/ */
	LLMO_REG_R_CATALOG,  /* /v2/_catalog */
	LLMO_REG_R_TAGS,     /* /v2/<name>/tags/list */
	LLMO_REG_R_MANIFEST, /* /v2/<name>/manifests/<reference> */
	LLMO_REG_R_BLOB,     /* /v2/<name>/blobs/<digest> */
	LLMO_REG_R_UPLOADS,  /* /v2/<name>/blobs/uploads/ (the slash is optional) */
	LLMO_REG_R_UPLOAD,   /* /v2/<name>/blobs/uploads/<id> */
	LLMO_REG_R_REFERRERS, /* /v2/<name>/referrers/<digest> */
	LLMO_REG_R_TOKEN,    /* /token: the bearer token endpoint (auth.h) */
	LLMO_REG_R_HEALTHZ,  /* /healthz */
	LLMO_REG_R_READYZ,   /* /readyz */
	LLMO_REG_R_METRICS,  /* /metrics */
};

/* Which part of a path that has a route's shape was malformed. */
enum llmo_reg_bad_part {
	LLMO_REG_BAD_NONE,
	LLMO_REG_BAD_NAME,      /* NAME_INVALID */
	LLMO_REG_BAD_DIGEST,    /* DIGEST_INVALID (malformed or not sha256) */
	LLMO_REG_BAD_TAG,       /* neither a tag nor a digest */
	LLMO_REG_BAD_UPLOAD_ID, /* BLOB_UPLOAD_UNKNOWN */
};

struct llmo_reg_route {
	enum llmo_reg_route_kind kind;
	enum llmo_reg_bad_part bad;
	char name[LLMO_REG_NAME_MAX + 1]; /* "" for routes without a repository */
	bool by_digest;                   /* MANIFEST: the reference is a digest */
	struct llmo_digest digest;        /* BLOB, REFERRERS, MANIFEST by digest */
	char tag[LLMO_REG_TAG_MAX + 1];   /* MANIFEST by tag */
	char upload_id[LLMO_REG_UPLOAD_ID_LEN + 1]; /* UPLOAD */
};

/*
 * Parses the len bytes of a request path (the target before '?'; paths are
 * not percent-decoded, since no name, tag or digest needs an escape).
 * Returns 0 with *out filled; LLMO_ENOTFOUND when the path is no route (a
 * 404 with no OCI code); LLMO_EINVAL when it has a route's shape but a part
 * is malformed: out->kind and out->bad then say which, and err says how.
 */
int llmo_reg_route_parse(const char *path, size_t len, struct llmo_reg_route *out,
			 struct llmo_error *err);

bool llmo_reg_name_valid(const char *s, size_t len);
bool llmo_reg_tag_valid(const char *s, size_t len);

/*
 * Looks up key in a query string (the text after '?', len bytes) and
 * percent-decodes its value ('+' is a space) into out, n bytes with the NUL.
 * Returns 1 (found), 0 (absent: out is ""), LLMO_EPARSE (a bad %-escape, a
 * NUL byte, or the key given twice) or LLMO_ETOOBIG (value over n - 1 bytes).
 */
int llmo_reg_query_get(const char *query, size_t len, const char *key, char *out, size_t n);

/*
 * A Range request header against a blob of `size` bytes (RFC 9110 14.1):
 * one range of "bytes=FIRST-LAST", "bytes=FIRST-" or "bytes=-SUFFIX".
 * Returns 0 with the inclusive [*first, *last] clipped to the blob;
 * LLMO_ENOTFOUND when the header is to be ignored (another unit, several
 * ranges, malformed: the whole blob is served, as RFC 9110 allows);
 * LLMO_ERANGE when the range cannot be satisfied (416).
 */
int llmo_reg_range_parse(const char *v, uint64_t size, uint64_t *first, uint64_t *last);

/*
 * A Content-Range header of an upload chunk: "FIRST-LAST" as the
 * distribution spec writes it, also accepting RFC 9110's
 * "bytes FIRST-LAST/LENGTH" (LENGTH may be '*'). Inclusive offsets,
 * FIRST <= LAST. 0 or LLMO_EPARSE.
 */
int llmo_reg_content_range_parse(const char *v, uint64_t *first, uint64_t *last);

#endif
