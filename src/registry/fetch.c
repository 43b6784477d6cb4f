/*
 * The node's model cache and the fetch of a model into it (fetch.h).
 */
#include "base/common.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/json.h"
#include "base/log.h"
#include "base/vec.h"
#include "registry/fetch.h"
#include "registry/manifest.h"
#include "registry/route.h"

#include "base/banned.h"

#define LOG "fetch"
#define INFO_FILE ".llmo-model.json"
#define USED_FILE ".last-used"
#define TITLE "org.opencontainers.image.title"
#define INFO_MAX ((size_t)64 << 10)
/* Weight of the newest measurement in the pull rate (the rest: the previous rate). */
#define RATE_NEW_WEIGHT 0.5
/* Partial downloads untouched for this long are removed by an eviction. */
#define PARTIAL_STALE_S (7 * 24 * 3600)
/* Requests for one file while each gets further than the last. */
#define FETCH_ATTEMPTS 5

/* ---- references ---- */

int llmo_model_ref_parse(const char *s, size_t len, const char *registry, bool registry_given,
			 bool plain_http, struct llmo_model_ref *out, struct llmo_error *err)
{
	const char *end = s + len, *slash, *at, *colon = NULL, *name_end;
	const char *scheme_end = strstr(registry, "://");
	size_t n;

	memset(out, 0, sizeof(*out));
	if (len == 0 || memchr(s, '\0', len))
		return llmo_error_set(err, LLMO_EINVAL, "an empty model reference");
	if (snprintf(out->url, sizeof(out->url), "%s", registry) >= (int)sizeof(out->url))
		return llmo_error_set(err, LLMO_EINVAL, "registry URL too long");
	slash = memchr(s, '/', len);
	if (slash && (memchr(s, '.', (size_t)(slash - s)) || memchr(s, ':', (size_t)(slash - s)) ||
		      ((size_t)(slash - s) == 9 && strncmp(s, "localhost", 9) == 0))) {
		const char *rhost = scheme_end ? scheme_end + 3 : registry;
		size_t hl = (size_t)(slash - s);

		if (hl == 0 || hl > 255 || strspn(s, "abcdefghijklmnopqrstuvwxyz"
						 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") < hl)
			return llmo_error_set(err, LLMO_EINVAL, "\"%.*s\": not a registry host",
					      (int)LLMO_MIN(hl, 256), s);
		/* the configured registry's scheme when it is that host */
		if (!registry_given || strncmp(rhost, s, hl) != 0 ||
		    (rhost[hl] != '\0' && rhost[hl] != '/'))
			snprintf(out->url, sizeof(out->url), "%s://%.*s",
				 plain_http ? "http" : "https", (int)hl, s);
		s = slash + 1;
	}
	at = memchr(s, '@', (size_t)(end - s));
	name_end = at ? at : end;
	for (const char *p = s; p < name_end; p++)
		if (*p == ':')
			colon = p;
	if (colon && memchr(colon, '/', (size_t)(name_end - colon)))
		colon = NULL;
	n = (size_t)((colon ? colon : name_end) - s);
	if (n == 0 || n > LLMO_REG_NAME_MAX || !llmo_reg_name_valid(s, n))
		return llmo_error_set(err, LLMO_EINVAL, "\"%.*s\": not a repository name",
				      (int)LLMO_MIN(n, 300), s);
	memcpy(out->repo, s, n);
	if (at) {
		struct llmo_digest d;

		if (llmo_digest_parse(at + 1, (size_t)(end - at - 1), &d, NULL))
			return llmo_error_set(err, LLMO_EINVAL, "not a sha256 digest after '@'");
		llmo_digest_str(&d, out->ref);
	} else if (colon) {
		size_t tl = (size_t)(name_end - colon - 1);

		if (!llmo_reg_tag_valid(colon + 1, tl))
			return llmo_error_set(err, LLMO_EINVAL, "\"%.*s\": not a valid version",
					      (int)LLMO_MIN(tl, 200), colon + 1);
		memcpy(out->ref, colon + 1, tl);
	} else {
		snprintf(out->ref, sizeof(out->ref), "latest");
	}
	return 0;
}

/* ---- signatures ---- */

/* Whether referrer desc is a valid signature by k of d. */
static bool check_signature(struct llmo_reg_client *c, const char *repo, json_t *desc,
			    const struct llmo_sig_key *k, const struct llmo_digest *d)
{
	const char *ref = json_string_value(json_object_get(desc, "digest"));
	struct llmo_oci_manifest m = {0};
	struct llmo_error err = {0};
	struct llmo_buf body, sig;
	char mt[256];
	bool ok = false;

	llmo_buf_init(&body, LLMO_REG_CLIENT_BODY_MAX);
	llmo_buf_init(&sig, 1024);
	if (ref && llmo_reg_client_manifest_get(c, repo, ref, &body, NULL, mt, &err) == 0 &&
	    llmo_oci_manifest_parse(body.data, body.len, mt[0] ? mt : NULL, &m, &err) == 0 &&
	    m.has_subject && llmo_digest_equal(&m.subject.digest, d) && m.refs.len == 1 &&
	    strcmp(m.refs.items[0].media_type, LLMO_SIG_MEDIA_TYPE) == 0 &&
	    llmo_reg_client_blob_get(c, repo, &m.refs.items[0].digest, 1024, &sig, &err) == 0)
		ok = llmo_sig_verify(k, d, (const unsigned char *)sig.data, sig.len);
	llmo_oci_manifest_release(&m);
	llmo_buf_release(&body);
	llmo_buf_release(&sig);
	return ok;
}

void llmo_model_referrers_tag(const struct llmo_digest *d, char tag[LLMO_REFERRERS_TAG_MAX])
{
	char *colon;

	llmo_digest_str(d, tag);
	colon = strchr(tag, ':');
	if (colon)
		*colon = '-';
}

/*
 * The index under the referrers tag of repo@d into *out (new reference), its
 * digest into *digest (may be NULL). LLMO_ENOTFOUND when there is none; a
 * parse error naming "referrers tag" when it is not an index.
 */
static int tag_index(struct llmo_reg_client *c, const char *repo, const struct llmo_digest *d,
		     json_t **out, struct llmo_digest *digest, struct llmo_error *err)
{
	char tag[LLMO_REFERRERS_TAG_MAX];
	struct llmo_buf body;
	int rc;

	*out = NULL;
	llmo_model_referrers_tag(d, tag);
	llmo_buf_init(&body, LLMO_REG_CLIENT_BODY_MAX);
	rc = llmo_reg_client_manifest_get(c, repo, tag, &body, digest, NULL, err);
	if (!rc)
		rc = llmo_json_load(body.data, body.len, "referrers tag", out, err);
	if (!rc && !json_is_array(json_object_get(*out, "manifests"))) {
		rc = llmo_error_set(err, LLMO_EPARSE, "referrers tag %s of %s: not an image index",
				    tag, repo);
		json_decref(*out);
		*out = NULL;
	}
	llmo_buf_release(&body);
	return rc;
}

int llmo_model_referrers(struct llmo_reg_client *c, const char *repo, const struct llmo_digest *d,
			 const char *artifact_type, json_t **out, bool *from_tag,
			 struct llmo_error *err)
{
	char ds[LLMO_DIGEST_STR_MAX], path[LLMO_REG_NAME_MAX + 256];
	struct llmo_error api = {0};
	json_t *list, *keep;
	size_t i;
	int rc;

	if (from_tag)
		*from_tag = false;
	snprintf(path, sizeof(path), "/v2/%s/referrers/%s%s%s", repo, llmo_digest_str(d, ds),
		 artifact_type ? "?artifactType=" : "", artifact_type ? artifact_type : "");
	/* every page of it (a registry may split a long list) */
	rc = llmo_reg_client_get_list(c, path, "manifests", out, &api);
	if (rc != LLMO_ENOTFOUND) {
		if (rc && err)
			*err = api;
		return rc;
	}
	/* No referrers API: the tag schema. Neither there: the API's 404 is the answer. */
	if ((rc = tag_index(c, repo, d, out, NULL, err))) {
		if (rc == LLMO_ENOTFOUND && err)
			*err = api;
		return rc;
	}
	if (from_tag)
		*from_tag = true;
	if (!artifact_type)
		return 0;
	/* what the API's ?artifactType= does: only the entries of that type */
	list = json_object_get(*out, "manifests");
	keep = json_array();
	for (i = 0; keep && i < json_array_size(list); i++) {
		json_t *e = json_array_get(list, i);
		const char *t = json_string_value(json_object_get(e, "artifactType"));

		if (t && strcmp(t, artifact_type) == 0 && json_array_append(keep, e))
			break;
	}
	if (!keep || i < json_array_size(list) || json_object_set_new(*out, "manifests", keep)) {
		json_decref(*out);
		*out = NULL;
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	return 0;
}

int llmo_model_referrers_tag_add(struct llmo_reg_client *c, const char *repo,
				 const struct llmo_digest *d, json_t *desc, struct llmo_error *err)
{
	char tag[LLMO_REFERRERS_TAG_MAX];
	const char *dig = json_string_value(json_object_get(desc, "digest"));
	json_t *idx = NULL, *list;
	char *text = NULL;
	size_t i;
	int rc = tag_index(c, repo, d, &idx, NULL, err);

	if (rc == LLMO_ENOTFOUND) {
		idx = json_pack("{s:i,s:s,s:[]}", "schemaVersion", 2, "mediaType", LLMO_OCI_INDEX,
				"manifests");
		rc = idx ? 0 : llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	}
	if (rc)
		return rc;
	list = json_object_get(idx, "manifests");
	for (i = 0; dig && i < json_array_size(list); i++) {
		const char *other = json_string_value(json_object_get(json_array_get(list, i), "digest"));

		if (other && strcmp(other, dig) == 0)
			break;
	}
	if ((i < json_array_size(list) ? json_array_set(list, i, desc) : json_array_append(list, desc)) ||
	    !(text = llmo_json_dump(idx, false))) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto out;
	}
	llmo_model_referrers_tag(d, tag);
	rc = llmo_reg_client_manifest_put(c, repo, tag, LLMO_OCI_INDEX, text, strlen(text), NULL,
					  NULL, err);
out:
	free(text);
	json_decref(idx);
	return rc;
}

int llmo_model_referrers_tag_drop(struct llmo_reg_client *c, const char *repo,
				  const struct llmo_digest *d, struct llmo_error *err)
{
	char ds[LLMO_DIGEST_STR_MAX], path[LLMO_REG_NAME_MAX + 128];
	struct llmo_digest id;
	json_t *idx = NULL;
	int rc = tag_index(c, repo, d, &idx, &id, err);

	json_decref(idx);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", repo, llmo_digest_str(&id, ds));
	return llmo_reg_client_delete(c, path, err);
}

int llmo_model_verify(struct llmo_reg_client *c, const char *repo, const struct llmo_digest *d,
		      struct llmo_sig_key *const *keys, size_t nkeys,
		      const struct llmo_sig_key **signer, struct llmo_error *err)
{
	char ds[LLMO_DIGEST_STR_MAX];
	json_t *j = NULL, *list;
	size_t checked = 0;
	int rc;

	if (nkeys == 0)
		return llmo_error_set(err, LLMO_EDENIED, "no trusted public key to verify with");
	llmo_digest_str(d, ds);
	if ((rc = llmo_model_referrers(c, repo, d, LLMO_SIG_ARTIFACT_TYPE, &j, NULL, err)))
		goto out;
	list = json_object_get(j, "manifests");
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *desc = json_array_get(list, i);
		const char *kid = json_string_value(json_object_get(
			json_object_get(desc, "annotations"), LLMO_SIG_KEY_ANNOTATION));

		for (size_t k = 0; k < nkeys; k++) {
			if (kid && strcmp(kid, llmo_sig_key_id(keys[k])) != 0)
				continue;
			checked++;
			if (check_signature(c, repo, desc, keys[k], d)) {
				if (signer)
					*signer = keys[k];
				goto out;
			}
		}
	}
	rc = llmo_error_set(err, LLMO_EDENIED,
			    "%s@%s has no valid signature by a trusted key (%zu signatures, %zu "
			    "checked against %zu trusted keys)",
			    repo, ds, json_array_size(list), checked, nkeys);
out:
	json_decref(j);
	return rc;
}

int llmo_model_keys_load(const char *path, struct llmo_sig_key **keys, size_t max, size_t *n,
			 struct llmo_error *err)
{
	struct stat st;
	struct dirent *e;
	DIR *d;
	int rc = 0;

	*n = 0;
	if (stat(path, &st) < 0)
		return llmo_error_set(err, LLMO_ENOTFOUND, "%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode)) {
		if (max == 0)
			return llmo_error_set(err, LLMO_ETOOBIG, "no room for a key");
		rc = llmo_sig_key_load(path, false, &keys[0], err);
		*n = rc ? 0 : 1;
		return rc;
	}
	d = opendir(path);
	if (!d)
		return llmo_error_set(err, LLMO_EIO, "%s: %s", path, strerror(errno));
	while (!rc && (e = readdir(d))) {
		size_t len = strlen(e->d_name);
		char p[PATH_MAX];

		if (e->d_name[0] == '.' || len < 5 || strcmp(e->d_name + len - 4, ".pub") != 0)
			continue;
		if (*n == max) {
			rc = llmo_error_set(err, LLMO_ETOOBIG, "%s: more than %zu keys", path, max);
			break;
		}
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		if (!(rc = llmo_sig_key_load(p, false, &keys[*n], err)))
			(*n)++;
	}
	closedir(d);
	if (!rc && *n == 0)
		rc = llmo_error_set(err, LLMO_ENOTFOUND, "%s: no *.pub key file", path);
	if (rc) {
		for (size_t i = 0; i < *n; i++)
			llmo_sig_key_free(keys[i]);
		*n = 0;
	}
	return rc;
}

bool llmo_model_key_name_ok(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len > LLMO_SIG_KEY_NAME_MAX || !isalnum((unsigned char)name[0]) ||
	    !isalnum((unsigned char)name[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
			return false;
	return true;
}

int llmo_model_key_find(const char *path, const char *name, char *out, size_t n,
			struct llmo_error *err)
{
	const char *base;
	struct stat st;

	if (!llmo_model_key_name_ok(name))
		return llmo_error_set(err, LLMO_EINVAL,
				      "\"%.*s\" is not a key name (1 to %d of A-Z a-z 0-9 . _ -, "
				      "starting and ending with a letter or digit)",
				      LLMO_SIG_KEY_NAME_MAX, name ? name : "", LLMO_SIG_KEY_NAME_MAX);
	if (stat(path, &st) < 0)
		return llmo_error_set(err, LLMO_ENOTFOUND, "no public key called %s: %s: %s", name,
				      path, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		if ((size_t)snprintf(out, n, "%s/%s.pub", path, name) >= n)
			return llmo_error_set(err, LLMO_ETOOBIG, "%s/%s.pub: path too long", path,
					      name);
		if (stat(out, &st) < 0)
			return llmo_error_set(err, LLMO_ENOTFOUND,
					      "no public key called %s among the trusted keys (%s: %s)",
					      name, out, strerror(errno));
		if (!S_ISREG(st.st_mode))
			return llmo_error_set(err, LLMO_ENOTFOUND,
					      "no public key called %s among the trusted keys (%s is "
					      "not a file)",
					      name, out);
		return 0;
	}
	/* one key file: it is the key called NAME only when its file is NAME.pub */
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (strncmp(base, name, strlen(name)) != 0 || strcmp(base + strlen(name), ".pub") != 0)
		return llmo_error_set(err, LLMO_ENOTFOUND,
				      "no public key called %s among the trusted keys (%s is one "
				      "key file, not %s.pub)",
				      name, path, name);
	if ((size_t)snprintf(out, n, "%s", path) >= n)
		return llmo_error_set(err, LLMO_ETOOBIG, "%s: path too long", path);
	return 0;
}

/* ---- the cache ---- */

static int hash_file(const char *path, struct llmo_sha256 *h, uint64_t *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return errno == ENOENT ? LLMO_ENOTFOUND : LLMO_EIO;
	rc = llmo_sha256_fd(h, fd, size);
	close(fd);
	return rc;
}

/* Whether path holds exactly the bytes of d. */
static bool file_matches(const char *path, const struct llmo_digest *d, uint64_t size)
{
	struct llmo_sha256 h = {0};
	struct llmo_digest got;
	struct stat st;
	bool ok = false;

	if (stat(path, &st) < 0 || (uint64_t)st.st_size != size)
		return false;
	if (llmo_sha256_init(&h) == 0 && hash_file(path, &h, NULL) == 0 &&
	    llmo_sha256_peek(&h, &got) == 0)
		ok = llmo_digest_equal(&got, d);
	llmo_sha256_release(&h);
	return ok;
}

/* Whether a layer title is a safe relative path (no "..", not absolute, no empty parts). */
static bool safe_title(const char *p)
{
	const char *s = p;

	if (!*p || *p == '/' || strlen(p) >= PATH_MAX / 2 || p[strlen(p) - 1] == '/')
		return false;
	while (*s) {
		size_t n = strcspn(s, "/");

		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.') ||
		    (s == p && n == strlen(INFO_FILE) && strncmp(s, INFO_FILE, n) == 0) ||
		    (s == p && n == strlen(USED_FILE) && strncmp(s, USED_FILE, n) == 0))
			return false;
		s += n;
		if (*s)
			s++;
	}
	return true;
}

struct fetch_state {
	const struct llmo_fetch_opts *o;
	struct llmo_fetch_progress p;
	uint64_t file_base; /* done before the current request */
	int64_t started_ms, last_ms;
};

static void report(struct fetch_state *fs, bool force)
{
	int64_t now = llmo_clock_mono_ms();

	if (!fs->o->progress || (!force && now - fs->last_ms < 200))
		return;
	fs->last_ms = now;
	fs->p.elapsed_ms = now - fs->started_ms;
	fs->o->progress(fs->o->ctx, &fs->p);
}

static void on_bytes(void *ctx, uint64_t now)
{
	struct fetch_state *fs = ctx;

	fs->p.done = fs->file_base + now;
	report(fs, false);
}

/*
 * One file: already in place and right, or downloaded (resuming the
 * partial file) into DIR/partial/HEX, verified, renamed to path.
 */
static int fetch_file_once(struct fetch_state *fs, const struct llmo_oci_descriptor *l,
			   const char *path, bool retried, struct llmo_error *err)
{
	const struct llmo_fetch_opts *o = fs->o;
	char part[PATH_MAX], parent[PATH_MAX];
	struct llmo_sha256 h = {0};
	struct stat st;
	uint64_t have = 0, done_before = fs->p.done;
	bool resumed = false;
	int fd = -1, rc;

	if (file_matches(path, &l->digest, l->size)) {
		fs->p.done += l->size;
		return 0;
	}
	snprintf(part, sizeof(part), "%s/partial/%s", o->cache_dir, l->digest.hex);
	snprintf(parent, sizeof(parent), "%s", path);
	*strrchr(parent, '/') = '\0';
	if ((rc = llmo_mkdir_p(parent, 0755, err)))
		return rc;
	fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return llmo_error_set(err, LLMO_EIO, "%s: %s", part, strerror(errno));
	if (llmo_sha256_init(&h)) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		goto out;
	}
	/* what an interrupted download left: hash it to go on from its end */
	if (fstat(fd, &st) == 0 && st.st_size > 0) {
		if ((uint64_t)st.st_size > l->size || llmo_sha256_fd(&h, fd, &have) || have > l->size) {
			llmo_sha256_release(&h);
			if (ftruncate(fd, 0) < 0 || llmo_sha256_init(&h)) {
				rc = llmo_error_set(err, LLMO_EIO, "%s: %s", part, strerror(errno));
				goto out;
			}
			have = 0;
		}
		if (have)
			LLMO_INFO(LOG, "resuming a download", "blob=sha256:%s have=%" PRIu64
				  " size=%" PRIu64, l->digest.hex, have, l->size);
	}
	resumed = have > 0;
	if (lseek(fd, (off_t)have, SEEK_SET) < 0) {
		rc = llmo_error_set(err, LLMO_EIO, "%s: %s", part, strerror(errno));
		goto out;
	}
	fs->file_base = fs->p.done + have;
	if (have == l->size) {
		struct llmo_digest got;

		rc = llmo_sha256_peek(&h, &got);
		if (!rc && !llmo_digest_equal(&got, &l->digest))
			rc = llmo_error_set(err, LLMO_EINVALID_OBJECT, "%s: bytes do not match %s",
					    part, l->digest.hex);
	} else {
		/* a transfer cut short is resumed from where it stopped, while it progresses */
		for (int attempt = 0; attempt < FETCH_ATTEMPTS; attempt++) {
			uint64_t now;

			rc = llmo_reg_client_blob_resume(o->client, o->repo, &l->digest, fd, &h, have,
							 on_bytes, fs, err);
			now = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : have;
			if (now > have)
				fs->p.downloaded += now - have;
			/* llmo's registry answers 500 "... is corrupt" for a blob whose
			 * bytes do not match its digest: that is a verification failure */
			if (rc == LLMO_EIO && strstr(err->msg, " is corrupt")) {
				err->code = rc = LLMO_EINVALID_OBJECT;
				break;
			}
			if (rc != LLMO_EIO || now <= have || now >= l->size)
				break;
			LLMO_WARN(LOG, "download cut short, resuming", "blob=sha256:%s have=%" PRIu64
				  " error=\"%s\"", l->digest.hex, now, err->msg);
			have = now;
			fs->file_base = fs->p.done;
		}
	}
	if (rc == LLMO_EINVALID_OBJECT && resumed && !retried) {
		/* a partial file with wrong bytes: once more from the start */
		LLMO_WARN(LOG, "resumed download does not verify, starting over",
			  "blob=sha256:%s", l->digest.hex);
		llmo_sha256_release(&h);
		close(fd);
		unlink(part);
		fs->p.done = done_before;
		return fetch_file_once(fs, l, path, true, err);
	}
	if (rc == LLMO_EINVALID_OBJECT) {
		/* wrong bytes are never kept, nor resumed from */
		if (ftruncate(fd, 0) < 0)
			LLMO_WARN(LOG, "cannot empty a bad download", "file=%s", part);
		unlink(part);
	}
	if (!rc && fsync(fd) < 0)
		rc = llmo_error_set(err, LLMO_EIO, "%s: fsync: %s", part, strerror(errno));
	if (!rc && rename(part, path) < 0)
		rc = llmo_error_set(err, LLMO_EIO, "%s: rename: %s", path, strerror(errno));
	if (!rc)
		fs->p.done = fs->file_base - have + l->size;
out:
	llmo_sha256_release(&h);
	if (fd >= 0)
		close(fd);
	return rc;
}

static int fetch_file(struct fetch_state *fs, const struct llmo_oci_descriptor *l,
		      const char *path, struct llmo_error *err)
{
	return fetch_file_once(fs, l, path, false, err);
}

/* Folds a measurement into DIR/rate.json. */
static void rate_record(const char *cache_dir, uint64_t bytes, int64_t ms)
{
	char p[PATH_MAX];
	struct llmo_buf b;
	json_t *j = NULL;
	double rate, old = 0;
	char *text;

	if (bytes < LLMO_FETCH_RATE_MIN_BYTES || ms <= 0)
		return;
	rate = (double)bytes * 1000.0 / (double)ms;
	snprintf(p, sizeof(p), "%s/rate.json", cache_dir);
	llmo_buf_init(&b, 4096);
	if (llmo_file_read(p, 4096, &b, NULL) == 0 && llmo_json_load(b.data, b.len, p, &j, NULL) == 0)
		old = json_number_value(json_object_get(j, "bytesPerSecond"));
	json_decref(j);
	llmo_buf_release(&b);
	if (old > 0)
		rate = RATE_NEW_WEIGHT * rate + (1 - RATE_NEW_WEIGHT) * old;
	j = json_pack("{s:I}", "bytesPerSecond", (json_int_t)rate);
	text = j ? llmo_json_dump(j, false) : NULL;
	if (text)
		llmo_file_write_atomic(p, text, strlen(text), 0644, NULL);
	free(text);
	json_decref(j);
}

static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	if (fd >= 0) {
		futimens(fd, NULL);
		close(fd);
	}
}

/* The model's files, with its metadata (name, version) from the config. */
static int model_info(const struct llmo_fetch_opts *o, const struct llmo_oci_manifest *m,
		      const struct llmo_digest *d, uint64_t total, char **text,
		      struct llmo_error *err)
{
	const char *name = NULL, *version = NULL;
	char ds[LLMO_DIGEST_STR_MAX];
	json_t *ann = m->annotations, *j;

	name = json_string_value(json_object_get(ann, "io.llmo.model.served-name"));
	if (!name) {
		name = strrchr(o->repo, '/');
		name = name ? name + 1 : o->repo;
	}
	version = json_string_value(json_object_get(ann, "org.opencontainers.image.version"));
	j = json_pack("{s:s,s:s,s:s,s:I,s:s}", "name", name ? name : o->repo, "version",
		      version ? version : o->ref, "digest", llmo_digest_str(d, ds), "sizeBytes",
		      (json_int_t)total, "repository", o->repo);
	*text = j ? llmo_json_dump(j, false) : NULL;
	json_decref(j);
	return *text ? 0 : llmo_error_set(err, LLMO_ENOMEM, "out of memory");
}

int llmo_fetch(const struct llmo_fetch_opts *o, char *dir, struct llmo_digest *digest,
	       struct llmo_error *err)
{
	struct fetch_state fs = {.o = o};
	struct llmo_oci_manifest m = {0};
	struct llmo_buf body;
	struct llmo_digest d;
	char mt[256], p[PATH_MAX], *info = NULL;
	uint64_t total = 0;
	int rc;

	fs.started_ms = fs.last_ms = llmo_clock_mono_ms();
	llmo_buf_init(&body, LLMO_REG_CLIENT_BODY_MAX);
	if ((rc = llmo_reg_client_manifest_get(o->client, o->repo, o->ref, &body, &d, mt, err)) ||
	    (rc = llmo_oci_manifest_parse(body.data, body.len, mt[0] ? mt : NULL, &m, err)))
		goto out;
	if (digest)
		*digest = d;
	if (m.is_index) {
		rc = llmo_error_set(err, LLMO_EINVAL, "%s:%s is an index, not a model", o->repo,
				    o->ref);
		goto out;
	}
	if (o->require_signature &&
	    (rc = llmo_model_verify(o->client, o->repo, &d, o->keys, o->nkeys, NULL, err))) {
		if (o->key_name && o->nkeys == 1)
			llmo_error_prefix(err, "signature.keyRef: the model must be signed by the key "
					       "called %s (%s): ",
					  o->key_name, llmo_sig_key_id(o->keys[0]));
		else
			llmo_error_prefix(err, "signatureValidation: ");
		goto out;
	}
	for (size_t i = 0; i < m.refs.len; i++) {
		const char *title = json_string_value(json_object_get(m.refs.items[i].annotations,
								      TITLE));

		if (!title || !safe_title(title)) {
			rc = llmo_error_set(err, LLMO_EINVAL, "layer %zu has no safe %s annotation",
					    i, TITLE);
			goto out;
		}
		total += m.refs.items[i].size;
	}
	fs.p.total = total;
	snprintf(dir, PATH_MAX, "%s/models/%s", o->cache_dir, d.hex);
	snprintf(p, sizeof(p), "%s/partial", o->cache_dir);
	if ((rc = llmo_mkdir_p(dir, 0755, err)) || (rc = llmo_mkdir_p(p, 0755, err)))
		goto out;
	/* make room first; this model is never evicted for itself */
	if (o->cache_size > 0) {
		uint64_t room = o->cache_size > total ? o->cache_size - total : 0;

		if ((rc = llmo_model_cache_evict(o->cache_dir, room, d.hex, NULL, err)))
			goto out;
	}
	snprintf(p, sizeof(p), "%s/" USED_FILE, dir);
	touch(p);
	for (size_t i = 0; i < m.refs.len; i++) {
		const char *title = json_string_value(json_object_get(m.refs.items[i].annotations,
								      TITLE));
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%s", dir, title);
		if ((rc = fetch_file(&fs, &m.refs.items[i], path, err))) {
			llmo_error_prefix(err, "%s: ", title);
			goto out;
		}
	}
	if ((rc = model_info(o, &m, &d, total, &info, err)))
		goto out;
	snprintf(p, sizeof(p), "%s/" INFO_FILE, dir);
	if ((rc = llmo_file_write_atomic(p, info, strlen(info), 0644, err)))
		goto out;
	fs.p.finished = true;
	report(&fs, true);
	rate_record(o->cache_dir, fs.p.downloaded, llmo_clock_mono_ms() - fs.started_ms);
out:
	free(info);
	llmo_oci_manifest_release(&m);
	llmo_buf_release(&body);
	return rc;
}

/* ---- eviction, pins, report ---- */

struct cached {
	char hex[LLMO_DIGEST_HEX_LEN + 1];
	uint64_t size;
	int64_t used_s;
	bool pinned;
	json_t *info; /* NULL: incomplete */
};

typedef LLMO_VEC(struct cached) cached_vec;

static void cached_release(cached_vec *v)
{
	for (size_t i = 0; i < v->len; i++)
		json_decref(v->items[i].info);
	llmo_vec_release(v);
}

static bool hex_name(const char *s)
{
	return strlen(s) == LLMO_DIGEST_HEX_LEN && strspn(s, "0123456789abcdef") == LLMO_DIGEST_HEX_LEN;
}

/* Bytes of the regular files under path; with remove, removes them and path too. */
static uint64_t tree_walk(const char *path, int depth, bool remove)
{
	struct dirent *e;
	uint64_t n = 0;
	DIR *d;

	if (depth > 40)
		return 0;
	if (!(d = opendir(path))) {
		if (remove)
			unlink(path);
		return 0;
	}
	while ((e = readdir(d))) {
		char p[PATH_MAX];
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		if (lstat(p, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			n += tree_walk(p, depth + 1, remove);
			continue;
		}
		if (S_ISREG(st.st_mode))
			n += (uint64_t)st.st_size;
		if (remove)
			unlink(p);
	}
	closedir(d);
	if (remove)
		rmdir(path);
	return n;
}

/* The models of the cache, with their size, last use and pins. */
static int cache_scan(const char *cache_dir, cached_vec *out, struct llmo_error *err)
{
	char p[PATH_MAX];
	struct dirent *e;
	DIR *d;

	snprintf(p, sizeof(p), "%s/models", cache_dir);
	if (!(d = opendir(p)))
		return errno == ENOENT ? 0 : llmo_error_set(err, LLMO_EIO, "%s: %s", p, strerror(errno));
	while ((e = readdir(d))) {
		struct cached *c;
		struct llmo_buf b;
		struct stat st;
		char q[PATH_MAX];

		if (!hex_name(e->d_name))
			continue;
		if (!(c = llmo_vec_push(out))) {
			closedir(d);
			return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
		}
		snprintf(c->hex, sizeof(c->hex), "%s", e->d_name);
		snprintf(q, sizeof(q), "%s/%s", p, e->d_name);
		c->size = tree_walk(q, 0, false);
		snprintf(q, sizeof(q), "%s/%s/" USED_FILE, p, e->d_name);
		c->used_s = stat(q, &st) == 0 ? (int64_t)st.st_mtime : 0;
		snprintf(q, sizeof(q), "%s/%s/" INFO_FILE, p, e->d_name);
		llmo_buf_init(&b, INFO_MAX);
		if (llmo_file_read(q, INFO_MAX, &b, NULL) == 0)
			llmo_json_load(b.data, b.len, q, &c->info, NULL);
		llmo_buf_release(&b);
	}
	closedir(d);
	/* pins */
	snprintf(p, sizeof(p), "%s/pins", cache_dir);
	if ((d = opendir(p))) {
		while ((e = readdir(d))) {
			char q[PATH_MAX], text[LLMO_DIGEST_HEX_LEN + 8] = "";
			FILE *f;

			if (e->d_name[0] == '.')
				continue;
			snprintf(q, sizeof(q), "%s/%s", p, e->d_name);
			if (!(f = fopen(q, "re")))
				continue;
			if (fgets(text, sizeof(text), f))
				text[strcspn(text, "\n")] = '\0';
			fclose(f);
			for (size_t i = 0; i < out->len; i++)
				if (strcmp(out->items[i].hex, text) == 0)
					out->items[i].pinned = true;
		}
		closedir(d);
	}
	return 0;
}

static int cmp_lru(const void *a, const void *b)
{
	const struct cached *x = a, *y = b;

	if (x->used_s != y->used_s)
		return x->used_s < y->used_s ? -1 : 1;
	return strcmp(x->hex, y->hex);
}

int llmo_model_cache_evict(const char *cache_dir, uint64_t limit, const char *keep,
			   uint64_t *freed, struct llmo_error *err)
{
	cached_vec v = LLMO_VEC_INIT;
	uint64_t total = 0, gone = 0;
	char p[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int rc;

	if ((rc = cache_scan(cache_dir, &v, err)))
		goto out;
	for (size_t i = 0; i < v.len; i++)
		total += v.items[i].size;
	qsort(v.items, v.len, sizeof(v.items[0]), cmp_lru);
	for (size_t i = 0; i < v.len && total > limit; i++) {
		struct cached *c = &v.items[i];

		if (c->pinned || (keep && strcmp(c->hex, keep) == 0))
			continue;
		snprintf(p, sizeof(p), "%s/models/%s", cache_dir, c->hex);
		LLMO_INFO(LOG, "model evicted", "digest=sha256:%s bytes=%" PRIu64, c->hex, c->size);
		tree_walk(p, 0, true);
		total -= c->size;
		gone += c->size;
	}
	/* partial downloads nobody resumed for a week */
	snprintf(p, sizeof(p), "%s/partial", cache_dir);
	if ((d = opendir(p))) {
		int64_t now = llmo_clock_wall_ms() / 1000;

		while ((e = readdir(d))) {
			char q[PATH_MAX];
			struct stat st;

			snprintf(q, sizeof(q), "%s/%s", p, e->d_name);
			if (hex_name(e->d_name) && stat(q, &st) == 0 &&
			    now - (int64_t)st.st_mtime > PARTIAL_STALE_S && unlink(q) == 0)
				gone += (uint64_t)st.st_size;
		}
		closedir(d);
	}
	if (freed)
		*freed = gone;
out:
	cached_release(&v);
	return rc;
}

const char *llmo_model_ref_hex(const char *ref)
{
	const char *at = strrchr(ref, '@');
	struct llmo_digest d;

	if (!at || strncmp(at + 1, "sha256:", 7) != 0 ||
	    llmo_digest_parse(at + 1, strlen(at + 1), &d, NULL))
		return NULL;
	return at + 8;
}

bool llmo_model_cache_complete(const char *cache_dir, const char *hex)
{
	char path[PATH_MAX];
	struct stat st;

	if (snprintf(path, sizeof(path), "%s/models/%s/" INFO_FILE, cache_dir, hex) >=
	    (int)sizeof(path))
		return false;
	return stat(path, &st) == 0;
}

int llmo_model_cache_pin(const char *cache_dir, const char *name, const char *hex,
			 struct llmo_error *err)
{
	char p[PATH_MAX];
	int rc;

	if (!name[0] || strchr(name, '/') || name[0] == '.')
		return llmo_error_set(err, LLMO_EINVAL, "pin name \"%s\" is not a file name", name);
	snprintf(p, sizeof(p), "%s/pins", cache_dir);
	if (!hex) {
		snprintf(p, sizeof(p), "%s/pins/%s", cache_dir, name);
		return unlink(p) == 0 || errno == ENOENT
			       ? 0
			       : llmo_error_set(err, LLMO_EIO, "%s: %s", p, strerror(errno));
	}
	if ((rc = llmo_mkdir_p(p, 0755, err)))
		return rc;
	snprintf(p, sizeof(p), "%s/pins/%s", cache_dir, name);
	return llmo_file_write_atomic(p, hex, strlen(hex), 0644, err);
}

static int cmp_report(const void *a, const void *b)
{
	const struct cached *x = a, *y = b;
	int c = strcmp(json_string_value(json_object_get(x->info, "name")),
		       json_string_value(json_object_get(y->info, "name")));

	if (!c)
		c = strcmp(json_string_value(json_object_get(x->info, "version")),
			   json_string_value(json_object_get(y->info, "version")));
	return c ? c : strcmp(x->hex, y->hex);
}

int llmo_model_cache_report(const char *cache_dir, json_t **out, struct llmo_error *err)
{
	cached_vec v = LLMO_VEC_INIT, done = LLMO_VEC_INIT;
	json_t *models = NULL, *rj = NULL;
	struct llmo_buf b;
	char p[PATH_MAX];
	json_int_t rate = 0;
	int rc;

	*out = NULL;
	if ((rc = cache_scan(cache_dir, &v, err)))
		goto out;
	for (size_t i = 0; i < v.len; i++) {
		json_t *info = v.items[i].info;
		struct cached *c;

		if (!json_is_string(json_object_get(info, "name")) ||
		    !json_is_string(json_object_get(info, "version")))
			continue;
		if (!(c = llmo_vec_push(&done))) {
			rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
			goto out;
		}
		*c = v.items[i];
		v.items[i].info = NULL;
	}
	if (done.len > 1)
		qsort(done.items, done.len, sizeof(done.items[0]), cmp_report);
	models = json_array();
	for (size_t i = 0; models && i < done.len; i++) {
		json_t *info = done.items[i].info;
		char ds[LLMO_DIGEST_STR_MAX + 8];

		snprintf(ds, sizeof(ds), "sha256:%s", done.items[i].hex);
		json_array_append_new(models,
				      json_pack("{s:O,s:O,s:s,s:I}", "name",
						json_object_get(info, "name"), "version",
						json_object_get(info, "version"), "digest", ds,
						"sizeBytes",
						json_object_get(info, "sizeBytes")
							? json_integer_value(
								  json_object_get(info, "sizeBytes"))
							: (json_int_t)done.items[i].size));
	}
	snprintf(p, sizeof(p), "%s/rate.json", cache_dir);
	llmo_buf_init(&b, 4096);
	if (llmo_file_read(p, 4096, &b, NULL) == 0 && llmo_json_load(b.data, b.len, p, &rj, NULL) == 0)
		rate = json_integer_value(json_object_get(rj, "bytesPerSecond"));
	llmo_buf_release(&b);
	*out = models ? json_pack("{s:I,s:O}", "pullBytesPerSecond", rate, "models", models) : NULL;
	if (!*out)
		rc = llmo_error_set(err, LLMO_ENOMEM, "out of memory");
out:
	json_decref(rj);
	json_decref(models);
	cached_release(&v);
	cached_release(&done);
	return rc;
}
