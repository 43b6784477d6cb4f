#ifndef LLMO_APISERVER_OPENAPI_PB_H
#define LLMO_APISERVER_OPENAPI_PB_H
/*
 * /openapi/v2 in protobuf, for the kubectl releases that ask for nothing else
 * (1.27, 1.28: `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`).
 *
 * The bytes are the message openapi.v2.Document of gnostic's
 * openapiv2/OpenAPIv2.proto (github.com/google/gnostic), in the layout
 * gnostic's compiler builds from the same Swagger 2.0 JSON and Go's proto3
 * marshaller writes:
 *
 *   - fields in field-number order; scalars at their proto3 default ("",
 *     0, false) left out; a JSON member that is present as an object always
 *     gives its submessage, empty or not ("properties": {} is sent, because
 *     readers tell an object with fields from a map by its presence);
 *   - JSON maps (paths, definitions, properties, responses, ...) as repeated
 *     Named* pairs in the JSON object's order; "x-" members as vendor
 *     extensions (NamedAny);
 *   - values of any type (enum items, default, example, vendor extensions)
 *     as Any { yaml = 2 }: the value as block YAML, as gnostic's compiler
 *     writes it (yaml.v3, four-space indent, "- " items, a sequence of
 *     mappings as "- a: 1\n  b: 2\n"), always ending in "\n". Strings that
 *     YAML would read as something else ("", "true", "1.0", ...) or that
 *     hold other than letters, digits and "_./- " are double-quoted (where
 *     yaml.v3 might pick another quoting style, the value read back is the
 *     same);
 *   - Swagger's oneofs as gnostic resolves them: a parameter with "$ref" is
 *     a JsonReference, "in": "body" a BodyParameter, header/formData/query/
 *     path the matching NonBodyParameter; "additionalProperties" a Schema or
 *     a boolean (false is sent); "items" one Schema or a list; "type" a
 *     string or a list.
 * Members Swagger 2.0 does not define are skipped (gnostic rejects them;
 * openapi_v2() strips anyOf/oneOf/allOf/not/nullable before calling this).
 *
 * Ownership: swagger is only read. The encoding is appended to out (which the
 * caller initialised; its `max` caps the result). On failure out is cut back
 * to its length on entry.
 *
 * Errors: LLMO_EINVAL when swagger is not an object; LLMO_ETOOBIG when
 * messages or values nest deeper than LLMO_OPENAPI_PB_NEST_MAX or the
 * encoding would pass out->max; LLMO_ENOMEM.
 */
#include "base/common.h"

#include <jansson.h>

#include "base/buf.h"
#include "base/error.h"

/* The media type clients ask for in Accept. */
#define LLMO_OPENAPI_PB_MEDIA_TYPE "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
/*
 * The Content-Type the reply carries: kube-apiserver's (http.ServeContent
 * sniffs the bytes). Not the media type above: client-go parses a reply's
 * Content-Type with Go's mime.ParseMediaType, which rejects the '@' in it
 * ("mime: unexpected content after media subtype").
 */
#define LLMO_OPENAPI_PB_CONTENT_TYPE "application/octet-stream"

/*
 * Nesting bound, counted in protobuf messages (one schema level is three:
 * Properties, NamedSchema, Schema) and, inside one Any, in YAML levels.
 */
#define LLMO_OPENAPI_PB_NEST_MAX 256

int llmo_openapi_v2_protobuf(const json_t *swagger, struct llmo_buf *out, struct llmo_error *err);

/*
 * True when an Accept header value asks for the protobuf form: it names
 * "application/com.github.proto-openapi.spec.v2" (the "@v1.0+protobuf" form
 * kubectl sends, or another version suffix). accept may be NULL.
 */
bool llmo_openapi_pb_accepted(const char *accept);

struct evhttp_request;

/*
 * For the /openapi/v2 handler: when req's Accept header asks for protobuf
 * (llmo_openapi_pb_accepted), replies 200 with the encoding of swagger
 * (Content-Type LLMO_OPENAPI_PB_CONTENT_TYPE; a 500 Status when it cannot be
 * encoded) and returns true; otherwise replies nothing and returns false.
 * swagger is only read (the caller keeps its reference).
 */
bool llmo__openapi_v2_reply_pb(struct evhttp_request *req, const json_t *swagger);

/* Cap on the encoded document served by llmo__openapi_v2_reply_pb. */
#define LLMO_OPENAPI_PB_BODY_MAX (64 * 1024 * 1024)

#endif
