#ifndef LLMO_CLOCK_H
#define LLMO_CLOCK_H
/*
 * Clocks and RFC 3339 times.
 *
 * Use the monotonic clock for every interval, timeout and rate (it never
 * jumps); use the wall clock only for times shown to people or stored in
 * objects (creationTimestamp, log lines), always in UTC.
 */
#include "base/common.h"
#include "base/error.h"

/* CLOCK_MONOTONIC, in nanoseconds / milliseconds since an arbitrary origin. */
int64_t llmo_clock_mono_ns(void);
int64_t llmo_clock_mono_ms(void);
/* CLOCK_REALTIME in milliseconds since the Unix epoch. */
int64_t llmo_clock_wall_ms(void);

struct timeval;
/* ms (a negative one as 0) as the struct timeval libevent's timers take. */
struct timeval llmo_clock_timeval(int64_t ms);

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant). */
int64_t llmo_days_from_civil(int64_t y, int m, int d);
/* Days in month m (1..12) of year y. */
int llmo_days_in_month(int64_t y, int m);

/* Room for the longest llmo_time_format_rfc3339 output, NUL included. */
#define LLMO_RFC3339_MAX 32

/*
 * Writes wall_ms (Unix epoch milliseconds, may be negative) as UTC RFC 3339:
 * "2026-11-26T16:52:35Z", or "2026-11-26T16:52:35.123Z" with with_ms.
 * Returns 0; LLMO_EINVAL when out cannot hold the text (n < 21 or 25, see
 * LLMO_RFC3339_MAX); LLMO_ERANGE when the year is outside 0000..9999.
 * On error out holds "" (when n > 0).
 */
int llmo_time_format_rfc3339(int64_t wall_ms, bool with_ms, char *out, size_t n);

/*
 * Parses an RFC 3339 date-time, "YYYY-MM-DDThh:mm:ss[.frac](Z|+hh:mm|-hh:mm)",
 * into Unix epoch milliseconds (fractions beyond milliseconds are truncated
 * toward the past). 't' and 'z' are accepted lower case, as RFC 3339 allows;
 * a missing zone, a leap second (:60) and any other text are rejected with
 * LLMO_EPARSE and a message quoting the input and saying what is wrong.
 */
int llmo_time_parse_rfc3339(const char *s, int64_t *wall_ms, struct llmo_error *err);

#endif
