/*
 * Base64 (base/base64.h): the test vectors of RFC 4648 section 10, encoded
 * and decoded, and bytes that are not text (NUL, 0xff) through both.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/common.h"
#include "base/base64.h"

static const struct {
	const char *plain, *encoded;
} rfc4648[] = {
	{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},     {"foo", "Zm9v"},
	{"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

static void test_rfc4648_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		char *enc = NULL, *dec = NULL;

		assert_int_equal(llmo_base64_encode(rfc4648[i].plain, strlen(rfc4648[i].plain), &enc),
				 0);
		assert_string_equal(enc, rfc4648[i].encoded);
		assert_int_equal(llmo_base64_decode(rfc4648[i].encoded, &dec), 0);
		assert_string_equal(dec, rfc4648[i].plain);
		free(enc);
		free(dec);
	}
}

static void test_binary(void **state)
{
	static const unsigned char bytes[] = {0x00, 0x01, 0xff, 0xfe, 0x80};
	char *enc = NULL;

	(void)state;
	assert_int_equal(llmo_base64_encode(bytes, sizeof(bytes), &enc), 0);
	/* 000000 000000 000111 111111 | 111111 101000 0000(00) = A A H / / o A = */
	assert_string_equal(enc, "AAH//oA=");
	free(enc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_binary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
