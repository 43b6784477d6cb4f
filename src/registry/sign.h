#ifndef LLMO_REGISTRY_SIGN_H
#define LLMO_REGISTRY_SIGN_H
/*
 * Ed25519 signatures over model manifests (`llmo model keygen`, `sign`,
 * `verify`; docs/registry.md).
 *
 * What is signed: the bytes "llmo-model-signature-v1:" followed by the
 * manifest's digest ("sha256:HEX"). A digest names the manifest's exact
 * bytes, and through them the config and every file, so the signature
 * covers the whole model. The signature (64 bytes) is stored in the
 * registry as an OCI artifact whose subject is the model's manifest (a
 * referrer), with the key id in the annotation LLMO_SIG_KEY_ANNOTATION.
 *
 * A key id is "sha256:" and the SHA-256 of the public key's DER
 * SubjectPublicKeyInfo. Keys are PEM files: the private key PKCS#8, mode
 * 0600 (a key group or others may read is refused), the public key SPKI.
 */
#include "base/common.h"

#include "base/error.h"
#include "registry/digest.h"

#define LLMO_SIG_ARTIFACT_TYPE "application/vnd.llmo.signature.v1"
#define LLMO_SIG_MEDIA_TYPE "application/vnd.llmo.signature.v1.ed25519"
#define LLMO_SIG_KEY_ANNOTATION "io.llmo.signature.key"
#define LLMO_SIG_LEN 64
#define LLMO_SIG_PREFIX "llmo-model-signature-v1:"
/* Largest key file read. */
#define LLMO_SIG_KEY_FILE_MAX ((size_t)16 << 10)

struct llmo_sig_key; /* a private or public Ed25519 key */

/*
 * Makes a key pair and writes PREFIX.key (0600) and PREFIX.pub (0644),
 * refusing to overwrite either. key_id (LLMO_DIGEST_STR_MAX) gets its id.
 */
int llmo_sig_keygen(const char *prefix, char *key_id, struct llmo_error *err);

/* Loads a private (PKCS#8 PEM) or public (SPKI PEM) Ed25519 key. */
int llmo_sig_key_load(const char *path, bool private_key, struct llmo_sig_key **out,
		      struct llmo_error *err);
void llmo_sig_key_free(struct llmo_sig_key *k);
/* The key id of k (either kind), into out (LLMO_DIGEST_STR_MAX bytes). */
const char *llmo_sig_key_id(const struct llmo_sig_key *k);

/* Signs manifest digest d with private key k: LLMO_SIG_LEN bytes into sig. */
int llmo_sig_sign(const struct llmo_sig_key *k, const struct llmo_digest *d,
		  unsigned char *sig, struct llmo_error *err);
/* Whether sig (len bytes) is k's signature of manifest digest d. */
bool llmo_sig_verify(const struct llmo_sig_key *k, const struct llmo_digest *d,
		     const unsigned char *sig, size_t len);

#endif
