#include "base/common.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "apiserver/satoken.h"
#include "base/str.h"

#define SA_KEY_LABEL "llmo serviceaccount tokens v1"
#define SA_MAC_HEX (2 * 32)

void llmo_sa_key_derive(const char *admin_token, unsigned char key[LLMO_SA_KEY_LEN])
{
	unsigned int len = LLMO_SA_KEY_LEN;

	HMAC(EVP_sha256(), admin_token, (int)strlen(admin_token),
	     (const unsigned char *)SA_KEY_LABEL, strlen(SA_KEY_LABEL), key, &len);
}

/* The hex HMAC of the first n bytes of signed into hex (SA_MAC_HEX + 1 bytes). */
static void mac_hex(const unsigned char key[LLMO_SA_KEY_LEN], const char *signed_part, size_t n,
		    char *hex)
{
	unsigned char mac[32];
	unsigned int len = sizeof(mac);

	HMAC(EVP_sha256(), key, LLMO_SA_KEY_LEN, (const unsigned char *)signed_part, n, mac, &len);
	for (size_t i = 0; i < sizeof(mac); i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	OPENSSL_cleanse(mac, sizeof(mac));
}

int llmo_sa_token_issue(const unsigned char key[LLMO_SA_KEY_LEN], const struct llmo_sa_claims *c,
			char *out, size_t n)
{
	char body[LLMO_SA_TOKEN_MAX], hex[SA_MAC_HEX + 1];
	int len;

	if (strchr(c->ns, ':') || strchr(c->name, ':') || strchr(c->uid, ':') || !*c->ns ||
	    !*c->name || !*c->uid)
		return LLMO_EINVAL;
	len = snprintf(body, sizeof(body), "%s:%s:%s:%" PRId64, c->ns, c->name, c->uid, c->exp);
	if (len < 0 || (size_t)len >= sizeof(body))
		return LLMO_EINVAL;
	mac_hex(key, body, (size_t)len, hex);
	len = snprintf(out, n, LLMO_SA_TOKEN_PREFIX "%s:%s", body, hex);
	OPENSSL_cleanse(hex, sizeof(hex));
	if (len < 0 || (size_t)len >= n || (size_t)len > LLMO_SA_TOKEN_MAX)
		return LLMO_ETOOBIG;
	return 0;
}

/* Copies the field [s, s+n) into out (size cap); false when empty or too long. */
static bool take(const char *s, size_t n, char *out, size_t cap)
{
	if (n == 0 || n >= cap)
		return false;
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

int llmo_sa_token_verify(const unsigned char key[LLMO_SA_KEY_LEN], const char *tok, size_t len,
			 int64_t now_s, struct llmo_sa_claims *c)
{
	const size_t plen = strlen(LLMO_SA_TOKEN_PREFIX);
	const char *f[5], *body, *end = tok + len, *p;
	char hex[SA_MAC_HEX + 1], num[24];
	size_t k = 0;

	memset(c, 0, sizeof(*c));
	if (len > LLMO_SA_TOKEN_MAX || len < plen || memcmp(tok, LLMO_SA_TOKEN_PREFIX, plen) != 0 ||
	    memchr(tok, '\0', len))
		return LLMO_EPARSE;
	body = tok + plen;
	f[k++] = body;
	for (p = body; p < end && k < 5; p++)
		if (*p == ':')
			f[k++] = p + 1;
	if (k != 5 || memchr(f[4], ':', (size_t)(end - f[4])) ||
	    (size_t)(end - f[4]) != SA_MAC_HEX)
		return LLMO_EPARSE;
	if (!take(f[0], (size_t)(f[1] - f[0] - 1), c->ns, sizeof(c->ns)) ||
	    !take(f[1], (size_t)(f[2] - f[1] - 1), c->name, sizeof(c->name)) ||
	    !take(f[2], (size_t)(f[3] - f[2] - 1), c->uid, sizeof(c->uid)) ||
	    !take(f[3], (size_t)(f[4] - f[3] - 1), num, sizeof(num)) ||
	    llmo_parse_int64(num, &c->exp, NULL) != 0 || num[0] < '0' || num[0] > '9') {
		memset(c, 0, sizeof(*c));
		return LLMO_EPARSE;
	}
	mac_hex(key, body, (size_t)(f[4] - 1 - body), hex);
	if (CRYPTO_memcmp(hex, f[4], SA_MAC_HEX) != 0) {
		memset(c, 0, sizeof(*c));
		return LLMO_EDENIED;
	}
	return c->exp > now_s ? 0 : LLMO_ETIMEOUT;
}
