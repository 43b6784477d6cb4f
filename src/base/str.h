#ifndef LLMO_STR_H
#define LLMO_STR_H
/*
 * Small string helpers: copies, strict number and boolean parsing, prefix
 * tests, splitting.
 *
 * The parsers are strict: the whole string must be the value, with no
 * surrounding spaces, and on failure they return a negative LLMO_E* code,
 * leave *out untouched and write a message quoting the input (the first 64
 * bytes of it) into err (which may be NULL).
 */
#include "base/common.h"
#include "base/error.h"

/* Heap copies (free() them); NULL when s is NULL or out of memory. */
char *llmo_strdup(const char *s);

/* The 64-bit FNV-1a hash of the string s (not for secrets: names and contents that change). */
uint64_t llmo_fnv1a(const char *s);
/* Copies at most n bytes of s, stopping early at a NUL; always NUL-terminated. */
char *llmo_strndup(const char *s, size_t n);

/*
 * Base-10 integer, optional leading '+' or '-', digits only.
 * LLMO_EPARSE for anything else (including ""), LLMO_ERANGE when it does not
 * fit in int64_t.
 */
int llmo_parse_int64(const char *s, int64_t *out, struct llmo_error *err);

/*
 * As llmo_parse_int64, then LLMO_ERANGE unless min <= value <= max
 * (a port: llmo_parse_int_range(s, 1, 65535, &v, err)).
 */
int llmo_parse_int_range(const char *s, int64_t min, int64_t max, int64_t *out,
			 struct llmo_error *err);

/*
 * Decimal floating point: [+-] digits [. digits] [e [+-] digits], at least
 * one digit before the exponent ("1.", ".5", "2e3" are fine). No hex, no
 * inf/nan (LLMO_EPARSE); a value too large for a double is LLMO_ERANGE; one
 * too small rounds toward zero. Uses strtod, so it assumes the C locale's
 * decimal point (llmo never calls setlocale).
 */
int llmo_parse_double(const char *s, double *out, struct llmo_error *err);

/* true/false, yes/no, on/off, 1/0, in any case; LLMO_EPARSE otherwise. */
int llmo_parse_bool(const char *s, bool *out, struct llmo_error *err);

/* The value of hex digit c (0-9, a-f, A-F), or -1. */
int llmo_hex_digit(char c);

bool llmo_str_has_prefix(const char *s, const char *prefix);
/*
 * Whether HOST (a numeric IPv4 or IPv6 address, or "localhost") is a
 * loopback address (127.0.0.0/8, ::1): the only kind plain HTTP may listen
 * on (--insecure-http; llmo server's gateway without a certificate), and
 * the peers the registry sends blobs to without sendfile().
 */
bool llmo_host_loopback(const char *host);
bool llmo_str_has_suffix(const char *s, const char *suffix);

/*
 * struct llmo_strv: an owned list of heap strings. It has LLMO_VEC's shape
 * (items, len, cap), but add strings with llmo_strv_push or llmo_str_split
 * only: they keep items[len] == NULL whenever items is not NULL, so items
 * can be passed as an argv. llmo_strv_release frees the strings and the
 * array.
 */
struct llmo_strv {
	char **items;
	size_t len;
	size_t cap;
};

#define LLMO_STRV_INIT {NULL, 0, 0}

/* Appends a copy of s. 0 or LLMO_ENOMEM (v unchanged). */
int llmo_strv_push(struct llmo_strv *v, const char *s);
/* Frees every string and the array; v is left empty (LLMO_STRV_INIT). */
void llmo_strv_release(struct llmo_strv *v);

/*
 * Appends the pieces of s between occurrences of sep to out (which the
 * caller has initialised; it may already hold strings). n separators give
 * n + 1 pieces, empty ones included: "a,,b" gives "a", "", "b" and "" gives
 * one empty piece. Returns 0, or LLMO_ENOMEM with out as it was on entry.
 */
int llmo_str_split(const char *s, char sep, struct llmo_strv *out);

/*
 * Writes s (len bytes) into dst as a double-quoted string for messages:
 * '"' and '\\' escaped, bytes that are not printable ASCII as \xNN, and input
 * past `show` bytes cut with "...". dst needs LLMO_STR_QUOTE_SIZE(show)
 * bytes. Returns dst.
 */
#define LLMO_STR_QUOTE_SIZE(show) (4 * (show) + 8)
const char *llmo_str_quote(char *dst, const char *s, size_t len, size_t show);

/*
 * The first checks of a parser of short unit-suffixed values (quantities,
 * durations): s holds 1 to max characters and no whitespace. q (LLMO_STR_QUOTE_SIZE(max) bytes) gets s quoted for messages,
 * whatever the outcome; what names the kind of value in them ("duration").
 * 0, or LLMO_EPARSE or LLMO_ETOOBIG with err set.
 */
int llmo_str_check_short(const char *s, size_t max, const char *what, char *q,
			 struct llmo_error *err);

/*
 * Length of the valid UTF-8 sequence at s (n >= 1 bytes left): 1 for ASCII,
 * 2 to 4, or 0 when the bytes are not UTF-8 (overlong forms, surrogates and
 * code points past U+10FFFF included).
 */
size_t llmo_utf8_seq_len(const unsigned char *s, size_t n);

/* The value of 4 hex digits at p (which has at least 4 bytes), or -1. */
int llmo_hex4(const char *p);
/* cp (at most U+10FFFF) as UTF-8 into out; returns the byte count, 1 to 4. */
size_t llmo_utf8_encode(uint32_t cp, char out[4]);
/*
 * The byte a one-character JSON escape stands for (c is what follows the
 * backslash: '"', '\\', '/', 'b', 'f', 'n', 'r', 't'), or -1 for any other
 * (including 'u', which the caller decodes with llmo_hex4).
 */
int llmo_json_escape_byte(char c);

#endif
