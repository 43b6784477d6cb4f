/*
 * Fuzz target for llmo_reg_challenge_parse (registry/httphdr.h), which reads
 * the WWW-Authenticate header of a registry's 401 (outside input). Any input
 * gives 0, LLMO_EPARSE or LLMO_ETOOBIG; a parsed challenge has a known
 * scheme, NUL-terminated values within their fields, each value's bytes
 * found in the input when it has no escapes; parsing the same
 * input twice gives the same result, and a challenge written back from a
 * parsed Bearer one (values free of quotes and backslashes) parses to it.
 */
#include "base/common.h"

#include "registry/httphdr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_value(const char *f, size_t max, const uint8_t *data, size_t size)
{
	size_t n = strnlen(f, max);

	if (n == max)
		abort();
	/* without escapes in the input, every value is a run of its bytes */
	if (n && !memchr(data, '\\', size) && !memmem(data, size, f, n))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct llmo_reg_challenge ch, again;
	char text[4 * LLMO_REG_CHALLENGE_VALUE_MAX + 128];
	int rc = llmo_reg_challenge_parse((const char *)data, size, &ch);

	if (rc != 0 && rc != LLMO_EPARSE && rc != LLMO_ETOOBIG)
		abort();
	if (llmo_reg_challenge_parse((const char *)data, size, &again) != rc ||
	    memcmp(&ch, &again, sizeof(ch)) != 0)
		abort();
	if (rc)
		return 0;
	if (ch.scheme != LLMO_REG_AUTH_OTHER && ch.scheme != LLMO_REG_AUTH_BASIC &&
	    ch.scheme != LLMO_REG_AUTH_BEARER)
		abort();
	check_value(ch.realm, sizeof(ch.realm), data, size);
	check_value(ch.service, sizeof(ch.service), data, size);
	check_value(ch.scope, sizeof(ch.scope), data, size);
	check_value(ch.error, sizeof(ch.error), data, size);
	if (ch.scheme != LLMO_REG_AUTH_BEARER || strpbrk(ch.realm, "\"\\") ||
	    strpbrk(ch.service, "\"\\") || strpbrk(ch.scope, "\"\\") || strpbrk(ch.error, "\"\\"))
		return 0;
	snprintf(text, sizeof(text), "Bearer realm=\"%s\",service=\"%s\",scope=\"%s\",error=\"%s\"",
		 ch.realm, ch.service, ch.scope, ch.error);
	if (llmo_reg_challenge_parse(text, strlen(text), &again) != 0 || again.scheme != ch.scheme ||
	    strcmp(again.realm, ch.realm) || strcmp(again.service, ch.service) ||
	    strcmp(again.scope, ch.scope) || strcmp(again.error, ch.error))
		abort();
	return 0;
}
