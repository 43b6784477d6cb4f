#ifndef LLMO_REGISTRY_HTTPHDR_H
#define LLMO_REGISTRY_HTTPHDR_H
/*
 * Parsers of the HTTP headers a registry answers with (outside input): Link
 * (RFC 8288), for lists in pages, and WWW-Authenticate (RFC 7235), for the
 * credentials it asks for.
 */
#include "base/common.h"

#include "base/error.h"

/*
 * The target of the first link with relation type "next" in a Link header
 * value (RFC 8288: `<URI>; rel="next"`, links separated by commas, rel a
 * token or a quoted list of types), copied into out (max bytes with the
 * NUL). 0; LLMO_ENOTFOUND without such a link; LLMO_EPARSE for a malformed
 * value (a space or control character in a URI among them); LLMO_ETOOBIG
 * when the target does not fit.
 */
int llmo_reg_link_next(const char *v, size_t n, char *out, size_t max);

enum llmo_reg_auth_scheme { LLMO_REG_AUTH_OTHER, LLMO_REG_AUTH_BASIC, LLMO_REG_AUTH_BEARER };

#define LLMO_REG_CHALLENGE_VALUE_MAX 1024

/* A challenge; the parameters not given are "". */
struct llmo_reg_challenge {
	enum llmo_reg_auth_scheme scheme;
	char realm[LLMO_REG_CHALLENGE_VALUE_MAX];
	char service[LLMO_REG_CHALLENGE_VALUE_MAX];
	char scope[LLMO_REG_CHALLENGE_VALUE_MAX];
	char error[64];
};

/*
 * The first challenge of a WWW-Authenticate value (RFC 7235: `Bearer
 * realm="https://auth/token",service="registry",scope="repository:x:pull"`;
 * parameter names in any case, values a token or a quoted string; a second
 * challenge after a comma is not read). 0; LLMO_EPARSE for a malformed
 * value (no scheme, a parameter without a value, an unclosed quote);
 * LLMO_ETOOBIG for a realm, service, scope or error value that does not fit.
 */
int llmo_reg_challenge_parse(const char *v, size_t n, struct llmo_reg_challenge *out);

#endif
