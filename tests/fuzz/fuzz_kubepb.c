/*
 * Fuzz target for apiserver/kubepb.h. The input goes through the decoder as
 * a whole body, and, so that mutations reach the message tables without
 * having to keep an envelope intact, its bytes after the first are wrapped
 * as the raw object of the type the first byte picks. Nothing crashes or
 * leaks; a success is a JSON object with string apiVersion and kind that
 * serialises; a failure is LLMO_EPARSE, LLMO_EUNSUPPORTED or LLMO_ETOOBIG
 * with a message, and no object.
 */
#include "base/common.h"

#include "apiserver/kubepb.h"

/* Inputs past this are dropped: the decoder is linear, big inputs only slow the fuzzer. */
#define FUZZ_INPUT_MAX (256 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const types[][2] = {
	{"v1", "ConfigMap"},
	{"v1", "Secret"},
	{"v1", "Namespace"},
	{"v1", "ServiceAccount"},
	{"v1", "Service"},
	{"v1", "DeleteOptions"},
	{"apps/v1", "Deployment"},
	{"rbac.authorization.k8s.io/v1", "ClusterRole"},
	{"rbac.authorization.k8s.io/v1", "RoleBinding"},
	{"authentication.k8s.io/v1", "TokenRequest"},
	{"authentication.k8s.io/v1", "SelfSubjectReview"},
	{"authorization.k8s.io/v1", "SelfSubjectAccessReview"},
	{"policy/v1", "Eviction"},
	{"batch/v1", "Job"},
};

static void check(const unsigned char *body, size_t len)
{
	struct llmo_error err = {0};
	json_t *obj = NULL;
	char *text;
	int rc = llmo_kubepb_decode(body, len, &obj, &err);

	if (rc) {
		if (obj || (rc != LLMO_EPARSE && rc != LLMO_EUNSUPPORTED && rc != LLMO_ETOOBIG &&
			    rc != LLMO_ENOMEM))
			abort();
		if (rc != LLMO_ENOMEM && (err.code != rc || err.msg[0] == '\0'))
			abort();
		return;
	}
	if (!json_is_object(obj) || !json_is_string(json_object_get(obj, "apiVersion")) ||
	    !json_is_string(json_object_get(obj, "kind")))
		abort();
	text = json_dumps(obj, JSON_COMPACT);
	if (!text)
		abort();
	free(text);
	json_decref(obj);
}

static size_t put_varint(unsigned char *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

static size_t put_bytes(unsigned char *p, unsigned tag, const void *s, size_t len)
{
	size_t n = 0;

	p[n++] = (unsigned char)tag;
	n += put_varint(p + n, len);
	memcpy(p + n, s, len);
	return n + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *body, meta[256];
	const char *const *t;
	size_t n = 0, m = 0;

	if (size > FUZZ_INPUT_MAX)
		return 0;
	check(data, size);
	if (size == 0)
		return 0;
	t = types[data[0] % (sizeof(types) / sizeof(types[0]))];
	m += put_bytes(meta + m, 0x0a, t[0], strlen(t[0]));
	m += put_bytes(meta + m, 0x12, t[1], strlen(t[1]));
	body = malloc(4 + 2 * 12 + m + size);
	if (!body)
		return 0;
	memcpy(body, "k8s", 4);
	n = 4;
	n += put_bytes(body + n, 0x0a, meta, m);
	n += put_bytes(body + n, 0x12, data + 1, size - 1);
	check(body, n);
	free(body);
	return 0;
}
