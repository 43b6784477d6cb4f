#include "base/common.h"

#include <openssl/crypto.h>
#include <strings.h>

#include "apiserver/tokens.h"
#include "base/buf.h"
#include "base/file.h"

/* Fields kept from a record (kube reads four; more are allowed and ignored). */
#define TOKENS_FIELDS_MAX 4

void llmo_user_release(struct llmo_user *u)
{
	free(u->name);
	free(u->uid);
	llmo_strv_release(&u->groups);
	u->name = u->uid = NULL;
}

void llmo_tokens_release(struct llmo_tokens *t)
{
	for (size_t i = 0; i < t->len; i++) {
		if (t->items[i].token)
			OPENSSL_cleanse(t->items[i].token, strlen(t->items[i].token));
		free(t->items[i].token);
		llmo_user_release(&t->items[i].user);
	}
	free(t->items);
	t->items = NULL;
	t->len = 0;
}

/* One CSV parse in progress. */
struct csv {
	const char *p, *end, *file;
	size_t line;
	struct llmo_error *err;
};

/* Adds ch to the field being read; a field past the cap is an error. */
static int field_putc(struct csv *c, struct llmo_buf *f, char ch)
{
	if (llmo_buf_putc(f, ch))
		return llmo_error_set(c->err, LLMO_ETOOBIG, "%s:%zu: a field is longer than %d bytes",
				      c->file, c->line, LLMO_TOKENS_FIELD_MAX);
	return 0;
}

/*
 * Reads one field into f (reset first); *last says it ended its record.
 * Quoted fields may hold commas, "" and line breaks.
 */
static int csv_field(struct csv *c, struct llmo_buf *f, bool *last)
{
	size_t start_line = c->line;

	llmo_buf_reset(f);
	*last = false;
	if (c->p < c->end && *c->p == '"') {
		c->p++;
		for (;;) {
			if (c->p >= c->end)
				return llmo_error_set(c->err, LLMO_EPARSE,
						      "%s:%zu: a quoted field is not closed", c->file,
						      start_line);
			if (*c->p == '"') {
				if (c->p + 1 < c->end && c->p[1] == '"') {
					if (field_putc(c, f, '"'))
						return LLMO_ETOOBIG;
					c->p += 2;
					continue;
				}
				c->p++;
				break;
			}
			if (*c->p == '\n')
				c->line++;
			if (*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n') {
				c->p++;
				continue;
			}
			if (field_putc(c, f, *c->p++))
				return LLMO_ETOOBIG;
		}
		if (c->p < c->end && *c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n')
			c->p++;
		if (c->p < c->end && *c->p != ',' && *c->p != '\n')
			return llmo_error_set(c->err, LLMO_EPARSE,
					      "%s:%zu: extraneous or missing \" in a quoted field",
					      c->file, c->line);
	} else {
		while (c->p < c->end && *c->p != ',' && *c->p != '\n') {
			if (*c->p == '"')
				return llmo_error_set(c->err, LLMO_EPARSE,
						      "%s:%zu: bare \" in a field that is not quoted",
						      c->file, c->line);
			if (*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n') {
				c->p++;
				continue;
			}
			if (field_putc(c, f, *c->p++))
				return LLMO_ETOOBIG;
		}
	}
	if (c->p >= c->end || *c->p == '\n') {
		*last = true;
		if (c->p < c->end) {
			c->p++;
			c->line++;
		}
	} else {
		c->p++; /* the comma */
	}
	return 0;
}

static int user_from_record(struct llmo_token_user *tu, char **fields, size_t n)
{
	tu->token = strdup(fields[0]);
	tu->user.name = strdup(fields[1]);
	tu->user.uid = strdup(fields[2]);
	if (!tu->token || !tu->user.name || !tu->user.uid)
		return LLMO_ENOMEM;
	if (n >= 4 && llmo_str_split(fields[3], ',', &tu->user.groups))
		return LLMO_ENOMEM;
	return llmo_strv_push(&tu->user.groups, LLMO_RBAC_AUTHENTICATED);
}

/* Adds a record's user, replacing one with the same token. */
static int add_user(struct llmo_tokens *t, char **fields, size_t n)
{
	struct llmo_token_user tu = {0}, *items;
	int rc = user_from_record(&tu, fields, n);

	if (rc)
		goto fail;
	for (size_t i = 0; i < t->len; i++) {
		if (strcmp(t->items[i].token, tu.token) == 0) {
			free(t->items[i].token);
			llmo_user_release(&t->items[i].user);
			t->items[i] = tu;
			return 0;
		}
	}
	items = realloc(t->items, (t->len + 1) * sizeof(*items));
	if (!items) {
		rc = LLMO_ENOMEM;
		goto fail;
	}
	t->items = items;
	t->items[t->len++] = tu;
	return 0;
fail:
	free(tu.token);
	llmo_user_release(&tu.user);
	return rc;
}

int llmo_tokens_parse(const char *text, size_t len, const char *file, struct llmo_tokens *out,
		      struct llmo_error *err)
{
	struct csv c = {.p = text, .end = text + len, .file = file, .line = 1, .err = err};
	char *fields[TOKENS_FIELDS_MAX] = {0};
	struct llmo_buf f;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (memchr(text, '\0', len))
		return llmo_error_set(err, LLMO_EPARSE, "%s: the file holds a NUL byte", file);
	llmo_buf_init(&f, LLMO_TOKENS_FIELD_MAX);
	while (!rc && c.p < c.end) {
		size_t n = 0, line = c.line;
		bool last = false;

		/* empty lines are skipped */
		if (*c.p == '\n' || (*c.p == '\r' && c.p + 1 < c.end && c.p[1] == '\n')) {
			c.p += *c.p == '\r' ? 2 : 1;
			c.line++;
			continue;
		}
		while (!rc && !last) {
			if ((rc = csv_field(&c, &f, &last)))
				break;
			if (n < TOKENS_FIELDS_MAX && !(fields[n] = strdup(f.data ? f.data : "")))
				rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
			n++;
		}
		if (rc)
			;
		else if (n < 3)
			rc = llmo_error_set(err, LLMO_EPARSE,
					    "%s:%zu: a record needs at least 3 fields (token, user "
					    "name, user uid), found %zu",
					    file, line, n);
		else if (!*fields[0])
			rc = 0; /* kube skips a record with an empty token */
		else if (out->len >= LLMO_TOKENS_MAX)
			rc = llmo_error_set(err, LLMO_ETOOBIG, "%s:%zu: more than %d users", file,
					    line, LLMO_TOKENS_MAX);
		else if (add_user(out, fields, LLMO_MIN(n, (size_t)TOKENS_FIELDS_MAX)))
			rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		for (size_t i = 0; i < TOKENS_FIELDS_MAX; i++) {
			free(fields[i]);
			fields[i] = NULL;
		}
	}
	llmo_buf_release(&f);
	if (rc)
		llmo_tokens_release(out);
	return rc;
}

int llmo_tokens_load(const char *path, struct llmo_tokens *out, struct llmo_error *err)
{
	struct llmo_buf b;
	int rc;

	memset(out, 0, sizeof(*out));
	llmo_buf_init(&b, LLMO_TOKENS_FILE_MAX);
	rc = llmo_file_read(path, LLMO_TOKENS_FILE_MAX, &b, err);
	if (!rc)
		rc = llmo_tokens_parse(b.data ? b.data : "", b.len, path, out, err);
	if (b.data)
		OPENSSL_cleanse(b.data, b.len);
	llmo_buf_release(&b);
	return rc;
}

const struct llmo_user *llmo_tokens_find(const struct llmo_tokens *t, const char *tok,
					 size_t len)
{
	const struct llmo_user *found = NULL;

	/* every entry is compared, so the time says nothing about which matched */
	for (size_t i = 0; i < t->len; i++) {
		const char *cand = t->items[i].token;

		if (strlen(cand) == len && CRYPTO_memcmp(cand, tok, len) == 0)
			found = &t->items[i].user;
	}
	return found;
}

bool llmo_bearer_token(const char *h, const char **tok, size_t *len)
{
	size_t n;

	if (!h)
		return false;
	while (*h == ' ' || *h == '\t')
		h++;
	if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
		return false;
	h += 6;
	while (*h == ' ' || *h == '\t')
		h++;
	n = strlen(h);
	while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
		n--;
	if (n == 0)
		return false;
	*tok = h;
	*len = n;
	return true;
}
