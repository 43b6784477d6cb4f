#include "api/errlist.h"
#include "base/buf.h"
#include "base/error.h"

void llmo_errlist_init(struct llmo_errlist *l)
{
	memset(l, 0, sizeof(*l));
}

void llmo_errlist_release(struct llmo_errlist *l)
{
	for (size_t i = 0; i < l->v.len; i++) {
		free(l->v.items[i].path);
		free(l->v.items[i].msg);
	}
	llmo_vec_release(&l->v);
	l->dropped = 0;
}

int llmo_errlist_add(struct llmo_errlist *l, const char *path, const char *fmt, ...)
{
	struct llmo_buf msg;
	struct llmo_field_error *e;
	va_list ap;
	int rc;

	if (l->v.len >= LLMO_ERRLIST_MAX) {
		l->dropped++;
		return 0;
	}
	llmo_buf_init(&msg, 4096);
	va_start(ap, fmt);
	rc = llmo_buf_vappendf(&msg, fmt, ap);
	va_end(ap);
	if (rc == LLMO_ETOOBIG)
		rc = 0; /* the message was cut, which is fine */
	if (rc)
		goto out;
	e = llmo_vec_push(&l->v);
	if (!e) {
		rc = LLMO_ENOMEM;
		goto out;
	}
	e->path = strdup(path ? path : "");
	e->msg = llmo_buf_detach(&msg, NULL);
	if (!e->path || !e->msg) {
		free(e->path);
		free(e->msg);
		l->v.len--;
		rc = LLMO_ENOMEM;
	}
out:
	llmo_buf_release(&msg);
	return rc;
}

size_t llmo_errlist_count(const struct llmo_errlist *l)
{
	return l->v.len + l->dropped;
}

bool llmo_errlist_has_under(const struct llmo_errlist *l, const char *path)
{
	size_t n = strlen(path);

	for (size_t i = 0; i < l->v.len; i++) {
		const char *p = l->v.items[i].path;

		if (strncmp(p, path, n) == 0 && (p[n] == '\0' || p[n] == '.' || p[n] == '['))
			return true;
	}
	return false;
}
