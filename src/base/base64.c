/*
 * Base64 (base64.h).
 */
#include "base/common.h"

#include "base/base64.h"
#include "base/error.h"

#include "base/banned.h"

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int llmo_base64_decode(const char *s, char **out)
{
	size_t n = strlen(s), o = 0;
	uint32_t acc = 0;
	int bits = 0, pad = 0;
	char *d = malloc(n / 4 * 3 + 4);

	*out = NULL;
	if (!d)
		return LLMO_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int v;

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		v = b64_value(c);
		if (v < 0 || pad)
			goto bad;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			d[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	if (bits >= 6 || pad > 2)
		goto bad;
	d[o] = '\0';
	*out = d;
	return 0;
bad:
	free(d);
	return LLMO_EPARSE;
}

int llmo_base64_encode(const void *data, size_t len, char **out)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = data;
	size_t o = 0;
	char *s;

	*out = NULL;
	if (len > (SIZE_MAX - 1) / 4 * 3 - 2)
		return LLMO_ETOOBIG;
	s = malloc((len + 2) / 3 * 4 + 1);
	if (!s)
		return LLMO_ENOMEM;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		s[o++] = alphabet[(v >> 18) & 63];
		s[o++] = alphabet[(v >> 12) & 63];
		s[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
		s[o++] = i + 2 < len ? alphabet[v & 63] : '=';
	}
	s[o] = '\0';
	*out = s;
	return 0;
}
