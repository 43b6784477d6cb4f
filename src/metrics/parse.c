/*
 * The Prometheus text format reader (parse.h). One line at a time is copied
 * into a scratch buffer and parsed in place: unescaping label values only
 * ever shortens them, so names and values point into the copy.
 */
#include "base/common.h"

#include <math.h>

#include "base/str.h"
#include "metrics/parse.h"

#include "base/banned.h"

struct line {
	char *p;     /* the cursor */
	size_t no;   /* 1-based line number */
	struct llmo_error *err;
};

static int bad(struct line *l, const char *what)
{
	return llmo_error_set(l->err, LLMO_EPARSE, "metrics line %zu: %s", l->no, what);
}

static void skip_ws(struct line *l)
{
	while (*l->p == ' ' || *l->p == '\t')
		l->p++;
}

static bool name_start(char c, bool colon)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}

static bool name_char(char c, bool colon)
{
	return name_start(c, colon) || (c >= '0' && c <= '9');
}

/* A metric name (colon allowed) or a label name; the caller NUL-terminates it. */
static char *read_name(struct line *l, bool colon)
{
	char *start = l->p;

	if (!name_start(*l->p, colon))
		return NULL;
	while (name_char(*l->p, colon))
		l->p++;
	return start;
}

/* A quoted label value, unescaped in place and NUL-terminated. */
static int read_value(struct line *l, char **out)
{
	char *w;

	if (*l->p != '"')
		return bad(l, "a label value must be in double quotes");
	w = *out = ++l->p;
	for (;;) {
		char c = *l->p++;

		if (c == '\0')
			return bad(l, "unterminated label value");
		if (c == '"')
			break;
		if (c == '\\') {
			c = *l->p++;
			if (c == 'n')
				c = '\n';
			else if (c != '\\' && c != '"')
				return bad(l, "unknown escape in a label value (only \\\\, \\\" and \\n)");
		}
		*w++ = c;
	}
	*w = '\0';
	return 0;
}

static int read_number(struct line *l, char *tok, double *out)
{
	struct llmo_error ignored = {0};
	const char *t = tok + (*tok == '+' || *tok == '-');
	double sign = *tok == '-' ? -1 : 1;

	if (strcmp(t, "Inf") == 0 || strcmp(t, "inf") == 0) {
		*out = sign * INFINITY;
		return 0;
	}
	if (strcmp(tok, "NaN") == 0 || strcmp(tok, "nan") == 0) {
		*out = NAN;
		return 0;
	}
	if (llmo_parse_double(tok, out, &ignored))
		return bad(l, "the sample value is not a number");
	return 0;
}

static int parse_line(struct line *l, llmo_prom_sample_fn fn, void *arg)
{
	struct llmo_prom_label labels[LLMO_PROM_LABELS_MAX];
	size_t n = 0;
	char *name, *end, *tok;
	double v;
	int rc;

	skip_ws(l);
	if (*l->p == '\0' || *l->p == '#')
		return 0;
	if (!(name = read_name(l, true)))
		return bad(l, "expected a metric name");
	end = l->p;
	skip_ws(l);
	if (*l->p == '{') {
		*end = '\0';
		l->p++;
		for (;;) {
			char *lname, *lend;

			skip_ws(l);
			if (*l->p == '}')
				break;
			if (n == LLMO_PROM_LABELS_MAX)
				return bad(l, "too many labels");
			if (!(lname = read_name(l, false)))
				return bad(l, "expected a label name");
			lend = l->p;
			skip_ws(l);
			if (*l->p != '=')
				return bad(l, "expected '=' after a label name");
			*lend = '\0';
			l->p++;
			skip_ws(l);
			labels[n].name = lname;
			if ((rc = read_value(l, (char **)&labels[n].value)))
				return rc;
			n++;
			skip_ws(l);
			if (*l->p == ',')
				l->p++;
			else if (*l->p != '}')
				return bad(l, "expected ',' or '}' after a label");
		}
		l->p++;
		skip_ws(l);
	} else {
		if (end == l->p)
			return bad(l, "expected a space after the metric name");
		*end = '\0';
	}
	tok = l->p;
	while (*l->p && *l->p != ' ' && *l->p != '\t')
		l->p++;
	if (tok == l->p)
		return bad(l, "missing sample value");
	if (*l->p)
		*l->p++ = '\0';
	if ((rc = read_number(l, tok, &v)))
		return rc;
	skip_ws(l);
	if (*l->p) { /* an optional integer timestamp */
		tok = l->p;
		if (*l->p == '-')
			l->p++;
		while (*l->p >= '0' && *l->p <= '9')
			l->p++;
		if (l->p == tok || (l->p == tok + 1 && *tok == '-'))
			return bad(l, "trailing text after the sample value");
		skip_ws(l);
		if (*l->p)
			return bad(l, "trailing text after the timestamp");
	}
	return fn(arg, name, labels, n, v);
}

int llmo_prom_parse(const char *text, size_t len, llmo_prom_sample_fn fn, void *arg,
		    struct llmo_error *err)
{
	char *scratch = NULL;
	struct line l = {.no = 0, .err = err};
	size_t off = 0;
	int rc = 0;

	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (text + off)) : len - off;

		l.no++;
		if (n > 0 && text[off + n - 1] == '\r')
			n--;
		if (n > LLMO_PROM_LINE_MAX) {
			rc = bad(&l, "line too long");
			goto out;
		}
		if (memchr(text + off, '\0', n)) {
			rc = bad(&l, "NUL byte in the text");
			goto out;
		}
		if (!scratch && !(scratch = malloc(LLMO_PROM_LINE_MAX + 1))) {
			rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
			goto out;
		}
		memcpy(scratch, text + off, n);
		scratch[n] = '\0';
		l.p = scratch;
		if ((rc = parse_line(&l, fn, arg)))
			goto out;
		off += (nl ? (size_t)(nl - (text + off)) + 1 : len - off);
	}
out:
	free(scratch);
	return rc;
}

const char *llmo_prom_label(const struct llmo_prom_label *labels, size_t nlabels,
			    const char *name)
{
	for (size_t i = 0; i < nlabels; i++)
		if (strcmp(labels[i].name, name) == 0)
			return labels[i].value;
	return NULL;
}
