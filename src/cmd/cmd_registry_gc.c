/*
 * llmo registry gc: offline garbage collection of a registry's storage
 * (src/registry/gc.h): blobs no manifest refers to, links to them, and
 * upload sessions left idle too long; with storageType s3, in the bucket
 * too. Refuses to run while a registry serves the storage (DIR/lock).
 */
#include "base/common.h"

#include <sys/stat.h>
#include <unistd.h>

#include "api/config.h"
#include "base/duration.h"
#include "base/file.h"
#include "base/log.h"
#include "cmd/cmd.h"
#include "registry/gc.h"
#include "registry/store.h"

#include "base/banned.h"

#define SUB "registry gc"
/* Exit status when a registry server holds the storage (try again once it stops). */
#define EXIT_LOCKED 3
#define UPLOAD_MAX_AGE_DEFAULT "24h"

static const char usage[] =
	"usage: llmo registry gc [--storage DIR | --config FILE] [--dry-run]\n"
	"                        [--upload-max-age DURATION] [--grace DURATION]\n"
	"\n"
	"Removes from a registry's storage, with no registry serving it, the blobs that\n"
	"no manifest of any repository refers to (and the repositories' links to them)\n"
	"and the upload sessions not written to for longer than --upload-max-age.\n"
	"Prints one line per thing removed and a summary with the bytes freed.\n"
	"\n"
	"  --storage DIR             the registry's storage directory\n"
	"  --config FILE             or the modelRegistry of this llmo configuration:\n"
	"                            its storagePath, or with storageType s3 its bucket\n"
	"                            (storagePath is then the registry's cache)\n"
	"  --dry-run                 print what would be removed; remove nothing\n"
	"  --upload-max-age DUR      upload sessions idle longer than this go (default 24h)\n"
	"  --grace DUR               blobs linked into a repository less than this ago\n"
	"                            stay, as an upload waiting for its manifest (default 1h)\n"
	"\n"
	"Exit status: 0 done (also when there was nothing to remove), 1 failure (nothing\n"
	"is removed when a manifest cannot be read), 2 usage error, 3 a registry server\n"
	"is using the storage.\n";

struct report {
	bool dry_run;
};

static void report(void *arg, enum llmo_reg_gc_kind kind, const char *repo, const char *name,
		   uint64_t bytes)
{
	const struct report *r = arg;
	const char *verb = r->dry_run ? "would remove" : "removed";

	switch (kind) {
	case LLMO_REG_GC_BLOB:
		printf("%s blob sha256:%s %" PRIu64 " bytes\n", verb, name, bytes);
		break;
	case LLMO_REG_GC_LINK:
		printf("%s link %s sha256:%s\n", verb, repo, name);
		break;
	case LLMO_REG_GC_UPLOAD:
		printf("%s upload %s %s %" PRIu64 " bytes\n", verb, name, repo ? repo : "-", bytes);
		break;
	}
}

/* Reads a duration flag into *ms; 0 or a usage error (2). */
static int parse_ms(const char *flag, const char *v, int64_t *ms)
{
	struct llmo_error err = {0};
	int64_t ns;

	if (llmo_duration_parse(v, &ns, &err) || ns < 0)
		return cmd_usage_error(SUB, "%s wants a duration such as 24h or 90m, not \"%s\"",
				       flag, v);
	*ms = ns / 1000000;
	return 0;
}

int cmd_registry_gc(int argc, char **argv)
{
	struct llmo_reg_gc_opts go = {.report = report};
	struct llmo_reg_store_opts so = {0};
	struct llmo_reg_s3_opts s3 = {0};
	struct llmo_reg_gc_stats st = {0};
	struct llmo_reg_store *store = NULL;
	struct llmo_config cfg = {0};
	struct llmo_error err = {0};
	struct report rep = {0};
	const char *storage = NULL, *config = NULL;
	int64_t upload_max_ms = 0;
	struct stat sb;
	int lock = -1, status = 1, rc;

	/* what was removed goes to stdout; the log only says what went wrong */
	llmo_log_set_level(LLMO_LOG_WARN);
	if (parse_ms("--upload-max-age", UPLOAD_MAX_AGE_DEFAULT, &upload_max_ms))
		return 2;
	for (int i = 1; i < argc; i++) {
		enum cmd_opt k;
		char name[64];
		const char *v;

		if (strcmp(argv[i], "--dry-run") == 0) {
			rep.dry_run = go.dry_run = true;
			continue;
		}
		if ((k = cmd_option(SUB, usage, argc, argv, &i, name, &v)) == CMD_OPT_HELP)
			return 0;
		if (k == CMD_OPT_ERROR)
			return 2;
		if (k == CMD_OPT_HANDLED)
			continue;
		if (strcmp(name, "--storage") == 0) {
			storage = v;
		} else if (strcmp(name, "--config") == 0) {
			config = v;
		} else if (strcmp(name, "--upload-max-age") == 0) {
			if (parse_ms(name, v, &upload_max_ms))
				return 2;
		} else if (strcmp(name, "--grace") == 0) {
			if (parse_ms(name, v, &go.grace_ms))
				return 2;
			if (go.grace_ms == 0)
				go.grace_ms = -1; /* 0 in the options means the default */
		} else {
			return cmd_usage_error(SUB, "unknown flag %s (see --help)", name);
		}
	}
	go.arg = &rep;
	if (storage && config)
		return cmd_usage_error(SUB, "give --storage or --config, not both");
	if (config) {
		if (cmd_load_config(config, &cfg))
			goto out;
		if (cfg.model_registry.storage_type == LLMO_STORAGE_S3) {
			/* the bucket is the registry; storagePath its cache, made when missing */
			cmd_s3_opts(&cfg.model_registry.s3, &s3);
			so.s3 = &s3;
		} else if (cfg.model_registry.storage_type != LLMO_STORAGE_LOCAL) {
			fprintf(stderr, "llmo %s: %s: modelRegistry.storageType: only \"local\" "
					"and \"s3\" storage can be collected\n", SUB, config);
			goto out;
		}
		storage = cfg.model_registry.storage_path;
	}
	if (!storage || !*storage) {
		status = cmd_usage_error(SUB, "no storage: give --storage DIR or --config FILE");
		goto out;
	}
	if (so.s3 && llmo_mkdir_p(storage, 0700, &err)) {
		fprintf(stderr, "llmo %s: %s\n", SUB, err.msg);
		goto out;
	}
	/* never create a local storage to collect: a typo must not look like an empty registry */
	if (stat(storage, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "llmo %s: %s: %s\n", SUB, storage,
			S_ISDIR(sb.st_mode) || !sb.st_mode ? strerror(errno) : "not a directory");
		goto out;
	}
	if ((rc = llmo_reg_lock_take(storage, true, &lock, &err))) {
		fprintf(stderr, "llmo %s: %s%s\n", SUB, err.msg,
			rc == LLMO_EAGAIN ? "; stop it first (nothing was removed)" : "");
		status = rc == LLMO_EAGAIN ? EXIT_LOCKED : 1;
		goto out;
	}
	so.root = storage;
	so.checksum_validation = true;
	if (llmo_reg_store_open(&so, &store, &err) || llmo_reg_gc_run(store, &go, &st, &err) ||
	    llmo_reg_gc_uploads(store, upload_max_ms, &go, &st, &err)) {
		fprintf(stderr, "llmo %s: %s\n", SUB, err.msg);
		goto out;
	}
	printf("%s %zu blobs (%" PRIu64 " bytes), %zu links, %zu uploads (%" PRIu64
	       " bytes); %zu manifests and %zu blobs kept; %s %" PRIu64 " bytes\n",
	       go.dry_run ? "would remove" : "removed", st.blobs_removed, st.bytes_removed,
	       st.links_removed, st.uploads_removed, st.upload_bytes_removed, st.manifests,
	       st.blobs_kept, go.dry_run ? "would free" : "freed",
	       st.bytes_removed + st.upload_bytes_removed);
	status = 0;
out:
	llmo_reg_store_free(store);
	if (lock >= 0)
		close(lock);
	llmo_config_free(&cfg);
	return status;
}
