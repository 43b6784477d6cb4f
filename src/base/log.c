#include "base/common.h"

#include <stdatomic.h>
#include <strings.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "base/str.h"

/*
 * Room kept past a line's content budget for what closes it: a JSON value's
 * closing quote, the truncation marker, "}" and the newline.
 */
#define LOG_RESERVE 32
#define LOG_TRUNC_TEXT " truncated=true"
#define LOG_TRUNC_JSON ",\"truncated\":true"

static _Atomic int log_level = LLMO_LOG_INFO;
static atomic_bool log_json;
static _Atomic(FILE *) log_out; /* NULL: stderr */
static _Atomic(llmo_log_tee_fn) log_tee;
static void *_Atomic log_tee_ctx;

static const char *const log_names[] = {"debug", "info", "warn", "error", "off"};

void llmo_log_set_level(enum llmo_log_level lvl)
{
	atomic_store_explicit(&log_level, (int)lvl, memory_order_relaxed);
}

enum llmo_log_level llmo_log_get_level(void)
{
	return (enum llmo_log_level)atomic_load_explicit(&log_level, memory_order_relaxed);
}

bool llmo_log_enabled(enum llmo_log_level lvl)
{
	return lvl < LLMO_LOG_OFF && (int)lvl >= atomic_load_explicit(&log_level,
								       memory_order_relaxed);
}

int llmo_log_level_parse(const char *s, enum llmo_log_level *out)
{
	if (!s)
		return LLMO_EINVAL;
	for (size_t i = 0; i < LLMO_ARRAY_LEN(log_names); i++) {
		if (strcasecmp(s, log_names[i]) == 0) {
			*out = (enum llmo_log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = LLMO_LOG_WARN;
		return 0;
	}
	return LLMO_EINVAL;
}

const char *llmo_log_level_name(enum llmo_log_level lvl)
{
	if ((unsigned)lvl >= LLMO_ARRAY_LEN(log_names))
		return "?";
	return log_names[lvl];
}

void llmo_log_set_json(bool on)
{
	atomic_store_explicit(&log_json, on, memory_order_relaxed);
}

void llmo_log_set_output(FILE *f)
{
	atomic_store(&log_out, f);
}

void llmo_log_set_tee(llmo_log_tee_fn fn, void *ctx)
{
	atomic_store(&log_tee, NULL);
	atomic_store(&log_tee_ctx, ctx);
	atomic_store(&log_tee, fn);
}

/* Whether s must be quoted to stand as one value in a key=value list. */
static bool needs_quote(const char *s)
{
	if (!*s)
		return true;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c == '"' || c == '=' || c == 0x7f)
			return true;
	}
	return false;
}

/* Writes the escape for c into e (at least 5 bytes); returns its length. */
static size_t quote_escape(unsigned char c, char *e)
{
	switch (c) {
	case '"':
	case '\\':
		e[0] = '\\';
		e[1] = (char)c;
		return 2;
	case '\n':
		memcpy(e, "\\n", 2);
		return 2;
	case '\r':
		memcpy(e, "\\r", 2);
		return 2;
	case '\t':
		memcpy(e, "\\t", 2);
		return 2;
	}
	if (c < 0x20 || c == 0x7f) {
		snprintf(e, 5, "\\x%02x", c);
		return 4;
	}
	e[0] = (char)c;
	return 1;
}

const char *llmo_log_quote(char *buf, size_t n, const char *s)
{
	size_t need = 2, len = 0, budget;
	char e[5];
	const char *p;

	if (!s)
		s = "";
	if (!needs_quote(s))
		return s;
	if (n < 6)
		return "\"...\"";
	for (p = s; *p; p++)
		need += quote_escape((unsigned char)*p, e);
	/* Everything fits, or else leave room for `..."` and the NUL. */
	budget = need + 1 <= n ? n - 2 : n - 5;
	buf[len++] = '"';
	for (p = s; *p; p++) {
		size_t k = quote_escape((unsigned char)*p, e);

		if (len + k > budget)
			break;
		memcpy(buf + len, e, k);
		len += k;
	}
	if (*p) {
		memcpy(buf + len, "...", 3);
		len += 3;
	}
	buf[len++] = '"';
	buf[len] = '\0';
	return buf;
}

struct log_line {
	struct llmo_buf b; /* grown to its max up front, so appends cannot fail */
	size_t limit;      /* content budget: the rest is LOG_RESERVE */
	bool truncated;
};

/* Appends one unit (a character or an escape) unless it would pass the limit. */
static void line_unit(struct log_line *l, const char *p, size_t n)
{
	if (l->truncated)
		return;
	if (l->b.len + n > l->limit) {
		l->truncated = true;
		return;
	}
	llmo_buf_append(&l->b, p, n);
}

/* Appends closing text that LOG_RESERVE guarantees room for. */
static void line_force(struct log_line *l, const char *s)
{
	llmo_buf_puts(&l->b, s);
}

/*
 * Text mode: the n bytes at s with control characters escaped. With
 * in_quote, tracks whether the text ends inside a "quoted value", so a cut
 * line can close it.
 */
static void text_put(struct log_line *l, const char *s, size_t n, bool *in_quote)
{
	char e[5];

	for (size_t i = 0; i < n && !l->truncated; i++) {
		unsigned char c = (unsigned char)s[i];
		size_t k;

		if (in_quote && c == '"')
			*in_quote = !*in_quote;
		if (in_quote && *in_quote && c == '\\' && i + 1 < n) {
			/* An escape inside quotes: copy both bytes as one unit. */
			char pair[2] = {s[i], s[i + 1]};

			if ((unsigned char)s[i + 1] >= 0x20 && s[i + 1] != 0x7f) {
				line_unit(l, pair, 2);
				i++;
				continue;
			}
		}
		if (c >= 0x20 && c != 0x7f) {
			e[0] = (char)c;
			k = 1;
		} else {
			k = quote_escape(c, e);
		}
		line_unit(l, e, k);
	}
}

/* JSON mode: the n bytes at s as the inside of a JSON string. */
static void json_chars(struct log_line *l, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	char e[8];

	for (size_t i = 0; i < n && !l->truncated;) {
		unsigned char c = u[i];
		size_t k;

		if (c == '"' || c == '\\') {
			e[0] = '\\';
			e[1] = (char)c;
			line_unit(l, e, 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			switch (c) {
			case '\n':
				line_unit(l, "\\n", 2);
				break;
			case '\r':
				line_unit(l, "\\r", 2);
				break;
			case '\t':
				line_unit(l, "\\t", 2);
				break;
			default:
				snprintf(e, sizeof(e), "\\u%04x", c);
				line_unit(l, e, 6);
			}
			i++;
		} else if ((k = llmo_utf8_seq_len(u + i, n - i)) > 0) {
			line_unit(l, s + i, k);
			i += k;
		} else {
			line_unit(l, "\\ufffd", 6);
			i++;
		}
	}
}

/*
 * JSON mode: `,"<prefix><key>":"value"` (no comma when first). The pair is
 * written only if its key and opening quote fit; a value cut short is still
 * closed.
 */
static void json_pair(struct log_line *l, bool first, const char *prefix, const char *key,
		      size_t klen, const char *val, size_t vlen)
{
	size_t save = l->b.len;

	if (l->truncated)
		return;
	if (!first)
		line_unit(l, ",", 1);
	line_unit(l, "\"", 1);
	json_chars(l, prefix, strlen(prefix));
	json_chars(l, key, klen);
	line_unit(l, "\":\"", 3);
	if (l->truncated) {
		llmo_buf_truncate(&l->b, save);
		return;
	}
	json_chars(l, val, vlen);
	line_force(l, "\"");
}

static bool reserved_key(const char *k, size_t n)
{
	static const char *const keys[] = {"ts", "level", "component", "msg", "truncated"};

	for (size_t i = 0; i < LLMO_ARRAY_LEN(keys); i++) {
		if (strlen(keys[i]) == n && memcmp(keys[i], k, n) == 0)
			return true;
	}
	return false;
}

/*
 * JSON mode: splits the formatted key=value text kv (modified in place:
 * quoted values are unescaped where they stand) and writes each pair.
 */
static void json_kv(struct log_line *l, char *kv)
{
	char *p = kv;

	while (*p && !l->truncated) {
		char *key, *val, *w;
		size_t klen, vlen;

		while (*p == ' ')
			p++;
		if (!*p)
			break;
		key = p;
		while (*p && *p != '=' && *p != ' ')
			p++;
		klen = (size_t)(p - key);
		val = p;
		vlen = 0;
		if (*p == '=' && p[1] == '"') {
			/* Unescape in place: the text only shrinks. */
			val = w = p + 2;
			for (p += 2; *p && *p != '"'; p++) {
				if (*p != '\\' || !p[1]) {
					*w++ = *p;
					continue;
				}
				p++;
				switch (*p) {
				case 'n':
					*w++ = '\n';
					break;
				case 'r':
					*w++ = '\r';
					break;
				case 't':
					*w++ = '\t';
					break;
				case 'x':
					if (p[1] && p[2] && strchr("0123456789abcdefABCDEF", p[1]) &&
					    strchr("0123456789abcdefABCDEF", p[2])) {
						char hex[3] = {p[1], p[2], '\0'};

						*w++ = (char)strtol(hex, NULL, 16);
						p += 2;
						break;
					}
					*w++ = '\\';
					*w++ = 'x';
					break;
				case '"':
				case '\\':
					*w++ = *p;
					break;
				default:
					*w++ = '\\';
					*w++ = *p;
				}
			}
			vlen = (size_t)(w - val);
			if (*p == '"')
				p++;
		} else if (*p == '=') {
			val = ++p;
			while (*p && *p != ' ')
				p++;
			vlen = (size_t)(p - val);
		}
		json_pair(l, false, reserved_key(key, klen) ? "_" : "", key, klen, val, vlen);
	}
}

void llmo_vlog(enum llmo_log_level lvl, const char *component, const char *msg,
	       const char *kvfmt, va_list ap)
{
	char ts[LLMO_RFC3339_MAX];
	char kv[LLMO_LOG_LINE_MAX];
	struct log_line l;
	bool kv_cut = false, in_quote = false;
	llmo_log_tee_fn tee;
	FILE *f;
	int n;

	if (!llmo_log_enabled(lvl))
		return;
	f = atomic_load(&log_out);
	if (!f)
		f = stderr;

	llmo_buf_init(&l.b, LLMO_LOG_LINE_MAX);
	l.limit = LLMO_LOG_LINE_MAX - LOG_RESERVE;
	l.truncated = false;
	if (llmo_buf_grow(&l.b, LLMO_LOG_LINE_MAX - 1)) {
		fputs("llmo: a log line was dropped: out of memory\n", f);
		goto out;
	}

	kv[0] = '\0';
	if (kvfmt) {
		n = vsnprintf(kv, sizeof(kv), kvfmt, ap);
		if (n < 0)
			kv[0] = '\0';
		else if ((size_t)n >= sizeof(kv))
			kv_cut = true;
	}
	if (llmo_time_format_rfc3339(llmo_clock_wall_ms(), true, ts, sizeof(ts)))
		memcpy(ts, "-", 2);
	if (!component)
		component = "";
	if (!msg)
		msg = "";

	if (atomic_load_explicit(&log_json, memory_order_relaxed)) {
		const char *lname = llmo_log_level_name(lvl);

		line_unit(&l, "{", 1);
		json_pair(&l, true, "", "ts", 2, ts, strlen(ts));
		json_pair(&l, false, "", "level", 5, lname, strlen(lname));
		json_pair(&l, false, "", "component", 9, component, strlen(component));
		json_pair(&l, false, "", "msg", 3, msg, strlen(msg));
		json_kv(&l, kv);
		if (l.truncated || kv_cut)
			line_force(&l, LOG_TRUNC_JSON);
		line_force(&l, "}\n");
	} else {
		text_put(&l, ts, strlen(ts), NULL);
		line_unit(&l, " ", 1);
		line_unit(&l, llmo_log_level_name(lvl), strlen(llmo_log_level_name(lvl)));
		line_unit(&l, " ", 1);
		if (*component)
			text_put(&l, component, strlen(component), NULL);
		else
			line_unit(&l, "-", 1);
		line_unit(&l, " ", 1);
		if (*msg)
			text_put(&l, msg, strlen(msg), NULL);
		else
			line_unit(&l, "-", 1);
		if (kv[0]) {
			line_unit(&l, " ", 1);
			text_put(&l, kv, strlen(kv), &in_quote);
		}
		if (l.truncated || kv_cut) {
			if (in_quote)
				line_force(&l, "\"");
			line_force(&l, LOG_TRUNC_TEXT);
		}
		line_force(&l, "\n");
	}
	fwrite(l.b.data, 1, l.b.len, f);
	fflush(f);
	tee = atomic_load(&log_tee);
	if (tee)
		tee(atomic_load(&log_tee_ctx), l.b.data, l.b.len - 1);
out:
	llmo_buf_release(&l.b);
}

void llmo_log(enum llmo_log_level lvl, const char *component, const char *msg,
	      const char *kvfmt, ...)
{
	va_list ap;

	va_start(ap, kvfmt);
	llmo_vlog(lvl, component, msg, kvfmt, ap);
	va_end(ap);
}
