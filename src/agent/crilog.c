#include "base/common.h"

#include <sys/uio.h>
#include <time.h>

#include "agent/crilog.h"

#include "base/banned.h"

/* "2026-11-26T19:40:00.123456789Z" (RFC 3339 with nanoseconds, UTC). */
static void cri_timestamp(char *out, size_t n)
{
	struct timespec ts;
	struct tm tm;
	char sec[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, n, "%s.%09ldZ", sec, (long)ts.tv_nsec);
}

void llmo_cri_write_line(int fd, const char *stream, bool partial, const char *text, size_t len)
{
	char prefix[96];
	char ts[48];
	struct iovec iov[3];
	int plen;

	cri_timestamp(ts, sizeof(ts));
	plen = snprintf(prefix, sizeof(prefix), "%s %s %c ", ts, stream, partial ? 'P' : 'F');
	if (plen < 0)
		return;
	iov[0].iov_base = prefix;
	iov[0].iov_len = (size_t)plen;
	iov[1].iov_base = (void *)text;
	iov[1].iov_len = len;
	iov[2].iov_base = "\n";
	iov[2].iov_len = 1;
	while (writev(fd, iov, 3) < 0 && errno == EINTR)
		;
}
