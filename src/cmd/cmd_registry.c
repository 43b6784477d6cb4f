/*
 * llmo registry: the OCI model registry (src/registry/registry.h) until
 * SIGINT or SIGTERM.
 */
#include "base/common.h"

#include <event2/event.h>
#include <signal.h>

#include "api/config.h"
#include "base/duration.h"
#include "base/log.h"
#include "base/str.h"
#include "cmd/cmd.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "registry/registry.h"

#include "base/banned.h"

#define SUB "registry"

static const char usage[] =
	"usage: llmo registry [--listen ADDR:PORT] [--storage DIR] [--config FILE]\n"
	"                     [--tokens FILE] [--tokens-secret [NAMESPACE/]NAME]\n"
	"                     [--kubeconfig FILE] [--anonymous ACTIONS]\n"
	"                     [--tls-cert FILE --tls-key FILE]\n"
	"                     [--checksum-validation BOOL] [--log-level LEVEL] [--log-json]\n"
	"       llmo registry gc [--storage DIR | --config FILE] [--dry-run] ... (gc --help)\n"
	"\n"
	"Serves an OCI Distribution Specification v1.1 registry for models: pushes and\n"
	"pulls with skopeo, oras or docker, chunked and resumable uploads,\n"
	"cross-repository mounts, tags, the catalog and the referrers API. Blobs are\n"
	"stored by digest under the storage directory, verified as they arrive and\n"
	"when they are served. Bearer tokens give tenants pull, push and delete on\n"
	"repository patterns. docs/registry.md describes it all.\n"
	"\n"
	"  --listen ADDR:PORT        address to serve on (default 127.0.0.1:5000; port 0\n"
	"                            picks a free one; the URL is printed)\n"
	"  --storage DIR             storage directory (default: modelRegistry.storagePath\n"
	"                            of --config); with modelRegistry.storageType s3, the\n"
	"                            cache of the bucket (modelRegistry.s3)\n"
	"  --config FILE             llmo configuration (its modelRegistry section)\n"
	"  --tokens FILE             token file: one \"TOKEN TENANT SCOPE...\" a line,\n"
	"                            SCOPE like repository:models/x:pull,push (mode 0600);\n"
	"                            read again when it changes, and on SIGHUP\n"
	"  --tokens-secret [NS/]NAME more tokens, in the same format, from the key\n"
	"                            \"tokens\" of this Secret (namespace default\n"
	"                            $POD_NAMESPACE, else default), watched: a new\n"
	"                            version takes effect without a restart\n"
	"  --kubeconfig FILE         the API of --tokens-secret (default $KUBECONFIG,\n"
	"                            ~/.kube/config, then the pod's service account)\n"
	"  --anonymous ACTIONS       what callers without a token may do on every\n"
	"                            repository: none (default), pull, pull,push, ...\n"
	"  --tls-cert FILE           serve HTTPS with this PEM certificate (chain) ...\n"
	"  --tls-key FILE            ... and this PEM key\n"
	"  --checksum-validation B   verify blob digests when serving (default true, or\n"
	"                            the configuration's modelRegistry.checksumValidation)\n"
	"  --reverify-interval D     a blob verified whole at most D ago, its file unchanged\n"
	"                            since, is sent without hashing it again; 0s: hash\n"
	"                            every whole read (default 1h, or the configuration's\n"
	"                            modelRegistry.reverifyInterval)\n"
	"  --sendfile WHEN           plain HTTP: send blob files with sendfile() to\n"
	"                            auto (peers not on loopback; the default), always\n"
	"                            or never (read and written instead)\n"
	"  --log-level LEVEL         debug | info | warn | error (default info)\n"
	"  --log-json                log JSON lines instead of text\n";


static void on_hup(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	llmo_registry_reload_tokens(arg);
}

void cmd_s3_opts(const struct llmo_s3_config *c, struct llmo_reg_s3_opts *o)
{
	*o = (struct llmo_reg_s3_opts){.endpoint = c->endpoint,
				       .bucket = c->bucket,
				       .region = c->region,
				       .prefix = c->prefix,
				       .credentials_file = c->credentials_file,
				       .ca_file = c->ca_file,
				       /* quantities are in milli-bytes */
				       .multipart_threshold = (uint64_t)(c->multipart_threshold / 1000),
				       .part_size = (uint64_t)(c->part_size / 1000),
				       .concurrency = (size_t)c->concurrency,
				       .cache_size = (uint64_t)(c->cache_size / 1000)};
}

void cmd_registry_config_opts(const struct llmo_model_registry_config *mr,
			      struct llmo_registry_opts *o)
{
	o->checksum_validation = mr->checksum_validation;
	o->reverify_ms = mr->reverify_interval / 1000000;
	o->max_versions = mr->max_versions;
	o->auto_cleanup = mr->auto_cleanup;
	o->gc_interval_ms = mr->gc_interval / 1000000;
}

/*
 * Takes storage and checksum settings from the configuration file's
 * modelRegistry (path NULL: the defaults, so that maxVersions and
 * autoCleanup mean the same without a file; the storage path then comes
 * from --storage only); with storageType s3, s3 (kept by the caller) is
 * filled and o points at it.
 */
static int apply_config(const char *path, struct llmo_config *cfg, struct llmo_registry_opts *o,
			struct llmo_reg_s3_opts *s3, bool checksum_given, bool reverify_given)
{
	bool checksum = o->checksum_validation; /* the flags given win over the file */
	int64_t reverify = o->reverify_ms;

	if (cmd_load_config(path, cfg))
		return 1;
	if (path)
		cmd_apply_log_config(cfg);
	if (cfg->model_registry.storage_type == LLMO_STORAGE_S3) {
		cmd_s3_opts(&cfg->model_registry.s3, s3);
		o->s3 = s3;
	} else if (cfg->model_registry.storage_type != LLMO_STORAGE_LOCAL) {
		fprintf(stderr,
			"llmo registry: %s: modelRegistry.storageType: only \"local\" and \"s3\" "
			"are implemented\n",
			path);
		return 1;
	}
	if (path && !o->storage_path)
		o->storage_path = cfg->model_registry.storage_path;
	cmd_registry_config_opts(&cfg->model_registry, o);
	if (checksum_given)
		o->checksum_validation = checksum;
	if (reverify_given)
		o->reverify_ms = reverify;
	return 0;
}

int cmd_registry(int argc, char **argv)
{
	struct llmo_registry_opts opts;
	struct llmo_reg_s3_opts s3 = {0};
	struct llmo_registry *reg = NULL;
	struct event_base *base = NULL;
	struct llmo_config cfg = {0};
	struct llmo_error err = {0};
	const char *config = NULL, *kubeconfig = NULL;
	struct llmo_kube_client *kube = NULL;
	struct llmo_kube_config kc = {0};
	struct event *hup = NULL;
	char host[256] = "127.0.0.1";
	bool checksum_given = false, reverify_given = false;
	int status = 1;

	if (argc > 1 && strcmp(argv[1], "gc") == 0)
		return cmd_registry_gc(argc - 1, argv + 1);
	llmo_registry_opts_init(&opts);
	for (int i = 1; i < argc; i++) {
		enum cmd_opt k;
		char name[64];
		const char *v;

		if ((k = cmd_option(SUB, usage, argc, argv, &i, name, &v)) == CMD_OPT_HELP)
			return 0;
		if (k == CMD_OPT_ERROR)
			return 2;
		if (k == CMD_OPT_HANDLED)
			continue;
		if (strcmp(name, "--listen") == 0) {
			if (cmd_parse_listen(v, host, sizeof(host), &opts.port))
				return cmd_usage_error(SUB, "--listen wants ADDR:PORT, not \"%s\"", v);
		} else if (strcmp(name, "--storage") == 0) {
			opts.storage_path = v;
		} else if (strcmp(name, "--config") == 0) {
			config = v;
		} else if (strcmp(name, "--tokens") == 0) {
			opts.tokens_file = v;
		} else if (strcmp(name, "--tokens-secret") == 0) {
			opts.tokens_secret = v;
		} else if (strcmp(name, "--kubeconfig") == 0) {
			kubeconfig = v;
		} else if (strcmp(name, "--anonymous") == 0) {
			opts.anonymous = v;
		} else if (strcmp(name, "--tls-cert") == 0) {
			opts.tls_cert = v;
		} else if (strcmp(name, "--tls-key") == 0) {
			opts.tls_key = v;
		} else if (strcmp(name, "--checksum-validation") == 0) {
			if (llmo_parse_bool(v, &opts.checksum_validation, &err))
				return cmd_usage_error(SUB, "--checksum-validation: %s", err.msg);
			checksum_given = true;
		} else if (strcmp(name, "--sendfile") == 0) {
			if (strcmp(v, "auto") == 0)
				opts.sendfile = LLMO_REGISTRY_SENDFILE_AUTO;
			else if (strcmp(v, "always") == 0)
				opts.sendfile = LLMO_REGISTRY_SENDFILE_ALWAYS;
			else if (strcmp(v, "never") == 0)
				opts.sendfile = LLMO_REGISTRY_SENDFILE_NEVER;
			else
				return cmd_usage_error(SUB, "--sendfile wants auto, always or never, "
							    "not \"%s\"", v);
		} else if (strcmp(name, "--reverify-interval") == 0) {
			int64_t ns = 0;

			if (llmo_duration_parse(v, &ns, &err))
				return cmd_usage_error(SUB, "--reverify-interval: %s", err.msg);
			if (ns < 0)
				return cmd_usage_error(SUB, "--reverify-interval: \"%s\" is negative", v);
			opts.reverify_ms = ns / 1000000;
			reverify_given = true;
		} else if (strcmp(name, "--log-level") == 0) {
			enum llmo_log_level lvl;

			if (llmo_log_level_parse(v, &lvl))
				return cmd_usage_error(SUB, "--log-level: unknown level \"%s\"", v);
			cmd_log_level_flag(lvl);
		} else {
			return cmd_usage_error(SUB, "unknown flag %s (see --help)", name);
		}
	}
	opts.host = host;
	if (apply_config(config, &cfg, &opts, &s3, checksum_given, reverify_given))
		goto out;
	if (!opts.storage_path) {
		status = cmd_usage_error(SUB, "no storage: give --storage DIR (or --config with "
					      "modelRegistry.storagePath)");
		goto out;
	}
	if (!opts.tls_cert != !opts.tls_key) {
		status = cmd_usage_error(SUB, "--tls-cert and --tls-key go together");
		goto out;
	}
	/* connections (up to 1024) and open upload sessions (up to 1024, a file each)
	 * need more descriptors than the usual soft limit */
	cmd_raise_nofile();
	base = event_base_new();
	if (!base) {
		fprintf(stderr, "llmo registry: cannot create the event loop\n");
		goto out;
	}
	if (kubeconfig && !opts.tokens_secret) {
		status = cmd_usage_error(SUB, "--kubeconfig is for --tokens-secret");
		goto out;
	}
	if (opts.tokens_secret && (llmo_kube_config_auto(kubeconfig, NULL, &kc, &err) ||
				   llmo_kube_client_new(&kc, &kube, &err))) {
		fprintf(stderr, "llmo registry: --tokens-secret: %s\n", err.msg);
		goto out;
	}
	opts.kube = kube;
	if (llmo_registry_new(base, &opts, &reg, &err)) {
		fprintf(stderr, "llmo registry: %s\n", err.msg);
		goto out;
	}
	/* SIGHUP: read the token file again now (it is also polled) */
	hup = evsignal_new(base, SIGHUP, on_hup, reg);
	if (!hup || evsignal_add(hup, NULL) < 0) {
		fprintf(stderr, "llmo registry: cannot watch SIGHUP\n");
		goto out;
	}
	status = cmd_run_until_signal(base, SUB, cmd_announce_listening,
				      &(struct cmd_listening){.what = "llmo registry",
							      .tls = llmo_registry_tls(reg),
							      .host = host,
							      .port = llmo_registry_port(reg)});
out:
	if (hup)
		event_free(hup);
	llmo_registry_free(reg);
	llmo_kube_client_free(kube);
	llmo_kube_config_release(&kc);
	if (base)
		event_base_free(base);
	llmo_config_free(&cfg);
	return status;
}
