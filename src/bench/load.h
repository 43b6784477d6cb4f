#ifndef LLMO_BENCH_LOAD_H
#define LLMO_BENCH_LOAD_H
/*
 * struct llmo_load: the open-loop load generator of `llmo bench load`
 * (docs/bench-load.md). It sends POST /v1/completions at the times a
 * struct llmo_load_schedule gives, whether or not earlier requests have
 * finished, over up to `concurrency_max` keep-alive connections (one
 * request in flight on each), on a libevent loop.
 *
 * A request is late when it is sent more than LLMO_LOAD_LATE_NS after its
 * scheduled time: the loop was busy, or every connection was in use (the
 * schedule then waits, without storing the requests it owes, and sends them
 * as connections free up). TTFT and latency are measured from the scheduled
 * time, so lateness counts in them (no coordinated omission). TTFT is the
 * first SSE data event of a stream, or the first body byte otherwise.
 *
 * Memory is bounded: the connections (each with a line or body buffer of
 * at most LLMO_LOAD_BODY_MAX bytes) and two fixed histograms.
 */
#include "base/common.h"

#include "base/error.h"
#include "bench/hist.h"
#include "bench/schedule.h"

struct event_base;

#define LLMO_LOAD_LATE_NS (INT64_C(10) * 1000000)   /* 10 ms */
#define LLMO_LOAD_BODY_MAX (1024 * 1024)		/* per answer (or SSE line) kept for parsing */
#define LLMO_LOAD_CONCURRENCY_MAX 65536
#define LLMO_LOAD_URL_MAX 2048

/* Why a request failed, besides an HTTP status outside 2xx. */
enum llmo_load_fail {
	LLMO_LOAD_FAIL_CONNECT,	  /* no connection could be made */
	LLMO_LOAD_FAIL_TIMEOUT,	  /* the target was silent for the timeout */
	LLMO_LOAD_FAIL_CLOSED,	  /* the connection closed before the answer ended */
	LLMO_LOAD_FAIL_PROTOCOL,  /* a malformed HTTP answer */
	LLMO_LOAD_FAIL_BODY,	  /* a 2xx answer that is not a completion (bad JSON or SSE) */
	LLMO_LOAD_FAIL_TRUNCATED, /* a stream that ended without "data: [DONE]" */
	LLMO_LOAD_FAIL_KINDS
};

const char *llmo_load_fail_name(int kind);

struct llmo_load_stats {
	uint64_t sent, completed, failed, in_flight;
	uint64_t late;
	int64_t late_max; /* ns */
	uint64_t status[600]; /* failed answers by HTTP status (100..599) */
	uint64_t kind[LLMO_LOAD_FAIL_KINDS];
	uint64_t prompt_tokens;	    /* of the requests sent */
	uint64_t completion_tokens; /* of the completed answers (their usage, else counted) */
	struct llmo_hist ttft, latency; /* completed requests */
	uint64_t within_slo; /* completed with TTFT <= opts.slo_ttft_ns (when that is set) */
	int64_t elapsed;		/* ns since the start */
	bool done;			/* the schedule is over and nothing is in flight */
};

struct llmo_load_opts {
	char url[LLMO_LOAD_URL_MAX];  /* http://host:port/path of the completions endpoint */
	char path[LLMO_LOAD_URL_MAX]; /* its path (and query) */
	char host[256];
	int port;
	const char *model;
	const char *api_key; /* NULL: no Authorization header */
	bool stream;
	int concurrency_max;
	int timeout_s; /* longest silence of the target on a request */
	int64_t slo_ttft_ns; /* > 0: count the completed requests whose TTFT is within it */
	/* Called every progress_ns (0: never) from the loop; may be NULL. */
	void (*progress)(const struct llmo_load_stats *st, void *arg);
	int64_t progress_ns;
	void *arg;
};

/*
 * Parses an http:// URL into o->url, host and port: requests go to its path
 * when it ends with "/completions", else to PATH/v1/completions. LLMO_EINVAL
 * with a message otherwise (https is not supported).
 */
int llmo_load_target(struct llmo_load_opts *o, const char *url, struct llmo_error *err);

/*
 * Connects to host:port once (timeout_ms), to tell a dead target before the
 * run: LLMO_EIO with "cannot connect to HOST:PORT: REASON".
 */
int llmo_load_probe(const char *host, int port, int timeout_ms, struct llmo_error *err);

/*
 * The first model the target lists at GET /v1/models (on host:port), into
 * out (n bytes): for a run without --model. LLMO_EIO, LLMO_EPARSE or
 * LLMO_ENOTFOUND with a message.
 */
int llmo_load_first_model(const struct llmo_load_opts *o, char *out, size_t n,
			  struct llmo_error *err);

/*
 * Runs the schedule against the target on base until the schedule is over
 * and every request has finished (st->done), or until something else breaks
 * the loop (a signal: event_base_loopbreak); requests still in flight are
 * then dropped, not counted. st is initialized here. 0, or LLMO_ENOMEM /
 * LLMO_EINTERNAL with a message.
 */
int llmo_load_run(struct event_base *base, struct llmo_load_schedule *s,
		  const struct llmo_load_opts *o, struct llmo_load_stats *st, struct llmo_error *err);

/* Whether a send at `sent` for a request due at `due` (ns) is late. */
bool llmo_load_is_late(int64_t due, int64_t sent);

#endif
