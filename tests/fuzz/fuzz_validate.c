/*
 * A whole document through `llmo validate`: YAML parsing, kind dispatch, the
 * CRD schema, defaulting, decoding into the C types, the cross-field rules,
 * and configuration files. Nothing may crash, leak or read out of bounds.
 */
#include "api/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	struct llmo_validate_opts opts = {.quiet = false};
	struct llmo_validate_result res = {0};

	if (!sink)
		sink = fopen("/dev/null", "w");
	if (!sink)
		abort();
	opts.out = sink;
	if (llmo_validate_text((const char *)data, size, "fuzz", &opts, &res) == 0 &&
	    res.files != 1)
		abort();
	return 0;
}
