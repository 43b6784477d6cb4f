#ifndef LLMO_APISERVER_TOKENS_H
#define LLMO_APISERVER_TOKENS_H
/*
 * Static bearer tokens (`llmo server --token-file FILE`), in kube-apiserver's
 * --token-auth-file format: CSV, one user a record,
 *
 *     token,user,uid,"group1,group2"
 *
 * at least three fields (token, user name, uid), the fourth optional (a
 * comma-separated group list, quoted when it holds commas). Fields follow
 * RFC 4180 as Go's encoding/csv reads them: double quotes around a field,
 * "" for a quote inside one, CRLF or LF line ends, empty lines skipped,
 * spaces kept. A record with an empty token is skipped; when a token
 * appears twice the later record wins. Every user also gets the group
 * "system:authenticated".
 */
#include "base/common.h"
#include "base/error.h"
#include "apiserver/rbac.h"

/* Largest token file read, and most users in it. */
#define LLMO_TOKENS_FILE_MAX (1024 * 1024)
#define LLMO_TOKENS_MAX 10000
/* Longest field. */
#define LLMO_TOKENS_FIELD_MAX 4096

struct llmo_token_user {
	char *token;
	struct llmo_user user;
};

struct llmo_tokens {
	struct llmo_token_user *items;
	size_t len;
};

/*
 * Parses a token file's text (len bytes; NULs refused). file names it in
 * messages ("FILE:LINE: ..."). On success *out (zeroed here) owns the
 * users; on failure it is empty and err says where and what.
 * LLMO_EPARSE, LLMO_ETOOBIG or LLMO_ENOMEM.
 */
int llmo_tokens_parse(const char *text, size_t len, const char *file, struct llmo_tokens *out,
		      struct llmo_error *err);
/* Reads and parses the file at path (at most LLMO_TOKENS_FILE_MAX bytes). */
int llmo_tokens_load(const char *path, struct llmo_tokens *out, struct llmo_error *err);
void llmo_tokens_release(struct llmo_tokens *t);

/* The user whose token is tok (len bytes, compared in constant time), or NULL. */
const struct llmo_user *llmo_tokens_find(const struct llmo_tokens *t, const char *tok,
					 size_t len);

/*
 * The token of an "Authorization: Bearer TOKEN" value (scheme in any case,
 * blanks around the token ignored): *tok points into header, *len its
 * length. False for NULL, another scheme or an empty token.
 */
bool llmo_bearer_token(const char *header, const char **tok, size_t *len);

/* Frees what a user made by this module owns. */
void llmo_user_release(struct llmo_user *u);

#endif
