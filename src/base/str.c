#include "base/common.h"

#include <arpa/inet.h>
#include <math.h>
#include <strings.h>

#include "base/str.h"
#include "base/vec.h"

/* How much of a rejected input an error message quotes. */
#define STR_EXCERPT_MAX 64

uint64_t llmo_fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

char *llmo_strdup(const char *s)
{
	return s ? llmo_strndup(s, SIZE_MAX) : NULL;
}

char *llmo_strndup(const char *s, size_t n)
{
	size_t len;
	char *p;

	if (!s)
		return NULL;
	len = strnlen(s, n);
	p = malloc(len + 1);
	if (!p)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* Records code with a message "\"<input>\": <what>". */
static int str_reject(struct llmo_error *err, int code, const char *s, const char *what)
{
	return llmo_error_set(err, code, "\"%.*s%s\": %s", STR_EXCERPT_MAX, s,
			      strlen(s) > STR_EXCERPT_MAX ? "..." : "", what);
}

int llmo_parse_int64(const char *s, int64_t *out, struct llmo_error *err)
{
	const char *p = s;
	uint64_t limit, v = 0;
	bool neg = false;

	if (!s)
		return llmo_error_set(err, LLMO_EINVAL, "no integer given");
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (!*p)
		return str_reject(err, LLMO_EPARSE, s, "not an integer");
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *p; p++) {
		unsigned d;

		if (*p < '0' || *p > '9')
			return str_reject(err, LLMO_EPARSE, s, "not an integer");
		d = (unsigned)(*p - '0');
		if (v > (limit - d) / 10) {
			/* Keep scanning: "99999999999999999999x" is garbage, not a range error. */
			while (*p >= '0' && *p <= '9')
				p++;
			if (*p)
				return str_reject(err, LLMO_EPARSE, s, "not an integer");
			return str_reject(err, LLMO_ERANGE, s, "integer out of range for 64 bits");
		}
		v = v * 10 + d;
	}
	if (neg)
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	return 0;
}

int llmo_parse_int_range(const char *s, int64_t min, int64_t max, int64_t *out,
			 struct llmo_error *err)
{
	int64_t v;
	int rc;

	rc = llmo_parse_int64(s, &v, err);
	if (rc)
		return rc;
	if (v < min || v > max)
		return llmo_error_set(err, LLMO_ERANGE, "\"%s\": must be between %" PRId64
				      " and %" PRId64, s, min, max);
	*out = v;
	return 0;
}

static const char *skip_digits(const char *p, size_t *n)
{
	*n = 0;
	while (*p >= '0' && *p <= '9') {
		p++;
		(*n)++;
	}
	return p;
}

int llmo_parse_double(const char *s, double *out, struct llmo_error *err)
{
	const char *p = s;
	size_t nint, nfrac, nexp;
	char *end;
	double v;

	if (!s)
		return llmo_error_set(err, LLMO_EINVAL, "no number given");
	/* Check the grammar first: strtod also takes spaces, hex, inf and nan. */
	if (*p == '+' || *p == '-')
		p++;
	p = skip_digits(p, &nint);
	nfrac = 0;
	if (*p == '.')
		p = skip_digits(p + 1, &nfrac);
	if (nint + nfrac == 0)
		return str_reject(err, LLMO_EPARSE, s, "not a number");
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		p = skip_digits(p, &nexp);
		if (nexp == 0)
			return str_reject(err, LLMO_EPARSE, s, "not a number");
	}
	if (*p)
		return str_reject(err, LLMO_EPARSE, s, "not a number");

	errno = 0;
	v = strtod(s, &end);
	if (*end)
		return str_reject(err, LLMO_EPARSE, s, "not a number");
	if (!isfinite(v) || (errno == ERANGE && fabs(v) == HUGE_VAL))
		return str_reject(err, LLMO_ERANGE, s, "number out of range");
	*out = v;
	return 0;
}

int llmo_parse_bool(const char *s, bool *out, struct llmo_error *err)
{
	static const struct {
		const char *word;
		bool val;
	} words[] = {
		{"true", true}, {"false", false}, {"yes", true}, {"no", false},
		{"on", true},   {"off", false},   {"1", true},   {"0", false},
	};

	if (!s)
		return llmo_error_set(err, LLMO_EINVAL, "no boolean given");
	for (size_t i = 0; i < LLMO_ARRAY_LEN(words); i++) {
		if (strcasecmp(s, words[i].word) == 0) {
			*out = words[i].val;
			return 0;
		}
	}
	return str_reject(err, LLMO_EPARSE, s,
			  "not a boolean (expected true/false, yes/no, on/off or 1/0)");
}

bool llmo_str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool llmo_str_has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return m <= n && memcmp(s + n - m, suffix, m) == 0;
}

bool llmo_host_loopback(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return strcmp(host, "localhost") == 0;
}

/* Appends an owned string p (taking it) and keeps the NULL terminator. */
static int strv_take(struct llmo_strv *v, char *p)
{
	if (llmo_vec_reserve(v, v->len + 2))
		return LLMO_ENOMEM;
	v->items[v->len++] = p;
	v->items[v->len] = NULL;
	return 0;
}

int llmo_strv_push(struct llmo_strv *v, const char *s)
{
	char *p = llmo_strdup(s);
	int rc;

	if (!p)
		return LLMO_ENOMEM;
	rc = strv_take(v, p);
	if (rc)
		free(p);
	return rc;
}

void llmo_strv_release(struct llmo_strv *v)
{
	for (size_t i = 0; i < v->len; i++)
		free(v->items[i]);
	llmo_vec_release(v);
}

int llmo_str_split(const char *s, char sep, struct llmo_strv *out)
{
	size_t start_len = out->len;
	const char *p = s, *q;
	char *piece = NULL;
	int rc = 0;

	for (;;) {
		q = strchr(p, sep);
		if (!q)
			q = p + strlen(p);
		piece = llmo_strndup(p, (size_t)(q - p));
		if (!piece) {
			rc = LLMO_ENOMEM;
			goto out;
		}
		rc = strv_take(out, piece);
		if (rc)
			goto out;
		piece = NULL;
		if (!*q)
			break;
		p = q + 1;
	}
out:
	free(piece);
	if (rc) {
		while (out->len > start_len)
			free(out->items[--out->len]);
		if (out->items)
			out->items[out->len] = NULL;
	}
	return rc;
}

const char *llmo_str_quote(char *dst, const char *s, size_t len, size_t show)
{
	size_t w = 0;

	dst[w++] = '"';
	for (size_t i = 0; i < len && i < show; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			dst[w++] = '\\';
			dst[w++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			snprintf(dst + w, 5, "\\x%02x", c);
			w += 4;
		} else {
			dst[w++] = (char)c;
		}
	}
	if (len > show) {
		memcpy(dst + w, "...", 3);
		w += 3;
	}
	dst[w++] = '"';
	dst[w] = '\0';
	return dst;
}

int llmo_str_check_short(const char *s, size_t max, const char *what, char *q,
			 struct llmo_error *err)
{
	size_t len = strnlen(s, max + 1);

	llmo_str_quote(q, s, len, max);
	if (len == 0)
		return llmo_error_set(err, LLMO_EPARSE, "%s: empty %s", q, what);
	if (len > max)
		return llmo_error_set(err, LLMO_ETOOBIG, "%s: %s longer than %zu characters", q,
				      what, max);
	for (const char *p = s; *p; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\v' || *p == '\f' ||
		    *p == '\r')
			return llmo_error_set(err, LLMO_EPARSE, "%s: whitespace is not allowed", q);
	}
	return 0;
}

int llmo_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t llmo_utf8_seq_len(const unsigned char *s, size_t n)
{
	size_t k;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		k = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		k = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		k = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < k)
		return 0;
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates, past U+10FFFF. */
	if ((k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return k;
}

int llmo_hex4(const char *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		int d = llmo_hex_digit(p[i]);

		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

size_t llmo_utf8_encode(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

int llmo_json_escape_byte(char c)
{
	switch (c) {
	case '"':
	case '\\':
	case '/':
		return c;
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	default:
		return -1;
	}
}
