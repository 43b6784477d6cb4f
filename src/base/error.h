#ifndef LLMO_ERROR_H
#define LLMO_ERROR_H
/*
 * One error convention for all of llmo: functions return int, 0 on success or
 * a negative LLMO_E* code from the table below. Where a caller needs to tell a
 * person what went wrong, the function also takes a `struct llmo_error *`
 * (which may be NULL) and writes a message naming what and where.
 */
#include "base/common.h"

#define LLMO_ERRORS(X)                                              \
	X(NOMEM, -1, "out of memory")                               \
	X(INVAL, -2, "invalid argument")                            \
	X(RANGE, -3, "value out of range")                          \
	X(PARSE, -4, "malformed input")                             \
	X(NOTFOUND, -5, "not found")                                \
	X(EXIST, -6, "already exists")                              \
	X(IO, -7, "input/output error")                             \
	X(TOOBIG, -8, "input exceeds its size limit")               \
	X(CONFLICT, -9, "conflict")                                 \
	X(UNSUPPORTED, -10, "not supported")                        \
	X(TIMEOUT, -11, "timed out")                                \
	X(AGAIN, -12, "try again")                                  \
	X(CLOSED, -13, "connection closed")                         \
	X(DENIED, -14, "permission denied")                         \
	X(INVALID_OBJECT, -15, "object failed validation")          \
	X(INTERNAL, -16, "internal error")                          \
	X(GONE, -17, "resource version too old")

enum llmo_errno {
	LLMO_OK = 0,
#define LLMO_ERRNO_ENUM(name, code, msg) LLMO_E##name = (code),
	LLMO_ERRORS(LLMO_ERRNO_ENUM)
#undef LLMO_ERRNO_ENUM
};

/* The table's message for a code; "unknown error" for codes not in it. */
const char *llmo_strerror(int code);
/* The code's symbolic name ("LLMO_EPARSE"). */
const char *llmo_errname(int code);

#define LLMO_ERRMSG_MAX 512

struct llmo_error {
	int code;
	char msg[LLMO_ERRMSG_MAX];
};

/*
 * Records code and a formatted message in err (when err is not NULL) and
 * returns code, so that `return llmo_error_set(err, LLMO_EPARSE, ...)` reads
 * naturally. The message is truncated to LLMO_ERRMSG_MAX - 1 bytes.
 */
int llmo_error_set(struct llmo_error *err, int code, const char *fmt, ...)
	LLMO_PRINTF(3, 4);

/* Prefixes the message already in err with a formatted context ("file.yaml:3: "). */
void llmo_error_prefix(struct llmo_error *err, const char *fmt, ...) LLMO_PRINTF(2, 3);

/* Clears err (when not NULL). */
void llmo_error_clear(struct llmo_error *err);

#endif
