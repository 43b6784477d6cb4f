#include "base/buf.h"
#include "base/error.h"

static char buf_empty[1];

void llmo_buf_init(struct llmo_buf *b, size_t max)
{
	b->data = buf_empty;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void llmo_buf_release(struct llmo_buf *b)
{
	if (b->cap)
		free(b->data);
	llmo_buf_init(b, b->max);
}

void llmo_buf_reset(struct llmo_buf *b)
{
	llmo_buf_truncate(b, 0);
}

int llmo_buf_grow(struct llmo_buf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (n > b->max || b->len > b->max - n)
		return LLMO_ETOOBIG;
	if (b->len + n + 1 <= b->cap)
		return 0;
	need = b->len + n + 1;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = b->cap ? realloc(b->data, cap) : malloc(cap);
	if (!p)
		return LLMO_ENOMEM;
	if (!b->cap)
		p[0] = '\0';
	b->data = p;
	b->cap = cap;
	return 0;
}

int llmo_buf_append(struct llmo_buf *b, const void *p, size_t n)
{
	int rc;

	if (n == 0)
		return 0;
	rc = llmo_buf_grow(b, n);
	if (rc)
		return rc;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int llmo_buf_puts(struct llmo_buf *b, const char *s)
{
	return llmo_buf_append(b, s, strlen(s));
}

int llmo_buf_putc(struct llmo_buf *b, char c)
{
	return llmo_buf_append(b, &c, 1);
}

int llmo_buf_vappendf(struct llmo_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n, rc;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return LLMO_EINVAL;
	rc = llmo_buf_grow(b, (size_t)n);
	if (rc)
		return rc;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int llmo_buf_appendf(struct llmo_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = llmo_buf_vappendf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void llmo_buf_truncate(struct llmo_buf *b, size_t len)
{
	if (len >= b->len)
		return;
	b->len = len;
	b->data[len] = '\0';
}

char *llmo_buf_detach(struct llmo_buf *b, size_t *len)
{
	char *s;

	if (len)
		*len = b->len;
	if (b->cap) {
		s = b->data;
	} else {
		s = malloc(1);
		if (s)
			s[0] = '\0';
	}
	llmo_buf_init(b, b->max);
	return s;
}
