/*
 * Fuzz target for apiserver/ssa.h. The input is two JSON documents split at
 * the first newline: the live object and an applied configuration. The
 * configuration is applied onto the live object (and onto nothing), with and
 * without force, under a schema with keyed, set and atomic lists and with no
 * schema; the configuration is also written over the live object as an
 * Update. Nothing crashes or leaks; failures are known codes with a message
 * and no output; every result carries well-formed managedFields; applying
 * the same configuration again by the same manager changes nothing; an
 * Update that changes nothing keeps managedFields as they are.
 */
#include "base/common.h"

#include "apiserver/ssa.h"
#include "base/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char schema_text[] =
	"{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"properties\":{"
	"\"containers\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"map\","
	"\"x-kubernetes-list-map-keys\":[\"name\"],\"items\":{\"type\":\"object\",\"properties\":{"
	"\"ports\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"map\","
	"\"x-kubernetes-list-map-keys\":[\"port\",\"protocol\"]},"
	"\"env\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"set\"}}}},"
	"\"tags\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"set\"},"
	"\"env\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"object\"}},"
	"\"sel\":{\"type\":\"object\",\"x-kubernetes-map-type\":\"atomic\"}}}}}";

#define NOW "2024-05-01T10:00:00Z"
#define LATER "2024-05-01T11:00:00Z"

static void check_failure(int rc, const json_t *out, const struct llmo_error *err)
{
	if (out)
		abort();
	if (rc != LLMO_EINVAL && rc != LLMO_ECONFLICT && rc != LLMO_ETOOBIG && rc != LLMO_ENOMEM)
		abort();
	if (err->code != rc || err->msg[0] == '\0')
		abort();
}

static void check_managed(const json_t *obj)
{
	const json_t *mf = llmo_json_get_path(obj, "metadata.managedFields"), *e;
	size_t i;

	if (!mf)
		return;
	if (!json_is_array(mf) || json_array_size(mf) == 0)
		abort();
	json_array_foreach(mf, i, e) {
		const char *op = json_string_value(json_object_get(e, "operation"));

		if (!json_is_string(json_object_get(e, "manager")) || !op ||
		    (strcmp(op, "Apply") != 0 && strcmp(op, "Update") != 0) ||
		    !json_is_object(json_object_get(e, "fieldsV1")) ||
		    json_object_size(json_object_get(e, "fieldsV1")) == 0 ||
		    !json_is_string(json_object_get(e, "fieldsType")))
			abort();
	}
}

static void fuzz_apply(const json_t *live, const json_t *config, const json_t *schema, bool force)
{
	struct llmo_errlist conflicts;
	struct llmo_error err = {0};
	json_t *out = NULL, *again = NULL;
	int rc;

	llmo_errlist_init(&conflicts);
	rc = llmo_ssa_apply(live, config, "fuzz", force, schema, "v1", NOW, &out, &conflicts, &err);
	if (rc) {
		check_failure(rc, out, &err);
		/* a conflict names its fields, and force never conflicts */
		if ((rc == LLMO_ECONFLICT) != (llmo_errlist_count(&conflicts) > 0) ||
		    (rc == LLMO_ECONFLICT && force))
			abort();
		goto out;
	}
	check_managed(out);
	llmo_errlist_release(&conflicts);
	llmo_errlist_init(&conflicts);
	llmo_error_clear(&err);
	rc = llmo_ssa_apply(out, config, "fuzz", false, schema, "v1", LATER, &again, &conflicts,
			    &err);
	if (rc != 0 || !json_equal(out, again))
		abort();
out:
	json_decref(out);
	json_decref(again);
	llmo_errlist_release(&conflicts);
}

static void fuzz_update(const json_t *old, const json_t *config, const json_t *schema)
{
	struct llmo_error err = {0};
	json_t *upd = json_deep_copy(config), *same = NULL;
	int rc;

	if (!upd)
		return;
	rc = llmo_ssa_update(old, upd, "fuzz-edit", schema, "v1", NOW, &err);
	if (rc) {
		check_failure(rc, NULL, &err);
		goto out;
	}
	check_managed(upd);
	same = json_deep_copy(upd);
	if (!same || llmo_ssa_update(upd, same, "other", schema, "v1", LATER, &err) != 0 ||
	    !json_equal(upd, same))
		abort();
out:
	json_decref(upd);
	json_decref(same);
}

static void fuzz_pair(const json_t *live, const json_t *config, const json_t *schema)
{
	json_t *before = json_deep_copy(live), *f = NULL;

	fuzz_apply(live, config, schema, false);
	fuzz_apply(live, config, schema, true);
	fuzz_apply(NULL, config, schema, false);
	fuzz_update(live, config, schema);
	fuzz_update(NULL, config, schema);
	if (llmo_ssa_fields_of(config, schema, &f, NULL) == 0 && !json_is_object(f))
		abort();
	json_decref(f);
	/* inputs are only read */
	if (before && !json_equal((json_t *)live, before))
		abort();
	json_decref(before);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *nl = memchr(text, '\n', size);
	json_t *live = NULL, *config = NULL, *schema = json_loads(schema_text, 0, NULL);
	size_t llen;

	if (!nl || !schema)
		goto out;
	llen = (size_t)(nl - text);
	if (llmo_json_load(text, llen, "live", &live, NULL) != 0 ||
	    llmo_json_load(nl + 1, size - llen - 1, "config", &config, NULL) != 0)
		goto out;
	fuzz_pair(live, config, schema);
	fuzz_pair(live, config, NULL);
	fuzz_pair(config, live, schema);
out:
	json_decref(live);
	json_decref(config);
	json_decref(schema);
	return 0;
}
