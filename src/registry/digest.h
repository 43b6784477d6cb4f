#ifndef LLMO_REGISTRY_DIGEST_H
#define LLMO_REGISTRY_DIGEST_H
/*
 * Content digests as the OCI image specification writes them
 * ("sha256:" followed by 64 lowercase hex digits), and a streaming SHA-256
 * over OpenSSL's EVP interface.
 *
 * The grammar (OCI image-spec descriptor.md):
 *
 *     digest    ::= algorithm ":" encoded
 *     algorithm ::= component (separator component)*
 *     component ::= [a-z0-9]+
 *     separator ::= [+._-]
 *     encoded   ::= [a-zA-Z0-9=_-]+
 *
 * Only sha256 is stored and served: a well-formed digest of another
 * algorithm (sha512, blake3) is LLMO_EUNSUPPORTED, anything else LLMO_EPARSE.
 */
#include "base/common.h"

#include "base/error.h"

/* Hex digits of a SHA-256 digest, and room for "sha256:" + hex + NUL. */
#define LLMO_DIGEST_HEX_LEN 64
#define LLMO_DIGEST_STR_MAX 72
/* Longest digest text looked at; longer is LLMO_EPARSE without scanning it. */
#define LLMO_DIGEST_TEXT_MAX 256

struct llmo_digest {
	char hex[LLMO_DIGEST_HEX_LEN + 1]; /* lowercase, NUL-terminated */
};

/*
 * Parses the len bytes at s (no NUL needed) as a digest. 0 and *out, or
 * LLMO_EPARSE (not a digest), LLMO_EUNSUPPORTED (another algorithm; a
 * sha256 digest whose hex is not 64 lowercase digits is LLMO_EPARSE), with
 * a message quoting the input. *out is untouched on failure.
 */
int llmo_digest_parse(const char *s, size_t len, struct llmo_digest *out, struct llmo_error *err);

/* Writes "sha256:HEX" into out (LLMO_DIGEST_STR_MAX bytes) and returns out. */
const char *llmo_digest_str(const struct llmo_digest *d, char *out);

bool llmo_digest_equal(const struct llmo_digest *a, const struct llmo_digest *b);

/* The digest of len bytes at p. 0 or LLMO_ENOMEM. */
int llmo_digest_of(const void *p, size_t len, struct llmo_digest *out);

/*
 * A running SHA-256. _init allocates (LLMO_ENOMEM); _release frees and is
 * fine on a zeroed or released hasher. `len` counts the bytes hashed.
 */
struct llmo_sha256 {
	void *ctx; /* EVP_MD_CTX */
	uint64_t len;
};

int llmo_sha256_init(struct llmo_sha256 *h);
void llmo_sha256_update(struct llmo_sha256 *h, const void *p, size_t n);
/*
 * The digest of the bytes hashed so far; h stays usable (the context is
 * copied before finishing). 0 or LLMO_ENOMEM.
 */
int llmo_sha256_peek(const struct llmo_sha256 *h, struct llmo_digest *out);
/* Makes dst (initialised or zeroed) a copy of src. 0 or LLMO_ENOMEM. */
int llmo_sha256_copy(struct llmo_sha256 *dst, const struct llmo_sha256 *src);
void llmo_sha256_release(struct llmo_sha256 *h);

/*
 * Hashes the open file fd from offset 0 to its end into h (initialised by
 * the caller, usually fresh): a regular file from a memory map
 * (llmo_sha256_mapped, below), the rest with pread in LLMO_DIGEST_READ_CHUNK
 * pieces (never the whole file in memory). *size (may be NULL) receives the
 * bytes hashed. 0, LLMO_EIO (errno kept; EIO for a file that shrank while
 * it was mapped) or LLMO_ENOMEM.
 */
#define LLMO_DIGEST_READ_CHUNK ((size_t)1 << 20)
int llmo_sha256_fd(struct llmo_sha256 *h, int fd, uint64_t *size);

/*
 * Hashes bytes [*off, len) of the regular file fd into h from a memory map,
 * LLMO_DIGEST_MAP_WINDOW bytes mapped at a time: the SHA-256 reads the page
 * cache itself, without the copy a read makes (docs/registry.md, "Hashing
 * from a memory map"). *off advances as windows are hashed; between two,
 * stop(arg) (may be NULL) may end it early (0 returned, *off < len).
 *
 * A file shorter than len, or one that shrinks under the map, is LLMO_EIO
 * (errno EIO), not a crash: the pages past a new end raise SIGBUS, and a
 * handler (installed on first use, checked again at each call) jumps back
 * here when the fault is in a map this thread is hashing; any other SIGBUS
 * goes on to the action that was there before (by default the process
 * ends, as it would have). LLMO_EUNSUPPORTED when the file cannot be mapped
 * at all (*off says how far it got: the caller reads the rest).
 *
 * llmo_sha256_fd hashes this way first, and reads with pread what it could
 * not map and what was appended after its fstat.
 */
#define LLMO_DIGEST_MAP_WINDOW ((size_t)16 << 20)
int llmo_sha256_mapped(struct llmo_sha256 *h, int fd, uint64_t *off, uint64_t len,
		       bool (*stop)(void *arg), void *arg);

/*
 * For tests: called with fd after llmo_sha256_mapped checked the file's
 * size and before it maps (a test shrinks the file there). NULL in the
 * program.
 */
extern void (*llmo__digest_before_map)(int fd);

#endif
