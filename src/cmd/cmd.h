#ifndef LLMO_CMD_H
#define LLMO_CMD_H
/*
 * The subcommands of the llmo binary. Each takes the arguments after its
 * name (argv[0] is the subcommand) and returns the process exit status:
 * 0 success, 1 the input was invalid or the job failed, 2 usage error.
 */
#include "base/common.h"

#include "base/buf.h"
#include "base/log.h"

int cmd_validate(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_server(int argc, char **argv);
int cmd_registry(int argc, char **argv);
/* `llmo registry gc` (cmd_registry_gc.c); argv[0] is "gc". */
int cmd_registry_gc(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_fetch(int argc, char **argv);
int cmd_inference_sim(int argc, char **argv);
int cmd_sim(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_scheduler(int argc, char **argv);
int cmd_controller(int argc, char **argv);
int cmd_gateway(int argc, char **argv);
/* The agent runtime's process shim (cmd_shim.c); started by the agent only, not in help. */
int cmd_shim(int argc, char **argv);

struct event_base;

/*
 * Runs base until SIGINT or SIGTERM (logged under component). ready (may be
 * NULL) is called once the signals are watched, before the loop runs: the
 * place to tell the world the command is up. 0, or 1 when the signals cannot
 * be watched (said on stderr).
 */
int cmd_run_until_signal(struct event_base *base, const char *component,
			 void (*ready)(void *arg), void *arg);

/* Where a server listens, for cmd_announce_listening. */
struct cmd_listening {
	const char *what; /* "llmo gateway" */
	bool tls;
	const char *host; /* an IPv6 address without brackets */
	int port;
};
/*
 * Prints "WHAT listening on SCHEME://HOST:PORT" to stdout and flushes it:
 * tests and scripts wait for this line to learn the port. An IPv6 host is
 * put in brackets, as a URL wants it. arg is a struct cmd_listening; the
 * signature is that of cmd_run_until_signal's ready.
 */
void cmd_announce_listening(void *arg);
/*
 * Raises the soft limit of open descriptors to the hard one, for servers that
 * hold many connections (and files) at once; failing leaves the limit as it was.
 */
void cmd_raise_nofile(void);

struct llmo_config;
/*
 * Loads the configuration file at path (NULL: the defaults) into *out
 * (may be NULL to check only; free with llmo_config_free). Problems go to
 * stderr as FILE:LINE: FIELD: MESSAGE. 0 or an LLMO_E* code.
 */
int cmd_load_config(const char *path, struct llmo_config *out);
/*
 * --log-level LEVEL and --log-json: set logging and remember that a flag
 * did, so that cmd_apply_log_config leaves that setting alone (flags win
 * over the configuration file).
 */
void cmd_log_level_flag(enum llmo_log_level lvl);
void cmd_log_json_flag(void);
/*
 * The configuration's operator.logLevel and operator.logFormat, for the
 * settings no flag made. The long-running commands (server, controller,
 * scheduler, registry, agent) call it after loading a --config file.
 */
void cmd_apply_log_config(const struct llmo_config *cfg);

struct llmo_s3_config;
struct llmo_reg_s3_opts;
/* The registry's S3 options from modelRegistry.s3 (o points into c; cmd_registry.c). */
void cmd_s3_opts(const struct llmo_s3_config *c, struct llmo_reg_s3_opts *o);
struct llmo_model_registry_config;
struct llmo_registry_opts;
/*
 * What a running registry takes from modelRegistry besides its storage:
 * checksumValidation, reverifyInterval, maxVersions, autoCleanup and
 * gcInterval (cmd_registry.c; llmo registry and llmo server).
 */
void cmd_registry_config_opts(const struct llmo_model_registry_config *mr,
			      struct llmo_registry_opts *o);
/*
 * Splits "host:port" or "[v6]:port" (port 0..65535) into host (n bytes) and
 * *port. -1 when malformed or the host does not fit.
 */
int cmd_parse_listen(const char *s, char *host, size_t n, int *port);
/*
 * Reads the option at argv[*i] as "--name=value" or "--name value" (then
 * *i moves past the value) into name (64 bytes) and *value. Handles
 * -h/--help (prints usage) and --log-json itself. Returns CMD_OPT_VALUE,
 * CMD_OPT_HELP (the caller returns 0), CMD_OPT_HANDLED (next option), or
 * CMD_OPT_ERROR (reported; the caller returns 2).
 */
enum cmd_opt { CMD_OPT_VALUE, CMD_OPT_HELP, CMD_OPT_HANDLED, CMD_OPT_ERROR };
enum cmd_opt cmd_option(const char *sub, const char *usage, int argc, char **argv, int *i,
			char name[64], const char **value);
/*
 * Reads a duration flag's value v ("30s", "1m", "250ms") into *ms (whole
 * milliseconds). A malformed or negative one is reported as a usage error
 * of SUB naming flag: returns 2; else 0.
 */
int cmd_parse_ms(const char *sub, const char *flag, const char *v, int64_t *ms);
/* Prints "llmo SUB: message" to stderr and returns 2. */
int cmd_usage_error(const char *sub, const char *fmt, ...) LLMO_PRINTF(2, 3);

/*
 * The options of the agent's model fetch step (`llmo fetch` before a
 * replica's command; agent.h): argv is NULL-terminated and points into fa
 * and the strings given, which must outlive it. cfg gives cacheSize and
 * signatureValidation; token_file, cacert, trusted_keys may be NULL.
 */
struct cmd_fetch_args {
	const char *argv[16];
	char size[32];
};
void cmd_fetch_args_init(struct cmd_fetch_args *fa, const char *cache_dir,
			 const struct llmo_config *cfg, const char *token_file,
			 const char *creds_file, const char *cacert, bool plain_http,
			 const char *trusted_keys);

/*
 * A registry's credentials as `llmo model` and `llmo fetch` take them:
 * --token (else --token-file's first line) as the bearer token, --creds
 * USER:PASSWORD (else --creds-file's first line, else $LLMO_REGISTRY_CREDS)
 * as the user name and password. cmd_reg_auth_apply points co's token,
 * username and password at them (valid until cmd_reg_auth_release); 0, or
 * err naming the file or the flag (a value without ':', an empty user).
 */
struct llmo_reg_client_opts;
struct llmo_error;
struct cmd_reg_auth {
	const char *token, *token_file, *creds, *creds_file;
	struct llmo_buf tok, cred; /* read from the files; kept by apply */
};
int cmd_reg_auth_apply(struct cmd_reg_auth *a, struct llmo_reg_client_opts *co,
		       struct llmo_error *err);
void cmd_reg_auth_release(struct cmd_reg_auth *a);

/*
 * The public key called name (an LLMModel's signature.keyRef) among the
 * trusted keys (a directory of NAME.pub files, or one such file) into
 * keys[0], *nkeys 1; the error (LLMO_EDENIED for a bad or missing name)
 * starts "signature.keyRef: ".
 */
struct llmo_sig_key;
struct llmo_error;
int cmd_load_named_key(const char *trusted, const char *name, struct llmo_sig_key **keys,
		       size_t *nkeys, struct llmo_error *err);

/* A "--flag VALUE" option stored as a const char * at offset off of an options struct. */
struct cmd_str_flag {
	const char *name;
	size_t off;
};

/*
 * Finds the flag named by the first n bytes of arg in flags (nflags) and
 * stores value into opts at its offset. false when there is no such flag.
 */
bool cmd_str_flag_set(const struct cmd_str_flag *flags, size_t nflags, void *opts,
		      const char *arg, size_t n, const char *value);

#endif
