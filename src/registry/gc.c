/*
 * Version pruning and mark-and-sweep garbage collection of a local store
 * (gc.h).
 */
#include "base/common.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/hmap.h"
#include "base/log.h"
#include "base/vec.h"
#include "registry/gc.h"
#include "registry/manifest.h"

#include "base/banned.h"

#define LOG "registry"
/* Largest manifest read back (the registry refuses larger ones on push). */
#define GC_MANIFEST_MAX ((size_t)4 << 20)
/* Manifests (revisions) of one repository handled by a prune. */
#define GC_REVISIONS_MAX 100000

#define gc_path llmo_reg_path_fmt

static bool hex_name(const char *name)
{
	return strlen(name) == LLMO_DIGEST_HEX_LEN &&
	       strspn(name, "0123456789abcdef") == LLMO_DIGEST_HEX_LEN;
}

/* The 64-hex names in dir (none when it does not exist). */
static int list_hex(const char *dir, struct llmo_strv *out, struct llmo_error *err)
{
	return llmo__reg_list_dir(dir, hex_name, GC_REVISIONS_MAX, out, err);
}

/* The revisions directory of repo into dir (PATH_MAX bytes), and its manifests (hex) into revs. */
static int list_revisions(struct llmo_reg_store *s, const char *repo, char *dir,
			  struct llmo_strv *revs, struct llmo_error *err)
{
	int rc = gc_path(dir, err, "%s/repositories/%s/_manifests/revisions/sha256",
			 llmo_reg_store_root(s), repo);

	return rc ? rc : list_hex(dir, revs, err);
}

static int64_t mtime_ns(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -1;
	return (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

static int digest_of_hex(const char *hex, struct llmo_digest *d)
{
	char text[LLMO_DIGEST_STR_MAX + 8];

	snprintf(text, sizeof(text), "sha256:%s", hex);
	return llmo_digest_parse(text, strlen(text), d, NULL);
}

/* Reads and parses manifest hex (from blobs/). */
static int manifest_load(struct llmo_reg_store *s, const char *hex, struct llmo_oci_manifest *m,
			 struct llmo_error *err)
{
	struct llmo_digest d;
	struct llmo_buf body;
	int rc;

	memset(m, 0, sizeof(*m));
	if (digest_of_hex(hex, &d))
		return llmo_error_set(err, LLMO_EINVAL, "%s: not a digest", hex);
	llmo_buf_init(&body, GC_MANIFEST_MAX);
	rc = llmo_reg_blob_read_small(s, NULL, &d, GC_MANIFEST_MAX, &body, err);
	if (!rc)
		rc = llmo_oci_manifest_parse(body.data, body.len, NULL, m, err);
	llmo_buf_release(&body);
	if (rc)
		llmo_error_prefix(err, "manifest sha256:%s", hex);
	return rc;
}

/* Puts the digests manifest m refers to (config, layers or manifests) into set. */
static int mark_refs(struct llmo_hmap *set, const struct llmo_oci_manifest *m)
{
	int rc = 0;

	if (m->has_config)
		rc = llmo_hmap_put(set, m->config.digest.hex, NULL, NULL);
	for (size_t i = 0; !rc && i < m->refs.len; i++)
		if (!m->refs.items[i].external)
			rc = llmo_hmap_put(set, m->refs.items[i].digest.hex, NULL, NULL);
	return rc;
}

/* ---- mark and sweep ---- */

/*
 * Puts what every manifest of repo refers to into set, and the manifests
 * themselves too when self. *count (may be NULL) counts the manifests.
 */
static int mark_repo(struct llmo_reg_store *s, const char *repo, struct llmo_hmap *set,
		     bool self, size_t *count, struct llmo_error *err)
{
	struct llmo_strv revs = LLMO_STRV_INIT;
	char dir[PATH_MAX];
	int rc;

	if ((rc = list_revisions(s, repo, dir, &revs, err)))
		goto out;
	for (size_t i = 0; i < revs.len; i++) {
		struct llmo_oci_manifest m;

		if ((rc = manifest_load(s, revs.items[i], &m, err)))
			goto out;
		if (count)
			(*count)++;
		rc = self ? llmo_hmap_put(set, revs.items[i], NULL, NULL) : 0;
		if (!rc)
			rc = mark_refs(set, &m);
		llmo_oci_manifest_release(&m);
		if (rc) {
			rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
			goto out;
		}
	}
out:
	llmo_strv_release(&revs);
	return rc;
}

/*
 * The links of repo: young ones to unmarked blobs mark them (an upload
 * waiting for its manifest), old ones to unmarked blobs are removed.
 */
static int links_repo(struct llmo_reg_store *s, const char *repo, struct llmo_hmap *marked,
		      int64_t cutoff_ns, const struct llmo_reg_gc_opts *o,
		      struct llmo_reg_gc_stats *st, struct llmo_error *err)
{
	struct llmo_strv links = LLMO_STRV_INIT;
	char dir[PATH_MAX], p[PATH_MAX];
	int rc;

	if ((rc = gc_path(dir, err, "%s/repositories/%s/_layers/sha256", llmo_reg_store_root(s),
			  repo)) ||
	    (rc = list_hex(dir, &links, err)))
		goto out;
	for (size_t i = 0; i < links.len; i++) {
		if (llmo_hmap_has(marked, links.items[i]))
			continue;
		if ((rc = gc_path(p, err, "%s/%s", dir, links.items[i])))
			goto out;
		if (!o) {
			if (mtime_ns(p) > cutoff_ns && llmo_hmap_put(marked, links.items[i], NULL, NULL)) {
				rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
				goto out;
			}
		} else if (o->dry_run ? access(p, F_OK) == 0 : llmo_reg_store_unlink(s, p, NULL) == 0) {
			st->links_removed++;
			if (o->report)
				o->report(o->arg, LLMO_REG_GC_LINK, repo, links.items[i], 0);
		}
	}
out:
	llmo_strv_release(&links);
	return rc;
}

/* Opens ROOT/sub (its path into top, PATH_MAX): *d NULL when it does not exist. */
static int open_dir(struct llmo_reg_store *s, const char *sub, char *top, DIR **d,
		    struct llmo_error *err)
{
	int rc;

	*d = NULL;
	if ((rc = gc_path(top, err, "%s/%s", llmo_reg_store_root(s), sub)))
		return rc;
	*d = opendir(top);
	if (!*d && errno != ENOENT)
		return llmo_error_set(err, LLMO_EIO, "%s: %s", top, strerror(errno));
	return 0;
}

/* swept receives the blobs removed (or that would be, in a dry run) */
static int sweep(struct llmo_reg_store *s, struct llmo_hmap *marked, struct llmo_hmap *swept,
		 const struct llmo_reg_gc_opts *o, struct llmo_reg_gc_stats *st,
		 struct llmo_error *err)
{
	char top[PATH_MAX];
	DIR *d;
	struct dirent *e;
	int rc;

	if ((rc = open_dir(s, "blobs/sha256", top, &d, err)) || !d)
		return rc;
	while ((e = readdir(d))) {
		struct llmo_strv blobs = LLMO_STRV_INIT;
		char sub[PATH_MAX];

		if (strlen(e->d_name) != 2 || strspn(e->d_name, "0123456789abcdef") != 2)
			continue;
		if ((rc = gc_path(sub, err, "%s/%s", top, e->d_name)) ||
		    (rc = list_hex(sub, &blobs, err))) {
			llmo_strv_release(&blobs);
			break;
		}
		for (size_t i = 0; i < blobs.len; i++) {
			char p[PATH_MAX];
			struct llmo_digest dg;
			struct stat sb;

			if (llmo_hmap_has(marked, blobs.items[i])) {
				st->blobs_kept++;
				continue;
			}
			if (gc_path(p, NULL, "%s/%s", sub, blobs.items[i]) || lstat(p, &sb) < 0 ||
			    (!o->dry_run && llmo_reg_store_unlink(s, p, NULL)))
				continue;
			if (!o->dry_run && !digest_of_hex(blobs.items[i], &dg))
				llmo_reg_store_forget(s, &dg);
			st->blobs_removed++;
			st->bytes_removed += (uint64_t)sb.st_size;
			llmo_hmap_put(swept, blobs.items[i], NULL, NULL);
			if (o->report)
				o->report(o->arg, LLMO_REG_GC_BLOB, NULL, blobs.items[i],
					  (uint64_t)sb.st_size);
		}
		llmo_strv_release(&blobs);
		if (!o->dry_run)
			rmdir(sub); /* fails, harmlessly, while blobs remain */
	}
	closedir(d);
	return rc;
}

/* ---- the bucket (storageType s3) ---- */

struct doomed {
	char hex[LLMO_DIGEST_HEX_LEN + 1];
	uint64_t size;
};

struct bucket_sweep {
	struct llmo_reg_store *s;
	struct llmo_hmap *marked, *swept;
	int64_t cutoff_ms;
	struct llmo_reg_gc_stats *st;
	LLMO_VEC(struct doomed) doomed;
};

static int bucket_blob(void *arg, const struct llmo_reg_s3_object *obj, struct llmo_error *err)
{
	struct bucket_sweep *b = arg;
	const char *hex = obj->key + strlen("blobs/sha256/AB/");
	struct llmo_digest d;
	struct doomed *x;

	/* only the registry's own blob keys: anything else in the prefix is not ours */
	if (strlen(obj->key) != strlen("blobs/sha256/AB/") + LLMO_DIGEST_HEX_LEN ||
	    strncmp(obj->key, "blobs/sha256/", 13) != 0 || memcmp(obj->key + 13, hex, 2) != 0 ||
	    obj->key[15] != '/' || !hex_name(hex) || digest_of_hex(hex, &d))
		return 0;
	/* the local sweep has dealt with it (removed, or would in a dry run) */
	if (llmo_hmap_has(b->swept, hex))
		return 0;
	/* referred to, or stored within the grace (an upload whose link and
	 * manifest may be on their way, in this registry or another) */
	if (llmo_hmap_has(b->marked, hex) || obj->mtime_ms < 0 || obj->mtime_ms > b->cutoff_ms) {
		if (!llmo_reg_blob_cached(b->s, &d))
			b->st->blobs_kept++; /* a cached one was counted by the local sweep */
		return 0;
	}
	if (b->doomed.len >= LLMO_REG_GC_BUCKET_BLOBS_MAX || !(x = llmo_vec_push(&b->doomed)))
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	snprintf(x->hex, sizeof(x->hex), "%s", hex);
	x->size = obj->size;
	return 0;
}

/*
 * With S3: the blobs of the bucket that no manifest refers to, which the
 * cache may not hold (never read through it, or evicted): listed
 * (ListObjectsV2), then deleted one by one.
 */
static int sweep_bucket(struct llmo_reg_store *s, struct llmo_hmap *marked,
			struct llmo_hmap *swept, int64_t cutoff_ms, const struct llmo_reg_gc_opts *o,
			struct llmo_reg_gc_stats *st, struct llmo_error *err)
{
	struct llmo_reg_s3 *s3 = llmo_reg_store_s3(s);
	struct bucket_sweep b = {s, marked, swept, cutoff_ms, st, LLMO_VEC_INIT};
	int rc;

	if (!s3)
		return 0;
	rc = llmo_reg_s3_list(s3, "blobs/sha256/", LLMO_REG_GC_BUCKET_BLOBS_MAX, bucket_blob, &b, err);
	for (size_t i = 0; !rc && i < b.doomed.len; i++) {
		const struct doomed *x = &b.doomed.items[i];
		char key[LLMO_REG_S3_KEY_MAX];

		snprintf(key, sizeof(key), "blobs/sha256/%.2s/%s", x->hex, x->hex);
		if (!o->dry_run && (rc = llmo_reg_s3_delete(s3, key, err)))
			break;
		st->blobs_removed++;
		st->bytes_removed += x->size;
		if (o->report)
			o->report(o->arg, LLMO_REG_GC_BLOB, NULL, x->hex, x->size);
	}
	llmo_vec_release(&b.doomed);
	return rc;
}

int llmo_reg_gc(struct llmo_reg_store *s, int64_t grace_ms, struct llmo_reg_gc_stats *stats,
		struct llmo_error *err)
{
	struct llmo_reg_gc_opts o = {.grace_ms = grace_ms > 0 ? grace_ms : -1};

	return llmo_reg_gc_run(s, &o, stats, err);
}

int llmo_reg_gc_run(struct llmo_reg_store *s, const struct llmo_reg_gc_opts *o,
		    struct llmo_reg_gc_stats *stats, struct llmo_error *err)
{
	struct llmo_reg_gc_stats st = {0};
	struct llmo_strv repos = LLMO_STRV_INIT;
	struct llmo_hmap marked, swept;
	/* llmo_reg_gc's callers pass 0 for "no grace" (-1 here); 0 in opts is the default */
	int64_t grace = o->grace_ms == 0 ? LLMO_REG_GC_GRACE_MS : o->grace_ms < 0 ? 0 : o->grace_ms;
	int64_t cutoff = llmo_clock_wall_ms() - grace;
	int rc;

	llmo_hmap_init(&marked);
	llmo_hmap_init(&swept);
	if ((rc = llmo_reg_catalog(s, &repos, err)))
		goto out;
	/* mark: every manifest and what it refers to, then young links */
	for (size_t i = 0; i < repos.len; i++)
		if ((rc = mark_repo(s, repos.items[i], &marked, true, &st.manifests, err)))
			goto out;
	for (size_t i = 0; i < repos.len; i++)
		if ((rc = links_repo(s, repos.items[i], &marked, cutoff * 1000000, NULL, &st, err)))
			goto out;
	/* sweep: old links to unmarked blobs, then the blobs */
	for (size_t i = 0; i < repos.len; i++)
		if ((rc = links_repo(s, repos.items[i], &marked, 0, o, &st, err)))
			goto out;
	rc = sweep(s, &marked, &swept, o, &st, err);
	if (!rc)
		rc = sweep_bucket(s, &marked, &swept, cutoff, o, &st, err);
	LLMO_INFO(LOG, o->dry_run ? "garbage found (dry run)" : "garbage collected",
		  "manifests=%zu blobs_kept=%zu blobs_removed=%zu bytes_removed=%" PRIu64
		  " links_removed=%zu",
		  st.manifests, st.blobs_kept, st.blobs_removed, st.bytes_removed,
		  st.links_removed);
out:
	if (stats)
		*stats = st;
	llmo_hmap_release(&marked, NULL);
	llmo_hmap_release(&swept, NULL);
	llmo_strv_release(&repos);
	return rc;
}

/* ---- pruning ---- */

struct version {
	char hex[LLMO_DIGEST_HEX_LEN + 1];
	int64_t stored_ns; /* the revision file's mtime */
	bool aliased;
};

static int cmp_version(const void *a, const void *b)
{
	const struct version *x = a, *y = b;

	if (x->stored_ns != y->stored_ns)
		return x->stored_ns < y->stored_ns ? -1 : 1;
	return strcmp(x->hex, y->hex);
}

/* A manifest deleted by a prune: what it referred to, and when it was stored. */
struct gone {
	char hex[LLMO_DIGEST_HEX_LEN + 1];
	int64_t stored_ns;
	struct llmo_strv refs;
};

typedef LLMO_VEC(struct gone) gone_vec;

/*
 * Manifest hex (still in blobs/), stored at stored_ns, into gv; nothing
 * when type is not NULL and its artifactType is another.
 */
static int gone_push(struct llmo_reg_store *s, const char *hex, int64_t stored_ns,
		     const char *type, gone_vec *gv, struct llmo_error *err)
{
	struct llmo_oci_manifest m;
	struct gone *g;
	int rc;

	if ((rc = manifest_load(s, hex, &m, err)))
		return rc;
	if (type && !(m.artifact_type && strcmp(m.artifact_type, type) == 0)) {
		llmo_oci_manifest_release(&m);
		return 0;
	}
	g = llmo_vec_push(gv);
	if (!g) {
		llmo_oci_manifest_release(&m);
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	memset(g, 0, sizeof(*g));
	snprintf(g->hex, sizeof(g->hex), "%s", hex);
	g->stored_ns = stored_ns;
	if (m.has_config)
		rc = llmo_strv_push(&g->refs, m.config.digest.hex);
	for (size_t i = 0; !rc && i < m.refs.len; i++)
		rc = llmo_strv_push(&g->refs, m.refs.items[i].digest.hex);
	llmo_oci_manifest_release(&m);
	return rc ? llmo_error_set(err, LLMO_ENOMEM, "out of memory") : 0;
}

int64_t llmo_reg_revision_stored_ns(struct llmo_reg_store *s, const char *repo,
				    const struct llmo_digest *d)
{
	char p[PATH_MAX];

	if (gc_path(p, NULL, "%s/repositories/%s/_manifests/revisions/sha256/%s",
		    llmo_reg_store_root(s), repo, d->hex))
		return -1;
	return mtime_ns(p);
}

static int gone_add(struct llmo_reg_store *s, const char *repo, const char *hex, gone_vec *gv,
		    struct llmo_error *err)
{
	struct llmo_digest d;

	if (digest_of_hex(hex, &d))
		return llmo_error_set(err, LLMO_EINVAL, "%s: not a digest", hex);
	return gone_push(s, hex, llmo_reg_revision_stored_ns(s, repo, &d), NULL, gv, err);
}

/* Deletes manifest hex of repo after its referrers (recorded in gv as well). */
static int delete_version(struct llmo_reg_store *s, const char *repo, const char *hex,
			  gone_vec *gv, struct llmo_error *err)
{
	struct llmo_strv refs = LLMO_STRV_INIT;
	struct llmo_digest d;
	int rc;

	if (digest_of_hex(hex, &d))
		return llmo_error_set(err, LLMO_EINVAL, "%s: not a digest", hex);
	if ((rc = llmo_reg_referrers(s, repo, &d, &refs, err)))
		goto out;
	for (size_t i = 0; i < refs.len; i++) {
		struct llmo_digest rd;

		if (llmo_digest_parse(refs.items[i], strlen(refs.items[i]), &rd, NULL))
			continue;
		if ((rc = gone_add(s, repo, rd.hex, gv, err)) ||
		    (rc = llmo_reg_manifest_delete(s, repo, &rd, err)))
			goto out;
	}
	if ((rc = gone_add(s, repo, hex, gv, err)))
		goto out;
	rc = llmo_reg_manifest_delete(s, repo, &d, err);
out:
	llmo_strv_release(&refs);
	return rc;
}

/*
 * Removes the links of what the deleted manifests referred to, unless a
 * remaining manifest of repo uses it or the link was touched after the
 * deleted manifest was stored.
 */
static int unlink_gone(struct llmo_reg_store *s, const char *repo, const gone_vec *gv,
		       struct llmo_error *err)
{
	struct llmo_hmap used;
	int rc;

	llmo_hmap_init(&used);
	if ((rc = mark_repo(s, repo, &used, false, NULL, err)))
		goto out;
	for (size_t i = 0; i < gv->len; i++) {
		const struct gone *g = &gv->items[i];

		for (size_t k = 0; k < g->refs.len; k++) {
			char p[PATH_MAX];

			if (llmo_hmap_has(&used, g->refs.items[k]) ||
			    gc_path(p, NULL, "%s/repositories/%s/_layers/sha256/%s",
				    llmo_reg_store_root(s), repo, g->refs.items[k]))
				continue;
			llmo_reg_store_unlink_link(s, p, g->stored_ns, NULL);
		}
	}
out:
	llmo_hmap_release(&used, NULL);
	return rc;
}

static void gone_release(gone_vec *gv)
{
	for (size_t i = 0; i < gv->len; i++)
		llmo_strv_release(&gv->items[i].refs);
	llmo_vec_release(gv);
}

int llmo_reg_unlink_deleted(struct llmo_reg_store *s, const char *repo,
			    const struct llmo_digest *d, int64_t stored_ns, const char *artifact_type,
			    struct llmo_error *err)
{
	gone_vec gv = LLMO_VEC_INIT;
	int rc = gone_push(s, d->hex, stored_ns, artifact_type, &gv, err);

	if (!rc)
		rc = unlink_gone(s, repo, &gv, err);
	gone_release(&gv);
	return rc;
}

int llmo_reg_prune(struct llmo_reg_store *s, const char *repo,
		   const struct llmo_reg_prune_opts *o, struct llmo_strv *deleted,
		   struct llmo_error *err)
{
	struct llmo_strv revs = LLMO_STRV_INIT;
	LLMO_VEC(struct version) vs = LLMO_VEC_INIT;
	gone_vec gv = LLMO_VEC_INIT;
	char dir[PATH_MAX], p[PATH_MAX];
	size_t excess, unaliased = 0;
	int rc;

	if (o->max_versions < 1)
		return llmo_error_set(err, LLMO_EINVAL, "maxVersions must be at least 1");
	if ((rc = list_revisions(s, repo, dir, &revs, err)))
		goto out;
	for (size_t i = 0; i < revs.len; i++) {
		struct llmo_oci_manifest m;
		struct version *v;
		bool is_version;

		if ((rc = manifest_load(s, revs.items[i], &m, err)))
			goto out;
		is_version = !m.has_subject && m.artifact_type &&
			     strcmp(m.artifact_type, o->artifact_type) == 0;
		llmo_oci_manifest_release(&m);
		if (!is_version)
			continue;
		if (!(v = llmo_vec_push(&vs)) || gc_path(p, err, "%s/%s", dir, revs.items[i])) {
			rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
			goto out;
		}
		snprintf(v->hex, sizeof(v->hex), "%s", revs.items[i]);
		v->stored_ns = mtime_ns(p);
		v->aliased = false;
	}
	if (vs.len <= (size_t)o->max_versions)
		goto out;
	for (size_t a = 0; a < o->naliases; a++) {
		struct llmo_digest d;

		if (llmo_reg_manifest_resolve(s, repo, o->aliases[a], &d, NULL, NULL))
			continue;
		for (size_t i = 0; i < vs.len; i++)
			if (strcmp(vs.items[i].hex, d.hex) == 0)
				vs.items[i].aliased = true;
	}
	for (size_t i = 0; o->keep && i < vs.len; i++)
		if (strcmp(vs.items[i].hex, o->keep->hex) == 0)
			vs.items[i].aliased = true;
	qsort(vs.items, vs.len, sizeof(vs.items[0]), cmp_version);
	excess = vs.len - (size_t)o->max_versions;
	for (size_t i = 0; i < vs.len && unaliased < excess; i++) {
		if (vs.items[i].aliased)
			continue;
		if ((rc = delete_version(s, repo, vs.items[i].hex, &gv, err)))
			goto out;
		unaliased++;
		LLMO_INFO(LOG, "old version deleted", "repo=%s digest=sha256:%s max_versions=%d",
			  repo, vs.items[i].hex, o->max_versions);
		if (deleted) {
			char ds[LLMO_DIGEST_STR_MAX + 8];

			snprintf(ds, sizeof(ds), "sha256:%s", vs.items[i].hex);
			if (llmo_strv_push(deleted, ds)) {
				rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
				goto out;
			}
		}
	}
	rc = unlink_gone(s, repo, &gv, err);
out:
	gone_release(&gv);
	llmo_vec_release(&vs);
	llmo_strv_release(&revs);
	return rc;
}

/* The repository an upload session records (its "repo" file), or "" when unreadable. */
static void upload_repo(const char *dir, char *out, size_t n)
{
	char p[PATH_MAX];
	ssize_t got = -1;
	int fd;

	out[0] = '\0';
	if (gc_path(p, NULL, "%s/repo", dir) || (fd = open(p, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	got = read(fd, out, n - 1);
	close(fd);
	out[got > 0 ? got : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

/* Removes an upload session's directory: its files (data, repo) and itself. */
static void upload_remove(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[PATH_MAX], q[LLMO_LOG_QUOTE_MAX];

	while (d && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (!gc_path(p, NULL, "%s/%s", dir, e->d_name) && unlink(p) < 0 && errno != ENOENT)
			LLMO_WARN(LOG, "cannot remove upload file", "path=%s error=\"%s\"",
				  llmo_log_quote(q, sizeof(q), p), strerror(errno));
	}
	if (d)
		closedir(d);
	if (rmdir(dir) < 0 && errno != ENOENT)
		LLMO_WARN(LOG, "cannot remove upload directory", "path=%s error=\"%s\"",
			  llmo_log_quote(q, sizeof(q), dir), strerror(errno));
}

int llmo_reg_gc_uploads(struct llmo_reg_store *s, int64_t max_age_ms,
			const struct llmo_reg_gc_opts *o, struct llmo_reg_gc_stats *stats,
			struct llmo_error *err)
{
	int64_t now = llmo_clock_wall_ms();
	char top[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int rc;

	if ((rc = open_dir(s, "uploads", top, &d, err)) || !d)
		return rc;
	while ((e = readdir(d))) {
		char dir[PATH_MAX], f[PATH_MAX], repo[LLMO_REG_NAME_MAX + 2];
		struct stat st;
		uint64_t bytes = 0;

		/* session ids only: anything else under uploads/ is not ours to judge */
		if (strlen(e->d_name) != LLMO_REG_UPLOAD_ID_LEN || e->d_name[0] == '.')
			continue;
		if (gc_path(dir, NULL, "%s/%s", top, e->d_name) || gc_path(f, NULL, "%s/data", dir))
			continue;
		/* no data file (a crash while the session started): the directory's time */
		if (stat(f, &st) == 0)
			bytes = (uint64_t)st.st_size;
		else if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (now - ((int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000) <=
		    max_age_ms)
			continue;
		upload_repo(dir, repo, sizeof(repo));
		if (!o->dry_run)
			upload_remove(dir);
		stats->uploads_removed++;
		stats->upload_bytes_removed += bytes;
		if (o->report)
			o->report(o->arg, LLMO_REG_GC_UPLOAD, repo[0] ? repo : NULL, e->d_name, bytes);
	}
	closedir(d);
	return 0;
}

int llmo_reg_lock_take(const char *root, bool exclusive, int *fd, struct llmo_error *err)
{
	char p[PATH_MAX];
	int rc;

	*fd = -1;
	if ((rc = gc_path(p, err, "%s/" LLMO_REG_LOCK_FILE, root)))
		return rc;
	*fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0)
		return llmo_error_set(err, LLMO_EIO, "%s: %s", p, strerror(errno));
	while (flock(*fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0) {
		int e = errno;

		if (e == EINTR)
			continue;
		close(*fd);
		*fd = -1;
		if (e == EWOULDBLOCK)
			return llmo_error_set(err, LLMO_EAGAIN, "%s is held: %s", p,
					      exclusive ? "a registry server is using this storage"
							: "llmo registry gc is running on this storage");
		return llmo_error_set(err, LLMO_EIO, "flock %s: %s", p, strerror(e));
	}
	return 0;
}
