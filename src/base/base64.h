#ifndef LLMO_BASE_BASE64_H
#define LLMO_BASE_BASE64_H
/*
 * Standard base64 (RFC 4648 section 4) decoding, for the values of
 * kubeconfig *-data fields and Kubernetes Secrets.
 */
#include "base/common.h"

/*
 * Decodes the NUL-terminated s (padding optional, whitespace ignored) into
 * a heap string (*out, NUL-terminated; the caller frees it). LLMO_EPARSE
 * on any other byte or a dangling bit group, LLMO_ENOMEM.
 */
int llmo_base64_decode(const char *s, char **out);

#endif
