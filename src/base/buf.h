#ifndef LLMO_BUF_H
#define LLMO_BUF_H
/*
 * struct llmo_buf: a growable byte buffer with a hard size cap.
 *
 * Invariants: `data` is never NULL after llmo_buf_init (it points at a shared
 * empty string until the first append), and data[len] == '\0' always, so the
 * contents can be used as a C string when they hold no NUL bytes.
 * `max` is the cap set by the use site (a named constant there, such as
 * LLMO_API_BODY_MAX): an append that would make len exceed it fails with
 * LLMO_ETOOBIG and leaves the buffer unchanged.
 */
#include "base/common.h"

struct llmo_buf {
	char *data;
	size_t len;
	size_t cap; /* bytes allocated, 0 while data is the shared empty string */
	size_t max; /* cap on len */
};

#define LLMO_BUF_UNLIMITED SIZE_MAX

void llmo_buf_init(struct llmo_buf *b, size_t max);
/* Frees the contents; the buffer is left initialised and empty. */
void llmo_buf_release(struct llmo_buf *b);
/* Empties without freeing. */
void llmo_buf_reset(struct llmo_buf *b);
/* Makes room for n more bytes. */
int llmo_buf_grow(struct llmo_buf *b, size_t n);
int llmo_buf_append(struct llmo_buf *b, const void *p, size_t n);
int llmo_buf_puts(struct llmo_buf *b, const char *s);
int llmo_buf_putc(struct llmo_buf *b, char c);
int llmo_buf_appendf(struct llmo_buf *b, const char *fmt, ...) LLMO_PRINTF(2, 3);
int llmo_buf_vappendf(struct llmo_buf *b, const char *fmt, va_list ap) LLMO_PRINTF(2, 0);
/* Shortens to len (no-op when already shorter). */
void llmo_buf_truncate(struct llmo_buf *b, size_t len);
/*
 * Hands the contents to the caller (free() them) and re-initialises b.
 * Always returns a heap string (an empty one when b was empty), or NULL
 * when out of memory.
 */
char *llmo_buf_detach(struct llmo_buf *b, size_t *len);

#endif
