/*
 * llmo validate [-q] [--config FILE] [-f] PATH...
 */
#include "api/config.h"
#include "api/validate.h"
#include "base/error.h"
#include "base/yaml.h"
#include "cmd/cmd.h"

/* stdin ("-") is read up to this size, like a file. */
#define VALIDATE_STDIN_MAX (16u * 1024 * 1024)

static const char validate_usage[] =
	"usage: llmo validate [-q] [--config FILE] [-f] PATH [[-f] PATH ...]\n"
	"\n"
	"Checks LLMWorkload and LLMModel objects (llm.orchestrator.io/v1) and llmo\n"
	"configuration files: schema (types, enums, bounds, unknown fields), names,\n"
	"and the rules between fields. PATH is a YAML or JSON file (multi-document\n"
	"streams allowed), a directory (its *.yaml, *.yml, *.json, recursively) or -\n"
	"for standard input. Each problem is printed as FILE:LINE: FIELD: MESSAGE.\n"
	"\n"
	"  -f PATH         a file, directory or - (the -f is optional)\n"
	"  -q, --quiet     print only problems\n"
	"  --config FILE   also check workloads against this configuration\n"
	"                  (resourceProfile names, per-workload limits)\n"
	"\n"
	"Exit status: 0 all valid, 1 something invalid, 2 usage error.\n";

/* Loads the configuration used for cross-checks; prints its problems. */
static int load_config(const char *path, struct llmo_config *cfg)
{
	struct llmo_yaml_stream s = {0};
	struct llmo_error err = {0};
	struct llmo_errlist errs;
	int rc;

	llmo_errlist_init(&errs);
	rc = llmo_yaml_load_file(path, &s, &err);
	if (rc) {
		fprintf(stderr, "%s\n", err.msg);
		goto out;
	}
	if (s.ndocs != 1) {
		fprintf(stderr, "%s: expected one configuration document, found %zu\n", path,
			s.ndocs);
		rc = LLMO_EINVAL;
		goto out;
	}
	rc = llmo_config_from_json(s.docs[0].root, cfg, &errs);
	if (!rc && llmo_errlist_count(&errs)) {
		for (size_t i = 0; i < errs.v.len; i++)
			fprintf(stderr, "%s:%d: %s: %s\n", path,
				llmo_yaml_line(&s.docs[0], errs.v.items[i].path),
				errs.v.items[i].path, errs.v.items[i].msg);
		rc = LLMO_EINVAL;
	}
out:
	llmo_errlist_release(&errs);
	llmo_yaml_stream_release(&s);
	return rc;
}

static int validate_stdin(const struct llmo_validate_opts *o, struct llmo_validate_result *res)
{
	struct llmo_buf in;
	char chunk[65536];
	size_t n;
	int rc = 0;

	llmo_buf_init(&in, VALIDATE_STDIN_MAX);
	while (!rc && (n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		rc = llmo_buf_append(&in, chunk, n);
	if (rc == LLMO_ETOOBIG) {
		fprintf(o->out, "-: standard input is larger than %u bytes\n", VALIDATE_STDIN_MAX);
		res->files++;
		res->invalid++;
		rc = 0;
	} else if (!rc) {
		rc = llmo_validate_text(in.data, in.len, "-", o, res);
	}
	llmo_buf_release(&in);
	return rc;
}

int cmd_validate(int argc, char **argv)
{
	struct llmo_validate_opts opts = {.out = stdout};
	struct llmo_validate_result res = {0};
	struct llmo_config cfg = {0};
	const char *config_path = NULL;
	const char **paths;
	size_t npaths = 0;
	int rc = 0, status;

	paths = calloc((size_t)argc + 1, sizeof(*paths));
	if (!paths)
		return 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(validate_usage, stdout);
			free(paths);
			return 0;
		} else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
			opts.quiet = true;
		} else if (strcmp(a, "-f") == 0 || strcmp(a, "--filename") == 0) {
			if (++i == argc) {
				free(paths);
				return cmd_usage_error("validate", "%s needs a path", a);
			}
			paths[npaths++] = argv[i];
		} else if (strcmp(a, "--config") == 0) {
			if (++i == argc) {
				free(paths);
				return cmd_usage_error("validate", "--config needs a file");
			}
			config_path = argv[i];
		} else if (a[0] == '-' && a[1] != '\0') {
			free(paths);
			return cmd_usage_error("validate", "unknown option %s (see --help)", a);
		} else {
			paths[npaths++] = a;
		}
	}
	if (npaths == 0) {
		free(paths);
		return cmd_usage_error("validate", "no files given (see --help)");
	}
	if (config_path) {
		if (load_config(config_path, &cfg)) {
			status = 1;
			goto out;
		}
		opts.cfg = &cfg;
	}
	for (size_t i = 0; !rc && i < npaths; i++) {
		if (strcmp(paths[i], "-") == 0)
			rc = validate_stdin(&opts, &res);
		else
			rc = llmo_validate_path(paths[i], &opts, &res);
	}
	if (rc) {
		fprintf(stderr, "llmo validate: %s\n", llmo_strerror(rc));
		status = 1;
		goto out;
	}
	printf("%zu document%s in %zu file%s: %zu valid, %zu invalid\n", res.documents,
	       res.documents == 1 ? "" : "s", res.files, res.files == 1 ? "" : "s",
	       res.documents >= res.invalid ? res.documents - res.invalid : 0, res.invalid);
	status = res.invalid ? 1 : 0;
out:
	llmo_config_free(&cfg);
	free(paths);
	return status;
}
