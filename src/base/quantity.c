#include "base/common.h"

#include <math.h>

#include "base/quantity.h"
#include "base/json.h"
#include "base/str.h"

/*
 * A parsed quantity is kept as decimal digits until the end, so that no
 * rounding happens before the single ceil to milli-units: the largest input
 * (LLMO_QUANTITY_MAX_LEN digits) times 1024^6 ("Ei", under 10^24) fits.
 */
#define QTY_DIGITS_MAX (LLMO_QUANTITY_MAX_LEN + 24)
/*
 * |exponent| at which "1e..." stops accumulating: with at most 64 digits any
 * larger exponent is out of range (or rounds to 0/1m) just the same, and the
 * cap keeps the int arithmetic below far from overflow.
 */
#define QTY_EXP_CAP 10000
/* A quoted input in a message: every byte may become "\xNN", plus quotes and "...". */
#define QTY_QUOTE_MAX LLMO_STR_QUOTE_SIZE(LLMO_QUANTITY_MAX_LEN)

#define QTY_SUFFIX_HINT "n u m k M G T P E Ki Mi Gi Ti Pi Ei, or an exponent such as e3"

struct qty_suffix {
	const char *name;
	int exp10; /* power of ten it multiplies by */
	int mul1024; /* power of 1024 it multiplies by */
};

static const struct qty_suffix qty_suffixes[] = {
	{"", 0, 0},    {"n", -9, 0},  {"u", -6, 0},  {"m", -3, 0},  {"k", 3, 0},
	{"M", 6, 0},   {"G", 9, 0},   {"T", 12, 0},  {"P", 15, 0},  {"E", 18, 0},
	{"Ki", 0, 1},  {"Mi", 0, 2},  {"Gi", 0, 3},  {"Ti", 0, 4},  {"Pi", 0, 5},
	{"Ei", 0, 6},
};

/* Decimal suffixes by power of 1000, starting at milli. */
static const char *const qty_dec_suffix[] = {"m", "", "k", "M", "G", "T", "P", "E"};
/* Binary suffixes by power of 1024. */
static const char *const qty_bin_suffix[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};

/* Little-endian decimal digits; value = digits * 10^exp10 (milli-units). */
struct qty_num {
	uint8_t d[QTY_DIGITS_MAX];
	int n;
	int exp10;
};


static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* "[+-]?[0-9]+" to the end of p, into *exp10 (saturated at +-QTY_EXP_CAP). */
static bool parse_exponent(const char *p, int *exp10)
{
	bool neg = false;
	int v = 0;

	if (*p == '+' || *p == '-') {
		neg = *p == '-';
		p++;
	}
	if (!*p)
		return false;
	for (; *p; p++) {
		if (!is_digit(*p))
			return false;
		if (v < QTY_EXP_CAP)
			v = v * 10 + (*p - '0');
	}
	if (v > QTY_EXP_CAP)
		v = QTY_EXP_CAP;
	*exp10 = neg ? -v : v;
	return true;
}

static void qty_mul1024(struct qty_num *num)
{
	unsigned carry = 0;

	for (int i = 0; i < num->n; i++) {
		unsigned t = num->d[i] * 1024u + carry;

		num->d[i] = (uint8_t)(t % 10);
		carry = t / 10;
	}
	while (carry) {
		num->d[num->n++] = (uint8_t)(carry % 10);
		carry /= 10;
	}
}

/*
 * num as int64 milli-units, rounded up toward +infinity; LLMO_ERANGE when it
 * does not fit. Digits below 10^0 only decide the rounding.
 */
static int qty_to_milli(const struct qty_num *num, bool neg, int64_t *out)
{
	uint64_t mag = 0, limit;
	bool frac = false;
	int k;

	if (num->n == 0) {
		*out = 0;
		return 0;
	}
	/* The leading digit is not 0: n + exp10 integer digits, 10^19 > 2^63. */
	if (num->n + num->exp10 > 19)
		return LLMO_ERANGE;
	k = num->exp10 < 0 ? -num->exp10 : 0;
	for (int i = num->n - 1; i >= 0; i--) {
		if (i < k)
			frac = frac || num->d[i] != 0;
		else
			mag = mag * 10 + num->d[i];
	}
	for (int i = 0; i < num->exp10; i++) {
		if (__builtin_mul_overflow(mag, 10, &mag))
			return LLMO_ERANGE;
	}
	/* Toward +infinity: a positive value goes up, a negative one toward 0. */
	if (frac && !neg && __builtin_add_overflow(mag, 1, &mag))
		return LLMO_ERANGE;
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	if (mag > limit)
		return LLMO_ERANGE;
	if (!neg)
		*out = (int64_t)mag;
	else if (mag == (uint64_t)INT64_MAX + 1)
		*out = INT64_MIN;
	else
		*out = -(int64_t)mag;
	return 0;
}

static const struct qty_suffix *find_suffix(const char *s)
{
	for (size_t i = 0; i < LLMO_ARRAY_LEN(qty_suffixes); i++) {
		if (strcmp(s, qty_suffixes[i].name) == 0)
			return &qty_suffixes[i];
	}
	return NULL;
}

int llmo_quantity_parse(const char *s, int64_t *milli, struct llmo_error *err)
{
	char q[QTY_QUOTE_MAX], qs[QTY_QUOTE_MAX];
	const struct qty_suffix *suf;
	const char *p, *ip, *fp = "";
	struct qty_num num;
	uint8_t big[LLMO_QUANTITY_MAX_LEN];
	size_t nint, nfrac = 0;
	int exp10 = 0, mul1024 = 0, rc = 0, n = 0;
	bool neg = false;
	int64_t v;

	if (!s || !milli) {
		rc = llmo_error_set(err, LLMO_EINVAL, "quantity: NULL argument");
		goto out;
	}
	rc = llmo_str_check_short(s, LLMO_QUANTITY_MAX_LEN, "quantity", q, err);
	if (rc)
		goto out;

	p = s;
	if (*p == '+' || *p == '-') {
		neg = *p == '-';
		p++;
	}
	for (ip = p; is_digit(*p); p++)
		;
	nint = (size_t)(p - ip);
	if (*p == '.') {
		for (fp = ++p; is_digit(*p); p++)
			;
		nfrac = (size_t)(p - fp);
	}
	if (nint + nfrac == 0) {
		rc = llmo_error_set(err, LLMO_EPARSE, "%s: expected a number", q);
		goto out;
	}

	suf = find_suffix(p);
	if (suf) {
		exp10 = suf->exp10;
		mul1024 = suf->mul1024;
	} else if (*p == '.') {
		rc = llmo_error_set(err, LLMO_EPARSE, "%s: more than one decimal point", q);
		goto out;
	} else if ((*p == 'e' || *p == 'E') && (is_digit(p[1]) || p[1] == '+' || p[1] == '-')) {
		if (!parse_exponent(p + 1, &exp10)) {
			rc = llmo_error_set(err, LLMO_EPARSE, "%s: malformed exponent %s", q,
					    llmo_str_quote(qs, p, strlen(p), LLMO_QUANTITY_MAX_LEN));
			goto out;
		}
	} else {
		/* Includes "e" alone: unlike "E" (exa) it is not a suffix. */
		rc = llmo_error_set(err, LLMO_EPARSE,
				    "%s: unknown suffix %s (expected " QTY_SUFFIX_HINT ")", q,
				    llmo_str_quote(qs, p, strlen(p), LLMO_QUANTITY_MAX_LEN));
		goto out;
	}

	/* Significant digits, most significant first: value = big * 10^exp10. */
	for (size_t i = 0; i < nint + nfrac; i++) {
		char c = i < nint ? ip[i] : fp[i - nint];

		if (n > 0 || c != '0')
			big[n++] = (uint8_t)(c - '0');
	}
	exp10 += 3 - (int)nfrac;
	while (n > 0 && big[n - 1] == 0) {
		n--;
		exp10++;
	}
	num.n = n;
	num.exp10 = exp10;
	for (int i = 0; i < n; i++)
		num.d[i] = big[n - 1 - i];
	for (int i = 0; i < mul1024 && num.n > 0; i++)
		qty_mul1024(&num);

	rc = qty_to_milli(&num, neg, &v);
	if (rc) {
		if (neg)
			llmo_error_set(err, rc, "%s: value too small (limit is %" PRId64 "m)", q,
				       INT64_MIN);
		else
			llmo_error_set(err, rc, "%s: value too large (limit is %" PRId64 "m)", q,
				       INT64_MAX);
		goto out;
	}
	*milli = v;
out:
	return rc;
}

bool llmo_quantity_is_valid(const char *s)
{
	int64_t v;

	return llmo_quantity_parse(s, &v, NULL) == 0;
}


/* The shortest "%g" form of d that reads back as d (at most 17 digits). */
static void shortest_real(double d, char *buf, size_t n)
{
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, n, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

int llmo_quantity_from_json(const json_t *v, int64_t *milli, struct llmo_error *err)
{
	char buf[40];
	const char *s;
	json_int_t units;
	int64_t m;
	double d;
	int rc = 0;

	if (!v || !milli) {
		rc = llmo_error_set(err, LLMO_EINVAL,
				    "expected a quantity (string or number), got nothing");
		goto out;
	}
	switch (json_typeof(v)) {
	case JSON_STRING:
		s = json_string_value(v);
		if (strlen(s) != json_string_length(v)) {
			rc = llmo_error_set(err, LLMO_EPARSE, "quantity contains a NUL character");
			goto out;
		}
		rc = llmo_quantity_parse(s, milli, err);
		goto out;
	case JSON_INTEGER:
		units = json_integer_value(v);
		if (__builtin_mul_overflow(units, 1000, &m)) {
			rc = llmo_error_set(err, LLMO_ERANGE,
					    "%" JSON_INTEGER_FORMAT ": value too %s"
					    " (limit is %" PRId64 "m)",
					    units, units < 0 ? "small" : "large",
					    units < 0 ? INT64_MIN : INT64_MAX);
			goto out;
		}
		*milli = m;
		goto out;
	case JSON_REAL:
		d = json_real_value(v);
		if (!isfinite(d)) {
			rc = llmo_error_set(err, LLMO_EINVAL, "quantity is not a finite number");
			goto out;
		}
		shortest_real(d, buf, sizeof(buf));
		rc = llmo_quantity_parse(buf, milli, err);
		goto out;
	default:
		rc = llmo_error_set(err, LLMO_EINVAL,
				    "expected a quantity (string or number), got %s",
				    llmo_json_type_name(v));
		goto out;
	}
out:
	return rc;
}

int llmo_quantity_format(int64_t milli, enum llmo_qformat fmt, char *out, size_t n)
{
	const char *suffix;
	uint64_t mag, mant;
	bool neg = milli < 0;
	int r, t = 0;

	if (fmt != LLMO_QFORMAT_DECIMAL_SI && fmt != LLMO_QFORMAT_BINARY_SI)
		return LLMO_EINVAL;
	if (!out || n == 0)
		return LLMO_ERANGE;
	mag = neg ? (uint64_t)0 - (uint64_t)milli : (uint64_t)milli;

	if (fmt == LLMO_QFORMAT_BINARY_SI && mag % 1000 == 0 && mag / 1000 >= 1024) {
		/* Whole units, at least 1Ki: Kubernetes keeps binary form. */
		mant = mag / 1000;
		while (mant % 1024 == 0 && t < (int)LLMO_ARRAY_LEN(qty_bin_suffix) - 1) {
			mant /= 1024;
			t++;
		}
		suffix = qty_bin_suffix[t];
	} else if (mag == 0) {
		mant = 0;
		suffix = "";
	} else {
		/* Strip factors of 1000, starting from milli; 2^63 < 10^19 bounds t. */
		mant = mag;
		while (mant % 1000 == 0 && t < (int)LLMO_ARRAY_LEN(qty_dec_suffix) - 1) {
			mant /= 1000;
			t++;
		}
		suffix = qty_dec_suffix[t];
	}
	r = snprintf(out, n, "%s%" PRIu64 "%s", neg ? "-" : "", mant, suffix);
	if (r < 0 || (size_t)r >= n) {
		out[0] = '\0';
		return LLMO_ERANGE;
	}
	return 0;
}

int64_t llmo_quantity_value_ceil(int64_t milli)
{
	int64_t q = milli / 1000;

	/* C division truncates toward 0, which is already up for negatives. */
	if (milli % 1000 > 0)
		q++;
	return q;
}

int llmo_quantity_add(int64_t a, int64_t b, int64_t *out)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return LLMO_ERANGE;
	*out = r;
	return 0;
}

int llmo_quantity_mul(int64_t milli, int64_t k, int64_t *out)
{
	int64_t r;

	if (__builtin_mul_overflow(milli, k, &r))
		return LLMO_ERANGE;
	*out = r;
	return 0;
}
