/*
 * Fuzz target for the outside input of apiserver/tokens.h and apiserver/rbac.h:
 * the input as a --token-file (it parses, or fails with a message naming the
 * file; every parsed token finds its user, who is in system:authenticated),
 * as a request path under each method (attributes or LLMO_ETOOBIG; a
 * resource request always names a resource and a verb), and as JSON: a
 * PolicyRule or a binding subject matched against those attributes, and a
 * SelfSubjectAccessReview-like attribute set put through the message
 * builder. The input as a ServiceAccount token: refused with a known code,
 * or (only a token this key signed) re-issued to the same text.
 */
#include "base/common.h"

#include "apiserver/rbac.h"
#include "apiserver/satoken.h"
#include "apiserver/tokens.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_tokens(const char *text, size_t size)
{
	struct llmo_error err = {0};
	struct llmo_tokens t;
	int rc = llmo_tokens_parse(text, size, "fuzz.csv", &t, &err);

	if (rc) {
		if ((rc != LLMO_EPARSE && rc != LLMO_ETOOBIG && rc != LLMO_ENOMEM) ||
		    strncmp(err.msg, "fuzz.csv", 8) != 0 || t.len)
			abort();
		return;
	}
	for (size_t i = 0; i < t.len; i++) {
		const struct llmo_user *u =
			llmo_tokens_find(&t, t.items[i].token, strlen(t.items[i].token));

		if (!*t.items[i].token || u != &t.items[i].user ||
		    !llmo_user_in_group(u, LLMO_RBAC_AUTHENTICATED))
			abort();
	}
	llmo_tokens_release(&t);
}

static void fuzz_sa_token(const char *text, size_t size)
{
	unsigned char key[LLMO_SA_KEY_LEN];
	struct llmo_sa_claims c;
	char again[LLMO_SA_TOKEN_MAX + 1];
	int rc;

	llmo_sa_key_derive("fuzz", key);
	rc = llmo_sa_token_verify(key, text, size, 0, &c);
	if (rc == LLMO_EPARSE || rc == LLMO_EDENIED)
		return;
	if (rc != 0 && rc != LLMO_ETIMEOUT)
		abort();
	if (llmo_sa_token_issue(key, &c, again, sizeof(again)) != 0 || strlen(again) != size ||
	    memcmp(again, text, size) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "X"};
	struct llmo_user user = {.name = (char *)"fuzz", .uid = (char *)"0"};
	char *text = malloc(size + 1);
	json_t *j;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	fuzz_tokens(text, size);
	fuzz_sa_token(text, size);
	j = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	for (size_t m = 0; m < LLMO_ARRAY_LEN(methods); m++) {
		struct llmo_rbac_attrs a;
		char msg[2048];
		int rc = llmo_rbac_attrs_from_request(methods[m], text, m % 2 == 0, &a);

		if (rc && rc != LLMO_ETOOBIG)
			abort();
		if (rc)
			continue;
		if (a.resource_request && (!*a.resource || (m < 6 && !*a.verb)))
			abort();
		llmo_rbac_forbidden_message(&user, &a, text, msg, sizeof(msg));
		if (!*msg)
			abort();
		if (j) {
			llmo_rbac_rule_allows(j, &a);
			llmo_rbac_subject_applies(j, &user, a.ns);
		}
	}
	json_decref(j);
	free(text);
	return 0;
}
