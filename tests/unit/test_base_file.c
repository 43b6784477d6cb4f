#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/file.h"

/* Each test gets a fresh directory under /tmp, removed (recursively) after. */
static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/llmo-test-file-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	test_rm_rf(dir);
	return 0;
}

static void path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static void write_raw(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static size_t count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	}
	closedir(d);
	return n;
}

static void test_read_whole_file(void **state)
{
	char path[256];
	struct llmo_buf b;
	struct llmo_error err = {0};

	path_in(path, sizeof(path), "a.yaml");
	write_raw(path, "kind: LLMWorkload\n", 18);
	llmo_buf_init(&b, LLMO_BUF_UNLIMITED);
	assert_int_equal(llmo_file_read(path, 1024, &b, &err), 0);
	assert_int_equal(b.len, 18);
	assert_string_equal(b.data, "kind: LLMWorkload\n");

	/* Appends to what the buffer holds. */
	assert_int_equal(llmo_file_read(path, 1024, &b, &err), 0);
	assert_int_equal(b.len, 36);
	assert_string_equal(b.data, "kind: LLMWorkload\nkind: LLMWorkload\n");
	llmo_buf_release(&b);

	/* An empty file. */
	path_in(path, sizeof(path), "empty");
	write_raw(path, "", 0);
	assert_int_equal(llmo_file_read(path, 0, &b, &err), 0);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	llmo_buf_release(&b);
}

static void test_read_binary_and_large(void **state)
{
	enum { N = 300000 };
	char path[256];
	struct llmo_buf b;
	char *data = malloc(N);

	assert_non_null(data);
	for (size_t i = 0; i < N; i++)
		data[i] = (char)(i * 7 + 3);
	data[10] = '\0';
	path_in(path, sizeof(path), "blob");
	write_raw(path, data, N);
	llmo_buf_init(&b, LLMO_BUF_UNLIMITED);
	/* Exactly at the limit is fine. */
	assert_int_equal(llmo_file_read(path, N, &b, NULL), 0);
	assert_int_equal(b.len, N);
	assert_memory_equal(b.data, data, N);
	assert_int_equal(b.data[N], '\0');
	llmo_buf_release(&b);
	free(data);
}

static void test_read_too_big(void **state)
{
	char path[256], want[LLMO_ERRMSG_MAX];
	struct llmo_buf b;
	struct llmo_error err;

	path_in(path, sizeof(path), "big");
	write_raw(path, "0123456789", 10);
	llmo_buf_init(&b, LLMO_BUF_UNLIMITED);
	llmo_buf_puts(&b, "keep");
	assert_int_equal(llmo_file_read(path, 9, &b, &err), LLMO_ETOOBIG);
	assert_int_equal(err.code, LLMO_ETOOBIG);
	snprintf(want, sizeof(want), "%s: file is 10 bytes, limit is 9", path);
	assert_string_equal(err.msg, want);
	/* The buffer is as it was. */
	assert_int_equal(b.len, 4);
	assert_string_equal(b.data, "keep");

	/* The buffer's own cap counts too: 4 held + 10 > 12. */
	b.max = 12;
	assert_int_equal(llmo_file_read(path, 100, &b, &err), LLMO_ETOOBIG);
	snprintf(want, sizeof(want), "%s: file is 10 bytes, limit is 8", path);
	assert_string_equal(err.msg, want);
	assert_string_equal(b.data, "keep");
	llmo_buf_release(&b);
}

static void test_read_pipe_over_limit(void **state)
{
	char want[LLMO_ERRMSG_MAX], path[64];
	struct llmo_buf b;
	struct llmo_error err;
	int fds[2];

	/* A pipe has no size up front: the limit is found by reading. */
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], "abcdef", 6), 6);
	close(fds[1]);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[0]);
	llmo_buf_init(&b, LLMO_BUF_UNLIMITED);
	assert_int_equal(llmo_file_read(path, 5, &b, &err), LLMO_ETOOBIG);
	snprintf(want, sizeof(want), "%s: file is over 5 bytes, limit is 5", path);
	assert_string_equal(err.msg, want);
	assert_int_equal(b.len, 0);
	close(fds[0]);

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], "abcde", 5), 5);
	close(fds[1]);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[0]);
	assert_int_equal(llmo_file_read(path, 5, &b, &err), 0);
	assert_string_equal(b.data, "abcde");
	close(fds[0]);
	llmo_buf_release(&b);
}

static void test_read_errors(void **state)
{
	char path[256], want[LLMO_ERRMSG_MAX];
	struct llmo_buf b;
	struct llmo_error err;

	llmo_buf_init(&b, LLMO_BUF_UNLIMITED);
	path_in(path, sizeof(path), "missing.yaml");
	assert_int_equal(llmo_file_read(path, 100, &b, &err), LLMO_ENOTFOUND);
	snprintf(want, sizeof(want), "%s: no such file", path);
	assert_string_equal(err.msg, want);

	assert_int_equal(llmo_file_read(dir, 100, &b, &err), LLMO_EINVAL);
	snprintf(want, sizeof(want), "%s: is a directory, not a file", dir);
	assert_string_equal(err.msg, want);

	/* A file where a directory is expected. */
	path_in(path, sizeof(path), "f");
	write_raw(path, "x", 1);
	path_in(path, sizeof(path), "f/sub");
	assert_int_equal(llmo_file_read(path, 100, &b, &err), LLMO_EIO);
	snprintf(want, sizeof(want), "%s: %s", path, strerror(ENOTDIR));
	assert_string_equal(err.msg, want);

	if (geteuid() != 0) {
		path_in(path, sizeof(path), "secret");
		write_raw(path, "x", 1);
		chmod(path, 0);
		assert_int_equal(llmo_file_read(path, 100, &b, &err), LLMO_EDENIED);
		snprintf(want, sizeof(want), "%s: %s", path, strerror(EACCES));
		assert_string_equal(err.msg, want);
	}
	assert_int_equal(b.len, 0);
	path_in(path, sizeof(path), "nope");
	assert_int_equal(llmo_file_read(path, 1, &b, NULL), LLMO_ENOTFOUND);
	llmo_buf_release(&b);
}

static void test_write_atomic(void **state)
{
	char path[256];
	struct llmo_buf b;
	struct llmo_error err = {0};
	struct stat st;

	path_in(path, sizeof(path), "state.json");
	assert_int_equal(llmo_file_write_atomic(path, "{\"v\":1}", 7, 0640, &err), 0);
	llmo_buf_init(&b, LLMO_BUF_UNLIMITED);
	assert_int_equal(llmo_file_read(path, 100, &b, &err), 0);
	assert_string_equal(b.data, "{\"v\":1}");
	llmo_buf_reset(&b);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);

	/* Replacing: new contents and mode, no temporary file left behind. */
	assert_int_equal(llmo_file_write_atomic(path, "{}", 2, 0600, &err), 0);
	assert_int_equal(llmo_file_read(path, 100, &b, &err), 0);
	assert_string_equal(b.data, "{}");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(count_entries(dir), 1);

	/* Zero bytes. */
	assert_int_equal(llmo_file_write_atomic(path, "", 0, 0644, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 0);
	llmo_buf_release(&b);
}

static void test_write_atomic_relative_path(void **state)
{
	char cwd[512];
	struct stat st;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(llmo_file_write_atomic("rel.txt", "hi", 2, 0644, NULL), 0);
	assert_int_equal(chdir(cwd), 0);
	{
		char path[256];

		path_in(path, sizeof(path), "rel.txt");
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_size, 2);
	}
	assert_int_equal(count_entries(dir), 1);
}

static void test_write_atomic_errors(void **state)
{
	char path[256], want[LLMO_ERRMSG_MAX], sub[256];
	struct llmo_error err;

	path_in(path, sizeof(path), "no/such/dir/file");
	assert_int_equal(llmo_file_write_atomic(path, "x", 1, 0644, &err), LLMO_ENOTFOUND);
	path_in(sub, sizeof(sub), "no/such/dir");
	snprintf(want, sizeof(want),
		 "%s: cannot create a file in this directory: no such file or directory", sub);
	assert_string_equal(err.msg, want);

	path_in(path, sizeof(path), "");
	assert_int_equal(llmo_file_write_atomic(path, "x", 1, 0644, &err), LLMO_EINVAL);
	snprintf(want, sizeof(want), "%s: names a directory, not a file", path);
	assert_string_equal(err.msg, want);

	/* Renaming over a directory fails; the temporary file is removed. */
	path_in(path, sizeof(path), "adir");
	assert_int_equal(mkdir(path, 0755), 0);
	path_in(sub, sizeof(sub), "adir/inner");
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(llmo_file_write_atomic(path, "x", 1, 0644, &err), LLMO_EIO);
	snprintf(want, sizeof(want), "%s: rename: %s", path, strerror(EISDIR));
	assert_string_equal(err.msg, want);
	assert_int_equal(count_entries(dir), 1);

	if (geteuid() != 0) {
		path_in(sub, sizeof(sub), "ro");
		assert_int_equal(mkdir(sub, 0555), 0);
		path_in(path, sizeof(path), "ro/file");
		assert_int_equal(llmo_file_write_atomic(path, "x", 1, 0644, &err), LLMO_EDENIED);
		snprintf(want, sizeof(want), "%s: cannot create a file in this directory: %s", sub,
			 strerror(EACCES));
		assert_string_equal(err.msg, want);
		assert_int_equal(count_entries(sub), 0);
	}
}

static void test_mkdir_p(void **state)
{
	char path[256], want[LLMO_ERRMSG_MAX];
	struct llmo_error err;
	struct stat st;

	path_in(path, sizeof(path), "a/b/c");
	assert_int_equal(llmo_mkdir_p(path, 0755, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* Again: existing directories are fine. */
	assert_int_equal(llmo_mkdir_p(path, 0755, &err), 0);
	/* Trailing and repeated slashes. */
	path_in(path, sizeof(path), "x//y/");
	assert_int_equal(llmo_mkdir_p(path, 0700, &err), 0);
	path_in(path, sizeof(path), "x/y");
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(llmo_mkdir_p("/", 0755, &err), 0);
	assert_int_equal(llmo_mkdir_p(dir, 0755, &err), 0);

	/* A file in the way. */
	path_in(path, sizeof(path), "file");
	write_raw(path, "x", 1);
	assert_int_equal(llmo_mkdir_p(path, 0755, &err), LLMO_EEXIST);
	snprintf(want, sizeof(want), "%s: exists and is not a directory", path);
	assert_string_equal(err.msg, want);
	path_in(path, sizeof(path), "file/sub/deeper");
	assert_int_equal(llmo_mkdir_p(path, 0755, &err), LLMO_EEXIST);
	path_in(path, sizeof(path), "file");
	snprintf(want, sizeof(want), "%s: exists and is not a directory", path);
	assert_string_equal(err.msg, want);

	assert_int_equal(llmo_mkdir_p("", 0755, &err), LLMO_EINVAL);
	assert_string_equal(err.msg, "mkdir: empty path");

	if (geteuid() != 0) {
		char ro[256];

		path_in(ro, sizeof(ro), "ro");
		assert_int_equal(mkdir(ro, 0555), 0);
		path_in(path, sizeof(path), "ro/child/grandchild");
		assert_int_equal(llmo_mkdir_p(path, 0755, &err), LLMO_EDENIED);
		path_in(path, sizeof(path), "ro/child");
		snprintf(want, sizeof(want), "%s: mkdir: %s", path, strerror(EACCES));
		assert_string_equal(err.msg, want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_whole_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_binary_and_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_too_big, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_pipe_over_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_atomic_relative_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_atomic_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mkdir_p, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
