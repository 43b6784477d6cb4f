#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "apiserver/pki.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/file.h"
#include "base/json.h"
#include "base/log.h"
#include "base/str.h"
#include "base/yaml.h"

/* Each test gets a fresh directory under /tmp; the data directory inside it does not exist yet. */
static char base[64];
static char data_dir[128];

static const char *const hosts[] = {"127.0.0.1", "localhost", "::1", NULL};
#define URL "https://127.0.0.1:6443"

static int setup(void **state)
{
	snprintf(base, sizeof(base), "/tmp/llmo-test-pki-XXXXXX");
	if (!mkdtemp(base))
		return -1;
	snprintf(data_dir, sizeof(data_dir), "%s/data", base);
	return 0;
}

static int teardown(void **state)
{
	test_rm_rf(base);
	return 0;
}

static void ensure_ok(struct llmo_pki *p, const char *const *h, const char *url)
{
	struct llmo_error err = {0};
	int rc = llmo_pki_ensure(data_dir, h, url, p, &err);

	if (rc)
		fail_msg("llmo_pki_ensure: %s", err.msg);
}

/* The whole file, NUL-terminated; free() it. */
static char *slurp(const char *path, size_t *len)
{
	struct llmo_buf b;
	struct llmo_error err = {0};

	llmo_buf_init(&b, LLMO_BUF_UNLIMITED);
	if (llmo_file_read(path, 1 << 20, &b, &err))
		fail_msg("%s", err.msg);
	return llmo_buf_detach(&b, len);
}

static bool same_file(const char *path, const char *before, size_t before_len)
{
	size_t len;
	char *now = slurp(path, &len);
	bool same = len == before_len && !memcmp(now, before, len);

	free(now);
	return same;
}

static unsigned mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static X509 *load_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

static EVP_PKEY *load_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	assert_non_null(f);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(k);
	return k;
}

/* X509_verify_cert of leaf against ca as a TLS server certificate: 1 when it verifies. */
static int verify_server(X509 *ca, X509 *leaf)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok;

	assert_int_equal(X509_STORE_add_cert(store, ca), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, NULL), 1);
	assert_int_equal(X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER), 1);
	ok = X509_verify_cert(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return ok;
}

/* Whole days from now until the certificate's notAfter. */
static int days_left(X509 *x)
{
	int days = 0, secs = 0;

	assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)), 1);
	return days;
}

static bool cn_is(X509 *x, const char *want)
{
	char cn[64];

	if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
				      sizeof(cn)) < 0)
		return false;
	return !strcmp(cn, want);
}

static bool is_p256(EVP_PKEY *k)
{
	char group[64];
	size_t len = 0;

	return EVP_PKEY_is_a(k, "EC") &&
	       EVP_PKEY_get_group_name(k, group, sizeof(group), &len) == 1 &&
	       !strcmp(group, "prime256v1");
}

static void test_first_start_creates_files(void **state)
{
	struct llmo_pki p;
	char pki_dir[256];
	size_t len, i;
	char *tok;

	ensure_ok(&p, hosts, URL);
	snprintf(pki_dir, sizeof(pki_dir), "%s/pki", data_dir);
	assert_string_equal(p.dir, data_dir);
	assert_true(llmo_str_has_suffix(p.ca_cert_path, "/data/pki/ca.crt"));
	assert_true(llmo_str_has_suffix(p.ca_key_path, "/data/pki/ca.key"));
	assert_true(llmo_str_has_suffix(p.cert_path, "/data/pki/server.crt"));
	assert_true(llmo_str_has_suffix(p.key_path, "/data/pki/server.key"));
	assert_true(llmo_str_has_suffix(p.token_path, "/data/token"));
	assert_true(llmo_str_has_suffix(p.kubeconfig_path, "/data/kubeconfig"));

	assert_int_equal(mode_of(data_dir), 0700);
	assert_int_equal(mode_of(pki_dir), 0700);
	assert_int_equal(mode_of(p.ca_key_path), 0600);
	assert_int_equal(mode_of(p.key_path), 0600);
	assert_int_equal(mode_of(p.token_path), 0600);
	assert_int_equal(mode_of(p.kubeconfig_path), 0600);
	assert_int_equal(mode_of(p.ca_cert_path), 0644);
	assert_int_equal(mode_of(p.cert_path), 0644);

	/* 32 random bytes in hex, and the file holds it on one line */
	assert_int_equal(strlen(p.token), 64);
	for (i = 0; i < 64; i++)
		assert_non_null(strchr("0123456789abcdef", p.token[i]));
	tok = slurp(p.token_path, &len);
	assert_int_equal(len, 65);
	assert_memory_equal(tok, p.token, 64);
	assert_int_equal(tok[64], '\n');
	free(tok);
	llmo_pki_release(&p);
	assert_null(p.token);
	llmo_pki_release(&p);
}

static void test_certificates(void **state)
{
	struct llmo_pki p;
	X509 *ca, *srv;
	EVP_PKEY *ca_key, *key;
	X509_EXTENSION *ext;
	BIGNUM *serial;
	char cmd[1024];

	ensure_ok(&p, hosts, URL);
	ca = load_cert(p.ca_cert_path);
	srv = load_cert(p.cert_path);
	ca_key = load_key(p.ca_key_path);
	key = load_key(p.key_path);

	/* CA: CN llmo-ca, self-signed, CA:TRUE critical, keyCertSign+cRLSign, 10 years */
	assert_true(cn_is(ca, "llmo-ca"));
	assert_int_equal(X509_check_issued(ca, ca), X509_V_OK);
	assert_int_equal(X509_check_ca(ca), 1);
	ext = X509_get_ext(ca, X509_get_ext_by_NID(ca, NID_basic_constraints, -1));
	assert_non_null(ext);
	assert_int_equal(X509_EXTENSION_get_critical(ext), 1);
	assert_int_equal(X509_get_key_usage(ca), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	assert_in_range(days_left(ca), 3649, 3650);
	assert_true(is_p256(ca_key));
	assert_int_equal(X509_check_private_key(ca, ca_key), 1);

	/* serving certificate: CN llmo-server, serverAuth, not a CA, 1 year, 128-bit serial */
	assert_true(cn_is(srv, "llmo-server"));
	assert_int_equal(verify_server(ca, srv), 1);
	assert_true(X509_get_extended_key_usage(srv) & XKU_SSL_SERVER);
	assert_int_equal(X509_check_ca(srv), 0);
	assert_in_range(days_left(srv), 364, 365);
	assert_true(is_p256(key));
	assert_int_equal(X509_check_private_key(srv, key), 1);
	serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(srv), NULL);
	assert_non_null(serial);
	assert_in_range(BN_num_bits(serial), 96, 128); /* 2^-32 chance of a false failure */
	BN_free(serial);

	/* SANs: every host, as IP or DNS, and nothing else matches */
	assert_int_equal(X509_check_ip_asc(srv, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(srv, "::1", 0), 1);
	assert_int_equal(X509_check_host(srv, "localhost", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(srv, "127.0.0.2", 0), 0);
	assert_int_equal(X509_check_host(srv, "example.com", 0, 0, NULL), 0);
	assert_int_equal(X509_check_host(srv, "llmo-server", 0, 0, NULL), 0);

	/* the real tool, when it is installed */
	if (system("command -v openssl >/dev/null 2>&1") == 0) {
		snprintf(cmd, sizeof(cmd), "openssl verify -CAfile '%s' '%s' >/dev/null 2>&1",
			 p.ca_cert_path, p.cert_path);
		assert_int_equal(system(cmd), 0);
		snprintf(cmd, sizeof(cmd),
			 "openssl verify -purpose sslserver -verify_ip 127.0.0.1 "
			 "-CAfile '%s' '%s' >/dev/null 2>&1",
			 p.ca_cert_path, p.cert_path);
		assert_int_equal(system(cmd), 0);
	}

	X509_free(ca);
	X509_free(srv);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	llmo_pki_release(&p);
}

/* The files whose bytes a test compares across starts. */
struct snapshot {
	char *ca_crt, *ca_key, *crt, *key, *token, *kubeconfig;
	size_t ca_crt_len, ca_key_len, crt_len, key_len, token_len, kubeconfig_len;
};

static void snap(const struct llmo_pki *p, struct snapshot *s)
{
	s->ca_crt = slurp(p->ca_cert_path, &s->ca_crt_len);
	s->ca_key = slurp(p->ca_key_path, &s->ca_key_len);
	s->crt = slurp(p->cert_path, &s->crt_len);
	s->key = slurp(p->key_path, &s->key_len);
	s->token = slurp(p->token_path, &s->token_len);
	s->kubeconfig = slurp(p->kubeconfig_path, &s->kubeconfig_len);
}

static void snap_free(struct snapshot *s)
{
	free(s->ca_crt);
	free(s->ca_key);
	free(s->crt);
	free(s->key);
	free(s->token);
	free(s->kubeconfig);
}

static void test_second_start_reuses(void **state)
{
	struct llmo_pki p1, p2;
	struct snapshot s;

	ensure_ok(&p1, hosts, URL);
	snap(&p1, &s);
	ensure_ok(&p2, hosts, URL);
	assert_string_equal(p2.token, p1.token);
	assert_true(same_file(p2.ca_cert_path, s.ca_crt, s.ca_crt_len));
	assert_true(same_file(p2.ca_key_path, s.ca_key, s.ca_key_len));
	assert_true(same_file(p2.cert_path, s.crt, s.crt_len));
	assert_true(same_file(p2.key_path, s.key, s.key_len));
	assert_true(same_file(p2.token_path, s.token, s.token_len));
	assert_true(same_file(p2.kubeconfig_path, s.kubeconfig, s.kubeconfig_len));
	/* a subset of the hosts is covered too */
	llmo_pki_release(&p2);
	ensure_ok(&p2, (const char *const[]){"localhost", NULL}, URL);
	assert_true(same_file(p2.cert_path, s.crt, s.crt_len));
	snap_free(&s);
	llmo_pki_release(&p1);
	llmo_pki_release(&p2);
}

static void test_new_host_reissues_server_cert_only(void **state)
{
	static const char *const more[] = {"127.0.0.1", "localhost", "::1", "10.1.2.3",
					   "llmo.example.com", NULL};
	struct llmo_pki p1, p2;
	struct snapshot s;
	X509 *ca, *srv;

	ensure_ok(&p1, hosts, URL);
	snap(&p1, &s);
	ensure_ok(&p2, more, URL);
	assert_true(same_file(p2.ca_cert_path, s.ca_crt, s.ca_crt_len));
	assert_true(same_file(p2.ca_key_path, s.ca_key, s.ca_key_len));
	assert_true(same_file(p2.key_path, s.key, s.key_len));
	assert_true(same_file(p2.token_path, s.token, s.token_len));
	assert_true(same_file(p2.kubeconfig_path, s.kubeconfig, s.kubeconfig_len));
	assert_false(same_file(p2.cert_path, s.crt, s.crt_len));

	ca = load_cert(p2.ca_cert_path);
	srv = load_cert(p2.cert_path);
	assert_int_equal(verify_server(ca, srv), 1);
	assert_int_equal(X509_check_ip_asc(srv, "10.1.2.3", 0), 1);
	assert_int_equal(X509_check_host(srv, "llmo.example.com", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(srv, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_host(srv, "localhost", 0, 0, NULL), 1);
	X509_free(ca);
	X509_free(srv);
	snap_free(&s);
	llmo_pki_release(&p1);
	llmo_pki_release(&p2);
}

/* Writes a serving certificate for server.key, signed by the CA, expiring in `days`. */
static void write_short_cert(const struct llmo_pki *p, int days)
{
	X509 *ca = load_cert(p->ca_cert_path);
	EVP_PKEY *ca_key = load_key(p->ca_key_path), *key = load_key(p->key_path);
	X509 *x = X509_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	FILE *f;

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
						    (const unsigned char *)"llmo-server", -1, -1, 0),
			 1);
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(ca)), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
	assert_non_null(X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name,
				  "IP:127.0.0.1,DNS:localhost,IP:::1");
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_ext_key_usage, "serverAuth");
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, ca_key, EVP_sha256()) > 0);
	assert_int_equal(verify_server(ca, x), 1);
	f = fopen(p->cert_path, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_X509(f, x), 1);
	assert_int_equal(fclose(f), 0);
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
}

static void test_expiring_cert_reissued(void **state)
{
	struct llmo_pki p;
	struct snapshot s;
	X509 *srv;

	ensure_ok(&p, hosts, URL);
	llmo_pki_release(&p);
	ensure_ok(&p, hosts, URL);

	/* 60 days left: kept */
	write_short_cert(&p, 60);
	snap(&p, &s);
	llmo_pki_release(&p);
	ensure_ok(&p, hosts, URL);
	assert_true(same_file(p.cert_path, s.crt, s.crt_len));
	snap_free(&s);

	/* 10 days left: reissued for a year, with the same key */
	write_short_cert(&p, 10);
	snap(&p, &s);
	llmo_pki_release(&p);
	ensure_ok(&p, hosts, URL);
	assert_false(same_file(p.cert_path, s.crt, s.crt_len));
	assert_true(same_file(p.key_path, s.key, s.key_len));
	assert_true(same_file(p.ca_cert_path, s.ca_crt, s.ca_crt_len));
	srv = load_cert(p.cert_path);
	assert_in_range(days_left(srv), 364, 365);
	X509_free(srv);
	snap_free(&s);
	llmo_pki_release(&p);
}

static void test_open_secret_files_refused(void **state)
{
	struct llmo_pki p, q;
	struct llmo_error err = {0};
	const char *files[4];
	const unsigned modes[] = {0644, 0640, 0604, 0660};
	size_t i, m;

	ensure_ok(&p, hosts, URL);
	files[0] = p.key_path;
	files[1] = p.ca_key_path;
	files[2] = p.token_path;
	files[3] = p.kubeconfig_path;
	for (i = 0; i < LLMO_ARRAY_LEN(files); i++) {
		for (m = 0; m < LLMO_ARRAY_LEN(modes); m++) {
			assert_int_equal(chmod(files[i], modes[m]), 0);
			assert_int_equal(llmo_pki_ensure(data_dir, hosts, URL, &q, &err),
					 LLMO_EDENIED);
			assert_non_null(strstr(err.msg, files[i]));
			assert_null(q.token);
			assert_null(q.dir);
		}
		assert_int_equal(chmod(files[i], 0600), 0);
	}
	/* the TLS context checks server.key again */
	assert_int_equal(chmod(p.key_path, 0644), 0);
	{
		SSL_CTX *ctx = NULL;

		assert_int_equal(llmo_pki_ssl_ctx(&p, &ctx, &err), LLMO_EDENIED);
		assert_null(ctx);
		assert_non_null(strstr(err.msg, "server.key"));
	}
	assert_int_equal(chmod(p.key_path, 0600), 0);
	ensure_ok(&q, hosts, URL);
	llmo_pki_release(&q);
	llmo_pki_release(&p);
}

static void copy_file(const char *from, const char *to)
{
	size_t len;
	char *data = slurp(from, &len);
	struct llmo_error err = {0};

	assert_int_equal(llmo_file_write_atomic(to, data, len, 0600, &err), 0);
	free(data);
}

static void test_mismatched_key_refused(void **state)
{
	struct llmo_pki p, q;
	struct llmo_error err = {0};
	char saved[512];

	ensure_ok(&p, hosts, URL);
	snprintf(saved, sizeof(saved), "%s/saved.key", base);

	/* server.crt with the CA's key in server.key */
	copy_file(p.key_path, saved);
	copy_file(p.ca_key_path, p.key_path);
	assert_int_equal(llmo_pki_ensure(data_dir, hosts, URL, &q, &err), LLMO_EINVAL);
	assert_non_null(strstr(err.msg, "server.crt"));
	assert_non_null(strstr(err.msg, "server.key"));
	assert_non_null(strstr(err.msg, "does not match"));
	copy_file(saved, p.key_path);

	/* ca.crt with the server's key in ca.key */
	copy_file(p.ca_key_path, saved);
	copy_file(p.key_path, p.ca_key_path);
	assert_int_equal(llmo_pki_ensure(data_dir, hosts, URL, &q, &err), LLMO_EINVAL);
	assert_non_null(strstr(err.msg, "ca.crt"));
	assert_non_null(strstr(err.msg, "ca.key"));
	copy_file(saved, p.ca_key_path);

	/* an encrypted key: a parse error, never a password prompt */
	{
		EVP_PKEY *key = load_key(saved);
		FILE *f = fopen(p.ca_key_path, "w");

		assert_non_null(f);
		assert_int_equal(PEM_write_PrivateKey(f, key, EVP_aes_256_cbc(),
						      (unsigned char *)"secret", 6, NULL, NULL),
				 1);
		assert_int_equal(fclose(f), 0);
		EVP_PKEY_free(key);
	}
	assert_int_equal(llmo_pki_ensure(data_dir, hosts, URL, &q, &err), LLMO_EPARSE);
	assert_non_null(strstr(err.msg, "ca.key"));
	copy_file(saved, p.ca_key_path);

	/* garbage in a key file: a parse error naming it, with OpenSSL's reason */
	assert_int_equal(llmo_file_write_atomic(p.key_path, "not a key\n", 10, 0600, &err), 0);
	assert_int_equal(llmo_pki_ensure(data_dir, hosts, URL, &q, &err), LLMO_EPARSE);
	assert_non_null(strstr(err.msg, "server.key"));
	assert_non_null(strstr(err.msg, "routines"));
	llmo_pki_release(&p);
}

static void test_missing_files(void **state)
{
	struct llmo_pki p, q;
	struct llmo_error err = {0};
	struct snapshot s;
	X509 *ca, *srv;

	ensure_ok(&p, hosts, URL);
	snap(&p, &s);

	/* server.crt gone (a crash after writing server.key): reissued for the same key */
	assert_int_equal(unlink(p.cert_path), 0);
	ensure_ok(&q, hosts, URL);
	assert_true(same_file(q.key_path, s.key, s.key_len));
	llmo_pki_release(&q);

	/* server.key gone: a new key and certificate */
	assert_int_equal(unlink(p.key_path), 0);
	ensure_ok(&q, hosts, URL);
	assert_false(same_file(q.key_path, s.key, s.key_len));
	assert_true(same_file(q.ca_cert_path, s.ca_crt, s.ca_crt_len));
	llmo_pki_release(&q);

	/* ca.crt gone (a crash after writing ca.key): made again from the same key */
	assert_int_equal(unlink(p.ca_cert_path), 0);
	ensure_ok(&q, hosts, URL);
	assert_true(same_file(q.ca_key_path, s.ca_key, s.ca_key_len));
	ca = load_cert(q.ca_cert_path);
	srv = load_cert(q.cert_path);
	assert_int_equal(verify_server(ca, srv), 1);
	X509_free(ca);
	X509_free(srv);
	llmo_pki_release(&q);

	/* token gone: a new one, and the kubeconfig follows */
	assert_int_equal(unlink(p.token_path), 0);
	ensure_ok(&q, hosts, URL);
	assert_string_not_equal(q.token, p.token);
	assert_false(same_file(q.kubeconfig_path, s.kubeconfig, s.kubeconfig_len));
	llmo_pki_release(&q);

	/* ca.key gone while ca.crt stays: refused, naming ca.key */
	assert_int_equal(unlink(p.ca_key_path), 0);
	assert_int_equal(llmo_pki_ensure(data_dir, hosts, URL, &q, &err), LLMO_ENOTFOUND);
	assert_non_null(strstr(err.msg, "ca.key"));
	snap_free(&s);
	llmo_pki_release(&p);
}

static void test_bad_token_file(void **state)
{
	struct llmo_pki p, q;
	struct llmo_error err = {0};

	ensure_ok(&p, hosts, URL);
	assert_int_equal(llmo_file_write_atomic(p.token_path, "short\n", 6, 0600, &err), 0);
	assert_int_equal(llmo_pki_ensure(data_dir, hosts, URL, &q, &err), LLMO_EPARSE);
	assert_non_null(strstr(err.msg, "token"));
	assert_int_equal(llmo_file_write_atomic(p.token_path, "abcdefgh ijklmnopqrstuvwxyz\n",
						28, 0600, &err),
			 0);
	assert_int_equal(llmo_pki_ensure(data_dir, hosts, URL, &q, &err), LLMO_EPARSE);
	/* a token someone chose, with a trailing newline: used as written */
	assert_int_equal(llmo_file_write_atomic(p.token_path, "my-own.token_1234567890\r\n", 25,
						0600, &err),
			 0);
	ensure_ok(&q, hosts, URL);
	assert_string_equal(q.token, "my-own.token_1234567890");
	assert_true(llmo_pki_token_ok(&q, "Bearer my-own.token_1234567890"));
	llmo_pki_release(&q);
	llmo_pki_release(&p);
}

static const char *yaml_str(const struct llmo_yaml_doc *d, const char *path)
{
	json_t *v = llmo_json_get_path(d->root, path);

	if (!json_is_string(v))
		fail_msg("%s: expected a string, got %s", path, llmo_json_type_name(v));
	return json_string_value(v);
}

static void test_kubeconfig(void **state)
{
	struct llmo_pki p;
	struct llmo_yaml_stream ys;
	struct llmo_error err = {0};
	const struct llmo_yaml_doc *d;
	const char *b64;
	unsigned char *der;
	size_t text_len, ca_len, b64_len;
	char *text, *ca_pem;
	int n;

	ensure_ok(&p, hosts, URL);
	text = slurp(p.kubeconfig_path, &text_len);
	if (llmo_yaml_parse(text, text_len, p.kubeconfig_path, &ys, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(ys.ndocs, 1);
	d = &ys.docs[0];
	assert_string_equal(yaml_str(d, "apiVersion"), "v1");
	assert_string_equal(yaml_str(d, "kind"), "Config");
	assert_string_equal(yaml_str(d, "current-context"), "llmo");
	assert_int_equal(json_array_size(llmo_json_get_path(d->root, "clusters")), 1);
	assert_string_equal(yaml_str(d, "clusters[0].name"), "llmo");
	assert_string_equal(yaml_str(d, "clusters[0].cluster.server"), "https://127.0.0.1:6443");
	assert_int_equal(json_array_size(llmo_json_get_path(d->root, "users")), 1);
	assert_string_equal(yaml_str(d, "users[0].name"), "llmo-admin");
	assert_string_equal(yaml_str(d, "users[0].user.token"), p.token);
	assert_int_equal(json_array_size(llmo_json_get_path(d->root, "contexts")), 1);
	assert_string_equal(yaml_str(d, "contexts[0].name"), "llmo");
	assert_string_equal(yaml_str(d, "contexts[0].context.cluster"), "llmo");
	assert_string_equal(yaml_str(d, "contexts[0].context.user"), "llmo-admin");
	assert_string_equal(yaml_str(d, "contexts[0].context.namespace"), "default");

	/* certificate-authority-data: base64 of ca.crt's PEM bytes */
	b64 = yaml_str(d, "clusters[0].cluster.certificate-authority-data");
	b64_len = strlen(b64);
	assert_int_equal(b64_len % 4, 0);
	der = malloc(b64_len);
	assert_non_null(der);
	n = EVP_DecodeBlock(der, (const unsigned char *)b64, (int)b64_len);
	assert_true(n > 0);
	while (b64_len && b64[b64_len - 1] == '=') {
		b64_len--;
		n--;
	}
	ca_pem = slurp(p.ca_cert_path, &ca_len);
	assert_int_equal((size_t)n, ca_len);
	assert_memory_equal(der, ca_pem, ca_len);
	free(ca_pem);
	free(der);
	llmo_yaml_stream_release(&ys);
	free(text);
	llmo_pki_release(&p);
}

static void test_server_url_change(void **state)
{
	struct llmo_pki p;
	struct snapshot s;
	struct llmo_yaml_stream ys;
	struct llmo_error err = {0};
	size_t len;
	char *text;

	ensure_ok(&p, hosts, URL);
	snap(&p, &s);
	llmo_pki_release(&p);

	ensure_ok(&p, hosts, "https://10.0.0.5:7443");
	assert_false(same_file(p.kubeconfig_path, s.kubeconfig, s.kubeconfig_len));
	assert_true(same_file(p.cert_path, s.crt, s.crt_len));
	assert_true(same_file(p.token_path, s.token, s.token_len));
	assert_int_equal(mode_of(p.kubeconfig_path), 0600);
	text = slurp(p.kubeconfig_path, &len);
	assert_int_equal(llmo_yaml_parse(text, len, NULL, &ys, &err), 0);
	assert_string_equal(yaml_str(&ys.docs[0], "clusters[0].cluster.server"),
			    "https://10.0.0.5:7443");
	llmo_yaml_stream_release(&ys);
	free(text);
	llmo_pki_release(&p);

	/* plain HTTP: no CA data */
	ensure_ok(&p, hosts, "http://127.0.0.1:8080");
	text = slurp(p.kubeconfig_path, &len);
	assert_int_equal(llmo_yaml_parse(text, len, NULL, &ys, &err), 0);
	assert_string_equal(yaml_str(&ys.docs[0], "clusters[0].cluster.server"),
			    "http://127.0.0.1:8080");
	assert_null(llmo_json_get_path(ys.docs[0].root,
				       "clusters[0].cluster.certificate-authority-data"));
	assert_string_equal(yaml_str(&ys.docs[0], "users[0].user.token"), p.token);
	llmo_yaml_stream_release(&ys);
	free(text);
	snap_free(&s);
	llmo_pki_release(&p);
}

static void test_bad_arguments(void **state)
{
	const struct {
		const char *const *hosts;
		const char *url;
		int code;
	} cases[] = {
		{(const char *const[]){NULL}, URL, LLMO_EINVAL},
		{(const char *const[]){"bad host", NULL}, URL, LLMO_EINVAL},
		{(const char *const[]){"*.example.com", NULL}, URL, LLMO_EINVAL},
		{(const char *const[]){"1.2.3", NULL}, URL, LLMO_EINVAL},
		{(const char *const[]){"-a.example", NULL}, URL, LLMO_EINVAL},
		{(const char *const[]){"a..example", NULL}, URL, LLMO_EINVAL},
		{(const char *const[]){"", NULL}, URL, LLMO_EINVAL},
		{(const char *const[]){"DNS:x,IP:1.1.1.1", NULL}, URL, LLMO_EINVAL},
		{hosts, "ftp://127.0.0.1", LLMO_EINVAL},
		{hosts, "https://", LLMO_EINVAL},
		{hosts, "https://a b", LLMO_EINVAL},
		{hosts, "https://x\n", LLMO_EINVAL},
		{hosts, NULL, LLMO_EINVAL},
	};
	struct llmo_pki p;
	struct llmo_error err = {0};
	size_t i;

	for (i = 0; i < LLMO_ARRAY_LEN(cases); i++) {
		int rc = llmo_pki_ensure(data_dir, cases[i].hosts, cases[i].url, &p, &err);

		if (rc != cases[i].code)
			fail_msg("case %zu: got %d (%s)", i, rc, err.msg);
		assert_null(p.dir);
	}
	assert_int_equal(llmo_pki_ensure(NULL, hosts, URL, &p, &err), LLMO_EINVAL);
	/* nothing was created */
	assert_int_equal(access(data_dir, F_OK), -1);
}

static void test_token_ok(void **state)
{
	struct llmo_pki p;
	char h[256], wrong[80], prefix[80];

	ensure_ok(&p, hosts, URL);
	snprintf(h, sizeof(h), "Bearer %s", p.token);
	assert_true(llmo_pki_token_ok(&p, h));
	snprintf(h, sizeof(h), "bearer %s", p.token);
	assert_true(llmo_pki_token_ok(&p, h));
	snprintf(h, sizeof(h), "Bearer  %s ", p.token);
	assert_true(llmo_pki_token_ok(&p, h));

	snprintf(wrong, sizeof(wrong), "%s", p.token);
	wrong[63] = wrong[63] == 'a' ? 'b' : 'a';
	snprintf(h, sizeof(h), "Bearer %s", wrong);
	assert_false(llmo_pki_token_ok(&p, h));
	snprintf(prefix, sizeof(prefix), "%.63s", p.token);
	snprintf(h, sizeof(h), "Bearer %s", prefix);
	assert_false(llmo_pki_token_ok(&p, h));
	snprintf(h, sizeof(h), "Bearer %sx", p.token);
	assert_false(llmo_pki_token_ok(&p, h));
	snprintf(h, sizeof(h), "Basic %s", p.token);
	assert_false(llmo_pki_token_ok(&p, h));
	snprintf(h, sizeof(h), "Bearer%s", p.token);
	assert_false(llmo_pki_token_ok(&p, h));
	assert_false(llmo_pki_token_ok(&p, p.token));
	assert_false(llmo_pki_token_ok(&p, "Bearer "));
	assert_false(llmo_pki_token_ok(&p, "Bearer"));
	assert_false(llmo_pki_token_ok(&p, ""));
	assert_false(llmo_pki_token_ok(&p, NULL));
	assert_false(llmo_pki_token_ok(NULL, h));
	llmo_pki_release(&p);
	assert_false(llmo_pki_token_ok(&p, "Bearer "));
}

/* Runs both ends of a handshake over non-blocking sockets in this thread: 0 when both finish. */
static int handshake(SSL *c, SSL *s)
{
	bool cdone = false, sdone = false;
	int i, r, e;

	for (i = 0; i < 1000 && !(cdone && sdone); i++) {
		if (!cdone) {
			r = SSL_do_handshake(c);
			if (r == 1) {
				cdone = true;
			} else {
				e = SSL_get_error(c, r);
				if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
					return -1;
			}
		}
		if (!sdone) {
			r = SSL_do_handshake(s);
			if (r == 1) {
				sdone = true;
			} else {
				e = SSL_get_error(s, r);
				if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
					return -1;
			}
		}
	}
	return cdone && sdone ? 0 : -1;
}

struct tls_pair {
	int fds[2];
	SSL_CTX *cctx;
	SSL *c, *s;
};

/* A client that trusts ca.crt and checks the server's address against `ip`. */
static void tls_pair_open(struct tls_pair *t, const struct llmo_pki *p, SSL_CTX *sctx,
			  const char *ip, const unsigned char *alpn, unsigned alpn_len)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, t->fds), 0);
	assert_int_equal(fcntl(t->fds[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(t->fds[1], F_SETFL, O_NONBLOCK), 0);
	t->cctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(t->cctx);
	assert_int_equal(SSL_CTX_load_verify_locations(t->cctx, p->ca_cert_path, NULL), 1);
	SSL_CTX_set_verify(t->cctx, SSL_VERIFY_PEER, NULL);
	t->c = SSL_new(t->cctx);
	t->s = SSL_new(sctx);
	assert_non_null(t->c);
	assert_non_null(t->s);
	assert_int_equal(X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->c), ip), 1);
	if (alpn)
		assert_int_equal(SSL_set_alpn_protos(t->c, alpn, alpn_len), 0);
	assert_int_equal(SSL_set_fd(t->c, t->fds[0]), 1);
	assert_int_equal(SSL_set_fd(t->s, t->fds[1]), 1);
	SSL_set_connect_state(t->c);
	SSL_set_accept_state(t->s);
}

static void tls_pair_close(struct tls_pair *t)
{
	SSL_free(t->c);
	SSL_free(t->s);
	SSL_CTX_free(t->cctx);
	close(t->fds[0]);
	close(t->fds[1]);
	ERR_clear_error();
}

static void test_tls_handshake(void **state)
{
	static const unsigned char h2_and_http11[] = "\x02h2\x08http/1.1";
	static const unsigned char h2_only[] = "\x02h2";
	struct llmo_pki p;
	struct llmo_error err = {0};
	struct tls_pair t;
	SSL_CTX *sctx = NULL;
	const unsigned char *sel;
	const char *cipher;
	unsigned sel_len;
	char buf[8];
	int i, n;

	ensure_ok(&p, hosts, URL);
	if (llmo_pki_ssl_ctx(&p, &sctx, &err))
		fail_msg("%s", err.msg);
	assert_non_null(sctx);
	assert_int_equal(SSL_CTX_get_min_proto_version(sctx), TLS1_2_VERSION);

	/* a client that offers h2 and http/1.1 gets http/1.1, with the chain and address verified */
	tls_pair_open(&t, &p, sctx, "127.0.0.1", h2_and_http11, sizeof(h2_and_http11) - 1);
	assert_int_equal(handshake(t.c, t.s), 0);
	assert_int_equal(SSL_get_verify_result(t.c), X509_V_OK);
	assert_true(SSL_version(t.c) >= TLS1_2_VERSION);
	SSL_get0_alpn_selected(t.c, &sel, &sel_len);
	assert_int_equal(sel_len, 8);
	assert_memory_equal(sel, "http/1.1", 8);
	/* and application data flows */
	assert_int_equal(SSL_write(t.c, "ping", 4), 4);
	for (i = 0, n = -1; i < 100 && n <= 0; i++)
		n = SSL_read(t.s, buf, sizeof(buf));
	assert_int_equal(n, 4);
	assert_memory_equal(buf, "ping", 4);
	tls_pair_close(&t);

	/* h2 only: no ALPN answer, never h2 */
	tls_pair_open(&t, &p, sctx, "::1", h2_only, sizeof(h2_only) - 1);
	assert_int_equal(handshake(t.c, t.s), 0);
	SSL_get0_alpn_selected(t.c, &sel, &sel_len);
	assert_int_equal(sel_len, 0);
	tls_pair_close(&t);

	/* an address the certificate does not name: the client refuses */
	tls_pair_open(&t, &p, sctx, "192.0.2.1", NULL, 0);
	assert_int_equal(handshake(t.c, t.s), -1);
	assert_int_equal(SSL_get_verify_result(t.c), X509_V_ERR_IP_ADDRESS_MISMATCH);
	tls_pair_close(&t);

	/* a TLS 1.2 client: served, with a forward-secret AEAD suite */
	tls_pair_open(&t, &p, sctx, "127.0.0.1", h2_and_http11, sizeof(h2_and_http11) - 1);
	assert_int_equal(SSL_set_max_proto_version(t.c, TLS1_2_VERSION), 1);
	assert_int_equal(handshake(t.c, t.s), 0);
	assert_int_equal(SSL_version(t.c), TLS1_2_VERSION);
	cipher = SSL_get_cipher_name(t.c);
	assert_true(llmo_str_has_prefix(cipher, "ECDHE-ECDSA-") &&
		    (strstr(cipher, "GCM") || strstr(cipher, "CHACHA20")));
	SSL_get0_alpn_selected(t.c, &sel, &sel_len);
	assert_int_equal(sel_len, 8);
	tls_pair_close(&t);

	/* a TLS 1.2 client that only offers CBC suites: refused */
	tls_pair_open(&t, &p, sctx, "127.0.0.1", NULL, 0);
	assert_int_equal(SSL_set_max_proto_version(t.c, TLS1_2_VERSION), 1);
	assert_int_equal(SSL_set_cipher_list(t.c, "ECDHE-ECDSA-AES128-SHA256"), 1);
	assert_int_equal(handshake(t.c, t.s), -1);
	tls_pair_close(&t);

	/* a TLS 1.1 client: refused */
	tls_pair_open(&t, &p, sctx, "127.0.0.1", NULL, 0);
	assert_int_equal(SSL_set_min_proto_version(t.c, TLS1_VERSION), 1);
	assert_int_equal(SSL_set_max_proto_version(t.c, TLS1_1_VERSION), 1);
	assert_int_equal(handshake(t.c, t.s), -1);
	tls_pair_close(&t);

	SSL_CTX_free(sctx);
	llmo_pki_release(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_start_creates_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_certificates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_start_reuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_host_reissues_server_cert_only, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_expiring_cert_reissued, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_secret_files_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mismatched_key_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_token_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kubeconfig, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_url_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_handshake, setup, teardown),
	};

	llmo_log_set_level(LLMO_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
