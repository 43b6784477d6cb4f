#ifndef LLMO_GATEWAY_SCRAPE_H
#define LLMO_GATEWAY_SCRAPE_H
/*
 * Backend metrics: what a replica's own /metrics says about its load, read
 * from vLLM's names (and llmo inference-sim's, which are the same):
 *
 *     vllm:num_requests_waiting   summed over the series (one per model name)
 *     vllm:num_requests_running   summed
 *     vllm:gpu_cache_usage_perc   the largest (vLLM V1 also: vllm:kv_cache_usage_perc)
 *
 * The gateway scrapes each backend every opts.scrape_interval_ms (gateway.c
 * drives the connections; this file reads the answers) and counts the
 * waiting requests into the backend's load (balance.c). Input is another
 * process's: the answer is bounded by LLMO_GW_SCRAPE_MAX and parsed by the
 * strict Prometheus text reader (metrics/parse.h); anything wrong makes the
 * scrape a failure, and a failed scrape forgets the backend's values.
 */
#include "base/common.h"

#include "base/error.h"

/* Largest /metrics answer read (vLLM's is about 100 KiB with its histograms). */
#define LLMO_GW_SCRAPE_MAX ((size_t)1 << 20)
/* Waiting and running counts above this are taken as this. */
#define LLMO_GW_SCRAPE_COUNT_MAX 1000000

struct llmo_gw_scraped {
	int waiting, running; /* -1: the answer had no such series */
	double kv_usage;      /* 0 .. 1; -1: none */
};

/*
 * Reads a whole HTTP/1.x answer to GET /metrics (head and body, the body
 * with Content-Length, chunked, or up to the connection's close) of len
 * bytes. 0 with *out filled, or LLMO_EPARSE (a malformed answer or text),
 * LLMO_ERANGE (not a 200), LLMO_ENOMEM; err says what.
 */
int llmo_gw_scrape_parse(const char *resp, size_t len, struct llmo_gw_scraped *out,
			 struct llmo_error *err);

#endif
