#include "base/error.h"

const char *llmo_strerror(int code)
{
	switch (code) {
	case LLMO_OK:
		return "success";
#define LLMO_ERRNO_MSG(name, c, msg) \
	case LLMO_E##name:           \
		return msg;
		LLMO_ERRORS(LLMO_ERRNO_MSG)
#undef LLMO_ERRNO_MSG
	}
	return "unknown error";
}

const char *llmo_errname(int code)
{
	switch (code) {
	case LLMO_OK:
		return "LLMO_OK";
#define LLMO_ERRNO_NAME(name, c, msg) \
	case LLMO_E##name:            \
		return "LLMO_E" #name;
		LLMO_ERRORS(LLMO_ERRNO_NAME)
#undef LLMO_ERRNO_NAME
	}
	return "LLMO_E?";
}

int llmo_error_set(struct llmo_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

void llmo_error_prefix(struct llmo_error *err, const char *fmt, ...)
{
	char prefix[LLMO_ERRMSG_MAX];
	char old[LLMO_ERRMSG_MAX];
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%s%s", prefix, old);
}

void llmo_error_clear(struct llmo_error *err)
{
	if (!err)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}
