/*
 * Blob hashing on worker threads (hasher.h), a pool.h pool whose workers
 * each own a LLMO_DIGEST_READ_CHUNK buffer.
 *
 * A worker hashes a blob from a memory map of it, MAP_WINDOW at a time:
 * the SHA-256 reads the page cache itself, without the copy a read() makes
 * (a fifth of a hashing pull's CPU, on the hashing thread, which is the
 * pull's critical path; docs/registry.md, "Hashing from a memory map").
 * A mapped file that shrinks under the worker raises SIGBUS on the pages
 * gone: a handler (installed once) jumps back to the worker, which reports
 * the file as shorter than announced, exactly as a short read would. A
 * SIGBUS anywhere else goes on to the handler that was there before ours
 * (or the default action: the process ends, as without us). The handler is
 * checked before each blob (and set again if something replaced it). Where
 * mmap fails the worker reads the file instead.
 */
#include "base/common.h"

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry/hasher.h"
#include "registry/pool.h"

#include "base/banned.h"

struct llmo_reg_hash_job {
	struct llmo_reg_pool_job base; /* first: the pool's view of it */
	int fd; /* the job's own duplicate */
	uint64_t len;
	llmo_reg_hash_done_fn fn;
	void *arg;
	/* the result, written by the worker before the job goes back to the loop */
	int rc;
	struct llmo_digest got;
	char msg[128];
};

struct llmo_reg_hasher {
	struct llmo_reg_pool *pool;
};

void (*llmo__reg_hasher_before_map)(int fd);

/* Bytes of a blob mapped at once. */
#define MAP_WINDOW ((size_t)16 << 20)

/* The worker's way back from a SIGBUS while it reads a mapped blob (NULL otherwise). */
static _Thread_local sigjmp_buf *volatile bus_jump;
static struct sigaction bus_before; /* the SIGBUS action before ours */
static pthread_mutex_t bus_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_sigbus(int sig, siginfo_t *info, void *uctx)
{
	if (bus_jump)
		siglongjmp(*bus_jump, 1);
	/* not a read of a mapped blob: what would have happened without us */
	if ((bus_before.sa_flags & SA_SIGINFO) && bus_before.sa_sigaction) {
		bus_before.sa_sigaction(sig, info, uctx);
		return;
	}
	if (!(bus_before.sa_flags & SA_SIGINFO) && bus_before.sa_handler != SIG_DFL &&
	    bus_before.sa_handler != SIG_IGN) {
		bus_before.sa_handler(sig);
		return;
	}
	/* the default action: the faulting access runs again and ends the process */
	signal(SIGBUS, SIG_DFL);
}

/*
 * Whether on_sigbus handles SIGBUS, installing it if not: checked before
 * each blob, as something else may have set its own since (the one found
 * is then the one a foreign SIGBUS goes on to).
 */
static bool bus_ready(void)
{
	struct sigaction cur, sa;
	bool ok;

	pthread_mutex_lock(&bus_lock);
	ok = sigaction(SIGBUS, NULL, &cur) == 0;
	if (ok && !((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_sigbus)) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_sigbus;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		ok = sigaction(SIGBUS, &sa, &bus_before) == 0;
	}
	pthread_mutex_unlock(&bus_lock);
	return ok;
}

/*
 * Hashes the window [off, off + n) of j's file from a memory map into sh:
 * 0, 1 when the file cannot be mapped (the caller reads it instead), or
 * LLMO_EIO when it shrank under the map (SIGBUS).
 */
static int hash_mapped(struct llmo_reg_hash_job *j, struct llmo_sha256 *sh, uint64_t off, size_t n)
{
	unsigned char *m = mmap(NULL, n, PROT_READ, MAP_SHARED | MAP_POPULATE, j->fd, (off_t)off);
	sigjmp_buf env;
	int rc = 0;

	if (m == MAP_FAILED)
		return 1;
	if (sigsetjmp(env, 1) == 0) {
		bus_jump = &env;
		for (size_t done = 0; done < n; done += LLMO_DIGEST_READ_CHUNK)
			llmo_sha256_update(sh, m + done, LLMO_MIN(n - done, LLMO_DIGEST_READ_CHUNK));
	} else {
		rc = LLMO_EIO;
	}
	bus_jump = NULL;
	munmap(m, n);
	return rc;
}

/* Hashes j's file into j->got; sets j->rc and j->msg. buf: LLMO_DIGEST_READ_CHUNK bytes. */
static void job_run(struct llmo_reg_pool_job *pj, void *buf)
{
	struct llmo_reg_hash_job *j = (struct llmo_reg_hash_job *)pj;
	struct llmo_sha256 sh = {0};
	struct stat st;
	uint64_t off = 0;
	bool mapped;

	if (!buf || (j->rc = llmo_sha256_init(&sh))) {
		j->rc = LLMO_ENOMEM;
		snprintf(j->msg, sizeof(j->msg), "out of memory");
		return;
	}
	/* a map reads zeros past the end in the last page: the size is checked before and after */
	mapped = bus_ready() && fstat(j->fd, &st) == 0 && (uint64_t)st.st_size >= j->len;
	if (mapped && llmo__reg_hasher_before_map)
		llmo__reg_hasher_before_map(j->fd);
	while (mapped && off < j->len && !llmo_reg_pool_cancelled(pj)) {
		size_t n = (size_t)LLMO_MIN(j->len - off, (uint64_t)MAP_WINDOW);
		int rc = hash_mapped(j, &sh, off, n);

		if (rc == 1) {
			mapped = false; /* no map (address space, descriptor): read the rest */
			break;
		}
		if (rc || fstat(j->fd, &st) < 0 || (uint64_t)st.st_size < off + n) {
			j->rc = LLMO_EIO;
			snprintf(j->msg, sizeof(j->msg), "file shorter than announced");
			goto out;
		}
		off += n;
	}
	while (!mapped && off < j->len) {
		size_t want = j->len - off < LLMO_DIGEST_READ_CHUNK ? (size_t)(j->len - off)
								     : LLMO_DIGEST_READ_CHUNK;
		ssize_t n;

		/* a connection gone: stop reading for nobody */
		if (llmo_reg_pool_cancelled(pj))
			break;
		do
			n = pread(j->fd, buf, want, (off_t)off);
		while (n < 0 && errno == EINTR);
		if (n <= 0) {
			j->rc = LLMO_EIO;
			snprintf(j->msg, sizeof(j->msg), "%s",
				 n < 0 ? strerror(errno) : "file shorter than announced");
			goto out;
		}
		llmo_sha256_update(&sh, buf, (size_t)n);
		off += (uint64_t)n;
	}
	if (llmo_sha256_peek(&sh, &j->got)) {
		j->rc = LLMO_ENOMEM;
		snprintf(j->msg, sizeof(j->msg), "out of memory");
	}
out:
	llmo_sha256_release(&sh);
}

static void job_done(struct llmo_reg_pool_job *pj)
{
	struct llmo_reg_hash_job *j = (struct llmo_reg_hash_job *)pj;

	j->fn(j->arg, j->rc, &j->got, j->msg);
}

static void job_release(struct llmo_reg_pool_job *pj)
{
	struct llmo_reg_hash_job *j = (struct llmo_reg_hash_job *)pj;

	if (j->fd >= 0)
		close(j->fd);
	free(j);
}

static void *buf_new(void *arg)
{
	return malloc(LLMO_DIGEST_READ_CHUNK);
}

int llmo_reg_hasher_new(struct event_base *base, struct llmo_reg_hasher **out,
			struct llmo_error *err)
{
	struct llmo_reg_hasher *h = calloc(1, sizeof(*h));
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct llmo_reg_pool_opts o = {
		.what = "hashing",
		/* one per online CPU: more would only take turns */
		.threads = cpus < 1 ? 1
			   : (size_t)cpus > LLMO_REG_HASHER_THREADS_MAX ? LLMO_REG_HASHER_THREADS_MAX
									 : (size_t)cpus,
		.local_new = buf_new,
		.local_free = free,
	};
	int rc;

	*out = NULL;
	if (!h)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	if ((rc = llmo_reg_pool_new(base, &o, &h->pool, err))) {
		free(h);
		return rc;
	}
	*out = h;
	return 0;
}

void llmo_reg_hasher_free(struct llmo_reg_hasher *h)
{
	if (!h)
		return;
	llmo_reg_pool_free(h->pool);
	free(h);
}

int llmo_reg_hasher_submit(struct llmo_reg_hasher *h, int fd, uint64_t len,
			   llmo_reg_hash_done_fn fn, void *arg, struct llmo_reg_hash_job **job,
			   struct llmo_error *err)
{
	struct llmo_reg_hash_job *j;
	int rc;

	*job = NULL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return llmo_error_set(err, LLMO_ENOMEM, "out of memory");
	j->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (j->fd < 0) {
		rc = llmo_error_set(err, LLMO_EIO, "dup: %s", strerror(errno));
		free(j);
		return rc;
	}
	j->len = len;
	j->fn = fn;
	j->arg = arg;
	j->base.run = job_run;
	j->base.done = job_done;
	j->base.release = job_release;
	if ((rc = llmo_reg_pool_submit(h->pool, &j->base, err))) {
		job_release(&j->base);
		return rc;
	}
	*job = j;
	return 0;
}

void llmo_reg_hash_job_cancel(struct llmo_reg_hash_job *job)
{
	if (job)
		llmo_reg_pool_cancel(&job->base);
}
