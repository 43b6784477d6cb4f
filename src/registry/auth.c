/*
 * Tokens, tenants and scopes (auth.h).
 */
#include "base/common.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/file.h"
#include "base/str.h"
#include "registry/auth.h"
#include "registry/digest.h"
#include "registry/route.h"

#include "base/banned.h"

#define QUOTE_SHOW 64
#define LINE_MAX_BYTES 8192

static void principal_release(struct llmo_reg_principal *p)
{
	for (size_t i = 0; i < p->scopes.len; i++)
		free(p->scopes.items[i].pattern);
	llmo_vec_release(&p->scopes);
	free(p->tenant);
	p->tenant = NULL;
}

static void principal_free(void *v)
{
	struct llmo_reg_principal *p = v;

	if (!p)
		return;
	principal_release(p);
	free(p);
}

int llmo_reg_auth_init(struct llmo_reg_auth *a)
{
	memset(a, 0, sizeof(*a));
	llmo_hmap_init(&a->by_hash);
	a->anonymous.tenant = llmo_strdup("anonymous");
	return a->anonymous.tenant ? 0 : LLMO_ENOMEM;
}

void llmo_reg_auth_release(struct llmo_reg_auth *a)
{
	llmo_hmap_release(&a->by_hash, principal_free);
	principal_release(&a->anonymous);
	a->ntokens = 0;
}

int llmo_reg_actions_parse(const char *s, size_t len, unsigned *out, struct llmo_error *err)
{
	static const struct {
		const char *name;
		unsigned bits;
	} names[] = {
		{"pull", LLMO_REG_PULL},
		{"push", LLMO_REG_PUSH},
		{"delete", LLMO_REG_DELETE},
		{"*", LLMO_REG_ALL},
	};
	unsigned bits = 0;
	size_t i = 0;

	while (i <= len) {
		const char *comma = i < len ? memchr(s + i, ',', len - i) : NULL;
		size_t end = comma ? (size_t)(comma - s) : len;
		size_t k;

		for (k = 0; k < LLMO_ARRAY_LEN(names); k++)
			if (strlen(names[k].name) == end - i && memcmp(names[k].name, s + i, end - i) == 0)
				break;
		if (k == LLMO_ARRAY_LEN(names)) {
			char q[LLMO_STR_QUOTE_SIZE(QUOTE_SHOW)];

			return llmo_error_set(err, LLMO_EINVAL,
					      "unknown action %s (expected pull, push, delete or *)",
					      llmo_str_quote(q, s + i, end - i, QUOTE_SHOW));
		}
		bits |= names[k].bits;
		i = end + 1;
	}
	*out = bits;
	return 0;
}

void llmo_reg_actions_str(unsigned actions, char *out, size_t n)
{
	static const char *const names[] = {"pull", "push", "delete"};
	size_t o = 0;

	if (n)
		out[0] = '\0';
	for (size_t i = 0; i < LLMO_ARRAY_LEN(names); i++) {
		if (!(actions & (1u << i)))
			continue;
		int w = snprintf(out + o, n - o, "%s%s", o ? "," : "", names[i]);

		if (w < 0 || (size_t)w >= n - o)
			return;
		o += (size_t)w;
	}
}

/* "repository:PATTERN:ACTIONS" (len bytes at s) into *out. */
static int scope_parse(const char *s, size_t len, struct llmo_reg_scope *out,
		       struct llmo_error *err)
{
	char q[LLMO_STR_QUOTE_SIZE(QUOTE_SHOW)];
	const char *pat, *colon;
	size_t plen;
	int rc;

	if (len < 11 || memcmp(s, "repository:", 11) != 0)
		goto bad;
	pat = s + 11;
	colon = memchr(pat, ':', len - 11);
	if (!colon)
		goto bad;
	plen = (size_t)(colon - pat);
	memset(out, 0, sizeof(*out));
	if (plen > 0 && pat[plen - 1] == '*') {
		out->prefix = true;
		plen--;
		/* the fixed part is what a name may start with */
		for (size_t i = 0; i < plen; i++) {
			char c = pat[i];

			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
			      c == '_' || c == '-' || c == '/'))
				goto bad;
		}
	} else if (!llmo_reg_name_valid(pat, plen)) {
		goto bad;
	}
	rc = llmo_reg_actions_parse(colon + 1, len - (size_t)(colon + 1 - s), &out->actions, err);
	if (rc)
		return rc;
	out->pattern = llmo_strndup(pat, plen);
	return out->pattern ? 0 : llmo_error_set(err, LLMO_ENOMEM, "out of memory");
bad:
	return llmo_error_set(err, LLMO_EINVAL,
			      "invalid scope %s (expected repository:NAME:ACTIONS, NAME a "
			      "repository name or a prefix ending in '*')",
			      llmo_str_quote(q, s, len, QUOTE_SHOW));
}

static bool token_valid(const char *t, size_t len)
{
	if (len < LLMO_REG_TOKEN_MIN || len > LLMO_REG_TOKEN_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
			return false;
	return true;
}

static bool tenant_valid(const char *t, size_t len)
{
	if (len == 0 || len > LLMO_REG_TENANT_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = t[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Appends the blank-separated scopes of s (len bytes) to p. */
static int scopes_parse(struct llmo_reg_principal *p, const char *s, size_t len,
			struct llmo_error *err)
{
	size_t i = 0;

	for (;;) {
		size_t start;
		struct llmo_reg_scope *sc;
		int rc;

		while (i < len && blank(s[i]))
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && !blank(s[i]))
			i++;
		if (p->scopes.len == LLMO_REG_SCOPES_MAX)
			return llmo_error_set(err, LLMO_ERANGE, "more than %d scopes",
					      LLMO_REG_SCOPES_MAX);
		sc = llmo_vec_push(&p->scopes);
		if (!sc)
			return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		rc = scope_parse(s + start, i - start, sc, err);
		if (rc) {
			p->scopes.len--;
			return rc;
		}
	}
	if (p->scopes.len == 0)
		return llmo_error_set(err, LLMO_EINVAL, "a token needs at least one scope");
	return 0;
}

static int token_key(const char *token, size_t len, char *key)
{
	struct llmo_digest d;
	int rc = llmo_digest_of(token, len, &d);

	if (!rc)
		memcpy(key, d.hex, LLMO_DIGEST_HEX_LEN + 1);
	return rc;
}

static int add_n(struct llmo_reg_auth *a, const char *token, size_t tlen, const char *tenant,
		 size_t nlen, const char *scopes, size_t slen, struct llmo_error *err)
{
	struct llmo_reg_principal *p = NULL;
	char key[LLMO_DIGEST_HEX_LEN + 1];
	int rc;

	if (!token_valid(token, tlen))
		return llmo_error_set(err, LLMO_EINVAL,
				      "a token is %d to %d printable ASCII bytes without spaces",
				      LLMO_REG_TOKEN_MIN, LLMO_REG_TOKEN_MAX);
	if (!tenant_valid(tenant, nlen))
		return llmo_error_set(err, LLMO_EINVAL,
				      "a tenant is 1 to %d letters, digits, '.', '_' or '-'",
				      LLMO_REG_TENANT_MAX);
	if (a->ntokens >= LLMO_REG_TOKENS_MAX)
		return llmo_error_set(err, LLMO_ERANGE, "more than %d tokens", LLMO_REG_TOKENS_MAX);
	rc = token_key(token, tlen, key);
	if (rc)
		return llmo_error_set(err, rc, "out of memory");
	if (llmo_hmap_has(&a->by_hash, key))
		return llmo_error_set(err, LLMO_EEXIST, "the token is listed twice");
	p = calloc(1, sizeof(*p));
	if (!p || !(p->tenant = llmo_strndup(tenant, nlen))) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto out;
	}
	rc = scopes_parse(p, scopes, slen, err);
	if (rc)
		goto out;
	rc = llmo_hmap_put(&a->by_hash, key, p, NULL);
	if (rc) {
		rc = llmo_error_set(err, rc, "out of memory");
		goto out;
	}
	p = NULL;
	a->ntokens++;
out:
	principal_free(p);
	return rc;
}

int llmo_reg_auth_add(struct llmo_reg_auth *a, const char *token, const char *tenant,
		      const char *scopes, struct llmo_error *err)
{
	return add_n(a, token, strlen(token), tenant, strlen(tenant), scopes, strlen(scopes), err);
}

/* Parses one line into a (or skips it); the caller prefixes errors with the line. */
static int add_line(struct llmo_reg_auth *a, const char *s, size_t len, struct llmo_error *err)
{
	size_t i = 0, t0, t1, n0, n1;

	while (i < len && blank(s[i]))
		i++;
	if (i == len || s[i] == '#')
		return 0;
	t0 = i;
	while (i < len && !blank(s[i]))
		i++;
	t1 = i;
	while (i < len && blank(s[i]))
		i++;
	n0 = i;
	while (i < len && !blank(s[i]))
		i++;
	n1 = i;
	if (n0 == n1)
		return llmo_error_set(err, LLMO_EINVAL, "expected TOKEN TENANT SCOPE...");
	return add_n(a, s + t0, t1 - t0, s + n0, n1 - n0, s + n1, len - n1, err);
}

/* Moves every token of src into dst; all or nothing (src keeps what was not moved). */
static int merge(struct llmo_reg_auth *dst, struct llmo_reg_auth *src)
{
	size_t it = 0;
	const char *k;
	void *v;

	if (dst->ntokens + src->ntokens > LLMO_REG_TOKENS_MAX)
		return LLMO_ERANGE;
	while (llmo_hmap_next(&src->by_hash, &it, &k, &v))
		if (llmo_hmap_has(&dst->by_hash, k))
			return LLMO_EEXIST;
	it = 0;
	while (llmo_hmap_next(&src->by_hash, &it, &k, &v)) {
		if (llmo_hmap_put(&dst->by_hash, k, v, NULL) == 0)
			continue;
		/* undo: take back the entries already moved (src still owns them) */
		it = 0;
		while (llmo_hmap_next(&src->by_hash, &it, &k, &v))
			if (llmo_hmap_get(&dst->by_hash, k) == v)
				llmo_hmap_del(&dst->by_hash, k, NULL);
		return LLMO_ENOMEM;
	}
	dst->ntokens += src->ntokens;
	/* dst owns the principals now */
	llmo_hmap_release(&src->by_hash, NULL);
	src->ntokens = 0;
	return 0;
}

int llmo_reg_auth_load_text(struct llmo_reg_auth *a, const char *text, size_t n,
			    const char *what, struct llmo_error *err)
{
	struct llmo_reg_auth tmp;
	size_t pos = 0, line = 0;
	int rc;

	if (n > LLMO_REG_TOKEN_FILE_MAX)
		return llmo_error_set(err, LLMO_ETOOBIG, "%s: %zu bytes, at most %zu", what, n,
				      LLMO_REG_TOKEN_FILE_MAX);
	if ((rc = llmo_reg_auth_init(&tmp)))
		return llmo_error_set(err, rc, "out of memory");
	/* into a table of its own first, so that a bad line changes nothing */
	while (pos < n) {
		const char *nl = memchr(text + pos, '\n', n - pos);
		size_t end = nl ? (size_t)(nl - text) : n;
		size_t len = end - pos;

		line++;
		if (len && text[pos + len - 1] == '\r')
			len--;
		if (len > LINE_MAX_BYTES)
			rc = llmo_error_set(err, LLMO_ETOOBIG, "line longer than %d bytes",
					    LINE_MAX_BYTES);
		else if (memchr(text + pos, '\0', len))
			rc = llmo_error_set(err, LLMO_EINVAL, "NUL byte in the line");
		else
			rc = add_line(&tmp, text + pos, len, err);
		if (rc) {
			llmo_error_prefix(err, "%s:%zu: ", what, line);
			goto out;
		}
		pos = end + 1;
	}
	rc = merge(a, &tmp);
	if (rc)
		rc = llmo_error_set(err, rc, "%s: %s", what,
				    rc == LLMO_EEXIST ? "a token in it is already known"
				    : rc == LLMO_ERANGE ? "too many tokens"
							: "out of memory");
out:
	llmo_reg_auth_release(&tmp);
	return rc;
}

int llmo_reg_auth_load_file(struct llmo_reg_auth *a, const char *path, struct llmo_error *err)
{
	struct llmo_buf text;
	struct stat st;
	int rc;

	if (stat(path, &st) == 0 && (st.st_mode & 077))
		return llmo_error_set(err, LLMO_EDENIED,
				      "%s: group or others may access this token file (mode %04o); "
				      "chmod 600 it",
				      path, (unsigned)(st.st_mode & 07777));
	llmo_buf_init(&text, LLMO_REG_TOKEN_FILE_MAX);
	rc = llmo_file_read(path, LLMO_REG_TOKEN_FILE_MAX, &text, err);
	if (!rc)
		rc = llmo_reg_auth_load_text(a, text.data, text.len, path, err);
	llmo_buf_release(&text);
	return rc;
}

int llmo_reg_auth_set_anonymous(struct llmo_reg_auth *a, const char *actions,
				struct llmo_error *err)
{
	struct llmo_reg_scope *sc;
	unsigned bits = 0;
	int rc;

	if (*actions && strcmp(actions, "none") != 0) {
		rc = llmo_reg_actions_parse(actions, strlen(actions), &bits, err);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < a->anonymous.scopes.len; i++)
		free(a->anonymous.scopes.items[i].pattern);
	a->anonymous.scopes.len = 0;
	if (!bits)
		return 0;
	sc = llmo_vec_push(&a->anonymous.scopes);
	if (!sc || !(sc->pattern = llmo_strdup(""))) {
		if (sc)
			a->anonymous.scopes.len = 0;
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	sc->prefix = true;
	sc->actions = bits;
	return 0;
}

/* Decodes standard base64 (with padding) into out (n bytes); the length, or -1. */
static int b64_decode(const char *s, size_t len, unsigned char *out, size_t n)
{
	int pad = 0, got;

	if (len == 0 || len % 4 || len / 4 * 3 > n)
		return -1;
	if (s[len - 1] == '=')
		pad++;
	if (len > 1 && s[len - 2] == '=')
		pad++;
	/* strict alphabet: '=' only as the padding at the end */
	for (size_t i = 0; i < len - (size_t)pad; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/'))
			return -1;
	}
	got = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
	if (got < pad)
		return -1;
	return got - pad;
}

int llmo_reg_auth_credential(const char *authorization, char *out, size_t n)
{
	unsigned char basic[LLMO_REG_AUTHZ_MAX];
	const char *tok;
	size_t tlen, vlen = strnlen(authorization, LLMO_REG_AUTHZ_MAX + 1);
	int rc = -1;

	if (vlen > LLMO_REG_AUTHZ_MAX)
		return -1;
	if (vlen > 7 && strncasecmp(authorization, "Bearer ", 7) == 0) {
		tok = authorization + 7;
		tlen = vlen - 7;
	} else if (vlen > 6 && strncasecmp(authorization, "Basic ", 6) == 0) {
		const char *b = authorization + 6;
		size_t blen = vlen - 6;
		const unsigned char *colon;
		int got;

		while (blen && blank(*b))
			b++, blen--;
		while (blen && blank(b[blen - 1]))
			blen--;
		got = b64_decode(b, blen, basic, sizeof(basic));
		colon = got > 0 ? memchr(basic, ':', (size_t)got) : NULL;
		if (!colon)
			goto out;
		tok = (const char *)colon + 1;
		tlen = (size_t)got - (size_t)(colon + 1 - basic);
	} else {
		return -1;
	}
	while (tlen && blank(*tok))
		tok++, tlen--;
	while (tlen && blank(tok[tlen - 1]))
		tlen--;
	if (tlen == 0 || tlen >= n)
		goto out;
	for (size_t i = 0; i < tlen; i++)
		if ((unsigned char)tok[i] < 0x20 || tok[i] == 0x7f)
			goto out; /* NUL or control bytes: no credential of ours */
	memcpy(out, tok, tlen);
	out[tlen] = '\0';
	rc = (int)tlen;
out:
	OPENSSL_cleanse(basic, sizeof(basic));
	return rc;
}

const struct llmo_reg_principal *llmo_reg_auth_lookup(const struct llmo_reg_auth *a,
						      const char *authorization,
						      bool *presented)
{
	char tok[LLMO_REG_TOKEN_MAX + 1];
	char key[LLMO_DIGEST_HEX_LEN + 1];
	const struct llmo_reg_principal *p = NULL;
	int n;

	*presented = authorization != NULL;
	if (!authorization)
		return &a->anonymous;
	n = llmo_reg_auth_credential(authorization, tok, sizeof(tok));
	if (n > 0 && token_valid(tok, (size_t)n) && token_key(tok, (size_t)n, key) == 0)
		p = llmo_hmap_get(&a->by_hash, key);
	OPENSSL_cleanse(tok, sizeof(tok));
	return p;
}

static bool scope_matches(const struct llmo_reg_scope *sc, const char *name)
{
	size_t plen = strlen(sc->pattern);

	if (sc->prefix)
		return strncmp(name, sc->pattern, plen) == 0;
	return strcmp(name, sc->pattern) == 0;
}

bool llmo_reg_principal_allows(const struct llmo_reg_principal *p, const char *name,
			       unsigned actions)
{
	unsigned have = 0;

	for (size_t i = 0; i < p->scopes.len; i++)
		if (scope_matches(&p->scopes.items[i], name))
			have |= p->scopes.items[i].actions;
	return actions && (have & actions) == actions;
}

bool llmo_reg_principal_any(const struct llmo_reg_principal *p, unsigned actions)
{
	for (size_t i = 0; i < p->scopes.len; i++)
		if (p->scopes.items[i].actions & actions)
			return true;
	return false;
}
