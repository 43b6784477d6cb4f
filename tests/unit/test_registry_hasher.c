/*
 * The blob hasher (registry/hasher.h): a job reports the digest of the
 * file's first len bytes on the loop's thread; a file shorter than len is
 * an error; a cancelled job never calls back; freeing the hasher with jobs
 * queued or running neither calls back nor leaks (ASan).
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
	r.calls = 0;
	assert_int_equal(llmo_reg_hasher_submit(h, fd, FILE_LEN + 1, done, &r, &job, &err), 0);
	close(fd);
	event_base_dispatch(base);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.rc, LLMO_EIO);

	llmo_reg_hasher_free(h);
	event_base_free(base);
	unlink(path);
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
		cmocka_unit_test(test_cancel_and_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
