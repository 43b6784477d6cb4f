/*
 * Parsers of registry answers' headers (httphdr.h).
 */
#include "base/common.h"

#include <strings.h>

#include "registry/httphdr.h"

#include "base/banned.h"

/* ---- Link headers (RFC 8288) ---- */

static size_t skip_ows(const char *v, size_t n, size_t i)
{
	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	return i;
}

static bool is_tchar(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch));
}

/* The end of the token at v[i] (i itself without one). */
static size_t token_end(const char *v, size_t n, size_t i)
{
	while (i < n && is_tchar(v[i]))
		i++;
	return i;
}

/* A control character (HTAB aside), not allowed in a header's quoted string or token. */
static bool is_ctl(char ch)
{
	return ((unsigned char)ch < ' ' && ch != '\t') || ch == 0x7f;
}

/*
 * The value of a parameter at v[*i] (after its '='): a quoted string, its
 * escapes taken out, or leniently a run of bytes up to one of `stops` (an
 * unquoted URL is not a token, but registries send them). Into val (max
 * bytes with the NUL; *fits false when it is longer, val then holding
 * what fit); *i past it. 0, or LLMO_EPARSE: no value, an unclosed quote,
 * a control character.
 */
static int param_value(const char *v, size_t n, size_t *i, const char *stops, char *val,
		       size_t max, size_t *vlen, bool *fits)
{
	size_t k = *i;

	*vlen = 0;
	*fits = true;
	if (k < n && v[k] == '"') {
		for (k++; k < n && v[k] != '"'; k++) {
			if (is_ctl(v[k]) || (v[k] == '\\' && (++k == n || is_ctl(v[k]))))
				return LLMO_EPARSE;
			if (*vlen + 1 < max)
				val[(*vlen)++] = v[k];
			else
				*fits = false;
		}
		if (k++ == n)
			return LLMO_EPARSE;
	} else {
		size_t t = k;

		while (k < n && !strchr(stops, v[k])) {
			if (is_ctl(v[k]))
				return LLMO_EPARSE;
			if (*vlen + 1 < max)
				val[(*vlen)++] = v[k];
			else
				*fits = false;
			k++;
		}
		if (k == t)
			return LLMO_EPARSE;
	}
	val[*vlen] = '\0';
	*i = k;
	return 0;
}

/* Whether the space-separated relation types rel[0..n) hold "next". */
static bool rel_has_next(const char *rel, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && rel[j] != ' ')
			j++;
		if (j - i == 4 && strncasecmp(rel + i, "next", 4) == 0)
			return true;
		i = j + 1;
	}
	return false;
}

int llmo_reg_link_next(const char *v, size_t n, char *out, size_t max)
{
	size_t i = 0;

	for (;;) {
		size_t uri, uri_len;
		bool next = false;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		if (i == n)
			return LLMO_ENOTFOUND;
		if (v[i] != '<')
			return LLMO_EPARSE;
		uri = ++i;
		while (i < n && v[i] != '>') {
			/* no control character or space in a URI */
			if ((unsigned char)v[i] <= ' ' || v[i] == 0x7f)
				return LLMO_EPARSE;
			i++;
		}
		if (i == n)
			return LLMO_EPARSE;
		uri_len = i++ - uri;
		/* parameters: ; name [= token | quoted-string] */
		for (;;) {
			char val[64];
			size_t name, name_len, vlen = 0;
			bool fits = true;

			i = skip_ows(v, n, i);
			if (i == n || v[i] == ',')
				break;
			if (v[i] != ';')
				return LLMO_EPARSE;
			i = skip_ows(v, n, i + 1);
			name = i;
			i = token_end(v, n, i);
			if ((name_len = i - name) == 0)
				return LLMO_EPARSE;
			i = skip_ows(v, n, i);
			if (i < n && v[i] == '=') {
				i = skip_ows(v, n, i + 1);
				if (param_value(v, n, &i, ";, \t", val, sizeof(val), &vlen, &fits))
					return LLMO_EPARSE;
			}
			if (name_len == 3 && strncasecmp(v + name, "rel", 3) == 0 && fits)
				next = next || rel_has_next(val, vlen);
		}
		if (!next)
			continue;
		if (uri_len == 0)
			return LLMO_EPARSE;
		if (uri_len >= max)
			return LLMO_ETOOBIG;
		memcpy(out, v + uri, uri_len);
		out[uri_len] = '\0';
		return 0;
	}
}

/* ---- WWW-Authenticate (RFC 7235) ---- */

/* Copies v[0..len) into out (max bytes with the NUL); false when it does not fit. */
static bool put_value(char *out, size_t max, const char *v, size_t len)
{
	if (len >= max)
		return false;
	memcpy(out, v, len);
	out[len] = '\0';
	return true;
}

int llmo_reg_challenge_parse(const char *v, size_t n, struct llmo_reg_challenge *out)
{
	size_t s = skip_ows(v, n, 0), i = token_end(v, n, s);

	memset(out, 0, sizeof(*out));
	if (i == s)
		return LLMO_EPARSE;
	if (i - s == 5 && strncasecmp(v + s, "Basic", 5) == 0)
		out->scheme = LLMO_REG_AUTH_BASIC;
	else if (i - s == 6 && strncasecmp(v + s, "Bearer", 6) == 0)
		out->scheme = LLMO_REG_AUTH_BEARER;
	while (i < n) {
		const struct {
			const char *name;
			char *field;
			size_t max;
		} params[] = {
			{"realm", out->realm, sizeof(out->realm)},
			{"service", out->service, sizeof(out->service)},
			{"scope", out->scope, sizeof(out->scope)},
			{"error", out->error, sizeof(out->error)},
		};
		char val[LLMO_REG_CHALLENGE_VALUE_MAX];
		size_t name, name_len, vlen = 0;
		bool fits = true;

		while (i < n && (v[i] == ',' || v[i] == ' ' || v[i] == '\t'))
			i++;
		if (i == n)
			break;
		name = i;
		i = token_end(v, n, i);
		if ((name_len = i - name) == 0)
			return LLMO_EPARSE;
		i = skip_ows(v, n, i);
		/* a token68, or the next challenge's scheme: the first challenge ends */
		if (i == n || v[i] != '=')
			break;
		i = skip_ows(v, n, i + 1);
		if (param_value(v, n, &i, ", \t", val, sizeof(val), &vlen, &fits))
			return LLMO_EPARSE;
		for (size_t k = 0; k < LLMO_ARRAY_LEN(params); k++) {
			if (strlen(params[k].name) != name_len ||
			    strncasecmp(v + name, params[k].name, name_len) != 0)
				continue;
			if (!fits || !put_value(params[k].field, params[k].max, val, vlen))
				return LLMO_ETOOBIG;
		}
	}
	return 0;
}
