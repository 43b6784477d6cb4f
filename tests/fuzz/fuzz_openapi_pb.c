/*
 * Fuzz target for apiserver/openapi_pb.h. The input is JSON text (input that
 * does not parse is dropped). It is encoded as the whole document, and, to
 * reach the schema, operation and YAML code whatever its shape, as a
 * definition, a path item, an operation and a vendor extension of a small
 * document. Nothing crashes or leaks; a success is a Document well formed all
 * the way down (tests/unit/openapi_pb_wire.h); a failure is LLMO_EINVAL (not
 * an object) or LLMO_ETOOBIG (nesting) with a message, and leaves the buffer
 * as it was.
 */
#include "base/common.h"

#include "apiserver/openapi_pb.h"
#include "base/json.h"

#include "../unit/openapi_pb_wire.h"

/* Inputs past this are dropped: the encoder is linear, big inputs only slow the fuzzer. */
#define FUZZ_INPUT_MAX (256 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_doc(const json_t *doc)
{
	static const char prefix[] = "prefix";
	struct llmo_error err = {0};
	struct llmo_buf out;
	int rc;

	llmo_buf_init(&out, LLMO_BUF_UNLIMITED);
	if (llmo_buf_puts(&out, prefix) != 0)
		abort();
	rc = llmo_openapi_v2_protobuf(doc, &out, &err);
	if (rc == 0) {
		if (out.len < sizeof(prefix) - 1 || memcmp(out.data, prefix, sizeof(prefix) - 1) != 0)
			abort();
		if (!pb_wire_check((const unsigned char *)out.data + sizeof(prefix) - 1,
				   out.len - (sizeof(prefix) - 1), M_DOCUMENT,
				   LLMO_OPENAPI_PB_NEST_MAX + 1))
			abort();
	} else {
		if (rc != LLMO_EINVAL && rc != LLMO_ETOOBIG && rc != LLMO_ENOMEM)
			abort();
		if (err.code != rc || err.msg[0] == '\0')
			abort();
		if (out.len != sizeof(prefix) - 1 || strcmp(out.data, prefix) != 0)
			abort();
	}
	llmo_buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *v = NULL, *wrapped;

	if (size > FUZZ_INPUT_MAX ||
	    llmo_json_load((const char *)data, size, "fuzz", &v, NULL) != 0)
		return 0;
	fuzz_doc(v);
	wrapped = json_pack("{s:s, s:{s:O}, s:{s:O, s:{s:O, s:O}}, s:O}", "swagger", "2.0",
			    "definitions", "d", v, "paths", "/p", v, "/q", "get", v, "patch", v,
			    "x-v", v);
	if (wrapped)
		fuzz_doc(wrapped);
	json_decref(wrapped);
	json_decref(v);
	return 0;
}
