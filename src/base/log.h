#ifndef LLMO_LOG_H
#define LLMO_LOG_H
/*
 * Level-gated structured logging. Every log line in llmo goes through
 * llmo_log(); library code never writes to stdout/stderr itself.
 *
 * Text lines (the default):
 *
 *     2026-11-26T16:52:35.123Z info server listening addr=0.0.0.0 port=8080
 *
 * that is: RFC 3339 UTC time with milliseconds, level, component, message,
 * then the key=value text formatted from kvfmt. With llmo_log_set_json(true)
 * each line is instead one JSON object:
 *
 *     {"ts":"2026-11-26T16:52:35.123Z","level":"info","component":"server",
 *      "msg":"listening","addr":"0.0.0.0","port":"8080"}
 *
 * where the formatted key=value text is split into pairs (key=value or
 * key="quoted \" value", as llmo_log_quote writes them; a bare word becomes
 * a key with an empty value) and every value is a JSON string. A key that
 * would clash with ts, level, component or msg gets a leading '_'.
 *
 * Values with spaces, '=', '"' or control characters must be quoted by the
 * caller, with llmo_log_quote:
 *
 *     char q[LLMO_LOG_QUOTE_MAX];
 *     LLMO_WARN("gateway", "upstream failed", "model=%s error=%s", model,
 *               llmo_log_quote(q, sizeof(q), reason));
 *
 * Guarantees: one record is one line. Control characters in the component,
 * message or key=value text are escaped (\n, \t, \x01) in text mode and
 * JSON-escaped in JSON mode, where invalid UTF-8 becomes U+FFFD. A line is
 * at most LLMO_LOG_LINE_MAX bytes, newline included; a longer one is cut
 * and ends with the marker " truncated=true" (text) or "truncated":true
 * (JSON, still a valid object). Each line is formatted into its own buffer
 * and written with a single fwrite, so lines from concurrent threads do not
 * interleave.
 *
 * The settings (level, JSON mode, output) are process-wide and may be
 * changed at any time from any thread; set them at start-up.
 */
#include "base/common.h"

enum llmo_log_level {
	LLMO_LOG_DEBUG,
	LLMO_LOG_INFO,
	LLMO_LOG_WARN,
	LLMO_LOG_ERROR,
	LLMO_LOG_OFF, /* as a setting: log nothing; never a line's level */
};

/* Longest line, newline included. */
#define LLMO_LOG_LINE_MAX 8192
/* A good size for llmo_log_quote's buffer. */
#define LLMO_LOG_QUOTE_MAX 256

/* Lines below lvl are dropped. The default is LLMO_LOG_INFO. */
void llmo_log_set_level(enum llmo_log_level lvl);
enum llmo_log_level llmo_log_get_level(void);
/* Whether a line at lvl would be written now. */
bool llmo_log_enabled(enum llmo_log_level lvl);

/*
 * "debug", "info", "warn" (or "warning"), "error", "off", in any case.
 * Returns 0 or LLMO_EINVAL (*out untouched).
 */
int llmo_log_level_parse(const char *s, enum llmo_log_level *out);
/* "debug", "info", "warn", "error", "off" ("?" for anything else). */
const char *llmo_log_level_name(enum llmo_log_level lvl);

/* JSON lines instead of text lines. Off by default. */
void llmo_log_set_json(bool on);
/*
 * Where lines go; NULL restores the default, stderr. The stream is not
 * owned: the caller keeps it open while it is set, and closes it after
 * setting another.
 */
void llmo_log_set_output(FILE *f);

/*
 * A copy of every line written: fn(ctx, line, len) with the line's text
 * without its newline, called on the logging thread after the line is
 * written to the output (so fn must be thread-safe and must not log).
 * llmo server keeps its own log this way (for `kubectl logs`). NULL fn:
 * none. Set it before other threads log, and clear it after they stopped.
 */
typedef void (*llmo_log_tee_fn)(void *ctx, const char *line, size_t len);
void llmo_log_set_tee(llmo_log_tee_fn fn, void *ctx);

/*
 * Writes one line at lvl when lvl is enabled. component names the
 * subsystem ("scheduler"), msg says what happened; either may be NULL.
 * kvfmt is a printf format for the key=value part, or NULL for none.
 */
void llmo_log(enum llmo_log_level lvl, const char *component, const char *msg,
	      const char *kvfmt, ...) LLMO_PRINTF(4, 5);
void llmo_vlog(enum llmo_log_level lvl, const char *component, const char *msg,
	       const char *kvfmt, va_list ap) LLMO_PRINTF(4, 0);

/*
 * Returns s itself when it can stand as a value unquoted; otherwise writes
 * into buf (n bytes) s in double quotes with '"' and '\\' backslash-escaped
 * and control characters as \n, \r, \t or \xHH, and returns buf. The empty
 * string and NULL give "\"\"". When the quoted form does not fit in n bytes
 * it is cut and ends with ...", still a well-formed quoted value; when n is
 * under 6 a constant "\"...\"" is returned.
 */
const char *llmo_log_quote(char *buf, size_t n, const char *s);

/*
 * The usual way to log: the level is checked before the arguments are
 * evaluated or formatted. kvfmt must be given (NULL when there are no
 * key=value pairs), since C11 has no empty __VA_ARGS__:
 *
 *     LLMO_INFO("server", "listening", "addr=%s port=%d", addr, port);
 *     LLMO_DEBUG("scheduler", "cycle done", NULL);
 */
#define LLMO_LOG_AT(lvl, component, msg, ...)                               \
	do {                                                                \
		if (llmo_log_enabled(lvl))                                  \
			llmo_log((lvl), (component), (msg), __VA_ARGS__);   \
	} while (0)

#define LLMO_DEBUG(component, msg, ...) LLMO_LOG_AT(LLMO_LOG_DEBUG, component, msg, __VA_ARGS__)
#define LLMO_INFO(component, msg, ...) LLMO_LOG_AT(LLMO_LOG_INFO, component, msg, __VA_ARGS__)
#define LLMO_WARN(component, msg, ...) LLMO_LOG_AT(LLMO_LOG_WARN, component, msg, __VA_ARGS__)
#define LLMO_ERROR(component, msg, ...) LLMO_LOG_AT(LLMO_LOG_ERROR, component, msg, __VA_ARGS__)

#endif
