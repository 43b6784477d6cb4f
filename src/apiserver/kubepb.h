#ifndef LLMO_APISERVER_KUBEPB_H
#define LLMO_APISERVER_KUBEPB_H
/*
 * Request bodies in Kubernetes' protobuf encoding
 * (Content-Type: application/vnd.kubernetes.protobuf), which kubectl 1.32 and
 * newer send from its `kubectl create TYPE` generators, `create token`,
 * `auth can-i` and the like.
 *
 * The body is the magic "k8s\0" followed by a runtime.Unknown message
 * (k8s.io/apimachinery/pkg/runtime/generated.proto):
 *
 *   Unknown { TypeMeta typeMeta = 1 { apiVersion = 1; kind = 2 };
 *             bytes raw = 2; string contentEncoding = 3; string contentType = 4 }
 *
 * and raw is the object's message from k8s.io/api's generated.proto files.
 * llmo_kubepb_decode turns it into the JSON object kubectl would have sent
 * as application/json, so that everything after (defaulting, validation,
 * storage, watch) is the JSON path. What it yields:
 *
 *   - members are named as in the JSON API; apiVersion and kind come first,
 *     from typeMeta;
 *   - Go marshals every non-pointer field, zero or not; a string, number or
 *     bool at its zero value is left out (what the JSON encoder's omitempty
 *     does), except for the pointer fields the tables mark (replicas: 0 is
 *     kept); an empty submessage is kept as {} ("resources": {});
 *   - bytes fields and map<string, bytes> values (Secret data) are base64
 *     strings, Quantity and IntOrString their JSON forms, Time an RFC 3339
 *     string (the zero time is left out);
 *   - a field number the tables do not know is skipped when its value is
 *     zero or empty (no information is lost), and is an error otherwise:
 *     the tables cover what llmo serves and kubectl sends, not every field
 *     of every type, and dropping a set field would store something other
 *     than what the client asked for.
 *
 * Ownership: data is only read; *out is a new reference (NULL on failure).
 *
 * Errors: LLMO_EUNSUPPORTED (err names the apiVersion and kind, or the
 * message and field) for a type or a set field the tables do not decode, or
 * a contentEncoding; LLMO_EPARSE for a body that is not this encoding
 * (err says where); LLMO_ETOOBIG when messages nest deeper than
 * LLMO_KUBEPB_NEST_MAX or a repeated field passes LLMO_KUBEPB_ITEMS_MAX;
 * LLMO_ENOMEM.
 */
#include "base/common.h"

#include <jansson.h>

#include "base/error.h"

#define LLMO_KUBEPB_MEDIA_TYPE "application/vnd.kubernetes.protobuf"
/* Deeper than any built-in type (Deployment -> ... -> LabelSelectorRequirement is 8). */
#define LLMO_KUBEPB_NEST_MAX 32
/* Elements of one repeated field or map: a 3 MiB body holds no more of real objects. */
#define LLMO_KUBEPB_ITEMS_MAX 100000

int llmo_kubepb_decode(const void *data, size_t len, json_t **out, struct llmo_error *err);

/* True when a Content-Type value names the protobuf media type (parameters allowed). */
bool llmo_kubepb_content_type(const char *ctype);

#endif
