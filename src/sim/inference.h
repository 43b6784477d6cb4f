#ifndef LLMO_SIM_INFERENCE_H
#define LLMO_SIM_INFERENCE_H
/*
 * struct llmo_sim: a simulated OpenAI-compatible LLM server (vLLM's HTTP
 * surface without a GPU), for tests, demos and load tests of the gateway,
 * autoscaler and scheduler. It serves
 *
 *     GET  /v1/models               the served model names
 *     POST /v1/completions          text completion, streamed (SSE) or not
 *     POST /v1/chat/completions     chat completion, streamed (SSE) or not
 *     POST /v1/embeddings           a deterministic unit vector per input
 *     GET  /health                  503 while "loading" (start-up delay), then 200
 *     GET  /metrics                 Prometheus text with vLLM's metric names
 *
 * on a libevent loop the caller runs. Everything is deterministic for a given
 * seed and arrival order: token counts (llmo_sim_count_tokens), generated
 * text, embedding vectors and which requests get the simulated 500s.
 *
 * Latency model (all intervals from the monotonic clock, all timers libevent
 * timers; nothing ever sleeps). A request is admitted when fewer than
 * max_batch requests are running, otherwise it waits in one FIFO queue shared
 * by all served names (one simulated GPU). From its admission time t0:
 *
 *     ttft   = ttft_base + ttft_per_token * (prompt_tokens - cached_tokens)
 *     token i (0-based) is emitted at      t0 + ttft + i * itl
 *     the response ends (finish chunk and
 *     [DONE], or the whole JSON body) at   t0 + ttft + n * itl
 *
 * so a request of n completion tokens takes ttft + n * itl once running (the
 * last interval is the decode step that ends the sequence). Embeddings have
 * n = 0: they answer at t0 + ttft. cached_tokens is 0 unless the prefix
 * cache is on (prefix_cache_blocks > 0): a bounded LRU of the hashes of
 * prompt blocks of block_size tokens; at admission the prompt's leading
 * blocks found there are cached (at most prompt_tokens - 1 tokens), then
 * all its blocks are put there. docs/inference-sim.md has the details. Emission keeps to this absolute schedule
 * (a late timer sends every token that is due at once), so loop delays never
 * stretch a response.
 *
 * docs/inference-sim.md describes requests, responses and metrics.
 */
#include "base/common.h"
#include "base/error.h"

struct event_base;
struct llmo_sim;

/* Request bodies larger than this get 413. */
#define LLMO_SIM_BODY_MAX (1024 * 1024)
/* Served model names: at most this many, each at most LLMO_SIM_MODEL_NAME_MAX bytes. */
#define LLMO_SIM_MODELS_MAX 64
#define LLMO_SIM_MODEL_NAME_MAX 256
/* Bounds of the options (checked by llmo_sim_opts_check). */
#define LLMO_SIM_DELAY_MAX_NS (3600 * INT64_C(1000000000)) /* each latency and the start-up delay */
#define LLMO_SIM_BATCH_MAX 65536
#define LLMO_SIM_MODEL_LEN_MAX (1 << 20)
#define LLMO_SIM_EMBED_DIM_MAX 8192
#define LLMO_SIM_KV_BLOCKS_MAX (INT64_C(1) << 40)
/* Most prefix-cache blocks (each costs about 40 bytes of memory). */
#define LLMO_SIM_PREFIX_BLOCKS_MAX (INT64_C(1) << 24)
/* Requests waiting beyond this many get 503 (the queue is memory held for outside input). */
#define LLMO_SIM_WAITING_MAX 100000
/* Inputs in one embeddings request. */
#define LLMO_SIM_EMBED_INPUTS_MAX 2048
/* The tokenizer splits words longer than this many bytes into several tokens. */
#define LLMO_SIM_WORD_BYTES_PER_TOKEN 8

struct llmo_sim_opts {
	const char *host;            /* address to listen on; "127.0.0.1" */
	int port;                    /* 8000; 0 picks a free port */
	const char *const *models;   /* served names, such as "llama2:7b"; not owned */
	size_t nmodels;              /* 1 .. LLMO_SIM_MODELS_MAX */
	int64_t ttft_base_ns;        /* 20ms */
	int64_t ttft_per_token_ns;   /* 200us per prompt token */
	int64_t itl_ns;              /* 20ms between output tokens */
	int max_batch;               /* 256 running requests; 0 = no limit */
	int64_t startup_delay_ns;    /* 0: ready at once */
	double error_rate;           /* 0 .. 1: share of requests answered 500 */
	uint64_t seed;               /* 1 */
	int64_t kv_blocks;           /* 2048 KV-cache blocks; 0: usage always 0 */
	int block_size;              /* 16 tokens per block */
	int default_max_tokens;      /* 16: cap of a completion that names no max_tokens */
	int max_model_len;           /* 4096: prompt + completion tokens */
	int embedding_dim;           /* 384 */
	int64_t prefix_cache_blocks; /* 0: no prefix cache; else blocks of block_size tokens kept */
	/* HTTPS with this certificate chain and key (PEM text, copied); NULL: plain HTTP */
	const char *tls_cert_pem, *tls_key_pem;
};

/* Fills o with the defaults above (models: none; the caller names at least one). */
void llmo_sim_opts_init(struct llmo_sim_opts *o);

/* Whether the server serves HTTPS. */
bool llmo_sim_tls(const struct llmo_sim *sim);

/* 0, or LLMO_EINVAL / LLMO_ERANGE with err naming the option and its bounds. */
int llmo_sim_opts_check(const struct llmo_sim_opts *o, struct llmo_error *err);

/*
 * Checks opts, listens on opts->host:opts->port and serves on base (the
 * caller runs the loop). opts and the strings it points at are copied.
 * On success *out owns the server; free it with llmo_sim_free.
 */
int llmo_sim_new(struct event_base *base, const struct llmo_sim_opts *opts,
		 struct llmo_sim **out, struct llmo_error *err);

/*
 * Stops listening and frees the server. Requests still in flight are
 * dropped with their connections (clients see the connection close). Call
 * it from the thread that runs base, outside the server's own callbacks:
 * after the loop has returned, or from another event's callback. NULL is
 * a no-op.
 */
void llmo_sim_free(struct llmo_sim *sim);

/* The port actually bound (useful with port 0). */
int llmo_sim_port(const struct llmo_sim *sim);

/*
 * The simulator's tokenizer: a token is a single ASCII punctuation or
 * symbol character, or a run of up to LLMO_SIM_WORD_BYTES_PER_TOKEN bytes
 * of a word (ASCII letters and digits, and every byte >= 0x80 so that UTF-8
 * text stays whole); whitespace and control characters separate tokens and
 * are not tokens. "Hello, world!" is 4 tokens; "internationalization"
 * (20 bytes) is 3.
 */
size_t llmo_sim_count_tokens(const char *text, size_t len);

/* ttft_base + ttft_per_token * prompt_tokens, saturating at INT64_MAX. */
int64_t llmo_sim_ttft_ns(const struct llmo_sim_opts *o, size_t prompt_tokens);

/* Time from admission to the end of a response of n completion tokens: ttft + n * itl. */
int64_t llmo_sim_e2e_ns(const struct llmo_sim_opts *o, size_t prompt_tokens, size_t n);

/* KV-cache blocks held by a request with `tokens` tokens: ceil(tokens / block_size). */
uint64_t llmo_sim_kv_blocks_for(const struct llmo_sim_opts *o, size_t tokens);

#endif
