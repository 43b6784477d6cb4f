#ifndef LLMO_APISERVER_PB_WIRE_H
#define LLMO_APISERVER_PB_WIRE_H
/*
 * Protobuf wire format: reading one field at a time. Shared by the decoder
 * of Kubernetes protobuf bodies (kubepb.c) and the tests that read back
 * the OpenAPI protobuf encoder's output (tests/unit/openapi_pb_wire.h).
 *
 * Nothing here allocates; a field's bytes point into the message read.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { LLMO_PB_WT_VARINT = 0, LLMO_PB_WT_I64 = 1, LLMO_PB_WT_LEN = 2, LLMO_PB_WT_I32 = 5 };

/* The largest field number protobuf allows (2^29 - 1). */
#define LLMO_PB_FIELD_MAX 536870911u

struct llmo__pb_field {
	uint32_t num;
	int wt;                 /* LLMO_PB_WT_* */
	uint64_t v;             /* VARINT: the value; I64/I32: the bytes, little-endian */
	const unsigned char *p; /* LEN: the bytes */
	size_t len;
};

/* Reads a varint at *p (advanced past it); false when cut short or longer than 64 bits. */
static inline bool llmo__pb_varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		unsigned char b;

		if (*p >= end)
			return false;
		b = *(*p)++;
		if (shift == 63 && b > 1)
			return false; /* a tenth byte holds only bit 63 */
		*v |= (uint64_t)(b & 0x7F) << shift;
		if (!(b & 0x80))
			return true;
	}
	return false;
}

/*
 * Reads the field at *p into *f and advances *p past it: 1 with a field, 0 at
 * end, -1 when malformed (field number 0 or too large, a length past end, a
 * wire type other than varint, fixed64, length-delimited or fixed32: groups
 * are not read).
 */
static inline int llmo__pb_next(const unsigned char **p, const unsigned char *end,
				struct llmo__pb_field *f)
{
	uint64_t key, len;
	int width;

	if (*p == end)
		return 0;
	if (!llmo__pb_varint(p, end, &key) || (key >> 3) == 0 || (key >> 3) > LLMO_PB_FIELD_MAX)
		return -1;
	f->num = (uint32_t)(key >> 3);
	f->wt = (int)(key & 7);
	f->p = NULL;
	f->len = 0;
	f->v = 0;
	switch (f->wt) {
	case LLMO_PB_WT_VARINT:
		return llmo__pb_varint(p, end, &f->v) ? 1 : -1;
	case LLMO_PB_WT_I64:
	case LLMO_PB_WT_I32:
		width = f->wt == LLMO_PB_WT_I64 ? 8 : 4;
		if (end - *p < width)
			return -1;
		for (int i = 0; i < width; i++)
			f->v |= (uint64_t)(*p)[i] << (8 * i);
		*p += width;
		return 1;
	case LLMO_PB_WT_LEN:
		if (!llmo__pb_varint(p, end, &len) || len > (uint64_t)(end - *p))
			return -1;
		f->p = *p;
		f->len = (size_t)len;
		*p += len;
		return 1;
	}
	return -1;
}

#endif
