/*
 * The simulated OpenAI-compatible LLM server (see inference.h for the
 * latency model, docs/inference-sim.md for the HTTP surface).
 *
 * Life of a request: on_request() routes it; handle_inference() validates
 * the body (parse_generate, parse_embeddings) into a struct sim_req, which
 * joins the waiting queue; admit() moves requests to the running list while
 * the batch has room; each running request owns one libevent timer that
 * fires when its next token (streaming) or its whole answer (non-streaming)
 * is due; req_finish() takes it out of the queue and the counters, records
 * the metrics, frees it and admits the next, and the caller then answers.
 * A client that goes away is noticed by a read watch on its socket
 * (base/http_watch.h) or a failed write; either ends in the connection's
 * close callback (on_close), which finishes the request the same way.
 */
#include "base/common.h"

#include <math.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/http_watch.h"
#include "base/json.h"
#include "base/log.h"
#include "base/str.h"
#include "gateway/prefix.h"
#include "sim/inference.h"

#define LOG "inference-sim"
/* evhttp itself refuses bodies past this (with its own 413 page); ours is the JSON one below it. */
#define BODY_SLACK (64 * 1024)
#define HEADERS_MAX (64 * 1024)
/* Idle and read timeout of connections, seconds; a response may take long. */
#define CONN_TIMEOUT_S 3600
/* Cap on the /metrics text and on one embeddings response's numbers. */
#define METRICS_TEXT_MAX (1024 * 1024)
#define EMBED_VALUES_MAX (1 << 20)
/* How much of a rejected string value an error message quotes. */
#define QUOTE_SHOW 64
#define PARAM_MAX 128
#define HISTO_BOUNDS_MAX 24

/* ---- deterministic numbers ---- */

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* FNV-1a over len bytes, continuing from h. */
static uint64_t fnv1a(uint64_t h, const void *p, size_t len)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < len; i++) {
		h ^= s[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

static uint64_t hash_start(uint64_t seed)
{
	uint64_t s = seed;

	return UINT64_C(0xcbf29ce484222325) ^ splitmix64(&s);
}

/* A uniform double in [0, 1). */
static double unit_double(uint64_t *state)
{
	return (double)(splitmix64(state) >> 11) * 0x1.0p-53;
}

static int64_t sat_add(int64_t a, int64_t b)
{
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static int64_t sat_mul(int64_t a, uint64_t n)
{
	if (a == 0 || n == 0)
		return 0;
	return (uint64_t)a > (uint64_t)INT64_MAX / n ? INT64_MAX : a * (int64_t)n;
}

/* ---- tokenizer and latency arithmetic ---- */

static bool word_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c >= 0x80;
}

struct prompt_acc;
static void acc_token(struct prompt_acc *a, const void *p, size_t len);

/* Counts the tokens of text and, with a (may be NULL), feeds each to the prefix blocks. */
static size_t walk_tokens(const char *text, size_t len, struct prompt_acc *a)
{
	size_t n = 0, i = 0;

	while (i < len) {
		unsigned char c = (unsigned char)text[i];

		if (word_byte(c)) {
			size_t start = i;

			while (i < len && word_byte((unsigned char)text[i]))
				i++;
			if (!a) {
				n += (i - start + LLMO_SIM_WORD_BYTES_PER_TOKEN - 1) /
				     LLMO_SIM_WORD_BYTES_PER_TOKEN;
				continue;
			}
			for (size_t k = start; k < i; k += LLMO_SIM_WORD_BYTES_PER_TOKEN, n++)
				acc_token(a, text + k,
					  LLMO_MIN((size_t)LLMO_SIM_WORD_BYTES_PER_TOKEN, i - k));
		} else {
			if (c > 0x20 && c < 0x7f) {
				n++; /* punctuation or symbol */
				if (a)
					acc_token(a, text + i, 1);
			}
			i++;
		}
	}
	return n;
}

size_t llmo_sim_count_tokens(const char *text, size_t len)
{
	return walk_tokens(text, len, NULL);
}

int64_t llmo_sim_ttft_ns(const struct llmo_sim_opts *o, size_t prompt_tokens)
{
	return sat_add(o->ttft_base_ns, sat_mul(o->ttft_per_token_ns, prompt_tokens));
}

int64_t llmo_sim_e2e_ns(const struct llmo_sim_opts *o, size_t prompt_tokens, size_t n)
{
	return sat_add(llmo_sim_ttft_ns(o, prompt_tokens), sat_mul(o->itl_ns, n));
}

uint64_t llmo_sim_kv_blocks_for(const struct llmo_sim_opts *o, size_t tokens)
{
	uint64_t bs = o->block_size > 0 ? (uint64_t)o->block_size : 1;

	return ((uint64_t)tokens + bs - 1) / bs;
}

/* ---- options ---- */

void llmo_sim_opts_init(struct llmo_sim_opts *o)
{
	*o = (struct llmo_sim_opts){
		.host = "127.0.0.1",
		.port = 8000,
		.ttft_base_ns = 20 * INT64_C(1000000),
		.ttft_per_token_ns = 200 * INT64_C(1000),
		.itl_ns = 20 * INT64_C(1000000),
		.max_batch = 256,
		.seed = 1,
		.kv_blocks = 2048,
		.block_size = 16,
		.default_max_tokens = 16,
		.max_model_len = 4096,
		.embedding_dim = 384,
		.prefix_cache_blocks = 0,
	};
}

int llmo_sim_opts_check(const struct llmo_sim_opts *o, struct llmo_error *err)
{
	const struct {
		const char *name;
		int64_t v;
	} delays[] = {
		{"ttft-base", o->ttft_base_ns},
		{"ttft-per-token", o->ttft_per_token_ns},
		{"itl", o->itl_ns},
		{"startup-delay", o->startup_delay_ns},
	};
	const struct {
		const char *name;
		int64_t v, min, max;
	} ints[] = {
		{"port", o->port, 0, 65535},
		{"max-batch", o->max_batch, 0, LLMO_SIM_BATCH_MAX},
		{"kv-blocks", o->kv_blocks, 0, LLMO_SIM_KV_BLOCKS_MAX},
		{"prefix-cache-blocks", o->prefix_cache_blocks, 0, LLMO_SIM_PREFIX_BLOCKS_MAX},
		{"block-size", o->block_size, 1, 1 << 20},
		{"max-tokens", o->default_max_tokens, 1, LLMO_SIM_MODEL_LEN_MAX},
		{"max-model-len", o->max_model_len, 1, LLMO_SIM_MODEL_LEN_MAX},
		{"embedding-dim", o->embedding_dim, 1, LLMO_SIM_EMBED_DIM_MAX},
	};

	for (size_t i = 0; i < LLMO_ARRAY_LEN(delays); i++)
		if (delays[i].v < 0 || delays[i].v > LLMO_SIM_DELAY_MAX_NS)
			return llmo_error_set(err, LLMO_ERANGE, "--%s must be between 0 and 1h",
					      delays[i].name);
	for (size_t i = 0; i < LLMO_ARRAY_LEN(ints); i++)
		if (ints[i].v < ints[i].min || ints[i].v > ints[i].max)
			return llmo_error_set(err, LLMO_ERANGE,
					      "--%s must be between %" PRId64 " and %" PRId64
					      ", got %" PRId64,
					      ints[i].name, ints[i].min, ints[i].max, ints[i].v);
	if (!(o->error_rate >= 0 && o->error_rate <= 1))
		return llmo_error_set(err, LLMO_ERANGE, "--error-rate must be between 0 and 1");
	if (!o->host || !*o->host)
		return llmo_error_set(err, LLMO_EINVAL, "--host must not be empty");
	if (o->nmodels == 0 || o->nmodels > LLMO_SIM_MODELS_MAX)
		return llmo_error_set(err, LLMO_ERANGE, "between 1 and %d --model names are needed",
				      LLMO_SIM_MODELS_MAX);
	for (size_t i = 0; i < o->nmodels; i++) {
		const char *m = o->models[i];
		size_t len = m ? strlen(m) : 0;

		if (len == 0 || len > LLMO_SIM_MODEL_NAME_MAX)
			return llmo_error_set(err, LLMO_EINVAL,
					      "--model names must have 1 to %d bytes",
					      LLMO_SIM_MODEL_NAME_MAX);
		for (size_t j = 0; j < len; j++)
			if ((unsigned char)m[j] <= 0x20 || m[j] == '"' || m[j] == '\\' ||
			    m[j] == 0x7f)
				return llmo_error_set(err, LLMO_EINVAL,
						      "--model \"%s\": no spaces, quotes, "
						      "backslashes or control characters",
						      m);
		for (size_t j = 0; j < i; j++)
			if (strcmp(o->models[j], m) == 0)
				return llmo_error_set(err, LLMO_EEXIST,
						      "--model \"%s\" is given twice", m);
	}
	return 0;
}

/* ---- state ---- */

/* Histogram bounds in seconds, as vLLM's. */
static const double ttft_bounds[] = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,
				     0.25,  0.5,   0.75, 1.0,  2.5,  5.0,  7.5,  10.0,
				     20.0,  40.0,  80.0, 160.0, 640.0, 2560.0};
static const double e2e_bounds[] = {0.3,  0.5,  0.8,  1.0,   1.5,   2.0,   2.5,
				    5.0,  10.0, 15.0, 20.0,  30.0,  40.0,  50.0,
				    60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};

struct histo {
	const double *bounds;
	size_t nbounds;
	uint64_t counts[HISTO_BOUNDS_MAX]; /* per bucket, not cumulative */
	uint64_t count;
	double sum;
};

enum finish { FINISH_STOP, FINISH_LENGTH, FINISH_N };
static const char *const finish_names[FINISH_N] = {"stop", "length"};

struct sim_model {
	char *name;
	size_t base_len; /* bytes before the ':' of "name:version"; strlen(name) without one */
	uint64_t running, waiting;
	uint64_t prompt_tokens, generation_tokens;
	uint64_t prefix_queries, prefix_hits; /* prompt tokens looked up, found in the cache */
	uint64_t success[FINISH_N];
	struct histo ttft, e2e;
};

enum sim_kind { KIND_COMPLETION, KIND_CHAT, KIND_EMBEDDING };
enum sim_state { STATE_WAITING, STATE_RUNNING };

struct sim_req {
	TAILQ_ENTRY(sim_req) link; /* in sim->waiting or sim->running, as state says */
	struct llmo_sim *sim;
	struct evhttp_request *req; /* owned by evhttp; we answer it exactly once */
	struct sim_model *model;
	struct event *timer;
	struct llmo_http_watch *watch; /* the client's socket, to notice it going away; may be NULL */
	enum sim_kind kind;
	enum sim_state state;
	bool stream, include_usage, ttft_seen;
	size_t prompt_tokens;
	size_t cached_tokens; /* of those, found in the prefix cache at admission */
	uint64_t *blocks;     /* the prompt's prefix block hashes (prefix cache on), nblocks */
	size_t nblocks;
	size_t n;    /* completion tokens this request produces */
	size_t sent; /* tokens streamed so far */
	enum finish finish;
	uint64_t text_rng; /* the generator's state, seeded from the prompt */
	bool prev_word;    /* the last generated token was a word (a '.' may follow) */
	int64_t arrived_ns, started_ns, ttft_ns;
	int64_t created; /* Unix seconds, for the "created" fields */
	char id[48];
	/* embeddings: one hash per input */
	uint64_t *hashes;
	size_t ninputs;
	int dims;
	bool base64;
};

TAILQ_HEAD(sim_req_list, sim_req);

struct llmo_sim {
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	struct llmo_sim_opts opts; /* models points at nothing: see the models array */
	struct sim_model models[LLMO_SIM_MODELS_MAX];
	size_t nmodels;
	int port;
	int64_t ready_at_ns;
	int64_t created; /* Unix seconds at start, for /v1/models */
	uint64_t rng;    /* error-rate draws, in arrival order */
	uint64_t next_id;
	size_t nrunning, nwaiting;
	struct sim_req_list running, waiting;
	struct llmo_gw_lru prefix; /* the prefix cache: block hash -> nothing; empty when off */
	SSL_CTX *tls;		   /* HTTPS; NULL: plain */
};

static void histo_init(struct histo *h, const double *bounds, size_t n)
{
	memset(h, 0, sizeof(*h));
	h->bounds = bounds;
	h->nbounds = LLMO_MIN(n, (size_t)HISTO_BOUNDS_MAX);
}

static void histo_observe(struct histo *h, double v)
{
	size_t i = 0;

	while (i < h->nbounds && v > h->bounds[i])
		i++;
	if (i < h->nbounds)
		h->counts[i]++;
	h->count++;
	h->sum += v;
}

/* ---- replies ---- */

static void reply_json(struct evhttp_request *req, int code, json_t *body)
{
	char *text = body ? llmo_json_dump_compact(body) : NULL;

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	if (text) {
		evbuffer_add(evhttp_request_get_output_buffer(req), text, strlen(text));
		evbuffer_add(evhttp_request_get_output_buffer(req), "\n", 1);
		evhttp_send_reply(req, code, NULL, NULL);
	} else {
		evhttp_send_reply(req, 500, NULL, NULL);
	}
	free(text);
	json_decref(body);
}

/*
 * OpenAI's error body: {"error":{"message","type","param","code"}}; param and
 * code are null when NULL.
 */
static void reply_error(struct evhttp_request *req, int status, const char *type, const char *param,
			const char *code, const char *fmt, ...) LLMO_PRINTF(6, 7);
static void reply_error(struct evhttp_request *req, int status, const char *type, const char *param,
			const char *code, const char *fmt, ...)
{
	char msg[LLMO_ERRMSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply_json(req, status,
		   json_pack("{s:{s:s, s:s, s:o, s:o}}", "error", "message", msg, "type", type,
			     "param", param ? json_string(param) : json_null(), "code",
			     code ? json_string(code) : json_null()));
}

static void reply_invalid(struct evhttp_request *req, const char *param, const char *msg)
{
	reply_error(req, 400, "invalid_request_error", param, NULL, "%s", msg);
}

/* ---- request validation ---- */

/* A rejected field: param names it (OpenAI's "param"), msg says what is wrong. */
struct bad {
	char param[PARAM_MAX];
	char msg[LLMO_ERRMSG_MAX];
};

static int bad_field(struct bad *b, const char *param, const char *fmt, ...) LLMO_PRINTF(3, 4);
static int bad_field(struct bad *b, const char *param, const char *fmt, ...)
{
	char what[LLMO_ERRMSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(b->param, sizeof(b->param), "%s", param);
	snprintf(b->msg, sizeof(b->msg), "%s: %s", param, what);
	return LLMO_EINVAL;
}

/* Which requests an optional field belongs to. */
#define K_COMPLETION (1u << KIND_COMPLETION)
#define K_CHAT (1u << KIND_CHAT)
#define K_EMBEDDING (1u << KIND_EMBEDDING)
#define K_GENERATE (K_COMPLETION | K_CHAT)

enum field_type { F_NUMBER, F_INTEGER, F_BOOL, F_STRING, F_OBJECT, F_STRINGS };

/*
 * The optional fields whose types are checked (JSON null counts as absent,
 * as in OpenAI's API). Other fields are ignored, as vLLM does.
 */
static const struct opt_field {
	const char *name;
	enum field_type type;
	unsigned kinds;
} opt_fields[] = {
	{"stream", F_BOOL, K_GENERATE},
	{"stream_options", F_OBJECT, K_GENERATE},
	{"max_tokens", F_INTEGER, K_GENERATE},
	{"max_completion_tokens", F_INTEGER, K_CHAT},
	{"n", F_INTEGER, K_GENERATE},
	{"temperature", F_NUMBER, K_GENERATE},
	{"top_p", F_NUMBER, K_GENERATE},
	{"presence_penalty", F_NUMBER, K_GENERATE},
	{"frequency_penalty", F_NUMBER, K_GENERATE},
	{"seed", F_INTEGER, K_GENERATE},
	{"stop", F_STRINGS, K_GENERATE},
	{"user", F_STRING, K_GENERATE | K_EMBEDDING},
	{"encoding_format", F_STRING, K_EMBEDDING},
	{"dimensions", F_INTEGER, K_EMBEDDING},
};

static const char *const type_want[] = {
	[F_NUMBER] = "a number",   [F_INTEGER] = "an integer", [F_BOOL] = "a boolean",
	[F_STRING] = "a string",   [F_OBJECT] = "an object",
	[F_STRINGS] = "a string or an array of strings",
};

static bool type_ok(const json_t *v, enum field_type t)
{
	switch (t) {
	case F_NUMBER:
		return json_is_number(v);
	case F_INTEGER:
		return json_is_integer(v);
	case F_BOOL:
		return json_is_boolean(v);
	case F_STRING:
		return json_is_string(v);
	case F_OBJECT:
		return json_is_object(v);
	case F_STRINGS:
		if (json_is_string(v))
			return true;
		if (!json_is_array(v))
			return false;
		for (size_t i = 0; i < json_array_size(v); i++)
			if (!json_is_string(json_array_get(v, i)))
				return false;
		return true;
	}
	return false;
}

static int check_opt_fields(const json_t *body, enum sim_kind kind, struct bad *b)
{
	for (size_t i = 0; i < LLMO_ARRAY_LEN(opt_fields); i++) {
		const struct opt_field *f = &opt_fields[i];
		const json_t *v = json_object_get(body, f->name);

		if (!(f->kinds & (1u << kind)) || !v || json_is_null(v))
			continue;
		if (!type_ok(v, f->type))
			return bad_field(b, f->name, "expected %s, got %s", type_want[f->type],
					 llmo_json_type_name(v));
	}
	return 0;
}

/* The field if present and not null, else NULL. */
static const json_t *opt_get(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return v && !json_is_null(v) ? v : NULL;
}

/*
 * Tokens and a hash of everything a prompt holds and, when block_size > 0,
 * its prefix blocks: the chained hash (gateway/prefix.h) after every
 * block_size tokens, so that two prompts share block i exactly when they
 * share their first (i + 1) * block_size tokens.
 */
struct prompt_acc {
	size_t tokens;
	uint64_t hash;
	size_t block_size; /* 0: no blocks */
	struct llmo_gw_chain chain;
	size_t in_block; /* tokens in the block being hashed */
	uint64_t *blocks;
	size_t nblocks, cap;
	bool nomem;
};

static void acc_token(struct prompt_acc *a, const void *p, size_t len)
{
	llmo_gw_chain_add(&a->chain, p, len);
	if (++a->in_block < a->block_size)
		return;
	a->in_block = 0;
	if (a->nblocks == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		uint64_t *nb = a->nomem ? NULL : realloc(a->blocks, cap * sizeof(*nb));

		if (!nb) {
			a->nomem = true;
			return;
		}
		a->blocks = nb;
		a->cap = cap;
	}
	a->blocks[a->nblocks++] = llmo_gw_chain_cut(&a->chain);
}

static void acc_text(struct prompt_acc *a, const char *s, size_t len)
{
	a->tokens += walk_tokens(s, len, a->block_size ? a : NULL);
	a->hash = fnv1a(a->hash, s, len);
	a->hash = fnv1a(a->hash, "", 1); /* separates pieces: "ab" != "a" + "b" */
}

static const char *const chat_roles[] = {"system", "user", "assistant", "tool", "developer"};

static int parse_content(const json_t *content, const char *path, bool may_be_null,
			 struct prompt_acc *a, struct bad *b)
{
	char sub[PARAM_MAX];
	size_t i;
	json_t *part;

	if (!content || json_is_null(content)) {
		if (may_be_null)
			return 0;
		return bad_field(b, path, "required");
	}
	if (json_is_string(content)) {
		acc_text(a, json_string_value(content), json_string_length(content));
		return 0;
	}
	if (!json_is_array(content))
		return bad_field(b, path, "expected a string or an array of content parts, got %s",
				 llmo_json_type_name(content));
	json_array_foreach(content, i, part) {
		const json_t *type = json_object_get(part, "type");
		const json_t *text = json_object_get(part, "text");

		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (!json_is_object(part))
			return bad_field(b, sub, "expected an object, got %s",
					 llmo_json_type_name(part));
		if (!json_is_string(type)) {
			snprintf(sub, sizeof(sub), "%s[%zu].type", path, i);
			return bad_field(b, sub, "expected a string, got %s",
					 llmo_json_type_name(type));
		}
		/* only text parts count; images and audio are accepted and cost nothing */
		if (strcmp(json_string_value(type), "text") != 0)
			continue;
		if (!json_is_string(text)) {
			snprintf(sub, sizeof(sub), "%s[%zu].text", path, i);
			return bad_field(b, sub, "expected a string, got %s",
					 llmo_json_type_name(text));
		}
		acc_text(a, json_string_value(text), json_string_length(text));
	}
	return 0;
}

/* Chat prompt: each message costs its content's tokens plus 1 for its role. */
static int parse_messages(const json_t *msgs, struct prompt_acc *a, struct bad *b)
{
	char path[PARAM_MAX], sub[PARAM_MAX], q[LLMO_STR_QUOTE_SIZE(QUOTE_SHOW)];
	size_t i;
	json_t *m;

	if (!msgs)
		return bad_field(b, "messages", "required");
	if (!json_is_array(msgs))
		return bad_field(b, "messages", "expected an array of messages, got %s",
				 llmo_json_type_name(msgs));
	if (json_array_size(msgs) == 0)
		return bad_field(b, "messages", "must hold at least one message");
	json_array_foreach(msgs, i, m) {
		const json_t *role = json_object_get(m, "role");
		bool known = false;
		int rc;

		snprintf(path, sizeof(path), "messages[%zu]", i);
		if (!json_is_object(m))
			return bad_field(b, path, "expected an object, got %s",
					 llmo_json_type_name(m));
		snprintf(sub, sizeof(sub), "%s.role", path);
		if (!json_is_string(role))
			return bad_field(b, sub, "expected a string, got %s",
					 llmo_json_type_name(role));
		for (size_t r = 0; r < LLMO_ARRAY_LEN(chat_roles); r++)
			known = known || strcmp(json_string_value(role), chat_roles[r]) == 0;
		if (!known)
			return bad_field(b, sub,
					 "unknown role %s (system, user, assistant, tool, "
					 "developer)",
					 llmo_str_quote(q, json_string_value(role),
							json_string_length(role), QUOTE_SHOW));
		snprintf(sub, sizeof(sub), "%s.content", path);
		rc = parse_content(json_object_get(m, "content"), sub,
				   strcmp(json_string_value(role), "assistant") == 0, a, b);
		if (rc)
			return rc;
		a->tokens++;
		if (a->block_size)
			acc_token(a, json_string_value(role), json_string_length(role));
		a->hash = fnv1a(a->hash, json_string_value(role), json_string_length(role));
	}
	return 0;
}

/* Completion prompt: a string, an array holding one string, or an array of token ids. */
static int parse_prompt(const json_t *p, struct prompt_acc *a, struct bad *b)
{
	size_t i;
	json_t *t;

	if (!p)
		return bad_field(b, "prompt", "required");
	if (json_is_string(p)) {
		acc_text(a, json_string_value(p), json_string_length(p));
		return 0;
	}
	if (!json_is_array(p) || json_array_size(p) == 0)
		return bad_field(b, "prompt",
				 "expected a string or a non-empty array of token ids, got %s",
				 json_is_array(p) ? "an empty array" : llmo_json_type_name(p));
	if (json_is_string(json_array_get(p, 0))) {
		if (json_array_size(p) != 1)
			return bad_field(b, "prompt",
					 "batches of several prompts are not supported; send one "
					 "request per prompt");
		return parse_prompt(json_array_get(p, 0), a, b);
	}
	json_array_foreach(p, i, t) {
		json_int_t id = json_integer_value(t);
		char sub[PARAM_MAX];

		if (!json_is_integer(t) || id < 0) {
			snprintf(sub, sizeof(sub), "prompt[%zu]", i);
			return bad_field(b, sub, "expected a token id (an integer >= 0), got %s",
					 json_is_integer(t) ? "a negative integer"
							    : llmo_json_type_name(t));
		}
		a->hash = fnv1a(a->hash, &id, sizeof(id));
		if (a->block_size)
			acc_token(a, &id, sizeof(id));
	}
	a->tokens += json_array_size(p);
	return 0;
}

/* ---- the queue and the clock ---- */

static struct sim_model *find_model(struct llmo_sim *sim, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < sim->nmodels; i++)
		if (strcmp(sim->models[i].name, name) == 0)
			return &sim->models[i];
	/* "llama2" names the first served "llama2:<version>" */
	if (!memchr(name, ':', len))
		for (size_t i = 0; i < sim->nmodels; i++)
			if (sim->models[i].base_len == len &&
			    sim->models[i].name[len] == ':' &&
			    memcmp(sim->models[i].name, name, len) == 0)
				return &sim->models[i];
	return NULL;
}

static void schedule(struct sim_req *r, int64_t due_ns)
{
	int64_t d = due_ns - llmo_clock_mono_ns();
	struct timeval tv;

	if (d < 0)
		d = 0;
	/* round up to the microsecond: the timer must not fire before due */
	d = sat_add(d, 999);
	tv.tv_sec = (time_t)(d / INT64_C(1000000000));
	tv.tv_usec = (suseconds_t)(d % INT64_C(1000000000) / 1000);
	event_add(r->timer, &tv);
}

/* Tokens generated so far by a running request (for the KV-cache gauge and aborts). */
static size_t req_progress(const struct sim_req *r, int64_t now)
{
	const struct llmo_sim_opts *o = &r->sim->opts;
	int64_t first = sat_add(r->started_ns, r->ttft_ns);

	if (r->state != STATE_RUNNING || r->n == 0)
		return 0;
	if (r->stream)
		return r->sent;
	if (now < first)
		return 0;
	if (o->itl_ns == 0)
		return r->n;
	return (size_t)LLMO_MIN((uint64_t)r->n, (uint64_t)((now - first) / o->itl_ns) + 1);
}

static void note_first_token(struct sim_req *r, int64_t at_ns)
{
	if (r->ttft_seen)
		return;
	r->ttft_seen = true;
	histo_observe(&r->model->ttft, (double)(at_ns - r->arrived_ns) / 1e9);
}

static void admit(struct llmo_sim *sim);

/*
 * Takes r out of the queue and the counters and frees it; admits the next
 * waiting requests. completed: r was answered in full (counts as a success).
 * r->req is still valid (answer it after this call: sending may free it at
 * once) and its connection's close callback is cleared.
 */
static void req_finish(struct sim_req *r, bool completed, int64_t now)
{
	struct llmo_sim *sim = r->sim;
	struct sim_model *m = r->model;
	struct evhttp_connection *conn = evhttp_request_get_connection(r->req);

	if (conn)
		evhttp_connection_set_closecb(conn, NULL, NULL);
	if (r->state == STATE_RUNNING) {
		TAILQ_REMOVE(&sim->running, r, link);
		sim->nrunning--;
		m->running--;
		if (!r->stream)
			m->generation_tokens += req_progress(r, now);
	} else {
		TAILQ_REMOVE(&sim->waiting, r, link);
		sim->nwaiting--;
		m->waiting--;
	}
	if (completed) {
		m->success[r->finish]++;
		histo_observe(&m->e2e, (double)(now - r->arrived_ns) / 1e9);
	}
	LLMO_DEBUG(LOG, completed ? "request done" : "request dropped",
		   "id=%s model=%s prompt_tokens=%zu completion_tokens=%zu ms=%" PRId64, r->id,
		   m->name, r->prompt_tokens, r->stream ? r->sent : r->n,
		   (now - r->arrived_ns) / 1000000);
	event_free(r->timer);
	llmo_http_watch_free(r->watch);
	free(r->hashes);
	free(r->blocks);
	free(r);
	admit(sim);
}

/*
 * The prefix cache at r's admission: its leading blocks found in the cache
 * are cached tokens (at most all but the last prompt token, which is always
 * computed, as vLLM does); then every block of r is in the cache, its first
 * block the most recently used (a prompt's tail goes before its head).
 */
static void prefix_lookup(struct sim_req *r)
{
	struct llmo_sim *sim = r->sim;
	size_t hit = 0;

	if (r->kind == KIND_EMBEDDING)
		return;
	r->model->prefix_queries += r->prompt_tokens;
	if (sim->prefix.cap == 0 || r->nblocks == 0)
		return;
	while (hit < r->nblocks && llmo_gw_lru_get(&sim->prefix, r->blocks[hit], NULL))
		hit++;
	for (size_t k = r->nblocks; k-- > 0;)
		llmo_gw_lru_put(&sim->prefix, r->blocks[k], 0);
	r->cached_tokens = LLMO_MIN(hit * (size_t)sim->opts.block_size, r->prompt_tokens - 1);
	r->model->prefix_hits += r->cached_tokens;
}

static void start_req(struct sim_req *r, int64_t now)
{
	struct llmo_sim *sim = r->sim;

	TAILQ_REMOVE(&sim->waiting, r, link);
	sim->nwaiting--;
	r->model->waiting--;
	TAILQ_INSERT_TAIL(&sim->running, r, link);
	sim->nrunning++;
	r->model->running++;
	r->state = STATE_RUNNING;
	r->started_ns = now;
	prefix_lookup(r);
	r->ttft_ns = llmo_sim_ttft_ns(&sim->opts, r->prompt_tokens - r->cached_tokens);
	r->model->prompt_tokens += r->prompt_tokens;
	schedule(r, sat_add(now, r->ttft_ns));
}

static void admit(struct llmo_sim *sim)
{
	int64_t now = llmo_clock_mono_ns();

	while (!TAILQ_EMPTY(&sim->waiting) &&
	       (sim->opts.max_batch == 0 || sim->nrunning < (size_t)sim->opts.max_batch))
		start_req(TAILQ_FIRST(&sim->waiting), now);
}

/*
 * The client went away. libevent detaches a request that is still waiting
 * for its answer from the failed connection and leaves it to us: ending the
 * reply on a detached request frees it. A request still attached (the server
 * is being freed) goes with its connection.
 */
static void on_close(struct evhttp_connection *conn, void *arg)
{
	struct sim_req *r = arg;
	struct evhttp_request *req = r->req;
	bool detached = evhttp_request_get_connection(req) == NULL;
	int64_t now = llmo_clock_mono_ns();

	if (!r->stream && r->state == STATE_RUNNING && now >= sat_add(r->started_ns, r->ttft_ns))
		note_first_token(r, sat_add(r->started_ns, r->ttft_ns));
	evhttp_connection_set_closecb(conn, NULL, NULL);
	req_finish(r, false, now);
	if (detached)
		evhttp_send_reply_end(req);
}

/* ---- generated text ---- */

/* Words of at most LLMO_SIM_WORD_BYTES_PER_TOKEN bytes: one token each. */
static const char *const vocab[] = {
	"the",   "model",  "serves", "tokens", "quickly", "and",    "a",     "mock",
	"answer", "to",    "your",   "prompt", "with",    "latency", "from", "its",
	"queue", "cache",  "batch",  "GPU",    "is",      "not",    "real",  "but",
	"timing", "looks", "like",   "vLLM",   "under",   "load",   "for",   "tests",
};

/* Appends completion token number i (0-based) of r: one token of llmo_sim_count_tokens. */
static int gen_token(struct sim_req *r, size_t i, struct llmo_buf *out)
{
	uint64_t x = splitmix64(&r->text_rng);

	if (r->prev_word && x % 8 == 0) {
		r->prev_word = false;
		return llmo_buf_putc(out, '.');
	}
	r->prev_word = true;
	return llmo_buf_appendf(out, "%s%s", i ? " " : "", vocab[(x >> 8) % LLMO_ARRAY_LEN(vocab)]);
}

/* ---- responses ---- */

static json_t *usage_new(const struct sim_req *r, size_t completion)
{
	if (r->kind == KIND_EMBEDDING)
		return json_pack("{s:I, s:I}", "prompt_tokens", (json_int_t)r->prompt_tokens,
				 "total_tokens", (json_int_t)r->prompt_tokens);
	if (r->sim->prefix.cap > 0)
		return json_pack("{s:I, s:I, s:I, s:{s:I}}", "prompt_tokens",
				 (json_int_t)r->prompt_tokens, "completion_tokens",
				 (json_int_t)completion, "total_tokens",
				 (json_int_t)(r->prompt_tokens + completion), "prompt_tokens_details",
				 "cached_tokens", (json_int_t)r->cached_tokens);
	return json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)r->prompt_tokens,
			 "completion_tokens", (json_int_t)completion, "total_tokens",
			 (json_int_t)(r->prompt_tokens + completion));
}

/* One streamed chunk; choice NULL gives the usage-only chunk ("choices": []). */
static json_t *chunk_new(const struct sim_req *r, json_t *choice)
{
	json_t *c = json_pack("{s:s, s:s, s:I, s:s, s:[]}", "id", r->id, "object",
			      r->kind == KIND_CHAT ? "chat.completion.chunk" : "text_completion",
			      "created", (json_int_t)r->created, "model", r->model->name,
			      "choices");

	if (!c) {
		json_decref(choice);
		return NULL;
	}
	if (choice)
		json_array_append_new(json_object_get(c, "choices"), choice);
	if (r->include_usage)
		json_object_set_new(c, "usage", choice ? json_null() : usage_new(r, r->sent));
	return c;
}

/* A choice of a chunk: content NULL and finish set for the last one. */
static json_t *chunk_choice(const struct sim_req *r, const char *content, bool role,
			    const char *finish)
{
	json_t *fin = finish ? json_string(finish) : json_null();

	if (r->kind == KIND_COMPLETION)
		return json_pack("{s:i, s:s, s:n, s:o}", "index", 0, "text", content ? content : "",
				 "logprobs", "finish_reason", fin);
	if (role)
		return json_pack("{s:i, s:{s:s, s:s}, s:n, s:o}", "index", 0, "delta", "role",
				 "assistant", "content", "", "logprobs", "finish_reason", fin);
	if (content)
		return json_pack("{s:i, s:{s:s}, s:n, s:o}", "index", 0, "delta", "content",
				 content, "logprobs", "finish_reason", fin);
	return json_pack("{s:i, s:{}, s:n, s:o}", "index", 0, "delta", "logprobs",
			 "finish_reason", fin);
}

static void send_sse(struct sim_req *r, json_t *chunk)
{
	struct evbuffer *b = evbuffer_new();
	char *text = chunk ? llmo_json_dump_compact(chunk) : NULL;

	if (b && text) {
		evbuffer_add_printf(b, "data: %s\n\n", text);
		evhttp_send_reply_chunk(r->req, b);
	}
	if (b)
		evbuffer_free(b);
	free(text);
	json_decref(chunk);
}

static void finish_stream(struct sim_req *r, int64_t now)
{
	struct evhttp_request *req = r->req;
	struct evbuffer *b;

	send_sse(r, chunk_new(r, chunk_choice(r, NULL, false, finish_names[r->finish])));
	if (r->include_usage)
		send_sse(r, chunk_new(r, NULL));
	b = evbuffer_new();
	if (b) {
		evbuffer_add(b, "data: [DONE]\n\n", 14);
		evhttp_send_reply_chunk(r->req, b);
		evbuffer_free(b);
	}
	/* req_finish first: ending the reply may free req at once */
	req_finish(r, true, now);
	evhttp_send_reply_end(req);
}

/* Sends every token that is due, then the end when due; reschedules otherwise. */
static void stream_step(struct sim_req *r, int64_t now)
{
	const struct llmo_sim_opts *o = &r->sim->opts;
	struct llmo_buf tok;

	llmo_buf_init(&tok, 64);
	for (;;) {
		int64_t due = sat_add(sat_add(r->started_ns, r->ttft_ns),
				      sat_mul(o->itl_ns, r->sent));

		if (due > now) {
			schedule(r, due);
			break;
		}
		if (r->sent == r->n) {
			finish_stream(r, now);
			break;
		}
		if (r->sent == 0) {
			note_first_token(r, now);
			if (r->kind == KIND_CHAT)
				send_sse(r, chunk_new(r, chunk_choice(r, NULL, true, NULL)));
		}
		llmo_buf_reset(&tok);
		gen_token(r, r->sent, &tok);
		send_sse(r, chunk_new(r, chunk_choice(r, tok.data, false, NULL)));
		r->sent++;
		r->model->generation_tokens++;
	}
	llmo_buf_release(&tok);
}

/* The whole answer of a non-streaming completion or chat request (NULL: out of memory). */
static json_t *answer_generate(struct sim_req *r)
{
	struct llmo_buf text;
	json_t *choice, *body;

	/* a word is at most 9 bytes with its space: the cap is never reached */
	llmo_buf_init(&text, (size_t)r->n * 16 + 16);
	for (size_t i = 0; i < r->n; i++)
		gen_token(r, i, &text);
	if (r->kind == KIND_CHAT)
		choice = json_pack("{s:i, s:{s:s, s:s}, s:n, s:s}", "index", 0, "message", "role",
				   "assistant", "content", text.data, "logprobs", "finish_reason",
				   finish_names[r->finish]);
	else
		choice = json_pack("{s:i, s:s, s:n, s:s}", "index", 0, "text", text.data,
				   "logprobs", "finish_reason", finish_names[r->finish]);
	body = json_pack("{s:s, s:s, s:I, s:s, s:[o], s:o}", "id", r->id, "object",
			 r->kind == KIND_CHAT ? "chat.completion" : "text_completion", "created",
			 (json_int_t)r->created, "model", r->model->name, "choices", choice,
			 "usage", usage_new(r, r->n));
	llmo_buf_release(&text);
	return body;
}

/* A unit vector of dims floats derived from h. */
static void embed_vector(uint64_t h, int dims, float *out)
{
	uint64_t s = h;
	double norm = 0;

	for (int i = 0; i < dims; i++) {
		double v = unit_double(&s) * 2 - 1;

		out[i] = (float)v;
		norm += v * v;
	}
	norm = sqrt(norm);
	if (norm > 0)
		for (int i = 0; i < dims; i++)
			out[i] = (float)(out[i] / norm);
}

/*
 * Writes the embeddings body into r's output buffer (the caller sends it):
 * as text, since a JSON tree of a million reals would cost far more memory
 * than the answer. 0 or LLMO_ENOMEM (nothing written).
 */
static int answer_embeddings(struct sim_req *r)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(r->req);
	float *v = calloc((size_t)r->dims, sizeof(float));
	size_t b64_len = 4 * (((size_t)r->dims * 4 + 2) / 3) + 1;
	unsigned char *b64 = r->base64 ? malloc(b64_len) : NULL;
	json_t *model = json_string(r->model->name);
	json_t *usage = usage_new(r, 0);
	char *model_text = model ? llmo_json_dump_compact(model) : NULL;
	char *usage_text = usage ? llmo_json_dump_compact(usage) : NULL;
	int rc = 0;

	if (!v || (r->base64 && !b64) || !model_text || !usage_text) {
		rc = LLMO_ENOMEM;
		goto out;
	}
	evbuffer_add_printf(out, "{\"object\":\"list\",\"data\":[");
	for (size_t i = 0; i < r->ninputs; i++) {
		embed_vector(r->hashes[i], r->dims, v);
		evbuffer_add_printf(out, "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":",
				    i ? "," : "", i);
		if (r->base64) {
			unsigned char raw[4];
			unsigned char *bytes = (unsigned char *)v;

			/* little-endian float32, as OpenAI's base64 encoding */
			for (int j = 0; j < r->dims; j++) {
				uint32_t u;

				memcpy(&u, &v[j], 4);
				raw[0] = (unsigned char)u;
				raw[1] = (unsigned char)(u >> 8);
				raw[2] = (unsigned char)(u >> 16);
				raw[3] = (unsigned char)(u >> 24);
				memcpy(bytes + 4 * j, raw, 4);
			}
			EVP_EncodeBlock(b64, bytes, r->dims * 4);
			evbuffer_add_printf(out, "\"%s\"}", (const char *)b64);
		} else {
			evbuffer_add(out, "[", 1);
			for (int j = 0; j < r->dims; j++)
				evbuffer_add_printf(out, "%s%.8g", j ? "," : "", (double)v[j]);
			evbuffer_add(out, "]}", 2);
		}
	}
	evbuffer_add_printf(out, "],\"model\":%s,\"usage\":%s}\n", model_text, usage_text);
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Type",
			  "application/json");
out:
	free(v);
	free(b64);
	free(model_text);
	free(usage_text);
	json_decref(model);
	json_decref(usage);
	return rc;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sim_req *r = arg;
	int64_t now = llmo_clock_mono_ns();
	struct evhttp_request *req;
	json_t *body = NULL;
	int64_t due;
	int code = 0;

	if (r->stream) {
		stream_step(r, now);
		return;
	}
	due = sat_add(r->started_ns, llmo_sim_e2e_ns(&r->sim->opts,
						     r->prompt_tokens - r->cached_tokens, r->n));
	if (due > now) {
		schedule(r, due);
		return;
	}
	note_first_token(r, sat_add(r->started_ns, r->ttft_ns));
	req = r->req;
	if (r->kind == KIND_EMBEDDING) {
		if (answer_embeddings(r) == 0)
			code = 200;
	} else {
		body = answer_generate(r);
	}
	/* req_finish first: sending may free req at once */
	req_finish(r, true, now);
	if (code == 200)
		evhttp_send_reply(req, 200, NULL, NULL);
	else if (body)
		reply_json(req, 200, body);
	else
		reply_error(req, 500, "server_error", NULL, NULL, "out of memory");
}

/* ---- inference endpoints ---- */

static bool loading(const struct llmo_sim *sim, int64_t *left_ns)
{
	int64_t left = sim->ready_at_ns - llmo_clock_mono_ns();

	*left_ns = left;
	return left > 0;
}

static void reply_loading(struct evhttp_request *req, int64_t left_ns)
{
	char s[32];

	snprintf(s, sizeof(s), "%" PRId64, (left_ns + INT64_C(999999999)) / INT64_C(1000000000));
	evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", s);
	reply_error(req, 503, "server_error", NULL, "model_loading",
		    "the model is loading; retry in %s s", s);
}

/* Validates a completion or chat body into r; 0, or LLMO_EINVAL with b filled. */
static int parse_generate(struct llmo_sim *sim, struct sim_req *r, const json_t *body,
			  struct bad *b)
{
	const struct llmo_sim_opts *o = &sim->opts;
	struct prompt_acc a = {.hash = hash_start(o->seed)};
	const json_t *max, *nv, *so;
	const char *max_name = "max_tokens";
	int rc;

	if ((rc = check_opt_fields(body, r->kind, b)))
		return rc;
	if (sim->prefix.cap > 0) {
		a.block_size = (size_t)o->block_size;
		llmo_gw_chain_init(&a.chain, o->seed);
	}
	if (r->kind == KIND_CHAT)
		rc = parse_messages(json_object_get(body, "messages"), &a, b);
	else
		rc = parse_prompt(json_object_get(body, "prompt"), &a, b);
	r->blocks = a.blocks;
	r->nblocks = a.nblocks;
	if (rc)
		return rc;
	if (a.nomem)
		return LLMO_ENOMEM;
	r->prompt_tokens = a.tokens;
	r->stream = json_is_true(json_object_get(body, "stream"));
	so = opt_get(body, "stream_options");
	if (so) {
		const json_t *iu = opt_get(so, "include_usage");

		if (iu && !json_is_boolean(iu))
			return bad_field(b, "stream_options.include_usage",
					 "expected a boolean, got %s", llmo_json_type_name(iu));
		r->include_usage = r->stream && json_is_true(iu);
	}
	nv = opt_get(body, "n");
	if (nv && json_integer_value(nv) != 1)
		return bad_field(b, "n", "only 1 is supported, got %" JSON_INTEGER_FORMAT,
				 json_integer_value(nv));
	max = opt_get(body, "max_tokens");
	if (r->kind == KIND_CHAT && opt_get(body, "max_completion_tokens")) {
		max = opt_get(body, "max_completion_tokens");
		max_name = "max_completion_tokens";
	}
	if (r->prompt_tokens >= (size_t)o->max_model_len)
		return bad_field(b, r->kind == KIND_CHAT ? "messages" : "prompt",
				 "this model's maximum context length is %d tokens, and the "
				 "prompt has %zu",
				 o->max_model_len, r->prompt_tokens);
	if (max) {
		json_int_t m = json_integer_value(max);

		if (m < 1)
			return bad_field(b, max_name,
					 "must be at least 1, got %" JSON_INTEGER_FORMAT, m);
		if (m > (json_int_t)((size_t)o->max_model_len - r->prompt_tokens))
			return bad_field(b, max_name,
					 "this model's maximum context length is %d tokens; the "
					 "prompt has %zu and %" JSON_INTEGER_FORMAT
					 " more were asked for",
					 o->max_model_len, r->prompt_tokens, m);
		r->n = (size_t)m;
		r->finish = FINISH_LENGTH;
	} else {
		/* the deterministic end of sequence: 1 .. --max-tokens tokens */
		uint64_t s = a.hash;
		size_t room = (size_t)o->max_model_len - r->prompt_tokens;

		r->n = 1 + (size_t)(splitmix64(&s) % (uint64_t)o->default_max_tokens);
		r->finish = FINISH_STOP;
		if (r->n > room) {
			r->n = room;
			r->finish = FINISH_LENGTH;
		}
	}
	r->text_rng = a.hash;
	return 0;
}

static int embed_input(struct sim_req *r, const json_t *in, const char *path, size_t *tokens,
		       uint64_t *hash, struct bad *b)
{
	struct prompt_acc a = {.hash = hash_start(r->sim->opts.seed)};
	size_t i;
	json_t *t;

	if (json_is_string(in)) {
		acc_text(&a, json_string_value(in), json_string_length(in));
	} else if (json_is_array(in) && json_array_size(in) > 0) {
		json_array_foreach(in, i, t) {
			json_int_t id = json_integer_value(t);

			if (!json_is_integer(t) || id < 0)
				return bad_field(b, path,
						 "expected a string or an array of token ids");
			a.hash = fnv1a(a.hash, &id, sizeof(id));
		}
		a.tokens = json_array_size(in);
	} else {
		return bad_field(b, path,
				 "expected a string or a non-empty array of token ids, got %s",
				 llmo_json_type_name(in));
	}
	if (a.tokens > (size_t)r->sim->opts.max_model_len)
		return bad_field(b, path,
				 "this model's maximum context length is %d tokens, and the input "
				 "has %zu",
				 r->sim->opts.max_model_len, a.tokens);
	*tokens = a.tokens;
	*hash = a.hash;
	return 0;
}

/*
 * Embeddings input: a string, an array of token ids (one input), an array of
 * strings or an array of arrays of token ids.
 */
static int parse_embeddings(struct llmo_sim *sim, struct sim_req *r, const json_t *body,
			    struct bad *b)
{
	const json_t *in = json_object_get(body, "input");
	const json_t *fmt, *dims;
	bool many;
	int rc;

	if ((rc = check_opt_fields(body, r->kind, b)))
		return rc;
	if (!in)
		return bad_field(b, "input", "required");
	fmt = opt_get(body, "encoding_format");
	if (fmt && strcmp(json_string_value(fmt), "float") != 0 &&
	    strcmp(json_string_value(fmt), "base64") != 0)
		return bad_field(b, "encoding_format", "expected \"float\" or \"base64\"");
	r->base64 = fmt && strcmp(json_string_value(fmt), "base64") == 0;
	r->dims = sim->opts.embedding_dim;
	dims = opt_get(body, "dimensions");
	if (dims) {
		json_int_t d = json_integer_value(dims);

		if (d < 1 || d > LLMO_SIM_EMBED_DIM_MAX)
			return bad_field(b, "dimensions", "must be between 1 and %d",
					 LLMO_SIM_EMBED_DIM_MAX);
		r->dims = (int)d;
	}
	many = json_is_array(in) &&
	       (json_is_string(json_array_get(in, 0)) || json_is_array(json_array_get(in, 0)));
	r->ninputs = many ? json_array_size(in) : 1;
	if (r->ninputs > LLMO_SIM_EMBED_INPUTS_MAX)
		return bad_field(b, "input", "at most %d inputs per request",
				 LLMO_SIM_EMBED_INPUTS_MAX);
	if (r->ninputs * (size_t)r->dims > EMBED_VALUES_MAX)
		return bad_field(b, "input", "inputs x dimensions must be at most %d",
				 EMBED_VALUES_MAX);
	r->hashes = calloc(r->ninputs, sizeof(*r->hashes));
	if (!r->hashes)
		return LLMO_ENOMEM;
	for (size_t i = 0; i < r->ninputs; i++) {
		char path[PARAM_MAX];
		size_t tokens = 0;

		snprintf(path, sizeof(path), many ? "input[%zu]" : "input", i);
		rc = embed_input(r, many ? json_array_get(in, i) : in, path, &tokens,
				 &r->hashes[i], b);
		if (rc)
			return rc;
		r->prompt_tokens += tokens;
	}
	return 0;
}

static void handle_inference(struct llmo_sim *sim, struct evhttp_request *req, enum sim_kind kind)
{
	static const char *const prefixes[] = {"cmpl", "chatcmpl", "embd"};
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	struct llmo_error err = {0};
	struct sim_req *r = NULL;
	struct bad b = {{0}, {0}};
	char q[LLMO_STR_QUOTE_SIZE(QUOTE_SHOW)];
	const json_t *model;
	const char *text;
	json_t *body = NULL;
	int64_t left;
	int rc;

	if (len > LLMO_SIM_BODY_MAX) {
		reply_error(req, 413, "invalid_request_error", NULL, "request_too_large",
			    "the request body has %zu bytes; the limit is %d", len,
			    LLMO_SIM_BODY_MAX);
		goto out;
	}
	if (loading(sim, &left)) {
		reply_loading(req, left);
		goto out;
	}
	text = len ? (const char *)evbuffer_pullup(in, -1) : "";
	if (!text || llmo_json_load(text, len, "request body", &body, &err)) {
		reply_invalid(req, NULL, text ? err.msg : "out of memory");
		goto out;
	}
	if (!json_is_object(body)) {
		reply_error(req, 400, "invalid_request_error", NULL, NULL,
			    "the request body must be a JSON object, got %s",
			    llmo_json_type_name(body));
		goto out;
	}
	model = json_object_get(body, "model");
	if (!json_is_string(model)) {
		reply_error(req, 400, "invalid_request_error", "model", NULL, "model: %s%s",
			    model ? "expected a string, got " : "required",
			    model ? llmo_json_type_name(model) : "");
		goto out;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		reply_error(req, 500, "server_error", NULL, NULL, "out of memory");
		goto out;
	}
	r->sim = sim;
	r->req = req;
	r->kind = kind;
	r->model = find_model(sim, json_string_value(model));
	if (!r->model) {
		reply_error(req, 404, "invalid_request_error", "model", "model_not_found",
			    "the model %s does not exist",
			    llmo_str_quote(q, json_string_value(model), json_string_length(model),
					   QUOTE_SHOW));
		goto out;
	}
	rc = kind == KIND_EMBEDDING ? parse_embeddings(sim, r, body, &b)
				    : parse_generate(sim, r, body, &b);
	if (rc == LLMO_ENOMEM) {
		reply_error(req, 500, "server_error", NULL, NULL, "out of memory");
		goto out;
	}
	if (rc) {
		reply_invalid(req, b.param, b.msg);
		goto out;
	}
	if (sim->nwaiting >= LLMO_SIM_WAITING_MAX) {
		reply_error(req, 503, "server_error", NULL, "queue_full",
			    "%d requests are already waiting", LLMO_SIM_WAITING_MAX);
		goto out;
	}
	if (sim->opts.error_rate > 0 && unit_double(&sim->rng) < sim->opts.error_rate) {
		reply_error(req, 500, "server_error", NULL, "simulated_error",
			    "simulated server error (--error-rate %g)", sim->opts.error_rate);
		goto out;
	}
	r->timer = event_new(sim->base, -1, 0, on_timer, r);
	if (!r->timer) {
		reply_error(req, 500, "server_error", NULL, NULL, "out of memory");
		goto out;
	}
	r->arrived_ns = llmo_clock_mono_ns();
	r->created = llmo_clock_wall_ms() / 1000;
	snprintf(r->id, sizeof(r->id), "%s-%016" PRIx64, prefixes[kind],
		 ++sim->next_id ^ (sim->opts.seed << 32));
	r->state = STATE_WAITING;
	TAILQ_INSERT_TAIL(&sim->waiting, r, link);
	sim->nwaiting++;
	r->model->waiting++;
	if (r->stream) {
		struct evkeyvalq *h = evhttp_request_get_output_headers(req);

		evhttp_add_header(h, "Content-Type", "text/event-stream");
		evhttp_add_header(h, "Cache-Control", "no-cache");
		evhttp_send_reply_start(req, 200, "OK");
		/*
		 * Each token leaves when it is due, as vLLM's server does: without
		 * this, Nagle holds the first chunk behind the headers until the
		 * client's delayed ACK (40 ms on Linux) and TTFT reads 40 ms late.
		 */
		{
			struct bufferevent *bev = evhttp_connection_get_bufferevent(
				evhttp_request_get_connection(req));
			int one = 1;

			if (bev && bufferevent_getfd(bev) >= 0)
				setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one,
					   sizeof(one));
		}
	}
	evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_close, r);
	r->watch = llmo_http_watch_new(sim->base, r->req);
	r = NULL;
	admit(sim);
out:
	if (r) {
		free(r->hashes);
		free(r->blocks);
		free(r);
	}
	json_decref(body);
}

/* ---- other endpoints ---- */

static json_t *model_object(const struct llmo_sim *sim, const struct sim_model *m)
{
	return json_pack("{s:s, s:s, s:I, s:s, s:s, s:n, s:i}", "id", m->name, "object", "model",
			 "created", (json_int_t)sim->created, "owned_by", "llmo-inference-sim",
			 "root", m->name, "parent", "max_model_len", sim->opts.max_model_len);
}

static void handle_models(struct llmo_sim *sim, struct evhttp_request *req, const char *id)
{
	char q[LLMO_STR_QUOTE_SIZE(QUOTE_SHOW)];
	json_t *data;

	if (id) {
		struct sim_model *m = find_model(sim, id);

		if (m)
			reply_json(req, 200, model_object(sim, m));
		else
			reply_error(req, 404, "invalid_request_error", "model", "model_not_found",
				    "the model %s does not exist",
				    llmo_str_quote(q, id, strlen(id), QUOTE_SHOW));
		return;
	}
	data = json_array();
	for (size_t i = 0; i < sim->nmodels; i++)
		json_array_append_new(data, model_object(sim, &sim->models[i]));
	reply_json(req, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

static void handle_health(struct llmo_sim *sim, struct evhttp_request *req)
{
	int64_t left;

	if (loading(sim, &left)) {
		reply_loading(req, left);
		return;
	}
	evhttp_send_reply(req, 200, "OK", NULL);
}

static void metric_head(struct llmo_buf *b, const char *name, const char *type, const char *help)
{
	llmo_buf_appendf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metric_histo(struct llmo_buf *b, const char *name, const char *model,
			 const struct histo *h)
{
	uint64_t cum = 0;

	for (size_t i = 0; i < h->nbounds; i++) {
		cum += h->counts[i];
		llmo_buf_appendf(b, "%s_bucket{le=\"%g\",model_name=\"%s\"} %" PRIu64 "\n", name,
				 h->bounds[i], model, cum);
	}
	llmo_buf_appendf(b, "%s_bucket{le=\"+Inf\",model_name=\"%s\"} %" PRIu64 "\n", name, model,
			 h->count);
	llmo_buf_appendf(b, "%s_sum{model_name=\"%s\"} %.9g\n", name, model, h->sum);
	llmo_buf_appendf(b, "%s_count{model_name=\"%s\"} %" PRIu64 "\n", name, model, h->count);
}

/* The counter or gauge at off in struct sim_model (a uint64_t), one line per model. */
static void metric_models_u64(struct llmo_buf *b, const struct llmo_sim *sim, const char *name,
			      const char *type, const char *help, size_t off)
{
	metric_head(b, name, type, help);
	for (size_t i = 0; i < sim->nmodels; i++)
		llmo_buf_appendf(b, "%s{model_name=\"%s\"} %" PRIu64 "\n", name, sim->models[i].name,
				 *(const uint64_t *)((const char *)&sim->models[i] + off));
}

/* The histogram at off in struct sim_model, one series per model. */
static void metric_models_histo(struct llmo_buf *b, const struct llmo_sim *sim, const char *name,
				const char *help, size_t off)
{
	metric_head(b, name, "histogram", help);
	for (size_t i = 0; i < sim->nmodels; i++)
		metric_histo(b, name, sim->models[i].name,
			     (const struct histo *)((const char *)&sim->models[i] + off));
}

/*
 * Model names are checked at start-up to hold no '"', '\\' or control
 * characters, so they go into label values as they are.
 */
static void handle_metrics(struct llmo_sim *sim, struct evhttp_request *req)
{
	int64_t now = llmo_clock_mono_ns();
	double usage = 0;
	uint64_t blocks = 0;
	struct sim_req *r;
	struct llmo_buf b;
	size_t i;

	TAILQ_FOREACH(r, &sim->running, link)
		blocks += llmo_sim_kv_blocks_for(&sim->opts,
						 r->prompt_tokens + req_progress(r, now));
	if (sim->opts.kv_blocks > 0)
		usage = LLMO_MIN(1.0, (double)blocks / (double)sim->opts.kv_blocks);
	llmo_buf_init(&b, METRICS_TEXT_MAX);
	metric_models_u64(&b, sim, "vllm:num_requests_running", "gauge",
			  "Number of requests currently running on GPU.",
			  offsetof(struct sim_model, running));
	metric_models_u64(&b, sim, "vllm:num_requests_waiting", "gauge",
			  "Number of requests waiting to be processed.",
			  offsetof(struct sim_model, waiting));
	metric_head(&b, "vllm:gpu_cache_usage_perc", "gauge",
		    "GPU KV-cache usage. 1 means 100 percent usage.");
	for (i = 0; i < sim->nmodels; i++)
		llmo_buf_appendf(&b, "vllm:gpu_cache_usage_perc{model_name=\"%s\"} %.6g\n",
				 sim->models[i].name, usage);
	metric_models_u64(&b, sim, "vllm:prompt_tokens_total", "counter",
			  "Number of prefill tokens processed.",
			  offsetof(struct sim_model, prompt_tokens));
	metric_models_u64(&b, sim, "vllm:generation_tokens_total", "counter",
			  "Number of generation tokens processed.",
			  offsetof(struct sim_model, generation_tokens));
	metric_head(&b, "vllm:request_success_total", "counter",
		    "Count of successfully processed requests.");
	for (i = 0; i < sim->nmodels; i++)
		for (int f = 0; f < FINISH_N; f++)
			llmo_buf_appendf(&b,
					 "vllm:request_success_total{finished_reason=\"%s\","
					 "model_name=\"%s\"} %" PRIu64 "\n",
					 finish_names[f], sim->models[i].name,
					 sim->models[i].success[f]);
	metric_models_u64(&b, sim, "vllm:prefix_cache_queries_total", "counter",
			  "Prefix cache queries, in prompt tokens.",
			  offsetof(struct sim_model, prefix_queries));
	metric_models_u64(&b, sim, "vllm:prefix_cache_hits_total", "counter",
			  "Prefix cache hits, in prompt tokens.", offsetof(struct sim_model, prefix_hits));
	metric_head(&b, "vllm:gpu_prefix_cache_hit_rate", "gauge",
		    "GPU prefix cache block hit rate (hits over queries, in tokens, since start).");
	for (i = 0; i < sim->nmodels; i++)
		llmo_buf_appendf(&b, "vllm:gpu_prefix_cache_hit_rate{model_name=\"%s\"} %.6g\n",
				 sim->models[i].name,
				 sim->models[i].prefix_queries
					 ? (double)sim->models[i].prefix_hits /
						   (double)sim->models[i].prefix_queries
					 : 0.0);
	metric_models_histo(&b, sim, "vllm:time_to_first_token_seconds",
			    "Histogram of time to first token in seconds.",
			    offsetof(struct sim_model, ttft));
	metric_models_histo(&b, sim, "vllm:e2e_request_latency_seconds",
			    "Histogram of end to end request latency in seconds.",
			    offsetof(struct sim_model, e2e));
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4; charset=utf-8");
	evbuffer_add(evhttp_request_get_output_buffer(req), b.data, b.len);
	evhttp_send_reply(req, 200, "OK", NULL);
	llmo_buf_release(&b);
}

/* ---- routing ---- */

enum route_id {
	R_MODELS,
	R_COMPLETIONS,
	R_CHAT,
	R_EMBEDDINGS,
	R_HEALTH,
	R_METRICS,
};

static const struct route {
	const char *path;
	enum evhttp_cmd_type method;
	enum route_id id;
} routes[] = {
	{"/v1/models", EVHTTP_REQ_GET, R_MODELS},
	{"/v1/completions", EVHTTP_REQ_POST, R_COMPLETIONS},
	{"/v1/chat/completions", EVHTTP_REQ_POST, R_CHAT},
	{"/v1/embeddings", EVHTTP_REQ_POST, R_EMBEDDINGS},
	{"/health", EVHTTP_REQ_GET, R_HEALTH},
	{"/healthz", EVHTTP_REQ_GET, R_HEALTH},
	{"/readyz", EVHTTP_REQ_GET, R_HEALTH},
	{"/metrics", EVHTTP_REQ_GET, R_METRICS},
};

static void on_request(struct evhttp_request *req, void *arg)
{
	struct llmo_sim *sim = arg;
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	char *id = NULL;

	if (!path) {
		reply_invalid(req, NULL, "malformed request URI");
		return;
	}
	if (strncmp(path, "/v1/models/", 11) == 0 && path[11]) {
		if (method != EVHTTP_REQ_GET) {
			reply_error(req, 405, "invalid_request_error", NULL, "method_not_allowed",
				    "%s accepts GET only", path);
			return;
		}
		id = evhttp_uridecode(path + 11, 0, NULL);
		if (id)
			handle_models(sim, req, id);
		else
			reply_error(req, 500, "server_error", NULL, NULL, "out of memory");
		free(id);
		return;
	}
	for (size_t i = 0; i < LLMO_ARRAY_LEN(routes); i++) {
		if (strcmp(path, routes[i].path) != 0)
			continue;
		if (method != routes[i].method) {
			reply_error(req, 405, "invalid_request_error", NULL, "method_not_allowed",
				    "%s accepts %s only", routes[i].path,
				    routes[i].method == EVHTTP_REQ_GET ? "GET" : "POST");
			return;
		}
		switch (routes[i].id) {
		case R_MODELS:
			handle_models(sim, req, NULL);
			break;
		case R_COMPLETIONS:
			handle_inference(sim, req, KIND_COMPLETION);
			break;
		case R_CHAT:
			handle_inference(sim, req, KIND_CHAT);
			break;
		case R_EMBEDDINGS:
			handle_inference(sim, req, KIND_EMBEDDING);
			break;
		case R_HEALTH:
			handle_health(sim, req);
			break;
		case R_METRICS:
			handle_metrics(sim, req);
			break;
		}
		return;
	}
	reply_error(req, 404, "invalid_request_error", NULL, "not_found", "no route for %s", path);
}

/* ---- life cycle ---- */

/* A server context from PEM text: the certificate chain and its key. */
static int tls_ctx(const char *cert_pem, const char *key_pem, SSL_CTX **out, struct llmo_error *err)
{
	BIO *cb = BIO_new_mem_buf(cert_pem, -1), *kb = BIO_new_mem_buf(key_pem, -1);
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL, *extra;
	EVP_PKEY *key = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	int rc = 0;

	if (!ctx || !x || !key || SSL_CTX_use_certificate(ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		rc = llmo_error_set(err, LLMO_EINVAL,
				    "TLS: %s", !x ? "the certificate is not PEM"
					       : !key ? "the key is not PEM (nor unencrypted)"
						      : "the key does not match the certificate");
	}
	/* the rest of the chain, when the PEM has more certificates */
	while (!rc && cb && (extra = PEM_read_bio_X509(cb, NULL, NULL, NULL)))
		if (SSL_CTX_add_extra_chain_cert(ctx, extra) != 1) {
			X509_free(extra);
			rc = llmo_error_set(err, LLMO_ENOMEM, "TLS: out of memory");
		}
	ERR_clear_error();
	if (!rc)
		SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	X509_free(x);
	EVP_PKEY_free(key);
	BIO_free(cb);
	BIO_free(kb);
	if (rc) {
		SSL_CTX_free(ctx);
		ctx = NULL;
	}
	*out = ctx;
	return rc;
}

/* evhttp's connections over TLS (evhttp_set_bevcb). */
static struct bufferevent *tls_bev(struct event_base *base, void *arg)
{
	struct llmo_sim *sim = arg;
	SSL *ssl = SSL_new(sim->tls);

	return ssl ? bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
						    BEV_OPT_CLOSE_ON_FREE)
		   : NULL;
}

bool llmo_sim_tls(const struct llmo_sim *sim)
{
	return sim->tls != NULL;
}

int llmo_sim_new(struct event_base *base, const struct llmo_sim_opts *opts,
		 struct llmo_sim **out, struct llmo_error *err)
{
	struct llmo_sim *sim;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	int rc;

	*out = NULL;
	if ((rc = llmo_sim_opts_check(opts, err)))
		return rc;
	sim = calloc(1, sizeof(*sim));
	if (!sim)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	TAILQ_INIT(&sim->running);
	TAILQ_INIT(&sim->waiting);
	sim->base = base;
	sim->opts = *opts;
	sim->opts.models = NULL;
	sim->opts.host = NULL;
	sim->rng = opts->seed;
	sim->created = llmo_clock_wall_ms() / 1000;
	sim->ready_at_ns = sat_add(llmo_clock_mono_ns(), opts->startup_delay_ns);
	for (size_t i = 0; i < opts->nmodels; i++) {
		struct sim_model *m = &sim->models[i];
		const char *colon;

		m->name = llmo_strdup(opts->models[i]);
		if (!m->name)
			goto oom;
		sim->nmodels++;
		colon = strchr(m->name, ':');
		m->base_len = colon ? (size_t)(colon - m->name) : strlen(m->name);
		histo_init(&m->ttft, ttft_bounds, LLMO_ARRAY_LEN(ttft_bounds));
		histo_init(&m->e2e, e2e_bounds, LLMO_ARRAY_LEN(e2e_bounds));
	}
	if (opts->prefix_cache_blocks > 0 &&
	    llmo_gw_lru_init(&sim->prefix, (size_t)opts->prefix_cache_blocks))
		goto oom;
	sim->http = evhttp_new(base);
	if (!sim->http)
		goto oom;
	evhttp_set_max_body_size(sim->http, LLMO_SIM_BODY_MAX + BODY_SLACK);
	evhttp_set_max_headers_size(sim->http, HEADERS_MAX);
	evhttp_set_timeout(sim->http, CONN_TIMEOUT_S);
	evhttp_set_allowed_methods(sim->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
						      EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE |
						      EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(sim->http, on_request, sim);
	if (opts->tls_cert_pem || opts->tls_key_pem) {
		if (!opts->tls_cert_pem || !opts->tls_key_pem) {
			rc = llmo_error_set(err, LLMO_EINVAL, "TLS needs a certificate and a key");
			goto fail;
		}
		if ((rc = tls_ctx(opts->tls_cert_pem, opts->tls_key_pem, &sim->tls, err)))
			goto fail;
		evhttp_set_bevcb(sim->http, tls_bev, sim);
	}
	sim->opts.tls_cert_pem = sim->opts.tls_key_pem = NULL; /* not kept: the context has them */
	sim->sock = evhttp_bind_socket_with_handle(sim->http, opts->host, (uint16_t)opts->port);
	if (!sim->sock) {
		rc = llmo_error_set(err, LLMO_EIO, "cannot listen on %s:%d: %s", opts->host,
				    opts->port, strerror(errno));
		goto fail;
	}
	{
		int one = 1;

		/* A stream is one small write per token: without this, Nagle holds each
		 * one until the client's delayed ACK (40 ms), which shows as TTFT and
		 * inter-token latency. Accepted sockets inherit it from the listener
		 * on Linux. */
		setsockopt(evhttp_bound_socket_get_fd(sim->sock), IPPROTO_TCP, TCP_NODELAY, &one,
			   sizeof(one));
	}
	if (getsockname(evhttp_bound_socket_get_fd(sim->sock), (struct sockaddr *)&ss, &sslen) == 0)
		sim->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							   : ((struct sockaddr_in *)&ss)->sin_port);
	LLMO_INFO(LOG, "listening", "host=%s port=%d models=%zu", opts->host, sim->port,
		  sim->nmodels);
	*out = sim;
	return 0;
oom:
	rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
fail:
	llmo_sim_free(sim);
	return rc;
}

static void drop_all(struct sim_req_list *list)
{
	struct sim_req *r;

	while ((r = TAILQ_FIRST(list))) {
		struct evhttp_connection *conn = evhttp_request_get_connection(r->req);

		TAILQ_REMOVE(list, r, link);
		/* the request goes with its connection in evhttp_free */
		if (conn)
			evhttp_connection_set_closecb(conn, NULL, NULL);
		event_free(r->timer);
		llmo_http_watch_free(r->watch);
		free(r->hashes);
		free(r->blocks);
		free(r);
	}
}

void llmo_sim_free(struct llmo_sim *sim)
{
	if (!sim)
		return;
	drop_all(&sim->running);
	drop_all(&sim->waiting);
	if (sim->http)
		evhttp_free(sim->http);
	for (size_t i = 0; i < sim->nmodels; i++)
		free(sim->models[i].name);
	llmo_gw_lru_release(&sim->prefix);
	SSL_CTX_free(sim->tls);
	free(sim);
}

int llmo_sim_port(const struct llmo_sim *sim)
{
	return sim->port;
}
