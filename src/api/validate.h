#ifndef LLMO_API_VALIDATE_H
#define LLMO_API_VALIDATE_H
/*
 * Checking whole objects and files: what `llmo validate` does, and what the
 * API server will do on each write.
 */
#include "api/config.h"
#include "api/errlist.h"
#include "base/yaml.h"

/* What a document turned out to be. */
enum llmo_doc_kind {
	LLMO_DOC_WORKLOAD = 1,
	LLMO_DOC_MODEL,
	LLMO_DOC_CONFIG,
	LLMO_DOC_OTHER, /* a Kubernetes object of another kind: only its envelope is checked */
	LLMO_DOC_UNKNOWN,
};

/*
 * Checks one llm.orchestrator.io object against its CRD schema (unknown
 * fields are errors), applies the schema's defaults to obj, then checks its
 * metadata and the rules of its kind (with cfg, may be NULL). Every problem
 * goes to errs under its path. Returns 0 or LLMO_ENOMEM.
 */
int llmo_object_check(json_t *obj, const struct llmo_config *cfg, enum llmo_doc_kind *kind,
		      struct llmo_errlist *errs);

struct llmo_validate_result {
	size_t files;
	size_t documents;
	size_t invalid; /* documents (or unreadable files) with problems */
};

struct llmo_validate_opts {
	const struct llmo_config *cfg; /* for resourceProfile and limits; may be NULL */
	bool quiet;                    /* print problems only */
	FILE *out;
};

/*
 * Validates every YAML/JSON document of path (a file, or a directory whose
 * *.yaml, *.yml and *.json files are taken in name order, recursively).
 * Prints `FILE:LINE: FIELD.PATH: MESSAGE` for each problem and, unless quiet,
 * one line per valid document. Adds to res. Returns 0 or a negative error for
 * failures other than invalid input (out of memory).
 */
int llmo_validate_path(const char *path, const struct llmo_validate_opts *opts,
		       struct llmo_validate_result *res);

/* Same for text already in memory; name is used in messages. */
int llmo_validate_text(const char *text, size_t len, const char *name,
		       const struct llmo_validate_opts *opts, struct llmo_validate_result *res);

#endif
