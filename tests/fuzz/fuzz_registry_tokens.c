/*
 * Fuzz target for the registry's token file format (registry/auth.h), as
 * `--tokens FILE` and the tokens Secret (`--tokens-secret`) give it: the
 * input is parsed whole. A refusal names the source and a line and changes
 * nothing; a table built knows every token whose line it accepted (looked up
 * as a Bearer credential) and gives its tenant back.
 */
#include "base/common.h"

#include "registry/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* "Bearer " + the first field of each line that is not blank or a comment. */
static void check_lookups(const struct llmo_reg_auth *a, const char *text, size_t n)
{
	char authz[LLMO_REG_TOKEN_MAX + 16];
	size_t pos = 0;

	while (pos < n) {
		const char *nl = memchr(text + pos, '\n', n - pos);
		size_t end = nl ? (size_t)(nl - text) : n, i = pos, len;
		const struct llmo_reg_principal *p;
		bool presented;

		while (i < end && (text[i] == ' ' || text[i] == '\t'))
			i++;
		for (len = 0; i + len < end && text[i + len] != ' ' && text[i + len] != '\t' &&
			      text[i + len] != '\r';
		     len++)
			;
		if (len && text[i] != '#' && len <= LLMO_REG_TOKEN_MAX) {
			snprintf(authz, sizeof(authz), "Bearer %.*s", (int)len, text + i);
			p = llmo_reg_auth_lookup(a, authz, &presented);
			if (!p || p == &a->anonymous || !p->tenant)
				abort();
		}
		pos = end + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct llmo_error err = {0};
	struct llmo_reg_auth a;
	char *text = malloc(size + 1);

	if (!text || llmo_reg_auth_init(&a)) {
		free(text);
		return 0;
	}
	memcpy(text, data, size);
	text[size] = '\0';
	if (llmo_reg_auth_load_text(&a, text, size, "tokens", &err)) {
		if (strncmp(err.msg, "tokens", 6) != 0 || a.ntokens != 0)
			abort();
	} else {
		check_lookups(&a, text, size);
	}
	llmo_reg_auth_release(&a);
	free(text);
	return 0;
}
