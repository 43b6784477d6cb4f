#ifndef LLMO_COMMON_H
#define LLMO_COMMON_H
/*
 * Every llmo source file includes this first. It brings the standard headers
 * the whole tree uses, small macros, and, last, banned.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LLMO_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define LLMO_MIN(a, b) ((a) < (b) ? (a) : (b))
#define LLMO_MAX(a, b) ((a) > (b) ? (a) : (b))
#define LLMO_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define LLMO_UNUSED __attribute__((unused))

#include "base/banned.h"

#endif
