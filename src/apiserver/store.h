#ifndef LLMO_APISERVER_STORE_H
#define LLMO_APISERVER_STORE_H
/*
 * struct llmo_store: the embedded API server's storage, one SQLite 3
 * database (what etcd is to a cluster, as kine does on one machine).
 *
 * Objects are opaque text (JSON, but the store never parses it) keyed by
 * (res, ns, name):
 *   res   "group/resource": "/pods" for the core group,
 *         "llm.orchestrator.io/llmworkloads" for a CRD;
 *   ns    the namespace, "" for cluster-scoped objects;
 *   name  the object's name, never "".
 * The stored text need not carry metadata.resourceVersion: the HTTP layer
 * injects it from the rv the store returns with each object.
 *
 * Resource versions: one global int64 counter, strictly increasing across
 * all resources. Every successful create, update and delete takes the next
 * value; it is persisted, so after a restart (or a crash) new writes continue
 * above the highest rv ever committed, deletes included. rvs handed out
 * inside a batch that is rolled back are not reused while this store stays
 * open.
 *
 * Durability: WAL journal with synchronous=FULL, so a write that returned 0
 * (or a batch whose llmo_store_commit returned 0) survives kill -9 and power
 * loss, as etcd's fsync per put.
 *
 * Watch history: every write also appends an event (rv, type, res, ns,
 * name, data; for DELETED the last state) to an event log that
 * llmo_store_events_since replays and llmo_store_compact trims.
 *
 * Errors: functions return 0 or a negative LLMO_E* code:
 *   LLMO_ENOTFOUND, LLMO_EEXIST, LLMO_ECONFLICT, LLMO_EGONE as documented
 *   per function; LLMO_EINVAL for bad arguments (NULL or "" res or name, a
 *   key part over LLMO_STORE_KEY_MAX, begin inside a batch, commit outside
 *   one); LLMO_ETOOBIG for data over LLMO_STORE_DATA_MAX; LLMO_ENOMEM;
 *   LLMO_EAGAIN when the database stayed locked by another connection for
 *   LLMO_STORE_BUSY_TIMEOUT_MS; LLMO_EIO for any other SQLite failure.
 * Only llmo_store_open takes a struct llmo_error; the other functions log
 * SQLite failures (component "store", with the database path and
 * sqlite3_errmsg) at error level, since their callers answer with a status
 * code, not the message.
 *
 * Threads: a store is used from one thread at a time (the API server's event
 * loop). One process owns a database file; other connections may read it.
 *
 * Strings passed in are copied; strings handed out are either malloc'd for
 * the caller (llmo_store_get, llmo_store_delete) or valid only during the
 * callback that receives them. Callbacks (list items, events, the observer)
 * must not call back into the same store.
 */
#include "base/common.h"
#include "base/error.h"

/* Longest res, ns or name accepted (Kubernetes names are at most 253 bytes). */
#define LLMO_STORE_KEY_MAX 512
/* Largest object text accepted (the Kubernetes API server's request limit, 3 MiB). */
#define LLMO_STORE_DATA_MAX (3 * 1024 * 1024)
/* How long a write waits for another connection's lock before LLMO_EAGAIN. */
#define LLMO_STORE_BUSY_TIMEOUT_MS 5000

struct llmo_store;

/*
 * Opens (creating when missing) the database at path, ":memory:" for a
 * private in-memory one (tests). Creates the schema, runs PRAGMA quick_check
 * and refuses a file that is not a SQLite database, is corrupt, or has a
 * newer schema than this build knows, with a message naming the path.
 * On success *out owns the store (llmo_store_close it); on failure *out is
 * NULL.
 */
int llmo_store_open(const char *path, struct llmo_store **out, struct llmo_error *err);

/* Rolls back an open batch, closes the database and frees s (NULL is fine). */
void llmo_store_close(struct llmo_store *s);

/* The latest rv committed (0 for a new database). */
int64_t llmo_store_rv(const struct llmo_store *s);

/*
 * Reads one object: *data gets a malloc'd copy of its text (free() it) and
 * *rv (may be NULL) its rv. LLMO_ENOTFOUND (*data NULL) when absent.
 */
int llmo_store_get(struct llmo_store *s, const char *res, const char *ns, const char *name,
		   char **data, int64_t *rv);

/* Stores a new object; *rv (may be NULL) gets its rv. LLMO_EEXIST when the key is taken. */
int llmo_store_create(struct llmo_store *s, const char *res, const char *ns, const char *name,
		      const char *data, int64_t *rv);

/*
 * Replaces an object's text (always a new rv, even when the text is the
 * same). expect_rv 0 is unconditional; otherwise LLMO_ECONFLICT when the
 * stored rv differs (optimistic concurrency). LLMO_ENOTFOUND when absent.
 */
int llmo_store_update(struct llmo_store *s, const char *res, const char *ns, const char *name,
		      const char *data, int64_t expect_rv, int64_t *rv);

/*
 * Deletes an object, with the same expect_rv rule as update. *rv (may be
 * NULL) gets the rv of the deletion event; *old_data (old_data may be NULL)
 * a malloc'd copy of the last state. LLMO_ENOTFOUND when absent.
 */
int llmo_store_delete(struct llmo_store *s, const char *res, const char *ns, const char *name,
		      int64_t expect_rv, char **old_data, int64_t *rv);

/* One listed object; the strings are valid during the call. Non-zero stops the list. */
typedef int (*llmo_store_item_fn)(void *ctx, const char *ns, const char *name, const char *data,
				  int64_t rv);

/*
 * Calls fn for the objects of res, in (ns, name) order (bytewise), within
 * one read transaction:
 *   ns          NULL: all namespaces; otherwise only that one ("" for
 *               cluster-scoped objects);
 *   after_name  NULL: from the start; otherwise only keys after
 *               (after_ns, after_name), the last key of the previous
 *               page, for continue tokens (after_ns NULL is taken as ns,
 *               or "" when ns is NULL);
 *   limit       at most this many items, 0 for all.
 * *list_rv (may be NULL) gets the store's rv as of that read (inside a
 * batch: the batch's latest rv); *more (may be NULL) is true when items
 * remain past limit. When fn returns non-zero the list stops and that
 * value is returned (*more is then false).
 */
int llmo_store_list(struct llmo_store *s, const char *res, const char *ns, const char *after_ns,
		    const char *after_name, size_t limit, llmo_store_item_fn fn, void *ctx,
		    int64_t *list_rv, bool *more);

/* Number of objects of res in ns (NULL: all namespaces). */
int llmo_store_count(struct llmo_store *s, const char *res, const char *ns, size_t *n);

enum llmo_store_event_type {
	LLMO_STORE_ADDED = 1,
	LLMO_STORE_MODIFIED,
	LLMO_STORE_DELETED,
};

/* One write; data is the new state (ADDED, MODIFIED) or the last state (DELETED). */
struct llmo_store_event {
	int64_t rv;
	enum llmo_store_event_type type;
	const char *res, *ns, *name, *data;
};

/* Receives an event whose strings are valid during the call. Non-zero stops. */
typedef int (*llmo_store_event_fn)(void *ctx, const struct llmo_store_event *ev);

/*
 * Calls fn for the events with rv > since_rv, in rv order, filtered by res
 * and ns (NULL: any), within one read transaction. LLMO_EGONE when since_rv
 * is older than the compaction point (events after it may have been
 * dropped), whatever the filters. A since_rv at or past the latest rv just
 * yields nothing. Returns fn's non-zero value when it stops.
 */
int llmo_store_events_since(struct llmo_store *s, const char *res, const char *ns,
			    int64_t since_rv, llmo_store_event_fn fn, void *ctx);

/*
 * Drops the oldest events beyond the newest keep_events and moves the
 * compaction point to the newest rv dropped (it never moves back). Objects
 * and the rv counter are untouched.
 */
int llmo_store_compact(struct llmo_store *s, size_t keep_events);

/*
 * fn (NULL to unset) gets each event after its transaction has committed,
 * in rv order: right after a plain write, or all of a batch's events after
 * llmo_store_commit. Nothing is reported for failed writes or rolled-back
 * batches. For the live watch fan-out; fn must not write to the store.
 */
void llmo_store_set_observer(struct llmo_store *s, llmo_store_event_fn fn, void *ctx);

/*
 * How many reads and writes (get, list, count, events_since, create,
 * update, delete) this store has been asked for, failed ones included: a
 * caller compares two values to learn whether something it ran in between
 * read or wrote the store (the API server holds such answers while a batch
 * is open, since they may show its uncommitted writes).
 */
uint64_t llmo_store_calls(const struct llmo_store *s);

/*
 * Test-only: the next llmo_store_commit fails with rc (a negative LLMO_E*
 * code) as if SQLite's COMMIT had, rolling the batch back; 0 cancels. There
 * is no other way to make a commit fail on demand (a full or failing disk),
 * and the API server's answers on that path need tests.
 */
void llmo_store_fail_next_commit(struct llmo_store *s, int rc);

/*
 * Batches: writes between llmo_store_begin and llmo_store_commit form one
 * transaction (a cascading namespace deletion). Without begin, each write
 * is its own transaction. Inside a batch a write that fails leaves no trace
 * and the batch goes on; reads see the batch's writes. Batches do not nest
 * (begin inside one is LLMO_EINVAL; commit or rollback outside one too).
 * When commit fails the batch is rolled back and its events dropped; either
 * way the batch is over.
 */
int llmo_store_begin(struct llmo_store *s);
int llmo_store_commit(struct llmo_store *s);
int llmo_store_rollback(struct llmo_store *s);

#endif
