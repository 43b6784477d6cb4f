/*
 * Ed25519 model signatures (registry/sign.h): keys written with the right
 * modes and never overwritten, signatures that verify only for their
 * digest and their key, private keys others may read refused.
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_fs.h"

#include "registry/sign.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/llmo-test-regsign-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	test_rm_rf(dir);
	return 0;
}

static void test_sign_verify(void **state)
{
	char prefix[128], path[160], id[LLMO_DIGEST_STR_MAX], id2[LLMO_DIGEST_STR_MAX];
	struct llmo_sig_key *priv = NULL, *pub = NULL, *other = NULL;
	unsigned char sig[LLMO_SIG_LEN];
	struct llmo_error err = {0};
	struct llmo_digest d, d2;
	struct stat st;

	snprintf(prefix, sizeof(prefix), "%s/k", dir);
	assert_int_equal(llmo_sig_keygen(prefix, id, &err), 0);
	assert_true(strncmp(id, "sha256:", 7) == 0);
	snprintf(path, sizeof(path), "%s.key", prefix);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* never overwritten */
	assert_int_equal(llmo_sig_keygen(prefix, id2, &err), LLMO_EEXIST);
	assert_int_equal(llmo_sig_key_load(path, true, &priv, &err), 0);
	snprintf(path, sizeof(path), "%s.pub", prefix);
	assert_int_equal(llmo_sig_key_load(path, false, &pub, &err), 0);
	/* one key, one id, from either half */
	assert_string_equal(llmo_sig_key_id(priv), id);
	assert_string_equal(llmo_sig_key_id(pub), id);

	assert_int_equal(llmo_digest_of("manifest", 8, &d), 0);
	assert_int_equal(llmo_digest_of("manifest2", 9, &d2), 0);
	assert_int_equal(llmo_sig_sign(priv, &d, sig, &err), 0);
	assert_true(llmo_sig_verify(pub, &d, sig, sizeof(sig)));
	assert_true(llmo_sig_verify(priv, &d, sig, sizeof(sig)));
	/* another digest, a flipped bit, a short signature, another key */
	assert_false(llmo_sig_verify(pub, &d2, sig, sizeof(sig)));
	sig[10] ^= 1;
	assert_false(llmo_sig_verify(pub, &d, sig, sizeof(sig)));
	sig[10] ^= 1;
	assert_false(llmo_sig_verify(pub, &d, sig, sizeof(sig) - 1));
	snprintf(prefix, sizeof(prefix), "%s/other", dir);
	assert_int_equal(llmo_sig_keygen(prefix, id2, &err), 0);
	assert_string_not_equal(id, id2);
	snprintf(path, sizeof(path), "%s.pub", prefix);
	assert_int_equal(llmo_sig_key_load(path, false, &other, &err), 0);
	assert_false(llmo_sig_verify(other, &d, sig, sizeof(sig)));
	/* a public key cannot sign */
	assert_int_not_equal(llmo_sig_sign(pub, &d, sig, &err), 0);

	/* a private key others may read is refused; a public key file is not a private key */
	snprintf(path, sizeof(path), "%s.key", prefix);
	assert_int_equal(chmod(path, 0644), 0);
	llmo_sig_key_free(other);
	other = NULL;
	assert_int_equal(llmo_sig_key_load(path, true, &other, &err), LLMO_EDENIED);
	snprintf(path, sizeof(path), "%s.pub", prefix);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(llmo_sig_key_load(path, true, &other, &err), LLMO_EPARSE);
	assert_null(other);
	llmo_sig_key_free(priv);
	llmo_sig_key_free(pub);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sign_verify, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
