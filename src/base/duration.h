#ifndef LLMO_DURATION_H
#define LLMO_DURATION_H
/*
 * Durations in Go's time.ParseDuration syntax (what CRD fields of format
 * "duration" hold): "500ms", "10m", "1h30m", "1.5h", "300us", "-2m0s", held
 * as int64 nanoseconds.
 *
 * Syntax: an optional sign, then one or more <number><unit> terms, where a
 * number is decimal digits with an optional fraction ("1.5", ".5", "5.") and
 * a unit is one of ns, us, µs (U+00B5 or U+03BC), ms, s, m, h. The bare
 * string "0" (optionally signed) is zero. There are no days: days differ in
 * length, as in Go. No whitespace anywhere.
 *
 * Arithmetic is exact: each term's fraction is scaled by its unit in integer
 * arithmetic and truncated to whole nanoseconds (Go does the same in floating
 * point, which can differ in the last nanosecond). The range is that of
 * int64 nanoseconds, about +-292 years: -2562047h47m16.854775808s ..
 * 2562047h47m16.854775807s.
 */
#include <jansson.h>

#include "base/common.h"
#include "base/error.h"

#define LLMO_NS_PER_US INT64_C(1000)
#define LLMO_NS_PER_MS INT64_C(1000000)
#define LLMO_NS_PER_SEC INT64_C(1000000000)
#define LLMO_NS_PER_MIN (60 * LLMO_NS_PER_SEC)
#define LLMO_NS_PER_HOUR (60 * LLMO_NS_PER_MIN)

/* Longest duration string accepted; longer input is LLMO_ETOOBIG. */
#define LLMO_DURATION_MAX_LEN 64
/* Room for any llmo_duration_format() output, NUL included. */
#define LLMO_DURATION_FMT_MAX 32

/*
 * Parses s into *ns. Returns 0, or: LLMO_EPARSE (empty, whitespace, no
 * number, missing or unknown unit), LLMO_ERANGE (outside int64 nanoseconds),
 * LLMO_ETOOBIG (longer than LLMO_DURATION_MAX_LEN), LLMO_EINVAL (s or ns
 * NULL). On error *ns is unchanged and err (may be NULL) names the input:
 * `"1d": unknown unit "d"`, `"10": missing unit (ns, us, ms, s, m, h)`.
 */
int llmo_duration_parse(const char *s, int64_t *ns, struct llmo_error *err);

/*
 * A duration from a JSON value, which must be a string: a JSON number is
 * LLMO_EINVAL (`expected a duration string such as "500ms", got integer`),
 * since its unit would be a guess. Other errors are as for llmo_duration_parse().
 */
int llmo_duration_from_json(const json_t *v, int64_t *ns, struct llmo_error *err);

/*
 * Writes ns in Go's Duration.String() form into out (n bytes, NUL included):
 * "1h30m0s", "1.5s", "-2m0s", "0s"; under a second in the largest unit that
 * leaves an integer part: "500ms", "1.5µs" (U+00B5, as Go), "300ns".
 * llmo_duration_parse() of the result gives ns back exactly. Returns 0, or
 * LLMO_ERANGE when n is too small (LLMO_DURATION_FMT_MAX always suffices;
 * out is then "" when n > 0).
 */
int llmo_duration_format(int64_t ns, char *out, size_t n);

/* Whole milliseconds, truncated toward zero: 1999999ns -> 1, -1999999ns -> -1. */
int64_t llmo_duration_to_ms(int64_t ns);

#endif
