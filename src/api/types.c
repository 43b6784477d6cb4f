#include "api/types.h"
#include "base/error.h"

const char *llmo_strmap_get(const struct llmo_strmap *m, const char *key)
{
	for (size_t i = 0; i < m->len; i++)
		if (strcmp(m->items[i].key, key) == 0)
			return m->items[i].value;
	return NULL;
}

bool llmo_strlist_has(const struct llmo_strlist *l, const char *s)
{
	for (size_t i = 0; i < l->len; i++)
		if (strcmp(l->items[i], s) == 0)
			return true;
	return false;
}

int llmo_intorstr_scaled(const struct llmo_intorstr *v, int64_t total, bool round_up,
			 int64_t *out)
{
	const char *p;
	int64_t pct = 0;

	if (!v->set) {
		*out = 0;
		return 0;
	}
	if (!v->is_str) {
		*out = v->i;
		return 0;
	}
	p = v->s;
	if (!*p || *p == '%')
		return LLMO_EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		pct = pct * 10 + (*p - '0');
		if (pct > 100000)
			return LLMO_ERANGE;
	}
	if (strcmp(p, "%") != 0)
		return LLMO_EINVAL;
	*out = round_up ? (pct * total + 99) / 100 : (pct * total) / 100;
	return 0;
}
