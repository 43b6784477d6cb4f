/*
 * Digests and streaming SHA-256 (digest.h), and hashing files from memory
 * maps with a SIGBUS handler for files that shrink under them.
 */
#include "base/common.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

void (*llmo__digest_before_map)(int fd);

/* The way back from a SIGBUS while this thread hashes a mapped file (NULL otherwise). */
static _Thread_local sigjmp_buf *volatile bus_jump;
static struct sigaction bus_before; /* the SIGBUS action before ours */
static pthread_mutex_t bus_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_sigbus(int sig, siginfo_t *info, void *uctx)
{
	if (bus_jump)
		siglongjmp(*bus_jump, 1);
	/* not a read of a file being hashed: what would have happened without us */
	if ((bus_before.sa_flags & SA_SIGINFO) && bus_before.sa_sigaction) {
		bus_before.sa_sigaction(sig, info, uctx);
		return;
	}
	if (!(bus_before.sa_flags & SA_SIGINFO) && bus_before.sa_handler != SIG_DFL &&
	    bus_before.sa_handler != SIG_IGN) {
		bus_before.sa_handler(sig);
		return;
	}
	/* the default action: pending until this handler returns, then it ends the process
	 * (a fault or a kill -BUS alike) */
	signal(SIGBUS, SIG_DFL);
	raise(SIGBUS);
}

/*
 * Whether on_sigbus handles SIGBUS, installing it if not: checked at each
 * llmo_sha256_mapped, as something else may have set its own since (the
 * one found is then the one a foreign SIGBUS goes on to).
 */
static bool bus_ready(void)
{
	struct sigaction cur, sa;
	bool ok;

	pthread_mutex_lock(&bus_lock);
	ok = sigaction(SIGBUS, NULL, &cur) == 0;
	if (ok && !((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_sigbus)) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_sigbus;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		ok = sigaction(SIGBUS, &sa, &bus_before) == 0;
	}
	pthread_mutex_unlock(&bus_lock);
	return ok;
}

/*
 * Hashes the window [off, off + n) of fd from a memory map into h: 0,
 * LLMO_EUNSUPPORTED when it cannot be mapped, LLMO_EIO when the file shrank
 * under the map (SIGBUS).
 */
static int hash_window(struct llmo_sha256 *h, int fd, uint64_t off, size_t n)
{
	unsigned char *m = mmap(NULL, n, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, (off_t)off);
	sigjmp_buf env;
	int rc = 0;

	if (m == MAP_FAILED)
		return LLMO_EUNSUPPORTED;
	if (sigsetjmp(env, 1) == 0) {
		bus_jump = &env;
		for (size_t done = 0; done < n; done += LLMO_DIGEST_READ_CHUNK)
			llmo_sha256_update(h, m + done, LLMO_MIN(n - done, LLMO_DIGEST_READ_CHUNK));
	} else {
		rc = LLMO_EIO;
	}
	bus_jump = NULL;
	munmap(m, n);
	return rc;
}

int llmo_sha256_mapped(struct llmo_sha256 *h, int fd, uint64_t *off, uint64_t len,
		       bool (*stop)(void *arg), void *arg)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !bus_ready())
		return LLMO_EUNSUPPORTED;
	/* a map reads zeros past the end in the last page: the size is checked before and after */
	if ((uint64_t)st.st_size < len) {
		errno = EIO;
		return LLMO_EIO;
	}
	if (llmo__digest_before_map)
		llmo__digest_before_map(fd);
	while (*off < len && !(stop && stop(arg))) {
		size_t n = (size_t)LLMO_MIN(len - *off, (uint64_t)LLMO_DIGEST_MAP_WINDOW);
		int rc = hash_window(h, fd, *off, n);

		if (rc == LLMO_EUNSUPPORTED)
			return rc;
		if (rc || fstat(fd, &st) < 0 || (uint64_t)st.st_size < *off + n) {
			errno = EIO;
			return LLMO_EIO;
		}
		*off += n;
	}
	return 0;
}

int llmo_sha256_fd(struct llmo_sha256 *h, int fd, uint64_t *size)
{
	char *buf;
	struct stat st;
	uint64_t off = 0;
	int rc = 0;

	/* what is there now from a map (not a regular file: nothing); what could not be mapped or
	 * came since, read */
	if (fstat(fd, &st) == 0 &&
	    llmo_sha256_mapped(h, fd, &off, (uint64_t)st.st_size, NULL, NULL) == LLMO_EIO)
		return LLMO_EIO;
	buf = malloc(LLMO_DIGEST_READ_CHUNK);
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
