#ifndef LLMO_TEST_JSON_H
#define LLMO_TEST_JSON_H
/*
 * J("{'a':1}"): JSON written in C strings with ' for ", parsed (any type);
 * a text that does not parse fails the test. Include after cmocka.h.
 */
#include "base/common.h"
#include <jansson.h>

#define TEST_JSON_MAX 8192

static inline json_t *J(const char *text)
{
	char buf[TEST_JSON_MAX];
	size_t n = strlen(text);
	json_t *v;

	assert_true(n < sizeof(buf));
	for (size_t i = 0; i <= n; i++)
		buf[i] = text[i] == '\'' ? '"' : text[i];
	v = json_loads(buf, JSON_DECODE_ANY, NULL);
	if (!v)
		fail_msg("test JSON does not parse: %s", buf);
	return v;
}

#endif
