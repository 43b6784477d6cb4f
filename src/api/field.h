#ifndef LLMO_API_FIELD_H
#define LLMO_API_FIELD_H
/*
 * Field tables: one description of a struct's JSON shape, used to decode JSON
 * into the struct, encode it back, free it, and (for the configuration file)
 * to produce the defaults and the commented default file. The resource
 * types (workload.c, model.c) and the configuration (config.c) are tables.
 *
 * A table is an array of struct llmo_field ended by an entry with name NULL.
 * Each entry says where the member lives (offset) and what it holds:
 *
 *   type               C member                        JSON
 *   LLMO_FT_STRING     char *                          string
 *   LLMO_FT_ENUM       int: 0 unset, else 1 + index    string, one of .enums
 *   LLMO_FT_BOOL       bool                            boolean
 *   LLMO_FT_INT32      int32_t                         integer
 *   LLMO_FT_INT64      int64_t                         integer
 *   LLMO_FT_NUMBER     double                          number
 *   LLMO_FT_QUANTITY   int64_t, milli-units            quantity string or number
 *   LLMO_FT_DURATION   int64_t, nanoseconds            duration string ("500ms")
 *   LLMO_FT_TIME       int64_t, Unix ms, 0 unset       RFC 3339 string
 *   LLMO_FT_INTORSTR   struct llmo_intorstr            integer or string
 *   LLMO_FT_OBJECT     a struct described by .sub      object
 *   LLMO_FT_LIST       LLMO_LIST(T), T by .sub         array of objects
 *   LLMO_FT_STRLIST    struct llmo_strlist             array of strings
 *   LLMO_FT_STRMAP     struct llmo_strmap              object of strings
 *   LLMO_FT_NUMMAP     struct llmo_nummap              object of numbers
 *   LLMO_FT_OBJMAP     LLMO_LIST(T), T starts with     object of objects
 *                      `char *key`, rest by .sub
 *
 * .set_off, when not 0, is the offset of a bool set to true when the field was
 * present (for scalars where 0 is a meaningful value).
 */
#include "api/errlist.h"
#include "api/types.h"
#include "base/buf.h"
#include "base/error.h"
#include <jansson.h>

enum llmo_ftype {
	LLMO_FT_STRING = 1,
	LLMO_FT_ENUM,
	LLMO_FT_BOOL,
	LLMO_FT_INT32,
	LLMO_FT_INT64,
	LLMO_FT_NUMBER,
	LLMO_FT_QUANTITY,
	LLMO_FT_DURATION,
	LLMO_FT_TIME,
	LLMO_FT_INTORSTR,
	LLMO_FT_OBJECT,
	LLMO_FT_LIST,
	LLMO_FT_STRLIST,
	LLMO_FT_STRMAP,
	LLMO_FT_NUMMAP,
	LLMO_FT_OBJMAP,
};

enum llmo_field_flags {
	LLMO_FF_REQUIRED = 1 << 0, /* must be present (checked with LLMO_DECODE_CHECK) */
	LLMO_FF_MIN = 1 << 1,      /* .min applies */
	LLMO_FF_MAX = 1 << 2,      /* .max applies */
	LLMO_FF_BINARY = 1 << 3,   /* QUANTITY: encode with binary suffixes (Gi) */
	LLMO_FF_NONEMPTY = 1 << 4, /* STRING: "" is not allowed */
};

struct llmo_field {
	const char *name;
	enum llmo_ftype type;
	size_t off;
	size_t set_off;
	const struct llmo_field *sub;
	size_t elem_size;
	const char *const *enums; /* NULL-terminated */
	double min, max;          /* in the member's unit: milli for QUANTITY, ns for DURATION */
	unsigned flags;
	const char *def; /* default, as YAML text ("5m", "0.8", "{a: 1}"); NULL = none */
	const char *doc; /* one line for people */
};

#define LLMO_FIELD(S, member, jname, ftype, ...) \
	{.name = (jname), .type = (ftype), .off = offsetof(S, member), __VA_ARGS__}
#define LLMO_FIELD_END {.name = NULL}

enum llmo_decode_flags {
	LLMO_DECODE_STRICT = 1 << 0, /* keys not in the table are errors */
	LLMO_DECODE_CHECK = 1 << 1,  /* enforce REQUIRED, bounds and NONEMPTY */
};

/*
 * Decodes obj (a JSON object) into out, which the caller zeroed. Problems go to
 * errs with their paths (path holds the path of obj, restored on return).
 * Returns 0 or LLMO_ENOMEM; success does not mean no errors: check errs.
 * Whatever was decoded is owned by out, error or not: free it with
 * llmo_fields_free.
 */
int llmo_fields_decode(const struct llmo_field *table, const json_t *obj, void *out,
		       struct llmo_buf *path, struct llmo_errlist *errs, unsigned flags);

/* The longest field path a decode builds ("spec.scaling.policies[3].type"): a key
 * that would make it longer is left out of the path in messages; decoding goes on. */
#define LLMO_FIELD_PATH_MAX 4096

/*
 * llmo_fields_decode of a whole document: obj is the root, so paths in errs start
 * at its keys. Ownership and return as llmo_fields_decode.
 */
int llmo_fields_decode_doc(const struct llmo_field *table, const json_t *obj, void *out,
			   struct llmo_errlist *errs, unsigned flags);

/* The JSON form of in: unset and empty members are left out. NULL when out of memory. */
json_t *llmo_fields_encode(const struct llmo_field *table, const void *in);

/* Frees what the members of obj own and zeroes them. */
void llmo_fields_free(const struct llmo_field *table, void *obj);

/*
 * The document of all defaults of table (nested objects included; objects
 * without any default are left out). NULL with err set when a .def does not
 * parse (a bug in the table).
 */
json_t *llmo_fields_defaults(const struct llmo_field *table, struct llmo_error *err);

/*
 * Fills in the defaults of table that doc lacks, recursively: into nested
 * objects, into each entry of a map of objects (OBJMAP) and each item of a
 * list, so that entries the user added get the defaults of their fields.
 */
int llmo_fields_apply_defaults(const struct llmo_field *table, json_t *doc,
				struct llmo_error *err);

/*
 * Writes values as YAML in the order of table, each key preceded by its .doc as
 * a comment; members absent from values are written commented out as
 * `# key:` so that the file lists every key.
 */
int llmo_fields_write_yaml(const struct llmo_field *table, const json_t *values, int indent,
			   struct llmo_buf *out);

/* Looks name up in a table; NULL when absent. */
const struct llmo_field *llmo_fields_find(const struct llmo_field *table, const char *name);

/* The .enums string of an ENUM member's value, or NULL when unset. */
const char *llmo_field_enum_name(const struct llmo_field *f, int value);

/* Deep-merges src into dst: objects merge key by key, anything else replaces. */
int llmo_json_merge(json_t *dst, const json_t *src);

#endif
