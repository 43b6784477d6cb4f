#include "base/common.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/str.h"

/* Bytes asked of each read(2). */
#define FILE_READ_CHUNK 65536

/* Maps errno after a failed system call on path to an LLMO_E* code and message. */
static int file_errno(struct llmo_error *err, int e, const char *path, const char *what)
{
	const char *sep = what ? ": " : "";

	if (!what)
		what = "";
	switch (e) {
	case ENOENT:
		return llmo_error_set(err, LLMO_ENOTFOUND, "%s: %s%sno such file or directory",
				      path, what, sep);
	case EACCES:
	case EPERM:
		return llmo_error_set(err, LLMO_EDENIED, "%s: %s%s%s", path, what, sep,
				      strerror(e));
	case ENAMETOOLONG:
		return llmo_error_set(err, LLMO_EINVAL, "%s: %s%s%s", path, what, sep,
				      strerror(e));
	case ENOMEM:
		return llmo_error_set(err, LLMO_ENOMEM, "%s: %s%s%s", path, what, sep,
				      strerror(e));
	default:
		return llmo_error_set(err, LLMO_EIO, "%s: %s%s%s", path, what, sep, strerror(e));
	}
}

int llmo_file_read(const char *path, size_t max, struct llmo_buf *out, struct llmo_error *err)
{
	size_t start = out->len, limit, total = 0;
	struct stat st;
	int fd = -1, rc = 0;
	ssize_t n;

	limit = LLMO_MIN(max, out->max - out->len);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			rc = llmo_error_set(err, LLMO_ENOTFOUND, "%s: no such file", path);
			goto out;
		}
		rc = file_errno(err, errno, path, NULL);
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		rc = file_errno(err, errno, path, NULL);
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = llmo_error_set(err, LLMO_EINVAL, "%s: is a directory, not a file", path);
		goto out;
	}
	if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > limit) {
		rc = llmo_error_set(err, LLMO_ETOOBIG, "%s: file is %jd bytes, limit is %zu", path,
				    (intmax_t)st.st_size, limit);
		goto out;
	}
	if (S_ISREG(st.st_mode) && st.st_size > 0) {
		rc = llmo_buf_grow(out, (size_t)st.st_size);
		if (rc) {
			rc = llmo_error_set(err, rc, "%s: %s", path, llmo_strerror(rc));
			goto out;
		}
	}
	for (;;) {
		size_t room = limit - total;
		size_t space = out->cap ? out->cap - out->len - 1 : 0;
		/*
		 * Full buffer or at the limit: read one byte before growing, so that
		 * a file that exactly fits costs no extra allocation and one byte
		 * more than the limit is caught.
		 */
		bool probing = room == 0 || space == 0;
		char probe;

		if (probing)
			n = read(fd, &probe, 1);
		else
			n = read(fd, out->data + out->len,
				 LLMO_MIN(LLMO_MIN(space, room), (size_t)FILE_READ_CHUNK));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = file_errno(err, errno, path, "read");
			goto out;
		}
		if (n == 0)
			break;
		if (!probing) {
			out->len += (size_t)n;
			out->data[out->len] = '\0';
			total += (size_t)n;
			continue;
		}
		if (room == 0) {
			rc = llmo_error_set(err, LLMO_ETOOBIG, "%s: file is over %zu bytes, limit is %zu",
					    path, limit, limit);
			goto out;
		}
		rc = llmo_buf_append(out, &probe, 1);
		if (rc) {
			rc = llmo_error_set(err, rc, "%s: %s", path, llmo_strerror(rc));
			goto out;
		}
		total++;
	}
out:
	if (fd >= 0)
		close(fd);
	if (rc)
		llmo_buf_truncate(out, start);
	return rc;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Splits path into its directory ("." when none) and final name. */
static int path_split(const char *path, char **dir, const char **base)
{
	const char *slash = strrchr(path, '/');

	if (!slash) {
		*dir = llmo_strdup(".");
		*base = path;
	} else {
		*dir = llmo_strndup(path, slash == path ? 1 : (size_t)(slash - path));
		*base = slash + 1;
	}
	return *dir ? 0 : LLMO_ENOMEM;
}

int llmo_file_write_atomic(const char *path, const void *data, size_t len, int mode,
			   struct llmo_error *err)
{
	struct llmo_buf tmp;
	const char *base;
	char *dir = NULL;
	int fd = -1, dfd = -1, rc;

	llmo_buf_init(&tmp, PATH_MAX - 1);
	rc = path_split(path, &dir, &base);
	if (rc) {
		rc = llmo_error_set(err, rc, "%s: %s", path, llmo_strerror(rc));
		goto out;
	}
	if (!*base) {
		rc = llmo_error_set(err, LLMO_EINVAL, "%s: names a directory, not a file", path);
		goto out;
	}
	rc = llmo_buf_appendf(&tmp, "%s/.%s.tmp-XXXXXX", dir, base);
	if (rc) {
		rc = llmo_error_set(err, rc == LLMO_ETOOBIG ? LLMO_EINVAL : rc,
				    "%s: path too long", path);
		goto out;
	}
	fd = mkostemp(tmp.data, O_CLOEXEC);
	if (fd < 0) {
		rc = file_errno(err, errno, dir, "cannot create a file in this directory");
		llmo_buf_reset(&tmp); /* nothing to remove */
		goto out;
	}
	if (fchmod(fd, (mode_t)mode) < 0) {
		rc = file_errno(err, errno, tmp.data, "chmod");
		goto out;
	}
	if (write_all(fd, data, len) < 0) {
		rc = file_errno(err, errno, tmp.data, "write");
		goto out;
	}
	if (fsync(fd) < 0) {
		rc = file_errno(err, errno, tmp.data, "fsync");
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = file_errno(err, errno, tmp.data, "close");
		goto out;
	}
	fd = -1;
	if (rename(tmp.data, path) < 0) {
		rc = file_errno(err, errno, path, "rename");
		goto out;
	}
	llmo_buf_reset(&tmp); /* renamed: nothing left to remove */

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		rc = file_errno(err, errno, dir, "open directory");
		goto out;
	}
	/* Some filesystems cannot fsync a directory (EINVAL): nothing more to do there. */
	if (fsync(dfd) < 0 && errno != EINVAL) {
		rc = file_errno(err, errno, dir, "fsync");
		goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (tmp.len)
		unlink(tmp.data);
	llmo_buf_release(&tmp);
	free(dir);
	return rc;
}

/* mkdir for one prefix of the path; existing directories are fine. */
static int mkdir_one(const char *path, int mode, struct llmo_error *err)
{
	struct stat st;

	if (mkdir(path, (mode_t)mode) == 0)
		return 0;
	if (errno == EEXIST) {
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
		return llmo_error_set(err, LLMO_EEXIST, "%s: exists and is not a directory", path);
	}
	return file_errno(err, errno, path, "mkdir");
}

int llmo_mkdir_p(const char *path, int mode, struct llmo_error *err)
{
	char *copy = NULL, *p;
	int rc = 0;

	if (!path || !*path) {
		rc = llmo_error_set(err, LLMO_EINVAL, "mkdir: empty path");
		goto out;
	}
	copy = llmo_strdup(path);
	if (!copy) {
		rc = llmo_error_set(err, LLMO_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	/* Create each prefix ending before a '/', skipping the root and repeated slashes. */
	for (p = copy + 1; *p; p++) {
		if (*p != '/' || p[-1] == '/')
			continue;
		*p = '\0';
		rc = mkdir_one(copy, mode, err);
		*p = '/';
		if (rc)
			goto out;
	}
	if (p[-1] != '/' || p - 1 == copy)
		rc = mkdir_one(copy, mode, err);
	/* A path ending in '/' was created as its last prefix above. */
out:
	free(copy);
	return rc;
}

bool llmo_file_same(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}
