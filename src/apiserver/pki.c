#include "base/common.h"

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "apiserver/pki.h"
#include "apiserver/tokens.h"
#include "base/buf.h"
#include "base/file.h"
#include "base/log.h"
#include "base/str.h"

#define PKI_LOG "apiserver"
/*
 * TLS 1.2 cipher suites: forward secrecy and AEAD only, which Go's crypto/tls
 * (kubectl), curl and Python all offer. TLS 1.3 keeps OpenSSL's defaults.
 */
#define PKI_TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20"
/* Room for a reason a serving certificate is reissued. */
#define PKI_WHY_MAX 256

/*
 * Sets err to the formatted message, followed by ": " and the earliest
 * error on OpenSSL's queue (the root cause) when there is one, and empties
 * the queue. Returns code.
 */
static int pki_ssl_err(struct llmo_error *err, int code, const char *fmt, ...) LLMO_PRINTF(3, 4);
static int pki_ssl_err(struct llmo_error *err, int code, const char *fmt, ...)
{
	char msg[LLMO_ERRMSG_MAX], ossl[256];
	unsigned long e;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e = ERR_get_error();
	ERR_clear_error();
	if (!e)
		return llmo_error_set(err, code, "%s", msg);
	ERR_error_string_n(e, ossl, sizeof(ossl));
	return llmo_error_set(err, code, "%s: %s", msg, ossl);
}

/* PEM password callback: llmo's keys are never encrypted, and it never prompts. */
static int pki_no_password(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

static char *pki_join(const char *a, const char *b)
{
	struct llmo_buf s;

	llmo_buf_init(&s, LLMO_BUF_UNLIMITED);
	if (llmo_buf_appendf(&s, "%s/%s", a, b)) {
		llmo_buf_release(&s);
		return NULL;
	}
	return llmo_buf_detach(&s, NULL);
}

/* *exists = whether path exists (as anything). */
static int pki_exists(const char *path, bool *exists, struct llmo_error *err)
{
	struct stat st;

	if (stat(path, &st) == 0) {
		*exists = true;
		return 0;
	}
	if (errno == ENOENT) {
		*exists = false;
		return 0;
	}
	return llmo_error_set(err, errno == EACCES ? LLMO_EDENIED : LLMO_EIO, "%s: %s", path,
			      strerror(errno));
}

/* Refuses a secret file that group or others may access. */
static int pki_check_private(const char *path, struct llmo_error *err)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return llmo_error_set(err, LLMO_ENOTFOUND, "%s: no such file", path);
		return llmo_error_set(err, errno == EACCES ? LLMO_EDENIED : LLMO_EIO, "%s: %s",
				      path, strerror(errno));
	}
	if (st.st_mode & 077)
		return llmo_error_set(err, LLMO_EDENIED,
				      "%s: mode %04o lets group or others read a secret; "
				      "refusing to use it (chmod 600 it, and consider it leaked)",
				      path, (unsigned)(st.st_mode & 07777));
	return 0;
}

/* Reads a file of at most LLMO_PKI_FILE_MAX bytes into b (initialised here). */
static int pki_read(const char *path, struct llmo_buf *b, struct llmo_error *err)
{
	llmo_buf_init(b, LLMO_PKI_FILE_MAX);
	return llmo_file_read(path, LLMO_PKI_FILE_MAX, b, err);
}

/* Releases a buffer that held a secret, wiping it first. */
static void pki_buf_wipe(struct llmo_buf *b)
{
	if (b->cap)
		OPENSSL_cleanse(b->data, b->cap);
	llmo_buf_release(b);
}

/* Reads path into b (the caller releases it, read or not) and opens *bio on its bytes. */
static int pki_read_bio(const char *path, struct llmo_buf *b, BIO **bio, struct llmo_error *err)
{
	int rc = pki_read(path, b, err);

	if (rc)
		return rc;
	*bio = BIO_new_mem_buf(b->data, (int)b->len);
	return *bio ? 0 : pki_ssl_err(err, LLMO_ENOMEM, "%s: reading", path);
}

static int pki_load_cert(const char *path, X509 **out, struct llmo_error *err)
{
	struct llmo_buf b;
	BIO *bio = NULL;
	int rc;

	*out = NULL;
	rc = pki_read_bio(path, &b, &bio, err);
	if (rc)
		goto out;
	*out = PEM_read_bio_X509(bio, NULL, pki_no_password, NULL);
	if (!*out)
		rc = pki_ssl_err(err, LLMO_EPARSE, "%s: not a PEM certificate", path);
out:
	BIO_free(bio);
	llmo_buf_release(&b);
	return rc;
}

/* Loads a private key, refusing it first when its mode is too open. */
static int pki_load_key(const char *path, EVP_PKEY **out, struct llmo_error *err)
{
	struct llmo_buf b;
	BIO *bio = NULL;
	int rc;

	*out = NULL;
	llmo_buf_init(&b, LLMO_PKI_FILE_MAX);
	rc = pki_check_private(path, err);
	if (!rc)
		rc = pki_read_bio(path, &b, &bio, err);
	if (rc)
		goto out;
	*out = PEM_read_bio_PrivateKey(bio, NULL, pki_no_password, NULL);
	if (!*out)
		rc = pki_ssl_err(err, LLMO_EPARSE,
				 "%s: not an unencrypted PEM private key", path);
out:
	BIO_free(bio);
	pki_buf_wipe(&b);
	return rc;
}

/* Writes what bio holds to path, atomically, with mode. */
static int pki_write_bio(const char *path, BIO *bio, int mode, struct llmo_error *err)
{
	char *data = NULL;
	long len;

	len = BIO_get_mem_data(bio, &data);
	if (len <= 0 || !data)
		return llmo_error_set(err, LLMO_EINTERNAL, "%s: nothing to write", path);
	return llmo_file_write_atomic(path, data, (size_t)len, mode, err);
}

static int pki_write_cert(const char *path, X509 *x, struct llmo_error *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int rc;

	if (!bio || !PEM_write_bio_X509(bio, x)) {
		rc = pki_ssl_err(err, LLMO_ENOMEM, "%s: encoding the certificate", path);
		goto out;
	}
	rc = pki_write_bio(path, bio, 0644, err);
out:
	BIO_free(bio);
	return rc;
}

static int pki_write_key(const char *path, EVP_PKEY *key, struct llmo_error *err)
{
	/* secmem: the PEM text is wiped when the BIO is freed */
	BIO *bio = BIO_new(BIO_s_secmem());
	int rc;

	if (!bio || !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) {
		rc = pki_ssl_err(err, LLMO_ENOMEM, "%s: encoding the private key", path);
		goto out;
	}
	rc = pki_write_bio(path, bio, 0600, err);
out:
	BIO_free(bio);
	return rc;
}

/* A new EC P-256 key: what Go's crypto/tls (kubectl) and every TLS stack accept. */
static int pki_new_key(EVP_PKEY **out, const char *what, struct llmo_error *err)
{
	*out = EVP_EC_gen("P-256");
	if (!*out)
		return pki_ssl_err(err, LLMO_EINTERNAL, "%s: generating an EC P-256 key", what);
	return 0;
}

/* The IP address in host (a new octet string), or NULL when it is not one. */
static ASN1_OCTET_STRING *pki_host_ip(const char *host)
{
	ASN1_OCTET_STRING *ip = a2i_IPADDRESS(host);

	ERR_clear_error();
	return ip;
}

/* A DNS name by RFC 1123: LDH labels, no '-' at either end, a non-numeric last label. */
static bool pki_dns_name_ok(const char *s)
{
	size_t len = strlen(s), label = 0, i;
	bool digits_only = true;

	if (len == 0 || len > LLMO_PKI_HOST_MAX)
		return false;
	for (i = 0; i <= len; i++) {
		char c = s[i];

		if (c == '.' || c == '\0') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			if (c == '\0')
				return !digits_only;
			label = 0;
			digits_only = true;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-'))
			return false;
		if (c == '-' && label == 0)
			return false;
		if (!(c >= '0' && c <= '9'))
			digits_only = false;
		if (++label > LLMO_PKI_LABEL_MAX)
			return false;
	}
	return false;
}

static int pki_check_args(const char *data_dir, const char *const *hosts, const char *url,
			  struct llmo_error *err)
{
	char q[LLMO_STR_QUOTE_SIZE(64)];
	size_t n = 0, i;

	if (!data_dir || !*data_dir)
		return llmo_error_set(err, LLMO_EINVAL, "pki: no data directory");
	if (!hosts || !hosts[0])
		return llmo_error_set(err, LLMO_EINVAL,
				      "pki: no hosts for the serving certificate's SANs");
	for (n = 0; hosts[n]; n++) {
		ASN1_OCTET_STRING *ip;

		if (n >= LLMO_PKI_HOSTS_MAX)
			return llmo_error_set(err, LLMO_ETOOBIG,
					      "pki: more than %d hosts for the serving certificate",
					      LLMO_PKI_HOSTS_MAX);
		ip = pki_host_ip(hosts[n]);
		if (ip) {
			ASN1_OCTET_STRING_free(ip);
			continue;
		}
		if (!pki_dns_name_ok(hosts[n]))
			return llmo_error_set(err, LLMO_EINVAL,
					      "pki: host %s is neither an IP address nor a DNS name",
					      llmo_str_quote(q, hosts[n], strlen(hosts[n]), 64));
	}
	if (!url)
		return llmo_error_set(err, LLMO_EINVAL, "pki: no server URL");
	if (strlen(url) > LLMO_PKI_URL_MAX)
		return llmo_error_set(err, LLMO_ETOOBIG, "pki: server URL longer than %d bytes",
				      LLMO_PKI_URL_MAX);
	if (!llmo_str_has_prefix(url, "https://") && !llmo_str_has_prefix(url, "http://"))
		goto bad_url;
	for (i = 0; url[i]; i++)
		if (url[i] <= ' ' || url[i] > '~')
			goto bad_url;
	if (url[strlen(llmo_str_has_prefix(url, "https://") ? "https://" : "http://")] == '\0')
		goto bad_url;
	return 0;
bad_url:
	return llmo_error_set(err, LLMO_EINVAL,
			      "pki: server URL %s is not https://HOST:PORT or http://HOST:PORT",
			      llmo_str_quote(q, url, strlen(url), 64));
}

/* Adds one extension written in OpenSSL's config syntax (values are constants here). */
static int pki_add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/*
 * subjectAltName from hosts (already checked by pki_check_args), built as
 * GENERAL_NAMEs rather than config text so that no host can inject syntax.
 */
static int pki_add_sans(X509 *x, const char *const *hosts)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	int ok = 0;
	size_t i;

	if (!gens)
		return 0;
	for (i = 0; hosts[i]; i++) {
		GENERAL_NAME *gen = GENERAL_NAME_new();
		ASN1_OCTET_STRING *ip;
		ASN1_IA5STRING *dns;

		if (!gen)
			goto out;
		ip = pki_host_ip(hosts[i]);
		if (ip) {
			GENERAL_NAME_set0_value(gen, GEN_IPADD, ip);
		} else {
			dns = ASN1_IA5STRING_new();
			if (!dns || !ASN1_STRING_set(dns, hosts[i], -1)) {
				ASN1_IA5STRING_free(dns);
				GENERAL_NAME_free(gen);
				goto out;
			}
			GENERAL_NAME_set0_value(gen, GEN_DNS, dns);
		}
		if (!sk_GENERAL_NAME_push(gens, gen)) {
			GENERAL_NAME_free(gen);
			goto out;
		}
	}
	ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT);
out:
	GENERAL_NAMES_free(gens);
	return ok;
}

/* A random 128-bit serial number (RFC 5280: positive, at most 20 octets). */
static int pki_set_serial(X509 *x)
{
	unsigned char r[16];
	BIGNUM *bn = NULL;
	int ok = 0;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return 0;
	bn = BN_bin2bn(r, sizeof(r), NULL);
	if (!bn)
		return 0;
	if (BN_is_zero(bn) && !BN_one(bn))
		goto out;
	ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
out:
	BN_free(bn);
	return ok;
}

/* An unsigned v3 certificate for key with subject CN=cn, valid from now (backdated) for days. */
static X509 *pki_cert_base(EVP_PKEY *key, const char *cn, long days)
{
	X509 *x = X509_new();
	X509_NAME *name;

	if (!x)
		return NULL;
	name = X509_get_subject_name(x);
	if (!X509_set_version(x, X509_VERSION_3) || !pki_set_serial(x) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1,
					-1, 0) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -LLMO_PKI_BACKDATE_S) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) ||
	    !X509_set_pubkey(x, key)) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int pki_make_ca(EVP_PKEY *key, X509 **out, const char *path, struct llmo_error *err)
{
	X509 *x = pki_cert_base(key, "llmo-ca", LLMO_PKI_CA_DAYS);

	*out = NULL;
	if (!x || !X509_set_issuer_name(x, X509_get_subject_name(x)) ||
	    !pki_add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") ||
	    !pki_add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    !pki_add_ext(x, x, NID_subject_key_identifier, "hash") ||
	    !X509_sign(x, key, EVP_sha256())) {
		X509_free(x);
		return pki_ssl_err(err, LLMO_EINTERNAL, "%s: creating the CA certificate", path);
	}
	*out = x;
	return 0;
}

static int pki_make_leaf(EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key, const char *cn,
			 const char *const *hosts, long days, X509 **out, const char *path,
			 struct llmo_error *err)
{
	X509 *x = pki_cert_base(key, cn, days);

	*out = NULL;
	if (!x || !X509_set_issuer_name(x, X509_get_subject_name(ca)) ||
	    !pki_add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") ||
	    !pki_add_ext(x, ca, NID_key_usage, "critical,digitalSignature") ||
	    !pki_add_ext(x, ca, NID_ext_key_usage, "serverAuth") ||
	    !pki_add_ext(x, ca, NID_subject_key_identifier, "hash") ||
	    !pki_add_ext(x, ca, NID_authority_key_identifier, "keyid") || !pki_add_sans(x, hosts) ||
	    !X509_sign(x, ca_key, EVP_sha256())) {
		X509_free(x);
		return pki_ssl_err(err, LLMO_EINTERNAL, "%s: creating the serving certificate",
				   path);
	}
	*out = x;
	return 0;
}

static int pki_make_server(EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key, const char *const *hosts,
			   X509 **out, const char *path, struct llmo_error *err)
{
	return pki_make_leaf(key, ca, ca_key, "llmo-server", hosts, LLMO_PKI_SERVER_DAYS, out, path,
			     err);
}

/* Appends x's PEM (cert) or key's PKCS#8 PEM to out. */
static int pki_pem(X509 *x, EVP_PKEY *key, struct llmo_buf *out, struct llmo_error *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int rc = 0;

	if (!bio || !(x ? PEM_write_bio_X509(bio, x)
			: PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)))
		rc = pki_ssl_err(err, LLMO_EINTERNAL, "writing PEM");
	else if ((n = BIO_get_mem_data(bio, &data)) <= 0 || llmo_buf_append(out, data, (size_t)n))
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	BIO_free(bio);
	return rc;
}

int llmo_pki_issue(const char *ca_cert, const char *ca_key, const char *cn,
		   const char *const *hosts, long days, struct llmo_buf *cert_pem,
		   struct llmo_buf *key_pem, struct llmo_error *err)
{
	X509 *ca = NULL, *x = NULL;
	EVP_PKEY *cakey = NULL, *key = NULL;
	size_t n = 0;
	int rc;

	while (hosts[n])
		n++;
	if (n == 0 || n > LLMO_PKI_HOSTS_MAX)
		return llmo_error_set(err, LLMO_EINVAL, "a certificate needs 1 to %d hosts",
				      LLMO_PKI_HOSTS_MAX);
	for (size_t i = 0; i < n; i++) {
		ASN1_OCTET_STRING *ip = pki_host_ip(hosts[i]);

		ASN1_OCTET_STRING_free(ip);
		if (!ip && !pki_dns_name_ok(hosts[i]))
			return llmo_error_set(err, LLMO_EINVAL,
					      "\"%s\" is neither an IP address nor a DNS name",
					      hosts[i]);
	}
	if ((rc = pki_load_cert(ca_cert, &ca, err)) || (rc = pki_load_key(ca_key, &cakey, err)))
		goto out;
	if (X509_check_private_key(ca, cakey) != 1) {
		rc = pki_ssl_err(err, LLMO_EINVAL, "%s: the key does not match %s", ca_key, ca_cert);
		goto out;
	}
	if ((rc = pki_new_key(&key, cn, err)) ||
	    (rc = pki_make_leaf(key, ca, cakey, cn, hosts, days, &x, cn, err)) ||
	    (rc = pki_pem(x, NULL, cert_pem, err)) || (rc = pki_pem(NULL, key, key_pem, err)))
		goto out;
out:
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(cakey);
	return rc;
}

int llmo_pki_cert_valid(const char *cert_pem, size_t len, const char *ca_cert, const char *host,
			time_t renew_before)
{
	BIO *bio = BIO_new_mem_buf(cert_pem, (int)len);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL, *ca = NULL;
	struct llmo_error err = {0};
	bool ok = false;

	if (x && !pki_load_cert(ca_cert, &ca, &err)) {
		EVP_PKEY *pub = X509_get0_pubkey(ca);
		time_t soon = time(NULL) + renew_before;

		ok = pub && X509_verify(x, pub) == 1 &&
		     X509_check_host(x, host, 0, 0, NULL) == 1 &&
		     X509_cmp_time(X509_get0_notAfter(x), &soon) > 0;
	}
	ERR_clear_error();
	X509_free(x);
	X509_free(ca);
	BIO_free(bio);
	return ok;
}

/*
 * Loads or creates the CA. ca.key is written before ca.crt, so a crash in
 * between leaves a key without a certificate, which the next start completes.
 * *pem receives ca.crt's bytes (for the kubeconfig).
 */
static int pki_ensure_ca(const struct llmo_pki *p, X509 **ca, EVP_PKEY **ca_key,
			 struct llmo_buf *pem, struct llmo_error *err)
{
	bool have_crt = false, have_key = false;
	int rc;

	*ca = NULL;
	*ca_key = NULL;
	rc = pki_exists(p->ca_cert_path, &have_crt, err);
	if (!rc)
		rc = pki_exists(p->ca_key_path, &have_key, err);
	if (rc)
		goto out;
	if (have_crt && !have_key) {
		rc = llmo_error_set(err, LLMO_ENOTFOUND,
				    "%s: no such file, but %s exists: llmo cannot issue serving "
				    "certificates without the CA's key; restore it, or move the "
				    "pki directory aside to create a new CA (clients must then "
				    "trust the new ca.crt)",
				    p->ca_key_path, p->ca_cert_path);
		goto out;
	}
	if (have_key) {
		rc = pki_load_key(p->ca_key_path, ca_key, err);
	} else {
		rc = pki_new_key(ca_key, p->ca_key_path, err);
		if (!rc)
			rc = pki_write_key(p->ca_key_path, *ca_key, err);
	}
	if (rc)
		goto out;
	if (!have_crt) {
		rc = pki_make_ca(*ca_key, ca, p->ca_cert_path, err);
		if (!rc)
			rc = pki_write_cert(p->ca_cert_path, *ca, err);
		if (rc)
			goto out;
		LLMO_INFO(PKI_LOG, "created certificate authority", "cert=%s", p->ca_cert_path);
	} else {
		rc = pki_load_cert(p->ca_cert_path, ca, err);
		if (rc)
			goto out;
		if (X509_check_private_key(*ca, *ca_key) != 1) {
			rc = pki_ssl_err(err, LLMO_EINVAL, "%s: does not match the private key in %s",
					 p->ca_cert_path, p->ca_key_path);
			goto out;
		}
		if (X509_check_ca(*ca) < 1) {
			rc = llmo_error_set(err, LLMO_EINVAL, "%s: not a CA certificate",
					    p->ca_cert_path);
			goto out;
		}
		if (X509_cmp_current_time(X509_get0_notAfter(*ca)) <= 0) {
			rc = llmo_error_set(err, LLMO_EINVAL,
					    "%s: the CA certificate has expired; move the pki "
					    "directory aside to create a new CA",
					    p->ca_cert_path);
			goto out;
		}
	}
	rc = pki_read(p->ca_cert_path, pem, err);
out:
	if (rc) {
		X509_free(*ca);
		EVP_PKEY_free(*ca_key);
		*ca = NULL;
		*ca_key = NULL;
	}
	return rc;
}

/*
 * 0 when crt is fit to serve hosts, 1 (with the reason in why) when it must
 * be reissued, or a negative code.
 */
static int pki_server_stale(X509 *crt, X509 *ca, const char *const *hosts, char *why,
			    size_t whylen, struct llmo_error *err)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *vctx = X509_STORE_CTX_new();
	time_t renew = time(NULL) + LLMO_PKI_RENEW_BEFORE_S;
	int rc = 0;
	size_t i;

	if (!store || !vctx || !X509_STORE_add_cert(store, ca) ||
	    !X509_STORE_CTX_init(vctx, store, crt, NULL) ||
	    !X509_STORE_CTX_set_purpose(vctx, X509_PURPOSE_SSL_SERVER)) {
		rc = pki_ssl_err(err, LLMO_ENOMEM, "pki: setting up certificate verification");
		goto out;
	}
	X509_STORE_CTX_set_flags(vctx, X509_V_FLAG_PARTIAL_CHAIN);
	if (X509_verify_cert(vctx) != 1) {
		ERR_clear_error();
		snprintf(why, whylen, "it does not verify against the CA: %s",
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx)));
		rc = 1;
		goto out;
	}
	if (X509_cmp_time(X509_get0_notAfter(crt), &renew) <= 0) {
		snprintf(why, whylen, "it expires within %d days",
			 (int)(LLMO_PKI_RENEW_BEFORE_S / (24 * 3600)));
		rc = 1;
		goto out;
	}
	for (i = 0; hosts[i]; i++) {
		ASN1_OCTET_STRING *ip = pki_host_ip(hosts[i]);
		int ok;

		if (ip) {
			ASN1_OCTET_STRING_free(ip);
			ok = X509_check_ip_asc(crt, hosts[i], 0);
		} else {
			ok = X509_check_host(crt, hosts[i], 0,
					     X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
						     X509_CHECK_FLAG_NO_WILDCARDS,
					     NULL);
		}
		if (ok < 0) {
			rc = pki_ssl_err(err, LLMO_ENOMEM, "pki: checking the SANs");
			goto out;
		}
		if (ok == 0) {
			snprintf(why, whylen, "it has no SAN for %s", hosts[i]);
			rc = 1;
			goto out;
		}
	}
out:
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(store);
	return rc;
}

/*
 * Loads server.key (or creates it, removing a server.crt made for the old
 * one first), then reissues server.crt when it is missing or stale.
 */
static int pki_ensure_server(const struct llmo_pki *p, X509 *ca, EVP_PKEY *ca_key,
			     const char *const *hosts, struct llmo_error *err)
{
	char why[PKI_WHY_MAX] = "it does not exist";
	EVP_PKEY *key = NULL;
	X509 *crt = NULL;
	bool have_key = false, have_crt = false;
	int rc, stale = 1;

	rc = pki_exists(p->key_path, &have_key, err);
	if (rc)
		goto out;
	if (have_key) {
		rc = pki_load_key(p->key_path, &key, err);
	} else {
		if (unlink(p->cert_path) < 0 && errno != ENOENT) {
			rc = llmo_error_set(err, LLMO_EIO, "%s: removing: %s", p->cert_path,
					    strerror(errno));
			goto out;
		}
		rc = pki_new_key(&key, p->key_path, err);
		if (!rc)
			rc = pki_write_key(p->key_path, key, err);
	}
	if (rc)
		goto out;
	rc = pki_exists(p->cert_path, &have_crt, err);
	if (rc)
		goto out;
	if (have_crt) {
		rc = pki_load_cert(p->cert_path, &crt, err);
		if (rc)
			goto out;
		if (X509_check_private_key(crt, key) != 1) {
			rc = pki_ssl_err(err, LLMO_EINVAL,
					 "%s: does not match the private key in %s (remove both "
					 "to have llmo create new ones)",
					 p->cert_path, p->key_path);
			goto out;
		}
		stale = pki_server_stale(crt, ca, hosts, why, sizeof(why), err);
		if (stale < 0) {
			rc = stale;
			goto out;
		}
		X509_free(crt);
		crt = NULL;
	}
	if (!stale)
		goto out;
	rc = pki_make_server(key, ca, ca_key, hosts, &crt, p->cert_path, err);
	if (!rc)
		rc = pki_write_cert(p->cert_path, crt, err);
	if (!rc) {
		char q[LLMO_LOG_QUOTE_MAX];

		LLMO_INFO(PKI_LOG, "issued serving certificate", "cert=%s reason=%s",
			  p->cert_path, llmo_log_quote(q, sizeof(q), why));
	}
out:
	X509_free(crt);
	EVP_PKEY_free(key);
	return rc;
}

/* Token characters: RFC 6750's b64token (token68). */
static bool pki_token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=';
}

/* Loads DATA_DIR/token, or creates it with LLMO_PKI_TOKEN_BYTES random bytes in hex. */
static int pki_ensure_token(struct llmo_pki *p, struct llmo_error *err)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[LLMO_PKI_TOKEN_BYTES];
	struct llmo_buf b;
	bool have = false;
	size_t i;
	int rc;

	llmo_buf_init(&b, LLMO_PKI_FILE_MAX);
	rc = pki_exists(p->token_path, &have, err);
	if (rc)
		goto out;
	if (have) {
		rc = pki_check_private(p->token_path, err);
		if (!rc)
			rc = pki_read(p->token_path, &b, err);
		if (rc)
			goto out;
		while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r' ||
				 b.data[b.len - 1] == ' ' || b.data[b.len - 1] == '\t'))
			b.data[--b.len] = '\0';
		if (b.len < LLMO_PKI_TOKEN_MIN || b.len > LLMO_PKI_TOKEN_MAX) {
			rc = llmo_error_set(err, LLMO_EPARSE,
					    "%s: the token is %zu bytes long, expected %d to %d",
					    p->token_path, b.len, LLMO_PKI_TOKEN_MIN,
					    LLMO_PKI_TOKEN_MAX);
			goto out;
		}
		for (i = 0; i < b.len; i++) {
			if (!pki_token_char(b.data[i])) {
				rc = llmo_error_set(err, LLMO_EPARSE,
						    "%s: byte %zu of the token is not one of "
						    "A-Z a-z 0-9 - . _ ~ + / =",
						    p->token_path, i + 1);
				goto out;
			}
		}
	} else {
		if (RAND_bytes(raw, sizeof(raw)) != 1) {
			rc = pki_ssl_err(err, LLMO_EINTERNAL, "%s: generating a token",
					 p->token_path);
			goto out;
		}
		for (i = 0; i < sizeof(raw) && !rc; i++) {
			rc = llmo_buf_putc(&b, hex[raw[i] >> 4]);
			if (!rc)
				rc = llmo_buf_putc(&b, hex[raw[i] & 15]);
		}
		OPENSSL_cleanse(raw, sizeof(raw));
		if (!rc)
			rc = llmo_buf_putc(&b, '\n');
		if (rc) {
			rc = llmo_error_set(err, rc, "%s: %s", p->token_path, llmo_strerror(rc));
			goto out;
		}
		rc = llmo_file_write_atomic(p->token_path, b.data, b.len, 0600, err);
		if (rc)
			goto out;
		b.data[--b.len] = '\0';
		LLMO_INFO(PKI_LOG, "created admin token", "file=%s", p->token_path);
	}
	p->token = llmo_strndup(b.data, b.len);
	if (!p->token)
		rc = llmo_error_set(err, LLMO_ENOMEM, "%s: %s", p->token_path,
				    llmo_strerror(LLMO_ENOMEM));
out:
	pki_buf_wipe(&b);
	return rc;
}

/* s as a YAML double-quoted scalar; s is printable ASCII (checked by the callers). */
static int pki_yaml_quoted(struct llmo_buf *b, const char *s)
{
	int rc = llmo_buf_putc(b, '"');

	for (; *s && !rc; s++) {
		if (*s == '"' || *s == '\\')
			rc = llmo_buf_putc(b, '\\');
		if (!rc)
			rc = llmo_buf_putc(b, *s);
	}
	return rc ? rc : llmo_buf_putc(b, '"');
}

static int pki_kubeconfig_text(const struct llmo_pki *p, const struct llmo_buf *ca_pem,
			       const char *url, struct llmo_buf *b)
{
	unsigned char *b64 = NULL;
	int rc;

	rc = llmo_buf_puts(b, "# Written by llmo server, and rewritten when it differs from the\n"
			      "# server's settings: copy it before editing.\n"
			      "apiVersion: v1\n"
			      "kind: Config\n"
			      "clusters:\n"
			      "- name: llmo\n"
			      "  cluster:\n"
			      "    server: ");
	if (!rc)
		rc = pki_yaml_quoted(b, url);
	if (!rc)
		rc = llmo_buf_putc(b, '\n');
	if (!rc && llmo_str_has_prefix(url, "https://")) {
		if (ca_pem->len > INT_MAX / 2) {
			rc = LLMO_ETOOBIG;
			goto out;
		}
		b64 = malloc(4 * ((ca_pem->len + 2) / 3) + 1);
		if (!b64) {
			rc = LLMO_ENOMEM;
			goto out;
		}
		EVP_EncodeBlock(b64, (const unsigned char *)ca_pem->data, (int)ca_pem->len);
		rc = llmo_buf_appendf(b, "    certificate-authority-data: %s\n", (char *)b64);
	}
	if (!rc)
		rc = llmo_buf_puts(b, "users:\n"
				      "- name: llmo-admin\n"
				      "  user:\n"
				      "    token: ");
	if (!rc)
		rc = pki_yaml_quoted(b, p->token);
	if (!rc)
		rc = llmo_buf_puts(b, "\n"
				      "contexts:\n"
				      "- name: llmo\n"
				      "  context:\n"
				      "    cluster: llmo\n"
				      "    user: llmo-admin\n"
				      "    namespace: default\n"
				      "current-context: llmo\n"
				      "preferences: {}\n");
out:
	free(b64);
	return rc;
}

/* Writes DATA_DIR/kubeconfig unless it already holds exactly what it should. */
static int pki_ensure_kubeconfig(const struct llmo_pki *p, const struct llmo_buf *ca_pem,
				 const char *url, struct llmo_error *err)
{
	struct llmo_buf want, have;
	bool exists;
	int rc;

	llmo_buf_init(&want, LLMO_PKI_FILE_MAX);
	llmo_buf_init(&have, LLMO_PKI_FILE_MAX);
	rc = pki_kubeconfig_text(p, ca_pem, url, &want);
	if (rc) {
		rc = llmo_error_set(err, rc, "%s: %s", p->kubeconfig_path, llmo_strerror(rc));
		goto out;
	}
	rc = pki_exists(p->kubeconfig_path, &exists, err);
	if (!rc && exists) {
		rc = pki_check_private(p->kubeconfig_path, err);
		if (rc)
			goto out;
		rc = llmo_file_read(p->kubeconfig_path, LLMO_PKI_FILE_MAX, &have, err);
		if (rc == LLMO_ETOOBIG) {
			llmo_error_clear(err);
			rc = 0;
		}
		if (!rc && have.len == want.len && !memcmp(have.data, want.data, want.len))
			goto out;
	}
	if (rc)
		goto out;
	rc = llmo_file_write_atomic(p->kubeconfig_path, want.data, want.len, 0600, err);
	if (!rc)
		LLMO_INFO(PKI_LOG, "wrote kubeconfig", "file=%s", p->kubeconfig_path);
out:
	pki_buf_wipe(&want);
	pki_buf_wipe(&have);
	return rc;
}

static int pki_paths(struct llmo_pki *p, const char *data_dir)
{
	p->dir = llmo_strdup(data_dir);
	p->ca_cert_path = pki_join(data_dir, "pki/ca.crt");
	p->ca_key_path = pki_join(data_dir, "pki/ca.key");
	p->cert_path = pki_join(data_dir, "pki/server.crt");
	p->key_path = pki_join(data_dir, "pki/server.key");
	p->token_path = pki_join(data_dir, "token");
	p->kubeconfig_path = pki_join(data_dir, "kubeconfig");
	if (!p->dir || !p->ca_cert_path || !p->ca_key_path || !p->cert_path || !p->key_path ||
	    !p->token_path || !p->kubeconfig_path)
		return LLMO_ENOMEM;
	return 0;
}

int llmo_pki_ensure(const char *data_dir, const char *const *hosts, const char *server_url,
		    struct llmo_pki *out, struct llmo_error *err)
{
	struct llmo_buf ca_pem;
	EVP_PKEY *ca_key = NULL;
	X509 *ca = NULL;
	char *pki_dir = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	llmo_buf_init(&ca_pem, LLMO_PKI_FILE_MAX);
	ERR_clear_error();
	rc = pki_check_args(data_dir, hosts, server_url, err);
	if (rc)
		goto out;
	rc = pki_paths(out, data_dir);
	pki_dir = pki_join(data_dir, "pki");
	if (rc || !pki_dir) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "%s: %s", data_dir,
				    llmo_strerror(LLMO_ENOMEM));
		goto out;
	}
	rc = llmo_mkdir_p(data_dir, 0700, err);
	if (!rc)
		rc = llmo_mkdir_p(pki_dir, 0700, err);
	if (!rc)
		rc = pki_ensure_ca(out, &ca, &ca_key, &ca_pem, err);
	if (!rc)
		rc = pki_ensure_server(out, ca, ca_key, hosts, err);
	if (!rc)
		rc = pki_ensure_token(out, err);
	if (!rc)
		rc = pki_ensure_kubeconfig(out, &ca_pem, server_url, err);
out:
	if (rc)
		llmo_pki_release(out);
	ERR_clear_error();
	free(pki_dir);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	llmo_buf_release(&ca_pem);
	return rc;
}

void llmo_pki_release(struct llmo_pki *p)
{
	if (p->token)
		OPENSSL_cleanse(p->token, strlen(p->token));
	free(p->token);
	free(p->dir);
	free(p->ca_cert_path);
	free(p->ca_key_path);
	free(p->cert_path);
	free(p->key_path);
	free(p->token_path);
	free(p->kubeconfig_path);
	memset(p, 0, sizeof(*p));
}

bool llmo_pki_token_ok(const struct llmo_pki *p, const char *h)
{
	const char *tok;
	size_t len;

	if (!p || !p->token || !llmo_bearer_token(h, &tok, &len))
		return false;
	return len == strlen(p->token) && CRYPTO_memcmp(tok, p->token, len) == 0;
}

/* ALPN: "http/1.1" when the client offers it, otherwise no ALPN answer at all. */
static int pki_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
			   const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char http11[] = "\x08http/1.1";
	unsigned char *sel = NULL;
	unsigned char sellen = 0;

	if (SSL_select_next_proto(&sel, &sellen, http11, sizeof(http11) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	*outlen = sellen;
	return SSL_TLSEXT_ERR_OK;
}

int llmo_pki_ssl_ctx(const struct llmo_pki *p, SSL_CTX **out, struct llmo_error *err)
{
	SSL_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;
	X509 *crt = NULL;
	int rc;

	*out = NULL;
	ERR_clear_error();
	rc = pki_load_cert(p->cert_path, &crt, err);
	if (!rc)
		rc = pki_load_key(p->key_path, &key, err);
	if (rc)
		goto out;
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		rc = pki_ssl_err(err, LLMO_ENOMEM, "pki: creating the TLS context");
		goto out;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
		rc = pki_ssl_err(err, LLMO_EINTERNAL, "pki: requiring TLS 1.2");
		goto out;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
					 SSL_OP_NO_COMPRESSION);
	if (!SSL_CTX_set_cipher_list(ctx, PKI_TLS12_CIPHERS)) {
		rc = pki_ssl_err(err, LLMO_EINTERNAL, "pki: setting the TLS 1.2 ciphers");
		goto out;
	}
	if (SSL_CTX_use_certificate(ctx, crt) != 1) {
		rc = pki_ssl_err(err, LLMO_EINVAL, "%s: using the certificate", p->cert_path);
		goto out;
	}
	if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		rc = pki_ssl_err(err, LLMO_EINVAL, "%s: does not match the certificate in %s",
				 p->key_path, p->cert_path);
		goto out;
	}
	SSL_CTX_set_alpn_select_cb(ctx, pki_alpn_select, NULL);
	*out = ctx;
	ctx = NULL;
out:
	SSL_CTX_free(ctx);
	X509_free(crt);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc;
}
