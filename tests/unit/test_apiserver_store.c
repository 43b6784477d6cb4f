#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apiserver/store.h"
#include "base/error.h"

#define PODS "/pods"
#define WORKLOADS "llm.orchestrator.io/llmworkloads"

/* Each test gets a fresh directory under /tmp, removed (recursively) after. */
static char dir[64];
static char dbpath[128];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/llmo-test-store-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/state.db", dir);
	return 0;
}

static int teardown(void **state)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char sub[256];

	if (d) {
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
			unlink(sub);
		}
		closedir(d);
	}
	rmdir(dir);
	return 0;
}

static struct llmo_store *open_ok(const char *path)
{
	struct llmo_store *s = NULL;
	struct llmo_error err = {0};
	int rc = llmo_store_open(path, &s, &err);

	if (rc)
		fail_msg("open %s: %s", path, err.msg);
	assert_non_null(s);
	return s;
}

/* One text column of one row, read through a connection of our own. */
static void raw_query(const char *path, const char *sql, char *out, size_t n)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void assert_object(struct llmo_store *s, const char *res, const char *ns,
			  const char *name, const char *want, int64_t want_rv)
{
	char *data = NULL;
	int64_t rv = 0;

	assert_int_equal(llmo_store_get(s, res, ns, name, &data, &rv), 0);
	assert_string_equal(data, want);
	assert_int_equal(rv, want_rv);
	free(data);
}

static void assert_absent(struct llmo_store *s, const char *res, const char *ns, const char *name)
{
	char *data = (char *)"untouched";

	assert_int_equal(llmo_store_get(s, res, ns, name, &data, NULL), LLMO_ENOTFOUND);
	assert_null(data);
}

/* ---- CRUD ---- */

static void test_crud(void **state)
{
	struct llmo_store *s = open_ok(":memory:");
	char *old = NULL;
	int64_t rv = 0;

	assert_int_equal(llmo_store_rv(s), 0);
	assert_absent(s, PODS, "default", "web");

	assert_int_equal(llmo_store_create(s, PODS, "default", "web", "{\"v\":1}", &rv), 0);
	assert_int_equal(rv, 1);
	assert_int_equal(llmo_store_rv(s), 1);
	assert_object(s, PODS, "default", "web", "{\"v\":1}", 1);
	assert_int_equal(llmo_store_create(s, PODS, "default", "web", "{\"v\":9}", &rv),
			 LLMO_EEXIST);
	assert_object(s, PODS, "default", "web", "{\"v\":1}", 1);

	/* The key has three parts: another namespace, "" or resource is another object. */
	assert_int_equal(llmo_store_create(s, PODS, "other", "web", "{\"o\":1}", &rv), 0);
	assert_int_equal(rv, 2);
	assert_int_equal(llmo_store_create(s, "/nodes", "", "web", "{\"n\":1}", &rv), 0);
	assert_int_equal(rv, 3);
	assert_object(s, "/nodes", "", "web", "{\"n\":1}", 3);
	assert_absent(s, "/nodes", "default", "web");

	/* Unconditional update, then optimistic concurrency on the rv. */
	assert_int_equal(llmo_store_update(s, PODS, "default", "web", "{\"v\":2}", 0, &rv), 0);
	assert_int_equal(rv, 4);
	assert_int_equal(llmo_store_update(s, PODS, "default", "web", "{\"v\":3}", 1, &rv),
			 LLMO_ECONFLICT);
	assert_object(s, PODS, "default", "web", "{\"v\":2}", 4);
	assert_int_equal(llmo_store_update(s, PODS, "default", "web", "{\"v\":3}", 4, &rv), 0);
	assert_int_equal(rv, 5);
	assert_object(s, PODS, "default", "web", "{\"v\":3}", 5);
	assert_int_equal(llmo_store_update(s, PODS, "default", "nope", "{}", 0, &rv),
			 LLMO_ENOTFOUND);

	/* Delete: conflict on a stale rv, then the last state handed back. */
	assert_int_equal(llmo_store_delete(s, PODS, "default", "web", 4, &old, &rv),
			 LLMO_ECONFLICT);
	assert_null(old);
	assert_int_equal(llmo_store_delete(s, PODS, "default", "web", 5, &old, &rv), 0);
	assert_int_equal(rv, 6);
	assert_string_equal(old, "{\"v\":3}");
	free(old);
	old = NULL;
	assert_absent(s, PODS, "default", "web");
	assert_int_equal(llmo_store_delete(s, PODS, "default", "web", 0, &old, &rv),
			 LLMO_ENOTFOUND);
	assert_null(old);
	/* old_data and rv may be NULL. */
	assert_int_equal(llmo_store_delete(s, PODS, "other", "web", 0, NULL, NULL), 0);
	assert_int_equal(llmo_store_rv(s), 7);

	/* Failed writes took no rv. */
	assert_int_equal(llmo_store_create(s, PODS, "default", "web", "{}", &rv), 0);
	assert_int_equal(rv, 8);
	llmo_store_close(s);
}

static void test_bad_arguments(void **state)
{
	struct llmo_store *s = open_ok(":memory:");
	char key[LLMO_STORE_KEY_MAX + 2];
	char *big, *data = NULL;
	int64_t rv = 0;

	assert_int_equal(llmo_store_create(s, PODS, "default", "", "{}", &rv), LLMO_EINVAL);
	assert_int_equal(llmo_store_create(s, "", "default", "a", "{}", &rv), LLMO_EINVAL);
	assert_int_equal(llmo_store_create(s, NULL, "default", "a", "{}", &rv), LLMO_EINVAL);
	assert_int_equal(llmo_store_create(s, PODS, NULL, "a", "{}", &rv), LLMO_EINVAL);
	assert_int_equal(llmo_store_create(s, PODS, "default", "a", NULL, &rv), LLMO_EINVAL);
	assert_int_equal(llmo_store_get(s, PODS, "default", NULL, &data, &rv), LLMO_EINVAL);
	assert_int_equal(llmo_store_update(s, PODS, "default", "a", "{}", -1, &rv), LLMO_EINVAL);

	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	assert_int_equal(llmo_store_create(s, PODS, "default", key, "{}", &rv), LLMO_EINVAL);
	key[LLMO_STORE_KEY_MAX] = '\0';
	assert_int_equal(llmo_store_create(s, PODS, "default", key, "{}", &rv), 0);
	assert_int_equal(rv, 1);

	big = malloc(LLMO_STORE_DATA_MAX + 2);
	assert_non_null(big);
	memset(big, ' ', LLMO_STORE_DATA_MAX + 1);
	big[LLMO_STORE_DATA_MAX + 1] = '\0';
	assert_int_equal(llmo_store_create(s, PODS, "default", "big", big, &rv), LLMO_ETOOBIG);
	big[LLMO_STORE_DATA_MAX] = '\0';
	assert_int_equal(llmo_store_create(s, PODS, "default", "big", big, &rv), 0);
	assert_int_equal(rv, 2);
	assert_int_equal(llmo_store_get(s, PODS, "default", "big", &data, NULL), 0);
	assert_int_equal(strlen(data), LLMO_STORE_DATA_MAX);
	free(data);
	free(big);

	assert_int_equal(llmo_store_commit(s), LLMO_EINVAL);
	assert_int_equal(llmo_store_rollback(s), LLMO_EINVAL);
	assert_int_equal(llmo_store_begin(s), 0);
	assert_int_equal(llmo_store_begin(s), LLMO_EINVAL);
	assert_int_equal(llmo_store_rollback(s), 0);
	llmo_store_close(s);
}

/* ---- resource versions on disk ---- */

static void test_rv_persists(void **state)
{
	struct llmo_store *s = open_ok(dbpath);
	char mode[32];
	int64_t rv = 0;

	assert_int_equal(llmo_store_create(s, PODS, "default", "a", "{\"a\":1}", &rv), 0);
	assert_int_equal(llmo_store_create(s, WORKLOADS, "default", "b", "{\"b\":1}", &rv), 0);
	assert_int_equal(llmo_store_delete(s, WORKLOADS, "default", "b", 0, NULL, &rv), 0);
	assert_int_equal(rv, 3);
	llmo_store_close(s);

	/* The journal mode is stored in the file. */
	raw_query(dbpath, "PRAGMA journal_mode", mode, sizeof(mode));
	assert_string_equal(mode, "wal");

	/* The last write was a delete: its rv still counts. */
	s = open_ok(dbpath);
	assert_int_equal(llmo_store_rv(s), 3);
	assert_object(s, PODS, "default", "a", "{\"a\":1}", 1);
	assert_absent(s, WORKLOADS, "default", "b");
	assert_int_equal(llmo_store_create(s, PODS, "default", "c", "{}", &rv), 0);
	assert_int_equal(rv, 4);
	assert_int_equal(llmo_store_delete(s, PODS, "default", "c", 4, NULL, &rv), 0);
	assert_int_equal(llmo_store_delete(s, PODS, "default", "a", 1, NULL, &rv), 0);
	assert_int_equal(rv, 6);
	llmo_store_close(s);

	/* Nothing is left, and compaction emptied the history: still above 6. */
	s = open_ok(dbpath);
	assert_int_equal(llmo_store_compact(s, 0), 0);
	llmo_store_close(s);
	s = open_ok(dbpath);
	assert_int_equal(llmo_store_rv(s), 6);
	assert_int_equal(llmo_store_create(s, PODS, "default", "a", "{}", &rv), 0);
	assert_int_equal(rv, 7);
	llmo_store_close(s);
}

/* ---- lists ---- */

struct item {
	char ns[16];
	char name[16];
	char data[32];
	int64_t rv;
};

struct items {
	struct item v[16];
	size_t n;
	size_t stop_at; /* return 7 when the n-th item arrives (0: never) */
};

static int collect_item(void *ctx, const char *ns, const char *name, const char *data, int64_t rv)
{
	struct items *it = ctx;
	struct item *i = &it->v[it->n++];

	assert_true(it->n <= LLMO_ARRAY_LEN(it->v));
	snprintf(i->ns, sizeof(i->ns), "%s", ns);
	snprintf(i->name, sizeof(i->name), "%s", name);
	snprintf(i->data, sizeof(i->data), "%s", data);
	i->rv = rv;
	return it->stop_at && it->n == it->stop_at ? 7 : 0;
}

static void assert_item(const struct items *it, size_t i, const char *ns, const char *name,
			int64_t rv)
{
	assert_true(i < it->n);
	assert_string_equal(it->v[i].ns, ns);
	assert_string_equal(it->v[i].name, name);
	assert_int_equal(it->v[i].rv, rv);
}

static void test_list(void **state)
{
	struct llmo_store *s = open_ok(":memory:");
	struct items it = {0};
	int64_t list_rv = 0;
	bool more = true;
	size_t n = 99;

	/* Created out of order; listed by (ns, name). */
	assert_int_equal(llmo_store_create(s, PODS, "b", "x", "{\"bx\":1}", NULL), 0);   /* 1 */
	assert_int_equal(llmo_store_create(s, PODS, "a", "y", "{\"ay\":1}", NULL), 0);   /* 2 */
	assert_int_equal(llmo_store_create(s, WORKLOADS, "a", "w", "{}", NULL), 0);      /* 3 */
	assert_int_equal(llmo_store_create(s, PODS, "a", "x", "{\"ax\":1}", NULL), 0);   /* 4 */
	assert_int_equal(llmo_store_create(s, PODS, "c", "a", "{\"ca\":1}", NULL), 0);   /* 5 */
	assert_int_equal(llmo_store_update(s, PODS, "b", "x", "{\"bx\":2}", 0, NULL), 0); /* 6 */

	assert_int_equal(llmo_store_list(s, PODS, NULL, NULL, NULL, 0, collect_item, &it, &list_rv,
					 &more),
			 0);
	assert_int_equal(it.n, 4);
	assert_item(&it, 0, "a", "x", 4);
	assert_item(&it, 1, "a", "y", 2);
	assert_item(&it, 2, "b", "x", 6);
	assert_item(&it, 3, "c", "a", 5);
	assert_string_equal(it.v[2].data, "{\"bx\":2}");
	assert_int_equal(list_rv, 6);
	assert_false(more);

	/* One namespace. */
	memset(&it, 0, sizeof(it));
	assert_int_equal(llmo_store_list(s, PODS, "a", NULL, NULL, 0, collect_item, &it, NULL, NULL),
			 0);
	assert_int_equal(it.n, 2);
	assert_item(&it, 0, "a", "x", 4);
	assert_item(&it, 1, "a", "y", 2);
	memset(&it, 0, sizeof(it));
	assert_int_equal(llmo_store_list(s, PODS, "zz", NULL, NULL, 0, collect_item, &it, NULL,
					 &more),
			 0);
	assert_int_equal(it.n, 0);
	assert_false(more);

	/* Pages of 2 across namespaces: a/x a/y | b/x c/a | (none). */
	memset(&it, 0, sizeof(it));
	assert_int_equal(llmo_store_list(s, PODS, NULL, NULL, NULL, 2, collect_item, &it, NULL,
					 &more),
			 0);
	assert_int_equal(it.n, 2);
	assert_item(&it, 1, "a", "y", 2);
	assert_true(more);
	memset(&it, 0, sizeof(it));
	assert_int_equal(llmo_store_list(s, PODS, NULL, "a", "y", 2, collect_item, &it, NULL,
					 &more),
			 0);
	assert_int_equal(it.n, 2);
	assert_item(&it, 0, "b", "x", 6);
	assert_item(&it, 1, "c", "a", 5);
	assert_false(more);
	memset(&it, 0, sizeof(it));
	assert_int_equal(llmo_store_list(s, PODS, NULL, "c", "a", 2, collect_item, &it, NULL,
					 &more),
			 0);
	assert_int_equal(it.n, 0);
	assert_false(more);

	/* Paging within a namespace; a continue key before or after it. */
	memset(&it, 0, sizeof(it));
	assert_int_equal(llmo_store_list(s, PODS, "a", NULL, NULL, 1, collect_item, &it, NULL,
					 &more),
			 0);
	assert_int_equal(it.n, 1);
	assert_item(&it, 0, "a", "x", 4);
	assert_true(more);
	memset(&it, 0, sizeof(it));
	assert_int_equal(llmo_store_list(s, PODS, "a", "a", "x", 1, collect_item, &it, NULL, &more),
			 0);
	assert_int_equal(it.n, 1);
	assert_item(&it, 0, "a", "y", 2);
	assert_false(more);
	memset(&it, 0, sizeof(it));
	assert_int_equal(llmo_store_list(s, PODS, "a", NULL, "x", 0, collect_item, &it, NULL, NULL),
			 0);
	assert_int_equal(it.n, 1);
	assert_item(&it, 0, "a", "y", 2);
	memset(&it, 0, sizeof(it));
	assert_int_equal(llmo_store_list(s, PODS, "b", "a", "zzz", 0, collect_item, &it, NULL,
					 NULL),
			 0);
	assert_int_equal(it.n, 1);
	assert_item(&it, 0, "b", "x", 6);
	memset(&it, 0, sizeof(it));
	assert_int_equal(llmo_store_list(s, PODS, "a", "b", "", 0, collect_item, &it, NULL, NULL),
			 0);
	assert_int_equal(it.n, 0);

	/* A limit equal to what is left: no more. */
	memset(&it, 0, sizeof(it));
	assert_int_equal(llmo_store_list(s, PODS, NULL, NULL, NULL, 4, collect_item, &it, NULL,
					 &more),
			 0);
	assert_int_equal(it.n, 4);
	assert_false(more);

	/* The callback stops the list with its own value. */
	memset(&it, 0, sizeof(it));
	it.stop_at = 2;
	assert_int_equal(llmo_store_list(s, PODS, NULL, NULL, NULL, 0, collect_item, &it, NULL,
					 &more),
			 7);
	assert_int_equal(it.n, 2);

	assert_int_equal(llmo_store_count(s, PODS, NULL, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(llmo_store_count(s, PODS, "a", &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(llmo_store_count(s, WORKLOADS, NULL, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(llmo_store_count(s, "/services", NULL, &n), 0);
	assert_int_equal(n, 0);
	llmo_store_close(s);
}

/* ---- events ---- */

struct seen {
	int64_t rv[32];
	int type[32];
	char res[32][48];
	char name[32][16];
	char data[32][32];
	size_t n;
	const char *check_path; /* observer: confirm the event's object through another connection */
};

static int collect_event(void *ctx, const struct llmo_store_event *ev)
{
	struct seen *e = ctx;

	assert_true(e->n < LLMO_ARRAY_LEN(e->rv));
	e->rv[e->n] = ev->rv;
	e->type[e->n] = ev->type;
	snprintf(e->res[e->n], sizeof(e->res[0]), "%s", ev->res);
	snprintf(e->name[e->n], sizeof(e->name[0]), "%s", ev->name);
	snprintf(e->data[e->n], sizeof(e->data[0]), "%s", ev->data);
	e->n++;
	if (e->check_path) {
		/* Called after commit: a separate connection already sees the event. */
		struct llmo_store *other = open_ok(e->check_path);
		struct seen there = {0};

		assert_true(llmo_store_rv(other) >= ev->rv);
		assert_int_equal(llmo_store_events_since(other, ev->res, ev->ns, ev->rv - 1,
							 collect_event, &there),
				 0);
		assert_true(there.n >= 1);
		assert_int_equal(there.rv[0], ev->rv);
		assert_int_equal(there.type[0], ev->type);
		llmo_store_close(other);
	}
	return 0;
}

static void assert_event(const struct seen *e, size_t i, int64_t rv, int type, const char *name,
			 const char *data)
{
	assert_true(i < e->n);
	assert_int_equal(e->rv[i], rv);
	assert_int_equal(e->type[i], type);
	assert_string_equal(e->name[i], name);
	assert_string_equal(e->data[i], data);
}

static void test_events_since(void **state)
{
	struct llmo_store *s = open_ok(":memory:");
	struct seen e = {0};

	assert_int_equal(llmo_store_create(s, PODS, "a", "p1", "{\"p\":1}", NULL), 0);      /* 1 */
	assert_int_equal(llmo_store_create(s, WORKLOADS, "a", "w1", "{\"w\":1}", NULL), 0); /* 2 */
	assert_int_equal(llmo_store_create(s, PODS, "b", "p2", "{\"q\":1}", NULL), 0);      /* 3 */
	assert_int_equal(llmo_store_update(s, PODS, "a", "p1", "{\"p\":2}", 1, NULL), 0);   /* 4 */
	assert_int_equal(llmo_store_delete(s, PODS, "a", "p1", 0, NULL, NULL), 0);          /* 5 */

	assert_int_equal(llmo_store_events_since(s, NULL, NULL, 0, collect_event, &e), 0);
	assert_int_equal(e.n, 5);
	assert_event(&e, 0, 1, LLMO_STORE_ADDED, "p1", "{\"p\":1}");
	assert_event(&e, 1, 2, LLMO_STORE_ADDED, "w1", "{\"w\":1}");
	assert_string_equal(e.res[1], WORKLOADS);
	assert_event(&e, 2, 3, LLMO_STORE_ADDED, "p2", "{\"q\":1}");
	assert_event(&e, 3, 4, LLMO_STORE_MODIFIED, "p1", "{\"p\":2}");
	/* DELETED carries the last state. */
	assert_event(&e, 4, 5, LLMO_STORE_DELETED, "p1", "{\"p\":2}");

	memset(&e, 0, sizeof(e));
	assert_int_equal(llmo_store_events_since(s, NULL, NULL, 3, collect_event, &e), 0);
	assert_int_equal(e.n, 2);
	assert_int_equal(e.rv[0], 4);
	assert_int_equal(e.rv[1], 5);

	memset(&e, 0, sizeof(e));
	assert_int_equal(llmo_store_events_since(s, PODS, NULL, 0, collect_event, &e), 0);
	assert_int_equal(e.n, 4);
	assert_int_equal(e.rv[0], 1);
	assert_int_equal(e.rv[1], 3);
	assert_int_equal(e.rv[3], 5);

	memset(&e, 0, sizeof(e));
	assert_int_equal(llmo_store_events_since(s, PODS, "a", 1, collect_event, &e), 0);
	assert_int_equal(e.n, 2);
	assert_int_equal(e.rv[0], 4);
	assert_int_equal(e.rv[1], 5);

	memset(&e, 0, sizeof(e));
	assert_int_equal(llmo_store_events_since(s, NULL, "a", 0, collect_event, &e), 0);
	assert_int_equal(e.n, 4);
	assert_int_equal(e.rv[1], 2);

	memset(&e, 0, sizeof(e));
	assert_int_equal(llmo_store_events_since(s, NULL, NULL, 5, collect_event, &e), 0);
	assert_int_equal(llmo_store_events_since(s, NULL, NULL, 100, collect_event, &e), 0);
	assert_int_equal(e.n, 0);
	llmo_store_close(s);
}

static void test_compaction(void **state)
{
	struct llmo_store *s = open_ok(dbpath);
	struct seen e = {0};

	for (int i = 0; i < 5; i++) {
		char name[8];

		snprintf(name, sizeof(name), "p%d", i + 1);
		assert_int_equal(llmo_store_create(s, PODS, "a", name, "{}", NULL), 0);
	}
	/* Keep the newest 2 (rv 4, 5): since 3 is whole, anything older is gone. */
	assert_int_equal(llmo_store_compact(s, 2), 0);
	assert_int_equal(llmo_store_events_since(s, NULL, NULL, 3, collect_event, &e), 0);
	assert_int_equal(e.n, 2);
	assert_int_equal(e.rv[0], 4);
	assert_int_equal(e.rv[1], 5);
	assert_int_equal(llmo_store_events_since(s, NULL, NULL, 2, collect_event, &e), LLMO_EGONE);
	assert_int_equal(llmo_store_events_since(s, NULL, NULL, 0, collect_event, &e), LLMO_EGONE);
	/* Whatever the filter: the dropped events could have matched it. */
	assert_int_equal(llmo_store_events_since(s, WORKLOADS, NULL, 2, collect_event, &e),
			 LLMO_EGONE);
	/* Objects are untouched. */
	assert_object(s, PODS, "a", "p1", "{}", 1);

	/* Keeping more than there are changes nothing; the point never moves back. */
	assert_int_equal(llmo_store_compact(s, 10), 0);
	assert_int_equal(llmo_store_events_since(s, NULL, NULL, 2, collect_event, &e), LLMO_EGONE);
	llmo_store_close(s);

	/* The compaction point is on disk. */
	s = open_ok(dbpath);
	assert_int_equal(llmo_store_events_since(s, NULL, NULL, 2, collect_event, &e), LLMO_EGONE);
	assert_int_equal(llmo_store_create(s, PODS, "a", "p6", "{}", NULL), 0); /* 6 */
	assert_int_equal(llmo_store_compact(s, 0), 0);
	memset(&e, 0, sizeof(e));
	assert_int_equal(llmo_store_events_since(s, NULL, NULL, 6, collect_event, &e), 0);
	assert_int_equal(e.n, 0);
	assert_int_equal(llmo_store_events_since(s, NULL, NULL, 5, collect_event, &e), LLMO_EGONE);
	llmo_store_close(s);
}

/* ---- observer and batches ---- */

static void test_observer(void **state)
{
	struct llmo_store *s = open_ok(dbpath);
	struct seen e = {.check_path = dbpath};

	llmo_store_set_observer(s, collect_event, &e);
	assert_int_equal(llmo_store_create(s, PODS, "a", "p1", "{\"p\":1}", NULL), 0);
	assert_int_equal(e.n, 1);
	assert_event(&e, 0, 1, LLMO_STORE_ADDED, "p1", "{\"p\":1}");

	/* Failed writes are not reported. */
	assert_int_equal(llmo_store_create(s, PODS, "a", "p1", "{}", NULL), LLMO_EEXIST);
	assert_int_equal(llmo_store_update(s, PODS, "a", "p1", "{}", 9, NULL), LLMO_ECONFLICT);
	assert_int_equal(llmo_store_delete(s, PODS, "a", "zz", 0, NULL, NULL), LLMO_ENOTFOUND);
	assert_int_equal(e.n, 1);

	/* A batch: nothing until commit, then all of it in rv order. */
	assert_int_equal(llmo_store_begin(s), 0);
	assert_int_equal(llmo_store_update(s, PODS, "a", "p1", "{\"p\":2}", 1, NULL), 0);
	assert_int_equal(llmo_store_create(s, PODS, "a", "p2", "{\"q\":1}", NULL), 0);
	assert_int_equal(llmo_store_delete(s, PODS, "a", "p1", 0, NULL, NULL), 0);
	assert_int_equal(e.n, 1);
	assert_int_equal(llmo_store_rv(s), 1);
	assert_int_equal(llmo_store_commit(s), 0);
	assert_int_equal(e.n, 4);
	assert_event(&e, 1, 2, LLMO_STORE_MODIFIED, "p1", "{\"p\":2}");
	assert_event(&e, 2, 3, LLMO_STORE_ADDED, "p2", "{\"q\":1}");
	assert_event(&e, 3, 4, LLMO_STORE_DELETED, "p1", "{\"p\":2}");
	assert_int_equal(llmo_store_rv(s), 4);

	/* A rolled-back batch reports nothing. */
	assert_int_equal(llmo_store_begin(s), 0);
	assert_int_equal(llmo_store_create(s, PODS, "a", "p3", "{}", NULL), 0);
	assert_int_equal(llmo_store_rollback(s), 0);
	assert_int_equal(e.n, 4);

	/* Unset. */
	llmo_store_set_observer(s, NULL, NULL);
	assert_int_equal(llmo_store_create(s, PODS, "a", "p4", "{}", NULL), 0);
	assert_int_equal(e.n, 4);
	llmo_store_close(s);
}

static void test_batch(void **state)
{
	struct llmo_store *s = open_ok(":memory:");
	struct items it = {0};
	struct seen e = {0};
	int64_t rv = 0, list_rv = 0;
	size_t n = 0;

	assert_int_equal(llmo_store_create(s, PODS, "ns", "keep", "{\"k\":1}", NULL), 0); /* 1 */

	/* Rolled back: nothing of it remains, not even history. */
	assert_int_equal(llmo_store_begin(s), 0);
	assert_int_equal(llmo_store_create(s, PODS, "ns", "new", "{}", &rv), 0);
	assert_int_equal(rv, 2);
	assert_int_equal(llmo_store_update(s, PODS, "ns", "new", "{\"n\":2}", 2, &rv), 0);
	assert_int_equal(rv, 3);
	assert_int_equal(llmo_store_delete(s, PODS, "ns", "keep", 1, NULL, &rv), 0);
	assert_int_equal(rv, 4);
	/* Reads inside the batch see it. */
	assert_object(s, PODS, "ns", "new", "{\"n\":2}", 3);
	assert_absent(s, PODS, "ns", "keep");
	assert_int_equal(llmo_store_list(s, PODS, NULL, NULL, NULL, 0, collect_item, &it, &list_rv,
					 NULL),
			 0);
	assert_int_equal(it.n, 1);
	assert_int_equal(list_rv, 4);
	assert_int_equal(llmo_store_rollback(s), 0);

	assert_absent(s, PODS, "ns", "new");
	assert_object(s, PODS, "ns", "keep", "{\"k\":1}", 1);
	assert_int_equal(llmo_store_count(s, PODS, NULL, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(llmo_store_rv(s), 1);
	assert_int_equal(llmo_store_events_since(s, NULL, NULL, 1, collect_event, &e), 0);
	assert_int_equal(e.n, 0);

	/* rvs handed out in the rolled-back batch are not handed out again. */
	assert_int_equal(llmo_store_begin(s), 0);
	assert_int_equal(llmo_store_create(s, PODS, "ns", "a", "{}", &rv), 0);
	assert_int_equal(rv, 5);
	/* A failed write inside a batch leaves no trace, and the batch goes on. */
	assert_int_equal(llmo_store_create(s, PODS, "ns", "a", "{\"dup\":1}", NULL), LLMO_EEXIST);
	assert_int_equal(llmo_store_update(s, PODS, "ns", "keep", "{}", 3, NULL), LLMO_ECONFLICT);
	assert_int_equal(llmo_store_create(s, PODS, "ns", "b", "{}", &rv), 0);
	assert_int_equal(rv, 6);
	assert_int_equal(llmo_store_commit(s), 0);
	assert_int_equal(llmo_store_rv(s), 6);
	assert_object(s, PODS, "ns", "a", "{}", 5);
	assert_object(s, PODS, "ns", "b", "{}", 6);
	assert_object(s, PODS, "ns", "keep", "{\"k\":1}", 1);
	assert_int_equal(llmo_store_events_since(s, NULL, NULL, 1, collect_event, &e), 0);
	assert_int_equal(e.n, 2);
	assert_int_equal(e.rv[0], 5);
	assert_int_equal(e.rv[1], 6);

	/* Closing with a batch open rolls it back. */
	assert_int_equal(llmo_store_begin(s), 0);
	assert_int_equal(llmo_store_create(s, PODS, "ns", "c", "{}", NULL), 0);
	llmo_store_close(s);
}

static void test_close_rolls_back_open_batch(void **state)
{
	struct llmo_store *s = open_ok(dbpath);

	assert_int_equal(llmo_store_create(s, PODS, "ns", "a", "{}", NULL), 0);
	assert_int_equal(llmo_store_begin(s), 0);
	assert_int_equal(llmo_store_create(s, PODS, "ns", "b", "{}", NULL), 0);
	llmo_store_close(s);
	s = open_ok(dbpath);
	assert_int_equal(llmo_store_rv(s), 1);
	assert_absent(s, PODS, "ns", "b");
	llmo_store_close(s);
}

/* ---- crashes and damaged files ---- */

struct ack {
	int64_t rv;
	int32_t i;
};

/* The child: writes objects forever, reporting each acknowledged one. Never returns. */
static void crash_child(int fd)
{
	struct llmo_store *s = NULL;
	char name[32], data[64];
	struct ack a;

	if (llmo_store_open(dbpath, &s, NULL))
		_exit(2);
	for (int32_t i = 0;; i++) {
		snprintf(name, sizeof(name), "obj-%06d", i);
		snprintf(data, sizeof(data), "{\"i\":%d}", i);
		if (llmo_store_create(s, PODS, "default", name, data, &a.rv))
			_exit(3);
		a.i = i;
		if (write(fd, &a, sizeof(a)) != (ssize_t)sizeof(a))
			_exit(4);
	}
}

static void test_crash_durability(void **state)
{
	enum { KILL_AFTER = 40, MAX_ACKS = 1 << 16 };
	struct ack *acks = calloc(MAX_ACKS, sizeof(*acks));
	struct llmo_store *s;
	size_t n = 0, count = 0;
	char check[64], want[64];
	int fds[2], status = 0;
	pid_t pid;
	ssize_t r;

	assert_non_null(acks);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		crash_child(fds[1]);
	}
	close(fds[1]);
	/* Kill mid-stream: the child is somewhere inside a write when it dies. */
	while (n < KILL_AFTER && (r = read(fds[0], &acks[n], sizeof(*acks))) == sizeof(*acks))
		n++;
	assert_int_equal(n, KILL_AFTER);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	/* Acknowledgements still in the pipe count too. */
	while (n < MAX_ACKS && (r = read(fds[0], &acks[n], sizeof(*acks))) == sizeof(*acks))
		n++;
	close(fds[0]);

	/* The kill left a hot WAL; the file must still check out. */
	s = open_ok(dbpath);
	for (size_t k = 0; k < n; k++) {
		char name[32];

		snprintf(name, sizeof(name), "obj-%06d", (int)acks[k].i);
		snprintf(want, sizeof(want), "{\"i\":%d}", (int)acks[k].i);
		assert_object(s, PODS, "default", name, want, acks[k].rv);
		if (k)
			assert_true(acks[k].rv > acks[k - 1].rv);
	}
	assert_true(llmo_store_rv(s) >= acks[n - 1].rv);
	assert_int_equal(llmo_store_count(s, PODS, "default", &count), 0);
	assert_true(count >= n);
	/* New writes continue above everything the child was told. */
	assert_int_equal(llmo_store_create(s, PODS, "default", "after", "{}", NULL), 0);
	assert_true(llmo_store_rv(s) > acks[n - 1].rv);
	llmo_store_close(s);
	raw_query(dbpath, "PRAGMA integrity_check", check, sizeof(check));
	assert_string_equal(check, "ok");
	free(acks);
}

static void test_garbage_file_refused(void **state)
{
	static const char junk[] = "this is not a SQLite database, just some bytes of garbage "
				   "that happen to sit where the state file should be.\n";
	struct llmo_store *s = (struct llmo_store *)&s;
	struct llmo_error err = {0};
	FILE *f = fopen(dbpath, "wb");

	assert_non_null(f);
	for (int i = 0; i < 64; i++)
		assert_int_equal(fwrite(junk, 1, sizeof(junk) - 1, f), sizeof(junk) - 1);
	assert_int_equal(fclose(f), 0);

	assert_int_not_equal(llmo_store_open(dbpath, &s, &err), 0);
	assert_null(s);
	assert_non_null(strstr(err.msg, dbpath));
	assert_non_null(strstr(err.msg, "not a database"));
}

static void test_corrupt_page_refused(void **state)
{
	struct llmo_store *s = open_ok(dbpath);
	struct llmo_error err = {0};
	char page[4096], data[512];
	struct stat st;
	FILE *f;

	/* Enough objects to spread the tables over many pages. */
	memset(data, 'x', sizeof(data));
	memcpy(data, "\"", 1);
	data[sizeof(data) - 2] = '"';
	data[sizeof(data) - 1] = '\0';
	for (int i = 0; i < 200; i++) {
		char name[16];

		snprintf(name, sizeof(name), "p%03d", i);
		assert_int_equal(llmo_store_create(s, PODS, "a", name, data, NULL), 0);
	}
	llmo_store_close(s);
	/* Closing checkpointed the WAL into the file. */
	assert_int_equal(stat(dbpath, &st), 0);
	assert_true(st.st_size > 8 * 4096);

	/* Page 4 (of 4096 bytes: SQLite's default) becomes noise. */
	for (size_t i = 0; i < sizeof(page); i++)
		page[i] = (char)(i * 131 + 7);
	f = fopen(dbpath, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, 3 * 4096, SEEK_SET), 0);
	assert_int_equal(fwrite(page, 1, sizeof(page), f), sizeof(page));
	assert_int_equal(fclose(f), 0);

	s = (struct llmo_store *)&s;
	assert_int_not_equal(llmo_store_open(dbpath, &s, &err), 0);
	assert_null(s);
	assert_non_null(strstr(err.msg, dbpath));
}

static void test_newer_schema_refused(void **state)
{
	struct llmo_store *s = open_ok(dbpath);
	struct llmo_error err = {0};

	llmo_store_close(s);
	raw_exec(dbpath, "PRAGMA user_version = 99");
	assert_int_equal(llmo_store_open(dbpath, &s, &err), LLMO_EUNSUPPORTED);
	assert_null(s);
	assert_non_null(strstr(err.msg, dbpath));
	assert_non_null(strstr(err.msg, "99"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crud),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test_setup_teardown(test_rv_persists, setup, teardown),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_events_since),
		cmocka_unit_test_setup_teardown(test_compaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_observer, setup, teardown),
		cmocka_unit_test(test_batch),
		cmocka_unit_test_setup_teardown(test_close_rolls_back_open_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_durability, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_file_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_page_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
