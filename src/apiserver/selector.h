#ifndef LLMO_APISERVER_SELECTOR_H
#define LLMO_APISERVER_SELECTOR_H
/*
 * Label and field selectors, as kube-apiserver reads them from the
 * `labelSelector` and `fieldSelector` query parameters of list and watch, and
 * from the `selector` objects inside resources (a Deployment's
 * spec.selector: matchLabels + matchExpressions).
 *
 * Label selector text (k8s.io/apimachinery/pkg/labels Parse):
 *
 *     a=b  a==b  a!=b  a in (x,y)  a notin (z)  a  !a  a>5  a<5
 *
 * joined by ','; spaces, tabs and newlines may surround any token. Keys must
 * be label keys ([DNS-subdomain prefix '/'] name) and values label values
 * (63 characters at most, alphanumerics, '-', '_', '.', starting and ending
 * with an alphanumeric, or empty); `a=` selects an empty value and
 * `a in (x,)` holds x and "". Matching follows Kubernetes: `=`, `in`, `>`
 * and `<` need the label, `!=` and `notin` also match objects without it,
 * `>`/`<` compare the label's value read as a base-10 integer (a value that
 * is not one does not match).
 *
 * Field selector text (k8s.io/apimachinery/pkg/fields ParseSelector):
 * `field=value`, `field==value`, `field!=value` joined by ','; in values
 * `\\`, `\,` and `\=` stand for '\', ',' and '='. A field is a dotted path
 * into the object (metadata.name, spec.nodeName, involvedObject.kind).
 *
 * Both texts are capped at LLMO_SELECTOR_MAX bytes and
 * LLMO_SELECTOR_REQS_MAX requirements (LLMO_ETOOBIG beyond). Syntax errors
 * are LLMO_EPARSE and bad keys, values or operators LLMO_EINVAL, with a
 * message that names the parameter and the byte offset
 * ("labelSelector: unexpected \"(\" at 5, expected ..."). All of them are a
 * 400 Bad Request for the server.
 */
#include "base/common.h"

#include <jansson.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/str.h"
#include "base/vec.h"

#define LLMO_SELECTOR_MAX 4096
#define LLMO_SELECTOR_REQS_MAX 256

enum llmo_selector_op {
	LLMO_SELECTOR_EQ = 1,     /* key=value, key==value: one value */
	LLMO_SELECTOR_NE,         /* key!=value: one value */
	LLMO_SELECTOR_IN,         /* key in (v1,v2): one or more values */
	LLMO_SELECTOR_NOTIN,      /* key notin (v1,v2): one or more values */
	LLMO_SELECTOR_EXISTS,     /* key: no values */
	LLMO_SELECTOR_NOT_EXISTS, /* !key: no values */
	LLMO_SELECTOR_GT,         /* key>n: one value, an integer (num) */
	LLMO_SELECTOR_LT,         /* key<n */
};

struct llmo_selector_req {
	char *key;
	enum llmo_selector_op op;
	struct llmo_strv values; /* sorted by byte value, no duplicates */
	int64_t num;             /* GT, LT: the value as an integer */
};

/*
 * A parsed label selector: every requirement must hold (AND). Invariant:
 * reqs is sorted by key (requirements with the same key keep their input
 * order). No requirements and nothing == false: matches every object.
 * nothing == true (only from llmo_selector_from_json(NULL or null)):
 * matches no object, as Kubernetes' labels.Nothing().
 */
struct llmo_selector {
	LLMO_VEC(struct llmo_selector_req) reqs;
	bool nothing;
};

/*
 * Parses the query-string form. text may be NULL or blank: the empty
 * selector. On success *out is a new selector (llmo_selector_free it); on
 * failure *out is NULL and err says what and where.
 */
int llmo_selector_parse(const char *text, struct llmo_selector **out, struct llmo_error *err);

/*
 * Reads a metav1.LabelSelector: {"matchLabels": {k: v}, "matchExpressions":
 * [{"key": k, "operator": "In"|"NotIn"|"Exists"|"DoesNotExist", "values": [..]}]}.
 * NULL or a JSON null gives the selector that matches nothing; {} (or both
 * members empty) the one that matches everything, as
 * metav1.LabelSelectorAsSelector does. Messages name the member
 * ("matchExpressions[1].values: ..."); the caller prefixes where the
 * selector sits ("spec.selector.").
 */
int llmo_selector_from_json(const json_t *label_selector, struct llmo_selector **out,
			    struct llmo_error *err);

/*
 * Whether labels (a JSON object of strings, or NULL for no labels) satisfy
 * s. Members whose value is not a string count as absent.
 */
bool llmo_selector_matches(const struct llmo_selector *s, const json_t *labels);

/* True when s has no requirements and so matches everything (NULL counts as empty). */
bool llmo_selector_empty(const struct llmo_selector *s);

/*
 * Appends the canonical text of s to out: requirements in key order, values
 * sorted, `==` written `=`, no spaces except around in/notin
 * ("app=web,tier in (back,front),!canary"). Parsing it gives the same
 * selector. The selector that matches nothing writes "" (as Kubernetes
 * does; the text cannot tell it from the empty selector).
 * Returns 0 or the llmo_buf error (out then holds part of the text).
 */
int llmo_selector_to_string(const struct llmo_selector *s, struct llmo_buf *out);

void llmo_selector_free(struct llmo_selector *s);

/* One field requirement: field (a dotted path) equals / differs from value. */
struct llmo_field_req {
	char *field;
	char *value; /* unescaped */
	bool not_equal;
};

/* Invariant: reqs sorted by field, then `=` before `!=`, then value. */
struct llmo_field_selector {
	LLMO_VEC(struct llmo_field_req) reqs;
};

/* As llmo_selector_parse, for the fieldSelector form. */
int llmo_field_selector_parse(const char *text, struct llmo_field_selector **out,
			      struct llmo_error *err);

/*
 * Whether object satisfies every requirement. The value at a field is read
 * as a string: a string as is, true/false, integers in decimal, other
 * numbers in the shortest form that reads back ("0.5", "2"); a missing
 * member or null is "". An object or array there equals no value.
 */
bool llmo_field_selector_matches(const struct llmo_field_selector *s, const json_t *object);

/* True when s has no requirements (NULL counts as empty). */
bool llmo_field_selector_empty(const struct llmo_field_selector *s);

/*
 * 0 when every field in s is one of allowed (a NULL-terminated list, e.g.
 * {"metadata.name", "metadata.namespace", "spec.nodeName", NULL}); otherwise
 * LLMO_EINVAL naming the first field that is not
 * ("fieldSelector: field label not supported: \"spec.foo\"").
 */
int llmo_field_selector_check(const struct llmo_field_selector *s, const char *const *allowed,
			      struct llmo_error *err);

/*
 * The value an equality requirement demands of field, or NULL when none
 * does (lets the store narrow a list by metadata.name or metadata.namespace
 * before matching). Borrowed: valid while s lives.
 */
const char *llmo_field_selector_value(const struct llmo_field_selector *s, const char *field);

/* Appends the canonical text: sorted terms, values escaped, `==` written `=`. */
int llmo_field_selector_to_string(const struct llmo_field_selector *s, struct llmo_buf *out);

void llmo_field_selector_free(struct llmo_field_selector *s);

#endif
