#include "base/common.h"

#include <sqlite3.h>

#include "apiserver/store.h"
#include "base/log.h"
#include "base/str.h"
#include "base/vec.h"

/*
 * Schema (PRAGMA user_version = STORE_SCHEMA_VERSION):
 *
 *   meta     (key, value): 'rv' the latest rv committed, 'compacted' the
 *            newest event rv dropped by compaction (0: none). rv lives here
 *            rather than being max(events.rv) because compaction may empty
 *            the event log, and a deletion must still move it on.
 *   objects  one row per live object, unique by (res, ns, name); a rowid
 *            table so that the (possibly large) JSON stays out of the key
 *            index that lists walk.
 *   events   the watch history, rv the rowid; events_by_res is on res alone
 *            because every index entry already ends with the rowid, so it
 *            serves "res = ? AND rv > ? ORDER BY rv".
 */
#define STORE_SCHEMA_VERSION 1

static const char store_schema[] =
	"CREATE TABLE IF NOT EXISTS meta ("
	" key TEXT PRIMARY KEY NOT NULL,"
	" value INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"INSERT OR IGNORE INTO meta (key, value) VALUES ('rv', 0), ('compacted', 0);"
	"CREATE TABLE IF NOT EXISTS objects ("
	" id INTEGER PRIMARY KEY,"
	" res TEXT NOT NULL,"
	" ns TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" rv INTEGER NOT NULL,"
	" data TEXT NOT NULL,"
	" UNIQUE (res, ns, name)"
	");"
	"CREATE TABLE IF NOT EXISTS events ("
	" rv INTEGER PRIMARY KEY,"
	" type INTEGER NOT NULL,"
	" res TEXT NOT NULL,"
	" ns TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" data TEXT NOT NULL"
	");"
	"CREATE INDEX IF NOT EXISTS events_by_res ON events (res);";

/* The prepared statements, all made at open and kept for the store's life. */
enum store_stmt {
	ST_BEGIN_WRITE,
	ST_BEGIN_READ,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_META_GET,
	ST_META_SET,
	ST_GET,
	ST_INSERT,
	ST_UPDATE,
	ST_DELETE,
	ST_EVENT_INSERT,
	ST_LIST_ALL,
	ST_LIST_NS,
	ST_COUNT_ALL,
	ST_COUNT_NS,
	ST_EVENTS_ALL,
	ST_EVENTS_RES,
	ST_COMPACT_FIND,
	ST_COMPACT_DELETE,
	ST_COUNT_
};

static const char *const store_sql[ST_COUNT_] = {
	[ST_BEGIN_WRITE] = "BEGIN IMMEDIATE",
	[ST_BEGIN_READ] = "BEGIN DEFERRED",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT llmo_write",
	[ST_RELEASE] = "RELEASE llmo_write",
	[ST_ROLLBACK_TO] = "ROLLBACK TO llmo_write",
	[ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[ST_META_SET] = "UPDATE meta SET value = ?2 WHERE key = ?1",
	[ST_GET] = "SELECT data, rv FROM objects WHERE res = ?1 AND ns = ?2 AND name = ?3",
	[ST_INSERT] = "INSERT INTO objects (res, ns, name, rv, data) VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_UPDATE] = "UPDATE objects SET rv = ?4, data = ?5"
		      " WHERE res = ?1 AND ns = ?2 AND name = ?3",
	[ST_DELETE] = "DELETE FROM objects WHERE res = ?1 AND ns = ?2 AND name = ?3",
	[ST_EVENT_INSERT] = "INSERT INTO events (rv, type, res, ns, name, data)"
			    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	/* ?4 is the LIMIT: -1 for no limit. */
	[ST_LIST_ALL] = "SELECT ns, name, data, rv FROM objects"
			" WHERE res = ?1 AND (ns, name) > (?2, ?3) ORDER BY ns, name LIMIT ?4",
	[ST_LIST_NS] = "SELECT ns, name, data, rv FROM objects"
		       " WHERE res = ?1 AND ns = ?2 AND name > ?3 ORDER BY name LIMIT ?4",
	[ST_COUNT_ALL] = "SELECT count(*) FROM objects WHERE res = ?1",
	[ST_COUNT_NS] = "SELECT count(*) FROM objects WHERE res = ?1 AND ns = ?2",
	[ST_EVENTS_ALL] = "SELECT rv, type, res, ns, name, data FROM events"
			  " WHERE rv > ?1 AND (?3 IS NULL OR ns = ?3) ORDER BY rv",
	[ST_EVENTS_RES] = "SELECT rv, type, res, ns, name, data FROM events"
			  " WHERE rv > ?1 AND res = ?2 AND (?3 IS NULL OR ns = ?3) ORDER BY rv",
	[ST_COMPACT_FIND] = "SELECT rv FROM events ORDER BY rv DESC LIMIT 1 OFFSET ?1",
	[ST_COMPACT_DELETE] = "DELETE FROM events WHERE rv <= ?1",
};

/* An event waiting for its transaction to commit before the observer sees it. */
struct store_pending {
	struct llmo_store_event ev;
	char *strings; /* res, ns, name, data, each NUL-terminated; ev points into it */
};

struct llmo_store {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *st[ST_COUNT_];
	int64_t rv;	  /* latest rv committed */
	int64_t issued;	  /* highest rv handed out here, committed or not: never reused */
	int64_t batch_rv; /* latest rv written in the open batch, 0 when none */
	bool batch;	  /* between llmo_store_begin and commit/rollback */
	bool batch_lost;  /* SQLite rolled the batch back on its own after an error */
	size_t mark;	  /* pending.len when the current write started */
	uint64_t calls;	  /* reads and writes asked of this store (llmo_store_calls) */
	int fail_commit;  /* test-only: what the next llmo_store_commit fails with */
	LLMO_VEC(struct store_pending) pending;
	llmo_store_event_fn observer;
	void *observer_ctx;
};

/* SQLite's result code as an LLMO_E* code. */
static int store_code(int src)
{
	switch (src & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_NOMEM:
		return LLMO_ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return LLMO_EAGAIN;
	case SQLITE_TOOBIG:
		return LLMO_ETOOBIG;
	case SQLITE_PERM:
	case SQLITE_READONLY:
	case SQLITE_AUTH:
		return LLMO_EDENIED;
	case SQLITE_MISUSE:
	case SQLITE_RANGE:
		return LLMO_EINTERNAL;
	default:
		return LLMO_EIO;
	}
}

/* Logs a failed SQLite call (what: the operation) and returns its LLMO_E* code. */
static int store_fail(struct llmo_store *s, int src, const char *what)
{
	char qpath[LLMO_LOG_QUOTE_MAX], qmsg[LLMO_LOG_QUOTE_MAX];

	LLMO_ERROR("store", "sqlite failed", "db=%s op=%s code=%d error=%s",
		   llmo_log_quote(qpath, sizeof(qpath), s->path), what, src,
		   llmo_log_quote(qmsg, sizeof(qmsg), sqlite3_errmsg(s->db)));
	return store_code(src);
}

/* Resets a statement after use; its error, if any, was handled at the step. */
static void store_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Binds a C string (NULL binds SQL NULL). Lengths were capped by the caller. */
static int bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (!v)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, v, (int)strlen(v), SQLITE_STATIC);
}

/* Binds the (res, ns, name) key as ?1, ?2, ?3. */
static int bind_key(sqlite3_stmt *st, const char *res, const char *ns, const char *name)
{
	int src;

	src = bind_text(st, 1, res);
	if (src == SQLITE_OK)
		src = bind_text(st, 2, ns);
	if (src == SQLITE_OK)
		src = bind_text(st, 3, name);
	return src;
}

/* A text column that the schema makes NOT NULL; NULL from SQLite means no memory. */
static int column_text(sqlite3_stmt *st, int i, const char **out)
{
	*out = (const char *)sqlite3_column_text(st, i);
	return *out ? 0 : LLMO_ENOMEM;
}

/* Runs a statement that returns no rows (bindings already made) and resets it. */
static int store_exec(struct llmo_store *s, enum store_stmt which, const char *what)
{
	sqlite3_stmt *st = s->st[which];
	int src, rc = 0;

	src = sqlite3_step(st);
	if (src != SQLITE_DONE)
		rc = store_fail(s, src, what);
	store_done(st);
	return rc;
}

static int meta_get(struct llmo_store *s, const char *key, int64_t *value)
{
	sqlite3_stmt *st = s->st[ST_META_GET];
	int src, rc = 0;

	src = bind_text(st, 1, key);
	if (src != SQLITE_OK) {
		rc = store_fail(s, src, "bind meta key");
		goto out;
	}
	src = sqlite3_step(st);
	if (src == SQLITE_ROW) {
		*value = sqlite3_column_int64(st, 0);
	} else if (src == SQLITE_DONE) {
		LLMO_ERROR("store", "schema damaged: meta row missing", "key=%s", key);
		rc = LLMO_EIO;
	} else {
		rc = store_fail(s, src, "read meta");
	}
out:
	store_done(st);
	return rc;
}

static int meta_set(struct llmo_store *s, const char *key, int64_t value)
{
	sqlite3_stmt *st = s->st[ST_META_SET];
	int src;

	src = bind_text(st, 1, key);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(st, 2, value);
	if (src != SQLITE_OK) {
		store_done(st);
		return store_fail(s, src, "bind meta");
	}
	return store_exec(s, ST_META_SET, "write meta");
}

/* Rolls back whatever transaction SQLite still has open, quietly (cleanup paths). */
static void store_abort(struct llmo_store *s)
{
	int src;

	if (sqlite3_get_autocommit(s->db))
		return;
	if (s->st[ST_ROLLBACK]) {
		store_exec(s, ST_ROLLBACK, "rollback");
		return;
	}
	src = sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	if (src != SQLITE_OK)
		store_fail(s, src, "rollback");
}

static void pending_drop(struct llmo_store *s, size_t from)
{
	for (size_t i = from; i < s->pending.len; i++)
		free(s->pending.items[i].strings);
	s->pending.len = LLMO_MIN(s->pending.len, from);
}

/* Hands the committed events to the observer, oldest first, and forgets them. */
static void pending_fire(struct llmo_store *s)
{
	LLMO_VEC(struct store_pending) fire = {s->pending.items, s->pending.len, s->pending.cap};

	/* Detached first, so that the store stays consistent whatever fn does. */
	s->pending.items = NULL;
	s->pending.len = 0;
	s->pending.cap = 0;
	for (size_t i = 0; i < fire.len; i++) {
		if (s->observer)
			s->observer(s->observer_ctx, &fire.items[i].ev);
		free(fire.items[i].strings);
	}
	llmo_vec_release(&fire);
}

static int pending_push(struct llmo_store *s, int64_t rv, enum llmo_store_event_type type,
			const char *res, const char *ns, const char *name, const char *data)
{
	size_t lres = strlen(res) + 1, lns = strlen(ns) + 1, lname = strlen(name) + 1;
	size_t ldata = strlen(data) + 1;
	struct store_pending *p;
	char *buf;

	buf = malloc(lres + lns + lname + ldata);
	if (!buf)
		return LLMO_ENOMEM;
	p = llmo_vec_push(&s->pending);
	if (!p) {
		free(buf);
		return LLMO_ENOMEM;
	}
	p->strings = buf;
	p->ev.rv = rv;
	p->ev.type = type;
	p->ev.res = memcpy(buf, res, lres);
	p->ev.ns = memcpy(buf + lres, ns, lns);
	p->ev.name = memcpy(buf + lres + lns, name, lname);
	p->ev.data = memcpy(buf + lres + lns + lname, data, ldata);
	return 0;
}

/*
 * Opens a write: a transaction of its own, or a savepoint inside the batch
 * (so that a failed write inside a batch leaves no trace). *next_rv gets the
 * rv this write would take. Nothing is left open on failure.
 */
static int write_start(struct llmo_store *s, int64_t *next_rv)
{
	int64_t cur = 0;
	int rc;

	if (s->batch && (s->batch_lost || sqlite3_get_autocommit(s->db))) {
		s->batch_lost = true;
		LLMO_ERROR("store", "write in a batch that was already rolled back", NULL);
		return LLMO_EIO;
	}
	rc = store_exec(s, s->batch ? ST_SAVEPOINT : ST_BEGIN_WRITE, "begin write");
	if (rc)
		return rc;
	s->mark = s->pending.len;
	/* Another connection may have written: meta is the truth, issued the floor. */
	rc = meta_get(s, "rv", &cur);
	if (rc) {
		if (s->batch) {
			store_exec(s, ST_ROLLBACK_TO, "rollback to savepoint");
			store_exec(s, ST_RELEASE, "release savepoint");
		} else {
			store_abort(s);
		}
		return rc;
	}
	*next_rv = LLMO_MAX(cur, s->issued) + 1;
	return 0;
}

/*
 * Ends a write begun by write_start: rc 0 commits it (or releases its
 * savepoint), anything else undoes it. rv is the rv the write took (0 for
 * none). Fires the observer for a committed plain write. Returns rc, or the
 * commit's failure.
 */
static int write_finish(struct llmo_store *s, int rc, int64_t rv)
{
	if (s->batch) {
		if (rc) {
			pending_drop(s, s->mark);
			if (store_exec(s, ST_ROLLBACK_TO, "rollback to savepoint") ||
			    store_exec(s, ST_RELEASE, "release savepoint"))
				s->batch_lost = true;
			if (sqlite3_get_autocommit(s->db))
				s->batch_lost = true;
			return rc;
		}
		rc = store_exec(s, ST_RELEASE, "release savepoint");
		if (rc) {
			pending_drop(s, s->mark);
			s->batch_lost = true;
			return rc;
		}
		if (rv)
			s->batch_rv = rv;
		return 0;
	}
	if (!rc)
		rc = store_exec(s, ST_COMMIT, "commit");
	if (rc) {
		store_abort(s);
		pending_drop(s, s->mark);
		return rc;
	}
	if (rv)
		s->rv = rv;
	pending_fire(s);
	return 0;
}

static bool key_part_ok(const char *p, bool may_be_empty)
{
	return p && (may_be_empty || *p) && strnlen(p, LLMO_STORE_KEY_MAX + 1) <= LLMO_STORE_KEY_MAX;
}

static bool key_ok(const char *res, const char *ns, const char *name)
{
	return key_part_ok(res, false) && key_part_ok(ns, true) && key_part_ok(name, false);
}

/* Reads (rv, and a copy of data when data is not NULL) of one object. */
static int object_get(struct llmo_store *s, const char *res, const char *ns, const char *name,
		      char **data, int64_t *rv)
{
	sqlite3_stmt *st = s->st[ST_GET];
	const char *text;
	int src, rc = 0;

	src = bind_key(st, res, ns, name);
	if (src != SQLITE_OK) {
		rc = store_fail(s, src, "bind key");
		goto out;
	}
	src = sqlite3_step(st);
	if (src == SQLITE_DONE) {
		rc = LLMO_ENOTFOUND;
		goto out;
	}
	if (src != SQLITE_ROW) {
		rc = store_fail(s, src, "read object");
		goto out;
	}
	*rv = sqlite3_column_int64(st, 1);
	if (data) {
		rc = column_text(st, 0, &text);
		if (rc)
			goto out;
		*data = llmo_strdup(text);
		if (!*data)
			rc = LLMO_ENOMEM;
	}
out:
	store_done(st);
	return rc;
}

/* Runs the object statement of a write: ST_INSERT, ST_UPDATE or ST_DELETE. */
static int object_put(struct llmo_store *s, enum store_stmt which, const char *res, const char *ns,
		      const char *name, const char *data, int64_t rv)
{
	sqlite3_stmt *st = s->st[which];
	int src, rc = 0;

	src = bind_key(st, res, ns, name);
	if (src == SQLITE_OK && which != ST_DELETE) {
		src = sqlite3_bind_int64(st, 4, rv);
		if (src == SQLITE_OK)
			src = bind_text(st, 5, data);
	}
	if (src != SQLITE_OK) {
		rc = store_fail(s, src, "bind object");
		goto out;
	}
	src = sqlite3_step(st);
	if (src == SQLITE_CONSTRAINT && which == ST_INSERT)
		rc = LLMO_EEXIST;
	else if (src != SQLITE_DONE)
		rc = store_fail(s, src, "write object");
out:
	store_done(st);
	return rc;
}

static int event_put(struct llmo_store *s, int64_t rv, enum llmo_store_event_type type,
		     const char *res, const char *ns, const char *name, const char *data)
{
	sqlite3_stmt *st = s->st[ST_EVENT_INSERT];
	int src;

	src = sqlite3_bind_int64(st, 1, rv);
	if (src == SQLITE_OK)
		src = sqlite3_bind_int(st, 2, (int)type);
	if (src == SQLITE_OK)
		src = bind_text(st, 3, res);
	if (src == SQLITE_OK)
		src = bind_text(st, 4, ns);
	if (src == SQLITE_OK)
		src = bind_text(st, 5, name);
	if (src == SQLITE_OK)
		src = bind_text(st, 6, data);
	if (src != SQLITE_OK) {
		store_done(st);
		return store_fail(s, src, "bind event");
	}
	return store_exec(s, ST_EVENT_INSERT, "append event");
}

/* create (ADDED), update (MODIFIED) and delete (DELETED), as one transaction each. */
static int store_write(struct llmo_store *s, enum llmo_store_event_type type, const char *res,
		       const char *ns, const char *name, const char *data, int64_t expect_rv,
		       char **old_data, int64_t *rv_out)
{
	static const enum store_stmt put[] = {
		[LLMO_STORE_ADDED] = ST_INSERT,
		[LLMO_STORE_MODIFIED] = ST_UPDATE,
		[LLMO_STORE_DELETED] = ST_DELETE,
	};
	char *old = NULL;
	int64_t rv = 0, cur_rv = 0;
	int rc;

	s->calls++;
	if (!s || !key_ok(res, ns, name) || (type != LLMO_STORE_DELETED && !data) ||
	    expect_rv < 0)
		return LLMO_EINVAL;
	if (data && strnlen(data, LLMO_STORE_DATA_MAX + 1) > LLMO_STORE_DATA_MAX)
		return LLMO_ETOOBIG;
	rc = write_start(s, &rv);
	if (rc)
		return rc;
	if (type != LLMO_STORE_ADDED) {
		rc = object_get(s, res, ns, name, type == LLMO_STORE_DELETED ? &old : NULL,
				&cur_rv);
		if (rc)
			goto out;
		if (expect_rv && expect_rv != cur_rv) {
			rc = LLMO_ECONFLICT;
			goto out;
		}
		if (type == LLMO_STORE_DELETED)
			data = old;
	}
	rc = object_put(s, put[type], res, ns, name, data, rv);
	if (!rc)
		rc = event_put(s, rv, type, res, ns, name, data);
	if (!rc)
		rc = meta_set(s, "rv", rv);
	if (!rc && s->observer)
		rc = pending_push(s, rv, type, res, ns, name, data);
	if (!rc)
		s->issued = rv;
out:
	rc = write_finish(s, rc, rv);
	if (!rc) {
		if (rv_out)
			*rv_out = rv;
		if (old_data) {
			*old_data = old;
			old = NULL;
		}
	}
	free(old);
	return rc;
}

/* Opens a read transaction unless a batch already holds one. */
static int read_start(struct llmo_store *s)
{
	if (s->batch)
		return 0;
	return store_exec(s, ST_BEGIN_READ, "begin read");
}

static void read_end(struct llmo_store *s)
{
	if (s->batch)
		return;
	if (store_exec(s, ST_COMMIT, "end read"))
		store_abort(s);
}

/* Logs a failure from llmo_store_open into err: "PATH: what: sqlite's message". */
static int open_fail(struct llmo_error *err, sqlite3 *db, int src, const char *path,
		     const char *what)
{
	return llmo_error_set(err, store_code(src), "%s: %s: %s", path, what,
			      db ? sqlite3_errmsg(db) : sqlite3_errstr(src));
}

/* PRAGMA quick_check: every row must be the single "ok". */
static int open_check(sqlite3 *db, const char *path, struct llmo_error *err)
{
	sqlite3_stmt *st = NULL;
	const char *row;
	int src, rc = 0;

	src = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL);
	if (src != SQLITE_OK) {
		rc = open_fail(err, db, src, path, "not a usable SQLite database");
		goto out;
	}
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		row = (const char *)sqlite3_column_text(st, 0);
		if (!row) {
			rc = llmo_error_set(err, LLMO_ENOMEM, "%s: quick_check: out of memory",
					    path);
			goto out;
		}
		if (strcmp(row, "ok") != 0) {
			rc = llmo_error_set(err, LLMO_EIO,
					    "%s: database is corrupt (quick_check: %s)", path, row);
			/* quick_check's report spans lines; the message is one. */
			for (char *p = err ? err->msg : NULL; p && *p; p++)
				if (*p == '\n')
					*p = ' ';
			goto out;
		}
	}
	if (src != SQLITE_DONE)
		rc = open_fail(err, db, src, path, "not a usable SQLite database");
out:
	sqlite3_finalize(st);
	return rc;
}

/* Runs a one-row PRAGMA and hands its first column to the caller as text. */
static int open_pragma(sqlite3 *db, const char *path, const char *sql, char *out, size_t n,
		       struct llmo_error *err)
{
	sqlite3_stmt *st = NULL;
	const char *text;
	int src, rc = 0;

	src = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (src != SQLITE_OK) {
		rc = open_fail(err, db, src, path, sql);
		goto out;
	}
	src = sqlite3_step(st);
	if (src == SQLITE_ROW) {
		text = (const char *)sqlite3_column_text(st, 0);
		snprintf(out, n, "%s", text ? text : "");
		src = sqlite3_step(st);
	} else if (n) {
		out[0] = '\0';
	}
	if (src != SQLITE_DONE)
		rc = open_fail(err, db, src, path, sql);
out:
	sqlite3_finalize(st);
	return rc;
}

/* Journal, durability, schema: everything open does before preparing statements. */
static int open_setup(sqlite3 *db, const char *path, struct llmo_error *err)
{
	char val[32];
	int64_t version;
	char *emsg = NULL;
	int src, rc;

	rc = open_pragma(db, path, "PRAGMA journal_mode=WAL", val, sizeof(val), err);
	if (rc)
		return rc;
	/* An in-memory database has no journal file: "memory" is all it can do. */
	if (strcmp(val, "wal") != 0 && strcmp(val, "memory") != 0)
		return llmo_error_set(err, LLMO_EIO, "%s: cannot use the WAL journal (got %s)",
				      path, val);
	rc = open_pragma(db, path, "PRAGMA synchronous=FULL", val, sizeof(val), err);
	if (rc)
		return rc;
	rc = open_pragma(db, path, "PRAGMA user_version", val, sizeof(val), err);
	if (rc)
		return rc;
	rc = llmo_parse_int64(val, &version, NULL);
	if (rc || version > STORE_SCHEMA_VERSION)
		return llmo_error_set(err, LLMO_EUNSUPPORTED,
				      "%s: schema version %s is newer than this llmo's (%d)", path,
				      val, STORE_SCHEMA_VERSION);
	src = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (src != SQLITE_OK)
		return open_fail(err, db, src, path, "begin schema");
	src = sqlite3_exec(db, store_schema, NULL, NULL, &emsg);
	if (src == SQLITE_OK)
		src = sqlite3_exec(db, "PRAGMA user_version = 1", NULL, NULL, &emsg);
	if (src == SQLITE_OK)
		src = sqlite3_exec(db, "COMMIT", NULL, NULL, &emsg);
	if (src != SQLITE_OK) {
		rc = llmo_error_set(err, store_code(src), "%s: creating the schema: %s", path,
				    emsg ? emsg : sqlite3_errmsg(db));
		sqlite3_free(emsg);
		if (!sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	return 0;
}

int llmo_store_open(const char *path, struct llmo_store **out, struct llmo_error *err)
{
	struct llmo_store *s = NULL;
	int src, rc = 0;

	*out = NULL;
	if (!path || !*path)
		return llmo_error_set(err, LLMO_EINVAL, "store: no database path");
	s = calloc(1, sizeof(*s));
	if (!s)
		return llmo_error_set(err, LLMO_ENOMEM, "%s: out of memory", path);
	s->path = llmo_strdup(path);
	if (!s->path) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	src = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (src != SQLITE_OK) {
		rc = open_fail(err, s->db, src, path, "cannot open");
		goto out;
	}
	src = sqlite3_busy_timeout(s->db, LLMO_STORE_BUSY_TIMEOUT_MS);
	if (src != SQLITE_OK) {
		rc = open_fail(err, s->db, src, path, "busy_timeout");
		goto out;
	}
	rc = open_check(s->db, path, err);
	if (rc)
		goto out;
	rc = open_setup(s->db, path, err);
	if (rc)
		goto out;
	for (int i = 0; i < ST_COUNT_; i++) {
		src = sqlite3_prepare_v3(s->db, store_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					 &s->st[i], NULL);
		if (src != SQLITE_OK) {
			rc = open_fail(err, s->db, src, path, store_sql[i]);
			goto out;
		}
	}
	rc = meta_get(s, "rv", &s->rv);
	if (rc) {
		rc = llmo_error_set(err, rc, "%s: reading the resource version: %s", path,
				    sqlite3_errmsg(s->db));
		goto out;
	}
	s->issued = s->rv;
	*out = s;
	s = NULL;
out:
	llmo_store_close(s);
	return rc;
}

void llmo_store_close(struct llmo_store *s)
{
	if (!s)
		return;
	if (s->db)
		store_abort(s);
	pending_drop(s, 0);
	llmo_vec_release(&s->pending);
	for (int i = 0; i < ST_COUNT_; i++)
		sqlite3_finalize(s->st[i]);
	/* With every statement finalised close cannot be refused for being busy. */
	if (s->db && sqlite3_close(s->db) != SQLITE_OK)
		store_fail(s, SQLITE_BUSY, "close");
	free(s->path);
	free(s);
}

int64_t llmo_store_rv(const struct llmo_store *s)
{
	return s->rv;
}

int llmo_store_get(struct llmo_store *s, const char *res, const char *ns, const char *name,
		   char **data, int64_t *rv)
{
	int64_t r = 0;
	int rc;

	*data = NULL;
	s->calls++;
	if (!key_ok(res, ns, name))
		return LLMO_EINVAL;
	rc = object_get(s, res, ns, name, data, &r);
	if (!rc && rv)
		*rv = r;
	return rc;
}

int llmo_store_create(struct llmo_store *s, const char *res, const char *ns, const char *name,
		      const char *data, int64_t *rv)
{
	return store_write(s, LLMO_STORE_ADDED, res, ns, name, data, 0, NULL, rv);
}

int llmo_store_update(struct llmo_store *s, const char *res, const char *ns, const char *name,
		      const char *data, int64_t expect_rv, int64_t *rv)
{
	return store_write(s, LLMO_STORE_MODIFIED, res, ns, name, data, expect_rv, NULL, rv);
}

int llmo_store_delete(struct llmo_store *s, const char *res, const char *ns, const char *name,
		      int64_t expect_rv, char **old_data, int64_t *rv)
{
	if (old_data)
		*old_data = NULL;
	return store_write(s, LLMO_STORE_DELETED, res, ns, name, NULL, expect_rv, old_data, rv);
}

int llmo_store_list(struct llmo_store *s, const char *res, const char *ns, const char *after_ns,
		    const char *after_name, size_t limit, llmo_store_item_fn fn, void *ctx,
		    int64_t *list_rv, bool *more)
{
	sqlite3_stmt *st;
	const char *from_ns = "", *from_name = "";
	const char *row_ns, *row_name, *row_data;
	int64_t rv = 0, lim, seen = 0;
	int src, rc = 0, cmp;
	bool in_read = false;

	s->calls++;
	if (more)
		*more = false;
	if (after_name) {
		from_ns = after_ns ? after_ns : ns ? ns : "";
		from_name = after_name;
	}
	if (!key_part_ok(res, false) || (ns && !key_part_ok(ns, true)) || !fn ||
	    !key_part_ok(from_ns, true) || !key_part_ok(from_name, true))
		return LLMO_EINVAL;
	/* One more row than asked for tells whether more remain; -1 is no LIMIT. */
	lim = limit && limit < (size_t)INT64_MAX ? (int64_t)limit + 1 : -1;
	if (ns) {
		/* Only keys within ns: start after from_name, at its start, or nowhere. */
		cmp = strcmp(from_ns, ns);
		if (cmp < 0)
			from_name = "";
		st = s->st[ST_LIST_NS];
		src = bind_key(st, res, ns, from_name);
	} else {
		cmp = -1;
		st = s->st[ST_LIST_ALL];
		src = bind_key(st, res, from_ns, from_name);
	}
	if (src == SQLITE_OK)
		src = sqlite3_bind_int64(st, 4, lim);
	if (src != SQLITE_OK) {
		rc = store_fail(s, src, "bind list");
		goto out;
	}
	rc = read_start(s);
	if (rc)
		goto out;
	in_read = true;
	rc = meta_get(s, "rv", &rv);
	if (rc)
		goto out;
	/* the read's rv holds whether the callback stops the iteration or not */
	if (list_rv)
		*list_rv = rv;
	if (cmp > 0)
		goto out; /* the continue key is past the namespace */
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		if (limit && (size_t)seen == limit) {
			if (more)
				*more = true;
			break;
		}
		rc = column_text(st, 0, &row_ns);
		if (!rc)
			rc = column_text(st, 1, &row_name);
		if (!rc)
			rc = column_text(st, 2, &row_data);
		if (rc)
			goto out;
		seen++;
		rc = fn(ctx, row_ns, row_name, row_data, sqlite3_column_int64(st, 3));
		if (rc) {
			if (more)
				*more = false;
			goto out;
		}
	}
	if (src != SQLITE_ROW && src != SQLITE_DONE)
		rc = store_fail(s, src, "list");
out:
	store_done(st);
	if (in_read)
		read_end(s);
	return rc;
}

int llmo_store_count(struct llmo_store *s, const char *res, const char *ns, size_t *n)
{
	sqlite3_stmt *st = s->st[ns ? ST_COUNT_NS : ST_COUNT_ALL];
	int src, rc = 0;

	*n = 0;
	s->calls++;
	if (!key_part_ok(res, false) || (ns && !key_part_ok(ns, true)))
		return LLMO_EINVAL;
	src = bind_text(st, 1, res);
	if (src == SQLITE_OK && ns)
		src = bind_text(st, 2, ns);
	if (src != SQLITE_OK) {
		rc = store_fail(s, src, "bind count");
		goto out;
	}
	src = sqlite3_step(st);
	if (src != SQLITE_ROW) {
		rc = store_fail(s, src, "count");
		goto out;
	}
	*n = (size_t)sqlite3_column_int64(st, 0);
out:
	store_done(st);
	return rc;
}

int llmo_store_events_since(struct llmo_store *s, const char *res, const char *ns,
			    int64_t since_rv, llmo_store_event_fn fn, void *ctx)
{
	sqlite3_stmt *st = s->st[res ? ST_EVENTS_RES : ST_EVENTS_ALL];
	struct llmo_store_event ev;
	int64_t compacted = 0;
	int src, rc = 0, type;
	bool in_read = false;

	s->calls++;
	if ((res && !key_part_ok(res, false)) || (ns && !key_part_ok(ns, true)) || !fn ||
	    since_rv < 0)
		return LLMO_EINVAL;
	src = sqlite3_bind_int64(st, 1, since_rv);
	if (src == SQLITE_OK)
		src = bind_text(st, 2, res);
	if (src == SQLITE_OK)
		src = bind_text(st, 3, ns);
	if (src != SQLITE_OK) {
		rc = store_fail(s, src, "bind events");
		goto out;
	}
	rc = read_start(s);
	if (rc)
		goto out;
	in_read = true;
	rc = meta_get(s, "compacted", &compacted);
	if (rc)
		goto out;
	if (since_rv < compacted) {
		rc = LLMO_EGONE;
		goto out;
	}
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		ev.rv = sqlite3_column_int64(st, 0);
		type = sqlite3_column_int(st, 1);
		if (type < LLMO_STORE_ADDED || type > LLMO_STORE_DELETED) {
			LLMO_ERROR("store", "schema damaged: bad event type", "rv=%" PRId64
				   " type=%d", ev.rv, type);
			rc = LLMO_EIO;
			goto out;
		}
		ev.type = (enum llmo_store_event_type)type;
		rc = column_text(st, 2, &ev.res);
		if (!rc)
			rc = column_text(st, 3, &ev.ns);
		if (!rc)
			rc = column_text(st, 4, &ev.name);
		if (!rc)
			rc = column_text(st, 5, &ev.data);
		if (!rc)
			rc = fn(ctx, &ev);
		if (rc)
			goto out;
	}
	if (src != SQLITE_DONE)
		rc = store_fail(s, src, "read events");
out:
	store_done(st);
	if (in_read)
		read_end(s);
	return rc;
}

int llmo_store_compact(struct llmo_store *s, size_t keep_events)
{
	sqlite3_stmt *find = s->st[ST_COMPACT_FIND];
	int64_t unused, cutoff = 0, compacted = 0;
	int src, rc;

	rc = write_start(s, &unused);
	if (rc)
		return rc;
	src = sqlite3_bind_int64(find, 1,
				 keep_events < (size_t)INT64_MAX ? (int64_t)keep_events : INT64_MAX);
	if (src != SQLITE_OK) {
		store_done(find);
		rc = store_fail(s, src, "bind compact");
		goto out;
	}
	src = sqlite3_step(find);
	if (src == SQLITE_ROW)
		cutoff = sqlite3_column_int64(find, 0);
	else if (src != SQLITE_DONE)
		rc = store_fail(s, src, "find compaction point");
	store_done(find);
	if (rc || !cutoff)
		goto out;
	src = sqlite3_bind_int64(s->st[ST_COMPACT_DELETE], 1, cutoff);
	if (src != SQLITE_OK) {
		store_done(s->st[ST_COMPACT_DELETE]);
		rc = store_fail(s, src, "bind compact");
		goto out;
	}
	rc = store_exec(s, ST_COMPACT_DELETE, "drop events");
	if (!rc)
		rc = meta_get(s, "compacted", &compacted);
	if (!rc && cutoff > compacted)
		rc = meta_set(s, "compacted", cutoff);
out:
	return write_finish(s, rc, 0);
}

uint64_t llmo_store_calls(const struct llmo_store *s)
{
	return s->calls;
}

void llmo_store_fail_next_commit(struct llmo_store *s, int rc)
{
	s->fail_commit = rc;
}

void llmo_store_set_observer(struct llmo_store *s, llmo_store_event_fn fn, void *ctx)
{
	s->observer = fn;
	s->observer_ctx = ctx;
}

int llmo_store_begin(struct llmo_store *s)
{
	int rc;

	if (s->batch)
		return LLMO_EINVAL;
	rc = store_exec(s, ST_BEGIN_WRITE, "begin batch");
	if (rc)
		return rc;
	s->batch = true;
	s->batch_lost = false;
	s->batch_rv = 0;
	return 0;
}

int llmo_store_commit(struct llmo_store *s)
{
	int rc = 0;

	if (!s->batch)
		return LLMO_EINVAL;
	s->batch = false;
	if (s->batch_lost || sqlite3_get_autocommit(s->db)) {
		LLMO_ERROR("store", "batch was rolled back after an error; not committed", NULL);
		rc = LLMO_EIO;
	}
	if (!rc && s->fail_commit) {
		rc = s->fail_commit;
		s->fail_commit = 0;
	}
	if (!rc)
		rc = store_exec(s, ST_COMMIT, "commit batch");
	if (rc) {
		store_abort(s);
		pending_drop(s, 0);
		return rc;
	}
	if (s->batch_rv)
		s->rv = s->batch_rv;
	pending_fire(s);
	return 0;
}

int llmo_store_rollback(struct llmo_store *s)
{
	if (!s->batch)
		return LLMO_EINVAL;
	s->batch = false;
	pending_drop(s, 0);
	store_abort(s);
	return 0;
}
