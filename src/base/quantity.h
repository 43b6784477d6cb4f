#ifndef LLMO_QUANTITY_H
#define LLMO_QUANTITY_H
/*
 * Kubernetes resource quantities ("8Gi", "500m", "1.5", "1e3"), with the
 * semantics of k8s.io/apimachinery resource.Quantity, held as an int64 count
 * of milli-units: "2" is 2000, "500m" is 500, "8Gi" is 8 * 2^30 * 1000.
 *
 * Syntax: an optional sign, decimal digits with an optional fraction ("1.5",
 * ".5", "5."; at least one digit), then at most one suffix:
 *   binary   Ki Mi Gi Ti Pi Ei            (powers of 1024)
 *   decimal  n u m "" k M G T P E          (powers of 1000; "E" alone is exa)
 *   exponent e or E with a signed integer  ("1e3", "1.5E-3", "2e+6")
 * No whitespace anywhere, no other suffix ("8Gb", "1K", "1ki" are errors).
 *
 * Arithmetic is exact (decimal digits, no floating point). A value finer
 * than a milli-unit ("100n", "0.0001") is rounded once, up toward +infinity,
 * as Kubernetes' MilliValue() does: "100n" is 1, "-0.0005" is 0.
 *
 * Negative values parse: whether one is allowed is the caller's decision
 * (resource requests reject them in validation, not here).
 *
 * The representable range is that of int64 milli-units:
 * -9223372036854775808m .. 9223372036854775807m, about +-8Pi or 9.2P; "9Ei"
 * is out of range (LLMO_ERANGE).
 */
#include <jansson.h>

#include "base/common.h"
#include "base/error.h"

/* Longest quantity string accepted; longer input is LLMO_ETOOBIG. */
#define LLMO_QUANTITY_MAX_LEN 64
/* Room for any llmo_quantity_format() output, NUL included. */
#define LLMO_QUANTITY_FMT_MAX 32

/*
 * Parses s into *milli. Returns 0, or: LLMO_EPARSE (malformed: empty,
 * whitespace, no digits, unknown suffix), LLMO_ERANGE (outside int64
 * milli-units), LLMO_ETOOBIG (longer than LLMO_QUANTITY_MAX_LEN),
 * LLMO_EINVAL (s or milli NULL). On error *milli is unchanged and err (may be
 * NULL) names the input: `"8Gb": unknown suffix "Gb"`.
 */
int llmo_quantity_parse(const char *s, int64_t *milli, struct llmo_error *err);

/* True when llmo_quantity_parse() would accept s. */
bool llmo_quantity_is_valid(const char *s);

/*
 * A quantity from a JSON value: a string (parsed as above), an integer (whole
 * units: 3 is "3"), or a real (converted through its shortest round-trip
 * decimal form, so 0.1 is exactly 100m). Any other type is LLMO_EINVAL
 * ("expected a quantity (string or number), got object"); other errors are as
 * for llmo_quantity_parse().
 */
int llmo_quantity_from_json(const json_t *v, int64_t *milli, struct llmo_error *err);

enum llmo_qformat {
	LLMO_QFORMAT_DECIMAL_SI, /* "500m", "2", "1500", "2k", "500M" */
	LLMO_QFORMAT_BINARY_SI,  /* "8Gi", "1536", "2Ki"; see below */
};

/*
 * Writes the canonical Kubernetes string for milli into out (n bytes, NUL
 * included): the shortest exact form with an integer mantissa.
 *
 * DECIMAL_SI: the largest power-of-1000 suffix that leaves an integer
 * mantissa: 2000 -> "2", 1500 -> "1500m", 2000000 -> "2k", 0 -> "0",
 * -500 -> "-500m".
 * BINARY_SI: whole values of at least 1024 units in magnitude take the
 * largest power-of-1024 suffix that leaves an integer: "8Gi", "1536" (not a
 * multiple of 1024), "2Ki". Smaller or fractional values fall back to
 * DECIMAL_SI, as Kubernetes does ("1k", "500m").
 *
 * llmo_quantity_parse() of the result gives milli back exactly. Returns 0,
 * LLMO_ERANGE when n is too small (LLMO_QUANTITY_FMT_MAX always suffices;
 * out is then "" when n > 0), or LLMO_EINVAL for an unknown fmt.
 */
int llmo_quantity_format(int64_t milli, enum llmo_qformat fmt, char *out, size_t n);

/* Whole units, rounded up toward +infinity: 1500 -> 2, -1500 -> -1. */
int64_t llmo_quantity_value_ceil(int64_t milli);

/* *out = a + b (milli-units); LLMO_ERANGE on int64 overflow (*out unchanged). */
int llmo_quantity_add(int64_t a, int64_t b, int64_t *out);

/* *out = milli * k (a count); LLMO_ERANGE on int64 overflow (*out unchanged). */
int llmo_quantity_mul(int64_t milli, int64_t k, int64_t *out);

#endif
