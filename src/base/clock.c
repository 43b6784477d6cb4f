#include "base/common.h"

#include <sys/time.h>
#include <time.h>

#include "base/clock.h"

/* How much of a rejected input an error message quotes. */
#define CLOCK_EXCERPT_MAX 64

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t llmo_clock_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

int64_t llmo_clock_mono_ms(void)
{
	return clock_ns(CLOCK_MONOTONIC) / 1000000;
}

struct timeval llmo_clock_timeval(int64_t ms)
{
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	return tv;
}

int64_t llmo_clock_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* v (0 <= v < 10^width) as exactly width decimal digits, zero-padded. */
static void put_digits(char *out, int v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		out[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

int llmo_time_format_rfc3339(int64_t wall_ms, bool with_ms, char *out, size_t n)
{
	int64_t secs = wall_ms / 1000;
	int ms = (int)(wall_ms % 1000);
	time_t t;
	struct tm tm;

	if (n > 0)
		out[0] = '\0';
	if (ms < 0) {
		ms += 1000;
		secs--;
	}
	t = (time_t)secs;
	if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
		return LLMO_ERANGE;
	if (n < (with_ms ? 25u : 21u))
		return LLMO_EINVAL;
	/* by hand: every write of the API server stamps a time or two, and
	 * snprintf with seven conversions cost more than the rest of this */
	put_digits(out, tm.tm_year + 1900, 4);
	out[4] = '-';
	put_digits(out + 5, tm.tm_mon + 1, 2);
	out[7] = '-';
	put_digits(out + 8, tm.tm_mday, 2);
	out[10] = 'T';
	put_digits(out + 11, tm.tm_hour, 2);
	out[13] = ':';
	put_digits(out + 14, tm.tm_min, 2);
	out[16] = ':';
	put_digits(out + 17, tm.tm_sec, 2);
	if (with_ms) {
		out[19] = '.';
		put_digits(out + 20, ms, 3);
		memcpy(out + 23, "Z", 2);
	} else {
		memcpy(out + 19, "Z", 2);
	}
	return 0;
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int llmo_days_in_month(int64_t y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

int64_t llmo_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Reads exactly `width` digits at *p; -1 when they are not all digits. */
static int read_digits(const char **p, int width)
{
	int v = 0;

	for (int i = 0; i < width; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += width;
	return v;
}

static int time_reject(struct llmo_error *err, const char *s, const char *why)
{
	return llmo_error_set(err, LLMO_EPARSE, "\"%.*s%s\": not an RFC 3339 time: %s",
			      CLOCK_EXCERPT_MAX, s, strlen(s) > CLOCK_EXCERPT_MAX ? "..." : "",
			      why);
}

int llmo_time_parse_rfc3339(const char *s, int64_t *wall_ms, struct llmo_error *err)
{
	static const char expect[] = "expected YYYY-MM-DDThh:mm:ss[.frac] followed by Z or +hh:mm";
	const char *p = s;
	int year, mon, day, hour, min, sec, ms = 0, offh = 0, offm = 0, sign = 0;
	int64_t secs;

	if (!s)
		return llmo_error_set(err, LLMO_EINVAL, "no time given");
	if ((year = read_digits(&p, 4)) < 0 || *p++ != '-' || (mon = read_digits(&p, 2)) < 0 ||
	    *p++ != '-' || (day = read_digits(&p, 2)) < 0)
		return time_reject(err, s, expect);
	if (*p != 'T' && *p != 't')
		return time_reject(err, s, expect);
	p++;
	if ((hour = read_digits(&p, 2)) < 0 || *p++ != ':' || (min = read_digits(&p, 2)) < 0 ||
	    *p++ != ':' || (sec = read_digits(&p, 2)) < 0)
		return time_reject(err, s, expect);
	if (*p == '.') {
		int ndig = 0;

		for (p++; *p >= '0' && *p <= '9'; p++, ndig++) {
			if (ndig < 3)
				ms = ms * 10 + (*p - '0');
		}
		if (ndig == 0)
			return time_reject(err, s, "no digits after the decimal point");
		for (; ndig < 3; ndig++)
			ms *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if ((offh = read_digits(&p, 2)) < 0 || *p++ != ':' ||
		    (offm = read_digits(&p, 2)) < 0)
			return time_reject(err, s, "malformed zone offset, expected +hh:mm or -hh:mm");
	} else {
		return time_reject(err, s, *p ? expect : "missing zone (Z or +hh:mm)");
	}
	if (*p)
		return time_reject(err, s, "trailing characters after the zone");
	if (mon < 1 || mon > 12)
		return time_reject(err, s, "month out of range");
	if (day < 1 || day > llmo_days_in_month(year, mon))
		return time_reject(err, s, "day out of range for the month");
	if (hour > 23)
		return time_reject(err, s, "hour out of range");
	if (min > 59)
		return time_reject(err, s, "minute out of range");
	if (sec > 59)
		return time_reject(err, s, "second out of range");
	if (offh > 23 || offm > 59)
		return time_reject(err, s, "zone offset out of range");

	secs = llmo_days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec;
	secs -= (int64_t)sign * (offh * 3600 + offm * 60);
	*wall_ms = secs * 1000 + ms;
	return 0;
}
