#ifndef LLMO_BASE_BASE64_H
#define LLMO_BASE_BASE64_H
/*
 * Standard base64 (RFC 4648 section 4), for the values of kubeconfig
 * *-data fields and Kubernetes Secrets.
 */
#include "base/common.h"

/*
 * Decodes the NUL-terminated s (padding optional, whitespace ignored) into
 * a heap string (*out, NUL-terminated; the caller frees it). LLMO_EPARSE
 * on any other byte or a dangling bit group, LLMO_ENOMEM.
 */
int llmo_base64_decode(const char *s, char **out);

/*
 * Encodes len bytes of data, with padding, into a heap string (*out,
 * NUL-terminated; the caller frees it). LLMO_ETOOBIG when the result's size
 * would overflow, LLMO_ENOMEM.
 */
int llmo_base64_encode(const void *data, size_t len, char **out);

#endif
