/*
 * Hashing files: llmo_sha256_fd and its memory maps (registry/digest.h),
 * and the blob hasher (registry/hasher.h): a job reports the digest of the
 * file's first len bytes on the loop's thread; a file shorter than len is
 * an error, also when it shrinks while it is mapped (SIGBUS, caught); a
 * cancelled job never calls back; freeing the hasher with jobs queued or
 * running neither calls back nor leaks (ASan).
 */
#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "registry/hasher.h"

/* The test file: 3 MiB + 5 bytes, so the last piece is a partial one. */
#define FILE_LEN (((size_t)3 << 20) + 5)

struct result {
	int calls;
	int rc;
	struct llmo_digest got;
	struct event_base *base;
	pthread_t thread;
};

static void done(void *arg, int rc, const struct llmo_digest *got, const char *msg)
{
	struct result *r = arg;

	(void)msg;
	r->calls++;
	r->rc = rc;
	r->got = *got;
	r->thread = pthread_self();
	event_base_loopbreak(r->base);
}

static int make_file(char *path, size_t n, char **data)
{
	int fd;

	snprintf(path, 64, "/tmp/llmo-test-hasher-XXXXXX");
	fd = mkstemp(path);
	*data = malloc(FILE_LEN);
	if (fd < 0 || !*data)
		return -1;
	for (size_t i = 0; i < FILE_LEN; i++)
		(*data)[i] = (char)(i * 131 + (i >> 12));
	if (write(fd, *data, n) != (ssize_t)n)
		return -1;
	return fd;
}

/* Hashes len bytes of fd with h and waits for the one callback: its rc (the digest in r->got). */
static int hash_file(struct llmo_reg_hasher *h, int fd, uint64_t len, struct result *r)
{
	struct llmo_reg_hash_job *job;
	struct llmo_error err = {0};

	r->calls = 0;
	assert_int_equal(llmo_reg_hasher_submit(h, fd, len, done, r, &job, &err), 0);
	event_base_dispatch(r->base);
	assert_int_equal(r->calls, 1);
	return r->rc;
}

static void test_digest_of_file(void **state)
{
	struct event_base *base = event_base_new();
	struct llmo_reg_hasher *h = NULL;
	struct llmo_reg_hash_job *job;
	struct result r = {.base = base};
	struct llmo_error err = {0};
	struct llmo_digest want;
	char path[64], *data;
	int fd = make_file(path, FILE_LEN, &data);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(llmo_digest_of(data, FILE_LEN, &want), 0);
	assert_int_equal(llmo_reg_hasher_new(base, &h, &err), 0);
	assert_int_equal(llmo_reg_hasher_submit(h, fd, FILE_LEN, done, &r, &job, &err), 0);
	/* the job has its own descriptor: the caller may close its own at once */
	close(fd);
	event_base_dispatch(base);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.rc, 0);
	assert_true(llmo_digest_equal(&r.got, &want));
	assert_true(pthread_equal(r.thread, pthread_self()));

	/* asking for more bytes than the file has: an error, not a digest */
	fd = open(path, O_RDONLY);
	assert_int_equal(hash_file(h, fd, FILE_LEN + 1, &r), LLMO_EIO);
	close(fd);

	llmo_reg_hasher_free(h);
	event_base_free(base);
	unlink(path);
	free(data);
}

static int shrunk;

/* llmo__digest_before_map for test_shrunk_under_map: the file loses its last 2 MiB. */
static void shrink(int fd)
{
	shrunk++;
	assert_int_equal(ftruncate(fd, (off_t)(FILE_LEN - ((size_t)2 << 20))), 0);
}

/*
 * The blob is mapped and shrinks after its size was checked: the pages gone
 * raise SIGBUS on the worker, which reports the file as short (LLMO_EIO),
 * and the hasher goes on working. A SIGBUS elsewhere (a child touching a
 * page past the end of a map on its own thread, or a kill -BUS) still
 * ends the process, as the default action it had before.
 */
static void test_shrunk_under_map(void **state)
{
	struct result r = {.base = event_base_new()};
	struct llmo_reg_hasher *h = NULL;
	struct llmo_error err = {0};
	struct llmo_digest want;
	char path[64], *data;
	int fd = make_file(path, FILE_LEN, &data), status;
	pid_t pid;

	(void)state;
	assert_true(fd >= 0);
	/* the action before the hasher's is the default (not cmocka's, which reports and goes on) */
	signal(SIGBUS, SIG_DFL);
	assert_int_equal(llmo_reg_hasher_new(r.base, &h, &err), 0);
	llmo__digest_before_map = shrink;
	assert_int_equal(hash_file(h, fd, FILE_LEN, &r), LLMO_EIO);
	llmo__digest_before_map = NULL;
	assert_int_equal(shrunk, 1); /* the file was to be mapped */

	/* the same file written whole again: its digest, from the same workers */
	assert_int_equal(pwrite(fd, data, FILE_LEN, 0), (ssize_t)FILE_LEN);
	assert_int_equal(llmo_digest_of(data, FILE_LEN, &want), 0);
	assert_int_equal(hash_file(h, fd, FILE_LEN, &r), 0);
	assert_true(llmo_digest_equal(&r.got, &want));
	llmo_reg_hasher_free(h);

	/* the handler is installed now; a child's own SIGBUS is not swallowed */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		volatile unsigned char *m;

		assert_int_equal(ftruncate(fd, 4096), 0);
		m = mmap(NULL, (size_t)1 << 20, PROT_READ, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED)
			_exit(3);
		(void)m[(size_t)512 << 10]; /* past the end: SIGBUS */
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS);
	/* nor is a SIGBUS sent to it (kill -BUS) */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		kill(getpid(), SIGBUS);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS);
	event_base_free(r.base);
	close(fd);
	unlink(path);
	free(data);
}

/* llmo__digest_before_map for test_sha256_fd: 7 bytes appended after the size was read. */
static void grow(int fd)
{
	assert_int_equal(pwrite(fd, "appended", 7, (off_t)FILE_LEN), 7);
}

/*
 * llmo_sha256_fd, which maps what a regular file holds: the digest and size
 * of a file of several map windows; of a file that grows between its fstat
 * and the map (the appended bytes read after); of an empty file; LLMO_EIO
 * with errno EIO when the file shrinks under the map.
 */
static void test_sha256_fd(void **state)
{
	size_t big = LLMO_DIGEST_MAP_WINDOW + 5;
	struct llmo_digest want, got;
	struct llmo_sha256 h = {0};
	char path[64], *data, *all;
	uint64_t size = 0;
	int fd = make_file(path, FILE_LEN, &data);

	(void)state;
	assert_true(fd >= 0);
	all = malloc(big);
	assert_non_null(all);
	for (size_t i = 0; i < big; i++)
		all[i] = (char)(i * 7 + (i >> 20));
	assert_int_equal(pwrite(fd, all, big, 0), (ssize_t)big);
	assert_int_equal(llmo_sha256_init(&h), 0);
	assert_int_equal(llmo_sha256_fd(&h, fd, &size), 0);
	assert_int_equal(size, big);
	assert_int_equal(llmo_sha256_peek(&h, &got), 0);
	assert_int_equal(llmo_digest_of(all, big, &want), 0);
	assert_true(llmo_digest_equal(&got, &want));
	llmo_sha256_release(&h);

	/* grown after the size was read: the rest is read, all of it hashed */
	assert_int_equal(ftruncate(fd, (off_t)FILE_LEN), 0);
	assert_int_equal(pwrite(fd, data, FILE_LEN, 0), (ssize_t)FILE_LEN);
	memcpy(all, data, FILE_LEN);
	memcpy(all + FILE_LEN, "appended", 7);
	llmo__digest_before_map = grow;
	assert_int_equal(llmo_sha256_init(&h), 0);
	assert_int_equal(llmo_sha256_fd(&h, fd, &size), 0);
	llmo__digest_before_map = NULL;
	assert_int_equal(size, FILE_LEN + 7);
	assert_int_equal(llmo_sha256_peek(&h, &got), 0);
	assert_int_equal(llmo_digest_of(all, FILE_LEN + 7, &want), 0);
	assert_true(llmo_digest_equal(&got, &want));
	llmo_sha256_release(&h);

	/* shrunk under the map */
	shrunk = 0;
	llmo__digest_before_map = shrink;
	assert_int_equal(llmo_sha256_init(&h), 0);
	errno = 0;
	assert_int_equal(llmo_sha256_fd(&h, fd, &size), LLMO_EIO);
	assert_int_equal(errno, EIO);
	llmo__digest_before_map = NULL;
	assert_int_equal(shrunk, 1);
	llmo_sha256_release(&h);

	/* empty: nothing to map */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(llmo_sha256_init(&h), 0);
	assert_int_equal(llmo_sha256_fd(&h, fd, &size), 0);
	assert_int_equal(size, 0);
	assert_int_equal(llmo_sha256_peek(&h, &got), 0);
	assert_int_equal(llmo_digest_of("", 0, &want), 0);
	assert_true(llmo_digest_equal(&got, &want));
	llmo_sha256_release(&h);
	close(fd);
	unlink(path);
	free(all);
	free(data);
}

static void test_cancel_and_free(void **state)
{
	struct event_base *base = event_base_new();
	struct llmo_reg_hasher *h = NULL;
	struct llmo_reg_hash_job *jobs[16], *last;
	struct result r = {.base = base}, rl = {.base = base};
	struct llmo_error err = {0};
	char path[64], *data;
	int fd = make_file(path, FILE_LEN, &data);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(llmo_reg_hasher_new(base, &h, &err), 0);
	for (size_t i = 0; i < LLMO_ARRAY_LEN(jobs); i++)
		assert_int_equal(llmo_reg_hasher_submit(h, fd, FILE_LEN, done, &r, &jobs[i], &err), 0);
	for (size_t i = 0; i < LLMO_ARRAY_LEN(jobs); i++)
		llmo_reg_hash_job_cancel(jobs[i]);
	/* cancelled jobs never call back, whenever their worker hands them back
	 * (some may still be in flight here: hasher_free collects them) */
	assert_int_equal(llmo_reg_hasher_submit(h, fd, FILE_LEN, done, &rl, &last, &err), 0);
	event_base_dispatch(base);
	assert_int_equal(rl.calls, 1);
	assert_int_equal(r.calls, 0);

	/* jobs still queued or running when the hasher goes: no callback, no leak */
	for (size_t i = 0; i < LLMO_ARRAY_LEN(jobs); i++)
		assert_int_equal(llmo_reg_hasher_submit(h, fd, FILE_LEN, done, &r, &jobs[i], &err), 0);
	for (size_t i = 0; i < LLMO_ARRAY_LEN(jobs); i++)
		llmo_reg_hash_job_cancel(jobs[i]);
	llmo_reg_hasher_free(h);
	assert_int_equal(r.calls, 0);
	event_base_free(base);
	close(fd);
	unlink(path);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digest_of_file),
		cmocka_unit_test(test_shrunk_under_map),
		cmocka_unit_test(test_sha256_fd),
		cmocka_unit_test(test_cancel_and_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
