/*
 * Fuzz target for reading a backend's /metrics answer (gateway/scrape.h):
 * any bytes either give values within their bounds, or a refusal with a
 * message.
 */
#include "base/common.h"

#include "gateway/scrape.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct llmo_gw_scraped v;
	struct llmo_error err = {0};

	if (size > LLMO_GW_SCRAPE_MAX)
		return 0;
	if (llmo_gw_scrape_parse((const char *)data, size, &v, &err)) {
		if (!err.msg[0])
			abort();
		return 0;
	}
	if (v.waiting < -1 || v.waiting > LLMO_GW_SCRAPE_COUNT_MAX || v.running < -1 ||
	    v.running > LLMO_GW_SCRAPE_COUNT_MAX || !(v.kv_usage == -1 || (v.kv_usage >= 0 &&
								       v.kv_usage <= 1)))
		abort();
	return 0;
}
