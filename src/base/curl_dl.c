/*
 * libcurl, loaded on first use. llmo calls the dozen curl_* functions below
 * as declared by <curl/curl.h>, but the binary does not link libcurl: these
 * definitions dlopen() libcurl.so.4 the first time one is called and forward
 * to it. Why: libcurl pulls in some 30 libraries (GnuTLS, p11-kit, Kerberos,
 * LDAP, SSH...), whose loading and constructors cost about 4 MB of resident
 * pages in every llmo process, even `llmo gateway --backends FILE`, which
 * never makes a client request. Processes that use the API load it at their
 * first client, as before.
 *
 * Contract: the same as libcurl's, plus one failure: when libcurl.so.4 cannot
 * be loaded, curl_global_init() returns CURLE_FAILED_INIT, curl_easy_init()
 * and curl_slist_append() return NULL, curl_easy_perform/setopt/getinfo
 * return CURLE_FAILED_INIT, and curl_easy_strerror() says why. Only the
 * functions below exist: a new curl_* call in llmo needs its forwarder here
 * (the link fails without one).
 *
 * The variadic calls are forwarded with the argument's real type, which
 * libcurl defines by the option's number (CURLOPTTYPE_*: long, pointer,
 * function pointer, curl_off_t, blob pointer) and for getinfo is always a
 * pointer to the result.
 */
#include "base/common.h"

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>

#include "base/banned.h"

/* The ABI llmo was compiled against: soname 4 has been stable since 2006. */
#define CURL_DL_SONAME "libcurl.so.4"

static struct {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	void (*easy_reset)(CURL *);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	char *(*easy_escape)(CURL *, const char *, int);
	void (*free)(void *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
} fn;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static bool loaded;
static char load_error[256];

static void load(void)
{
	void *h = dlopen(CURL_DL_SONAME, RTLD_NOW | RTLD_LOCAL);
	const char *e;

	if (!h) {
		e = dlerror();
		snprintf(load_error, sizeof(load_error), "cannot load %s: %s", CURL_DL_SONAME,
			 e ? e : "unknown error");
		return;
	}
	/* POSIX: a function pointer converts to and from dlsym's void * */
#define CURL_DL_SYM(field, name)                                                                   \
	do {                                                                                       \
		*(void **)&fn.field = dlsym(h, name);                                              \
		if (!fn.field) {                                                                   \
			snprintf(load_error, sizeof(load_error), "%s has no %s", CURL_DL_SONAME,   \
				 name);                                                            \
			return; /* the handle stays open: nothing of it is used */                 \
		}                                                                                  \
	} while (0)
	CURL_DL_SYM(global_init, "curl_global_init");
	CURL_DL_SYM(easy_init, "curl_easy_init");
	CURL_DL_SYM(easy_cleanup, "curl_easy_cleanup");
	CURL_DL_SYM(easy_reset, "curl_easy_reset");
	CURL_DL_SYM(easy_perform, "curl_easy_perform");
	CURL_DL_SYM(easy_setopt, "curl_easy_setopt");
	CURL_DL_SYM(easy_getinfo, "curl_easy_getinfo");
	CURL_DL_SYM(easy_strerror, "curl_easy_strerror");
	CURL_DL_SYM(easy_escape, "curl_easy_escape");
	CURL_DL_SYM(free, "curl_free");
	CURL_DL_SYM(slist_append, "curl_slist_append");
	CURL_DL_SYM(slist_free_all, "curl_slist_free_all");
#undef CURL_DL_SYM
	loaded = true;
}

static bool ready(void)
{
	pthread_once(&load_once, load);
	return loaded;
}

CURLcode curl_global_init(long flags)
{
	return ready() ? fn.global_init(flags) : CURLE_FAILED_INIT;
}

CURL *curl_easy_init(void)
{
	return ready() ? fn.easy_init() : NULL;
}

/* A handle exists only if libcurl was loaded: these need no check beyond NULL. */
void curl_easy_cleanup(CURL *curl)
{
	if (curl && ready())
		fn.easy_cleanup(curl);
}

void curl_easy_reset(CURL *curl)
{
	if (curl && ready())
		fn.easy_reset(curl);
}

CURLcode curl_easy_perform(CURL *curl)
{
	return ready() ? fn.easy_perform(curl) : CURLE_FAILED_INIT;
}

CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
	CURLcode rc = CURLE_FAILED_INIT;
	va_list ap;

	if (!ready())
		return rc;
	va_start(ap, option);
	if (option < CURLOPTTYPE_OBJECTPOINT) {
		long v = va_arg(ap, long);

		rc = fn.easy_setopt(curl, option, v);
	} else if (option < CURLOPTTYPE_FUNCTIONPOINT) {
		void *v = va_arg(ap, void *);

		rc = fn.easy_setopt(curl, option, v);
	} else if (option < CURLOPTTYPE_OFF_T) {
		void (*v)(void) = va_arg(ap, void (*)(void));

		rc = fn.easy_setopt(curl, option, v);
	} else if (option < CURLOPTTYPE_BLOB) {
		curl_off_t v = va_arg(ap, curl_off_t);

		rc = fn.easy_setopt(curl, option, v);
	} else {
		struct curl_blob *v = va_arg(ap, struct curl_blob *);

		rc = fn.easy_setopt(curl, option, v);
	}
	va_end(ap);
	return rc;
}

CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
	CURLcode rc = CURLE_FAILED_INIT;
	va_list ap;

	if (!ready())
		return rc;
	va_start(ap, info);
	{
		void *out = va_arg(ap, void *); /* every CURLINFO_* type is returned through a pointer */

		rc = fn.easy_getinfo(curl, info, out);
	}
	va_end(ap);
	return rc;
}

const char *curl_easy_strerror(CURLcode code)
{
	return ready() ? fn.easy_strerror(code) : load_error;
}

char *curl_easy_escape(CURL *curl, const char *s, int length)
{
	return ready() ? fn.easy_escape(curl, s, length) : NULL;
}

void curl_free(void *p)
{
	if (p && ready())
		fn.free(p);
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s)
{
	return ready() ? fn.slist_append(list, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *list)
{
	if (list && ready())
		fn.slist_free_all(list);
}
