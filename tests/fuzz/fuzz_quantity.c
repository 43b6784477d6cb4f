/*
 * Fuzz target for base/quantity.h (fuzz_scalar.h says what is checked): a
 * parsed value formats, in both forms, to a string that parses back to
 * exactly that value and formats to itself again, and llmo_quantity_is_valid
 * agrees with the parser. The same bytes read as JSON go through
 * llmo_quantity_from_json().
 */
#include "base/common.h"

#include "base/quantity.h"
#include "fuzz_scalar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(int64_t v)
{
	static const enum llmo_qformat fmts[] = {LLMO_QFORMAT_DECIMAL_SI, LLMO_QFORMAT_BINARY_SI};

	for (size_t i = 0; i < LLMO_ARRAY_LEN(fmts); i++) {
		char out[LLMO_QUANTITY_FMT_MAX], again[LLMO_QUANTITY_FMT_MAX];
		int64_t back;

		if (llmo_quantity_format(v, fmts[i], out, sizeof(out)) != 0)
			abort();
		if (llmo_quantity_parse(out, &back, NULL) != 0 || back != v)
			abort();
		if (llmo_quantity_format(back, fmts[i], again, sizeof(again)) != 0 ||
		    strcmp(out, again) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct fuzz_scalar f = {
		.parse = llmo_quantity_parse,
		.from_json = llmo_quantity_from_json,
		.round_trip = round_trip,
		.is_valid = llmo_quantity_is_valid,
	};

	return fuzz_scalar_run(&f, data, size);
}
