/*
 * Digests and streaming SHA-256 (digest.h).
 */
#include "base/common.h"

#include <openssl/evp.h>
#include <unistd.h>

#include "base/str.h"
#include "registry/digest.h"

#include "base/banned.h"

#define QUOTE_SHOW 80

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool encoded_char(char c)
{
	return lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '=' || c == '_' || c == '-';
}

static int bad(struct llmo_error *err, int code, const char *s, size_t len, const char *why)
{
	char q[LLMO_STR_QUOTE_SIZE(QUOTE_SHOW)];

	return llmo_error_set(err, code, "invalid digest %s: %s",
			      llmo_str_quote(q, s, len, QUOTE_SHOW), why);
}

int llmo_digest_parse(const char *s, size_t len, struct llmo_digest *out, struct llmo_error *err)
{
	const char *colon;
	size_t alen, i;

	if (len == 0 || len > LLMO_DIGEST_TEXT_MAX)
		return bad(err, LLMO_EPARSE, s, len, "expected ALGORITHM:HEX");
	colon = memchr(s, ':', len);
	if (!colon || colon == s || (size_t)(colon - s) == len - 1)
		return bad(err, LLMO_EPARSE, s, len, "expected ALGORITHM:HEX");
	alen = (size_t)(colon - s);
	/* algorithm: components of [a-z0-9]+ joined by single separators */
	for (i = 0; i < alen; i++) {
		bool sep = s[i] == '+' || s[i] == '.' || s[i] == '_' || s[i] == '-';

		if (sep && (i == 0 || i == alen - 1 || !lower_alnum(s[i - 1])))
			return bad(err, LLMO_EPARSE, s, len, "malformed algorithm");
		if (!sep && !lower_alnum(s[i]))
			return bad(err, LLMO_EPARSE, s, len, "malformed algorithm");
	}
	for (i = alen + 1; i < len; i++)
		if (!encoded_char(s[i]))
			return bad(err, LLMO_EPARSE, s, len, "malformed encoded part");
	if (alen != 6 || memcmp(s, "sha256", 6) != 0)
		return bad(err, LLMO_EUNSUPPORTED, s, len, "only sha256 digests are supported");
	if (len - alen - 1 != LLMO_DIGEST_HEX_LEN)
		return bad(err, LLMO_EPARSE, s, len, "a sha256 digest has 64 hex digits");
	for (i = alen + 1; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return bad(err, LLMO_EPARSE, s, len,
				   "a sha256 digest is lowercase hex digits");
	memcpy(out->hex, s + alen + 1, LLMO_DIGEST_HEX_LEN);
	out->hex[LLMO_DIGEST_HEX_LEN] = '\0';
	return 0;
}

const char *llmo_digest_str(const struct llmo_digest *d, char *out)
{
	snprintf(out, LLMO_DIGEST_STR_MAX, "sha256:%s", d->hex);
	return out;
}

bool llmo_digest_equal(const struct llmo_digest *a, const struct llmo_digest *b)
{
	return memcmp(a->hex, b->hex, LLMO_DIGEST_HEX_LEN) == 0;
}

static void to_hex(const unsigned char *md, struct llmo_digest *out)
{
	static const char xd[] = "0123456789abcdef";

	for (size_t i = 0; i < LLMO_DIGEST_HEX_LEN / 2; i++) {
		out->hex[2 * i] = xd[md[i] >> 4];
		out->hex[2 * i + 1] = xd[md[i] & 15];
	}
	out->hex[LLMO_DIGEST_HEX_LEN] = '\0';
}

int llmo_digest_of(const void *p, size_t len, struct llmo_digest *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(p, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return LLMO_ENOMEM;
	to_hex(md, out);
	return 0;
}

int llmo_sha256_init(struct llmo_sha256 *h)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	h->ctx = NULL;
	h->len = 0;
	if (!c)
		return LLMO_ENOMEM;
	if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(c);
		return LLMO_ENOMEM;
	}
	h->ctx = c;
	return 0;
}

void llmo_sha256_update(struct llmo_sha256 *h, const void *p, size_t n)
{
	/* EVP_DigestUpdate on an initialised SHA-256 context cannot fail */
	EVP_DigestUpdate(h->ctx, p, n);
	h->len += n;
}

int llmo_sha256_peek(const struct llmo_sha256 *h, struct llmo_digest *out)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int rc = LLMO_ENOMEM;

	if (c && EVP_MD_CTX_copy_ex(c, h->ctx) == 1 && EVP_DigestFinal_ex(c, md, &mdlen) == 1 &&
	    mdlen == 32) {
		to_hex(md, out);
		rc = 0;
	}
	EVP_MD_CTX_free(c);
	return rc;
}

int llmo_sha256_copy(struct llmo_sha256 *dst, const struct llmo_sha256 *src)
{
	if (!dst->ctx && !(dst->ctx = EVP_MD_CTX_new()))
		return LLMO_ENOMEM;
	if (EVP_MD_CTX_copy_ex(dst->ctx, src->ctx) != 1)
		return LLMO_ENOMEM;
	dst->len = src->len;
	return 0;
}

void llmo_sha256_release(struct llmo_sha256 *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
	h->len = 0;
}

int llmo_sha256_fd(struct llmo_sha256 *h, int fd, uint64_t *size)
{
	char *buf = malloc(LLMO_DIGEST_READ_CHUNK);
	uint64_t off = 0;
	int rc = 0;

	if (!buf)
		return LLMO_ENOMEM;
	for (;;) {
		ssize_t n = pread(fd, buf, LLMO_DIGEST_READ_CHUNK, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = LLMO_EIO;
			break;
		}
		if (n == 0)
			break;
		llmo_sha256_update(h, buf, (size_t)n);
		off += (uint64_t)n;
	}
	{
		int saved = errno;

		free(buf);
		errno = saved;
	}
	if (!rc && size)
		*size = off;
	return rc;
}
