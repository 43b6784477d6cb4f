/*
 * Routing tables and the backend registry (table.h).
 */
#include "base/common.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>

#include "base/str.h"
#include "gateway/table.h"

#include "base/banned.h"

/* One model's claim on a name. */
struct claim {
	struct llmo_gw_model *m;
	int prio;
};

/*
 * What a name leads to: the winning claim, and the others (most names have
 * none: nothing is allocated for them). A better claim is a lower priority,
 * then a smaller model id.
 */
struct name_entry {
	struct llmo_gw_model *m; /* the winner */
	int prio;
	uint32_t nmore, capmore;
	struct claim *more;
};

static bool claim_better(const struct llmo_gw_model *a, int pa, const struct llmo_gw_model *b,
			 int pb)
{
	return pa < pb || (pa == pb && strcmp(a->id, b->id) < 0);
}

static void name_entry_free(void *v)
{
	struct name_entry *e = v;

	if (e)
		free(e->more);
	free(e);
}

/* Appends a losing claim. LLMO_ENOMEM. */
static int name_entry_push(struct name_entry *e, struct llmo_gw_model *m, int prio)
{
	if (e->nmore == e->capmore) {
		uint32_t cap = e->capmore ? e->capmore * 2 : 2;
		struct claim *c;

		/* at most one claim per model of the table: bounded by LLMO_GW_MODELS_MAX */
		if (cap > LLMO_GW_MODELS_MAX || !(c = realloc(e->more, cap * sizeof(*c))))
			return LLMO_ENOMEM;
		e->more = c;
		e->capmore = cap;
	}
	e->more[e->nmore].m = m;
	e->more[e->nmore].prio = prio;
	e->nmore++;
	return 0;
}

/* ---- backends ---- */

void llmo_gw_backends_init(struct llmo_gw_backends *r,
			   void (*on_free)(void *ctx, struct llmo_gw_backend *b), void *ctx)
{
	llmo_hmap_init(&r->by_addr);
	r->next_id = 0;
	r->on_free = on_free;
	r->ctx = ctx;
}

void llmo_gw_backends_release(struct llmo_gw_backends *r)
{
	llmo_hmap_release(&r->by_addr, free);
}

int llmo_gw_addr_parse(const char *addr, struct sockaddr_storage *sa, socklen_t *salen,
		       char *canon, struct llmo_error *err)
{
	char host[LLMO_GW_ADDR_MAX + 1], text[INET6_ADDRSTRLEN];
	const char *colon, *h;
	size_t hlen;
	int64_t port;

	memset(sa, 0, sizeof(*sa));
	if (!addr || strlen(addr) > LLMO_GW_ADDR_MAX)
		return llmo_error_set(err, LLMO_EINVAL, "address \"%.64s\" is too long or empty",
				      addr ? addr : "");
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');

		if (!close || close[1] != ':')
			goto bad;
		h = addr + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || memchr(addr, ':', (size_t)(colon - addr)))
			goto bad;
		h = addr;
		hlen = (size_t)(colon - addr);
	}
	if (hlen == 0 || hlen >= sizeof(host))
		goto bad;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (llmo_parse_int_range(colon + 1, 1, 65535, &port, NULL))
		goto bad;
	if (strcmp(host, "localhost") == 0)
		memcpy(host, "127.0.0.1", sizeof("127.0.0.1"));
	if (addr[0] != '[') {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;

		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return llmo_error_set(err, LLMO_EINVAL,
					      "address \"%s\": the host must be an IP address "
					      "(names are not resolved)",
					      addr);
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*salen = sizeof(*in);
		inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
		if (canon)
			snprintf(canon, LLMO_GW_ADDR_MAX + 1, "%s:%d", text, (int)port);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;

		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			goto bad;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*salen = sizeof(*in6);
		inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
		if (canon)
			snprintf(canon, LLMO_GW_ADDR_MAX + 1, "[%s]:%d", text, (int)port);
	}
	return 0;
bad:
	return llmo_error_set(err, LLMO_EINVAL,
			      "address \"%s\": expected IP:PORT or [IPv6]:PORT with a port 1-65535",
			      addr);
}

int llmo_gw_backend_get(struct llmo_gw_backends *r, const char *addr,
			struct llmo_gw_backend **out, struct llmo_error *err)
{
	struct sockaddr_storage sa;
	char canon[LLMO_GW_ADDR_MAX + 1];
	struct llmo_gw_backend *b;
	socklen_t salen = 0;
	int rc;

	*out = NULL;
	if ((rc = llmo_gw_addr_parse(addr, &sa, &salen, canon, err)))
		return rc;
	b = llmo_hmap_get(&r->by_addr, canon);
	if (b) {
		b->refs++;
		*out = b;
		return 0;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	memcpy(b->addr, canon, sizeof(canon));
	b->sa = sa;
	b->salen = salen;
	b->refs = 1;
	b->registry = r;
	b->id = ++r->next_id;
	if (llmo_hmap_put(&r->by_addr, b->addr, b, NULL)) {
		free(b);
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	*out = b;
	return 0;
}

struct llmo_gw_backend *llmo_gw_backend_find(struct llmo_gw_backends *r, const char *addr)
{
	struct sockaddr_storage sa;
	char canon[LLMO_GW_ADDR_MAX + 1];
	socklen_t salen = 0;

	if (llmo_gw_addr_parse(addr, &sa, &salen, canon, NULL))
		return NULL;
	return llmo_hmap_get(&r->by_addr, canon);
}

void llmo_gw_backend_ref(struct llmo_gw_backend *b)
{
	b->refs++;
}

void llmo_gw_backend_unref(struct llmo_gw_backend *b)
{
	struct llmo_gw_backends *r;

	if (!b || --b->refs > 0)
		return;
	r = b->registry;
	if (r->on_free)
		r->on_free(r->ctx, b);
	llmo_hmap_del(&r->by_addr, b->addr, NULL);
	free(b);
}

/* ---- tables ---- */

int llmo_gw_table_new(struct llmo_gw_table **out)
{
	struct llmo_gw_table *t = calloc(1, sizeof(*t));

	*out = t;
	if (!t)
		return LLMO_ENOMEM;
	t->refs = 1;
	llmo_hmap_init(&t->names);
	llmo_hmap_init(&t->ids);
	return 0;
}

void llmo_gw_table_ref(struct llmo_gw_table *t)
{
	t->refs++;
}

void llmo_gw_model_ref(struct llmo_gw_model *m)
{
	m->refs++;
}

void llmo_gw_model_unref(struct llmo_gw_model *m)
{
	if (!m || --m->refs > 0)
		return;
	for (size_t i = 0; i < m->eps.len; i++) {
		struct llmo_gw_endpoint *e = &m->eps.items[i];

		llmo_gw_backend_unref(e->backend);
		free(e->served);
		free(e->served_json);
		free(e->track);
		free(e->pod);
	}
	llmo_vec_release(&m->eps);
	for (size_t i = 0; i < m->tracks.len; i++)
		free(m->tracks.items[i].name);
	llmo_vec_release(&m->tracks);
	free(m->sticky_header);
	for (size_t i = 0; i < m->access.len; i++)
		free(m->access.items[i]);
	llmo_vec_release(&m->access);
	free(m->ns);
	free(m->workload);
	for (size_t i = 0; i < m->names.len; i++)
		free(m->names.items[i]);
	llmo_vec_release(&m->names);
	free(m->id);
	free(m);
}

void llmo_gw_table_unref(struct llmo_gw_table *t)
{
	if (!t || --t->refs > 0)
		return;
	for (size_t i = 0; i < t->models.len; i++)
		llmo_gw_model_unref(t->models.items[i]);
	llmo_vec_release(&t->models);
	llmo_hmap_release(&t->names, name_entry_free);
	llmo_hmap_release(&t->ids, NULL);
	free(t);
}

int llmo_gw_table_add_model(struct llmo_gw_table *t, const char *id, struct llmo_gw_model **out,
			    struct llmo_error *err)
{
	struct llmo_gw_model *m, **slot;

	*out = NULL;
	if (t->models.len >= LLMO_GW_MODELS_MAX)
		return llmo_error_set(err, LLMO_ERANGE, "more than %d models", LLMO_GW_MODELS_MAX);
	/* by the id index: a table of thousands of models is rebuilt after each change */
	if (llmo_hmap_has(&t->ids, id))
		return llmo_error_set(err, LLMO_EEXIST, "model \"%s\" is listed twice", id);
	m = calloc(1, sizeof(*m));
	if (m)
		m->refs = 1;
	if (!m || !(m->id = llmo_strdup(id)) || llmo_hmap_put(&t->ids, id, m, NULL)) {
		llmo_gw_model_unref(m);
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	if (!(slot = llmo_vec_push(&t->models))) {
		llmo_hmap_del(&t->ids, id, NULL);
		llmo_gw_model_unref(m);
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	*slot = m;
	m->slot = t->models.len - 1;
	*out = m;
	return 0;
}

/* m claims e's name again with priority: its claim keeps the better of the two. */
static void name_reclaim(struct name_entry *e, struct llmo_gw_model *m, int priority)
{
	struct claim c;

	if (!e)
		return;
	if (e->m == m) {
		if (priority < e->prio)
			e->prio = priority;
		return;
	}
	for (uint32_t i = 0; i < e->nmore; i++) {
		if (e->more[i].m != m)
			continue;
		if (priority >= e->more[i].prio)
			return;
		e->more[i].prio = priority;
		if (!claim_better(m, priority, e->m, e->prio))
			return;
		/* it now beats the winner: they trade places */
		c = e->more[i];
		e->more[i].m = e->m;
		e->more[i].prio = e->prio;
		e->m = c.m;
		e->prio = c.prio;
		return;
	}
}

/* Takes m's claim off name; the best other claim wins it, or the name goes. */
static void name_drop(struct llmo_gw_table *t, const char *name, struct llmo_gw_model *m)
{
	struct name_entry *e = llmo_hmap_get(&t->names, name);
	uint32_t best = 0;

	if (!e)
		return;
	if (e->m != m) {
		for (uint32_t i = 0; i < e->nmore; i++)
			if (e->more[i].m == m) {
				e->more[i] = e->more[--e->nmore];
				break;
			}
		return;
	}
	if (e->nmore == 0) {
		llmo_hmap_del(&t->names, name, NULL);
		name_entry_free(e);
		return;
	}
	for (uint32_t i = 1; i < e->nmore; i++)
		if (claim_better(e->more[i].m, e->more[i].prio, e->more[best].m, e->more[best].prio))
			best = i;
	e->m = e->more[best].m;
	e->prio = e->more[best].prio;
	e->more[best] = e->more[--e->nmore];
}

void llmo_gw_table_remove_model(struct llmo_gw_table *t, struct llmo_gw_model *m)
{
	struct llmo_gw_model *last;

	for (size_t i = 0; i < m->names.len; i++)
		name_drop(t, m->names.items[i], m);
	llmo_hmap_del(&t->ids, m->id, NULL);
	/* the last model takes its slot: O(1), the order of models means nothing */
	last = t->models.items[t->models.len - 1];
	t->models.items[m->slot] = last;
	last->slot = m->slot;
	t->models.len--;
	t->neps -= m->eps.len;
	llmo_gw_model_unref(m);
}

int llmo_gw_table_add_name(struct llmo_gw_table *t, struct llmo_gw_model *m, const char *name,
			   int priority, struct llmo_error *err)
{
	struct name_entry *e = llmo_hmap_get(&t->names, name);
	char **slot, *copy;

	for (size_t i = 0; i < m->names.len; i++)
		if (strcmp(m->names.items[i], name) == 0) {
			name_reclaim(e, m, priority);
			return 0;
		}
	if (m->names.len >= LLMO_GW_NAMES_MAX)
		return llmo_error_set(err, LLMO_ERANGE, "model \"%s\": more than %d names", m->id,
				      LLMO_GW_NAMES_MAX);
	if (!(copy = llmo_strdup(name)) || !(slot = llmo_vec_push(&m->names))) {
		free(copy);
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	*slot = copy;
	if (e) {
		int rc;

		if (!claim_better(m, priority, e->m, e->prio))
			rc = name_entry_push(e, m, priority);
		else if (!(rc = name_entry_push(e, e->m, e->prio))) {
			e->m = m;
			e->prio = priority;
		}
		if (rc) {
			m->names.len--;
			free(copy);
			return llmo_error_set(err, rc, "out of memory");
		}
		return 0;
	}
	e = calloc(1, sizeof(*e));
	if (!e || llmo_hmap_put(&t->names, name, e, NULL)) {
		free(e);
		m->names.len--;
		free(copy);
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	e->m = m;
	e->prio = priority;
	return 0;
}

int llmo_gw_table_add_endpoint(struct llmo_gw_table *t, struct llmo_gw_backends *r,
			       struct llmo_gw_model *m, const char *addr, const char *served,
			       const char *track, uint32_t weight, bool draining,
			       struct llmo_error *err)
{
	struct llmo_gw_endpoint *e;
	struct llmo_gw_backend *b;
	json_t *js;
	int rc;

	if (m->eps.len >= LLMO_GW_ENDPOINTS_MAX)
		return llmo_error_set(err, LLMO_ERANGE, "model \"%s\": more than %d endpoints",
				      m->id, LLMO_GW_ENDPOINTS_MAX);
	if (weight > LLMO_GW_WEIGHT_MAX)
		return llmo_error_set(err, LLMO_ERANGE, "weight %u is over %d", weight,
				      LLMO_GW_WEIGHT_MAX);
	if (!track)
		track = "stable";
	if (strlen(track) > LLMO_GW_TRACK_MAX)
		return llmo_error_set(err, LLMO_EINVAL, "track \"%.64s...\" is too long", track);
	if ((rc = llmo_gw_backend_get(r, addr, &b, err)))
		return rc;
	e = llmo_vec_push(&m->eps);
	if (!e) {
		llmo_gw_backend_unref(b);
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	e->backend = b;
	e->weight = weight ? weight : 1;
	e->draining = draining;
	e->served = llmo_strdup(served);
	e->track = llmo_strdup(track);
	js = json_string(served);
	e->served_json = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
	json_decref(js);
	if (!e->served || !e->track || !e->served_json) {
		bool bad_utf8 = !js;

		m->eps.len--;
		llmo_gw_backend_unref(b);
		free(e->served);
		free(e->served_json);
		free(e->track);
		if (bad_utf8)
			return llmo_error_set(err, LLMO_EINVAL, "model name is not valid UTF-8");
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	t->neps++;
	return 0;
}

int llmo_gw_model_add_track(struct llmo_gw_model *m, const char *name, uint32_t weight,
			    struct llmo_error *err)
{
	struct llmo_gw_track *tr;
	char *copy;

	if (!name || !*name || strlen(name) > LLMO_GW_TRACK_MAX)
		return llmo_error_set(err, LLMO_EINVAL, "a track name must have 1 to %d bytes",
				      LLMO_GW_TRACK_MAX);
	if (weight > LLMO_GW_TRACK_WEIGHT_MAX)
		return llmo_error_set(err, LLMO_EINVAL, "track \"%s\": weight %u is over %d", name,
				      weight, LLMO_GW_TRACK_WEIGHT_MAX);
	if (m->tracks.len >= LLMO_GW_TRACKS_MAX)
		return llmo_error_set(err, LLMO_ERANGE, "more than %d tracks", LLMO_GW_TRACKS_MAX);
	for (size_t i = 0; i < m->tracks.len; i++)
		if (strcmp(m->tracks.items[i].name, name) == 0)
			return llmo_error_set(err, LLMO_EINVAL, "track \"%s\" is listed twice", name);
	if (!(copy = llmo_strdup(name)) || !(tr = llmo_vec_push(&m->tracks))) {
		free(copy);
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	tr->name = copy;
	tr->weight = weight;
	return 0;
}

int llmo_gw_model_set_sticky(struct llmo_gw_model *m, enum llmo_gw_sticky by, const char *header,
			     struct llmo_error *err)
{
	char *copy = NULL;

	if (by == LLMO_GW_STICKY_HEADER) {
		if (!header || !*header || strlen(header) > LLMO_GW_HEADER_NAME_MAX)
			return llmo_error_set(err, LLMO_EINVAL,
					      "a sticky header name must have 1 to %d bytes",
					      LLMO_GW_HEADER_NAME_MAX);
		if (!(copy = llmo_strdup(header)))
			return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	free(m->sticky_header);
	m->sticky_header = copy;
	m->sticky = by;
	return 0;
}

int llmo_gw_model_allow(struct llmo_gw_model *m, const char *tenant, struct llmo_error *err)
{
	char **slot, *copy;
	size_t n = tenant ? strlen(tenant) : 0;

	m->restricted = true;
	if (n == 0 || n > LLMO_GW_ACCESS_NAME_MAX)
		return llmo_error_set(err, LLMO_EINVAL, "a tenant name must have 1 to %d bytes",
				      LLMO_GW_ACCESS_NAME_MAX);
	if (llmo_gw_model_allows(m, tenant))
		return 0;
	if (m->access.len >= LLMO_GW_ACCESS_MAX)
		return llmo_error_set(err, LLMO_ERANGE, "more than %d tenants", LLMO_GW_ACCESS_MAX);
	if (!(copy = llmo_strdup(tenant)) || !(slot = llmo_vec_push(&m->access))) {
		free(copy);
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	*slot = copy;
	return 0;
}

unsigned llmo_gw_api_of_type(const char *type, bool *known)
{
	static const struct {
		const char *type;
		unsigned apis;
	} types[] = {
		{"text-generation", LLMO_GW_API_COMPLETIONS | LLMO_GW_API_CHAT},
		{"code-generation", LLMO_GW_API_COMPLETIONS | LLMO_GW_API_CHAT},
		{"chat", LLMO_GW_API_CHAT},
		{"embedding", LLMO_GW_API_EMBEDDINGS},
		{"classification", 0},
	};

	for (size_t i = 0; type && i < LLMO_ARRAY_LEN(types); i++)
		if (strcmp(type, types[i].type) == 0) {
			if (known)
				*known = true;
			return types[i].apis;
		}
	if (known)
		*known = false;
	return 0;
}

void llmo_gw_api_paths(unsigned apis, char *out, size_t n)
{
	static const char *const paths[] = {"/v1/completions", "/v1/chat/completions",
					    "/v1/embeddings"};
	size_t len = 0;

	if (n)
		out[0] = '\0';
	for (unsigned b = 0; b < LLMO_ARRAY_LEN(paths); b++)
		if ((apis & (1u << b)) && len < n)
			len += (size_t)snprintf(out + len, n - len, "%s%s", len ? " or " : "",
						paths[b]);
}

bool llmo_gw_model_allows(const struct llmo_gw_model *m, const char *tenant)
{
	if (!m->restricted)
		return true;
	if (!tenant)
		return false;
	/* a linear scan: lists are short, and a request does one */
	for (size_t i = 0; i < m->access.len; i++)
		if (strcmp(m->access.items[i], tenant) == 0)
			return true;
	return false;
}

bool llmo_gw_model_split(const struct llmo_gw_model *m)
{
	for (size_t i = 0; i < m->tracks.len; i++)
		if (m->tracks.items[i].weight > 0)
			return true;
	return false;
}

struct llmo_gw_model *llmo_gw_table_model(const struct llmo_gw_table *t, const char *id)
{
	return llmo_hmap_get(&t->ids, id);
}

struct llmo_gw_model *llmo_gw_table_lookup(const struct llmo_gw_table *t, const char *name,
					   size_t len)
{
	const struct name_entry *e;

	if (memchr(name, '\0', len))
		return NULL;
	e = llmo_hmap_getn(&t->names, name, len);
	return e ? e->m : NULL;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int llmo_gw_table_each_name(const struct llmo_gw_table *t,
			    int (*fn)(void *ctx, const char *name, const struct llmo_gw_model *m),
			    void *ctx)
{
	const char **names = calloc(llmo_hmap_count(&t->names) + 1, sizeof(*names));
	size_t n = 0, it = 0;
	const char *k;
	void *v;
	int rc = 0;

	if (!names)
		return LLMO_ENOMEM;
	while (llmo_hmap_next(&t->names, &it, &k, &v))
		names[n++] = k;
	qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n && !rc; i++)
		rc = fn(ctx, names[i], ((const struct name_entry *)llmo_hmap_get(&t->names,
										  names[i]))->m);
	free(names);
	return rc;
}

size_t llmo_gw_model_ready(const struct llmo_gw_model *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->eps.len; i++)
		n += !m->eps.items[i].draining;
	return n;
}
