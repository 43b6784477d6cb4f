#ifndef LLMO_TEST_OPENAPI_PB_WIRE_H
#define LLMO_TEST_OPENAPI_PB_WIRE_H
/*
 * A small protobuf wire-format reader for the tests of apiserver/openapi_pb.h
 * (tests/unit/test_apiserver_openapi_pb.c and tests/fuzz/fuzz_openapi_pb.c).
 *
 * pb_wire_next reads one field; pb_wire_get follows a path of (field,
 * occurrence) steps; pb_wire_check walks a whole message and, for every
 * field the table below knows to be a submessage, checks that it is
 * length-delimited and itself a well-formed message of that type, all the
 * way down. The table is transcribed from gnostic's openapiv2/OpenAPIv2.proto
 * independently of the encoder's tables.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "apiserver/pb_wire.h"

/* The shared reader (src/apiserver/pb_wire.h) under this header's names. */
#define pb_wire_field llmo__pb_field
#define pb_wire_varint llmo__pb_varint
#define pb_wire_next llmo__pb_next

/* The nth (from 0) occurrence of field num in the message; false when absent or malformed. */
static inline bool pb_wire_find(const unsigned char *msg, size_t len, uint32_t num, size_t nth,
				struct pb_wire_field *out)
{
	const unsigned char *p = msg, *end = msg + len;
	struct pb_wire_field f;
	int rc;

	while ((rc = pb_wire_next(&p, end, &f)) == 1)
		if (f.num == num && nth-- == 0) {
			*out = f;
			return true;
		}
	return false;
}

/*
 * Follows steps[0..n) (pairs: field number, occurrence) down from msg; every
 * step but the last must be length-delimited.
 */
static inline bool pb_wire_get(const unsigned char *msg, size_t len, const uint32_t *steps,
			       size_t n, struct pb_wire_field *out)
{
	struct pb_wire_field f = {.wt = 2, .p = msg, .len = len};

	for (size_t i = 0; i < n; i++) {
		if (f.wt != 2 || !pb_wire_find(f.p, f.len, steps[2 * i], steps[2 * i + 1], &f))
			return false;
	}
	*out = f;
	return true;
}

enum pb_wire_msg {
	M_DOCUMENT,
	M_INFO,
	M_CONTACT,
	M_LICENSE,
	M_PATHS,
	M_NAMED_PATH_ITEM,
	M_PATH_ITEM,
	M_OPERATION,
	M_PARAMETERS_ITEM,
	M_PARAMETER,
	M_BODY_PARAMETER,
	M_NON_BODY_PARAMETER,
	M_HEADER_PATH_SUB, /* HeaderParameterSubSchema, PathParameterSubSchema */
	M_QUERY_FORM_SUB,  /* QueryParameterSubSchema, FormDataParameterSubSchema */
	M_PRIMITIVES_ITEMS,
	M_JSON_REFERENCE,
	M_RESPONSES,
	M_NAMED_RESPONSE_VALUE,
	M_RESPONSE_VALUE,
	M_RESPONSE,
	M_SCHEMA_ITEM,
	M_HEADERS,
	M_NAMED_HEADER,
	M_HEADER,
	M_NAMED_ANY_MAP, /* Examples, Default, VendorExtension */
	M_NAMED_SCHEMA_MAP, /* Definitions, Properties */
	M_NAMED_SCHEMA,
	M_SCHEMA,
	M_ADDITIONAL_PROPERTIES_ITEM,
	M_ITEMS_ITEM,
	M_TYPE_ITEM,
	M_XML,
	M_EXTERNAL_DOCS,
	M_TAG,
	M_NAMED_ANY,
	M_ANY,
	M_PARAMETER_DEFINITIONS,
	M_NAMED_PARAMETER,
	M_RESPONSE_DEFINITIONS,
	M_NAMED_RESPONSE,
	M_SECURITY_REQUIREMENT,
	M_NAMED_STRING_ARRAY,
	M_STRING_ARRAY,
	M_SECURITY_DEFINITIONS,
	M_NAMED_SECURITY_DEFINITIONS_ITEM,
	M_SECURITY_DEFINITIONS_ITEM,
	M_SECURITY_SCHEME, /* any of the six schemes: read as fields, not followed further */
};

/* (message, field) -> the message type of that field, for every message-typed field */
static const struct {
	enum pb_wire_msg msg;
	uint32_t num;
	enum pb_wire_msg sub;
} pb_wire_subs[] = {
	{M_DOCUMENT, 2, M_INFO},
	{M_DOCUMENT, 8, M_PATHS},
	{M_DOCUMENT, 9, M_NAMED_SCHEMA_MAP},
	{M_DOCUMENT, 10, M_PARAMETER_DEFINITIONS},
	{M_DOCUMENT, 11, M_RESPONSE_DEFINITIONS},
	{M_DOCUMENT, 12, M_SECURITY_REQUIREMENT},
	{M_DOCUMENT, 13, M_SECURITY_DEFINITIONS},
	{M_DOCUMENT, 14, M_TAG},
	{M_DOCUMENT, 15, M_EXTERNAL_DOCS},
	{M_DOCUMENT, 16, M_NAMED_ANY},
	{M_INFO, 5, M_CONTACT},
	{M_INFO, 6, M_LICENSE},
	{M_INFO, 7, M_NAMED_ANY},
	{M_CONTACT, 4, M_NAMED_ANY},
	{M_LICENSE, 3, M_NAMED_ANY},
	{M_PATHS, 1, M_NAMED_ANY},
	{M_PATHS, 2, M_NAMED_PATH_ITEM},
	{M_NAMED_PATH_ITEM, 2, M_PATH_ITEM},
	{M_PATH_ITEM, 2, M_OPERATION},
	{M_PATH_ITEM, 3, M_OPERATION},
	{M_PATH_ITEM, 4, M_OPERATION},
	{M_PATH_ITEM, 5, M_OPERATION},
	{M_PATH_ITEM, 6, M_OPERATION},
	{M_PATH_ITEM, 7, M_OPERATION},
	{M_PATH_ITEM, 8, M_OPERATION},
	{M_PATH_ITEM, 9, M_PARAMETERS_ITEM},
	{M_PATH_ITEM, 10, M_NAMED_ANY},
	{M_OPERATION, 4, M_EXTERNAL_DOCS},
	{M_OPERATION, 8, M_PARAMETERS_ITEM},
	{M_OPERATION, 9, M_RESPONSES},
	{M_OPERATION, 12, M_SECURITY_REQUIREMENT},
	{M_OPERATION, 13, M_NAMED_ANY},
	{M_PARAMETERS_ITEM, 1, M_PARAMETER},
	{M_PARAMETERS_ITEM, 2, M_JSON_REFERENCE},
	{M_PARAMETER, 1, M_BODY_PARAMETER},
	{M_PARAMETER, 2, M_NON_BODY_PARAMETER},
	{M_BODY_PARAMETER, 5, M_SCHEMA},
	{M_BODY_PARAMETER, 6, M_NAMED_ANY},
	{M_NON_BODY_PARAMETER, 1, M_HEADER_PATH_SUB},
	{M_NON_BODY_PARAMETER, 2, M_QUERY_FORM_SUB},
	{M_NON_BODY_PARAMETER, 3, M_QUERY_FORM_SUB},
	{M_NON_BODY_PARAMETER, 4, M_HEADER_PATH_SUB},
	{M_HEADER_PATH_SUB, 7, M_PRIMITIVES_ITEMS},
	{M_HEADER_PATH_SUB, 9, M_ANY},
	{M_HEADER_PATH_SUB, 20, M_ANY},
	{M_HEADER_PATH_SUB, 22, M_NAMED_ANY},
	{M_QUERY_FORM_SUB, 8, M_PRIMITIVES_ITEMS},
	{M_QUERY_FORM_SUB, 10, M_ANY},
	{M_QUERY_FORM_SUB, 21, M_ANY},
	{M_QUERY_FORM_SUB, 23, M_NAMED_ANY},
	{M_PRIMITIVES_ITEMS, 3, M_PRIMITIVES_ITEMS},
	{M_PRIMITIVES_ITEMS, 5, M_ANY},
	{M_PRIMITIVES_ITEMS, 16, M_ANY},
	{M_PRIMITIVES_ITEMS, 18, M_NAMED_ANY},
	{M_RESPONSES, 1, M_NAMED_RESPONSE_VALUE},
	{M_RESPONSES, 2, M_NAMED_ANY},
	{M_NAMED_RESPONSE_VALUE, 2, M_RESPONSE_VALUE},
	{M_RESPONSE_VALUE, 1, M_RESPONSE},
	{M_RESPONSE_VALUE, 2, M_JSON_REFERENCE},
	{M_RESPONSE, 2, M_SCHEMA_ITEM},
	{M_RESPONSE, 3, M_HEADERS},
	{M_RESPONSE, 4, M_NAMED_ANY_MAP},
	{M_RESPONSE, 5, M_NAMED_ANY},
	{M_SCHEMA_ITEM, 1, M_SCHEMA},
	{M_HEADERS, 1, M_NAMED_HEADER},
	{M_NAMED_HEADER, 2, M_HEADER},
	{M_HEADER, 3, M_PRIMITIVES_ITEMS},
	{M_HEADER, 5, M_ANY},
	{M_HEADER, 16, M_ANY},
	{M_HEADER, 19, M_NAMED_ANY},
	{M_NAMED_ANY_MAP, 1, M_NAMED_ANY},
	{M_NAMED_SCHEMA_MAP, 1, M_NAMED_SCHEMA},
	{M_NAMED_SCHEMA, 2, M_SCHEMA},
	{M_SCHEMA, 5, M_ANY},
	{M_SCHEMA, 20, M_ANY},
	{M_SCHEMA, 21, M_ADDITIONAL_PROPERTIES_ITEM},
	{M_SCHEMA, 22, M_TYPE_ITEM},
	{M_SCHEMA, 23, M_ITEMS_ITEM},
	{M_SCHEMA, 24, M_SCHEMA},
	{M_SCHEMA, 25, M_NAMED_SCHEMA_MAP},
	{M_SCHEMA, 28, M_XML},
	{M_SCHEMA, 29, M_EXTERNAL_DOCS},
	{M_SCHEMA, 30, M_ANY},
	{M_SCHEMA, 31, M_NAMED_ANY},
	{M_ADDITIONAL_PROPERTIES_ITEM, 1, M_SCHEMA},
	{M_ITEMS_ITEM, 1, M_SCHEMA},
	{M_XML, 6, M_NAMED_ANY},
	{M_EXTERNAL_DOCS, 3, M_NAMED_ANY},
	{M_TAG, 3, M_EXTERNAL_DOCS},
	{M_TAG, 4, M_NAMED_ANY},
	{M_NAMED_ANY, 2, M_ANY},
	{M_PARAMETER_DEFINITIONS, 1, M_NAMED_PARAMETER},
	{M_NAMED_PARAMETER, 2, M_PARAMETER},
	{M_RESPONSE_DEFINITIONS, 1, M_NAMED_RESPONSE},
	{M_NAMED_RESPONSE, 2, M_RESPONSE},
	{M_SECURITY_REQUIREMENT, 1, M_NAMED_STRING_ARRAY},
	{M_NAMED_STRING_ARRAY, 2, M_STRING_ARRAY},
	{M_SECURITY_DEFINITIONS, 1, M_NAMED_SECURITY_DEFINITIONS_ITEM},
	{M_NAMED_SECURITY_DEFINITIONS_ITEM, 2, M_SECURITY_DEFINITIONS_ITEM},
	{M_SECURITY_DEFINITIONS_ITEM, 1, M_SECURITY_SCHEME},
	{M_SECURITY_DEFINITIONS_ITEM, 2, M_SECURITY_SCHEME},
	{M_SECURITY_DEFINITIONS_ITEM, 3, M_SECURITY_SCHEME},
	{M_SECURITY_DEFINITIONS_ITEM, 4, M_SECURITY_SCHEME},
	{M_SECURITY_DEFINITIONS_ITEM, 5, M_SECURITY_SCHEME},
	{M_SECURITY_DEFINITIONS_ITEM, 6, M_SECURITY_SCHEME},
};

/* Well-formed message of type m, nested at most depth_max deep. */
static inline bool pb_wire_check(const unsigned char *msg, size_t len, enum pb_wire_msg m,
				 int depth_max)
{
	const unsigned char *p = msg, *end = msg + len;
	struct pb_wire_field f;
	int rc;

	if (depth_max < 0)
		return false;
	while ((rc = pb_wire_next(&p, end, &f)) == 1) {
		for (size_t i = 0; i < sizeof(pb_wire_subs) / sizeof(pb_wire_subs[0]); i++) {
			if (pb_wire_subs[i].msg != m || pb_wire_subs[i].num != f.num)
				continue;
			if (f.wt != 2 || !pb_wire_check(f.p, f.len, pb_wire_subs[i].sub, depth_max - 1))
				return false;
		}
	}
	return rc == 0;
}

#endif
