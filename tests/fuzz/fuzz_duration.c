/*
 * Fuzz target for base/duration.h (fuzz_scalar.h says what is checked): a
 * parsed value formats to a string that parses back to exactly that value
 * and formats to itself again. The same bytes read as JSON go through
 * llmo_duration_from_json().
 */
#include "base/common.h"

#include "base/duration.h"
#include "fuzz_scalar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(int64_t v)
{
	char out[LLMO_DURATION_FMT_MAX], again[LLMO_DURATION_FMT_MAX];
	int64_t back;

	if (llmo_duration_format(v, out, sizeof(out)) != 0)
		abort();
	if (llmo_duration_parse(out, &back, NULL) != 0 || back != v)
		abort();
	if (llmo_duration_format(back, again, sizeof(again)) != 0 || strcmp(out, again) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct fuzz_scalar f = {
		.parse = llmo_duration_parse,
		.from_json = llmo_duration_from_json,
		.round_trip = round_trip,
	};

	return fuzz_scalar_run(&f, data, size);
}
