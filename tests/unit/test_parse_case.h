#ifndef LLMO_TEST_PARSE_CASE_H
#define LLMO_TEST_PARSE_CASE_H
/*
 * A table case of a parser of strings into int64_t (quantities, durations):
 * the value it gives, or the code and a piece of the message it fails with.
 * Include after cmocka.h.
 */
#include "base/common.h"
#include "base/error.h"

struct parse_case {
	const char *in;
	int rc;
	int64_t want;    /* when rc == 0 */
	const char *msg; /* substring of the message when rc != 0 */
};

typedef int (*parse_fn)(const char *s, int64_t *out, struct llmo_error *err);

/* Runs c through parse: the code, the value, and on error the message and an untouched output. */
static inline void check_parse_case(parse_fn parse, const struct parse_case *c)
{
	struct llmo_error err = {0};
	int64_t v = INT64_C(0x5a5a5a5a);
	int rc = parse(c->in, &v, &err);

	if (rc != c->rc)
		fail_msg("parse(\"%s\"): rc %s, want %s (%s)", c->in, llmo_errname(rc),
			 llmo_errname(c->rc), err.msg);
	if (rc == 0 && v != c->want)
		fail_msg("parse(\"%s\") = %" PRId64 ", want %" PRId64, c->in, v, c->want);
	if (rc != 0 && v != INT64_C(0x5a5a5a5a))
		fail_msg("parse(\"%s\") wrote its output on error", c->in);
	if (rc != 0 && (err.code != c->rc || !strstr(err.msg, c->msg)))
		fail_msg("parse(\"%s\"): message \"%s\" lacks \"%s\"", c->in, err.msg, c->msg);
}

#endif
