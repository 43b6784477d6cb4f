#ifndef LLMO_API_TYPES_H
#define LLMO_API_TYPES_H
/*
 * Container types shared by the resource structs. Every struct here owns what
 * it points to; free them with the field table (llmo_fields_free) or the
 * helpers below. All of them are valid when zeroed (empty).
 */
#include "base/common.h"

/* A list of T; same layout for every T, so the field table can fill any of them. */
#define LLMO_LIST(T)          \
	struct {              \
		T *items;     \
		size_t len;   \
	}

struct llmo_strlist {
	char **items;
	size_t len;
};

struct llmo_kv {
	char *key;
	char *value;
};

/* String to string map, in the order of the source document. */
struct llmo_strmap {
	struct llmo_kv *items;
	size_t len;
};

struct llmo_numkv {
	char *key;
	double value;
};

struct llmo_nummap {
	struct llmo_numkv *items;
	size_t len;
};

/* Kubernetes IntOrString ("25%" or 2). */
struct llmo_intorstr {
	bool set;
	bool is_str;
	int64_t i;
	char *s;
};

/* Value of key, or NULL. */
const char *llmo_strmap_get(const struct llmo_strmap *m, const char *key);
bool llmo_strlist_has(const struct llmo_strlist *l, const char *s);

/*
 * Resolves an IntOrString against a total: 2 -> 2, "25%" of 10 -> 2 or 3
 * (round_up picks). LLMO_EINVAL for a string that is not "N%".
 */
int llmo_intorstr_scaled(const struct llmo_intorstr *v, int64_t total, bool round_up,
			 int64_t *out);

#endif
