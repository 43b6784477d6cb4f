#ifndef LLMO_AGENT_CRILOG_H
#define LLMO_AGENT_CRILOG_H
/*
 * The CRI log format kubelet reads, as the shim writes a container's output
 * and llmo server its own log (docs/agent-runtime.md):
 *
 *     2026-11-26T19:40:00.123456789Z stdout F text
 *
 * time (RFC 3339, nanoseconds, UTC), stream, tag (F: a full line, P: a piece
 * of a longer one) and the text.
 */
#include "base/common.h"

/*
 * Writes one line (text: len bytes without the newline) to fd in a single
 * writev(2), so that readers never see half of it. Errors are ignored: a
 * full disk loses log lines, never what the writer was doing.
 */
void llmo_cri_write_line(int fd, const char *stream, bool partial, const char *text, size_t len);

#endif
