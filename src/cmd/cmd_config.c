/*
 * llmo config defaults | llmo config validate FILE...
 */
#include "api/config.h"
#include "api/validate.h"
#include "base/buf.h"
#include "base/error.h"
#include "cmd/cmd.h"

static const char config_usage[] =
	"usage: llmo config defaults\n"
	"       llmo config validate FILE...\n"
	"\n"
	"defaults   prints the whole configuration with every key, its default and a\n"
	"           comment; redirect it to a file to start your own.\n"
	"validate   checks configuration files: unknown keys, wrong types, values out\n"
	"           of bounds and inconsistent values, each with its line.\n";

static int config_defaults(void)
{
	struct llmo_buf out;
	int rc;

	llmo_buf_init(&out, LLMO_BUF_UNLIMITED);
	rc = llmo_config_write_defaults(&out);
	if (!rc)
		fwrite(out.data, 1, out.len, stdout);
	else
		fprintf(stderr, "llmo config defaults: %s\n", llmo_strerror(rc));
	llmo_buf_release(&out);
	return rc ? 1 : 0;
}

static int config_validate(int argc, char **argv)
{
	struct llmo_validate_opts opts = {.out = stdout};
	struct llmo_validate_result res = {0};
	int rc = 0;

	if (argc < 2)
		return cmd_usage_error("config", "validate needs a file");
	for (int i = 1; !rc && i < argc; i++) {
		size_t before = res.documents;

		rc = llmo_validate_path(argv[i], &opts, &res);
		(void)before;
	}
	if (rc) {
		fprintf(stderr, "llmo config validate: %s\n", llmo_strerror(rc));
		return 1;
	}
	return res.invalid ? 1 : 0;
}

int cmd_config(int argc, char **argv)
{
	if (argc < 2)
		return cmd_usage_error("config", "which? defaults or validate (see --help)");
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(config_usage, stdout);
		return 0;
	}
	if (strcmp(argv[1], "defaults") == 0)
		return config_defaults();
	if (strcmp(argv[1], "validate") == 0)
		return config_validate(argc - 1, argv + 1);
	return cmd_usage_error("config", "unknown subcommand \"%s\" (see --help)", argv[1]);
}
