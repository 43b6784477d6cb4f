/*
 * Ed25519 model signatures (sign.h).
 */
#include "base/common.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/file.h"
#include "registry/sign.h"

#include "base/banned.h"

struct llmo_sig_key {
	EVP_PKEY *pkey;
	char id[LLMO_DIGEST_STR_MAX];
};

static int ossl_error(struct llmo_error *err, int code, const char *what)
{
	char buf[256] = "";

	ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
	ERR_clear_error();
	return llmo_error_set(err, code, "%s: %s", what, buf);
}

/* The id of pkey: sha256 of its DER SubjectPublicKeyInfo. */
static int key_id(EVP_PKEY *pkey, char *out)
{
	unsigned char *der = NULL;
	struct llmo_digest d;
	int n = i2d_PUBKEY(pkey, &der), rc = LLMO_ENOMEM;

	if (n > 0 && llmo_digest_of(der, (size_t)n, &d) == 0) {
		llmo_digest_str(&d, out);
		rc = 0;
	}
	OPENSSL_free(der);
	return rc;
}

void llmo_sig_key_free(struct llmo_sig_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

const char *llmo_sig_key_id(const struct llmo_sig_key *k)
{
	return k->id;
}

/* PEM text of pkey (private or public) into *out (heap, caller frees). */
static int pem_of(EVP_PKEY *pkey, bool private_key, struct llmo_buf *out)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;
	int rc = LLMO_ENOMEM;

	if (!b)
		return rc;
	if ((private_key ? PEM_write_bio_PrivateKey(b, pkey, NULL, NULL, 0, NULL, NULL)
			 : PEM_write_bio_PUBKEY(b, pkey)) == 1 &&
	    (n = BIO_get_mem_data(b, &p)) > 0)
		rc = llmo_buf_append(out, p, (size_t)n);
	BIO_free(b);
	return rc;
}

int llmo_sig_keygen(const char *prefix, char *id, struct llmo_error *err)
{
	struct llmo_buf key, pub, path;
	EVP_PKEY *pkey = NULL;
	struct stat st;
	int rc;

	llmo_buf_init(&key, LLMO_SIG_KEY_FILE_MAX);
	llmo_buf_init(&pub, LLMO_SIG_KEY_FILE_MAX);
	llmo_buf_init(&path, PATH_MAX - 1);
	pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!pkey) {
		rc = ossl_error(err, LLMO_EINTERNAL, "cannot make an Ed25519 key");
		goto out;
	}
	if (pem_of(pkey, true, &key) || pem_of(pkey, false, &pub) || key_id(pkey, id)) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = llmo_buf_appendf(&path, "%s.key", prefix))) {
		rc = llmo_error_set(err, LLMO_EINVAL, "%s: path too long", prefix);
		goto out;
	}
	if (stat(path.data, &st) == 0) {
		rc = llmo_error_set(err, LLMO_EEXIST, "%s: exists already; not overwritten",
				    path.data);
		goto out;
	}
	if ((rc = llmo_file_write_atomic(path.data, key.data, key.len, 0600, err)))
		goto out;
	llmo_buf_truncate(&path, path.len - 4);
	llmo_buf_puts(&path, ".pub");
	rc = llmo_file_write_atomic(path.data, pub.data, pub.len, 0644, err);
out:
	OPENSSL_cleanse(key.data, key.len);
	llmo_buf_release(&key);
	llmo_buf_release(&pub);
	llmo_buf_release(&path);
	EVP_PKEY_free(pkey);
	return rc;
}

int llmo_sig_key_load(const char *path, bool private_key, struct llmo_sig_key **out,
		      struct llmo_error *err)
{
	struct llmo_sig_key *k = NULL;
	struct llmo_buf text;
	struct stat st;
	BIO *b = NULL;
	int rc;

	*out = NULL;
	llmo_buf_init(&text, LLMO_SIG_KEY_FILE_MAX);
	if (private_key && stat(path, &st) == 0 && (st.st_mode & 077)) {
		rc = llmo_error_set(err, LLMO_EDENIED,
				    "%s: group or others may access this private key (mode %04o); "
				    "chmod 600 it",
				    path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if ((rc = llmo_file_read(path, LLMO_SIG_KEY_FILE_MAX, &text, err)))
		goto out;
	k = calloc(1, sizeof(*k));
	b = BIO_new_mem_buf(text.data, (int)text.len);
	if (!k || !b) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto out;
	}
	k->pkey = private_key ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)
			      : PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	if (!k->pkey) {
		rc = ossl_error(err, LLMO_EPARSE, path);
		goto out;
	}
	if (EVP_PKEY_get_id(k->pkey) != EVP_PKEY_ED25519) {
		rc = llmo_error_set(err, LLMO_EINVAL, "%s: not an Ed25519 key", path);
		goto out;
	}
	if (key_id(k->pkey, k->id)) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto out;
	}
	*out = k;
	k = NULL;
out:
	BIO_free(b);
	llmo_sig_key_free(k);
	OPENSSL_cleanse(text.data, text.len);
	llmo_buf_release(&text);
	return rc;
}

/* The signed message for digest d. */
static size_t message(const struct llmo_digest *d, char *out, size_t n)
{
	char ds[LLMO_DIGEST_STR_MAX];
	int len = snprintf(out, n, "%s%s", LLMO_SIG_PREFIX, llmo_digest_str(d, ds));

	return len > 0 ? (size_t)len : 0;
}

int llmo_sig_sign(const struct llmo_sig_key *k, const struct llmo_digest *d,
		  unsigned char *sig, struct llmo_error *err)
{
	char msg[128];
	size_t mlen = message(d, msg, sizeof(msg)), slen = LLMO_SIG_LEN;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = 0;

	if (!ctx || EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) != 1 ||
	    EVP_DigestSign(ctx, sig, &slen, (const unsigned char *)msg, mlen) != 1 ||
	    slen != LLMO_SIG_LEN)
		rc = ossl_error(err, LLMO_EINVAL, "cannot sign (is it a private key?)");
	EVP_MD_CTX_free(ctx);
	return rc;
}

bool llmo_sig_verify(const struct llmo_sig_key *k, const struct llmo_digest *d,
		     const unsigned char *sig, size_t len)
{
	char msg[128];
	size_t mlen = message(d, msg, sizeof(msg));
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && len == LLMO_SIG_LEN &&
		  EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
		  EVP_DigestVerify(ctx, sig, len, (const unsigned char *)msg, mlen) == 1;

	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}
