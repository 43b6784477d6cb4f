#include "base/common.h"

#include "base/duration.h"
#include "base/json.h"
#include "base/str.h"

/* A quoted input in a message: every byte may become "\xNN", plus quotes and "...". */
#define DUR_QUOTE_MAX LLMO_STR_QUOTE_SIZE(LLMO_DURATION_MAX_LEN)
/* Magnitude of INT64_MIN: the largest a negative duration may reach. */
#define DUR_MAG_MAX ((uint64_t)INT64_MAX + 1)

#define DUR_UNIT_HINT "(ns, us, ms, s, m, h)"

static const struct dur_unit {
	const char *name;
	uint64_t ns;
} dur_units[] = {
	{"ns", 1},
	{"us", LLMO_NS_PER_US},
	{"\xc2\xb5s", LLMO_NS_PER_US}, /* U+00B5 MICRO SIGN */
	{"\xce\xbcs", LLMO_NS_PER_US}, /* U+03BC GREEK SMALL LETTER MU */
	{"ms", LLMO_NS_PER_MS},
	{"s", LLMO_NS_PER_SEC},
	{"m", LLMO_NS_PER_MIN},
	{"h", LLMO_NS_PER_HOUR},
};


static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static const struct dur_unit *find_unit(const char *u, size_t len)
{
	for (size_t i = 0; i < LLMO_ARRAY_LEN(dur_units); i++) {
		if (strlen(dur_units[i].name) == len && memcmp(dur_units[i].name, u, len) == 0)
			return &dur_units[i];
	}
	return NULL;
}

/*
 * floor(0.<digits> * unit), exactly: the fraction's digits times unit by long
 * multiplication from the last digit; what carries out of the first digit is
 * the integer part. carry < unit throughout, so nothing overflows.
 */
static uint64_t frac_times(const char *digits, size_t n, uint64_t unit)
{
	uint64_t carry = 0;

	for (size_t i = n; i-- > 0;)
		carry = ((uint64_t)(digits[i] - '0') * unit + carry) / 10;
	return carry;
}

int llmo_duration_parse(const char *s, int64_t *ns, struct llmo_error *err)
{
	char q[DUR_QUOTE_MAX], qs[DUR_QUOTE_MAX];
	const struct dur_unit *unit;
	const char *p, *fp, *up;
	uint64_t total = 0, v;
	size_t nfrac;
	bool neg = false, pre, big;
	int rc = 0;

	if (!s || !ns) {
		rc = llmo_error_set(err, LLMO_EINVAL, "duration: NULL argument");
		goto out;
	}
	rc = llmo_str_check_short(s, LLMO_DURATION_MAX_LEN, "duration", q, err);
	if (rc)
		goto out;

	p = s;
	if (*p == '+' || *p == '-') {
		neg = *p == '-';
		p++;
	}
	if (strcmp(p, "0") == 0) {
		*ns = 0;
		goto out;
	}
	if (!*p || (!is_digit(*p) && *p != '.')) {
		rc = llmo_error_set(err, LLMO_EPARSE, "%s: expected a number", q);
		goto out;
	}
	/* A unit runs to the next digit or '.', so every term starts with one. */
	while (*p) {
		/* Whole part; `big` marks one past 2^63, out of range in any unit. */
		v = 0;
		big = false;
		for (pre = is_digit(*p); is_digit(*p); p++) {
			if (v > (DUR_MAG_MAX - (uint64_t)(*p - '0')) / 10)
				big = true;
			else
				v = v * 10 + (uint64_t)(*p - '0');
		}
		fp = p;
		nfrac = 0;
		if (*p == '.') {
			for (fp = ++p; is_digit(*p); p++)
				;
			nfrac = (size_t)(p - fp);
		}
		if (!pre && nfrac == 0) {
			rc = llmo_error_set(err, LLMO_EPARSE,
					    "%s: expected digits before or after \".\"", q);
			goto out;
		}
		for (up = p; *p && !is_digit(*p) && *p != '.'; p++)
			;
		if (up == p) {
			rc = llmo_error_set(err, LLMO_EPARSE, "%s: missing unit " DUR_UNIT_HINT, q);
			goto out;
		}
		unit = find_unit(up, (size_t)(p - up));
		if (!unit) {
			rc = llmo_error_set(err, LLMO_EPARSE, "%s: unknown unit %s " DUR_UNIT_HINT,
					    q, llmo_str_quote(qs, up, (size_t)(p - up), LLMO_DURATION_MAX_LEN));
			goto out;
		}
		if (big || v > DUR_MAG_MAX / unit->ns)
			goto range;
		v = v * unit->ns + frac_times(fp, nfrac, unit->ns);
		if (v > DUR_MAG_MAX || total > DUR_MAG_MAX - v)
			goto range;
		total += v;
	}
	if (!neg && total > (uint64_t)INT64_MAX)
		goto range;
	if (!neg)
		*ns = (int64_t)total;
	else if (total == DUR_MAG_MAX)
		*ns = INT64_MIN;
	else
		*ns = -(int64_t)total;
	goto out;
range:
	if (neg)
		rc = llmo_error_set(err, LLMO_ERANGE,
				    "%s: value too small (limit is -2562047h47m16.854775808s)", q);
	else
		rc = llmo_error_set(err, LLMO_ERANGE,
				    "%s: value too large (limit is 2562047h47m16.854775807s)", q);
out:
	return rc;
}


int llmo_duration_from_json(const json_t *v, int64_t *ns, struct llmo_error *err)
{
	const char *s;
	int rc;

	if (!v || !ns) {
		rc = llmo_error_set(err, LLMO_EINVAL,
				    "expected a duration string such as \"500ms\", got nothing");
		goto out;
	}
	if (!json_is_string(v)) {
		rc = llmo_error_set(err, LLMO_EINVAL,
				    "expected a duration string such as \"500ms\", got %s",
				    llmo_json_type_name(v));
		goto out;
	}
	s = json_string_value(v);
	if (strlen(s) != json_string_length(v)) {
		rc = llmo_error_set(err, LLMO_EPARSE, "duration contains a NUL character");
		goto out;
	}
	rc = llmo_duration_parse(s, ns, err);
out:
	return rc;
}

/*
 * Writes, right to left before *w, the low `prec` decimal digits of v as a
 * fraction (".5"), without trailing zeros and without the point when they
 * are all zero; returns v with those digits removed (Go's fmtFrac).
 */
static uint64_t fmt_frac(char *buf, size_t *w, uint64_t v, int prec)
{
	bool print = false;

	for (int i = 0; i < prec; i++) {
		char digit = (char)(v % 10);

		print = print || digit != 0;
		if (print)
			buf[--*w] = (char)('0' + digit);
		v /= 10;
	}
	if (print)
		buf[--*w] = '.';
	return v;
}

static void fmt_int(char *buf, size_t *w, uint64_t v)
{
	do {
		buf[--*w] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
}

int llmo_duration_format(int64_t ns, char *out, size_t n)
{
	/* The longest, "-2562047h47m16.854775808s", is 25 bytes. */
	char buf[LLMO_DURATION_FMT_MAX];
	size_t w = sizeof(buf);
	bool neg = ns < 0;
	uint64_t u = neg ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;

	if (!out || n == 0)
		return LLMO_ERANGE;
	if (u < (uint64_t)LLMO_NS_PER_SEC) {
		/* Under a second: the largest unit that leaves an integer part. */
		buf[--w] = 's';
		if (u == 0) {
			buf[--w] = '0';
		} else if (u < (uint64_t)LLMO_NS_PER_US) {
			buf[--w] = 'n';
			fmt_int(buf, &w, u);
		} else if (u < (uint64_t)LLMO_NS_PER_MS) {
			w -= 2;
			memcpy(buf + w, "\xc2\xb5", 2);
			fmt_int(buf, &w, fmt_frac(buf, &w, u, 3));
		} else {
			buf[--w] = 'm';
			fmt_int(buf, &w, fmt_frac(buf, &w, u, 6));
		}
	} else {
		buf[--w] = 's';
		u = fmt_frac(buf, &w, u, 9);
		fmt_int(buf, &w, u % 60);
		u /= 60;
		if (u > 0) {
			buf[--w] = 'm';
			fmt_int(buf, &w, u % 60);
			u /= 60;
			/* Hours are the largest unit: days differ in length. */
			if (u > 0) {
				buf[--w] = 'h';
				fmt_int(buf, &w, u);
			}
		}
	}
	if (neg)
		buf[--w] = '-';
	if (sizeof(buf) - w >= n) {
		out[0] = '\0';
		return LLMO_ERANGE;
	}
	memcpy(out, buf + w, sizeof(buf) - w);
	out[sizeof(buf) - w] = '\0';
	return 0;
}

int64_t llmo_duration_to_ms(int64_t ns)
{
	return ns / LLMO_NS_PER_MS;
}
