#ifndef LLMO_FILE_H
#define LLMO_FILE_H
/*
 * Whole-file reads with a cap, crash-safe whole-file writes, mkdir -p.
 *
 * Every function takes a `struct llmo_error *` (may be NULL) and on failure
 * writes a message that starts with the path: "PATH: no such file".
 * Codes: LLMO_ENOTFOUND (missing file or directory), LLMO_EDENIED
 * (permissions), LLMO_ETOOBIG (over the cap), LLMO_EINVAL (bad argument,
 * a directory where a file was expected, a name too long), LLMO_EEXIST
 * (a non-directory in the way of llmo_mkdir_p), LLMO_ENOMEM, and LLMO_EIO
 * for any other system error (with its strerror text).
 */
#include "base/common.h"
#include "base/buf.h"
#include "base/error.h"

/*
 * Appends the contents of the file at path to out (initialised by the
 * caller; it may already hold data). At most `max` bytes are read, and
 * out->max also applies: a larger file fails with LLMO_ETOOBIG ("PATH: file
 * is N bytes, limit is M"). Works on pipes and /proc files too (files whose
 * size is only known by reading). On failure out is truncated back to its
 * length on entry.
 */
int llmo_file_read(const char *path, size_t max, struct llmo_buf *out, struct llmo_error *err);

/*
 * Replaces the file at path with len bytes of data so that, after a crash,
 * path holds either the old or the new contents, never a mix: writes a
 * temporary file in the same directory (".NAME.tmp-XXXXXX"), fsyncs it,
 * renames it over path and fsyncs the directory. The file gets exactly
 * `mode` (the umask is not applied). On failure the temporary file is
 * removed; when only the final directory fsync fails, path already holds
 * the new contents and LLMO_EIO is returned.
 */
int llmo_file_write_atomic(const char *path, const void *data, size_t len, int mode,
			   struct llmo_error *err);

/*
 * Creates the directory path and any missing parents (like `mkdir -p`),
 * with `mode` for each one it creates (the umask applies, as for mkdir).
 * Existing directories are fine; an existing non-directory is LLMO_EEXIST.
 */
int llmo_mkdir_p(const char *path, int mode, struct llmo_error *err);

struct stat;
/*
 * Whether two stats are of the same file, unchanged between them: device,
 * inode, size, mtime and ctime all equal (a write or a replacement by rename
 * changes one of them, to the times' resolution).
 */
bool llmo_file_same(const struct stat *a, const struct stat *b);

#endif
