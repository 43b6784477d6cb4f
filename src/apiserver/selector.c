#include "base/common.h"

#include <math.h>

#include "api/errlist.h"
#include "api/meta.h"
#include "apiserver/selector.h"
#include "base/json.h"

/* Bytes of a token quoted in a message. */
#define SEL_QUOTE_SHOW 32
#define SEL_QUOTE_MAX LLMO_STR_QUOTE_SIZE(SEL_QUOTE_SHOW)
/* A formatted number read from an object for a field selector. */
#define SEL_NUM_MAX 40

/* ---- label keys and values ---------------------------------------------- */

typedef int (*sel_rule_fn)(const char *s, const char *path, struct llmo_errlist *errs);

/*
 * The label rules live in api/meta.c and report into an error list; here
 * only the verdict is wanted. 1 when s breaks the rule, 0 when it keeps it,
 * or LLMO_ENOMEM.
 */
static int sel_rule_broken(sel_rule_fn rule, const char *s)
{
	struct llmo_errlist scratch;
	int rc;

	llmo_errlist_init(&scratch);
	rc = rule(s, "", &scratch);
	if (rc == 0)
		rc = llmo_errlist_count(&scratch) > 0;
	llmo_errlist_release(&scratch);
	return rc;
}

/*
 * What is wrong with label key k (NULL when nothing), or "" when out of
 * memory (*rc is then LLMO_ENOMEM). Our own words rather than meta.c's,
 * which quote the key raw: a selector is outside input and may hold any byte.
 */
static const char *sel_key_problem(const char *k, int *rc)
{
	const char *slash = strchr(k, '/');
	const char *name = slash ? slash + 1 : k;
	int broken;

	*rc = 0;
	if (slash) {
		char prefix[LLMO_DNS1123_SUBDOMAIN_MAX + 1];
		size_t plen = (size_t)(slash - k);

		if (plen == 0 || plen > LLMO_DNS1123_SUBDOMAIN_MAX)
			return "the prefix before '/' must be a DNS subdomain of 1 to 253 characters";
		memcpy(prefix, k, plen);
		prefix[plen] = '\0';
		broken = sel_rule_broken(llmo_validate_dns1123_subdomain, prefix);
		if (broken < 0)
			goto nomem;
		if (broken)
			return "the prefix before '/' must be a DNS subdomain: lowercase "
			       "alphanumerics, '-' and '.', starting and ending with an alphanumeric";
	}
	if (*name == '\0')
		return "the name part must not be empty";
	/* The name part follows the label value rule, less the empty value. */
	broken = sel_rule_broken(llmo_validate_label_value, name);
	if (broken < 0)
		goto nomem;
	if (broken)
		return "the name part must be at most 63 characters: alphanumerics, '-', '_' or '.', "
		       "starting and ending with an alphanumeric";
	return NULL;
nomem:
	*rc = LLMO_ENOMEM;
	return "";
}

static const char *sel_value_problem(const char *v, int *rc)
{
	int broken = sel_rule_broken(llmo_validate_label_value, v);

	*rc = broken < 0 ? broken : 0;
	if (broken < 0)
		return "";
	if (broken)
		return "a label value must be empty or at most 63 characters: alphanumerics, '-', "
		       "'_' or '.', starting and ending with an alphanumeric";
	return NULL;
}

/* Checks key as a label key; `what` names it in the message. */
static int sel_check_key(const char *key, const char *what, struct llmo_error *err)
{
	char q[SEL_QUOTE_MAX];
	const char *why;
	int rc;

	why = sel_key_problem(key, &rc);
	if (rc)
		return llmo_error_set(err, rc, "%s: out of memory", what);
	if (why)
		return llmo_error_set(err, LLMO_EINVAL, "%s: invalid label key %s: %s", what,
				      llmo_str_quote(q, key, strlen(key), SEL_QUOTE_SHOW), why);
	return 0;
}

/* ---- requirements ------------------------------------------------------- */

static void sel_req_release(struct llmo_selector_req *r)
{
	free(r->key);
	r->key = NULL;
	llmo_strv_release(&r->values);
}

void llmo_selector_free(struct llmo_selector *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->reqs.len; i++)
		sel_req_release(&s->reqs.items[i]);
	llmo_vec_release(&s->reqs);
	free(s);
}

static int sel_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts values and drops duplicates, keeping items[len] == NULL. */
static void sel_values_normalise(struct llmo_strv *v)
{
	size_t out = 0;

	if (v->len < 2)
		return;
	qsort(v->items, v->len, sizeof(v->items[0]), sel_cmp_str);
	for (size_t i = 0; i < v->len; i++) {
		if (out > 0 && strcmp(v->items[out - 1], v->items[i]) == 0) {
			free(v->items[i]);
			continue;
		}
		v->items[out++] = v->items[i];
	}
	v->len = out;
	v->items[out] = NULL;
}

/* Stable insertion sort by key: at most LLMO_SELECTOR_REQS_MAX entries. */
static void sel_sort(struct llmo_selector *s)
{
	for (size_t i = 1; i < s->reqs.len; i++) {
		struct llmo_selector_req r = s->reqs.items[i];
		size_t j = i;

		while (j > 0 && strcmp(s->reqs.items[j - 1].key, r.key) > 0) {
			s->reqs.items[j] = s->reqs.items[j - 1];
			j--;
		}
		s->reqs.items[j] = r;
	}
}

static const char *sel_op_text(enum llmo_selector_op op)
{
	switch (op) {
	case LLMO_SELECTOR_EQ:
		return "=";
	case LLMO_SELECTOR_NE:
		return "!=";
	case LLMO_SELECTOR_IN:
		return "in";
	case LLMO_SELECTOR_NOTIN:
		return "notin";
	case LLMO_SELECTOR_EXISTS:
		return "exists";
	case LLMO_SELECTOR_NOT_EXISTS:
		return "!";
	case LLMO_SELECTOR_GT:
		return ">";
	case LLMO_SELECTOR_LT:
		return "<";
	}
	return "?";
}

/*
 * Checks a finished requirement the way labels.NewRequirement does: the
 * number of values for the operator, every value a label value, and an
 * integer for > and <. `where` prefixes messages ("labelSelector: ... at 4"
 * or "matchExpressions[2]").
 */
static int sel_req_check(struct llmo_selector_req *r, const char *where, struct llmo_error *err)
{
	char q[SEL_QUOTE_MAX];
	const char *why;
	int rc = 0;

	switch (r->op) {
	case LLMO_SELECTOR_IN:
	case LLMO_SELECTOR_NOTIN:
		if (r->values.len == 0)
			return llmo_error_set(err, LLMO_EINVAL, "%s: for 'in', 'notin' operators, "
					      "values set can't be empty", where);
		break;
	case LLMO_SELECTOR_EXISTS:
	case LLMO_SELECTOR_NOT_EXISTS:
		if (r->values.len != 0)
			return llmo_error_set(err, LLMO_EINVAL, "%s: values set must be empty for "
					      "exists and does not exist", where);
		break;
	default:
		if (r->values.len != 1)
			return llmo_error_set(err, LLMO_EINVAL, "%s: operator %s takes exactly one "
					      "value", where, sel_op_text(r->op));
		break;
	}
	for (size_t i = 0; i < r->values.len; i++) {
		const char *v = r->values.items[i];

		why = sel_value_problem(v, &rc);
		if (rc)
			return llmo_error_set(err, rc, "%s: out of memory", where);
		if (why)
			return llmo_error_set(err, LLMO_EINVAL, "%s: invalid label value %s: %s", where,
					      llmo_str_quote(q, v, strlen(v), SEL_QUOTE_SHOW), why);
	}
	if (r->op == LLMO_SELECTOR_GT || r->op == LLMO_SELECTOR_LT) {
		const char *v = r->values.items[0];

		if (llmo_parse_int64(v, &r->num, NULL) != 0)
			return llmo_error_set(err, LLMO_EINVAL, "%s: for '>', '<' operators, the value "
					      "must be an integer, not %s", where,
					      llmo_str_quote(q, v, strlen(v), SEL_QUOTE_SHOW));
	}
	sel_values_normalise(&r->values);
	return 0;
}

/* ---- the query-string form ---------------------------------------------- */

enum sel_tok {
	SEL_T_END,
	SEL_T_IDENT,
	SEL_T_COMMA,
	SEL_T_LPAREN,
	SEL_T_RPAREN,
	SEL_T_NOT,    /* ! */
	SEL_T_EQ,     /* = */
	SEL_T_DEQ,    /* == */
	SEL_T_NE,     /* != */
	SEL_T_GT,     /* > */
	SEL_T_LT,     /* < */
};

/* One token of lookahead over the text, as labels' lexer. */
struct sel_lex {
	const char *s;
	size_t len;
	size_t pos;       /* first byte not yet scanned */
	enum sel_tok tok; /* the current token */
	size_t start;     /* its offset */
	size_t tlen;      /* its length */
};

static bool sel_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool sel_is_special(char c)
{
	return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

static void sel_lex_next(struct sel_lex *l)
{
	const char *s = l->s;

	while (l->pos < l->len && sel_is_space(s[l->pos]))
		l->pos++;
	l->start = l->pos;
	l->tlen = 1;
	if (l->pos >= l->len) {
		l->tok = SEL_T_END;
		l->tlen = 0;
		return;
	}
	switch (s[l->pos]) {
	case ',':
		l->tok = SEL_T_COMMA;
		break;
	case '(':
		l->tok = SEL_T_LPAREN;
		break;
	case ')':
		l->tok = SEL_T_RPAREN;
		break;
	case '>':
		l->tok = SEL_T_GT;
		break;
	case '<':
		l->tok = SEL_T_LT;
		break;
	case '=':
		l->tok = SEL_T_EQ;
		if (l->pos + 1 < l->len && s[l->pos + 1] == '=') {
			l->tok = SEL_T_DEQ;
			l->tlen = 2;
		}
		break;
	case '!':
		l->tok = SEL_T_NOT;
		if (l->pos + 1 < l->len && s[l->pos + 1] == '=') {
			l->tok = SEL_T_NE;
			l->tlen = 2;
		}
		break;
	default:
		l->tok = SEL_T_IDENT;
		while (l->pos + l->tlen < l->len && !sel_is_space(s[l->pos + l->tlen]) &&
		       !sel_is_special(s[l->pos + l->tlen]))
			l->tlen++;
		break;
	}
	l->pos += l->tlen;
}

static bool sel_tok_is(const struct sel_lex *l, const char *word)
{
	return l->tok == SEL_T_IDENT && l->tlen == strlen(word) &&
	       memcmp(l->s + l->start, word, l->tlen) == 0;
}

static int sel_unexpected(const struct sel_lex *l, const char *expected, struct llmo_error *err)
{
	char q[SEL_QUOTE_MAX];

	if (l->tok == SEL_T_END)
		return llmo_error_set(err, LLMO_EPARSE, "labelSelector: unexpected end of input at "
				      "%zu, expected %s", l->start, expected);
	return llmo_error_set(err, LLMO_EPARSE, "labelSelector: unexpected %s at %zu, expected %s",
			      llmo_str_quote(q, l->s + l->start, l->tlen, SEL_QUOTE_SHOW), l->start,
			      expected);
}

static int sel_push_value(struct llmo_selector_req *r, const struct sel_lex *l, bool empty)
{
	char *v = llmo_strndup(empty ? "" : l->s + l->start, empty ? 0 : l->tlen);
	int rc;

	if (!v)
		return LLMO_ENOMEM;
	rc = llmo_strv_push(&r->values, v);
	free(v);
	return rc;
}

/* key [op values], or !key, into r (which the caller releases). */
static int sel_parse_req(struct sel_lex *l, struct llmo_selector_req *r, struct llmo_error *err)
{
	char where[64];
	size_t key_at;
	bool negated = false;
	int rc = 0;

	if (l->tok == SEL_T_NOT) {
		negated = true;
		sel_lex_next(l);
	}
	if (l->tok != SEL_T_IDENT)
		return sel_unexpected(l, "a label key", err);
	key_at = l->start;
	r->key = llmo_strndup(l->s + l->start, l->tlen);
	if (!r->key)
		return llmo_error_set(err, LLMO_ENOMEM, "labelSelector: out of memory");
	snprintf(where, sizeof(where), "labelSelector: key at %zu", key_at);
	rc = sel_check_key(r->key, where, err);
	if (rc)
		return rc;
	sel_lex_next(l);
	if (negated) {
		r->op = LLMO_SELECTOR_NOT_EXISTS;
		return 0;
	}
	if (l->tok == SEL_T_END || l->tok == SEL_T_COMMA) {
		r->op = LLMO_SELECTOR_EXISTS;
		return 0;
	}
	if (l->tok == SEL_T_EQ || l->tok == SEL_T_DEQ)
		r->op = LLMO_SELECTOR_EQ;
	else if (l->tok == SEL_T_NE)
		r->op = LLMO_SELECTOR_NE;
	else if (l->tok == SEL_T_GT)
		r->op = LLMO_SELECTOR_GT;
	else if (l->tok == SEL_T_LT)
		r->op = LLMO_SELECTOR_LT;
	else if (sel_tok_is(l, "in"))
		r->op = LLMO_SELECTOR_IN;
	else if (sel_tok_is(l, "notin"))
		r->op = LLMO_SELECTOR_NOTIN;
	else
		return sel_unexpected(l, "an operator (=, ==, !=, in, notin, >, <), ',' or end of "
				      "input", err);
	sel_lex_next(l);

	if (r->op == LLMO_SELECTOR_IN || r->op == LLMO_SELECTOR_NOTIN) {
		if (l->tok != SEL_T_LPAREN)
			return sel_unexpected(l, "'('", err);
		sel_lex_next(l);
		/* Elements may be empty, as in Kubernetes: "()" is {""}, "(a,)" is {a, ""}. */
		for (;;) {
			if (l->tok == SEL_T_IDENT) {
				rc = sel_push_value(r, l, false);
				sel_lex_next(l);
			} else if (l->tok == SEL_T_COMMA || l->tok == SEL_T_RPAREN) {
				rc = sel_push_value(r, l, true);
			} else {
				return sel_unexpected(l, "a value, ',' or ')'", err);
			}
			if (rc)
				return llmo_error_set(err, rc, "labelSelector: out of memory");
			if (l->tok == SEL_T_RPAREN)
				break;
			if (l->tok != SEL_T_COMMA)
				return sel_unexpected(l, "',' or ')'", err);
			sel_lex_next(l);
		}
		sel_lex_next(l);
	} else if (l->tok == SEL_T_IDENT || l->tok == SEL_T_END || l->tok == SEL_T_COMMA) {
		bool empty = l->tok != SEL_T_IDENT;

		rc = sel_push_value(r, l, empty);
		if (rc)
			return llmo_error_set(err, rc, "labelSelector: out of memory");
		if (!empty)
			sel_lex_next(l);
	} else {
		return sel_unexpected(l, "a value", err);
	}
	snprintf(where, sizeof(where), "labelSelector: requirement at %zu", key_at);
	return sel_req_check(r, where, err);
}

static struct llmo_selector_req *sel_new_req(struct llmo_selector *s, struct llmo_error *err,
					     const char *what, int *rc)
{
	struct llmo_selector_req *r;

	if (s->reqs.len >= LLMO_SELECTOR_REQS_MAX) {
		*rc = llmo_error_set(err, LLMO_ETOOBIG, "%s: more than %d requirements", what,
				     LLMO_SELECTOR_REQS_MAX);
		return NULL;
	}
	r = llmo_vec_push(&s->reqs);
	if (!r)
		*rc = llmo_error_set(err, LLMO_ENOMEM, "%s: out of memory", what);
	return r;
}

int llmo_selector_parse(const char *text, struct llmo_selector **out, struct llmo_error *err)
{
	struct llmo_selector *s = NULL;
	struct sel_lex l = {0};
	int rc = 0;

	*out = NULL;
	if (!text)
		text = "";
	l.s = text;
	l.len = strlen(text);
	if (l.len > LLMO_SELECTOR_MAX) {
		rc = llmo_error_set(err, LLMO_ETOOBIG, "labelSelector: longer than %d bytes",
				    LLMO_SELECTOR_MAX);
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "labelSelector: out of memory");
		goto out;
	}
	sel_lex_next(&l);
	if (l.tok == SEL_T_END)
		goto out;
	for (;;) {
		struct llmo_selector_req *r;

		if (l.tok != SEL_T_IDENT && l.tok != SEL_T_NOT) {
			rc = sel_unexpected(&l, "a label key or '!'", err);
			goto out;
		}
		r = sel_new_req(s, err, "labelSelector", &rc);
		if (!r)
			goto out;
		rc = sel_parse_req(&l, r, err);
		if (rc)
			goto out;
		if (l.tok == SEL_T_END)
			break;
		if (l.tok != SEL_T_COMMA) {
			rc = sel_unexpected(&l, "',' or end of input", err);
			goto out;
		}
		sel_lex_next(&l);
	}
	sel_sort(s);
out:
	if (rc) {
		llmo_selector_free(s);
		s = NULL;
	}
	*out = s;
	return rc;
}

/* ---- the JSON form ------------------------------------------------------ */

static int sel_json_string(const json_t *v, const char *what, char **dst, struct llmo_error *err)
{
	if (!json_is_string(v))
		return llmo_error_set(err, LLMO_EINVAL, "%s: expected a string, found %s", what,
				      llmo_json_type_name(v));
	*dst = llmo_strndup(json_string_value(v), json_string_length(v));
	if (!*dst)
		return llmo_error_set(err, LLMO_ENOMEM, "%s: out of memory", what);
	if (strlen(*dst) != json_string_length(v))
		return llmo_error_set(err, LLMO_EINVAL, "%s: holds a NUL byte", what);
	return 0;
}

static int sel_json_match_labels(struct llmo_selector *s, const json_t *ml, struct llmo_error *err)
{
	const char *k;
	json_t *v;
	int rc = 0;

	if (!ml || json_is_null(ml))
		return 0;
	if (!json_is_object(ml))
		return llmo_error_set(err, LLMO_EINVAL, "matchLabels: expected an object, found %s",
				      llmo_json_type_name(ml));
	json_object_foreach((json_t *)ml, k, v) {
		struct llmo_selector_req *r;
		struct llmo_buf what;
		char *val = NULL;

		llmo_buf_init(&what, LLMO_ERRMSG_MAX);
		if (llmo_buf_puts(&what, "matchLabels") == LLMO_ENOMEM ||
		    llmo_path_push_key(&what, k) == LLMO_ENOMEM) {
			llmo_buf_release(&what);
			return llmo_error_set(err, LLMO_ENOMEM, "matchLabels: out of memory");
		}
		r = sel_new_req(s, err, "matchLabels", &rc);
		if (r) {
			r->op = LLMO_SELECTOR_EQ;
			r->key = llmo_strdup(k);
			rc = r->key ? sel_check_key(k, what.data, err)
				    : llmo_error_set(err, LLMO_ENOMEM, "matchLabels: out of memory");
		}
		if (!rc)
			rc = sel_json_string(v, what.data, &val, err);
		if (!rc && llmo_strv_push(&r->values, val) != 0)
			rc = llmo_error_set(err, LLMO_ENOMEM, "matchLabels: out of memory");
		free(val);
		if (!rc)
			rc = sel_req_check(r, what.data, err);
		llmo_buf_release(&what);
		if (rc)
			return rc;
	}
	return 0;
}

static const struct {
	const char *name;
	enum llmo_selector_op op;
} sel_json_ops[] = {
	{"In", LLMO_SELECTOR_IN},
	{"NotIn", LLMO_SELECTOR_NOTIN},
	{"Exists", LLMO_SELECTOR_EXISTS},
	{"DoesNotExist", LLMO_SELECTOR_NOT_EXISTS},
};

static int sel_json_expr(struct llmo_selector_req *r, const json_t *e, const char *what,
			 struct llmo_error *err)
{
	char sub[96], q[SEL_QUOTE_MAX];
	const json_t *op, *values;
	int rc;

	if (!json_is_object(e))
		return llmo_error_set(err, LLMO_EINVAL, "%s: expected an object, found %s", what,
				      llmo_json_type_name(e));
	snprintf(sub, sizeof(sub), "%s.key", what);
	rc = sel_json_string(json_object_get(e, "key"), sub, &r->key, err);
	if (!rc)
		rc = sel_check_key(r->key, sub, err);
	if (rc)
		return rc;
	op = json_object_get(e, "operator");
	snprintf(sub, sizeof(sub), "%s.operator", what);
	if (!json_is_string(op))
		return llmo_error_set(err, LLMO_EINVAL, "%s: expected a string, found %s", sub,
				      llmo_json_type_name(op));
	for (size_t i = 0; i < LLMO_ARRAY_LEN(sel_json_ops); i++)
		if (strcmp(json_string_value(op), sel_json_ops[i].name) == 0)
			r->op = sel_json_ops[i].op;
	if (!r->op)
		return llmo_error_set(err, LLMO_EINVAL, "%s: %s is not a valid label selector "
				      "operator (In, NotIn, Exists, DoesNotExist)", sub,
				      llmo_str_quote(q, json_string_value(op), json_string_length(op),
						     SEL_QUOTE_SHOW));
	values = json_object_get(e, "values");
	snprintf(sub, sizeof(sub), "%s.values", what);
	if (values && !json_is_null(values) && !json_is_array(values))
		return llmo_error_set(err, LLMO_EINVAL, "%s: expected an array, found %s", sub,
				      llmo_json_type_name(values));
	for (size_t i = 0; i < json_array_size(values); i++) {
		char item[120], *val = NULL;

		snprintf(item, sizeof(item), "%s[%zu]", sub, i);
		rc = sel_json_string(json_array_get(values, i), item, &val, err);
		if (!rc && llmo_strv_push(&r->values, val) != 0)
			rc = llmo_error_set(err, LLMO_ENOMEM, "%s: out of memory", item);
		free(val);
		if (rc)
			return rc;
	}
	snprintf(sub, sizeof(sub), "%s.values", what);
	return sel_req_check(r, sub, err);
}

int llmo_selector_from_json(const json_t *ls, struct llmo_selector **out, struct llmo_error *err)
{
	struct llmo_selector *s;
	const json_t *exprs;
	int rc = 0;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return llmo_error_set(err, LLMO_ENOMEM, "labelSelector: out of memory");
	if (!ls || json_is_null(ls)) {
		s->nothing = true;
		goto out;
	}
	if (!json_is_object(ls)) {
		rc = llmo_error_set(err, LLMO_EINVAL, "expected a label selector object, found %s",
				    llmo_json_type_name(ls));
		goto out;
	}
	rc = sel_json_match_labels(s, json_object_get(ls, "matchLabels"), err);
	if (rc)
		goto out;
	exprs = json_object_get(ls, "matchExpressions");
	if (exprs && !json_is_null(exprs) && !json_is_array(exprs)) {
		rc = llmo_error_set(err, LLMO_EINVAL, "matchExpressions: expected an array, found %s",
				    llmo_json_type_name(exprs));
		goto out;
	}
	for (size_t i = 0; i < json_array_size(exprs); i++) {
		struct llmo_selector_req *r;
		char what[48];

		snprintf(what, sizeof(what), "matchExpressions[%zu]", i);
		r = sel_new_req(s, err, "matchExpressions", &rc);
		if (!r)
			goto out;
		rc = sel_json_expr(r, json_array_get(exprs, i), what, err);
		if (rc)
			goto out;
	}
	sel_sort(s);
out:
	if (rc) {
		llmo_selector_free(s);
		s = NULL;
	}
	*out = s;
	return rc;
}

/* ---- matching and text -------------------------------------------------- */

static bool sel_has_value(const struct llmo_selector_req *r, const char *v)
{
	return bsearch(&v, r->values.items, r->values.len, sizeof(r->values.items[0]),
		       sel_cmp_str) != NULL;
}

static bool sel_req_matches(const struct llmo_selector_req *r, const json_t *labels)
{
	const json_t *lv = labels ? json_object_get(labels, r->key) : NULL;
	const char *v = json_is_string(lv) ? json_string_value(lv) : NULL;
	int64_t n;

	switch (r->op) {
	case LLMO_SELECTOR_EQ:
	case LLMO_SELECTOR_IN:
		return v && sel_has_value(r, v);
	case LLMO_SELECTOR_NE:
	case LLMO_SELECTOR_NOTIN:
		return !v || !sel_has_value(r, v);
	case LLMO_SELECTOR_EXISTS:
		return v != NULL;
	case LLMO_SELECTOR_NOT_EXISTS:
		return v == NULL;
	case LLMO_SELECTOR_GT:
	case LLMO_SELECTOR_LT:
		if (!v || llmo_parse_int64(v, &n, NULL) != 0)
			return false;
		return r->op == LLMO_SELECTOR_GT ? n > r->num : n < r->num;
	}
	return false;
}

bool llmo_selector_matches(const struct llmo_selector *s, const json_t *labels)
{
	if (!s)
		return true;
	if (s->nothing)
		return false;
	if (labels && !json_is_object(labels))
		labels = NULL;
	for (size_t i = 0; i < s->reqs.len; i++)
		if (!sel_req_matches(&s->reqs.items[i], labels))
			return false;
	return true;
}

bool llmo_selector_empty(const struct llmo_selector *s)
{
	return !s || (!s->nothing && s->reqs.len == 0);
}

int llmo_selector_to_string(const struct llmo_selector *s, struct llmo_buf *out)
{
	int rc = 0;

	if (!s || s->nothing)
		return 0;
	for (size_t i = 0; !rc && i < s->reqs.len; i++) {
		const struct llmo_selector_req *r = &s->reqs.items[i];
		bool set = r->op == LLMO_SELECTOR_IN || r->op == LLMO_SELECTOR_NOTIN;

		if (i > 0)
			rc = llmo_buf_putc(out, ',');
		if (!rc && r->op == LLMO_SELECTOR_NOT_EXISTS)
			rc = llmo_buf_putc(out, '!');
		if (!rc)
			rc = llmo_buf_puts(out, r->key);
		if (rc || r->op == LLMO_SELECTOR_EXISTS || r->op == LLMO_SELECTOR_NOT_EXISTS)
			continue;
		rc = llmo_buf_appendf(out, set ? " %s (" : "%s", sel_op_text(r->op));
		for (size_t j = 0; !rc && j < r->values.len; j++) {
			if (j > 0)
				rc = llmo_buf_putc(out, ',');
			if (!rc)
				rc = llmo_buf_puts(out, r->values.items[j]);
		}
		if (!rc && set)
			rc = llmo_buf_putc(out, ')');
	}
	return rc;
}

/* ---- field selectors ---------------------------------------------------- */

void llmo_field_selector_free(struct llmo_field_selector *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->reqs.len; i++) {
		free(s->reqs.items[i].field);
		free(s->reqs.items[i].value);
	}
	llmo_vec_release(&s->reqs);
	free(s);
}

static int fsel_cmp(const struct llmo_field_req *a, const struct llmo_field_req *b)
{
	int c = strcmp(a->field, b->field);

	if (c)
		return c;
	if (a->not_equal != b->not_equal)
		return a->not_equal ? 1 : -1;
	return strcmp(a->value, b->value);
}

static void fsel_sort(struct llmo_field_selector *s)
{
	for (size_t i = 1; i < s->reqs.len; i++) {
		struct llmo_field_req r = s->reqs.items[i];
		size_t j = i;

		while (j > 0 && fsel_cmp(&s->reqs.items[j - 1], &r) > 0) {
			s->reqs.items[j] = s->reqs.items[j - 1];
			j--;
		}
		s->reqs.items[j] = r;
	}
}

/*
 * The value text of a term, unescaped: "\\" "\," "\=" stand for the second
 * byte; any other backslash sequence and a bare '=' are errors, as in
 * fields.UnescapeValue (a bare ',' cannot occur: it ended the term).
 */
static int fsel_unescape(const char *text, size_t from, size_t to, char **out,
			 struct llmo_error *err)
{
	struct llmo_buf b;
	int rc = 0;

	llmo_buf_init(&b, LLMO_SELECTOR_MAX);
	for (size_t i = from; !rc && i < to; i++) {
		char c = text[i];

		if (c == '\\') {
			if (i + 1 >= to || (text[i + 1] != '\\' && text[i + 1] != ',' &&
					    text[i + 1] != '=')) {
				rc = llmo_error_set(err, LLMO_EPARSE, "fieldSelector: invalid escape "
						    "sequence at %zu (only \\\\, \\, and \\= are "
						    "allowed)", i);
				break;
			}
			c = text[++i];
		} else if (c == '=') {
			rc = llmo_error_set(err, LLMO_EPARSE, "fieldSelector: unescaped '=' at %zu "
					    "in a value (write \\=)", i);
			break;
		}
		if (llmo_buf_putc(&b, c) != 0)
			rc = llmo_error_set(err, LLMO_ENOMEM, "fieldSelector: out of memory");
	}
	if (!rc) {
		*out = llmo_buf_detach(&b, NULL);
		if (!*out)
			rc = llmo_error_set(err, LLMO_ENOMEM, "fieldSelector: out of memory");
	}
	llmo_buf_release(&b);
	return rc;
}

/* One term text[from, to): the first "!=", "==" or "=" splits field from value. */
static int fsel_term(struct llmo_field_selector *s, const char *text, size_t from, size_t to,
		     struct llmo_error *err)
{
	char q[SEL_QUOTE_MAX];
	struct llmo_field_req *r;
	size_t op = from, oplen = 0;
	int rc;

	for (; op < to; op++) {
		if (text[op] == '!' && op + 1 < to && text[op + 1] == '=')
			oplen = 2;
		else if (text[op] == '=')
			oplen = op + 1 < to && text[op + 1] == '=' ? 2 : 1;
		if (oplen)
			break;
	}
	if (!oplen)
		return llmo_error_set(err, LLMO_EPARSE, "fieldSelector: cannot understand %s at %zu, "
				      "expected field=value, field==value or field!=value",
				      llmo_str_quote(q, text + from, to - from, SEL_QUOTE_SHOW), from);
	if (op == from)
		return llmo_error_set(err, LLMO_EPARSE, "fieldSelector: missing field name before "
				      "%s at %zu", text[op] == '!' ? "!=" : "=", op);
	if (s->reqs.len >= LLMO_SELECTOR_REQS_MAX)
		return llmo_error_set(err, LLMO_ETOOBIG, "fieldSelector: more than %d requirements",
				      LLMO_SELECTOR_REQS_MAX);
	r = llmo_vec_push(&s->reqs);
	if (!r)
		return llmo_error_set(err, LLMO_ENOMEM, "fieldSelector: out of memory");
	r->not_equal = text[op] == '!';
	r->field = llmo_strndup(text + from, op - from);
	if (!r->field)
		return llmo_error_set(err, LLMO_ENOMEM, "fieldSelector: out of memory");
	rc = fsel_unescape(text, op + oplen, to, &r->value, err);
	if (rc)
		return rc;
	if (!r->value) /* keep the invariant that both strings are set */
		return llmo_error_set(err, LLMO_ENOMEM, "fieldSelector: out of memory");
	return 0;
}

int llmo_field_selector_parse(const char *text, struct llmo_field_selector **out,
			      struct llmo_error *err)
{
	struct llmo_field_selector *s = NULL;
	size_t len, start = 0;
	int rc = 0;

	*out = NULL;
	if (!text)
		text = "";
	len = strlen(text);
	if (len > LLMO_SELECTOR_MAX) {
		rc = llmo_error_set(err, LLMO_ETOOBIG, "fieldSelector: longer than %d bytes",
				    LLMO_SELECTOR_MAX);
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "fieldSelector: out of memory");
		goto out;
	}
	/* Terms end at a ',' that no backslash escapes; empty terms are skipped. */
	for (size_t i = 0; i <= len; i++) {
		if (i + 1 < len && text[i] == '\\') {
			i++;
			continue;
		}
		if (i < len && text[i] != ',')
			continue;
		if (i > start) {
			rc = fsel_term(s, text, start, i, err);
			if (rc)
				goto out;
		}
		start = i + 1;
	}
	fsel_sort(s);
out:
	if (rc) {
		llmo_field_selector_free(s);
		s = NULL;
	}
	*out = s;
	return rc;
}

/* The shortest %.*g form of d that reads back exactly; integers without exponent. */
static void fsel_format_real(double d, char *buf, size_t size)
{
	if (isfinite(d) && d == floor(d) && fabs(d) < 1e15) {
		snprintf(buf, size, "%.0f", d);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

/*
 * The string form of the value at the dotted path field in obj, into *v
 * (pointing at the object's own string or at num). false when the value is
 * an object or array, which no value equals.
 */
static bool fsel_value(const json_t *obj, const char *field, char *num, size_t numsize,
		       const char **v)
{
	const json_t *cur = obj;
	const char *p = field;

	while (cur) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		cur = json_is_object(cur) ? json_object_getn(cur, p, n) : NULL;
		if (!dot)
			break;
		p = dot + 1;
	}
	*v = num;
	num[0] = '\0';
	if (!cur)
		return true; /* missing: "" */
	switch (json_typeof(cur)) {
	case JSON_STRING:
		*v = json_string_value(cur);
		return true;
	case JSON_INTEGER:
		snprintf(num, numsize, "%" JSON_INTEGER_FORMAT, json_integer_value(cur));
		return true;
	case JSON_REAL:
		fsel_format_real(json_real_value(cur), num, numsize);
		return true;
	case JSON_TRUE:
	case JSON_FALSE:
		snprintf(num, numsize, "%s", json_is_true(cur) ? "true" : "false");
		return true;
	case JSON_OBJECT:
	case JSON_ARRAY:
		return false;
	case JSON_NULL:
		return true;
	}
	return true;
}

bool llmo_field_selector_matches(const struct llmo_field_selector *s, const json_t *object)
{
	if (!s)
		return true;
	for (size_t i = 0; i < s->reqs.len; i++) {
		const struct llmo_field_req *r = &s->reqs.items[i];
		char num[SEL_NUM_MAX];
		const char *v;
		bool eq;

		eq = fsel_value(object, r->field, num, sizeof(num), &v) && strcmp(v, r->value) == 0;
		if (eq == r->not_equal)
			return false;
	}
	return true;
}

bool llmo_field_selector_empty(const struct llmo_field_selector *s)
{
	return !s || s->reqs.len == 0;
}

int llmo_field_selector_check(const struct llmo_field_selector *s, const char *const *allowed,
			      struct llmo_error *err)
{
	char q[SEL_QUOTE_MAX];

	for (size_t i = 0; s && i < s->reqs.len; i++) {
		const char *f = s->reqs.items[i].field;
		bool ok = false;

		for (size_t j = 0; allowed && allowed[j] && !ok; j++)
			ok = strcmp(allowed[j], f) == 0;
		if (!ok)
			return llmo_error_set(err, LLMO_EINVAL, "fieldSelector: field label not "
					      "supported: %s",
					      llmo_str_quote(q, f, strlen(f), SEL_QUOTE_SHOW));
	}
	return 0;
}

const char *llmo_field_selector_value(const struct llmo_field_selector *s, const char *field)
{
	for (size_t i = 0; s && i < s->reqs.len; i++)
		if (!s->reqs.items[i].not_equal && strcmp(s->reqs.items[i].field, field) == 0)
			return s->reqs.items[i].value;
	return NULL;
}

int llmo_field_selector_to_string(const struct llmo_field_selector *s, struct llmo_buf *out)
{
	int rc = 0;

	for (size_t i = 0; s && !rc && i < s->reqs.len; i++) {
		const struct llmo_field_req *r = &s->reqs.items[i];

		if (i > 0)
			rc = llmo_buf_putc(out, ',');
		if (!rc)
			rc = llmo_buf_appendf(out, "%s%s", r->field, r->not_equal ? "!=" : "=");
		for (const char *p = r->value; !rc && *p; p++) {
			if (*p == '\\' || *p == ',' || *p == '=')
				rc = llmo_buf_putc(out, '\\');
			if (!rc)
				rc = llmo_buf_putc(out, *p);
		}
	}
	return rc;
}
