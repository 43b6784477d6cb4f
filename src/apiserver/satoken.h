#ifndef LLMO_APISERVER_SATOKEN_H
#define LLMO_APISERVER_SATOKEN_H
/*
 * ServiceAccount tokens, issued by TokenRequest (POST
 * serviceaccounts/NAME/token, `kubectl create token NAME`) and accepted as
 * bearer tokens:
 *
 *     llmo-sa:NAMESPACE:NAME:UID:EXPIRY:HMAC
 *
 * EXPIRY is Unix seconds (decimal), HMAC the lower-case hex HMAC-SHA256 of
 * "NAMESPACE:NAME:UID:EXPIRY" under a key derived from the server's admin
 * token (so a new admin token revokes them all). The token is opaque to
 * clients (not a JWT). The server also checks, at each request, that the
 * ServiceAccount still exists with that UID, so deleting it revokes its
 * tokens.
 */
#include "base/common.h"

#define LLMO_SA_TOKEN_PREFIX "llmo-sa:"
#define LLMO_SA_KEY_LEN 32
/* Longest token accepted (a name is at most 253 bytes). */
#define LLMO_SA_TOKEN_MAX 512
/* TokenRequest spec.expirationSeconds: default, and bounds as kube-apiserver's. */
#define LLMO_SA_EXPIRY_DEFAULT_S 3600
#define LLMO_SA_EXPIRY_MIN_S 600
#define LLMO_SA_EXPIRY_MAX_S (2 * 365 * 24 * 3600)

struct llmo_sa_claims {
	char ns[64];
	char name[254];
	char uid[128];
	int64_t exp; /* Unix seconds */
};

/* The signing key for tokens of a server whose admin token is admin_token. */
void llmo_sa_key_derive(const char *admin_token, unsigned char key[LLMO_SA_KEY_LEN]);

/*
 * Writes the token for c into out (n bytes). LLMO_EINVAL when a field
 * holds ':' or does not fit the claims, LLMO_ETOOBIG when out is too small.
 */
int llmo_sa_token_issue(const unsigned char key[LLMO_SA_KEY_LEN], const struct llmo_sa_claims *c,
			char *out, size_t n);

/*
 * Checks tok (len bytes, untrusted): its form, its HMAC (in constant time)
 * and that it has not expired at now_s. 0 and *c filled, or LLMO_EPARSE
 * (not such a token), LLMO_EDENIED (a wrong HMAC), LLMO_ETIMEOUT (expired).
 */
int llmo_sa_token_verify(const unsigned char key[LLMO_SA_KEY_LEN], const char *tok, size_t len,
			 int64_t now_s, struct llmo_sa_claims *c);

#endif
