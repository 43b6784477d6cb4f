/*
 * Request paths, names, tags, queries and ranges of the registry (route.h).
 */
#include "base/common.h"

#include <strings.h>

#include "base/str.h"
#include "registry/route.h"

#include "base/banned.h"

#define QUOTE_SHOW 64

static bool alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component of a name: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static bool component_valid(const char *s, size_t len)
{
	size_t i = 0;

	if (len == 0 || !alnum_lower(s[0]) || !alnum_lower(s[len - 1]))
		return false;
	while (i < len) {
		size_t start = i;

		if (alnum_lower(s[i])) {
			i++;
			continue;
		}
		while (i < len && !alnum_lower(s[i]))
			i++;
		/* the separator run s[start, i) */
		if (i - start == 1 && (s[start] == '.' || s[start] == '_' || s[start] == '-'))
			continue;
		if (i - start == 2 && s[start] == '_' && s[start + 1] == '_')
			continue;
		for (size_t k = start; k < i; k++)
			if (s[k] != '-')
				return false;
	}
	return true;
}

bool llmo_reg_name_valid(const char *s, size_t len)
{
	size_t start = 0;

	if (len == 0 || len > LLMO_REG_NAME_MAX)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '/')
			continue;
		if (!component_valid(s + start, i - start))
			return false;
		start = i + 1;
	}
	return true;
}

bool llmo_reg_tag_valid(const char *s, size_t len)
{
	if (len == 0 || len > LLMO_REG_TAG_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_' || (i > 0 && (c == '.' || c == '-'));

		if (!ok)
			return false;
	}
	return true;
}

/* Whether the len bytes at s end with the C string suffix. */
static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

static bool seg_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(s, word, len) == 0;
}

/* The start of the segment that ends at end (exclusive), within [lo, end). */
static const char *seg_start(const char *lo, const char *end)
{
	const char *p = end;

	while (p > lo && p[-1] != '/')
		p--;
	return p;
}

static int set_name(struct llmo_reg_route *out, const char *s, size_t len, struct llmo_error *err)
{
	char q[LLMO_STR_QUOTE_SIZE(QUOTE_SHOW)];

	if (!llmo_reg_name_valid(s, len)) {
		out->bad = LLMO_REG_BAD_NAME;
		return llmo_error_set(err, LLMO_EINVAL,
				      "invalid repository name %s: lowercase letters and digits "
				      "in /-separated components, joined by '.', '_', '__' or "
				      "dashes, at most %d bytes",
				      llmo_str_quote(q, s, len, QUOTE_SHOW), LLMO_REG_NAME_MAX);
	}
	memcpy(out->name, s, len);
	out->name[len] = '\0';
	return 0;
}

static int set_digest(struct llmo_reg_route *out, const char *s, size_t len,
		      struct llmo_error *err)
{
	if (llmo_digest_parse(s, len, &out->digest, err)) {
		out->bad = LLMO_REG_BAD_DIGEST;
		return LLMO_EINVAL;
	}
	return 0;
}

static int set_reference(struct llmo_reg_route *out, const char *s, size_t len,
			 struct llmo_error *err)
{
	char q[LLMO_STR_QUOTE_SIZE(QUOTE_SHOW)];

	if (memchr(s, ':', len)) {
		out->by_digest = true;
		return set_digest(out, s, len, err);
	}
	if (!llmo_reg_tag_valid(s, len)) {
		out->bad = LLMO_REG_BAD_TAG;
		return llmo_error_set(err, LLMO_EINVAL,
				      "invalid reference %s: a tag is letters, digits, '_', "
				      "'.' and '-' (not first), at most %d bytes; a digest is "
				      "sha256:HEX",
				      llmo_str_quote(q, s, len, QUOTE_SHOW), LLMO_REG_TAG_MAX);
	}
	memcpy(out->tag, s, len);
	out->tag[len] = '\0';
	return 0;
}

static int set_upload_id(struct llmo_reg_route *out, const char *s, size_t len,
			 struct llmo_error *err)
{
	bool ok = len == LLMO_REG_UPLOAD_ID_LEN;

	for (size_t i = 0; ok && i < len; i++)
		ok = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');
	if (!ok) {
		out->bad = LLMO_REG_BAD_UPLOAD_ID;
		return llmo_error_set(err, LLMO_EINVAL, "unknown upload session");
	}
	memcpy(out->upload_id, s, len);
	out->upload_id[len] = '\0';
	return 0;
}

static const struct {
	const char *path;
	enum llmo_reg_route_kind kind;
} fixed_routes[] = {
	{"/v2", LLMO_REG_R_BASE},
	{"/v2/", LLMO_REG_R_BASE},
	{"/v2/_catalog", LLMO_REG_R_CATALOG},
	{"/token", LLMO_REG_R_TOKEN},
	{"/healthz", LLMO_REG_R_HEALTHZ},
	{"/readyz", LLMO_REG_R_READYZ},
	{"/metrics", LLMO_REG_R_METRICS},
};

int llmo_reg_route_parse(const char *path, size_t len, struct llmo_reg_route *out,
			 struct llmo_error *err)
{
	const char *rest, *end, *last, *prev;
	size_t rlen, llen, plen;

	memset(out, 0, sizeof(*out));
	if (len > LLMO_REG_PATH_MAX)
		return llmo_error_set(err, LLMO_ENOTFOUND, "request path too long");
	for (size_t i = 0; i < LLMO_ARRAY_LEN(fixed_routes); i++) {
		if (seg_is(path, len, fixed_routes[i].path)) {
			out->kind = fixed_routes[i].kind;
			return 0;
		}
	}
	if (len < 5 || memcmp(path, "/v2/", 4) != 0)
		return llmo_error_set(err, LLMO_ENOTFOUND, "no such endpoint");
	rest = path + 4;
	rlen = len - 4;
	if (ends_with(rest, rlen, "/tags/list")) {
		out->kind = LLMO_REG_R_TAGS;
		return set_name(out, rest, rlen - 10, err);
	}
	if (ends_with(rest, rlen, "/blobs/uploads/") || ends_with(rest, rlen, "/blobs/uploads")) {
		out->kind = LLMO_REG_R_UPLOADS;
		return set_name(out, rest, rlen - (rest[rlen - 1] == '/' ? 15 : 14), err);
	}
	end = rest + rlen;
	last = seg_start(rest, end);
	llen = (size_t)(end - last);
	if (last == rest || llen == 0)
		return llmo_error_set(err, LLMO_ENOTFOUND, "no such endpoint");
	prev = seg_start(rest, last - 1);
	plen = (size_t)(last - 1 - prev);
	if (seg_is(prev, plen, "uploads") && prev - rest >= 8 &&
	    memcmp(prev - 7, "/blobs/", 7) == 0) {
		out->kind = LLMO_REG_R_UPLOAD;
		if (set_name(out, rest, (size_t)(prev - 7 - rest), err))
			return LLMO_EINVAL;
		return set_upload_id(out, last, llen, err);
	}
	if (prev == rest)
		return llmo_error_set(err, LLMO_ENOTFOUND, "no such endpoint");
	if (seg_is(prev, plen, "blobs"))
		out->kind = LLMO_REG_R_BLOB;
	else if (seg_is(prev, plen, "manifests"))
		out->kind = LLMO_REG_R_MANIFEST;
	else if (seg_is(prev, plen, "referrers"))
		out->kind = LLMO_REG_R_REFERRERS;
	else
		return llmo_error_set(err, LLMO_ENOTFOUND, "no such endpoint");
	if (set_name(out, rest, (size_t)(prev - 1 - rest), err))
		return LLMO_EINVAL;
	if (out->kind == LLMO_REG_R_MANIFEST)
		return set_reference(out, last, llen, err);
	return set_digest(out, last, llen, err);
}

/* ---- query strings ---- */

/* Percent-decodes [s, s + len) into out (n bytes with the NUL). */
static int decode(const char *s, size_t len, char *out, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '%') {
			int hi, lo;

			if (len - i < 3)
				return LLMO_EPARSE;
			hi = llmo_hex_digit(s[i + 1]);
			lo = llmo_hex_digit(s[i + 2]);
			if (hi < 0 || lo < 0)
				return LLMO_EPARSE;
			c = (char)(hi * 16 + lo);
			if (c == '\0')
				return LLMO_EPARSE;
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (o + 1 >= n)
			return LLMO_ETOOBIG;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

int llmo_reg_query_get(const char *query, size_t len, const char *key, char *out, size_t n)
{
	size_t klen = strlen(key), i = 0;
	int found = 0;

	if (n)
		out[0] = '\0';
	while (i <= len && query) {
		const char *amp = i < len ? memchr(query + i, '&', len - i) : NULL;
		size_t pend = amp ? (size_t)(amp - query) : len;
		const char *p = query + i;
		size_t plen = pend - i;
		const char *eq = memchr(p, '=', plen);
		size_t kl = eq ? (size_t)(eq - p) : plen;

		if (kl == klen && memcmp(p, key, klen) == 0) {
			int rc;

			if (found)
				return LLMO_EPARSE;
			rc = eq ? decode(eq + 1, plen - kl - 1, out, n) : decode("", 0, out, n);
			if (rc)
				return rc;
			found = 1;
		}
		if (!amp)
			break;
		i = pend + 1;
	}
	return found;
}

/* ---- ranges ---- */

/* Digits at *p as a uint64 (at most 19 digits, so no overflow); advances *p. */
static bool parse_u64(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	int n = 0;

	while (*s >= '0' && *s <= '9') {
		if (++n > 19)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
		s++;
	}
	if (n == 0)
		return false;
	*p = s;
	*out = v;
	return true;
}

int llmo_reg_range_parse(const char *v, uint64_t size, uint64_t *first, uint64_t *last)
{
	const char *p = v;
	uint64_t a = 0, b = 0;

	if (strncasecmp(p, "bytes=", 6) != 0)
		return LLMO_ENOTFOUND;
	p += 6;
	if (strchr(p, ','))
		return LLMO_ENOTFOUND;
	if (*p == '-') {
		p++;
		if (!parse_u64(&p, &b) || *p)
			return LLMO_ENOTFOUND;
		if (b == 0 || size == 0)
			return LLMO_ERANGE;
		*first = size > b ? size - b : 0;
		*last = size - 1;
		return 0;
	}
	if (!parse_u64(&p, &a) || *p != '-')
		return LLMO_ENOTFOUND;
	p++;
	if (*p) {
		if (!parse_u64(&p, &b) || *p || b < a)
			return LLMO_ENOTFOUND;
	} else {
		b = UINT64_MAX;
	}
	if (a >= size)
		return LLMO_ERANGE;
	*first = a;
	*last = b < size - 1 ? b : size - 1;
	return 0;
}

int llmo_reg_content_range_parse(const char *v, uint64_t *first, uint64_t *last)
{
	const char *p = v;
	uint64_t a, b, total;
	bool rfc = false;

	if (strncasecmp(p, "bytes ", 6) == 0) {
		p += 6;
		rfc = true;
	}
	if (!parse_u64(&p, &a) || *p != '-')
		return LLMO_EPARSE;
	p++;
	if (!parse_u64(&p, &b) || b < a)
		return LLMO_EPARSE;
	if (rfc) {
		if (*p++ != '/')
			return LLMO_EPARSE;
		if (*p == '*')
			p++;
		else if (!parse_u64(&p, &total) || total <= b)
			return LLMO_EPARSE;
	}
	if (*p)
		return LLMO_EPARSE;
	*first = a;
	*last = b;
	return 0;
}
