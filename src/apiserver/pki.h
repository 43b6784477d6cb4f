#ifndef LLMO_APISERVER_PKI_H
#define LLMO_APISERVER_PKI_H
/*
 * The security set-up of `llmo server`: a private certificate authority, the
 * API server's serving certificate, the admin bearer token, and a kubeconfig
 * that lets kubectl in with them. Everything lives in the data directory:
 *
 *     DATA_DIR/            0700 when llmo creates it
 *       pki/ca.crt         CA certificate (CN llmo-ca, 10 years)       0644
 *       pki/ca.key         CA private key (EC P-256, PKCS#8 PEM)       0600
 *       pki/server.crt     serving certificate (CN llmo-server, 1 year) 0644
 *       pki/server.key     serving private key (EC P-256, PKCS#8 PEM)  0600
 *       token              admin bearer token, one line                0600
 *       kubeconfig         cluster/user/context "llmo"                 0600
 *
 * Every file is written atomically (llmo_file_write_atomic: temporary file,
 * fsync, rename), and in an order that leaves a state the next start repairs
 * after a crash at any point: a key is written before its certificate, and a
 * certificate whose key is being replaced is removed first.
 *
 * Later starts reuse what is there. The CA is never replaced. The serving
 * certificate is reissued (with the same server.key) when it is missing,
 * does not verify against the CA as a TLS server certificate, expires within
 * LLMO_PKI_RENEW_BEFORE_S, or has no SAN for one of the requested hosts. The
 * kubeconfig is rewritten whenever its bytes differ from what llmo would
 * write now (a new server URL, a new token), so edits to it do not survive.
 *
 * Refused, with an error that names the file:
 *   - a key, token or kubeconfig file that group or others may access
 *     (mode & 077): LLMO_EDENIED; the secret may have leaked
 *   - a certificate that does not match its key: LLMO_EINVAL
 *   - ca.key missing while ca.crt exists (llmo cannot sign): LLMO_ENOTFOUND
 *   - a ca.crt that is not a CA or has expired: LLMO_EINVAL
 *   - unreadable PEM (encrypted keys included: llmo never prompts): LLMO_EPARSE
 * OpenSSL's own error text (ERR_error_string_n) ends every message caused by
 * an OpenSSL failure.
 */
#include "base/common.h"

#include <openssl/ssl.h>

#include "base/error.h"

/* Largest PEM, token or kubeconfig file read back. */
#define LLMO_PKI_FILE_MAX ((size_t)64 << 10)
/* Hosts (SANs) in one serving certificate. */
#define LLMO_PKI_HOSTS_MAX 64
/* Longest DNS name (RFC 1035) and label. */
#define LLMO_PKI_HOST_MAX 253
#define LLMO_PKI_LABEL_MAX 63
/* Longest server URL written to the kubeconfig. */
#define LLMO_PKI_URL_MAX 2048
/* Length bounds on a token read from DATA_DIR/token (one written is 64 hex digits). */
#define LLMO_PKI_TOKEN_MIN 16
#define LLMO_PKI_TOKEN_MAX 1024
/* Random bytes in a new token. */
#define LLMO_PKI_TOKEN_BYTES 32
/* Lifetimes, and how long before expiry the serving certificate is reissued. */
#define LLMO_PKI_CA_DAYS 3650
#define LLMO_PKI_SERVER_DAYS 365
#define LLMO_PKI_RENEW_BEFORE_S ((time_t)30 * 24 * 3600)
/* notBefore is set this far in the past, for clients whose clocks lag. */
#define LLMO_PKI_BACKDATE_S 3600

/*
 * Paths and the token after llmo_pki_ensure. All strings are owned (heap);
 * llmo_pki_release frees them (wiping the token first).
 */
struct llmo_pki {
	char *dir;             /* the data directory, as given */
	char *ca_cert_path;    /* DIR/pki/ca.crt */
	char *ca_key_path;     /* DIR/pki/ca.key */
	char *cert_path;       /* DIR/pki/server.crt */
	char *key_path;        /* DIR/pki/server.key */
	char *token_path;      /* DIR/token */
	char *kubeconfig_path; /* DIR/kubeconfig */
	char *token;           /* the admin bearer token (no newline) */
};

/*
 * Creates or loads the set-up in data_dir (see above) and fills *out, which
 * is overwritten, not released; on failure it is left empty (nothing to
 * release, though files written before the failure stay).
 *
 * hosts: NULL-terminated, 1 to LLMO_PKI_HOSTS_MAX entries, each an IPv4 or
 * IPv6 address ("127.0.0.1", "::1"; becomes an IP SAN) or a DNS name
 * ("localhost"; letters, digits and '-' in dot-separated labels, no
 * wildcards; becomes a DNS SAN). Anything else is LLMO_EINVAL.
 * server_url: "https://HOST:PORT" or "http://HOST:PORT" (printable ASCII, no
 * spaces, at most LLMO_PKI_URL_MAX bytes), written as the kubeconfig's
 * cluster server; for "http://" the kubeconfig has no
 * certificate-authority-data.
 */
int llmo_pki_ensure(const char *data_dir, const char *const *hosts, const char *server_url,
		    struct llmo_pki *out, struct llmo_error *err);

/*
 * A new serving certificate, signed by the CA of ca_cert and ca_key (PEM
 * files, as DATA_DIR/pki/ca.*): subject CN=cn, a SAN for each of hosts
 * (NULL-terminated, checked as for llmo_pki_ensure), valid for days, with a
 * new EC P-256 key. cert_pem and key_pem (PKCS#8) receive the PEM text.
 */
struct llmo_buf;
int llmo_pki_issue(const char *ca_cert, const char *ca_key, const char *cn,
		   const char *const *hosts, long days, struct llmo_buf *cert_pem,
		   struct llmo_buf *key_pem, struct llmo_error *err);
/*
 * Whether the PEM certificate cert_pem verifies against ca_cert's key, names
 * host, and is valid for renew_before seconds more. Returns 1 or 0.
 */
int llmo_pki_cert_valid(const char *cert_pem, size_t len, const char *ca_cert, const char *host,
			time_t renew_before);

/* Frees what p owns and leaves it empty; fine on an empty or released p. */
void llmo_pki_release(struct llmo_pki *p);

/*
 * Whether an Authorization header value carries the admin token:
 * "Bearer <token>" (scheme in any case, RFC 7235; spaces or tabs around the
 * token are ignored). The token is compared in constant time
 * (CRYPTO_memcmp; only its length is not secret). NULL, an empty token,
 * another scheme, or a different token (a prefix of it included) give false.
 */
bool llmo_pki_token_ok(const struct llmo_pki *p, const char *authorization_header);

/*
 * A new server SSL_CTX (the caller SSL_CTX_free()s it) with server.crt and
 * server.key, loaded now (the key file's mode is checked again): TLS 1.2 or
 * later (TLS 1.2 with ECDHE and AES-GCM or ChaCha20-Poly1305 only), no
 * renegotiation, and ALPN that only ever selects "http/1.1" (a
 * client offering only other protocols gets no ALPN answer), so HTTP/2 is
 * never negotiated. Meant for libevent's bufferevent_openssl. *out is NULL
 * on failure.
 */
int llmo_pki_ssl_ctx(const struct llmo_pki *p, SSL_CTX **out, struct llmo_error *err);

#endif
