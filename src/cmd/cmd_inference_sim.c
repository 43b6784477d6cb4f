/*
 * llmo inference-sim: a simulated OpenAI-compatible LLM server (src/sim/inference.h)
 * for tests, demos and load tests without GPUs.
 */
#include "base/buf.h"
#include "base/duration.h"
#include "base/file.h"
#include "base/log.h"
#include "base/str.h"
#include "cmd/cmd.h"
#include "sim/inference.h"

#include <event2/event.h>
#include <signal.h>

#define SUB "inference-sim"

static const char usage[] =
	"usage: llmo inference-sim [--port PORT] [--host ADDR] [--model NAME]...\n"
	"                          [--ttft-base D] [--ttft-per-token D] [--itl D]\n"
	"                          [--max-batch N] [--startup-delay D] [--error-rate F]\n"
	"                          [--seed N] [--kv-blocks N] [--block-size N]\n"
	"                          [--prefix-cache-blocks N]\n"
	"                          [--max-tokens N] [--max-model-len N] [--embedding-dim N]\n"
	"                          [--tls-cert FILE --tls-key FILE]\n"
	"                          [--log-level LEVEL] [--log-json]\n"
	"\n"
	"Serves a simulated LLM with vLLM's OpenAI-compatible API: /v1/models,\n"
	"/v1/completions, /v1/chat/completions (streaming too), /v1/embeddings,\n"
	"/health and /metrics (vLLM's metric names). Latency follows the flags;\n"
	"nothing runs on a GPU. D is a duration: 20ms, 200us, 1.5s, 0.\n"
	"\n"
	"  --port PORT            port to listen on (default $PORT, else 8000;\n"
	"                         0 picks a free port)\n"
	"  --host ADDR            address to listen on (default 127.0.0.1)\n"
	"  --model NAME           a served model name, such as llama2:7b; repeat for\n"
	"                         several (default llama2:7b). A request for \"llama2\"\n"
	"                         gets the first served \"llama2:VERSION\"\n"
	"  --ttft-base D          time to first token, fixed part (default 20ms)\n"
	"  --ttft-per-token D     time to first token per prompt token (default 200us)\n"
	"  --itl D                inter-token latency (default 20ms)\n"
	"  --max-batch N          requests running at once; more wait in a FIFO queue\n"
	"                         (default 256; 0 = no limit)\n"
	"  --startup-delay D      model loading time: /health and inference answer 503\n"
	"                         until it has passed (default 0)\n"
	"  --error-rate F         share of inference requests answered 500 (0..1, default 0)\n"
	"  --seed N               seed of the deterministic generator (default 1)\n"
	"  --kv-blocks N          KV-cache blocks behind vllm:gpu_cache_usage_perc\n"
	"                         (default 2048; 0 reports 0)\n"
	"  --block-size N         tokens per KV-cache block (default 16)\n"
	"  --prefix-cache-blocks N  prefix cache: blocks of the prompts kept, least\n"
	"                         recently used forgotten first; cached prompt tokens\n"
	"                         cost no --ttft-per-token (default 0: no cache)\n"
	"  --max-tokens N         most tokens of a completion whose request names no\n"
	"                         max_tokens (default 16)\n"
	"  --max-model-len N      context length: prompt + completion tokens (default 4096)\n"
	"  --embedding-dim N      default size of embedding vectors (default 384)\n"
	"  --tls-cert FILE, --tls-key FILE  serve HTTPS with this PEM certificate (chain)\n"
	"                         and key. Without them, the PEM text in $LLMO_TLS_CERT_PEM\n"
	"                         and $LLMO_TLS_KEY_PEM when both are set (what an\n"
	"                         encrypted workload's replica gets); else plain HTTP\n"
	"  --log-level LEVEL      debug | info | warn | error (default info)\n"
	"  --log-json             log JSON lines instead of text\n";

/* Largest PEM file read for --tls-cert and --tls-key. */
#define TLS_PEM_MAX ((size_t)256 << 10)

enum flag_type { FLAG_DURATION, FLAG_INT, FLAG_INT64, FLAG_UINT64, FLAG_DOUBLE };

/* The flags that set a field of struct llmo_sim_opts; bounds are in llmo_sim_opts_check. */
static const struct flag {
	const char *name;
	enum flag_type type;
	size_t offset;
} flags[] = {
	{"--ttft-base", FLAG_DURATION, offsetof(struct llmo_sim_opts, ttft_base_ns)},
	{"--ttft-per-token", FLAG_DURATION, offsetof(struct llmo_sim_opts, ttft_per_token_ns)},
	{"--itl", FLAG_DURATION, offsetof(struct llmo_sim_opts, itl_ns)},
	{"--startup-delay", FLAG_DURATION, offsetof(struct llmo_sim_opts, startup_delay_ns)},
	{"--port", FLAG_INT, offsetof(struct llmo_sim_opts, port)},
	{"--max-batch", FLAG_INT, offsetof(struct llmo_sim_opts, max_batch)},
	{"--block-size", FLAG_INT, offsetof(struct llmo_sim_opts, block_size)},
	{"--max-tokens", FLAG_INT, offsetof(struct llmo_sim_opts, default_max_tokens)},
	{"--max-model-len", FLAG_INT, offsetof(struct llmo_sim_opts, max_model_len)},
	{"--embedding-dim", FLAG_INT, offsetof(struct llmo_sim_opts, embedding_dim)},
	{"--kv-blocks", FLAG_INT64, offsetof(struct llmo_sim_opts, kv_blocks)},
	{"--prefix-cache-blocks", FLAG_INT64, offsetof(struct llmo_sim_opts, prefix_cache_blocks)},
	{"--seed", FLAG_UINT64, offsetof(struct llmo_sim_opts, seed)},
	{"--error-rate", FLAG_DOUBLE, offsetof(struct llmo_sim_opts, error_rate)},
};

/* Sets the field f names from v; 0, or the usage error's exit status. */
static int set_flag(struct llmo_sim_opts *o, const struct flag *f, const char *v)
{
	char *field = (char *)o + f->offset;
	struct llmo_error err = {0};
	int64_t i64;
	double d;

	switch (f->type) {
	case FLAG_DURATION:
		if (llmo_duration_parse(v, &i64, &err))
			return cmd_usage_error(SUB, "%s: %s", f->name, err.msg);
		memcpy(field, &i64, sizeof(i64));
		return 0;
	case FLAG_INT:
		if (llmo_parse_int_range(v, INT_MIN, INT_MAX, &i64, &err))
			return cmd_usage_error(SUB, "%s: %s", f->name, err.msg);
		*(int *)(void *)field = (int)i64;
		return 0;
	case FLAG_INT64:
		if (llmo_parse_int64(v, &i64, &err))
			return cmd_usage_error(SUB, "%s: %s", f->name, err.msg);
		memcpy(field, &i64, sizeof(i64));
		return 0;
	case FLAG_UINT64:
		if (llmo_parse_int_range(v, 0, INT64_MAX, &i64, &err))
			return cmd_usage_error(SUB, "%s: %s", f->name, err.msg);
		*(uint64_t *)(void *)field = (uint64_t)i64;
		return 0;
	case FLAG_DOUBLE:
		if (llmo_parse_double(v, &d, &err))
			return cmd_usage_error(SUB, "%s: %s", f->name, err.msg);
		memcpy(field, &d, sizeof(d));
		return 0;
	}
	return cmd_usage_error(SUB, "%s: unknown flag type", f->name);
}

/* Whether the n bytes at a (an argument up to its '=') are the flag name. */
static bool named(const char *a, size_t n, const char *name)
{
	return strlen(name) == n && memcmp(a, name, n) == 0;
}

static const struct flag *find_flag(const char *a, size_t n)
{
	for (size_t i = 0; i < LLMO_ARRAY_LEN(flags); i++)
		if (named(a, n, flags[i].name))
			return &flags[i];
	return NULL;
}

int cmd_inference_sim(int argc, char **argv)
{
	const char *models[LLMO_SIM_MODELS_MAX];
	struct llmo_sim_opts opts;
	struct llmo_sim *sim = NULL;
	struct llmo_error err = {0};
	struct event_base *base;
	enum llmo_log_level level;
	bool port_given = false;
	const char *env_port, *cert_file = NULL, *key_file = NULL;
	struct llmo_buf cert, key;
	int status = 1, rc;

	llmo_sim_opts_init(&opts);
	opts.models = models;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *eq = strchr(a, '=');
		size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
		const char *v = eq ? eq + 1 : i + 1 < argc ? argv[i + 1] : NULL;
		const struct flag *f = find_flag(a, nlen);

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		} else if (strcmp(a, "--log-json") == 0) {
			cmd_log_json_flag();
			continue;
		}
		if (!f && !named(a, nlen, "--host") && !named(a, nlen, "--model") &&
		    !named(a, nlen, "--log-level") && !named(a, nlen, "--tls-cert") &&
		    !named(a, nlen, "--tls-key"))
			return cmd_usage_error(SUB, "unknown option %.*s (see --help)", (int)nlen,
					       a);
		if (!v)
			return cmd_usage_error(SUB, "%s needs a value (see --help)", a);
		if (!eq)
			i++;
		if (f) {
			if ((rc = set_flag(&opts, f, v)))
				return rc;
			port_given = port_given || strcmp(f->name, "--port") == 0;
		} else if (named(a, nlen, "--host")) {
			opts.host = v;
		} else if (named(a, nlen, "--tls-cert")) {
			cert_file = v;
		} else if (named(a, nlen, "--tls-key")) {
			key_file = v;
		} else if (named(a, nlen, "--model")) {
			if (opts.nmodels == LLMO_SIM_MODELS_MAX)
				return cmd_usage_error(SUB, "at most %d --model names",
						       LLMO_SIM_MODELS_MAX);
			models[opts.nmodels++] = v;
		} else { /* --log-level */
			if (llmo_log_level_parse(v, &level))
				return cmd_usage_error(SUB, "unknown log level \"%s\"", v);
			cmd_log_level_flag(level);
		}
	}
	env_port = getenv("PORT");
	if (!port_given && env_port && *env_port) {
		int64_t p;

		if (llmo_parse_int_range(env_port, 0, 65535, &p, &err))
			return cmd_usage_error(SUB, "$PORT: %s", err.msg);
		opts.port = (int)p;
	}
	if (opts.nmodels == 0)
		models[opts.nmodels++] = "llama2:7b";
	if (llmo_sim_opts_check(&opts, &err))
		return cmd_usage_error(SUB, "%s", err.msg);
	if (!cert_file != !key_file)
		return cmd_usage_error(SUB, "--tls-cert and --tls-key go together");
	llmo_buf_init(&cert, TLS_PEM_MAX);
	llmo_buf_init(&key, TLS_PEM_MAX);
	if (cert_file) {
		if (llmo_file_read(cert_file, TLS_PEM_MAX, &cert, &err) ||
		    llmo_file_read(key_file, TLS_PEM_MAX, &key, &err)) {
			fprintf(stderr, "llmo %s: %s\n", SUB, err.msg);
			llmo_buf_release(&cert);
			llmo_buf_release(&key);
			return 1;
		}
		opts.tls_cert_pem = cert.data;
		opts.tls_key_pem = key.data;
	} else if (getenv("LLMO_TLS_CERT_PEM") && getenv("LLMO_TLS_KEY_PEM")) {
		opts.tls_cert_pem = getenv("LLMO_TLS_CERT_PEM");
		opts.tls_key_pem = getenv("LLMO_TLS_KEY_PEM");
	}

	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	if (!base) {
		fprintf(stderr, "llmo %s: cannot create the event loop\n", SUB);
		llmo_buf_release(&cert);
		llmo_buf_release(&key);
		return 1;
	}
	if (llmo_sim_new(base, &opts, &sim, &err)) {
		fprintf(stderr, "llmo %s: %s\n", SUB, err.msg);
		goto out;
	}
	status = cmd_run_until_signal(base, SUB, cmd_announce_listening,
				      &(struct cmd_listening){.what = "inference-sim",
							      .tls = llmo_sim_tls(sim),
							      .host = opts.host,
							      .port = llmo_sim_port(sim)});
out:
	llmo_sim_free(sim);
	event_base_free(base);
	llmo_buf_release(&cert);
	llmo_buf_release(&key);
	return status;
}
