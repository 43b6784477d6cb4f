#ifndef LLMO_BANNED_H
#define LLMO_BANNED_H
/*
 * Calls that llmo does not use, made compile errors (after Git's banned.h).
 * strcpy/strcat/sprintf: unbounded writes; use struct llmo_buf or snprintf.
 * gets: unbounded read. atoi/atol: no error reporting; use llmo_parse_int64.
 * Included last by base/common.h, after the system headers declared them.
 */
#define LLMO_BANNED(func) sorry_##func##_is_banned_in_llmo

#undef strcpy
#define strcpy(x, y) LLMO_BANNED(strcpy)
#undef strcat
#define strcat(x, y) LLMO_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) LLMO_BANNED(strncpy)
#undef sprintf
#define sprintf(...) LLMO_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) LLMO_BANNED(vsprintf)
#undef gets
#define gets(x) LLMO_BANNED(gets)
#undef atoi
#define atoi(x) LLMO_BANNED(atoi)
#undef atol
#define atol(x) LLMO_BANNED(atol)
#undef atoll
#define atoll(x) LLMO_BANNED(atoll)

#endif
