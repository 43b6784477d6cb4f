#ifndef LLMO_KUBE_CLIENT_INT_H
#define LLMO_KUBE_CLIENT_INT_H
/*
 * Internal to src/kube: what watch, informer, leader election and the event
 * recorder share with the client (llmo__kube prefix). Nothing outside
 * src/kube (and its tests) includes this.
 */
#include "kube/client.h"

#include <curl/curl.h>

/* Per-request settings that override the client's; 0 / NULL keep them. */
struct llmo__kube_req_opts {
	const volatile int *stop; /* abort (LLMO_ECLOSED) within ~1 s once *stop != 0 */
	long connect_timeout_ms;
	long timeout_ms;
	int attempts;
};

/* llmo_kube_request with opts (may be NULL). */
int llmo__kube_request(struct llmo_kube_client *c, const char *method, const char *path_and_query,
		       const char *content_type, const json_t *body, json_t **out, int *http_status,
		       const struct llmo__kube_req_opts *opts, struct llmo_error *err);

/* A curl handle from the client's pool (or a new one); NULL when out of memory. */
CURL *llmo__kube_handle_take(struct llmo_kube_client *c);
/*
 * Returns h to the pool (keeping its open connections) or, when reuse is
 * false or the pool is full, cleans it up.
 */
void llmo__kube_handle_give(struct llmo_kube_client *c, CURL *h, bool reuse);

/*
 * Resets h and sets everything a request to the server needs: the URL (the
 * server followed by path_and_query), TLS, the bearer token, Accept JSON,
 * no redirects, NOSIGNAL. *headers receives the header list, to free with
 * curl_slist_free_all after the transfer; extra_header (may be NULL) is
 * added to it. The caller sets the method, body, callbacks and timeouts.
 */
int llmo__kube_handle_setup(struct llmo_kube_client *c, CURL *h, const char *path_and_query,
			    const char *extra_header, struct curl_slist **headers,
			    struct llmo_error *err);

/*
 * Maps an HTTP error status and its body (a Status, or anything) to an
 * LLMO_E* code and err->msg.
 */
int llmo__kube_http_error(int status, const char *body, size_t len, struct llmo_error *err);

/*
 * The same for a decoded Status object (a watch's ERROR event): its code
 * (http_status when it has none), reason and message.
 */
int llmo__kube_status_error(const json_t *status, int http_status, struct llmo_error *err);

/* Maps the failure of a transfer; errbuf is curl's CURLOPT_ERRORBUFFER text. */
int llmo__kube_curl_error(CURLcode code, const char *method, const char *path, const char *errbuf,
			  struct llmo_error *err);

/*
 * Stop flags are plain ints shared between threads (the public API takes
 * `const volatile int *`); src/kube reads and writes them atomically so
 * that the accesses are ordered and race-free.
 */
static inline bool llmo__kube_stopped(const volatile int *stop)
{
	return stop && __atomic_load_n(stop, __ATOMIC_ACQUIRE) != 0;
}

static inline void llmo__kube_set_stop(volatile int *stop, int v)
{
	__atomic_store_n(stop, v, __ATOMIC_RELEASE);
}

/*
 * Sleeps ms milliseconds, waking early when *stop (may be NULL) becomes
 * non-zero; returns true when stopped.
 */
bool llmo__kube_sleep(long ms, const volatile int *stop);

/* A random number in [lo, hi] (a per-thread generator; not for secrets). */
long llmo__kube_rand_range(long lo, long hi);

/*
 * Reads a whole credential file (at most LLMO_KUBE_CRED_FILE_MAX bytes, no
 * NUL byte) into a heap string, without trailing whitespace when trim.
 * Errors start with the path.
 */
int llmo__kube_read_file(const char *path, bool trim, char **out, struct llmo_error *err);

/* The client's server URL and connect timeout. */
const char *llmo__kube_server(const struct llmo_kube_client *c);
long llmo__kube_connect_ms(const struct llmo_kube_client *c);

#endif
